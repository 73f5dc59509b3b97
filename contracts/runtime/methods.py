"""The per-type method allowlist: what ``x.name(...)`` may call.

A contract never holds a bound method: ``x.name(args)`` is rewritten to
``_cm(x, "name", args)``, which looks up ``(type(x), name)`` in ``METHODS``
by the receiver's *exact* type and calls a wrapper that charges for the size
of the work first.  ``x.name`` without a call is ``_ga(x, "name")``, which
only serves data attributes of host objects (``ctx.sender``); naming a
method without calling it is FORBIDDEN.  No dunder, no ``format``, no
``__class__``: a name is either in this table or refused.

Unicode-database-dependent methods are restricted to ASCII so that results
do not change between Python versions (``upper``, ``lower``, ``isdigit``,
``split()`` without a separator, ``strip()`` without characters).
"""

from __future__ import annotations

from types import MappingProxyType

from . import gas
from .errors import ErrorCode, Fault
from .gas import ENTRY, OBJECT, SLOT
from .ops import CONTAINS_ELEM, SCALARS, Ops, char_width

ASCII_SPACE = " \t\n\r\x0b\x0c"
_TEXT = (str, bytes)


def _need(cond: bool, code: ErrorCode = ErrorCode.TYPE_ERROR) -> None:
    if not cond:
        raise Fault(code)


def _ascii(s: str) -> None:
    if not s.isascii():
        raise Fault(ErrorCode.VALUE_ERROR)


def _cap_len(n: int, unit: int) -> None:
    if n * unit > gas.MAX_ALLOC:
        raise Fault(ErrorCode.VALUE_TOO_LARGE)


# ------------------------------------------------------------------- str
def s_lower(o: Ops, s: str) -> str:
    _ascii(s)
    o.m.alloc(len(s) + OBJECT)
    return s.lower()


def s_upper(o: Ops, s: str) -> str:
    _ascii(s)
    o.m.alloc(len(s) + OBJECT)
    return s.upper()


def _strip(kind: str):
    def strip(o: Ops, s, chars=None):
        if chars is None:
            chars = ASCII_SPACE
        _need(type(chars) is str)
        o.m.alloc(len(s) * char_width(s) + OBJECT)
        o.m.work(len(s) * len(chars))
        return getattr(s, kind)(chars)

    return strip


def s_startswith(o: Ops, s, prefix):
    parts = prefix if type(prefix) is tuple else (prefix,)
    for p in parts:
        _need(type(p) is type(s))
        o.m.work(len(p))
    return s.startswith(prefix)


def s_endswith(o: Ops, s, suffix):
    parts = suffix if type(suffix) is tuple else (suffix,)
    for p in parts:
        _need(type(p) is type(s))
        o.m.work(len(p))
    return s.endswith(suffix)


def _ints(*xs) -> None:
    for x in xs:
        _need(x is None or type(x) is int)


def s_find(o: Ops, s: str, sub: str, start=None, end=None) -> int:
    _need(type(sub) is str)
    _ints(start, end)
    o.m.work(len(s) + len(sub))
    return s.find(sub, start, end)


def s_count(o: Ops, s: str, sub: str) -> int:
    _need(type(sub) is str)
    o.m.work(len(s) + len(sub))
    return s.count(sub)


def s_split(o: Ops, s: str, sep=None, maxsplit=-1) -> list:
    _need(type(maxsplit) is int)
    if sep is None:
        _ascii(s)  # Unicode whitespace differs between versions
        o.m.work(len(s))
        parts = len(s) // 2 + 1
    else:
        _need(type(sep) is str)
        _need(len(sep) > 0, ErrorCode.VALUE_ERROR)
        o.m.work(len(s))
        parts = s.count(sep) + 1
    if maxsplit >= 0:
        parts = min(parts, maxsplit + 1)
    o.m.alloc(len(s) * char_width(s) + parts * (SLOT + OBJECT) + OBJECT)
    return s.split(sep, maxsplit)


def s_join(o: Ops, sep: str, items) -> str:
    _need(type(items) in (list, tuple))
    o.m.elems(len(items))
    total = len(sep) * max(len(items) - 1, 0)
    width = char_width(sep)
    for x in items:
        _need(type(x) is str)
        total += len(x)
        if width == 1:
            width = char_width(x)
    o.m.alloc(total * width + OBJECT)
    return sep.join(items)


def s_replace(o: Ops, s: str, old: str, new: str, count: int = -1) -> str:
    _need(type(old) is str and type(new) is str and type(count) is int)
    _need(len(old) > 0, ErrorCode.VALUE_ERROR)  # '' would insert between every char
    o.m.work(len(s) + len(old))
    n = s.count(old)
    if count >= 0:
        n = min(n, count)
    o.m.alloc((len(s) + n * max(len(new) - len(old), 0)) * max(char_width(s), char_width(new)) + OBJECT)
    return s.replace(old, new, count)


