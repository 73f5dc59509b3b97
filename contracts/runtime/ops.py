"""Guarded operators: what ``a + b``, ``a == b``, ``x[k]``, ``x.m(...)`` become.

The instrumenter replaces each operator of a contract with a call to one of
these helpers (``_add``, ``_eq``, ``_gi``, ``_cm`` ...).  Each helper

1. accepts only the value types of the subset (``int``, ``bool``, ``str``,
   ``bytes``, ``None``, ``list``, ``tuple``, ``dict``, read-only dicts,
   ``range``) and raises ``Fault(TYPE_ERROR)`` for anything else, so a
   contract can never reach a dunder method of a host object through an
   operator;
2. charges gas and logical memory for the size of the work *before* doing it
   (concatenation, repetition, big integers, comparisons of long values),
   and refuses results over the caps (``INT_TOO_LARGE``, ``VALUE_TOO_LARGE``);
3. keeps Python's meaning otherwise, except that ``bool`` is not a number
   (``True + 1`` is a TYPE_ERROR) and dict keys are ``str`` only (no hash
   flooding with colliding ints, no hashing of deep tuples in C).

Fast paths for the common ``int``/``int`` case come first.

Equality of containers is computed here, iteratively, with a depth cap,
instead of by CPython's recursive C comparison (whose recursion limit
differs between versions and depends on the host's stack).
"""

from __future__ import annotations

from types import MappingProxyType

from . import gas
from .errors import ErrorCode, Fault
from .gas import INT_LIMIT, MAX_INT_BITS, OBJECT, SLOT, ENTRY, words_of_int

FrozenDict = MappingProxyType
SCALARS = frozenset({int, bool, str, bytes, type(None)})
SEQUENCES = frozenset({list, tuple})
MAPPINGS = frozenset({dict, MappingProxyType})
INDEXABLE = frozenset({list, tuple, str, bytes, range})
_TEXT = frozenset({str, bytes})

TYPE_ERROR = ErrorCode.TYPE_ERROR
STR_INT_WORD2 = 1  # str() of a big int: gas per (64-bit words)^2 (see bench_gas_fairness)
ORDER_ELEM = 3  # ordering two lists: a Python-level type check per element (bench_gas_fairness)
CONTAINS_ELEM = 10  # ``[x] in xs``: a contract-equality call per element (bench_gas_fairness)
DEEP_EQ_ELEM = 5  # calibrated: one element of a structural comparison ~ 5 loop ticks


def char_width(s) -> int:
    """Bytes per character of a str (or bytes) in memory: 1 for ASCII/bytes, else up to 4.

    CPython stores a str with any astral character 4 bytes per character;
    the logical size counts that bound so the memory cap holds for any text.
    """
    return 1 if type(s) is bytes or s.isascii() else 4


def _type_error() -> Fault:
    return Fault(TYPE_ERROR)


SMALL = gas.SMALL_INT  # ints under this are not charged as memory


def _int_result(r: int) -> int:
    if -INT_LIMIT < r < INT_LIMIT:
        return r
    raise Fault(ErrorCode.INT_TOO_LARGE)


def is_int(x) -> bool:
    t = type(x)
    return t is int


