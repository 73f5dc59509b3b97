"""A/B of tests/node/micro_validator.py between two source trees, alternated, medians (not a test).

``python -m tests.node.micro_ab OLD_TREE NEW_TREE [runs] [N] [blocks] [batch]``: each run is a fresh
process with PYTHONPATH set to one tree (OLD, NEW, OLD, NEW, ...); prints each stage's median µs per
transaction for both and the difference.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys


def main() -> None:
    old, new = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rest = sys.argv[4:] or ["3000", "3", "35"]
    here = os.path.dirname(os.path.abspath(__file__))
    res: dict[str, list[dict]] = {"old": [], "new": []}
    for _ in range(runs):
        for name, tree in (("old", old), ("new", new)):
            env = dict(os.environ, PYTHONPATH=tree)
            out = subprocess.run([sys.executable, "-m", "tests.node.micro_validator", *rest], cwd=tree, env=env,
                                 capture_output=True, text=True, check=True).stdout
            res[name].append(json.loads(out.strip().splitlines()[-1]))
            print(name, json.dumps({k: round(v, 2) for k, v in res[name][-1].items()}), file=sys.stderr, flush=True)
    stages = sorted(set().union(*res["old"], *res["new"]))
    print(f"{'stage':18} {'old':>8} {'new':>8} {'diff':>8}   (µs/tx, CPU, medians of {runs})")
    for s in stages:
        o = statistics.median(r.get(s, 0.0) for r in res["old"])
        n = statistics.median(r.get(s, 0.0) for r in res["new"])
        print(f"{s:18} {o:8.2f} {n:8.2f} {n - o:+8.2f}")


if __name__ == "__main__":
    main()
