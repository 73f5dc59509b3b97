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
    if "--no-write" not in argv and (not only or "--merge" in argv):
        write_doc(sections, machine, merge=bool(only))
        print(f"\nwritten to {DOC}")
    return 1 if failed else 0


def _section(m: str, rows: list[dict], today: str, machine: str) -> list[str]:
    lines = [f"## {m}", "", f"Run on {today}, on {machine}.", "",
             "| figure | value | unit | machine limit | ratio | target | note |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['name']} | {fmt(r['value'])} | {r.get('unit', '')} | {fmt(r['limit']) if 'limit' in r else ''} | "
            f"{format(r['ratio'], '.1%') if 'ratio' in r else ''} | {format(r['target'], '.0%') if 'target' in r else ''} | {note_of(r)} |"
        )
    return lines + [""]


def write_doc(sections: list, machine: str, merge: bool) -> None:
    """Write docs/benchmarks.md; with ``merge`` (``python -m bench NAME --merge``) replace only the
    sections of the modules run and keep the others as they were."""
    today = datetime.date.today().isoformat()
    kept: dict[str, list[str]] = {}
    if merge and os.path.exists(DOC):
        cur = None
        old_when = ""
        with open(DOC) as f:
            for line in f.read().split("\n"):
                if line.startswith("Figures from `make bench` on "):
                    old_when = line[len("Figures from `make bench` on "):].rstrip(".")
                if cur is not None and old_when and len(kept[cur]) == 2 and not line.startswith("Run on"):
                    kept[cur] += [f"Run on {old_when}.", ""]
                if line.startswith("## "):
                    cur = line[3:].strip()
                    kept[cur] = []
                if cur is not None:
                    kept[cur].append(line)
    for m, rows in sections:
        kept[m] = _section(m, rows, today, machine)
    lines = [
        "# Benchmarks",
        "",
        f"Figures from `make bench` (last written {today}); each section says when and where it ran.",
        "Each figure stands beside this machine's own limit measured in the same run (machines are shared and drift).",
        "",
    ]
    for m in sorted(kept):
        body = kept[m]
        while body and body[-1] == "":
            body = body[:-1]
        lines += body + [""]
    with open(DOC, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
