"""The deterministic library: a contract's whole ``__builtins__``.

Every function here is either O(1) on the subset's values or charges for the
size of its input *before* looping or allocating in C.  Iterables are
materialised through :meth:`Library.items`, which charges per element (so a
lazy ``zip``/``enumerate``/``range`` can never drive an uncharged C loop).

Money helpers work on integers (fen) and always name their rounding:

``div_round(a, b, rounding)``
    ``a / b`` rounded; ``mul_div(a, b, c, rounding)`` is ``a * b / c`` computed
    exactly, then rounded once; ``percent_of(x, p)`` is ``mul_div(x, p, 100)``
    and ``bps_of(x, bp)`` is ``mul_div(x, bp, 10_000)``.

Rounding modes (``ROUNDING``): ``down`` (toward zero), ``up`` (away from
zero), ``floor``, ``ceiling``, ``half_up`` (ties away from zero),
``half_down`` (ties toward zero), ``half_even`` (ties to even).  The default
of every helper is ``down``: a citizen is never charged a fraction of a fen
the law did not ask for.

Dates are derived from block time (UTC seconds) with Howard Hinnant's
integer algorithms for the proleptic Gregorian calendar.

Dated parameter tables (what every law's ``PARAMS`` is): ``{name: {"label":
str, "unit": str, "reference": str, "values": ((since, value), ...)}}`` with
``since`` a date written as the integer YYYYMMDD, increasing.
``is_date(d)`` says whether ``d`` is such a date; ``param_in_force(params,
name, on)`` is the ``[since, value]`` in force on date ``on`` (the last one
listed whose ``since <= on``) and ``param_value`` its value; both end the
call like ``fail(4, ...)`` (``PARAM_ERROR``, every law's ``E_NO_PARAMETER``)
when the name is unknown or no value holds yet.  ``check_param_table(params,
schema, fields, check)`` returns every generic way a table breaks its
schema, in a fixed order with fixed wording, and asks the law's own
``check(kind, value) -> str`` about each dated value.
"""

from __future__ import annotations

from types import FunctionType, MappingProxyType

import blake3

from . import gas
from .errors import ErrorCode, Fault
from .gas import ENTRY, OBJECT, SLOT
from .ops import ITERABLE, SCALARS, Ops

ROUNDING = ("down", "up", "floor", "ceiling", "half_up", "half_down", "half_even")
_ROUNDING = frozenset(ROUNDING)
_INTLIKE = (int, bool)
_TEXT = (str, bytes)
_SIZED = frozenset({list, tuple, dict, MappingProxyType, range, str, bytes})
_MAPS = (dict, MappingProxyType)
_SEQS = (list, tuple)
_KINDS = {list: "list", tuple: "tuple", dict: "dict", MappingProxyType: "dict", bytes: "bytes"}

DATE_CALL = 30  # a date helper: ~20 integer operations in Python (bench_gas_fairness)
MONEY_CALL = 4  # mul_div / div_round: exact rounding in Python
KEY_ELEM = 2  # gas per element of list keys checked before sorted/min/max compare them
PARAM_ERROR = 4  # param_in_force/param_value fail with this code (every law's E_NO_PARAMETER)
FIRST_SINCE = 19000101  # earliest ``since`` date of a parameter table (catches dropped digits)


def _need(cond: bool, code: ErrorCode = ErrorCode.TYPE_ERROR) -> None:
    if not cond:
        raise Fault(code)


def _int(*xs) -> None:
    for x in xs:
        if type(x) is not int:
            raise Fault(ErrorCode.TYPE_ERROR)


