"""Building a law's new source for a parameter change, and its diff.

A parameter change (``esoc gov propose --params LAW --values FILE``) is a new
source of the law in which the ``values`` of some entries of its ``PARAMS``
table hold new dated values; everything else is byte for byte the source in
force, so the proposal's diff shows exactly the change.  The law's
``VERSION`` constant is bumped so its own events name the new version.
"""

from __future__ import annotations

import ast
import difflib

from ledger.constexpr import module_constants


class SourceError(ValueError):
    pass


def _params_dict(tree: ast.Module) -> ast.Dict:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PARAMS" for t in node.targets):
            if isinstance(node.value, ast.Dict):
                return node.value
    raise SourceError("the law has no PARAMS table")


def _values_node(params: ast.Dict, name: str) -> ast.AST:
    for k, v in zip(params.keys, params.values):
        if isinstance(k, ast.Constant) and k.value == name:
            if not isinstance(v, ast.Dict):
                raise SourceError(f"PARAMS[{name!r}] is not a table")
            for k2, v2 in zip(v.keys, v.values):
                if isinstance(k2, ast.Constant) and k2.value == "values":
                    return v2
            raise SourceError(f"PARAMS[{name!r}] has no values")
    raise SourceError(f"the law has no parameter {name!r}")


def _literal(v) -> str:
    """Python literal text with tuples for lists (the laws' style)."""
    if isinstance(v, (list, tuple)):
        inner = ", ".join(_literal(x) for x in v)
        return f"({inner},)" if len(v) == 1 else f"({inner})"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(x)}" for k, x in v.items()) + "}"
    if v is None or isinstance(v, (bool, int, str)):
        return repr(v)
    raise SourceError(f"a parameter value must be int, str, None or tables of them, not {type(v).__name__}")


def _offset(lines: list[str], lineno: int, col: int) -> int:
    return sum(len(line) for line in lines[: lineno - 1]) + len(lines[lineno - 1].encode("utf-8")[:col].decode("utf-8"))


def param_values(source: str, name: str) -> list:
    """The dated values of parameter ``name``, with the law's named units evaluated (never run)."""
    tree = ast.parse(source)
    _values_node(_params_dict(tree), name)  # a clear error when the table or the name is missing
    params = module_constants(source).get("PARAMS")
    if not isinstance(params, dict) or not isinstance(params.get(name), dict):
        raise SourceError("the law's PARAMS table is not made of constants (literals and named units)")
    return [list(p) for p in params[name].get("values", ())]


# the named units a law's tables are written in: the unit column's name -> (constant, its value)
UNIT_NAMES = {"fen": ("YUAN", 100), "bps": ("PERCENT", 100)}
LINE_MAX = 110


def _units(source: str, name: str) -> list[str]:
    """The unit of each column of parameter ``name`` ("fen; bps; fen" -> ["fen", "bps", "fen"])."""
    params = module_constants(source).get("PARAMS")
    unit = params.get(name, {}).get("unit", "") if isinstance(params, dict) else ""
    return [u.strip().split("/")[0].strip() for u in str(unit).split(";")]


def _number(v, unit: str, consts: dict) -> str:
    """An integer as the law writes it: ``36_000 * YUAN`` for fen, ``4 * PERCENT`` for bps, else ``12_345``."""
    if isinstance(v, int) and not isinstance(v, bool) and v != 0 and unit in UNIT_NAMES:
        cname, cval = UNIT_NAMES[unit]
        if consts.get(cname) == cval and v % cval == 0:
            return f"{v // cval:_} * {cname}"
    if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 10_000:
        return f"{v:_}"
    return _literal(v)


