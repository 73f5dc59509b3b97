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


def with_values(source: str, changes: dict) -> str:
    """``source`` with, for each ``name: [[since, value], ...]``, those dated values added (a value with
    the same ``since`` is replaced); dates stay increasing.  ``VERSION`` is bumped by one."""
    if not isinstance(changes, dict) or not changes:
        raise SourceError("the values file must be a JSON object: {parameter: [[since YYYYMMDD, value], ...]}")
    out = source
    for name in sorted(changes):
        new = changes[name]
        if not isinstance(new, list) or not all(isinstance(p, list) and len(p) == 2 and isinstance(p[0], int) for p in new):
            raise SourceError(f"{name}: give a list of [since YYYYMMDD, value] pairs")
        merged = {since: value for since, value in param_values(out, name)}
        for since, value in new:
            merged[since] = value
        values = tuple((since, merged[since]) for since in sorted(merged))
        tree = ast.parse(out)
        node = _values_node(_params_dict(tree), name)
        lines = out.splitlines(keepends=True)
        a = _offset(lines, node.lineno, node.col_offset)
        b = _offset(lines, node.end_lineno, node.end_col_offset)
        out = out[:a] + _literal(values) + out[b:]
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
