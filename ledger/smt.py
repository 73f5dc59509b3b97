"""The authenticated state: a sparse Merkle tree over 256-bit keys.

Theory of operation
-------------------
The tree is the binary sparse Merkle tree of Diem/Aptos ("Jellyfish"), with
its one compression rule: a leaf sits at the *shallowest* position on its
key's path where no other key shares the prefix, and an empty subtree hashes
to the constant ``EMPTY_ROOT``.  Position ``depth`` on a key's path is chosen
by bit ``depth`` of the key, most significant bit first (0 = left).

Three kinds of node, and their hashes (``tagged_hash`` of ``ledger.crypto``,
BLAKE3 in derive-key mode, one tag per kind so that no leaf can pass for an
internal node or for the empty subtree)::

    empty     EMPTY_ROOT = tagged_hash("smt empty", b"")      (never stored)
    leaf      tagged_hash("smt leaf", key32 || value_hash32)
    internal  tagged_hash("smt node", left32 || right32)

In a canonical tree an internal node never has an empty child next to a leaf
(the leaf would have been lifted), and never two empty children; it may have
one empty child next to an internal node (two keys that share a long prefix
sit under a chain of such nodes).  The root is therefore a function of the
key/value set alone: not of insertion order, nor of how changes were batched.

Nodes are content-addressed: the store maps ``node hash -> node bytes``.  A
stored node is 65 bytes, a kind byte then the 64 bytes that were hashed::

    leaf      b"\\x01" || key32 || value_hash32
    internal  b"\\x02" || left32 || right32

The fixed layout is canonical by construction (one length, one kind byte, the
hash covers everything after it) and costs two slices to read, which matters
on the hot path; proofs, which cross the wire, use the ledger codec.

Binary rather than 16-ary
-------------------------
JMT stores 16-ary nodes whose hash is computed as a 4-level binary tree over
the 16 children, so proofs keep the binary size (~log2 n siblings) while a
lookup reads ~log16 n nodes.  The price is that touching one child of a
16-ary node re-hashes up to 15 internal binary nodes (or the node must store
its 15 inner hashes), and producing a proof re-hashes the node's other
children.  In Python the cost of an update is interpreter work per hash and
per node; the binary tree does exactly one hash per node on a changed path and
a proof is a list of hashes already in the store.  The 16-ary layout would
win on the number of store reads (~5 instead of ~21 per path for a million
keys; 2-3 times fewer per block), and with LevelDB reads are the larger cost
(see docs/state.md for figures); :class:`TopCache` recovers most of it by
keeping the top 19 levels of the latest tree in memory, so that a path below
them costs ~3 reads at a million keys.  The root of this binary tree equals the root
of a 16-ary layout with binary inner hashing and leaf lifting (as Aptos hashes
its nodes), so a later switch of the *storage* layout would change no state
root and no proof.

Batch updates
-------------
``update`` sorts the changed keys once (as integers, so a bit test is a shift)
and walks the old tree once: at an internal node the sorted range of changes
is split at the node's bit with one ``bisect``; a subtree with no change is
kept by hash without being read; a subtree with one change is walked down and
re-hashed up without recursion; a new subtree is built straight from the
sorted keys (a shared prefix of k bits becomes a chain of k nodes in one
loop).  Work is O(keys touched x depth), never O(state).

Pruning
-------
Nothing is ever deleted in this version: every root ever returned stays
readable.  Pruning by version would be added as JMT does it: ``update`` would
also report the nodes it replaced, and the store would keep a stale-node index
``(version at which the node became stale, node hash)``; pruning below
version v deletes the index entries below v and their nodes.  Because nodes
are content-addressed here, one extra step is needed that JMT (which keys nodes
by version and path) does not: the same node hash can come back in a later
version (a value set back to an old value recreates the same leaf), so a node
is deleted only when its reference count, kept next to the stale index, drops
to zero -- or nodes are keyed by (version, path) as in JMT.

Keys must be hashes (uniform bits): with adversarial keys a path can be 256
nodes deep.  That bounds every operation at 256 levels but costs 256 hashes.
"""

from __future__ import annotations

import dataclasses
import hmac
from bisect import bisect_left
from typing import Callable, ClassVar, Iterator, Mapping

import blake3

from .codec import Bytes, CodecError, List, Nested, Opt, Record
from .crypto import tagged_hash

