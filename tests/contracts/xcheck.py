"""Determinism cross-check worker: run a fixed scenario, print one JSON line.

``python tests/contracts/xcheck.py`` (with the repository on ``PYTHONPATH``)
runs every corpus case and a series of law calls on a fresh MemoryHost and
prints their codes, values, gas, events and the final host state.  The test
runs it under several ``PYTHONHASHSEED`` values and under Python 3.12 and
compares the outputs byte for byte.  Only the stdlib, the runtime and its
two dependencies (msgpack, blake3) are needed.
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from contracts.runtime import MemoryHost, check_source, compile_contract, execute  # noqa: E402
from tests.contracts import sample_laws  # noqa: E402
from tests.contracts.corpus import CASES  # noqa: E402
from tests.contracts.helpers import entry  # noqa: E402


def _jsonable(v):
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def scenario() -> dict:
    out: dict = {"checks": [], "corpus": [], "laws": []}
    # 1. checker verdicts and runtime outcome of every corpus case
    for case in CASES:
        src = case.body if case.full else entry(case.body, prelude=case.prelude)
        src = src.replace("{SENTINEL}", "/nonexistent").replace("HOSTMOD", "x")
        violations = check_source(src)
        out["checks"].append([case.id, bool(violations)])
        if violations:
            continue
        host = MemoryHost(balances={"alice": 1000}, contracts={"law": src})
        r = execute(compile_contract("law", src), "main", {}, host, 300_000, read_only=False)
        out["corpus"].append([case.id, r.code, r.gas_used, _jsonable(r.value)])
    # 2. a sequence of law calls on one host
    host = MemoryHost(
        sender="alice",
        balances={"alice": 10**10, "bob": 10**6, "contract:welfare": 10**9},
        roles={"alice": {"registrar"}},
        contracts={"income_tax": sample_laws.INCOME_TAX, "welfare": sample_laws.WELFARE, "work": sample_laws.WORKLOAD},
        beacons={1: b"\x01" * 32},
    )
    laws = {n: compile_contract(n, host.contracts[n]) for n in host.contracts}
    calls = [
        ("work", "work", {"seed": 12345}, False),
        ("work", "work", {"seed": -7}, False),
        ("work", "view", {"n": 50}, True),
        ("income_tax", "tax_due", {"income": 7_654_321}, True),
        ("income_tax", "pay", {"income": 7_654_321}, False),
        ("income_tax", "pay", {"income": 10**13}, False),
        ("welfare", "register", {"who": "alice"}, False),
        ("welfare", "register", {"who": "alice"}, False),
        ("welfare", "claim", {"income": 120_000}, False),
        ("welfare", "owed", {"income": 0}, True),
        ("welfare", "claim", {"income": 10}, True),
        ("income_tax", "paid", {"who": "alice"}, True),
    ]
    for i in range(40):
        calls.append(("income_tax", "tax_due", {"income": (i * 7919 * 10007) % 12_000_000}, True))
    for name, fn, args, ro in calls:
        r = execute(laws[name], fn, args, host, 500_000, read_only=ro)
        out["laws"].append([name, fn, r.code, r.gas_used, _jsonable(r.value), _jsonable(r.events)])
    out["host"] = _jsonable(host.snapshot())
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(scenario(), sort_keys=True) + "\n")
