"""Benchmarks: each prints its figure beside this machine's own limit.

``make bench`` runs ``python -m bench``: every ``bench_*.py`` module's
``run()`` returns rows ``{name, value, unit[, limit, ratio, target, note]}``;
the rows are printed and written to docs/benchmarks.md with the date and the
machine.
"""


def fmt(v) -> str:
    if isinstance(v, float):
        if v >= 100:
            return f"{v:,.0f}"
        return f"{v:.3g}"
    return str(v)


KNOWN = ("name", "value", "unit", "limit", "ratio", "target", "note")


def note_of(r: dict) -> str:
    """The row's note, with any extra fields (store=leveldb, ...) that tell rows apart."""
    extra = ", ".join(f"{k}={v}" for k, v in r.items() if k not in KNOWN)
    return "; ".join(x for x in (r.get("note", ""), extra) if x)


def print_rows(rows: list[dict], file=None) -> None:
    import sys

    out = file or sys.stdout
    for r in rows:
        line = f"{r['name']}: {fmt(r['value'])} {r.get('unit', '')}"
        if "ratio" in r:
            line += f"  (ratio {r['ratio']:.1%} of {fmt(r['limit'])}"
            if "target" in r:
                line += f"; target {r['target']:.0%}"
            line += ")"
        if note_of(r):
            line += f"  [{note_of(r)}]"
        print(line, file=out, flush=True)