def _value_text(value, units: list[str], consts: dict, indent: str) -> str:
    """A parameter's value in the law's style: named units, a table's rows one a line."""
    if isinstance(value, (list, tuple)) and value and all(isinstance(r, (list, tuple)) for r in value):
        rows = []
        for r in value:
            cells = [_number(x, units[i] if len(units) == len(r) else "", consts) for i, x in enumerate(r)]
            rows.append(f"{indent}    ({', '.join(cells)}{',' if len(cells) == 1 else ''}),\n")
        return "(\n" + "".join(rows) + indent + ")"
    if isinstance(value, (list, tuple)):
        cells = [_number(x, units[i] if len(units) == len(value) else "", consts) for i, x in enumerate(value)]
        return f"({', '.join(cells)}{',' if len(cells) == 1 else ''})"
    return _number(value, units[0] if len(units) == 1 else "", consts)


def _values_text(source: str, name: str, node: ast.AST, values: tuple, kept: dict) -> str:
    """The ``values`` tuple's new text: entries whose date is unchanged keep their text byte for byte,
    new ones are written in the law's style; on one line when short, else one entry a line."""
    lines = source.splitlines(keepends=True)
    line = lines[node.lineno - 1]
    indent = line[: len(line) - len(line.lstrip())]
    units, consts = _units(source, name), module_constants(source)
    entries = []
    for since, value in values:
        if since in kept:
            entries.append(kept[since])
        else:
            v = _value_text(value, units, consts, indent + "    ")
            entries.append(f"({since}, {v})")
    inline = "(" + ", ".join(entries) + ("," if len(entries) == 1 else "") + ")"
    if "\n" not in inline and len(line.rstrip()) - (node.end_col_offset - node.col_offset) + len(inline) <= LINE_MAX:
        return inline
    return "(\n" + "".join(f"{indent}    {e},\n" for e in entries) + indent + ")"


def with_values(source: str, changes: dict) -> str:
    """``source`` with, for each ``name: [[since, value], ...]``, those dated values added (a value with
    the same ``since`` is replaced); dates stay increasing.  Entries not changed keep their text; new
    ones are written with the law's named units (``36_000 * YUAN``, ``4 * PERCENT``), so the diff of
    the proposal reads like the law.  ``VERSION`` is bumped by one."""
    if not isinstance(changes, dict) or not changes:
        raise SourceError("the values file must be a JSON object: {parameter: [[since YYYYMMDD, value], ...]}")
    out = source
    for name in sorted(changes):
        new = changes[name]
        if not isinstance(new, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in new):
            raise SourceError(f"{name}: give a list of [since YYYYMMDD, value] pairs")
        for _, value in new:
            _literal(value)  # a clear error for a value that is not int, str, None or tables of them
        old = param_values(out, name)
        merged = {since: value for since, value in old}
        for since, value in new:
            merged[since] = value
        values = tuple((since, merged[since]) for since in sorted(merged))
        tree = ast.parse(out)
        node = _values_node(_params_dict(tree), name)
        changed = {since for since, _ in new}
        kept = {}
        if isinstance(node, ast.Tuple) and len(node.elts) == len(old):
            for (since, _), elt in zip(old, node.elts):
                text = ast.get_source_segment(out, elt)
                if since not in changed and text is not None:
                    kept[since] = text
        lines = out.splitlines(keepends=True)
        a = _offset(lines, node.lineno, node.col_offset)
        b = _offset(lines, node.end_lineno, node.end_col_offset)
        out = out[:a] + _values_text(out, name, node, values, kept) + out[b:]
    return bump_version(out)


def bump_version(source: str) -> str:
    tree = ast.parse(source)
    for node in tree.body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == "VERSION" and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, int)):
            lines = source.splitlines(keepends=True)
            a = _offset(lines, node.value.lineno, node.value.col_offset)
            b = _offset(lines, node.value.end_lineno, node.value.end_col_offset)
            return source[:a] + str(node.value.value + 1) + source[b:]
    return source


def diff(old: str | None, new: str, name: str) -> str:
    """A unified diff of the law's source in force and the proposed one."""
    return "".join(difflib.unified_diff((old or "").splitlines(keepends=True), new.splitlines(keepends=True),
                                        f"{name} (in force)", f"{name} (proposed)"))
