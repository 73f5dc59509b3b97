"""The host API as a contract sees it, over a write-buffering overlay.

Each contract frame (one entry/view invocation, top-level or through
``call()``) gets fresh globals holding:

``ctx``
    ``ctx.sender`` (transaction signer), ``ctx.caller`` (the signer, or the
    calling contract's address), ``ctx.this`` (this contract's address),
    ``ctx.height``, ``ctx.time``; methods ``ctx.has_role(addr, role)``, ``ctx.role_holders(role)``,
    ``ctx.account_kind(addr)``,
    ``ctx.balance(addr)``, ``ctx.transfer(frm, to, amount)``,
    ``ctx.address_of(contract)``.
``storage``
    this contract's own storage: ``get(key, default=None)``, ``set(key,
    value)``, ``delete(key)``, ``has(key)``.
``state``
    ``state.read(contract, key, default=None)``: any contract's storage,
    read-only (all contract state on this ledger is public).
``emit(name, data)``, ``call(contract, function, args=None)``,
``fail(code, detail="")``, ``beacon(height)``.

The objects have ``__slots__`` and no dunder behaviour of their own; their
only attribute holds the frame and starts with ``_``, which contracts cannot
name.  Their attributes and methods are reachable only through the
allowlist in ``methods.py`` (registered at the bottom of this module).

Every value crossing into storage, events, call arguments or results is
converted to canonical data (:func:`to_wire`: tuples become lists,
read-only dicts become dicts; anything else is NOT_ENCODABLE) and re-decoded
into fresh objects, so no reference is ever shared between frames or kept
across calls.  Host exceptions are not contract failures: they are wrapped
in :class:`HostFailure` and end the call as a ``SandboxBreach``.
"""

from __future__ import annotations

import threading
from types import MappingProxyType
from typing import Any, Protocol

import msgpack

from ledger import codec

from . import gas, methods
from .errors import ErrorCode, Fault
from .host import Effects, Event, Host


class Machine(Protocol):
    """What a frame needs of the executor's machine (no import of the executor:
    ``executor`` imports this module, never the other way round)."""

    host: Host
    meter: gas.Meter
    overlay: "Overlay"
    sender: str
    height: int

    def source_of(self, name: str) -> str | None: ...

    def call_contract(self, frame: "Frame", name: str, function: str, args: Any) -> Any: ...

MAX_KEY_BYTES = 128
MAX_VALUE_BYTES = 64 * 1024
MAX_CONTRACT_STORAGE = 16 * 1024 * 1024
MAX_EVENT_BYTES = 16 * 1024
# Where a law event's data and a transaction's result sit in a block's receipts list, as codec.decode
# counts depth (ledger/block.py derives them; the runtime stays free of ledger.block and its crypto):
# the data may nest MAX_DEPTH - EVENT_DATA_AT levels, the result MAX_DEPTH - RESULT_AT.
# tests/contracts/test_receipt_depth.py holds them equal to ledger.block's.
EVENT_DATA_AT = 4
RESULT_AT = 2
MAX_EVENT_NAME = 64
MAX_DETAIL = 256
MAX_AMOUNT = 2**63 - 1
MAX_HOST_TEXT = 256  # characters of an address, role or contract name handed to the host
WIRE_NODE = 2  # gas per value copied across a boundary (walk + encode), see bench_gas_fairness
DECODE_ELEM = 2  # gas per element of a value read from storage (decode + checks + measure)
READ_MEMO = 64  # storage answers remembered per call (Overlay.reads)
DECODE_CONTAINER = 6  # ... and more per list or dict among them (a new object, a recursion)


class HostFailure(BaseException):
    """The host raised; the call cannot have a deterministic result."""


def host_call(fn, *args):
    try:
        return fn(*args)
    except Fault:
        raise
    except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
        raise HostFailure(type(e).__name__) from e