class Ops:
    """The operator helpers of one call, sharing its meter."""

    def __init__(self, meter: gas.Meter):
        self.m = meter

    def big(self, r: int) -> int:
        """An int result: capped, and counted as memory when it is big."""
        if -SMALL < r < SMALL:
            return r
        if not -INT_LIMIT < r < INT_LIMIT:
            raise Fault(ErrorCode.INT_TOO_LARGE)
        self.m.alloc((r.bit_length() >> 3) + OBJECT)
        return r

    def freeze(self, v):
        """Module constants: lists become tuples, dicts read-only, deeply.

        Charged as it goes (every container is a new object, shared
        sub-lists are copied once per reference), with the memory limit
        applied before each copy, so ``[[0] * 3000] * 3000`` ends the call
        instead of running unmetered.
        """
        return self._freeze(v, 0)

    def _freeze(self, v, depth: int):
        t = type(v)
        if t is list or t is tuple:
            if depth >= gas.MAX_VALUE_DEPTH:
                raise Fault(ErrorCode.VALUE_TOO_LARGE)
            self.m.alloc(len(v) * SLOT + OBJECT)
            return tuple([self._freeze(x, depth + 1) for x in v])
        if t is dict:
            if depth >= gas.MAX_VALUE_DEPTH:
                raise Fault(ErrorCode.VALUE_TOO_LARGE)
            self.m.alloc(len(v) * ENTRY + OBJECT)
            return MappingProxyType({k: self._freeze(x, depth + 1) for k, x in v.items()})
        return v

    def invert(self, x):
        """``~x``: ints only; a bool is read as 0/1 (3.12 deprecates ``~True``)."""
        t = type(x)
        if t is int:
            return self.big(~x)
        if t is bool:
            return ~int(x)
        raise _type_error()

    def neg(self, x):
        if type(x) is int:
            if -SMALL < x < SMALL:
                return -x
            return self.big(-x)
        if type(x) is bool:
            return -int(x)
        raise _type_error()

    # ------------------------------------------------------------ arithmetic
    def add(self, a, b):
        if type(a) is int and type(b) is int:
            r = a + b
            if -SMALL < r < SMALL:
                return r
            return self.big(r)
        ta = type(a)
        if ta is type(b):
            if ta is str or ta is bytes:
                self.m.alloc(len(a) * char_width(a) + len(b) * char_width(b) + OBJECT)
                return a + b
            if ta is list or ta is tuple:
                self.m.alloc((len(a) + len(b)) * SLOT + OBJECT)
                return a + b
        raise _type_error()

    def iadd(self, a, b):
        if type(a) is list and type(b) is list:
            self.m.alloc(len(b) * SLOT)
            if (len(a) + len(b)) * SLOT > gas.MAX_ALLOC:
                raise Fault(ErrorCode.VALUE_TOO_LARGE)
            a.extend(b)
            return a
        return self.add(a, b)

    def sub(self, a, b):
        if type(a) is int and type(b) is int:
            r = a - b
            if -SMALL < r < SMALL:
                return r
            return self.big(r)
        raise _type_error()

    def mul(self, a, b):
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            bits = a.bit_length() + b.bit_length()
            if bits <= 128:
                return a * b
            if bits > MAX_INT_BITS + 1:
                raise Fault(ErrorCode.INT_TOO_LARGE)
            self.m.tick(words_of_int(a) * words_of_int(b) // gas.BIGMUL_DIV + 1)
            return self.big(a * b)
        if ta is int and tb in _REPEATABLE:
            a, b, ta, tb = b, a, tb, ta
        if ta in _REPEATABLE and tb is int:
            n = b if b > 0 else 0
            unit = char_width(a) if ta in _TEXT else SLOT
            if len(a) and n > gas.MAX_ALLOC:
                raise Fault(ErrorCode.VALUE_TOO_LARGE)
            self.m.alloc(len(a) * n * unit + OBJECT)
            return a * n
        raise _type_error()

    def _divlike(self, a, b):
        if type(a) is not int or type(b) is not int:
            raise _type_error()
        if a.bit_length() > 128 or b.bit_length() > 128:
            self.m.tick(words_of_int(a) * words_of_int(b) // gas.BIGMUL_DIV + 1)

    def floordiv(self, a, b):
        self._divlike(a, b)
        return self.big(a // b)

    def mod(self, a, b):
        self._divlike(a, b)  # refuses str % args (printf formatting)
        return self.big(a % b)

    def pow(self, a, b):
        if type(a) is not int or type(b) is not int:
            raise _type_error()
        if b < 0:
            raise Fault(ErrorCode.VALUE_ERROR)  # would be a float
        if a in (0, 1) or b <= 1:
            return a ** b if b else 1
        if a == -1:
            return -1 if b & 1 else 1
        low = (a.bit_length() - 1) * b + 1  # result has at least this many bits
        if low > MAX_INT_BITS:
            raise Fault(ErrorCode.INT_TOO_LARGE)
        high = a.bit_length() * b
        w = (high >> 6) + 1
        self.m.tick(w * w // gas.BIGMUL_DIV * b.bit_length() + 1)
        return self.big(a ** b)

    def lshift(self, a, b):
        if type(a) is not int or type(b) is not int:
            raise _type_error()
        if b < 0:
            raise Fault(ErrorCode.VALUE_ERROR)
        if a == 0:
            return 0
        if a.bit_length() + b > MAX_INT_BITS:
            raise Fault(ErrorCode.INT_TOO_LARGE)
        return self.big(a << b)

    def rshift(self, a, b):
        if type(a) is not int or type(b) is not int:
            raise _type_error()
        if b < 0:
            raise Fault(ErrorCode.VALUE_ERROR)
        return a >> b

    def _bits(self, a, b):
        if type(a) not in _INTLIKE or type(b) not in _INTLIKE:
            raise _type_error()

    def band(self, a, b):
        self._bits(a, b)
        return self.big(a & b)

    def bor(self, a, b):
        self._bits(a, b)
        return self.big(a | b)

    def bxor(self, a, b):
        self._bits(a, b)
        return self.big(a ^ b)

    # ------------------------------------------------------------ comparisons
    def eq(self, a, b) -> bool:
        ta, tb = type(a), type(b)
        if ta is int and tb is int:
            return a == b
        if ta is str and tb is str:  # (as below: text work, then ==)
            m = self.m
            m.left -= (min(len(a), len(b)) >> 3) * gas.WORD + 1  # m.work(min(len(a), len(b)))
            if m.left < 0:
                raise Fault(ErrorCode.OUT_OF_GAS)
            return a == b
        if ta in _COMPOUND or tb in _COMPOUND:
            return self.deep_eq(a, b)
        if ta is tb and ta in _TEXT:
            self.m.work(min(len(a), len(b)))
        return a == b

    def ne(self, a, b) -> bool:
        if type(a) is int and type(b) is int:
            return a != b
        return not self.eq(a, b)

    def deep_eq(self, a, b) -> bool:
        """Structural equality, iterative, charged per element, depth-capped."""
        stack = [(a, b, 0)]
        while stack:
            x, y, depth = stack.pop()
            tx, ty = type(x), type(y)
            if tx not in _COMPOUND and ty not in _COMPOUND:
                if tx is ty and tx in _TEXT:
                    self.m.work(min(len(x), len(y)))
                if x != y:
                    return False
                continue
            if depth >= gas.MAX_VALUE_DEPTH:
                raise Fault(ErrorCode.VALUE_TOO_LARGE)
            kx, ky = _KIND.get(tx), _KIND.get(ty)
            if kx is None or ky is None:
                if x is not y:  # functions, host objects: identity
                    return False
                continue
            if kx != ky or len(x) != len(y):
                return False
            self.m.elems(len(x) * DEEP_EQ_ELEM)  # a Python-level visit per element
            if kx == "dict":
                for k in x:
                    if k not in y:
                        return False
                    stack.append((x[k], y[k], depth + 1))
            elif kx == "range":
                if x != y:
                    return False
            else:
                stack.extend(zip(x, y, [depth + 1] * len(x)))
        return True

    def _order(self, a, b) -> None:
        ta, tb = type(a), type(b)
        if ta in _INTLIKE and tb in _INTLIKE:
            return
        if ta is tb and ta in _TEXT:
            self.m.work(min(len(a), len(b)))
            return
        if ta is tb and ta in SEQUENCES:
            n = min(len(a), len(b))
            self.m.elems(n * ORDER_ELEM)
            for x, y in zip(a, b):
                if type(x) not in SCALARS or type(y) not in SCALARS:
                    raise _type_error()
                if type(x) in _TEXT:
                    self.m.work(len(x))
            return
        raise _type_error()

    def lt(self, a, b) -> bool:
        if type(a) is int and type(b) is int:
            return a < b
        self._order(a, b)
        return a < b

    def le(self, a, b) -> bool:
        if type(a) is int and type(b) is int:
            return a <= b
        self._order(a, b)
        return a <= b

    def gt(self, a, b) -> bool:
        if type(a) is int and type(b) is int:
            return a > b
        self._order(a, b)
        return a > b

    def ge(self, a, b) -> bool:
        if type(a) is int and type(b) is int:
            return a >= b
        self._order(a, b)
        return a >= b

    def contains(self, a, b) -> bool:
        tb, ta = type(b), type(a)
        if tb is dict or tb is MappingProxyType:
            if ta is not str:
                raise _type_error()
            return a in b
        if tb is str:
            if ta is not str:
                raise _type_error()
            self.m.work(len(a) + len(b))
            return a in b
        if tb is bytes:
            if ta is bytes:
                self.m.work(len(a) + len(b))
            elif ta is not int:
                raise _type_error()
            else:
                self.m.work(len(b))
            return a in b
        if tb is list or tb is tuple:
            if ta in SCALARS:  # C compares a scalar with anything in O(len(a))
                self.m.elems(len(b) * (1 + (len(a) >> 3 if ta in _TEXT else 0)))
                return a in b
            self.m.elems(len(b) * CONTAINS_ELEM)  # a Python-level comparison per element
            for x in b:
                if self.eq(a, x):
                    return True
            return False
        if tb is range:
            if ta not in _INTLIKE:
                raise _type_error()
            return a in b
        raise _type_error()

    def notin(self, a, b) -> bool:
        return not self.contains(a, b)

    # ------------------------------------------------------------ items
    def getitem(self, x, k):
        tx = type(x)
        if tx is dict and type(k) is str:  # (the commonest: a record's field; as below)
            return x[k]
        if tx in INDEXABLE:
            if type(k) is int or type(k) is bool:
                return x[k]
            raise _type_error()
        if tx is dict or tx is MappingProxyType:
            if type(k) is str:
                return x[k]
        raise _type_error()

    def getslice(self, x, lo, hi, step):
        tx = type(x)
        if tx not in INDEXABLE:
            raise _type_error()
        for p in (lo, hi, step):
            if p is not None and type(p) not in _INTLIKE:
                raise _type_error()
        sl = slice(lo, hi, step)
        if tx is not range:
            n = len(range(*sl.indices(len(x))))
            self.m.alloc(n * (char_width(x) if tx in _TEXT else SLOT) + OBJECT)
        return x[sl]

    def setitem(self, x, k, v) -> None:
        tx = type(x)
        if tx is dict and type(k) is str and k in x:  # (a record's field replaced: no new entry, no charge)
            x[k] = v
            return
        if tx is list:
            if type(k) is int or type(k) is bool:
                x[k] = v
                return
        elif tx is dict:
            if type(k) is str:
                if k not in x:
                    if (len(x) + 1) * ENTRY > gas.MAX_ALLOC:
                        raise Fault(ErrorCode.VALUE_TOO_LARGE)
                    self.m.alloc(ENTRY)
                x[k] = v
                return
        raise _type_error()

    def delitem(self, x, k) -> None:
        tx = type(x)
        if tx is list and type(k) in _INTLIKE:
            self.m.elems(len(x) >> 3)
            del x[k]
        elif tx is dict and type(k) is str:
            del x[k]
        else:
            raise _type_error()

    def key(self, k):
        if type(k) is str:
            return k
        raise _type_error()

    def fmt(self, v) -> str:
        """An f-string field: only scalars, never a repr of an object."""
        t = type(v)
        if t is str:
            self.m.alloc(len(v) * char_width(v) + OBJECT)
            return v
        if t is int or t is bool or v is None:
            if t is int and not -SMALL < v < SMALL:
                w = words_of_int(v)
                self.m.tick(w * w * STR_INT_WORD2)  # int -> decimal is quadratic
            s = str(v)
            self.m.alloc(len(s) + OBJECT)
            return s
        raise _type_error()

    def assert_fail(self, msg) -> None:
        if type(msg) is str and not msg.isascii():
            try:
                msg.encode("utf-8")
            except UnicodeEncodeError:  # the checker refuses such literals; never reach a receipt
                raise Fault(ErrorCode.VALUE_ERROR) from None
        if type(msg) is int:
            raise Fault(ErrorCode.CONTRACT_ERROR, {"error": msg, "detail": ""})
        raise Fault(ErrorCode.CONTRACT_ERROR, {"error": 0, "detail": msg or ""})

    def iterate(self, xs, w: int, slot: int):
        """Comprehension source: one tick (and ``slot`` memory) per element.

        A comprehension is a frame of its own (on 3.11; 3.12 inlines it), so
        it counts toward ``MAX_CALL_DEPTH`` like a function call, on every
        version alike: the depth a contract can reach never depends on the
        interpreter's own limit.
        """
        if type(xs) not in ITERABLE:
            raise _type_error()
        m = self.m
        m.depth += 1
        try:
            if m.depth > gas.MAX_CALL_DEPTH:
                raise Fault(ErrorCode.RECURSION_LIMIT)
            for x in xs:
                m.left -= w
                if m.left < 0:
                    raise Fault(ErrorCode.OUT_OF_GAS)
                if slot:
                    m.mem += slot
                    if m.mem > gas.MEMORY_LIMIT:
                        raise Fault(ErrorCode.MEMORY_LIMIT)
                yield x
        finally:
            m.depth -= 1


_INTLIKE = frozenset({int, bool})
_REPEATABLE = frozenset({str, bytes, list, tuple})
_COMPOUND = frozenset({list, tuple, dict, MappingProxyType, range})
_KIND = {list: "list", tuple: "tuple", dict: "dict", MappingProxyType: "dict", range: "range"}
ITERABLE = frozenset(
    {list, tuple, dict, MappingProxyType, range, str, bytes, enumerate, zip}
)
