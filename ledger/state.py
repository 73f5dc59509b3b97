"""The authenticated state: a map from paths to canonical values.

Theory of operation
-------------------
Every piece of state lives at a *path*, a short tuple of strings, byte
strings and integers: ``("acct", address)``, ``("supply",)``,
``("cstore", "tax", "rates")``.  A path is written as bytes with a
self-delimiting encoding (:func:`path_bytes`), so the bytes of a path prefix
are a byte prefix of every path below it, and LevelDB can list a subtree.

The state root is the root of a sparse Merkle tree (``ledger/smt.py``)
whose keys are the tagged hashes of path bytes and whose values are the
tagged hashes of the value bytes.  Values themselves are kept twice in
LevelDB: once by path for fast reads of the latest state, once by value hash
so that any past root can still be read and proved.

During a block the application works on a :class:`State`: an overlay of
pending writes over the last committed state, with a journal so a failed
transaction is undone with :meth:`State.revert`.  At the end of the block
:meth:`State.commit` hashes the changed values, updates the tree once for
the whole batch (cost O(keys touched x log n)), and hands back everything
the store must write in one atomic batch.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

import msgpack

from .codec import U64_MAX, Bytes, List, Record, Str, UInt, decode, encode
from .crypto import tagged_hash

PathPart = str | bytes | int
Path = tuple


def path_bytes(path: Iterable[PathPart]) -> bytes:
    """Self-delimiting bytes of a path: a byte prefix for a path prefix.

    Parts of exactly ``str``, ``bytes`` or ``int`` (a call's storage, usage
    and log paths) are joined inline; any other part (a subclass, a
    bytearray, a bool, a foreign type) goes through :func:`_path_bytes_general`,
    which gives the same bytes or the same error.
    """
    if type(path) is not tuple and type(path) is not list:  # (a one-shot iterable cannot be walked twice)
        return _path_bytes_general(path)
    out = []
    for part in path:
        t = type(part)
        if t is str:
            b = part.encode("utf-8")
            tag = b"s"
        elif t is bytes:
            b = part
            tag = b"b"
        elif t is int and 0 <= part <= 0xFFFFFFFFFFFFFFFF:
            out.append(b"i\x00\x08" + part.to_bytes(8, "big"))
            continue
        else:
            return _path_bytes_general(path)
        n = len(b)
        if n > 0xFFFF:
            return _path_bytes_general(path)
        out.append(tag + n.to_bytes(2, "big") + b)
    return b"".join(out)


def _path_bytes_general(path: Iterable[PathPart]) -> bytes:
    """The general encoder of :func:`path_bytes` (every part type; the errors)."""
    out = bytearray()
    for part in path:
        if isinstance(part, str):
            b = part.encode("utf-8")
            tag = 0x73  # 's'
        elif isinstance(part, (bytes, bytearray)):
            b = bytes(part)
            tag = 0x62  # 'b'
        elif isinstance(part, int) and not isinstance(part, bool):
            if part < 0:
                raise ValueError("negative integer in a state path")
            b = part.to_bytes(8, "big")
            tag = 0x69  # 'i'
        else:
            raise TypeError(f"state path part of type {type(part).__name__}")
        if len(b) > 0xFFFF:
            raise ValueError("state path part too long")
        out.append(tag)
        out += len(b).to_bytes(2, "big")
        out += b
    return bytes(out)


def parse_path(pb: bytes) -> tuple:
    parts: list[PathPart] = []
    i = 0
    while i < len(pb):
        tag = pb[i]
        n = int.from_bytes(pb[i + 1 : i + 3], "big")
        b = pb[i + 3 : i + 3 + n]
        i += 3 + n
        if tag == 0x73:
            parts.append(b.decode("utf-8"))
        elif tag == 0x62:
            parts.append(b)
        elif tag == 0x69:
            parts.append(int.from_bytes(b, "big"))
        else:
            raise ValueError("bad path bytes")
    return tuple(parts)


def key_hash(pb: bytes) -> bytes:
    return tagged_hash("state key", pb)


def value_hash(value: bytes) -> bytes:
    return tagged_hash("state value", value)


# --------------------------------------------------------------------------
# Records kept in state by the ledger core
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Account(Record):
    """A registered (or merely funded-by-genesis) account."""

    SCHEMA = {
        "balance": UInt(),
        "nonce": UInt(),
        "kind": Str(16),  # "" until registered; citizen | enterprise | agency | contract
        "roles": List(Str(32), 32),
        "name": Str(128),
    }
    balance: int = 0
    nonce: int = 0
    kind: str = ""
    roles: tuple = ()
    name: str = ""

    @property
    def registered(self) -> bool:
        return self.kind != ""

    def encode(self) -> bytes:
        """The canonical bytes (as ``Record.encode``), packed directly: every block writes thousands."""
        b, n, k, r, name = self.balance, self.nonce, self.kind, self.roles, self.name
        if type(b) is int and type(n) is int and 0 <= b <= U64_MAX and 0 <= n <= U64_MAX and type(k) is str \
                and type(name) is str and type(r) is tuple and all(type(x) is str for x in r):
            return msgpack.packb({"balance": b, "kind": k, "name": name, "nonce": n, "roles": list(r)},
                                 use_bin_type=True)
        return super().encode()

    def with_balance(self, balance: int) -> "Account":
        return Account(balance, self.nonce, self.kind, self.roles, self.name)

    def with_nonce(self, nonce: int) -> "Account":
        return Account(self.balance, nonce, self.kind, self.roles, self.name)

    def has_role(self, role: str) -> bool:
        return role in self.roles


@dataclasses.dataclass(frozen=True)
class Supply(Record):
    SCHEMA = {"issued": UInt(), "retired": UInt()}
    issued: int = 0
    retired: int = 0

    @property
    def outstanding(self) -> int:
        return self.issued - self.retired


@dataclasses.dataclass(frozen=True)
class Validator(Record):
    SCHEMA = {"pubkey": Bytes(32), "power": UInt(1 << 40), "name": Str(64)}
    pubkey: bytes
    power: int
    name: str = ""


EMPTY_ACCOUNT = Account()

# well-known paths
SUPPLY = ("supply",)
VALIDATORS = ("validators",)
META = ("meta",)


def acct_path(addr: bytes) -> tuple:
    return ("acct", addr)


_ACCT_PREFIX = path_bytes(("acct",))
_ACCT20_PREFIX = _ACCT_PREFIX + b"b\x00\x14"  # an address is 20 bytes


def acct_path_bytes(addr: bytes) -> bytes:
    """``path_bytes(acct_path(addr))``, without the general encoder (hot path)."""
    if len(addr) == 20:
        return _ACCT20_PREFIX + addr
    return _ACCT_PREFIX + b"b" + len(addr).to_bytes(2, "big") + addr


# --------------------------------------------------------------------------
# The working state of one block
# --------------------------------------------------------------------------

_MISSING = object()


class State:
    """Pending writes over committed state, with a journal for rollback.

    ``read_committed(pb)`` returns the committed value bytes at a path, or
    None.  Values in the overlay are bytes, a frozen :class:`Record`
    (encoded only at commit), or None for a deletion.
    """

    def __init__(self, read_committed: Callable[[bytes], bytes | None], root: bytes, height: int,
                 cache: dict | None = None, hashes: dict | None = None, seen: dict | None = None):
        self._read = read_committed
        self.root = root
        self.height = height  # the height whose state this is
        self._overlay: dict[bytes, Any] = {}
        self._journal: list[tuple[bytes, Any]] = []
        # decoded records of committed values: this state's own, or the store's, shared by every
        # working state of one height (ChainStore.state_at; records are frozen, so sharing is safe)
        self._cache: dict[bytes, Any] = {} if cache is None else cache
        # what is known of the committed values, for the tree's update (``commit`` passes each changed
        # path's old value hash: its leaf is then not read from the store): ``seen``, path -> the
        # committed bytes read (hashed at commit if the path changed), and ``hashes``, path -> value
        # hash of the committed state; both shared like ``cache`` by the working states of one height
        # (ChainStore carries them from block to block, bounded with it).  A hint only: a wrong hash
        # costs the tree one read, never a wrong root.
        self._seen: dict[bytes, bytes] = {} if seen is None else seen
        self._hashes: dict[bytes, bytes] = {} if hashes is None else hashes

    # ---- raw access -------------------------------------------------------
    def get_bytes(self, path: tuple) -> bytes | None:
        pb = path_bytes(path)
        v = self._overlay.get(pb, _MISSING)
        if v is _MISSING:
            b = self._read(pb)
            if b is not None:
                self._seen[pb] = b
            return b
        if isinstance(v, Record):
            return v.encode()
        return v

    def get_value(self, path: tuple) -> Any:
        """Decoded canonical value at ``path`` (a plain structure), or None."""
        b = self.get_bytes(path)
        return None if b is None else decode(b)

    def get_record(self, path: tuple, cls: type[Record]) -> Any:
        return self._get_record_pb(path_bytes(path), cls)

    def _get_record_pb(self, pb: bytes, cls: type[Record]) -> Any:
        v = self._overlay.get(pb, _MISSING)
        if v is _MISSING:
            c = self._cache.get(pb)
            if c is not None and type(c) is cls:
                return c
            b = self._read(pb)
            if b is None:
                return None
            self._seen[pb] = b
            rec = cls.decode(b)
            self._cache[pb] = rec
            return rec
        if v is None or isinstance(v, Record):
            return v
        return cls.decode(v)

    def _set(self, pb: bytes, v: Any) -> None:
        self._journal.append((pb, self._overlay.get(pb, _MISSING)))
        self._overlay[pb] = v

    def put(self, path: tuple, value: bytes | Record) -> None:
        if not isinstance(value, (bytes, Record)):
            raise TypeError("state values are bytes or records")
        self._set(path_bytes(path), value)

    def put_value(self, path: tuple, value: Any) -> None:
        self._set(path_bytes(path), encode(value))

    def delete(self, path: tuple) -> None:
        self._set(path_bytes(path), None)

    # ---- journal ----------------------------------------------------------
    def mark(self) -> int:
        return len(self._journal)

    def revert(self, mark: int) -> None:
        j = self._journal
        ov = self._overlay
        while len(j) > mark:
            pb, prev = j.pop()
            if prev is _MISSING:
                del ov[pb]
            else:
                ov[pb] = prev

    def dirty_paths(self) -> list[bytes]:
        return sorted(self._overlay)

    # ---- typed helpers ----------------------------------------------------
    def account(self, addr: bytes) -> Account:
        a = self._get_record_pb(acct_path_bytes(addr), Account)
        return EMPTY_ACCOUNT if a is None else a

    def set_account(self, addr: bytes, acct: Account) -> None:
        self._set(acct_path_bytes(addr), acct)

    def supply(self) -> Supply:
        s = self.get_record(SUPPLY, Supply)
        return Supply() if s is None else s

    def validators(self) -> list[Validator]:
        v = self.get_value(VALIDATORS)
        return [Validator.from_obj(x) for x in (v or [])]

    # ---- commit -----------------------------------------------------------
    def changes(self) -> dict[bytes, bytes | None]:
        """Encoded net changes, by path bytes, in sorted order."""
        out: dict[bytes, bytes | None] = {}
        for pb in sorted(self._overlay):
            v = self._overlay[pb]
            out[pb] = v.encode() if isinstance(v, Record) else v
        return out

    def commit(self, smt) -> "StateDiff":
        """Compute the new root; return what the store must write."""
        changes = self.changes()
        records = {pb: v for pb, v in self._overlay.items() if isinstance(v, Record)}
        tree_changes: dict[bytes, bytes | None] = {}
        values: dict[bytes, bytes] = {}
        hashes: dict[bytes, bytes | None] = {}
        old: dict[bytes, bytes] = {}
        known, seen = self._hashes, self._seen
        for pb, v in changes.items():
            kh = key_hash(pb)
            if v is None:
                tree_changes[kh] = hashes[pb] = None
            else:
                vh = value_hash(v)
                values[vh] = v
                tree_changes[kh] = hashes[pb] = vh
            o = known.get(pb)
            if o is None:
                b = seen.get(pb)
                if b is not None:
                    o = value_hash(b)
            if o is not None:
                old[kh] = o
        new_root, nodes = smt.update(self.root, tree_changes, old)
        return StateDiff(root=new_root, changes=changes, values=values, nodes=nodes, records=records,
                         hashes=hashes)


@dataclasses.dataclass
class StateDiff:
    root: bytes
    changes: dict[bytes, bytes | None]  # path bytes -> value bytes / None
    values: dict[bytes, bytes]  # value hash -> value bytes
    nodes: dict[bytes, bytes]  # tree node hash -> node bytes
    records: dict[bytes, Any] = dataclasses.field(default_factory=dict)  # path bytes -> the Record written there
    hashes: dict[bytes, bytes | None] = dataclasses.field(default_factory=dict)  # path bytes -> value hash / None
