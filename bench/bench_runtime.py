"""Policy-contract runtime: calls per second of a small law, and the cost of the sandbox.

A progressive income tax (seven brackets, basis-point rates, explicit
rounding) is called through the full runtime -- ``execute()`` with a fresh
machine, fresh globals, module body, metered and guarded code, canonical
copies of arguments and result -- and the same function is run as plain
Python (the same source, not instrumented, with the same helper).  The ratio
is runtime / plain: the share of plain-Python speed that survives the
sandbox.  Also measured: a full ``pay`` entry (storage read+write, transfer,
event), gas units metered per second in a tight loop (to size gas limits),
and uncached check+instrument+compile of the law.

Run as ``python -m bench.bench_runtime``.
"""

from __future__ import annotations

import time

from contracts.runtime import MemoryHost, check_source, compile_contract, execute
from contracts.runtime import executor
from contracts.runtime.library import div_round_exact
from tests.contracts.sample_laws import INCOME_TAX

INCOMES = [(i * 7919 * 10007) % 12_000_000 for i in range(1000)]


def _rate(fn, seconds: float = 1.0) -> float:
    n = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        for income in INCOMES[:100]:
            fn(income)
        n += 100
    return n / (time.perf_counter() - start)


def _plain_tax_due():
    def bps_of(amount, bps, rounding="down"):
        return div_round_exact(amount * bps, 10_000, rounding)

    ns = {"bps_of": bps_of}
    exec(compile(INCOME_TAX, "<plain>", "exec"), ns)
    return ns["tax_due"]


def run() -> list[dict]:
    rows = []
    host = MemoryHost(sender="alice", balances={"alice": 10**15})
    law = compile_contract("income_tax", INCOME_TAX)
    plain = _plain_tax_due()
    for income in INCOMES:  # same answers, or the comparison is meaningless
        assert execute(law, "tax_due", {"income": income}, host, 100_000, read_only=True).value == plain(income)

    plain_rate = _rate(plain)
    view_rate = _rate(lambda inc: execute(law, "tax_due", {"income": inc}, host, 100_000, read_only=True))
    rows.append({"name": "law view calls/s (tax_due through execute)", "value": view_rate, "unit": "calls/s",
                 "limit": plain_rate, "ratio": view_rate / plain_rate,
                 "note": f"plain Python {plain_rate:,.0f} calls/s"})

    entry_rate = _rate(lambda inc: execute(law, "pay", {"income": inc}, host, 100_000, read_only=False), 0.5)
    rows.append({"name": "law entry calls/s (pay: storage, transfer, event)", "value": entry_rate, "unit": "calls/s",
                 "limit": plain_rate, "ratio": entry_rate / plain_rate})

    loop = compile_contract("loop", "ENTRIES = ('f',)\ndef f(n):\n    x = 0\n    for i in range(n):\n        x += i % 7\n    return x\n")
    t = time.perf_counter()
    r = execute(loop, "f", {"n": 300_000}, host, 10**9, read_only=True)
    dt = time.perf_counter() - t
    rows.append({"name": "gas metered per second (tight loop)", "value": r.gas_used / dt, "unit": "gas/s",
                 "note": "1e7 gas is about " + f"{1e7 / (r.gas_used / dt):.2f} s of such code"})

    n = 0
    t = time.perf_counter()
    while time.perf_counter() - t < 0.5:
        check_source(INCOME_TAX)
        executor._cache.clear()
        compile_contract("income_tax", INCOME_TAX)
        n += 1
    rows.append({"name": "check + instrument + compile (uncached)", "value": n / (time.perf_counter() - t), "unit": "laws/s"})
    return rows


if __name__ == "__main__":
    from bench import print_rows

    print_rows(run())