def text_ok(s: str) -> bool:
    """Whether ``s`` is valid Unicode text (no lone surrogate): UTF-8 encodable."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def host_text(meter: gas.Meter, s: Any, limit: int = MAX_HOST_TEXT) -> bool:
    """Check a str bound for the host: charged per character; False if over ``limit``.

    A lone surrogate (not valid text) is a VALUE_ERROR here, so no host code
    ever sees one (it would raise ``UnicodeEncodeError`` there: a breach).
    """
    if type(s) is not str:
        raise Fault(ErrorCode.TYPE_ERROR)
    n = len(s)
    if n > limit:
        return False
    if s.isascii():
        meter.work(n)
    else:
        meter.work(n * 4)
        if not text_ok(s):
            raise Fault(ErrorCode.VALUE_ERROR)
    return True


_WORD = gas.WORD
_NUMS = frozenset({int, bool, type(None)})  # scalars a copy charges nothing for
_FLAT = _NUMS | {str}

# The key sets of dicts copied before (a law builds its events and records with the same keys
# every call): for str keys, all ASCII, the work each key is charged (in the dict's order), their
# sum, and the sorted order (None when already sorted); False for any other key set (not kept).
# Bounded in entries and in the keys' length.
_SHAPES: dict[tuple, Any] = {}
SHAPES = 1024
SHAPE_KEYS = 64  # dicts of more keys are walked key by key
SHAPE_CHARS = 2048  # key sets longer in all are not kept (at most ~2 MiB of keys kept)


def _shape(keys: tuple) -> Any:
    s = _SHAPES.get(keys)
    if s is None:
        if not all(type(k) is str and k.isascii() for k in keys):
            return False  # (not kept: the walk key by key says what is wrong)
        kc = tuple((len(k) >> 3) * _WORD + 1 for k in keys)
        srt = sorted(keys)
        s = ((keys, kc), sum(kc), None if list(keys) == srt else tuple(srt))
        if sum(map(len, keys)) <= SHAPE_CHARS:  # what is kept stays small (keys can be long)
            if len(_SHAPES) >= SHAPES:
                _SHAPES.clear()
            _SHAPES[keys] = s
    return s


def _text_charge(vals) -> int | None:
    """The summed ``m.work(len(x))`` charge of the str values among ``vals`` (scalars and text),
    in one pass; None if one is not ASCII (then the caller walks value by value)."""
    sc = 0
    for x in vals:
        if type(x) is str:
            if not x.isascii():
                return None
            sc += (len(x) >> 3) * _WORD + 1
    return sc


def _plain(m: gas.Meter, v: Any, depth: int) -> Any:
    """A canonical-data copy of ``v``, charged node by node *before* each copy.

    Shared sub-lists (``[[0] * 1000] * 1000``) are visited once per
    reference, and each visit is paid for as it happens, with the memory
    limit applied as it goes: the encoder never expands more than was paid.

    Within one container the gas of its own scalar elements (``elems`` for
    the container, ``work`` for each str) is summed and ticked once, before
    anything else that could fail or charge (a nested container, a key that
    is not str, an element that is not text): ticks only subtract, so a run
    of them ticked as one sum leaves the same gas and fails (OUT_OF_GAS)
    exactly when one of them would have, with nothing in between that could
    fail otherwise.  The charges are those of ``work``/``elems`` one by one.
    """
    if depth > codec.MAX_DEPTH:
        raise Fault(ErrorCode.NOT_ENCODABLE)
    t = type(v)
    if v is None or t is bool or t is int:
        return v
    if t is str:
        n = len(v)
        if v.isascii():
            m.work(n)
        else:
            m.work(4 * n)
            if not text_ok(v):
                raise Fault(ErrorCode.NOT_ENCODABLE)
        return v
    if t is bytes:
        m.work(len(v))
        return v
    # Containers: scalar elements are handled inline, exactly as the call
    # ``_plain(m, x, depth + 1)`` would (same charges, same order), when that
    # depth is allowed; otherwise the call raises at the first element.
    d = depth + 1
    inline = d <= codec.MAX_DEPTH
    if t is list or t is tuple:
        n = len(v)
        m.reserve(n * gas.SLOT + gas.OBJECT)  # the transient copy: memory now, gas per element
        pending = n * WIRE_NODE * gas.ELEM + 1  # m.elems(n * WIRE_NODE), ticked with what follows
        if not inline:
            m.tick(pending)
            return [_plain(m, x, d) for x in v]
        types = set(map(type, v))
        if types <= _NUMS:  # no element charges
            m.tick(pending)
            return list(v)
        if types <= _FLAT:  # scalars and text: one tick of the same sum
            sc = _text_charge(v)
            if sc is not None:
                m.tick(pending + sc)
                return list(v)
        out_l = []
        for x in v:
            tx = type(x)
            if tx is int or tx is bool or x is None:
                out_l.append(x)
            elif tx is str and x.isascii():
                pending += (len(x) >> 3) * _WORD + 1  # m.work(len(x))
                out_l.append(x)
            else:
                if pending:
                    m.tick(pending)
                    pending = 0
                out_l.append(_plain(m, x, d))
        if pending:
            m.tick(pending)
        return out_l
    if t is dict or t is MappingProxyType:
        n = len(v)
        nb = n * gas.ENTRY + gas.OBJECT  # m.reserve(nb), inline
        if nb > gas.MAX_ALLOC:
            raise Fault(ErrorCode.VALUE_TOO_LARGE)
        m.mem += nb
        if m.mem > gas.MEMORY_LIMIT:
            raise Fault(ErrorCode.MEMORY_LIMIT)
        pending = n * WIRE_NODE * gas.ELEM + 1  # m.elems(n * WIRE_NODE) (the encoder sorts the keys in C)
        out = {}
        if inline and 0 < n <= SHAPE_KEYS:
            keys = tuple(v)
            shape = _SHAPES.get(keys)
            if shape is None:
                shape = _shape(keys)
        else:
            shape = False
        if shape:  # str keys, all ASCII: their charges and order known from an earlier dict of these keys
            kc, ksum, order = shape
            vals = list(v.values())
            types = set(map(type, vals))
            if types <= _NUMS:  # no value charges: the elems and every key's work, one tick
                m.tick(pending + ksum)
                return dict(v) if order is None else {k: v[k] for k in order}
            if types <= _FLAT:  # scalars and text: nothing can fail but the gas, so one tick of the same sum
                sc = _text_charge(vals)
                if sc is not None:
                    m.tick(pending + ksum + sc)
                    return dict(v) if order is None else {k: v[k] for k in order}
            for k, x, kw in zip(kc[0], vals, kc[1]):  # each value, then its key, as below
                tx = type(x)
                if tx is str and x.isascii():
                    pending += (len(x) >> 3) * _WORD + 1  # m.work(len(x))
                elif tx is int or x is None or tx is bool:
                    pass
                else:
                    if pending:
                        m.tick(pending)
                        pending = 0
                    x = _plain(m, x, d)
                pending += kw  # m.work(len(k))
                out[k] = x
            if pending:
                m.tick(pending)
            return out if order is None else {k: out[k] for k in order}
        if inline:
            for k, x in v.items():  # walked (and charged) in the value's own order: each value, then its key
                if type(k) is not str:
                    if pending:
                        m.tick(pending)
                    raise Fault(ErrorCode.NOT_ENCODABLE)
                tx = type(x)
                if tx is str and x.isascii():
                    pending += (len(x) >> 3) * _WORD + 1  # m.work(len(x))
                elif tx is int or x is None or tx is bool:
                    pass
                else:
                    if pending:
                        m.tick(pending)
                        pending = 0
                    x = _plain(m, x, d)
                if k.isascii():
                    pending += (len(k) >> 3) * _WORD + 1  # m.work(len(k))
                else:
                    if pending:
                        m.tick(pending)
                        pending = 0
                    k = _plain(m, k, d)
                out[k] = x
        else:
            m.tick(pending)
            pending = 0
            for k, x in v.items():
                if type(k) is not str:
                    raise Fault(ErrorCode.NOT_ENCODABLE)
                x = _plain(m, x, d)  # over the depth limit: raises
                out[_plain(m, k, d)] = x
        if pending:
            m.tick(pending)
        if n > 1:
            keys = list(out)
            if keys != sorted(keys):  # canonical order: str order is UTF-8 byte order
                return dict(sorted(out.items()))  # keys are unique: values are never compared
        return out
    raise Fault(ErrorCode.NOT_ENCODABLE)


_packers = threading.local()
PACKER_KEEP = 64 << 10  # bytes: a packer that packed more (its buffer grew past its first 256 KiB) is dropped


def _pack(value: Any) -> bytes:
    """``msgpack.packb(value, use_bin_type=True, strict_types=True)`` with this thread's packer.

    ``packb`` builds a new ``Packer`` at every call (a third of the cost of packing a record);
    a ``Packer`` is not shared between threads, and it empties its buffer when packing raises,
    so the same bytes and the same exceptions come out.  Its buffer (256 KiB) grows to the
    largest value packed and never shrinks, so after a value over ``PACKER_KEEP`` (or a failure)
    the thread's packer is dropped: a thread keeps at most one 256 KiB buffer.
    """
    packer = getattr(_packers, "p", None)
    if packer is None:
        packer = _packers.p = msgpack.Packer(use_bin_type=True, strict_types=True)
    try:
        raw = packer.pack(value)
    except BaseException:
        _packers.p = None
        raise
    if len(raw) > PACKER_KEEP:
        _packers.p = None
    return raw


def _encode(meter: gas.Meter, value: Any) -> tuple[bytes, int]:
    """Canonical bytes of a contract value and the logical bytes paid for its copy."""
    raw, size, _ = _encode_copy(meter, value)
    return raw, size


def _encode_copy(meter: gas.Meter, value: Any, at: int = 0) -> tuple[bytes, int, Any]:
    """``_encode`` and the fresh canonical copy it made on the way.

    The copy is exactly what decoding the bytes would give (lists, dicts of
    str keys in sorted order, scalars; all containers new), and is already
    in canonical shape, so msgpack packs it directly (``codec.encode``'s
    ``_canon`` would copy it again to the same bytes).  An int outside the
    64-bit range is msgpack's ``OverflowError``, as it is inside
    ``codec.encode``: NOT_ENCODABLE after the whole walk, as before.
    ``at`` is the depth the value starts at (see ``copy_value``); the charges
    for a value accepted are the same whatever it is.
    """
    before = meter.mem
    plain = _plain(meter, value, at)
    try:
        raw = _pack(plain)
    except (TypeError, ValueError, OverflowError):
        raise Fault(ErrorCode.NOT_ENCODABLE) from None
    meter.work(len(raw) * 2)
    return raw, meter.mem - before + gas.OBJECT, plain


def to_wire(meter: gas.Meter, value: Any) -> bytes:
    """Canonical bytes of a contract value, charged as it is walked."""
    return _encode(meter, value)[0]


# Storage values that decode to a scalar (a law's treasury account, a counter) are read again
# and again; ``load`` is a pure function of the bytes and a scalar is immutable (contracts can
# compare identity only with None, True, False), so its answer is kept: the same value and counts,
# hence the same charges.  Bounded (cleared when full), and only small values.
_IMMUTABLE = frozenset({str, int, bytes, bool, type(None)})
_SCALAR_READS: dict[bytes, tuple] = {}
SCALAR_READS = 4096
SCALAR_READ_BYTES = 256


def from_wire(meter: gas.Meter, raw: bytes, size: int | None = None) -> Any:
    """Fresh contract objects from canonical bytes.

    ``size`` is the logical size the caller already paid to walk (a copy of
    a value it just encoded): then only the bytes and the new objects'
    memory are charged.  Otherwise (a value read from storage, at most
    ``MAX_VALUE_BYTES``) the decoded value is measured and every element
    charged ``DECODE_ELEM`` before the contract can touch it.
    """
    meter.work(len(raw))
    if size is None:
        hit = _SCALAR_READS.get(raw) if type(raw) is bytes else None
        if hit is None:
            hit = load(raw)
            if type(hit[0]) in _IMMUTABLE and len(raw) <= SCALAR_READ_BYTES:
                if len(_SCALAR_READS) >= SCALAR_READS:
                    _SCALAR_READS.clear()
                _SCALAR_READS[raw] = hit
        value, elems, containers, size = hit
        meter.elems(elems * DECODE_ELEM + containers * DECODE_CONTAINER)
    else:
        value = codec.decode(raw)
    meter.alloc(size + gas.OBJECT)
    return value


def load(raw: Any) -> tuple[Any, int, int, int]:
    """``codec.decode(raw)`` and ``measure()`` of the value, in one walk.

    The same value and the same verdict as ``codec.decode`` (anything not
    canonical raises ``CodecError``: map keys not str, or not sorted, or
    repeated; floats, ext types, trailing bytes; an integer or a length not
    in its smallest form; nesting over ``codec.MAX_DEPTH``; oversize or empty
    input) and the same counts as ``measure``; tests/contracts/
    test_module_cache.py holds the two side by side.  Storage reads are the
    runtime's most frequent decode (a welfare pass reads every record it
    visits): this walks each value once where decode-then-measure walked it
    three times (the pairs hook, the type check, the measure).
    """
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise codec.CodecError("expected bytes")
    data = bytes(raw)
    if len(data) > codec.MAX_DECODE_SIZE or not data:
        raise codec.CodecError("empty or oversize input")
    try:
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, max_bin_len=codec.MAX_DECODE_SIZE,
                                max_str_len=codec.MAX_DECODE_SIZE, max_array_len=codec.MAX_DECODE_SIZE,
                                max_map_len=codec.MAX_DECODE_SIZE, max_ext_len=0)
    except Exception:  # noqa: BLE001 - every malformed input is the codec's refusal
        raise codec.CodecError("malformed encoding") from None
    elems = containers = size = 0
    level = [value]
    depth = 0
    small = gas.SMALL_INT
    while level:
        if depth > codec.MAX_DEPTH:
            raise codec.CodecError("value nested too deep")
        below: list = []
        for v in level:
            t = type(v)
            if t is str:
                size += (len(v) if v.isascii() else 4 * len(v)) + gas.OBJECT
            elif t is int:
                if not -small < v < small:
                    size += (v.bit_length() >> 3) + gas.OBJECT
            elif t is dict:
                containers += 1
                size += len(v) * gas.ENTRY + gas.OBJECT
                keys = list(v)
                for k in keys:
                    if type(k) is not str:
                        raise codec.CodecError("map key must be a string")
                    size += len(k)
                if len(keys) > 1 and keys != sorted(keys):  # valid UTF-8: code point order is byte order
                    raise codec.CodecError("map keys not in sorted order")
                below.extend(v.values())
            elif t is list:
                containers += 1
                size += len(v) * gas.SLOT + gas.OBJECT
                below.extend(v)
            elif t is bytes:
                size += len(v) + gas.OBJECT
            elif v is not None and t is not bool:
                raise codec.CodecError(f"type {t.__name__} is not allowed")
        elems += len(level)
        level = below
        depth += 1
    try:
        again = _pack(value)
    except Exception:  # noqa: BLE001
        raise codec.CodecError("non-canonical value") from None
    if again != data:  # non-minimal ints or lengths, and repeated keys (the map came out shorter)
        raise codec.CodecError("non-canonical encoding")
    return value, elems, containers, size


def measure(value: Any) -> tuple[int, int, int]:
    """Elements, containers and logical bytes of decoded canonical data (iterative)."""
    elems = containers = size = 0
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        elems += 1
        if t is list:
            containers += 1
            size += len(v) * gas.SLOT + gas.OBJECT
            stack.extend(v)
        elif t is dict:
            containers += 1
            size += len(v) * gas.ENTRY + gas.OBJECT
            stack.extend(v.values())
            for k in v:
                size += len(k)
        elif t is bytes or (t is str and v.isascii()):
            size += len(v) + gas.OBJECT
        elif t is str:
            size += 4 * len(v) + gas.OBJECT  # CPython: up to 4 bytes a character
        elif t is int and not -gas.SMALL_INT < v < gas.SMALL_INT:
            size += (v.bit_length() >> 3) + gas.OBJECT
    return elems, containers, size


def copy_value(meter: gas.Meter, value: Any, at: int = 0) -> Any:
    """A fresh copy of canonical data (arguments, results), paid for in full first.

    Charged as ``from_wire(meter, *_encode(meter, value))`` (the bytes, then
    the new objects' memory); the copy the encoder walked is the result, so
    the bytes are not decoded again.  ``at``: the depth the value will have
    where it is kept (a transaction's result in a block's receipts), so that
    it nests at most ``codec.MAX_DEPTH - at`` levels (else NOT_ENCODABLE).
    """
    raw, size, plain = _encode_copy(meter, value, at)
    return _charged_copy(meter, raw, size, plain)


def _charged_copy(meter: gas.Meter, raw: bytes, size: int, plain: Any) -> Any:
    """What ``from_wire(meter, raw, size)`` charges, returning ``plain`` (== ``decode(raw)``, fresh)."""
    meter.work(len(raw))
    meter.alloc(size + gas.OBJECT)
    return plain


_UNSET = object()


class Overlay:
    """Buffered effects of one top-level call; reads see them first."""

    def __init__(self, host: Host):
        self.host = host
        self.writes: dict[tuple[str, str], bytes | None] = {}
        self.usage: dict[str, int] = {}
        self.usage_before: dict[str, int] = {}
        self.deltas: dict[str, int] = {}
        self.transfers: list[tuple[str, str, int]] = []
        self.events: list[Event] = []
        # what the host answered, per key: its state cannot change during the call (effects are
        # applied after it), so a second read of a key (a law's treasury account) is not asked again
        self.reads: dict[tuple[str, str], bytes | None] = {}
        self.balances: dict[str, int] = {}  # the host's (committed) balances asked, likewise (a payer pays thrice)

    def get(self, contract: str, key: str) -> bytes | None:
        k = (contract, key)
        w = self.writes.get(k, _UNSET)
        if w is not _UNSET:
            return w
        r = self.reads.get(k, _UNSET)
        if r is _UNSET:
            try:  # host_call(self.host.storage_get, contract, key), inline (every storage read)
                r = self.host.storage_get(contract, key)
            except Fault:
                raise
            except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
                raise HostFailure(type(e).__name__) from e
            if len(self.reads) < READ_MEMO:  # a bounded memo: only the first keys a call reads
                self.reads[k] = r
        return r

    def put(self, contract: str, key: str, raw: bytes | None) -> None:
        old = self.get(contract, key)
        klen = len(key.encode("utf-8"))
        before = 0 if old is None else klen + len(old)
        after = 0 if raw is None else klen + len(raw)
        if contract not in self.usage:
            try:  # host_call(self.host.storage_usage, contract), inline (every call that writes)
                used = self.host.storage_usage(contract)
            except Fault:
                raise
            except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
                raise HostFailure(type(e).__name__) from e
            self.usage[contract] = self.usage_before[contract] = used
        total = self.usage[contract] + after - before
        if after > before and total > MAX_CONTRACT_STORAGE:
            raise Fault(ErrorCode.STORAGE_LIMIT)
        self.usage[contract] = total
        self.writes[(contract, key)] = raw

    def balance(self, address: str) -> int:
        b = self.balances.get(address)
        if b is None:
            try:  # host_call(self.host.balance, address), inline
                b = self.host.balance(address)
            except Fault:
                raise
            except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
                raise HostFailure(type(e).__name__) from e
            if len(self.balances) < READ_MEMO:
                self.balances[address] = b
        return b + self.deltas.get(address, 0)

    def effects(self) -> Effects:
        """The call's effects, once, when it ended well (the overlay is not used after: its lists are handed on)."""
        writes = [(c, k, v) for (c, k), v in self.writes.items()]
        usage = {c: (self.usage_before[c], u) for c, u in self.usage.items()}
        return Effects(writes, self.transfers, self.events, usage)


def _key(key: Any) -> str:
    if type(key) is not str:
        raise Fault(ErrorCode.TYPE_ERROR)
    if len(key) > MAX_KEY_BYTES:  # before encoding: a char is at least one byte
        raise Fault(ErrorCode.STORAGE_LIMIT)
    if key.isascii():
        n = len(key)
    elif not text_ok(key):
        raise Fault(ErrorCode.VALUE_ERROR)
    else:
        n = len(key.encode("utf-8"))
    if n == 0 or n > MAX_KEY_BYTES:
        raise Fault(ErrorCode.STORAGE_LIMIT)
    return key


class Frame:
    """One running entry/view of one contract."""

    __slots__ = ("machine", "name", "address", "caller", "read_only", "direct")

    def __init__(self, machine: Machine, name: str, address: str, caller: str, read_only: bool, direct: bool):
        self.machine = machine
        self.name = name
        self.address = address
        self.caller = caller
        self.read_only = read_only
        self.direct = direct  # called by the transaction itself, not by a contract

    def writable(self) -> None:
        if self.read_only:
            raise Fault(ErrorCode.READ_ONLY)

    # -- functions injected as globals
    def emit(self, name, data=None) -> None:
        self.writable()
        m = self.machine.meter
        if type(name) is not str:
            raise Fault(ErrorCode.TYPE_ERROR)
        if not 0 < len(name) <= MAX_EVENT_NAME or not text_ok(name):
            raise Fault(ErrorCode.VALUE_ERROR)
        m.tick(gas.EMIT)
        # the data goes into a receipt, where it is read back at depth EVENT_DATA_AT (above):
        # nested deeper than MAX_DEPTH - EVENT_DATA_AT, it is NOT_ENCODABLE here, never an unreadable block
        raw, size, plain = _encode_copy(m, data, EVENT_DATA_AT)
        if len(raw) > MAX_EVENT_BYTES:
            raise Fault(ErrorCode.VALUE_TOO_LARGE)
        # the event is kept until the call ends (memory) and goes into the receipt
        self.machine.overlay.events.append(Event(self.name, name, _charged_copy(m, raw, size + len(name), plain), raw))

    def call(self, contract, function, args=None):
        if args is None:
            args = {}
        if type(contract) is not str or type(function) is not str or type(args) not in (dict, MappingProxyType):
            raise Fault(ErrorCode.TYPE_ERROR)
        if not host_text(self.machine.meter, contract):
            raise Fault(ErrorCode.UNKNOWN_CONTRACT)
        if not text_ok(function):
            raise Fault(ErrorCode.VALUE_ERROR)
        return self.machine.call_contract(self, contract, function, args)

    def fail(self, code=0, detail="") -> None:
        if type(code) is not int or type(detail) is not str:
            raise Fault(ErrorCode.TYPE_ERROR)
        if not 0 <= code < 2**32 or len(detail) > MAX_DETAIL or not text_ok(detail):
            raise Fault(ErrorCode.VALUE_ERROR)
        raise Fault(ErrorCode.CONTRACT_ERROR, {"error": code, "detail": detail})

    def beacon(self, height):
        if type(height) is not int:
            raise Fault(ErrorCode.TYPE_ERROR)
        if not 0 <= height <= self.machine.height:
            raise Fault(ErrorCode.VALUE_ERROR)
        self.machine.meter.tick(gas.HOST_QUERY)
        value = host_call(self.machine.host.beacon, height)
        return value if value is None or type(value) is bytes else bytes(value)


class Ctx:
    __slots__ = ("_f",)

    def __init__(self, frame: Frame):
        self._f = frame


class Storage:
    __slots__ = ("_f",)

    def __init__(self, frame: Frame):
        self._f = frame


class State:
    __slots__ = ("_f",)

    def __init__(self, frame: Frame):
        self._f = frame


# ---------------------------------------------------------------- ctx
def _has_role(o, ctx: Ctx, address, role) -> bool:
    f = ctx._f
    m = f.machine.meter
    if type(role) is not str:
        raise Fault(ErrorCode.TYPE_ERROR)
    m.tick(gas.HOST_QUERY)
    if not host_text(m, address) or not host_text(m, role):
        return False  # no such address or role
    return bool(host_call(f.machine.host.has_role, address, role))


MAX_ROLE_HOLDERS = 64


def _role_holders(o, ctx: Ctx, role) -> list:
    """The registry's holders of ``role``, sorted; at most MAX_ROLE_HOLDERS (the first ones)."""
    if type(role) is not str:
        raise Fault(ErrorCode.TYPE_ERROR)
    f = ctx._f
    m = f.machine.meter
    m.tick(gas.HOST_QUERY)
    holders = host_call(f.machine.host.role_holders, role)
    if type(holders) is not list or any(type(a) is not str for a in holders):
        raise HostFailure("role_holders must return a list of str")
    out = [str(a) for a in holders[:MAX_ROLE_HOLDERS]]
    m.alloc(sum(len(a) for a in out) + gas.OBJECT * (len(out) + 1))
    return out


def _account_kind(o, ctx: Ctx, address) -> str:
    """The registry's kind of an account: "citizen", "enterprise", "agency",
    "contract", or "" for an account the registrar does not know."""
    f = ctx._f
    m = f.machine.meter
    m.tick(gas.HOST_QUERY)
    if not host_text(m, address):
        return ""  # no account has such an address
    return str(host_call(f.machine.host.account_kind, address))


def _balance(o, ctx: Ctx, address) -> int:
    f = ctx._f
    m = f.machine.meter
    m.tick(gas.HOST_QUERY)
    if not host_text(m, address):
        return 0  # no account has such an address
    return f.machine.overlay.balance(address)


def _transfer(o, ctx: Ctx, frm, to, amount) -> None:
    f = ctx._f
    f.writable()
    if type(frm) is not str or type(to) is not str or type(amount) is not int:
        raise Fault(ErrorCode.TYPE_ERROR)
    if not 0 < amount <= MAX_AMOUNT or frm == to:
        raise Fault(ErrorCode.VALUE_ERROR)
    mach = f.machine
    mach.meter.tick(gas.TRANSFER)
    if not (frm == f.address or (f.direct and frm == mach.sender)):
        raise Fault(ErrorCode.NOT_AUTHORIZED)
    if not host_text(mach.meter, to):
        raise Fault(ErrorCode.TRANSFER_REFUSED)  # no account has such an address
    ov = mach.overlay
    if ov.balance(frm) < amount:
        raise Fault(ErrorCode.INSUFFICIENT_FUNDS)
    try:  # host_call(mach.host.check_transfer, frm, to, amount), inline (every transfer)
        code = mach.host.check_transfer(frm, to, amount)
    except Fault:
        raise
    except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
        raise HostFailure(type(e).__name__) from e
    if code:
        raise Fault(code if code in ErrorCode._value2member_map_ else ErrorCode.TRANSFER_REFUSED)
    ov.deltas[frm] = ov.deltas.get(frm, 0) - amount
    ov.deltas[to] = ov.deltas.get(to, 0) + amount
    ov.transfers.append((frm, to, amount))


def _address_of(o, ctx: Ctx, contract) -> str:
    mach = ctx._f.machine
    mach.meter.tick(gas.HOST_QUERY)
    if not host_text(mach.meter, contract):
        raise Fault(ErrorCode.VALUE_ERROR)  # no contract can have such a name
    return str(host_call(mach.host.contract_address, contract))


# ---------------------------------------------------------------- storage
def _get(o, st: Storage, key, default=None):
    f = st._f
    m = f.machine.meter
    raw = f.machine.overlay.get(f.name, _key(key))
    m.tick(gas.STORAGE_READ)
    if raw is None:
        return default
    return from_wire(m, raw)


def _has(o, st: Storage, key) -> bool:
    f = st._f
    f.machine.meter.tick(gas.STORAGE_READ)
    return f.machine.overlay.get(f.name, _key(key)) is not None


def _set(o, st: Storage, key, value) -> None:
    f = st._f
    f.writable()
    key = _key(key)
    m = f.machine.meter
    raw = to_wire(m, value)
    if len(raw) > MAX_VALUE_BYTES:
        raise Fault(ErrorCode.STORAGE_LIMIT)
    m.tick(gas.STORAGE_WRITE + (len(raw) + len(key)) * gas.WORD)
    f.machine.overlay.put(f.name, key, raw)


def _delete(o, st: Storage, key) -> None:
    f = st._f
    f.writable()
    key = _key(key)
    f.machine.meter.tick(gas.STORAGE_DELETE)
    f.machine.overlay.put(f.name, key, None)


def _read(o, state: State, contract, key, default=None):
    f = state._f
    if type(contract) is not str:
        raise Fault(ErrorCode.TYPE_ERROR)
    mach = f.machine
    m = mach.meter
    m.tick(gas.STORAGE_READ)
    if not host_text(m, contract):
        raise Fault(ErrorCode.UNKNOWN_CONTRACT)
    if contract != f.name and mach.source_of(contract) is None:
        raise Fault(ErrorCode.UNKNOWN_CONTRACT)
    raw = mach.overlay.get(contract, _key(key))
    if raw is None:
        return default
    return from_wire(m, raw)


methods.register(
    Ctx,
    {"has_role": _has_role, "role_holders": _role_holders, "account_kind": _account_kind, "balance": _balance, "transfer": _transfer,
     "address_of": _address_of},
    {
        "sender": lambda c: c._f.machine.sender,
        "caller": lambda c: c._f.caller,
        "this": lambda c: c._f.address,
        "height": lambda c: c._f.machine.height,
        "time": lambda c: c._f.machine.time,
    },
)
methods.register(Storage, {"get": _get, "set": _set, "delete": _delete, "has": _has}, {})
methods.register(State, {"read": _read}, {})
