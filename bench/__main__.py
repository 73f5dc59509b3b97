"""Run every benchmark module; print the rows; write docs/benchmarks.md."""

from __future__ import annotations

import datetime
import importlib
import os
import pkgutil
import sys
import traceback

from . import fmt, note_of, print_rows
from .machine import describe

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.md")


def main(argv: list[str]) -> int:
    only = [a for a in argv if not a.startswith("-")]
    mods = sorted(m.name for m in pkgutil.iter_modules([HERE]) if m.name.startswith("bench_"))
    if only:
        mods = [m for m in mods if any(o in m for o in only)]
    machine = describe()
    print(f"# esoc benchmarks on {machine}", flush=True)
    sections = []
    failed = 0
    for m in mods:
        print(f"\n## {m}", flush=True)
        try:
            rows = importlib.import_module(f"bench.{m}").run()
        except Exception:
            traceback.print_exc()
            failed += 1
            continue
        print_rows(rows)
        sections.append((m, rows))
    if "--no-write" not in argv and not only:
        today = datetime.date.today().isoformat()
        lines = [
            "# Benchmarks",
            "",
            f"Figures from `make bench` on {today}, on {machine}.",
            "Each figure stands beside this machine's own limit measured in the same run (machines are shared and drift).",
            "",
        ]
        for m, rows in sections:
            lines += [f"## {m}", "", "| figure | value | unit | machine limit | ratio | target | note |", "|---|---|---|---|---|---|---|"]
            for r in rows:
                lines.append(
                    f"| {r['name']} | {fmt(r['value'])} | {r.get('unit', '')} | {fmt(r['limit']) if 'limit' in r else ''} | "
                    f"{format(r['ratio'], '.1%') if 'ratio' in r else ''} | {format(r['target'], '.0%') if 'target' in r else ''} | {note_of(r)} |"
                )
            lines.append("")
        with open(DOC, "w") as f:
            f.write("\n".join(lines))
        print(f"\nwritten to {DOC}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
