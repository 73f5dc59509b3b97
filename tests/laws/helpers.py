"""Shared helpers for the law tests: a MemoryHost with every law installed."""

from __future__ import annotations

import calendar

from contracts.runtime import MemoryHost, compile_contract, execute
from contracts.runtime.registry import law_sources

SOURCES = law_sources()
GAS = 20_000_000

TREASURY = "esc1treasury"
REGISTRAR = "esc1registrar"
PLANNING = "esc1planning"
BANK = "esc1centralbank"


def module_of(law: str) -> dict:
    """A law's module-level names, read by running its source as plain Python.

    A law's module level is plain data (its units, ``SCHEMA``, ``PARAMS``);
    only its functions need the sandbox.  For tests and tools, never the node.
    """
    namespace: dict = {}
    exec(compile(SOURCES[law], f"<law {law}>", "exec"), namespace)
    return namespace


def at(y: int, m: int, d: int, hour: int = 12) -> int:
    """Block time (UTC seconds) of a date."""
    return calendar.timegm((y, m, d, hour, 0, 0))


def addr(law: str) -> str:
    """The account address MemoryHost gives a contract."""
    return "contract:" + law


def make_host(*, time: int | None = None, height: int = 10, balances: dict | None = None,
              roles: dict | None = None, beacons: dict | None = None) -> MemoryHost:
    r = {TREASURY: {"treasury"}, REGISTRAR: {"registrar"}, PLANNING: {"planning_agency"}, BANK: {"central_bank"}}
    r.update(roles or {})
    return MemoryHost(sender=REGISTRAR, height=height, time=time if time is not None else at(2025, 3, 15),
                      contracts=dict(SOURCES), balances=balances or {}, roles=r, beacons=beacons)


def call(host: MemoryHost, law: str, fn: str, args: dict | None = None, *, sender: str | None = None,
         read_only: bool = False, gas: int = GAS):
    """Run ``law.fn(**args)`` as ``sender``; returns the runtime Result."""
    if sender is not None:
        host._sender = sender
    return execute(compile_contract(law, host.contracts[law]), fn, args or {}, host, gas, read_only=read_only)


def ok(result):
    assert result.code == 0, (result.code, result.value)
    return result.value


def refused(result, error: int) -> None:
    """The call ended with the law's own error ``error`` (CONTRACT_ERROR 4)."""
    assert result.code == 4, (result.code, result.value)
    assert result.value["error"] == error, result.value


def view(host: MemoryHost, law: str, fn: str, args: dict | None = None):
    return ok(call(host, law, fn, args, read_only=True))


def set_time(host: MemoryHost, t: int, height: int | None = None) -> None:
    host._time = t
    if height is not None:
        host._height = height


def total_money(host: MemoryHost) -> int:
    return sum(host.balances.values())
