"""Canonical encoding: one byte string per value.

Theory of operation
-------------------
Every value that is hashed, signed or stored is encoded with msgpack under
three rules, so that two honest nodes always produce the same bytes:

1. Only these types exist: ``None``, ``bool``, ``int`` (signed 64-bit range or
   unsigned 64-bit), ``bytes``, ``str`` (UTF-8), ``list`` and ``dict`` whose
   keys are ``str``.  No floats, no sets, no tuples on the wire (tuples are
   encoded as lists), no extension types.
2. Maps are written with their keys in ascending order of their UTF-8 bytes;
   every integer takes the smallest msgpack form (msgpack-python does this).
3. Decoding is strict: it refuses anything that would not re-encode to the
   very same bytes (non-minimal integers, unsorted or duplicate keys, floats,
   trailing bytes, oversize values).  The check is done the simple way:
   decode, then re-encode and compare, so there is no second parser to keep in
   step with the encoder.

On top of the raw codec sits :class:`Record`, a frozen dataclass with a typed
schema, encoded as a map of its field names.  ``Record.decode`` refuses
unknown and missing fields and values of the wrong type.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import msgpack

MAX_DECODE_SIZE = 8 * 1024 * 1024  # bytes; a block is bounded well below
MAX_DEPTH = 32
I64_MIN = -(2**63)
U64_MAX = 2**64 - 1


class CodecError(ValueError):
    """Raised for any value or byte string that is not canonical."""


def _canon(value: Any, depth: int = 0) -> Any:
    """Return a structure msgpack packs canonically, refusing foreign types.

    Map keys are sorted as Python sorts str, by code point, which is the
    order of their UTF-8 bytes.
    """
    t = type(value)
    if t is int:
        if value < I64_MIN or value > U64_MAX:
            raise CodecError("integer out of 64-bit range")
        return value
    if t is bytes or t is str or value is None or t is bool:
        return value
    if depth >= MAX_DEPTH and (t is dict or t is list or t is tuple) and len(value):
        raise CodecError(f"value nested deeper than {MAX_DEPTH}")
    if t is dict:
        keys = list(value)
        for k in keys:
            if type(k) is not str:
                break
        else:  # the common case: str keys; leaves copied inline, the same values _canon returns for them
            keys.sort()
            d = depth + 1
            out = {}
            for k in keys:
                v = value[k]
                tv = type(v)
                if tv is bytes or tv is str or tv is bool or v is None or (tv is int and I64_MIN <= v <= U64_MAX):
                    out[k] = v
                else:
                    out[k] = _canon(v, d)
            return out
        try:
            keys = sorted(value)
        except TypeError:
            keys = None
        if keys is None or any(type(k) is not str for k in keys):
            bad = next(k for k in value if type(k) is not str)
            raise CodecError(f"map key must be str, not {type(bad).__name__}")
        d = depth + 1
        return {k: _canon(value[k], d) for k in keys}
    if t is list or t is tuple:
        d = depth + 1
        out_l = []
        for v in value:
            tv = type(v)
            if tv is bytes or tv is str or tv is bool or v is None or (tv is int and I64_MIN <= v <= U64_MAX):
                out_l.append(v)
            else:
                out_l.append(_canon(v, d))
        return out_l
    if t is bytearray or t is memoryview:
        return bytes(value)
    if isinstance(value, Record):
        return _canon(value.to_obj(), depth)
    if t is float:
        raise CodecError("floats are not allowed (money is an integer count of fen)")
    raise CodecError(f"type {t.__name__} cannot be encoded")


def encode(value: Any) -> bytes:
    """Encode ``value`` canonically."""
    try:
        return msgpack.packb(_canon(value), use_bin_type=True, strict_types=True)
    except CodecError:
        raise
    except (TypeError, ValueError, OverflowError) as e:  # pragma: no cover - defensive
        raise CodecError(f"cannot encode: {e}") from None


def encode_array_of_encoded(items: list[bytes]) -> bytes:
    """The canonical encoding of a list, given its items' canonical encodings."""
    n = len(items)
    if n < 16:
        head = bytes([0x90 | n])
    elif n < 0x10000:
        head = b"\xdc" + n.to_bytes(2, "big")
    else:
        head = b"\xdd" + n.to_bytes(4, "big")
    return head + b"".join(items)


def _pairs_hook(pairs: list[tuple[Any, Any]]) -> dict:
    out: dict = {}
    prev: bytes | None = None
    for k, v in pairs:
        if type(k) is not str:
            raise CodecError("map key must be a string")
        kb = k.encode("utf-8")
        if prev is not None:
            if kb == prev:
                raise CodecError(f"duplicate map key {k!r}")
            if kb < prev:
                raise CodecError(f"map keys not in sorted order at {k!r}")
        prev = kb
        out[k] = v
    return out