__all__ = [
    "EMPTY_ROOT",
    "LEAF",
    "INTERNAL",
    "SparseMerkleTree",
    "Proof",
    "ProofLeaf",
    "verify_proof",
    "leaf_hash",
    "internal_hash",
    "MissingNodeError",
    "CorruptNodeError",
    "NodeCache",
    "TopCache",
]

KEY_BITS = 256
NODE_SIZE = 65
LEAF = 1  # kind byte of a stored leaf
INTERNAL = 2  # kind byte of a stored internal node
_EMPTY_KIND = 0
_LEAF_B = b"\x01"
_INT_B = b"\x02"

TAG_LEAF = "smt leaf"
TAG_NODE = "smt node"
TAG_EMPTY = "smt empty"

EMPTY_ROOT: bytes = tagged_hash(TAG_EMPTY, b"")
MAX_PROOF_SIZE = 16 * 1024  # 256 siblings of 34 bytes + a leaf, with room


class MissingNodeError(Exception):
    """A node the tree needs is not in the store (a corrupt or partial db)."""


class CorruptNodeError(MissingNodeError):
    """A node was found but its bytes are not a node."""


# --------------------------------------------------------------------------
# Hashing.  ``tagged_hash`` derives the BLAKE3 key from the context string on
# every call; a hasher prepared once with the context and copied per node
# gives the very same output for about half the cost.  The equivalence is
# checked at import; if it ever failed we would fall back to ``tagged_hash``.
# --------------------------------------------------------------------------


def _prepared(tag: str):
    proto = blake3.blake3(derive_key_context=f"esoc 2026 {tag}")
    probe = bytes(range(64))
    if proto.copy().update(probe).digest() != tagged_hash(tag, probe):  # pragma: no cover
        return None
    return proto.copy


_leaf_copy = _prepared(TAG_LEAF)
_node_copy = _prepared(TAG_NODE)

if _leaf_copy is None or _node_copy is None:  # pragma: no cover - only if crypto changes

    class _Slow:
        __slots__ = ("tag", "data")

        def __init__(self, tag: str):
            self.tag = tag

        def update(self, data: bytes) -> "_Slow":
            self.data = data
            return self

        def digest(self) -> bytes:
            return tagged_hash(self.tag, self.data)

    def _leaf_copy():  # type: ignore[no-redef]
        return _Slow(TAG_LEAF)

    def _node_copy():  # type: ignore[no-redef]
        return _Slow(TAG_NODE)


def leaf_hash(key: bytes, value_hash: bytes) -> bytes:
    """The hash of the leaf binding ``key`` to ``value_hash``."""
    return _leaf_copy().update(key + value_hash).digest()


def internal_hash(left: bytes, right: bytes) -> bytes:
    """The hash of the internal node with children ``left`` and ``right``."""
    return _node_copy().update(left + right).digest()


# --------------------------------------------------------------------------
# Proofs
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProofLeaf(Record):
    """The leaf found at the end of a key's path."""

    SCHEMA: ClassVar = {"key": Bytes(32), "value_hash": Bytes(32)}
    key: bytes
    value_hash: bytes


@dataclasses.dataclass(frozen=True)
class Proof(Record):
    """A proof that a key maps to a value hash, or is absent, under a root.

    ``siblings[i]`` is the hash of the sibling of the path's node at depth
    ``i + 1`` (so ``siblings[0]`` is a child of the root); empty subtrees are
    given as ``EMPTY_ROOT``.  ``leaf`` is the leaf found where the path ends,
    at depth ``len(siblings)``: the key's own leaf (membership), the leaf of
    another key with the same ``len(siblings)``-bit prefix (absence), or
    ``None`` when the path ends in an empty subtree (absence).

    Encoded with the ledger codec, a canonical msgpack map::

        {"leaf": nil | {"key": bin32, "value_hash": bin32},
         "siblings": [bin32, ...]}            # at most 256
    """

    SCHEMA: ClassVar = {
        "leaf": Opt(Nested(ProofLeaf)),
        "siblings": List(Bytes(32), max_len=KEY_BITS),
    }
    leaf: ProofLeaf | None
    siblings: tuple[bytes, ...]

    @classmethod
    def decode(cls, data: bytes, max_size: int = MAX_PROOF_SIZE) -> "Proof":
        return super().decode(data, max_size)


def _is_h32(x) -> bool:
    return type(x) is bytes and len(x) == 32


