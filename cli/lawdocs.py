"""Case tables and parameter tables of the laws, for the tests and the docs.

Each law has a case table, ``contracts/laws/cases/LAW.toml``: worked
examples as ``[[case]]`` entries (``name``, ``function``, ``args``,
``expected`` or ``expected_fields``, ``source``, optional ``date`` and
``setup``), OpenFisca's YAML tests in TOML.  Amounts may be written
``"N yuan"`` (``"7,480 yuan"`` is 748,000 fen) and bytes ``"hex:..."``.

The same file is run by ``tests/laws/test_cases.py`` and rendered into the
law's page in ``docs/laws/`` between generated markers, together with the
parameter table rendered from the law's own ``PARAMS``, so the docs and the
code cannot drift: ``python -m cli.lawdocs`` rewrites the pages and
``python -m cli.lawdocs --check`` (and the test) fails where a page differs.
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import re
import sys
import tomllib

from contracts.runtime.registry import law_sources

ROOT = pathlib.Path(__file__).resolve().parent.parent
CASES = ROOT / "contracts" / "laws" / "cases"
DOCS = ROOT / "docs" / "laws"
YUAN = 100

_AMOUNT = re.compile(r"^(-?[0-9][0-9,]*(?:\.[0-9]{1,2})?) yuan$")


class CaseError(ValueError):
    pass


def amount(text: str) -> int:
    """``"7,480 yuan"`` -> 748000 (fen); ``"0.50 yuan"`` -> 50."""
    m = _AMOUNT.match(text)
    if not m:
        raise CaseError(f"not an amount: {text!r}")
    whole, _, cents = m.group(1).replace(",", "").partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * YUAN + int((cents + "00")[:2]))


def value(v):
    """A case's written value as the law sees it."""
    if isinstance(v, str):
        if _AMOUNT.match(v):
            return amount(v)
        if v.startswith("hex:"):
            return bytes.fromhex(v[4:])
        return v
    if isinstance(v, dict):
        return {k: value(x) for k, x in v.items()}
    if isinstance(v, list):
        return [value(x) for x in v]
    return v


def cases(law: str) -> list[dict]:
    """The cases of ``law``, checked for shape (an unknown field is an error)."""
    path = CASES / f"{law}.toml"
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    allowed = {"name", "function", "args", "expected", "expected_fields", "source", "date", "setup"}
    for i, case in enumerate(data.get("case", [])):
        unknown = set(case) - allowed
        missing = {"name", "function", "source"} - set(case)
        if unknown or missing or ("expected" in case) == ("expected_fields" in case):
            raise CaseError(f"{path.name} case {i}: unknown {sorted(unknown)}, missing {sorted(missing)}, "
                            "and exactly one of expected / expected_fields")
        out.append(case)
    return out


def laws_with_cases() -> list[str]:
    return sorted(p.stem for p in CASES.glob("*.toml"))


def module_of(law: str) -> dict:
    """A law's module-level names (units, SCHEMA, PARAMS), read by running it as plain Python."""
    namespace: dict = {}
    exec(compile(law_sources()[law], f"<law {law}>", "exec"), namespace)
    return namespace


# ------------------------------------------------------------------ rendering
def _money(fen: int) -> str:
    y, f = divmod(abs(fen), YUAN)
    sign = "-" if fen < 0 else ""
    return f"{sign}{y:,}" + (f".{f:02d}" if f else "") + " yuan"


def _show(v, unit: str = "") -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        if unit.startswith("fen"):
            return f"{v:,} ({_money(v)})"
        if unit == "bps":
            pct = f"{v / 100:g}"
            return f"{v:,} bps ({pct} %)"
        return f"{v:,}"
    if v is None:
        return "—"
    if isinstance(v, (list, tuple)) and v and isinstance(v[0], (list, tuple)):
        return "table below"
    return str(v)


def _date(d: int) -> str:
    return f"{d // 10000:04d}-{d // 100 % 100:02d}-{d % 100:02d}"


def _table_rows(name: str, unit: str, table) -> list[str]:
    cols = [u.strip() for u in unit.split(";")]
    heads = ["up to", "rate", "quick deduction"][: len(cols)]
    lines = [f"`{name}`:", "", "| " + " | ".join(heads) + " |", "|" + " --- |" * len(heads)]
    for row in table:
        cells = []
        for x, u in zip(row, cols):
            cells.append("above" if x is None else (_money(x) if u.startswith("fen") else f"{x / 100:g} %"))
        lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def render_params(law: str) -> str:
    params = module_of(law).get("PARAMS") or {}
    if not params:
        return "This law has no dated parameters.\n"
    lines = ["| name | label | unit | value | since | legal reference |", "| --- | --- | --- | --- | --- | --- |"]
    tables = []
    for name, p in params.items():
        for since, v in p["values"]:
            lines.append(f"| `{name}` | {p['label']} | {p['unit']} | {_show(v, p['unit'])} | {_date(since)} | {p['reference']} |")
            if isinstance(v, (list, tuple)) and v and isinstance(v[0], (list, tuple)):
                tables += [f"Since {_date(since)}, " + _table_rows(name, p["unit"], v)[0]] + _table_rows(name, p["unit"], v)[1:]
    return "\n".join(lines + [""] + tables).rstrip() + "\n"


def _written(v) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} = {_written(x)}" for k, x in v.items())
    if isinstance(v, list):
        return "[" + ", ".join(_written(x) for x in v) + "]"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def render_cases(law: str) -> str:
    rows = cases(law)
    if not rows:
        return "No case table yet.\n"
    lines = ["| case | call | expected | source |", "| --- | --- | --- | --- |"]
    for c in rows:
        call = f"`{c['function']}({_written(c.get('args', {}))})`"
        if c.get("setup"):
            steps = "; ".join(f"{s['sender']}: `{s['call']}`" for s in c["setup"])
            call = f"after {steps}, {call}"
        if isinstance(c.get("date"), datetime.date):
            call += f" on {c['date'].isoformat()}"
        expected = _written(c["expected"]) if "expected" in c else _written(c["expected_fields"]) + " (among others)"
        lines.append(f"| {c['name']} | {call} | {expected} | {c['source']} |")
    return "\n".join(lines) + "\n"


def _section(kind: str, law: str, body: str) -> str:
    return (f"<!-- {kind}: generated from {'contracts/laws/cases/' + law + '.toml' if kind == 'cases' else 'PARAMS in contracts/laws/' + law + '.py'}"
            f" by `python -m cli.lawdocs`; do not edit by hand -->\n{body}<!-- /{kind} -->")


def render_page(law: str, page: str) -> str:
    """``page`` with its generated sections rewritten (each must be present)."""
    for kind, body in (("params", render_params(law)), ("cases", render_cases(law))):
        pattern = re.compile(rf"<!-- {kind}: .*?<!-- /{kind} -->", re.S)
        if not pattern.search(page):
            raise CaseError(f"docs/laws/{law}.md has no generated {kind} section")
        page = pattern.sub(lambda _m: _section(kind, law, body), page)
    return page


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m cli.lawdocs", description=__doc__.split("\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 where a page differs from its rendering")
    args = ap.parse_args(argv)
    stale = []
    for law in laws_with_cases():
        path = DOCS / f"{law}.md"
        old = path.read_text(encoding="utf-8")
        new = render_page(law, old)
        if new != old:
            stale.append(path.name)
            if not args.check:
                path.write_text(new, encoding="utf-8")
    if args.check and stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