def div_round_exact(n: int, d: int, rounding: str) -> int:
    """``n / d`` rounded by ``rounding``, in exact integer arithmetic."""
    if d == 0:
        raise Fault(ErrorCode.ZERO_DIVISION)
    q, r = divmod(n, d)  # floor quotient; n/d = q + r/d with 0 <= r/d < 1
    if r == 0:
        return q
    negative = (n < 0) != (d < 0)
    if rounding == "floor":
        return q
    if rounding == "ceiling":
        return q + 1
    if rounding == "down":
        return q + 1 if negative else q
    if rounding == "up":
        return q if negative else q + 1
    twice, ad = 2 * abs(r), abs(d)
    if twice < ad:
        return q
    if twice > ad:
        return q + 1
    if rounding == "half_up":
        return q + 1 if q >= 0 else q
    if rounding == "half_down":
        return q if q >= 0 else q + 1
    if rounding == "half_even":
        return q if q % 2 == 0 else q + 1
    raise Fault(ErrorCode.VALUE_ERROR)


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date."""
    _int(y, m, d)
    _need(1 <= y <= 9999 and 1 <= m <= 12 and 1 <= d <= _days_in_month(y, m), ErrorCode.VALUE_ERROR)
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> list:
    """``[year, month, day]`` of a day count since 1970-01-01."""
    _int(z)
    _need(-719162 <= z <= 2932896, ErrorCode.VALUE_ERROR)  # years 1..9999
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return [y + (m <= 2), m, d]


_last_day: tuple = (None, 0, 0, 0)  # (day number, year, month, day) of the last date_of (f_date_of)


def _days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and y % 100 != 0) or y % 400 == 0 else 28
    return 30 if m in (4, 6, 9, 11) else 31


def is_date(d) -> bool:
    """Whether ``d`` is an int YYYYMMDD naming a real day of years 1..9999."""
    if type(d) is not int or not 10101 <= d <= 99991231:
        return False
    y, md = divmod(d, 10000)
    m, day = divmod(md, 100)
    return 1 <= m <= 12 and 1 <= day <= _days_in_month(y, m)


def _show(v) -> str:
    """A value inside a problem text: scalars as ``str()`` does, containers by kind."""
    t = type(v)
    if t is str:
        return v
    if t is int or t is bool or v is None:
        return str(v)
    return "<" + _KINDS.get(t, "value") + ">"


class Library:
    """The library functions of one call (they share its meter)."""

    def __init__(self, ops: Ops):
        self.o = ops
        self.m = ops.m

    def namespace(self) -> dict:
        from .names import LIBRARY_NAMES

        out = {}
        for name in LIBRARY_NAMES:
            out[name] = getattr(self, "f_" + name)
        return out

    # ------------------------------------------------------------ plumbing
    def items(self, xs, extra: int = 0) -> list | tuple | range | str | bytes:
        """A sized, finite view of ``xs``, charged per element."""
        t = type(xs)
        if t in _SIZED:
            try:
                n = len(xs)
            except OverflowError:
                raise Fault(ErrorCode.INT_TOO_LARGE) from None
            self.m.elems(n)
            if t is dict or t is MappingProxyType:
                self.m.alloc(n * SLOT + OBJECT)
                return tuple(xs)
            return xs
        _need(t in ITERABLE)
        out = []
        for x in xs:  # enumerate/zip over finite inputs
            self.m.alloc(SLOT + extra)
            out.append(x)
        return out

    def _keys(self, seq, key):
        """Sort keys: computed by ``key`` (contract code, metered) and checked.

        Returns the keys and their *width*: the most elements (or 8-byte
        words of text) a comparison of two keys may visit in C.  Callers
        charge ``width`` per comparison; the check walk itself is charged
        per element before it runs.
        """
        if key is not None:
            self.m.alloc(len(seq) * SLOT + OBJECT)
            keys = [key(x) for x in seq]
        else:
            keys = seq
        total = len(keys)  # a Python-level check per key, and per element of list keys
        for k in keys:
            if type(k) in (list, tuple):
                total += len(k)
        self.m.elems(total * KEY_ELEM)
        kind = None
        width = 1
        for k in keys:
            t = type(k)
            if t in (list, tuple):
                w = len(k)
                for e in k:
                    _need(type(e) in SCALARS)
                    if type(e) in _TEXT:
                        self.m.work(len(e))
                        w += len(e) >> 3
                c = t
            else:
                _need(t in SCALARS and k is not None)
                if t in _TEXT:
                    self.m.work(len(k))
                    w = (len(k) >> 3) + 1
                elif t is int and not -gas.SMALL_INT < k < gas.SMALL_INT:
                    w = gas.words_of_int(k)
                else:
                    w = 1
                c = int if t is bool else t
            if w > width:
                width = w
            if kind is None:
                kind = c
            _need(c is kind)
        return keys, width

    # ------------------------------------------------------------ containers
    def f_len(self, x) -> int:
        _need(type(x) in _SIZED)
        try:
            return len(x)
        except OverflowError:
            raise Fault(ErrorCode.INT_TOO_LARGE) from None

    def f_range(self, *args) -> range:
        _need(1 <= len(args) <= 3)
        _int(*args)
        return range(*args)

    def f_list(self, xs=()) -> list:
        seq = self.items(xs)
        self.m.alloc(len(seq) * SLOT + OBJECT)
        return list(seq)

    def f_tuple(self, xs=()) -> tuple:
        seq = self.items(xs)
        self.m.alloc(len(seq) * SLOT + OBJECT)
        return tuple(seq)

    def f_dict(self, pairs=None, **kw) -> dict:
        out: dict = {}
        if pairs is not None:
            if type(pairs) in (dict, MappingProxyType):
                self.m.alloc(len(pairs) * ENTRY + OBJECT)
                out.update(pairs)
            else:
                for p in self.items(pairs):
                    _need(type(p) in (list, tuple) and len(p) == 2)
                    self.o.setitem(out, p[0], p[1])
        for k, v in kw.items():
            self.o.setitem(out, k, v)
        return out

    def f_str(self, x) -> str:
        return self.o.fmt(x)

    def f_int(self, x, base: int = 10) -> int:
        t = type(x)
        if t is int or t is bool:
            return int(x)
        _need(t is str and type(base) is int)
        _need(x.isascii() and 2 <= base <= 36 and len(x) <= gas.MAX_INT_DIGITS, ErrorCode.VALUE_ERROR)
        w = len(x) // 8 + 1
        self.m.tick(w * w)
        try:
            v = int(x, base)
        except ValueError:
            raise Fault(ErrorCode.VALUE_ERROR) from None
        if not -gas.INT_LIMIT < v < gas.INT_LIMIT:
            raise Fault(ErrorCode.INT_TOO_LARGE)
        return v

    def f_bool(self, x) -> bool:
        return bool(x)

    def f_sorted(self, xs, *, key=None, reverse: bool = False) -> list:
        _need(type(reverse) is bool)
        seq = self.items(xs)
        n = len(seq)
        self.m.elems(n * max(n.bit_length(), 1))
        self.m.alloc(n * SLOT + OBJECT)
        keys, width = self._keys(seq, key)
        if width > 1:  # each comparison may visit ``width`` elements in C
            self.m.elems(n * max(n.bit_length(), 1) * (width - 1))
        order = sorted(range(n), key=keys.__getitem__, reverse=reverse)
        return [seq[i] for i in order]

    def f_reversed(self, xs) -> list:
        seq = self.items(xs)
        self.m.alloc(len(seq) * SLOT + OBJECT)
        return list(reversed(seq))

    def _best(self, args, key, pick):
        seq = self.items(args[0]) if len(args) == 1 else args
        _need(len(args) >= 1)
        if not len(seq):
            raise Fault(ErrorCode.VALUE_ERROR)
        keys, width = self._keys(seq, key)
        n = len(keys)
        self.m.elems(n * width)
        return seq[pick(range(n), key=keys.__getitem__)]  # the first best, as a strict comparison finds it

    def f_min(self, *args, key=None):
        if len(args) == 2 and key is None and type(args[0]) is int and type(args[1]) is int:
            return args[0] if args[0] <= args[1] else args[1]
        return self._best(args, key, min)

    def f_max(self, *args, key=None):
        if len(args) == 2 and key is None and type(args[0]) is int and type(args[1]) is int:
            return args[0] if args[0] >= args[1] else args[1]
        return self._best(args, key, max)

    def f_sum(self, xs, start: int = 0) -> int:
        seq = self.items(xs)
        _int(start)
        self.m.elems(len(seq))
        for x in seq:
            _int(x)
        return self.o.add(sum(seq, start), 0)

    def f_abs(self, x) -> int:
        _int(x)
        return abs(x)

    def f_any(self, xs) -> bool:
        return any(self.items(xs))

    def f_all(self, xs) -> bool:
        return all(self.items(xs))

    def f_enumerate(self, xs, start: int = 0):
        _need(type(xs) in ITERABLE)
        _int(start)
        return enumerate(xs, start)

    def f_zip(self, *xs):
        for x in xs:
            _need(type(x) in ITERABLE)
        return zip(*xs)

    # ------------------------------------------------------------ type checks
    def f_is_int(self, x) -> bool:
        return type(x) is int

    def f_is_str(self, x) -> bool:
        return type(x) is str

    def f_is_bytes(self, x) -> bool:
        return type(x) is bytes

    def f_is_bool(self, x) -> bool:
        return type(x) is bool

    def f_is_list(self, x) -> bool:
        return type(x) is list

    def f_is_dict(self, x) -> bool:
        return type(x) is dict or type(x) is MappingProxyType

    def f_is_tuple(self, x) -> bool:
        return type(x) is tuple

    def f_is_none(self, x) -> bool:
        return x is None

    # ------------------------------------------------------------ money
    def _rounding(self, rounding) -> str:
        if type(rounding) is not str:
            raise Fault(ErrorCode.TYPE_ERROR)
        if rounding not in _ROUNDING:
            raise Fault(ErrorCode.VALUE_ERROR)
        return rounding

    def f_div_round(self, a: int, b: int, rounding: str = "down") -> int:
        _int(a, b)
        self.m.tick(MONEY_CALL)
        self.o.floordiv(a, 1)  # charge for big operands
        return div_round_exact(a, b, self._rounding(rounding))

    def f_mul_div(self, a: int, b: int, c: int, rounding: str = "down") -> int:
        if type(a) is not int or type(b) is not int or type(c) is not int:
            raise Fault(ErrorCode.TYPE_ERROR)
        self.m.tick(MONEY_CALL)
        rounding = self._rounding(rounding)
        return self.o.add(div_round_exact(self.o.mul(a, b), c, rounding), 0)

    def f_percent_of(self, amount: int, percent: int, rounding: str = "down") -> int:
        return self.f_mul_div(amount, percent, 100, rounding)

    def f_bps_of(self, amount: int, bps: int, rounding: str = "down") -> int:
        return self.f_mul_div(amount, bps, 10_000, rounding)

    def f_clamp(self, x: int, lo: int, hi: int) -> int:
        _int(x, lo, hi)
        _need(lo <= hi, ErrorCode.VALUE_ERROR)
        return lo if x < lo else hi if x > hi else x

    # ------------------------------------------------------------ dates
    def f_days_from_civil(self, y: int, m: int, d: int) -> int:
        self.m.tick(DATE_CALL)
        return days_from_civil(y, m, d)

    def f_civil_from_days(self, z: int) -> list:
        self.m.tick(DATE_CALL)
        return civil_from_days(z)

    def f_date_of(self, t: int) -> list:
        """``[year, month, day]`` (UTC) of a block time in seconds.

        The last day asked is remembered (a pure function of the day; every call of a block asks
        the same one): a new list of the same three ints, after the same charge and checks.
        """
        global _last_day
        self.m.tick(DATE_CALL)
        if type(t) is not int:  # _int(t)
            raise Fault(ErrorCode.TYPE_ERROR)
        z = t // 86400
        last = _last_day
        if last[0] == z:
            return [last[1], last[2], last[3]]
        ymd = civil_from_days(z)
        _last_day = (z, ymd[0], ymd[1], ymd[2])
        return ymd

    def f_time_of(self, y: int, m: int, d: int) -> int:
        """Block time (UTC seconds) of midnight starting a date."""
        self.m.tick(DATE_CALL)
        return days_from_civil(y, m, d) * 86400

    # ------------------------------------------------------------ dated parameters
    def f_is_date(self, d) -> bool:
        return is_date(d)

    def _in_force(self, params, name, on) -> list:
        """The pair in force (the table's own object); charged per dated value.

        (The checks are written inline, in the order and with the codes of ``_need``/``_int``:
        a law looks up a parameter or two in every call.)
        """
        if (type(params) is not dict and type(params) is not MappingProxyType) or type(name) is not str \
                or type(on) is not int:
            raise Fault(ErrorCode.TYPE_ERROR)
        m = self.m
        m.left -= gas.PARAM_ROW + (len(name) >> 3) * gas.WORD + 1  # m.tick(PARAM_ROW); m.work(len(name))
        if m.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)
        if name not in params:
            raise Fault(ErrorCode.CONTRACT_ERROR, {"error": PARAM_ERROR, "detail": "unknown parameter"})
        entry = params[name]
        if type(entry) is not dict and type(entry) is not MappingProxyType:
            raise Fault(ErrorCode.TYPE_ERROR)
        values = entry.get("values")
        if type(values) is not tuple and type(values) is not list:
            raise Fault(ErrorCode.TYPE_ERROR)
        m.tick(len(values) * gas.PARAM_VALUE)
        found = None
        for pair in values:
            tp = type(pair)
            if (tp is not tuple and tp is not list) or len(pair) != 2 or type(pair[0]) is not int:
                raise Fault(ErrorCode.TYPE_ERROR)
            if pair[0] <= on:
                found = pair
        if found is None:
            raise Fault(ErrorCode.CONTRACT_ERROR, {"error": PARAM_ERROR, "detail": "no value in force on that date"})
        return found

    def f_param_in_force(self, params, name: str, on: int) -> list:
        """``[since, value]`` of parameter ``name`` in force on date ``on``."""
        found = self._in_force(params, name, on)
        self.m.alloc(2 * SLOT + OBJECT)
        return [found[0], found[1]]

    def f_param_value(self, params, name: str, on: int):
        """The value of parameter ``name`` in force on date ``on``."""
        return self._in_force(params, name, on)[1]

    def f_check_param_table(self, params, schema, fields, check=None) -> list:
        """Every generic way ``params`` breaks ``schema``; ``[]`` if none.

        ``schema`` maps each name to ``(kind, unit)``; ``fields`` are the
        fields every entry must have, no more, no fewer.  In this order, for
        each name: missing parameters (in schema order); then for each entry
        (in table order): unknown parameter, not a dict, unknown fields,
        missing fields, wrong unit, empty label/reference, values not a
        non-empty sequence, an item not a pair, a ``since`` that is not a
        date from 1900-01-01 or does not increase, and what
        ``check(kind, value)`` (a function of the contract, "" when the
        value is fine) says of each value.  Inputs are snapshotted before
        ``check`` runs, so ``check`` cannot disturb the walk.
        """
        m = self.m
        _need(type(schema) in _MAPS and type(fields) in _SEQS)
        _need(check is None or type(check) is FunctionType)
        m.tick(len(fields) * gas.PARAM_VALUE)
        # Everything the walk relies on is copied before ``check`` can run
        # (``check`` may be handed an alias of ``schema`` or ``fields``).
        fields = tuple(fields)
        size = 0
        for f in fields:
            _need(type(f) is str)
            size += len(f) + 2
        m.alloc(len(fields) * (ENTRY + SLOT) + 2 * size + OBJECT)
        known = dict.fromkeys(fields)  # membership by (salted) str hash: O(len(field))
        out: list = []
        if type(params) not in _MAPS:
            self._say(out, "parameters must be a dict")
            return out
        specs = self._param_specs(params, schema, out)
        entries = tuple(params.items())
        m.alloc(len(entries) * SLOT + OBJECT)
        for name, entry in entries:
            _need(type(name) is str)
            m.tick(gas.PARAM_ROW)
            m.work(len(name))
            if name not in specs:
                self._say(out, name, ": unknown parameter")
            elif type(entry) not in _MAPS:
                self._say(out, name, ": must be a dict of ", ", ".join(fields))
            elif self._param_entry(name, entry, specs[name][1], fields, known, size, out):
                self._param_values(name, specs[name][0], entry["values"], check, out)
        return out

    def _param_specs(self, params, schema, out: list) -> dict:
        """``schema``'s ``name -> (kind, unit)``, checked; each schema name missing from ``params`` said."""
        m = self.m
        names = self.items(schema)
        m.tick(len(names) * gas.PARAM_ROW)
        m.alloc(len(names) * ENTRY + OBJECT)
        specs = {}
        for name in names:
            spec = schema[name]
            _need(type(name) is str and type(spec) in _SEQS and len(spec) == 2 and type(spec[1]) is str)
            specs[name] = (spec[0], spec[1])
            m.work(len(name))
            if name not in params:
                self._say(out, name, ": missing")
        return specs

    def _param_entry(self, name: str, entry, unit: str, fields: tuple, known: dict, size: int, out: list) -> bool:
        """An entry's fields, unit, label and reference; True when its ``values`` can be walked."""
        m = self.m
        keys = tuple(entry)
        m.alloc(len(keys) * SLOT + OBJECT)
        m.tick((len(keys) + len(fields)) * gas.PARAM_VALUE)
        m.work(size)
        for field in keys:
            _need(type(field) is str)
            m.work(len(field))
            if field not in known:
                self._say(out, name, ".", field, ": unknown field")
        for field in fields:
            if field not in entry:
                self._say(out, name, ".", field, ": missing")
        if "unit" in entry:
            u = entry["unit"]
            if type(u) is str:
                m.work(min(len(u), len(unit)))
            if type(u) is not str or u != unit:
                self._say(out, name, ".unit: must be ", unit)
        for field in ("label", "reference"):
            if field in entry and (type(entry[field]) is not str or len(entry[field]) == 0):
                self._say(out, name, ".", field, ": must be a non-empty str")
        values = entry.get("values")
        if type(values) not in _SEQS or len(values) == 0:
            self._say(out, name, ".values: must be a non-empty sequence of (since, value)")
            return False
        return True

    def _param_values(self, name: str, kind, values, check, out: list) -> None:
        """Each ``(since, value)``: a date from 1900, increasing, and what the law's ``check`` says."""
        m = self.m
        pairs = tuple(values)
        m.alloc(len(pairs) * SLOT + OBJECT)
        m.tick(len(pairs) * gas.PARAM_VALUE)
        previous = 0
        for pair in pairs:
            if type(pair) not in _SEQS or len(pair) != 2:
                self._say(out, name, ".values: each item must be (since, value)")
                continue
            since, value = pair[0], pair[1]
            if not is_date(since) or since < FIRST_SINCE:
                self._say(out, name, ".values: ", _show(since), " is not a date YYYYMMDD")
            elif since <= previous:
                self._say(out, name, ".values: dates must increase")
            else:
                previous = since
            if check is not None:
                why = check(kind, value)
                _need(type(why) is str)
                if why:
                    self._say(out, name, ".values[", _show(since), "]: ", why)

    def _say(self, out: list, *parts: str) -> None:
        """Append one problem text, charged for its size before it is built."""
        self.m.alloc(sum(len(p) for p in parts) + OBJECT + SLOT)
        out.append("".join(parts))

    # ------------------------------------------------------------ bytes
    def f_hex_of(self, b: bytes) -> str:
        _need(type(b) is bytes)
        self.m.alloc(2 * len(b) + OBJECT)
        return b.hex()

    def f_digest(self, data) -> bytes:
        """BLAKE3-256 of bytes (or of a str's UTF-8)."""
        if type(data) is str:
            data = data.encode("utf-8")
        _need(type(data) is bytes)
        self.m.work(len(data) * 4)
        return blake3.blake3(data).digest()

    def f_draw(self, seed: bytes, label: str, n: int) -> int:
        """A uniform integer in ``[0, n)`` derived from ``seed`` and ``label``.

        Use a beacon value as the seed; the label separates draws.  Counter-mode
        BLAKE3 with rejection sampling, so the result is exactly uniform.
        """
        _need(type(seed) is bytes and type(label) is str)
        _int(n)
        _need(1 <= n <= 1 << 64, ErrorCode.VALUE_ERROR)
        self.m.work(len(seed) + len(label))
        base = blake3.blake3(seed + b"\x00" + label.encode("utf-8")).digest()
        limit = (1 << 128) - (1 << 128) % n
        for counter in range(64):
            self.m.tick(20)
            v = int.from_bytes(blake3.blake3(base + counter.to_bytes(4, "big")).digest()[:16], "big")
            if v < limit:
                return v % n
        raise Fault(ErrorCode.VALUE_ERROR)  # pragma: no cover - probability < 2**-64
