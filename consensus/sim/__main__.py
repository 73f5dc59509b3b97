"""Replay one simulation: ``python -m consensus.sim --seed N --scenario NAME``.

Prints the outcome as JSON (``--json``) or as lines for people, and exits 1
when an invariant or a scenario check failed.  ``--scenario twins`` runs one
Twins scenario (the seed is the scenario's index in the sweep); add
``--twins 2`` for the negative control.  Scenario options can be passed as
``--opt key=value`` (integers or strings), e.g. ``--opt point=after_sign``.

A Twins sweep: ``--scenario twins --scenarios 10000 [--seed START] [--procs 2]``
runs scenarios ``START .. START+9999`` (one twin, each with the Byzantine
behaviour its index selects) and prints the count, the failures, the forks
and the rate in scenarios per minute.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time

from .scenarios import SCENARIOS
from .twins import run_twins, sweep


def _chunk(args: tuple[int, int, int]) -> dict:
    start, count, n_twins = args
    return sweep(count, start=start, n_twins=n_twins, heights=1)


def run_sweep(start: int, count: int, n_twins: int, procs: int) -> dict:
    """A Twins sweep over ``procs`` processes; returns counts, failures, forks and the rate."""
    t0 = time.monotonic()
    per = -(-count // procs)
    chunks = [(start + i * per, min(per, count - i * per), n_twins) for i in range(procs) if count - i * per > 0]
    with mp.get_context("fork").Pool(len(chunks)) as pool:
        results = pool.map(_chunk, chunks)
    secs = time.monotonic() - t0
    return {
        "scenarios": sum(r["count"] for r in results),
        "failed": [i for r in results for i in r["failed"]],
        "forked": [i for r in results for i in r["forked"]],
        "seconds": round(secs, 1),
        "scenarios_per_min": round(count * 60 / secs),
    }


def _parse_opt(s: str) -> tuple[str, object]:
    k, _, v = s.partition("=")
    try:
        return k, int(v)
    except ValueError:
        return k, v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m consensus.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scenario", required=True, choices=sorted([*SCENARIOS, "twins"]))
    ap.add_argument("--twins", type=int, default=1, help="twins scenario: number of twinned validators")
    ap.add_argument("--opt", action="append", default=[], help="scenario option key=value")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--scenarios", type=int, default=0, help="twins: sweep this many scenarios from --seed")
    ap.add_argument("--procs", type=int, default=2, help="twins sweep: worker processes")
    args = ap.parse_args(argv)
    if args.scenarios:
        if args.scenario != "twins":
            ap.error("--scenarios sweeps Twins: use --scenario twins")
        res = run_sweep(args.seed, args.scenarios, args.twins, max(1, args.procs))
        print(json.dumps(res, sort_keys=True))
        return 0 if not res["failed"] and (args.twins > 1 or not res["forked"]) else 1
    opts = dict(_parse_opt(o) for o in args.opt)
    try:
        if args.scenario == "twins":
            out = run_twins(args.seed, n_twins=args.twins, **opts)
        else:
            out = SCENARIOS[args.scenario](args.seed, **opts)
    except TypeError as e:
        print(f"error: bad scenario option: {e}", file=sys.stderr)
        return 2
    summary = out.summary()
    if args.json:
        print(json.dumps(summary, default=str, sort_keys=True))
    else:
        for k, v in summary.items():
            print(f"{k}: {v}")
    return 0 if out.ok else 1


if __name__ == "__main__":
    sys.exit(main())