def verify_proof(root: bytes, key: bytes, value_hash: bytes | None, proof: "Proof | bytes") -> bool:
    """True iff, under ``root``, ``key`` maps to ``value_hash`` (``None``: absent).

    ``proof`` is a :class:`Proof` or its encoded bytes.  Never raises on a
    malformed proof or argument: returns False.
    """
    try:
        if isinstance(proof, (bytes, bytearray, memoryview)):
            try:
                proof = Proof.decode(bytes(proof))
            except CodecError:
                return False
        if not isinstance(proof, Proof):
            return False
        if not (_is_h32(root) and _is_h32(key)):
            return False
        if value_hash is not None and not _is_h32(value_hash):
            return False
        sibs = proof.siblings
        if not isinstance(sibs, (tuple, list)):
            return False
        n = len(sibs)
        if n > KEY_BITS:
            return False
        for s in sibs:
            if not _is_h32(s):
                return False
        leaf = proof.leaf
        if leaf is not None:
            if not isinstance(leaf, ProofLeaf) or not (_is_h32(leaf.key) and _is_h32(leaf.value_hash)):
                return False
        ki = int.from_bytes(key, "big")
        if value_hash is not None:
            if leaf is None or leaf.key != key or leaf.value_hash != value_hash:
                return False
            cur = leaf_hash(key, value_hash)
        elif leaf is None:
            cur = EMPTY_ROOT
        else:
            if leaf.key == key:
                return False
            # the other key must share the path down to where the proof ends,
            # or it is not the leaf sitting on *this* key's path
            diff = ki ^ int.from_bytes(leaf.key, "big")
            if KEY_BITS - diff.bit_length() < n:
                return False
            cur = leaf_hash(leaf.key, leaf.value_hash)
        node_copy = _node_copy
        for i in range(n - 1, -1, -1):
            if (ki >> (255 - i)) & 1:
                cur = node_copy().update(sibs[i] + cur).digest()
            else:
                cur = node_copy().update(cur + sibs[i]).digest()
        return hmac.compare_digest(cur, root)
    except Exception:  # a hand-built Proof with odd fields: no, never raise
        return False


# --------------------------------------------------------------------------
# The tree
# --------------------------------------------------------------------------


def _check_key(key) -> None:
    if type(key) is not bytes or len(key) != 32:
        raise ValueError("a tree key is 32 bytes")