_PLAIN = frozenset((int, bytes, str, type(None), bool, list, dict))


def _check_types(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise CodecError(f"value nested deeper than {MAX_DEPTH}")
    t = type(value)
    if t is float:
        raise CodecError("floats are not allowed")
    if t not in _PLAIN:
        raise CodecError(f"type {t.__name__} is not allowed")  # ext types, timestamps
    if t is list:
        for v in value:
            _check_types(v, depth + 1)
    elif t is dict:
        for v in value.values():
            _check_types(v, depth + 1)


def _plain_sorted(value: Any, depth: int) -> bool:
    """True if a container decoded without the pairs hook is already canonical in shape: plain types
    only, str keys in strictly ascending order, nested at most as deep as ``_check_types`` allows
    (conservatively: anything doubtful answers False and the strict path decides)."""
    if depth >= MAX_DEPTH:
        return False
    t = type(value)
    if t is dict:
        prev = None
        for k, v in value.items():
            if type(k) is not str or (prev is not None and k <= prev):
                return False
            prev = k
            tv = type(v)
            if tv is int or tv is bytes or tv is str or tv is bool or v is None:
                continue
            if (tv is not dict and tv is not list) or not _plain_sorted(v, depth + 1):
                return False
        return True
    if t is list:
        for v in value:
            tv = type(v)
            if tv is int or tv is bytes or tv is str or tv is bool or v is None:
                continue
            if (tv is not dict and tv is not list) or not _plain_sorted(v, depth + 1):
                return False
        return True
    return False


def _decode_fast(data: bytes, max_size: int) -> Any:
    """The value of canonical ``data``, or ``_NOT_FAST`` when the strict path must judge it.

    msgpack decodes without a Python callback per map; the shape is then
    checked in one walk (str keys strictly ascending: sorted and no
    duplicates among those kept) and the value re-encoded and compared, as
    the strict path does.  A value accepted here is exactly the value the
    strict path returns for the same bytes (it would pass each of its
    checks); anything else, valid or not, goes to the strict path, which
    gives the precise error.
    """
    try:
        value = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=True, max_bin_len=max_size,
                                max_str_len=max_size, max_array_len=max_size, max_map_len=max_size, max_ext_len=0)
    except Exception:
        return _NOT_FAST
    t = type(value)
    if t is dict or t is list:
        if not _plain_sorted(value, 0):
            return _NOT_FAST
    elif not (t is int or t is bytes or t is str or t is bool or value is None):
        return _NOT_FAST
    try:
        again = msgpack.packb(value, use_bin_type=True, strict_types=True)
    except Exception:
        return _NOT_FAST
    return value if again == data else _NOT_FAST


_NOT_FAST = object()


