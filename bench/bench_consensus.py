"""Consensus: simulated heights per second, and Twins scenarios per minute.

The whole validator set runs in this one process in the deterministic
simulator (``consensus.sim``): every node's engine, signer, WAL framing (in
memory) and block store, over a simulated network with 1-10 ms delays.
Simulated time is free, so the figure is CPU per height for *all* n nodes
together.  Empty blocks.

The limit printed beside the heights/s is the machine's single-core
signature budget for one height: a height costs ``2n + 1`` signatures (one
proposal, n prevotes, n precommits), each signed once and verified once (the
simulator shares verification results between nodes, as a real node's
signature cache would for relayed messages).  So
``limit = 1 / ((2n + 1) * (t_sign + t_verify))``, measured in this run.

Run: ``python -m bench.bench_consensus`` (prints a table; about 30-60 s).
"""

from __future__ import annotations

import sys
import time

from ledger.crypto import PrivateKey, signing_hash, verify_raw


def _sig_costs(seconds: float = 0.5) -> tuple[float, float]:
    k = PrivateKey.from_name("bench-consensus")
    msg = signing_hash("vote", "bench", b"v" * 100)
    sig = k.sign_raw(msg)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            k.sign_raw(msg)
        n += 100
    t_sign = (time.perf_counter() - t0) / n
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(100):
            verify_raw(k.public, msg, sig)
        n += 100
    t_verify = (time.perf_counter() - t0) / n
    return t_sign, t_verify


def heights_per_second(n: int, heights: int, seed: int = 1) -> tuple[float, int]:
    from consensus.sim.world import World

    w = World(seed, n, wal_checkpoint_every=50)
    w.start()
    t0 = time.perf_counter()
    ok = w.run(heights * 1000, w.all_reached(heights))
    dt = time.perf_counter() - t0
    if not ok or w.violations:
        raise RuntimeError(f"n={n}: simulation failed: {w.violations[:3]}")
    return heights / dt, w.now


def twins_per_minute(count: int) -> float:
    from consensus.sim.twins import sweep

    t0 = time.perf_counter()
    r = sweep(count, start=100_000, heights=1)
    dt = time.perf_counter() - t0
    if r["failed"]:
        raise RuntimeError(f"twins scenarios failed: {r['failed'][:5]}")
    return count / dt * 60


def run() -> list[dict]:
    t_sign, t_verify = _sig_costs()
    rows = []
    for n, heights in ((4, 400), (16, 40)):
        rate, sim_ms = heights_per_second(n, heights)
        limit = 1.0 / ((2 * n + 1) * (t_sign + t_verify))
        rows.append(
            {
                "name": f"simulated heights/s, n={n}, empty blocks (all {n} nodes on one core)",
                "value": rate,
                "unit": "heights/s",
                "limit": limit,
                "ratio": rate / limit,
                "note": f"{heights} heights in {sim_ms} simulated ms; limit = signature budget per height",
            }
        )
    rows.append(
        {
            "name": "Twins scenarios (n=4, one twin, 6 partitioned rounds, 1 height)",
            "value": twins_per_minute(300),
            "unit": "scenarios/min",
            "note": "one core; agreement checked in every scenario",
        }
    )
    rows.append({"name": "Ed25519 sign + verify (one core)", "value": 1e6 * (t_sign + t_verify), "unit": "us"})
    return rows


def main() -> int:
    from bench import print_rows

    print_rows(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