class SparseMerkleTree:
    """Reads committed nodes through ``get_node(hash) -> bytes | None``.

    The tree object holds no state of its own: every call names its root, so
    one object serves every version.  ``update`` never writes: it returns the
    new nodes for the caller to write (in its atomic batch).  To chain several
    updates before writing, read through the pending nodes too, e.g.
    ``SparseMerkleTree(lambda h: pending.get(h) or store.get_node(h))``.
    A plain ``dict`` works as a store: ``SparseMerkleTree(nodes.get)``.
    """

    __slots__ = ("_get_node",)

    def __init__(self, get_node: Callable[[bytes], bytes | None]):
        self._get_node = get_node

    # ---- reading ------------------------------------------------------------

    def _node(self, h: bytes) -> bytes:
        raw = self._get_node(h)
        if raw is None:
            raise MissingNodeError(f"tree node {h.hex()} is not in the store")
        if len(raw) != NODE_SIZE or raw[0] not in (LEAF, INTERNAL):
            raise CorruptNodeError(f"tree node {h.hex()} is malformed ({len(raw)} bytes)")
        return raw

    def get(self, root: bytes, key: bytes) -> bytes | None:
        """The value hash stored under ``key``, or None."""
        _check_key(key)
        ki = int.from_bytes(key, "big")
        node = self._node
        cur = root
        shift = 255
        while cur != EMPTY_ROOT:
            raw = node(cur)
            if raw[0] == LEAF:
                return raw[33:65] if raw[1:33] == key else None
            cur = raw[33:65] if (ki >> shift) & 1 else raw[1:33]
            shift -= 1
        return None

    def prove(self, root: bytes, key: bytes) -> Proof:
        """A proof of the value under ``key``, or of its absence."""
        _check_key(key)
        ki = int.from_bytes(key, "big")
        node = self._node
        sibs: list[bytes] = []
        cur = root
        shift = 255
        while cur != EMPTY_ROOT:
            raw = node(cur)
            if raw[0] == LEAF:
                return Proof(leaf=ProofLeaf(key=raw[1:33], value_hash=raw[33:65]), siblings=tuple(sibs))
            if (ki >> shift) & 1:
                sibs.append(raw[1:33])
                cur = raw[33:65]
            else:
                sibs.append(raw[33:65])
                cur = raw[1:33]
            shift -= 1
        return Proof(leaf=None, siblings=tuple(sibs))

    def iter_leaves(self, root: bytes) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value_hash) under ``root`` in ascending key order.

        O(state): for export and debugging, never for block processing.
        """
        node = self._node
        stack = [root]
        while stack:
            cur = stack.pop()
            if cur == EMPTY_ROOT:
                continue
            raw = node(cur)
            if raw[0] == LEAF:
                yield raw[1:33], raw[33:65]
            else:
                stack.append(raw[33:65])
                stack.append(raw[1:33])

    # ---- writing ------------------------------------------------------------

    def update(self, root: bytes, changes: Mapping[bytes, bytes | None]) -> tuple[bytes, dict[bytes, bytes]]:
        """Apply ``{key32: value_hash32 or None (delete)}`` to the tree at ``root``.

        Returns ``(new_root, new_nodes)``, ``new_nodes`` mapping node hash to
        node bytes for every node created.  Reads the store, writes nothing.
        Deleting an absent key, or setting a key to its current value, is a
        no-op that creates no node.
        """
        if not changes:
            return root, {}
        for k, v in changes.items():
            if type(k) is not bytes or len(k) != 32:
                raise ValueError("a tree key is 32 bytes")
            if v is not None and (type(v) is not bytes or len(v) != 32):
                raise ValueError("a tree value is a 32-byte hash or None")
        batch = _Batch(self._get_node, changes)
        new_root, _ = batch.upd(root, 0, 0, len(batch.keys))
        return new_root, batch.new


# --------------------------------------------------------------------------
# One batch update.  The walk is split at the seams of the algorithm (see
# "Batch updates" above): ``upd`` splits the sorted changes at each internal
# node; ``upd1`` takes one change down a path (``_descend``) and back up
# (``_rise`` while a leaf or nothing may be lifted, ``_rehash`` above);
# ``build``/``build_range`` make a new subtree from sorted keys.  Hot methods
# bind what they use to locals first: an attribute read per node would cost
# more than the hash.
# --------------------------------------------------------------------------


class _Batch:
    """The state of one ``SparseMerkleTree.update``: the sorted changes and the new nodes."""

    __slots__ = ("get_node", "keys", "vals", "ints", "new")

    def __init__(self, get_node: Callable[[bytes], bytes | None], changes: Mapping[bytes, bytes | None]):
        self.get_node = get_node
        self.keys = sorted(changes)
        self.vals = [changes[k] for k in self.keys]
        self.ints = [int.from_bytes(k, "big") for k in self.keys]
        self.new: dict[bytes, bytes] = {}

    def fetch(self, h: bytes) -> bytes:
        """A node by hash, from the store or from this batch's new nodes; raises if absent or malformed."""
        raw = self.get_node(h)
        if raw is None:
            raw = self.new.get(h)
            if raw is None:
                raise MissingNodeError(f"tree node {h.hex()} is not in the store")
        if len(raw) != NODE_SIZE or raw[0] not in (LEAF, INTERNAL):
            raise CorruptNodeError(f"tree node {h.hex()} is malformed ({len(raw)} bytes)")
        return raw

    def kind_of(self, h: bytes) -> int:
        return _EMPTY_KIND if h == EMPTY_ROOT else self.fetch(h)[0]

    def build(self, depth: int, I: list, K: list, V: list, lo: int, hi: int) -> bytes:
        """Hash of the canonical subtree at ``depth`` holding the sorted
        entries ``lo:hi`` (all values present, all sharing ``depth`` bits)."""
        new = self.new
        if hi - lo == 1:
            payload = K[lo] + V[lo]
            h = _leaf_copy().update(payload).digest()
            new[h] = _LEAF_B + payload
            return h
        a = I[lo]
        cpl = KEY_BITS - (a ^ I[hi - 1]).bit_length()  # first bit where they differ
        shift = 255 - cpl
        mid = bisect_left(I, ((a >> shift) | 1) << shift, lo, hi)
        build = self.build
        payload = build(cpl + 1, I, K, V, lo, mid) + build(cpl + 1, I, K, V, mid, hi)
        node_copy = _node_copy
        h = node_copy().update(payload).digest()
        new[h] = _INT_B + payload
        for d in range(cpl - 1, depth - 1, -1):  # the shared prefix: a chain
            payload = (EMPTY_ROOT + h) if (a >> (255 - d)) & 1 else (h + EMPTY_ROOT)
            h = node_copy().update(payload).digest()
            new[h] = _INT_B + payload
        return h

    def build_range(self, depth: int, lo: int, hi: int, extra: tuple | None) -> tuple[bytes, int]:
        """Build from the changes ``lo:hi`` that set a value, plus ``extra``
        (an existing leaf as (int, key, value)), as (hash, kind)."""
        ints, keys, vals = self.ints, self.keys, self.vals
        I, K, V = [], [], []
        for j in range(lo, hi):
            if vals[j] is not None:
                I.append(ints[j])
                K.append(keys[j])
                V.append(vals[j])
        if extra is not None:
            p = bisect_left(I, extra[0])
            I.insert(p, extra[0])
            K.insert(p, extra[1])
            V.insert(p, extra[2])
        if not I:
            return EMPTY_ROOT, _EMPTY_KIND
        return self.build(depth, I, K, V, 0, len(I)), (LEAF if len(I) == 1 else INTERNAL)

    def upd(self, h: bytes, depth: int, lo: int, hi: int) -> tuple[bytes, int]:
        """The changes ``lo:hi`` (sorted, sharing ``depth`` bits) into the subtree ``h``: (hash, kind)."""
        if hi - lo == 1:
            return self.upd1(h, depth, lo)
        if h == EMPTY_ROOT:
            return self.build_range(depth, lo, hi, None)
        raw = self.fetch(h)
        ints = self.ints
        if raw[0] == LEAF:
            lk = raw[1:33]
            li = int.from_bytes(lk, "big")
            p = bisect_left(ints, li, lo, hi)
            extra = None if (p < hi and ints[p] == li) else (li, lk, raw[33:65])
            return self.build_range(depth, lo, hi, extra)
        left = raw[1:33]
        right = raw[33:65]
        shift = 255 - depth
        mid = bisect_left(ints, ((ints[lo] >> shift) | 1) << shift, lo, hi)
        nl, kl = self.upd(left, depth + 1, lo, mid) if mid > lo else (left, -1)
        nr, kr = self.upd(right, depth + 1, mid, hi) if mid < hi else (right, -1)
        if nl == left and nr == right:
            return h, INTERNAL
        return self.join(nl, kl, nr, kr)

    def join(self, nl: bytes, kl: int, nr: bytes, kr: int) -> tuple[bytes, int]:
        """The parent of two new children (kind -1: not known yet), lifting a lone leaf."""
        if nl == EMPTY_ROOT:
            if nr == EMPTY_ROOT:
                return EMPTY_ROOT, _EMPTY_KIND
            if (kr if kr >= 0 else self.kind_of(nr)) == LEAF:
                return nr, LEAF
        elif nr == EMPTY_ROOT:
            if (kl if kl >= 0 else self.kind_of(nl)) == LEAF:
                return nl, LEAF
        payload = nl + nr
        nh = _node_copy().update(payload).digest()
        self.new[nh] = _INT_B + payload
        return nh, INTERNAL

    def upd1(self, h: bytes, depth: int, i: int) -> tuple[bytes, int]:
        """One change (index ``i``) into the subtree ``h``: walk down, then
        re-hash up, without recursion."""
        path: list = []  # sibling hashes from the top; the bits are the key's
        nh, kind = self._descend(h, depth, i, path)
        if kind < 0:  # nothing changes
            return h, (-kind - 1 if not path else INTERNAL)
        ki = self.ints[i]
        shift = 256 - depth - len(path)  # the bit of the deepest step, plus one
        j = len(path) - 1
        if kind != INTERNAL:
            nh, kind, j, shift = self._rise(nh, kind, path, j, ki, shift)
        return self._rehash(nh, path, j, ki, shift), kind

    def _descend(self, h: bytes, depth: int, i: int, path: list) -> tuple[bytes, int]:
        """Walk change ``i`` down from ``h``, pushing siblings on ``path``;
        return the new node where the path ends as (hash, kind), or
        (``h``, -1 - kind of ``h``) when the change is a no-op."""
        ki = self.ints[i]
        v = self.vals[i]
        key = self.keys[i]
        get_node = self.get_node
        new = self.new
        push = path.append
        cur = h
        shift = 255 - depth
        while True:
            if cur == EMPTY_ROOT:
                if v is None:  # deleting an absent key
                    return h, -1 - _EMPTY_KIND
                payload = key + v
                nh = _leaf_copy().update(payload).digest()
                new[nh] = _LEAF_B + payload
                return nh, LEAF
            raw = get_node(cur)
            if raw is None or len(raw) != NODE_SIZE:
                raw = self.fetch(cur)  # raises, unless the node is one of ours
            t = raw[0]
            if t != INTERNAL:
                break
            if (ki >> shift) & 1:
                push(raw[1:33])
                cur = raw[33:65]
            else:
                push(raw[33:65])
                cur = raw[1:33]
            shift -= 1
        if t != LEAF:
            self.fetch(cur)  # raises CorruptNodeError
        return self._at_leaf(h, cur, raw, 255 - shift, i)

    def _at_leaf(self, h: bytes, cur: bytes, raw: bytes, d: int, i: int) -> tuple[bytes, int]:
        """Change ``i`` meets the leaf ``cur`` (bytes ``raw``) at depth ``d``."""
        v = self.vals[i]
        key = self.keys[i]
        lk = raw[1:33]
        if lk == key:
            if v is None:
                return EMPTY_ROOT, _EMPTY_KIND
            payload = lk + v
            nh = _leaf_copy().update(payload).digest()
            if nh == cur:  # same value: nothing changes
                return h, -1 - LEAF
            self.new[nh] = _LEAF_B + payload
            return nh, LEAF
        if v is None:  # deleting an absent key
            return h, -1 - LEAF
        # another key's leaf sits here: split into two leaves
        li = int.from_bytes(lk, "big")
        ki = self.ints[i]
        if li < ki:
            return self.build(d, [li, ki], [lk, key], [raw[33:65], v], 0, 2), INTERNAL
        return self.build(d, [ki, li], [key, lk], [v, raw[33:65]], 0, 2), INTERNAL

    def _rise(self, nh: bytes, kind: int, path: list, j: int, ki: int, shift: int) -> tuple[bytes, int, int, int]:
        """Climb while a leaf, or nothing, may be lifted past empty siblings."""
        new = self.new
        while kind != INTERNAL and j >= 0:
            sib = path[j]
            j -= 1
            bit = (ki >> shift) & 1
            shift += 1
            if sib == EMPTY_ROOT:
                continue
            if kind == _EMPTY_KIND and self.kind_of(sib) == LEAF:
                nh, kind = sib, LEAF
                continue
            payload = (sib + nh) if bit else (nh + sib)
            nh = _node_copy().update(payload).digest()
            new[nh] = _INT_B + payload
            kind = INTERNAL
        return nh, kind, j, shift

    def _rehash(self, nh: bytes, path: list, j: int, ki: int, shift: int) -> bytes:
        """Re-hash the rest of the path up to its top (siblings ``path[j::-1]``)."""
        new = self.new
        node_copy = _node_copy
        while j >= 0:
            sib = path[j]
            j -= 1
            if (ki >> shift) & 1:
                payload = sib + nh
            else:
                payload = nh + sib
            shift += 1
            nh = node_copy().update(payload).digest()
            new[nh] = _INT_B + payload
        return nh


