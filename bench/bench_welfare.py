"""Welfare payouts to 1,000,000 citizens through the runtime's on_block cursor.

The ``welfare`` law (contracts/laws/welfare.py) pays cash benefits with a
cursor: the node calls ``on_block()`` after every block, and each call
visits at most ``batch_size`` citizens.  This bench runs those calls through
the real runtime (``execute`` with a MemoryHost subclass) over a register of
1,000,000 citizens and reports:

* how many blocks one month's pass takes (ceil(N / batch_size));
* the seconds of on_block execution for the whole pass, with a mixed
  population (20 % pensioners, 5 % unemployed within the limit, the rest
  with no cash benefit this month);
* the worst single block's time and gas, and an all-eligible block (every
  visited citizen paid: the most work one call can do) against the on_block
  gas budget proposed to the node (10,000,000 gas).

The register is not held in memory: the host synthesises each citizen's
stored record on demand, and the records a block will read are encoded
*before* its timer starts, so the figures are the runtime's (plus dict
look-ups), not the synthesiser's.  By default every block of the pass is
run; set ``ESOC_BENCH_SAMPLE=K`` to time only every K-th block and
extrapolate (the note says so).

Run as ``python -m bench.bench_welfare``.
"""

from __future__ import annotations

import calendar
import math
import os
import time

from contracts.runtime import MemoryHost, compile_contract, execute
from contracts.runtime.registry import law_sources
from ledger import codec

N = 1_000_000
ON_BLOCK_GAS = 10_000_000
LAW = "welfare"
FUND = "contract:welfare"
T = calendar.timegm((2025, 3, 1, 12, 0, 0))


def record(i: int, everyone_paid: bool = False) -> dict:
    kind = 0 if everyone_paid else i % 20  # 0..3: pensioner, 4: unemployed, else none
    return {
        "address": f"esc1{i:038d}",
        "born": 19500101 if kind < 4 else 19900101,
        "residence": "Haidian District, Beijing",
        "active": True,
        "employer": None,
        "employed": None if kind < 5 else 20200101,
        "unemployed": 20250101 if kind == 4 else None,
        "paid": 0,
    }


class RegisterHost(MemoryHost):
    """A MemoryHost whose welfare register of ``n`` citizens is synthesised lazily."""

    def __init__(self, n: int, **kw):
        super().__init__(**kw)
        self.n = n
        self.ready: dict[str, bytes] = {}
        self.usage = 0
        self.transfers = 0
        self.paid_out = 0
        self.everyone_paid = False

    def prepare(self, start: int, stop: int) -> None:
        """Encode the records a block will read (outside the timed section)."""
        self.ready = {f"c/{i}": codec.encode(record(i, self.everyone_paid)) for i in range(start, stop)}

    def storage_get(self, contract, key):
        if contract == LAW:
            if key == "n":
                return codec.encode(self.n)
            if key in self.ready:
                return self.ready[key]
        return self.store.get((contract, key))

    def storage_usage(self, contract):
        return self.usage  # MemoryHost sums the whole store; a node keeps a counter

    def apply(self, effects):
        for contract, key, value in effects.writes:
            if not key.startswith("c/"):  # citizen records are not kept: the pass never returns to them
                self.store[(contract, key)] = value
        for frm, to, amount in effects.transfers:
            self.transfers += 1
            self.paid_out += amount
            self.balances[frm] = self.balances.get(frm, 0) - amount
        self.applied += 1


def _pass(host: RegisterHost, law, batch: int, sample: int) -> dict:
    blocks = math.ceil(host.n / batch)
    timed = []
    worst_gas = 0
    for b in range(blocks):
        start = b * batch
        stop = min(host.n, start + batch)
        if b % sample:
            # not timed: move the cursor as the skipped block would have
            host.store[(LAW, "cursor")] = codec.encode({"period": 2025 * 12 + 2, "next": stop})
            continue
        host.prepare(start, stop)
        t0 = time.perf_counter()
        r = execute(law, "on_block", {}, host, ON_BLOCK_GAS, read_only=False)
        dt = time.perf_counter() - t0
        assert r.code == 0, (r.code, r.value)
        assert r.value["next"] == stop, r.value
        timed.append(dt)
        worst_gas = max(worst_gas, r.gas_used)
    return {"blocks": blocks, "timed": timed, "worst_gas": worst_gas}


def run() -> list[dict]:
    law = compile_contract(LAW, law_sources()[LAW])
    sample = max(1, int(os.environ.get("ESOC_BENCH_SAMPLE", "1")))
    host = RegisterHost(N, sender=FUND, time=T, balances={FUND: 10**15})
    probe = execute(law, "param", {"name": "batch_size"}, host, 100_000, read_only=True)
    batch = probe.value

    mixed = _pass(host, law, batch, sample)
    total = sum(mixed["timed"]) * (mixed["blocks"] / len(mixed["timed"]))
    paid = host.transfers * sample  # extrapolated the same way when sampling

    # one all-eligible block: the most a single on_block call can do
    full = RegisterHost(N, sender=FUND, time=T, balances={FUND: 10**15})
    full.everyone_paid = True
    worst_full = 0.0
    full_gas = 0
    for rep in range(3):
        full.store.pop((LAW, "cursor"), None)
        full.prepare(0, batch)
        t0 = time.perf_counter()
        r = execute(law, "on_block", {}, full, ON_BLOCK_GAS, read_only=False)
        worst_full = max(worst_full, time.perf_counter() - t0)
        assert r.code == 0 and r.value["paid"] == batch, r.value
        full_gas = r.gas_used

    how = "every block timed" if sample == 1 else f"every {sample}th block timed, total extrapolated"
    return [
        {"name": "welfare: blocks for one monthly pass over 1,000,000 citizens", "value": mixed["blocks"],
         "unit": "blocks", "note": f"batch_size {batch} citizens per on_block"},
        {"name": "welfare: on_block execution for the whole pass (mixed population)", "value": total,
         "unit": "s", "note": f"{paid:,} paid (20 % pensions, 5 % relief); {how}"},
        {"name": "welfare: worst single block, mixed population", "value": max(mixed["timed"]) * 1000,
         "unit": "ms", "note": f"gas {mixed['worst_gas']:,}"},
        {"name": "welfare: all-eligible block (every visited citizen paid)", "value": worst_full * 1000,
         "unit": "ms", "note": f"worst of 3; {batch} transfers and writes"},
        {"name": "welfare: all-eligible block gas vs on_block budget", "value": full_gas, "unit": "gas",
         "limit": ON_BLOCK_GAS, "ratio": full_gas / ON_BLOCK_GAS},
    ]


if __name__ == "__main__":
    from bench import print_rows

    print_rows(run())
