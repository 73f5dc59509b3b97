"""Cold-versus-warm harness worker: the same calls by a fresh runtime and by a warm one.

``python tests/contracts/coldwarm.py [--depth D] [--seeds N] [--first F]``
(repository on ``PYTHONPATH``) sits ``D`` Python frames deep, then runs

* the determinism scenario of ``xcheck.py`` (the whole attack corpus and a
  series of law calls on one host),
* the cross-contract recursion case of issue 15 (a callee first compiled
  from deep inside nested comprehensions), and
* ``N`` grammar-fuzzed programs (``grammar_fuzz.py``, seeds ``F..F+N-1``)

twice in this process: first *cold* (nothing compiled, no cached kit: a
freshly started runtime), then *warm* (every cache filled by the first
pass).  It prints one JSON line ``{"cold": ..., "warm": ...}``.  The test
(``test_coldwarm.py``) requires cold == warm, no ``SandboxBreach``, and the
same line from fresh processes at several host stack depths and on Python
3.11 and 3.12.
"""

from __future__ import annotations

import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from contracts.runtime import MemoryHost, SandboxBreach, compile_contract, execute, executor  # noqa: E402
from tests.contracts import grammar_fuzz, xcheck  # noqa: E402


def _nest(k: int, inner: str) -> str:
    for i in range(k):
        inner = f"len([{inner} for v{i} in [1]])"
    return inner


CALLER = (
    "ENTRIES = ('main',)\n"
    "def f(n):\n    if n == 0:\n        return call('callee', 'main', {})\n"
    f"    return {_nest(12, 'f(n - 1)')}\n"
    "def main(n):\n    return f(n)\n"
)
CALLEE = "ENTRIES = ('main',)\ndef main():\n    return " + _nest(12, "1") + "\n"


def deep_calls() -> list:
    host = MemoryHost(contracts={"caller": CALLER, "callee": CALLEE})
    out = []
    for n in range(7):
        try:
            r = execute(compile_contract("caller", CALLER), "main", {"n": n}, host, 10**7, read_only=True)
            out.append([n, r.code, r.gas_used, r.value])
        except SandboxBreach as e:
            out.append([n, "BREACH", str(e)])
    return out


def scenario(seeds: range) -> dict:
    return {"xcheck": xcheck.scenario(), "deep": deep_calls(), "fuzz": [grammar_fuzz.outcome(s) for s in seeds]}


def cold_then_warm(seeds: range) -> dict:
    executor._cache.clear()
    executor._local.__dict__.clear()  # no kit: as a fresh runtime
    cold = scenario(seeds)
    warm = scenario(seeds)
    return {"cold": cold, "warm": warm}


def main(argv: list[str]) -> None:
    depth, n, first = 0, 20, 0
    for i, a in enumerate(argv):
        if a == "--depth":
            depth = int(argv[i + 1])
        elif a == "--seeds":
            n = int(argv[i + 1])
        elif a == "--first":
            first = int(argv[i + 1])
    box = {}

    def down(k: int) -> None:
        if k == 0:
            box["out"] = cold_then_warm(range(first, first + n))
        else:
            down(k - 1)

    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 1000))
    threading.stack_size(256 << 20)
    t = threading.Thread(target=down, args=(depth,))
    t.start()
    t.join()
    sys.stdout.write(json.dumps(box["out"], sort_keys=True, default=repr) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