class NodeCache:
    """A bounded read cache in front of a node store (e.g. LevelDB).

    Two generations of plain dicts: a hit in the old one moves the node to
    the young one; when the young one is full it becomes the old one.  The
    nodes near the root, read by every update and proof, so stay in memory;
    the cost of a hit is one or two dict look-ups.  Nodes are immutable
    (content-addressed), so a cache is never stale.  Use ``cache.get`` as the
    tree's ``get_node`` and ``cache.add(new_nodes)`` after the batch is
    written, so that the next block starts from the new top of the tree.
    """

    __slots__ = ("_get_node", "_young", "_old", "_max")

    def __init__(self, get_node: Callable[[bytes], bytes | None], max_entries: int = 200_000):
        self._get_node = get_node
        self._young: dict[bytes, bytes] = {}
        self._old: dict[bytes, bytes] = {}
        self._max = max(1, max_entries // 2)

    def get(self, h: bytes) -> bytes | None:
        raw = self._young.get(h)
        if raw is not None:
            return raw
        raw = self._old.get(h)
        if raw is None:
            raw = self._get_node(h)
            if raw is None:
                return None
        self._put(h, raw)
        return raw

    def _put(self, h: bytes, raw: bytes) -> None:
        young = self._young
        if len(young) >= self._max:
            self._old = young
            young = self._young = {}
        young[h] = raw

    def add(self, nodes: Mapping[bytes, bytes]) -> None:
        """Remember nodes just written (call after the write succeeded)."""
        for h, raw in nodes.items():
            self._put(h, raw)

    def __len__(self) -> int:
        return len(self._young) + len(self._old)


class TopCache:
    """The top ``depth`` levels of the latest tree, kept in memory (the store's node cache).

    An update of k keys in a tree of n reads about log2(n) nodes per key: the
    top log2(k) levels are shared by the batch, the levels below are one
    store read per key per level.  A cache that keeps whatever was read last
    (``NodeCache``) holds little of those: the keys of one block are random,
    so the next block's paths below the shared top miss.  This cache keeps,
    instead, *every* node at depth <= ``depth`` of the latest root (at most
    ``2^(depth+1)`` of them, ~200 bytes each in CPython): ``warm`` loads them
    once (when the store opens), ``advance`` swaps in each block's new top
    nodes and drops the ones they replace, so a path costs store reads only
    below ``depth``.  A node deeper down, or of an older root, is read from
    the store and not kept.

    Nodes are content-addressed, so an entry is never wrong; one left behind
    (after an ``advance`` from a root the cache did not hold) only costs memory, and the cache
    is emptied (and warmed again by the next ``warm``) if it ever holds more
    than 1.5 times its bound.
    """

    __slots__ = ("_get_node", "_top", "depth", "_cap")

    def __init__(self, get_node: Callable[[bytes], bytes | None], depth: int = 17):
        if not 0 <= depth < KEY_BITS:
            raise ValueError("depth out of range")
        self._get_node = get_node
        self._top: dict[bytes, bytes] = {}
        self.depth = depth
        self._cap = 3 << depth  # 1.5 times the bound

    def get(self, h: bytes) -> bytes | None:
        raw = self._top.get(h)
        if raw is None:
            return self._get_node(h)
        return raw

    def warm(self, root: bytes) -> int:
        """Load the nodes at depth <= ``depth`` under ``root``; returns how many were read."""
        top = self._top
        get_node = self._get_node
        D = self.depth
        level = [root]
        n = 0
        for d in range(D + 1):
            nxt = []
            for h in level:
                if h == EMPTY_ROOT:
                    continue
                raw = top.get(h)
                if raw is None:
                    raw = get_node(h)
                    if raw is None or len(raw) != NODE_SIZE:
                        continue  # a partial store: the tree's own reads will raise
                    top[h] = raw
                    n += 1
                if d < D and raw[0] == INTERNAL:
                    nxt.append(raw[1:33])
                    nxt.append(raw[33:65])
            level = nxt
        return n

    def advance(self, old_root: bytes, new_root: bytes, new_nodes: Mapping[bytes, bytes]) -> None:
        """After the batch that took ``old_root`` to ``new_root`` is written: keep its new top nodes.

        Walks the old and the new tree side by side, position by position, only where they differ
        (O(new top nodes)): the old node at a position is dropped, the new one kept.
        """
        top = self._top
        if len(top) > self._cap:
            top.clear()
        D = self.depth
        get = top.get
        gone: list[bytes] = []
        came: dict[bytes, bytes] = {}
        stack = [(new_root, old_root, 0)]
        while stack:
            nh, oh, d = stack.pop()
            if nh == oh:
                continue
            oraw = None
            if oh != EMPTY_ROOT:
                oraw = get(oh)
                gone.append(oh)
            nraw = None
            if nh != EMPTY_ROOT:
                nraw = new_nodes.get(nh)
                if nraw is None:  # an old leaf in a new place (lifted, or pushed down by a split)
                    nraw = get(nh) or self._get_node(nh)
                if nraw is not None:
                    came[nh] = nraw
            if d < D:
                nl = nr = ol = or_ = EMPTY_ROOT
                if nraw is not None and nraw[0] == INTERNAL:
                    nl, nr = nraw[1:33], nraw[33:65]
                if oraw is not None and oraw[0] == INTERNAL:
                    ol, or_ = oraw[1:33], oraw[33:65]
                stack.append((nl, ol, d + 1))
                stack.append((nr, or_, d + 1))
        for h in gone:
            top.pop(h, None)
        top.update(came)

    def __len__(self) -> int:
        return len(self._top)
