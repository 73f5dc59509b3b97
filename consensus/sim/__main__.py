"""Replay one simulation: ``python -m consensus.sim --seed N --scenario NAME``.

Prints the outcome as JSON (``--json``) or as lines for people, and exits 1
when an invariant or a scenario check failed.  ``--scenario twins`` runs one
Twins scenario (the seed is the scenario's index in the sweep); add
``--twins 2`` for the negative control.  Scenario options can be passed as
``--opt key=value`` (integers or strings), e.g. ``--opt point=after_sign``.
"""

from __future__ import annotations

import argparse
import json
import sys

from .scenarios import SCENARIOS
from .twins import run_twins


def _parse_opt(s: str) -> tuple[str, object]:
    k, _, v = s.partition("=")
    try:
        return k, int(v)
    except ValueError:
        return k, v


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m consensus.sim", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--scenario", required=True, choices=sorted([*SCENARIOS, "twins"]))
    ap.add_argument("--twins", type=int, default=1, help="twins scenario: number of twinned validators")
    ap.add_argument("--opt", action="append", default=[], help="scenario option key=value")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
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