def decode(data: bytes, max_size: int = MAX_DECODE_SIZE) -> Any:
    """Decode canonical bytes; raise :class:`CodecError` on anything else."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CodecError("expected bytes")
    data = bytes(data)
    if len(data) > max_size:
        raise CodecError(f"encoded value is {len(data)} bytes, over the limit of {max_size}")
    if not data:
        raise CodecError("empty input")
    value = _decode_fast(data, max_size)
    if value is not _NOT_FAST:
        return value
    return _decode_strict(data, max_size)


def _decode_strict(data: bytes, max_size: int) -> Any:
    """The strict decoder (every check done the simple way, each with its own error)."""
    try:
        value = msgpack.unpackb(
            data,
            raw=False,
            use_list=True,
            strict_map_key=True,
            object_pairs_hook=_pairs_hook,
            max_bin_len=max_size,
            max_str_len=max_size,
            max_array_len=max_size,
            max_map_len=max_size,
            max_ext_len=0,
        )
    except CodecError:
        raise
    except msgpack.ExtraData:
        raise CodecError("trailing bytes after value") from None
    except ValueError as e:
        # UnicodeDecodeError, ext types, limits, recursion
        raise CodecError(f"malformed encoding: {type(e).__name__}") from None
    except Exception as e:  # msgpack raises a few other kinds on truncated input
        raise CodecError(f"malformed encoding: {type(e).__name__}") from None
    _check_types(value)
    # The decoded value is already in canonical shape (map keys are str, sorted and unique:
    # _pairs_hook; no floats: _check_types; lists, not tuples; ints in 64-bit range), so
    # msgpack re-encodes it directly, without _canon's copy: the same bytes, for less.
    try:
        again = msgpack.packb(value, use_bin_type=True, strict_types=True)
    except (TypeError, ValueError, OverflowError) as e:  # pragma: no cover - defensive
        raise CodecError(f"non-canonical value: {e}") from None
    if again != data:
        raise CodecError("non-canonical encoding (an integer or length not in its smallest form)")
    return value


# --------------------------------------------------------------------------
# Typed records
# --------------------------------------------------------------------------


class Spec:
    """A field type: checks a decoded value and converts it."""

    def load(self, v: Any, where: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError

    def dump(self, v: Any) -> Any:
        return v


class UInt(Spec):
    def __init__(self, max_value: int = U64_MAX):
        self.max_value = max_value

    def load(self, v: Any, where: str) -> int:
        if type(v) is not int or v < 0 or v > self.max_value:
            raise CodecError(f"{where}: expected an integer from 0 to {self.max_value}")
        return v


class Int(Spec):
    def load(self, v: Any, where: str) -> int:
        if type(v) is not int or v < I64_MIN or v > 2**63 - 1:
            raise CodecError(f"{where}: expected a signed 64-bit integer")
        return v


class Bool(Spec):
    def load(self, v: Any, where: str) -> bool:
        if type(v) is not bool:
            raise CodecError(f"{where}: expected a boolean")
        return v


class Bytes(Spec):
    def __init__(self, size: int | None = None, max_size: int = 1 << 20):
        self.size = size
        self.max_size = max_size

    def load(self, v: Any, where: str) -> bytes:
        if type(v) is not bytes:
            raise CodecError(f"{where}: expected bytes")
        if self.size is not None and len(v) != self.size:
            raise CodecError(f"{where}: expected exactly {self.size} bytes, got {len(v)}")
        if len(v) > self.max_size:
            raise CodecError(f"{where}: longer than {self.max_size} bytes")
        return v


class Str(Spec):
    def __init__(self, max_len: int = 256):
        self.max_len = max_len

    def load(self, v: Any, where: str) -> str:
        if type(v) is not str:
            raise CodecError(f"{where}: expected a string")
        if len(v) > self.max_len:
            raise CodecError(f"{where}: longer than {self.max_len} characters")
        return v


class Opt(Spec):
    def __init__(self, inner: Spec):
        self.inner = inner

    def load(self, v: Any, where: str) -> Any:
        return None if v is None else self.inner.load(v, where)

    def dump(self, v: Any) -> Any:
        return None if v is None else self.inner.dump(v)


class List(Spec):
    def __init__(self, inner: Spec, max_len: int = 100_000):
        self.inner = inner
        self.max_len = max_len

    def load(self, v: Any, where: str) -> tuple:
        if type(v) is not list:
            raise CodecError(f"{where}: expected a list")
        if len(v) > self.max_len:
            raise CodecError(f"{where}: more than {self.max_len} items")
        return tuple(self.inner.load(x, f"{where}[{i}]") for i, x in enumerate(v))

    def dump(self, v: Any) -> Any:
        return [self.inner.dump(x) for x in v]


class Any_(Spec):
    """Any canonical value (already type-checked by :func:`decode`)."""

    def load(self, v: Any, where: str) -> Any:
        return v


class Nested(Spec):
    def __init__(self, cls: type["Record"]):
        self.cls = cls

    def load(self, v: Any, where: str) -> "Record":
        return self.cls.from_obj(v, where)

    def dump(self, v: Any) -> Any:
        return v.to_obj()


_WHERES: dict = {}  # (record class, where) -> {field: "where.field"}: the error paths, formatted once


class Record:
    """Base for frozen dataclasses with a schema ``SCHEMA = {field: Spec}``.

    Subclasses are declared as ``@dataclasses.dataclass(frozen=True)`` with
    the same field names as ``SCHEMA``.
    """

    SCHEMA: ClassVar[dict[str, Spec]] = {}

    def to_obj(self) -> dict:
        return {name: spec.dump(getattr(self, name)) for name, spec in self.SCHEMA.items()}

    def encode(self) -> bytes:
        return encode(self.to_obj())

    @classmethod
    def from_obj(cls, obj: Any, where: str | None = None):
        where = where or cls.__name__
        if type(obj) is not dict:
            raise CodecError(f"{where}: expected a map")
        schema = cls.SCHEMA
        if len(obj) != len(schema) or any(k not in schema for k in obj):
            extra = [k for k in obj if k not in schema]
            if extra:
                raise CodecError(f"{where}: unknown field {extra[0]!r}")
            missing = [k for k in schema if k not in obj]
            raise CodecError(f"{where}: missing field {missing[0]!r}")
        wheres = _WHERES.get((cls, where))
        if wheres is None:
            wheres = {name: f"{where}.{name}" for name in schema}
            if len(_WHERES) < 4096:
                _WHERES[(cls, where)] = wheres
        return cls(**{name: spec.load(obj[name], wheres[name]) for name, spec in schema.items()})

    @classmethod
    def decode(cls, data: bytes, max_size: int = MAX_DECODE_SIZE):
        return cls.from_obj(decode(data, max_size))

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)
