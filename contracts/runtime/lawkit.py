"""Library version 2: the views every law with dated parameters has, supplied by the runtime.

Every law with a parameter table used to carry the same scaffolding: the
block's date (``today``), a parameter's value on a date (``param``), every
parameter in force (``params_at``), the schema check (``check_params``) and
``version``.  A law that declares ``LIBRARY = 2`` gets these five from the
runtime instead, bound to its own module constants:

``today()``
    the block's date as YYYYMMDD;
``param(name, on=0)``
    ``PARAMS[name]``'s value in force on ``on`` (0: today), error 4 when none;
``params_at(on=0)``
    every ``SCHEMA`` name's ``[since, value]`` in force on ``on``;
``check_params(params=None)``
    ``check_param_table(params or PARAMS, SCHEMA, PARAM_FIELDS, value_error)``:
    every way the table breaks the schema, the law's own ``value_error(kind,
    value)`` asked of each value; ``[]`` when it is valid;
``version()``
    ``{"law": LAW, "version": VERSION}``.

A law may still define any of them itself (procurement adds a rule across
two parameters to ``check_params``); its own definition wins.  The names are
views when the law lists them in ``VIEWS``, and plain functions to its own
code either way.  ``PARAM_FIELDS`` defaults to the four fields every law uses.

Library versions are consensus: a law is compiled with the version its
source declares (no ``LIBRARY``: version 1, nothing supplied), so a law
installed before version 2 existed runs exactly as it did, and an amendment
moves a law to version 2 by declaring it.  The kit's functions are metered
like the library's: a call's base charge here, the parameter lookups and the
table check by the library functions they use.
"""

from __future__ import annotations

import ast

from . import gas
from .errors import ErrorCode, Fault
from .gas import ENTRY, OBJECT

VERSIONS = (1, 2)
KIT_VERSION = 2
PARAM_FIELDS = ("label", "unit", "reference", "values")

# name -> (argument names, required argument names), as executor._declarations records a function's
KIT_PARAMS = {
    "today": (frozenset(), frozenset()),
    "param": (frozenset({"name", "on"}), frozenset({"name"})),
    "params_at": (frozenset({"on"}), frozenset()),
    "check_params": (frozenset({"params"}), frozenset()),
    "version": (frozenset(), frozenset()),
}
KIT_NAMES = tuple(KIT_PARAMS)


def library_version(tree: ast.Module) -> int | None:
    """The ``LIBRARY = N`` a module declares (an int literal), 1 when absent, None when malformed."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name) \
                and stmt.targets[0].id == "LIBRARY":
            v = stmt.value
            if isinstance(v, ast.Constant) and type(v.value) is int and v.value in VERSIONS:
                return v.value
            return None
    return 1


def kit_names(tree: ast.Module) -> frozenset:
    """The names library version 2 supplies to this module (none for version 1)."""
    return frozenset(KIT_NAMES) if library_version(tree) == KIT_VERSION else frozenset()


def bind(g: dict, kit) -> None:
    """Put the kit's functions in a law's globals ``g`` (after its module body ran), where it has not.

    ``kit`` is the executor's per-thread kit: the functions read its
    library's current meter and its ``time`` (the block time of the call
    running on it) when they are called, so a module kept between calls
    keeps them too (they are bound once per kept module, not per call).
    """
    library = kit.library

    def today() -> int:
        library.m.tick(gas.CALL)
        y, mo, d = library.f_date_of(kit.time)
        return y * 10000 + mo * 100 + d

    def param(name, on=0):
        library.m.tick(gas.CALL)
        return library.f_param_value(_const(g, "PARAMS"), name, on if on else today())

    def params_at(on=0) -> dict:
        m = library.m
        m.tick(gas.CALL)
        when = on if on else today()
        table = _const(g, "PARAMS")
        names = library.items(_const(g, "SCHEMA"))
        m.alloc(len(names) * ENTRY + OBJECT)
        return {name: library.f_param_in_force(table, name, when) for name in names}

    def check_params(params=None) -> list:
        library.m.tick(gas.CALL)
        return library.f_check_param_table(_const(g, "PARAMS") if params is None else params, _const(g, "SCHEMA"),
                                           g.get("PARAM_FIELDS", PARAM_FIELDS), g.get("value_error"))

    def version() -> dict:
        m = library.m
        m.tick(gas.CALL)
        m.alloc(2 * ENTRY + OBJECT)
        return {"law": _const(g, "LAW"), "version": _const(g, "VERSION")}

    for fn in (today, param, params_at, check_params, version):
        g.setdefault(fn.__name__, fn)


def _const(g: dict, name: str):
    if name not in g:
        raise Fault(ErrorCode.NAME_ERROR)  # a version-2 law without the constant the view reads
    return g[name]