def _ascii_pred(name: str):
    def pred(o: Ops, s: str) -> bool:
        o.m.work(len(s))
        return s.isascii() and getattr(s, name)()

    return pred


def s_encode(o: Ops, s: str) -> bytes:
    o.m.alloc(len(s) * char_width(s) + OBJECT)  # UTF-8: at most 4 bytes a character
    return s.encode("utf-8")


# ------------------------------------------------------------------- bytes
def b_hex(o: Ops, b: bytes) -> str:
    o.m.alloc(2 * len(b) + OBJECT)
    return b.hex()


def b_decode(o: Ops, b: bytes) -> str:
    o.m.alloc(len(b) * (1 if b.isascii() else 4) + OBJECT)  # one astral char makes every char 4 bytes
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        raise Fault(ErrorCode.VALUE_ERROR) from None


# ------------------------------------------------------------------- list / tuple
def l_append(o: Ops, lst: list, x) -> None:
    _cap_len(len(lst) + 1, SLOT)
    o.m.alloc(SLOT)
    lst.append(x)


def l_pop(o: Ops, lst: list, i: int = -1):
    _need(type(i) is int)
    o.m.elems(len(lst) >> 3)
    return lst.pop(i)


def l_insert(o: Ops, lst: list, i: int, x) -> None:
    _need(type(i) is int)
    _cap_len(len(lst) + 1, SLOT)
    o.m.alloc(SLOT)
    o.m.elems(len(lst) >> 3)
    lst.insert(i, x)


def l_extend(o: Ops, lst: list, other) -> None:
    _need(type(other) in (list, tuple))
    _cap_len(len(lst) + len(other), SLOT)
    o.m.alloc(len(other) * SLOT)
    lst.extend(other)


def _scalar_cost(o: Ops, seq, x) -> None:
    o.m.elems(len(seq) * (1 + (len(x) >> 3 if type(x) in _TEXT else 0)))


def _find(o: Ops, seq, x) -> int:
    """Index of the first element equal to ``x`` (contract equality), or -1."""
    if type(x) in SCALARS:  # C compares a scalar with anything in O(len(x))
        _scalar_cost(o, seq, x)
        try:
            return seq.index(x)
        except ValueError:
            return -1
    for i, y in enumerate(seq):
        o.m.tick(CONTAINS_ELEM)
        if o.eq(x, y):
            return i
    return -1


def l_index(o: Ops, seq, x) -> int:
    i = _find(o, seq, x)
    if i < 0:
        raise Fault(ErrorCode.VALUE_ERROR)
    return i


def l_count(o: Ops, seq, x) -> int:
    if type(x) in SCALARS:
        _scalar_cost(o, seq, x)
        return seq.count(x)
    n = 0
    for y in seq:
        o.m.tick(CONTAINS_ELEM)
        if o.eq(x, y):
            n += 1
    return n


def l_remove(o: Ops, lst: list, x) -> None:
    i = l_index(o, lst, x)
    o.m.elems(len(lst) >> 3)
    del lst[i]


def l_reverse(o: Ops, lst: list) -> None:
    o.m.elems(len(lst) >> 3)
    lst.reverse()


def l_copy(o: Ops, lst: list) -> list:
    o.m.alloc(len(lst) * SLOT + OBJECT)
    return lst.copy()


def l_clear(o: Ops, c) -> None:
    c.clear()


# ------------------------------------------------------------------- dict
def d_get(o: Ops, d, k, default=None):
    _need(type(k) is str)
    return d.get(k, default)


def d_keys(o: Ops, d) -> list:
    o.m.alloc(len(d) * SLOT + OBJECT)
    return list(d.keys())


def d_values(o: Ops, d) -> list:
    o.m.alloc(len(d) * SLOT + OBJECT)
    return list(d.values())


def d_items(o: Ops, d) -> list:
    o.m.alloc(len(d) * (SLOT + OBJECT + 2 * 8) + OBJECT)
    return list(d.items())


_MISSING = object()


def d_pop(o: Ops, d: dict, k, default=_MISSING):
    _need(type(k) is str)
    if default is _MISSING:
        return d.pop(k)
    return d.pop(k, default)


def d_setdefault(o: Ops, d: dict, k, default=None):
    _need(type(k) is str)
    if k not in d:
        o.setitem(d, k, default)
    return d[k]


