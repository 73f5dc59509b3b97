"""Twins: thousands of seeded scenarios with one twin; a negative control with two."""

from __future__ import annotations

import multiprocessing as mp
import os

from consensus.sim.twins import generate, quorum_partitions, run_twins, set_partitions, sweep

SWEEP = int(os.environ.get("ESOC_TWINS_SWEEP", "1200"))


def _chunk(args):
    start, count = args
    return sweep(count, start=start, heights=1)


def test_partition_generation():
    assert len(set_partitions([0, 1, 2, 3, 4], 2)) == 16  # 1 + S(5, 2) = 1 + 15
    parts = quorum_partitions([0, 1, 2, 3, 0], 4, 2)
    for p in parts:
        assert any(len(set(g) - {4} | ({0} if 4 in g else set())) >= 3 for g in p)
    assert generate(17) == generate(17) and generate(17) != generate(18)


def test_twins_sweep_one_twin_agreement_always_holds():
    procs = 2
    per = SWEEP // procs
    with mp.get_context("fork").Pool(procs) as pool:
        results = pool.map(_chunk, [(i * per, per) for i in range(procs)])
    failed = [i for r in results for i in r["failed"]]
    forked = [i for r in results for i in r["forked"]]
    assert sum(r["count"] for r in results) == SWEEP
    assert forked == [], f"forks in twins scenarios {forked[:10]}"
    assert failed == [], f"failed twins scenarios {failed[:10]} (replay: python -m consensus.sim --scenario twins --seed N)"


def test_negative_control_two_twins_fork():
    r = sweep(150, n_twins=2, heights=1)
    assert r["forked"], "two twins at n=4 exceed f: the harness must detect a fork"
    out = run_twins(r["forked"][0], n_twins=2, heights=1)
    assert out.world.checker.forks and any("agreement violated" in v for v in out.violations)
