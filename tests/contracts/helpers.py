"""Shared helpers for the contract-runtime tests."""

from __future__ import annotations

import textwrap

from contracts.runtime import MemoryHost, compile_contract, execute

DEFAULT_GAS = 2_000_000


def entry(body: str, *, params: str = "", prelude: str = "") -> str:
    """A contract whose entry ``main`` runs ``body``."""
    return (
        textwrap.dedent(prelude)
        + '\nENTRIES = ("main",)\n\ndef main(' + params + "):\n"
        + textwrap.indent(textwrap.dedent(body).strip("\n") or "pass", "    ")
        + "\n"
    )


def run_source(source: str, function: str = "main", args: dict | None = None, *, gas: int = DEFAULT_GAS,
               host: MemoryHost | None = None, read_only: bool = False, name: str = "law"):
    host = host if host is not None else MemoryHost(balances={"alice": 10**9})
    contract = compile_contract(name, source)
    return execute(contract, function, args or {}, host, gas, read_only=read_only)


def run_body(body: str, *, gas: int = DEFAULT_GAS, host: MemoryHost | None = None, prelude: str = "", **kw):
    return run_source(entry(body, prelude=prelude), gas=gas, host=host, **kw)