def d_update(o: Ops, d: dict, other) -> None:
    _need(type(other) in (dict, MappingProxyType))
    _cap_len(len(d) + len(other), ENTRY)
    o.m.alloc(len(other) * ENTRY)
    d.update(other)


def d_copy(o: Ops, d) -> dict:
    o.m.alloc(len(d) * ENTRY + OBJECT)
    return dict(d)


METHODS: dict[type, dict[str, object]] = {
    str: {
        "lower": s_lower, "upper": s_upper, "strip": _strip("strip"),
        "lstrip": _strip("lstrip"), "rstrip": _strip("rstrip"),
        "startswith": s_startswith, "endswith": s_endswith, "find": s_find,
        "count": s_count, "split": s_split, "join": s_join, "replace": s_replace,
        "isdigit": _ascii_pred("isdigit"), "isalpha": _ascii_pred("isalpha"),
        "isalnum": _ascii_pred("isalnum"), "isascii": _ascii_pred("isascii"), "encode": s_encode,
    },
    bytes: {"hex": b_hex, "decode": b_decode, "startswith": s_startswith, "endswith": s_endswith},
    list: {
        "append": l_append, "pop": l_pop, "insert": l_insert, "extend": l_extend,
        "index": l_index, "count": l_count, "remove": l_remove, "reverse": l_reverse,
        "copy": l_copy, "clear": l_clear,
    },
    tuple: {"index": l_index, "count": l_count},
    dict: {
        "get": d_get, "keys": d_keys, "values": d_values, "items": d_items, "pop": d_pop,
        "setdefault": d_setdefault, "update": d_update, "copy": d_copy, "clear": l_clear,
    },
    MappingProxyType: {"get": d_get, "keys": d_keys, "values": d_values, "items": d_items, "copy": d_copy},
}

# data attributes, by receiver type: name -> getter(obj)
ATTRS: dict[type, dict[str, object]] = {}


def register(cls: type, methods: dict[str, object], attrs: dict[str, object]) -> None:
    """Add a host-API type (the executor's ``Ctx``, ``Storage``, ``State``)."""
    METHODS[cls] = dict(methods)
    ATTRS[cls] = dict(attrs)


def method_caller(o: Ops):
    """``_cm(obj, name, *args, **kwargs)`` bound to ``o``: call an allowlisted method of ``obj``
    (``Fault(FORBIDDEN)`` for any other).  What a kit installs as ``_cm``: a closure, not a
    ``functools.partial``, so a call from contract code is Python to Python, one C layer fewer."""
    tables = METHODS.get

    def _cm(obj, name, *args, **kwargs):
        table = tables(type(obj))
        if table is None or type(name) is not str:
            raise Fault(ErrorCode.FORBIDDEN)
        fn = table.get(name)
        if fn is None:
            raise Fault(ErrorCode.FORBIDDEN)
        return fn(o, obj, *args, **kwargs)

    return _cm


def method_callers(o: Ops) -> dict:
    """``_cm0`` ... ``_cm3``: ``_cm`` for a call with that many positional arguments and no keyword
    (what almost every method call in a law is), as the instrumenter writes them: the same
    lookups and the same call of the method's function, without packing the arguments into a
    tuple and a dict and unpacking them again (a third of the cost of a storage read's dispatch)."""
    tables = METHODS.get

    def _cm0(obj, name):
        table = tables(type(obj))
        fn = None if table is None or type(name) is not str else table.get(name)
        if fn is None:
            raise Fault(ErrorCode.FORBIDDEN)
        return fn(o, obj)

    def _cm1(obj, name, a):
        table = tables(type(obj))
        fn = None if table is None or type(name) is not str else table.get(name)
        if fn is None:
            raise Fault(ErrorCode.FORBIDDEN)
        return fn(o, obj, a)

    def _cm2(obj, name, a, b):
        table = tables(type(obj))
        fn = None if table is None or type(name) is not str else table.get(name)
        if fn is None:
            raise Fault(ErrorCode.FORBIDDEN)
        return fn(o, obj, a, b)

    def _cm3(obj, name, a, b, c):
        table = tables(type(obj))
        fn = None if table is None or type(name) is not str else table.get(name)
        if fn is None:
            raise Fault(ErrorCode.FORBIDDEN)
        return fn(o, obj, a, b, c)

    return {"_cm0": _cm0, "_cm1": _cm1, "_cm2": _cm2, "_cm3": _cm3}


def get_attr(obj, name: str):
    """``_ga``: read an allowlisted data attribute of a host object."""
    table = ATTRS.get(type(obj))
    if table is None or type(name) is not str:
        raise Fault(ErrorCode.FORBIDDEN)
    getter = table.get(name)
    if getter is None:
        raise Fault(ErrorCode.FORBIDDEN)
    return getter(obj)
