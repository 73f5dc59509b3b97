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
keeping the top 21 levels of the latest tree in memory as position-indexed
hash arrays, so that a path below them costs ~2-3 reads at a million keys.
The root of this binary tree equals the root
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

A caller that knows what a changed key holds now (the state read the old
value to change it) may say so: ``update(root, changes, old={key: value
hash})``.  The leaf ``leaf_hash(key, old[key])`` is then known without a
store read -- its bytes are its hash's preimage -- and at a million keys
that is ~10,000 LevelDB reads fewer in a block of 5,000 transfers.  Nodes
are content-addressed, so the hint cannot mislead: a wrong or stale hash
names a node that is not in the tree, which the walk then never asks for,
and the leaf is read as without it.

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
import mmap
import threading
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

    With ``top`` (a :class:`TopCache`), a call whose root is the one the top
    holds does the top levels in memory (an update records the top's change
    for ``top.advance``); any other root is read from ``get_node`` alone.
    """

    __slots__ = ("_get_node", "_top")

    def __init__(self, get_node: Callable[[bytes], bytes | None], top: "TopCache | None" = None):
        self._get_node = get_node
        self._top = top

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
        top = self._top
        if top is not None:
            cur, shift = top.start(root, ki)
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
        top = self._top
        if top is not None:
            cur, shift = top.descend(root, ki, sibs)
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

    def update(self, root: bytes, changes: Mapping[bytes, bytes | None],
               old: Mapping[bytes, bytes] | None = None) -> tuple[bytes, dict[bytes, bytes]]:
        """Apply ``{key32: value_hash32 or None (delete)}`` to the tree at ``root``.

        Returns ``(new_root, new_nodes)``, ``new_nodes`` mapping node hash to
        node bytes for every node created.  Reads the store, writes nothing.
        Deleting an absent key, or setting a key to its current value, is a
        no-op that creates no node.

        ``old`` (optional) maps changed keys to the value hash the caller
        believes they hold under ``root`` (the state read the old value): the
        leaf ``leaf_hash(key, old[key])`` is then known without a store read,
        its bytes being its hash's preimage.  A hint only: nodes are
        content-addressed, so a wrong or stale hash names a node that is not
        in the tree and the leaf is read from the store as without it.
        """
        if not changes:
            return root, {}
        for k, v in changes.items():
            if type(k) is not bytes or len(k) != 32:
                raise ValueError("a tree key is 32 bytes")
            if v is not None and (type(v) is not bytes or len(v) != 32):
                raise ValueError("a tree value is a 32-byte hash or None")
        batch = _Batch(self._get_node, changes, old)
        top = self._top
        if top is not None:
            new_root = top.update(root, batch)
            if new_root is not None:
                return new_root, batch.new
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

    __slots__ = ("get_node", "keys", "vals", "ints", "new", "known")

    def __init__(self, get_node: Callable[[bytes], bytes | None], changes: Mapping[bytes, bytes | None],
                 old: Mapping[bytes, bytes] | None = None):
        self.keys = sorted(changes)
        self.vals = [changes[k] for k in self.keys]
        self.ints = [int.from_bytes(k, "big") for k in self.keys]
        self.new: dict[bytes, bytes] = {}
        # nodes of the old tree known without a store read: the leaves of the changed keys' old values
        # (their bytes are their hash's preimage).  Content-addressed: an entry is right whatever the
        # tree holds; one that is not in the tree is never asked for.
        known: dict[bytes, bytes] = {}
        if old:
            leaf_copy = _leaf_copy
            for k in self.keys:
                vh = old.get(k)
                if type(vh) is bytes and len(vh) == 32:
                    payload = k + vh
                    known[leaf_copy().update(payload).digest()] = _LEAF_B + payload
        self.known = known
        if not known:
            self.get_node = get_node
            return
        kget = known.get

        def get(h: bytes) -> bytes | None:
            raw = kget(h)
            return raw if raw is not None else get_node(h)

        self.get_node = get

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


_ZERO32 = bytes(32)
_UNKNOWN = 3  # kind of a non-empty position at the deepest level whose node has not been read
MAX_TOP_DEPTH = 24  # 2^25 positions x 33 bytes = 1.1 GB: past any sensible cache


def _levels(depth: int) -> tuple[list, list]:
    """Zeroed per-level arrays of hashes (32 bytes a position) and kinds (1 byte): private anonymous
    maps, so that pages never written cost no memory (a small tree touches a few of them)."""
    flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
    return ([mmap.mmap(-1, 32 << d, flags=flags) for d in range(depth + 1)],
            [mmap.mmap(-1, 1 << d, flags=flags) for d in range(depth + 1)])


def _read_node(get_node: Callable[[bytes], bytes | None], h: bytes) -> bytes:
    raw = get_node(h)
    if raw is None:
        raise MissingNodeError(f"tree node {h.hex()} is not in the store")
    if len(raw) != NODE_SIZE or raw[0] not in (LEAF, INTERNAL):
        raise CorruptNodeError(f"tree node {h.hex()} is malformed ({len(raw)} bytes)")
    return raw


class TopCache:
    """The top ``depth + 1`` levels of one tree (the latest), by position: the store's tree cache.

    Position ``(d, p)`` is the subtree of the keys whose first ``d`` bits are ``p``; level ``d``
    is two arrays indexed by ``p``: the subtree's hash (32 bytes) and its kind (one byte: 0 empty,
    1 one key, 2 two keys or more; 3 not empty, its node not read yet, so that above the deepest
    level the positions under it are not loaded and read nothing; empty positions hold zeros).
    A one-key subtree's hash is its leaf's, wherever the leaf sits (it is lifted to the
    shallowest position where it is alone), so the arrays hold the definition of the tree's
    hash directly: ``H(S) = EMPTY_ROOT, leaf_hash(k, v), internal_hash(H(S0), H(S1))`` for
    0, 1, 2+ keys.  At ``depth = 20`` that is 2^21 positions, 69 MB, and no dict, no node bytes.

    Rules:

    1. The arrays hold the top of the tree ``root`` and of no other (``root`` is None: cold,
       holding nothing).  Every read checks its root against ``root``; any other root -- an
       older height, a proof of the past -- is read from the store alone.  A new cache holds
       the empty tree; ``warm(root)`` loads a tree's top down to ``warm_depth`` (default
       ``depth - 1``; it reads every node above that level: ~520,000 at a million keys and
       ``warm_depth`` 19, as many as the dict cache of depth 18 did; the store warms to
       ``depth``: 945,791 nodes, ~1.4 s of CPU more, and no block loads anything).  Below a
       position of unknown kind nothing is loaded; an update loads what its paths need (rule 2),
       in place: that adds facts of the same root, so blocks fill the levels
       below ``warm_depth`` as they touch them.
    2. ``SparseMerkleTree(get_node, top=cache).update(root, ...)`` with ``root == cache.root``
       does the levels ``<= depth`` in the arrays: each changed key's subtree at the deepest
       level is updated by the batch walk (reading the store below it), then the changed
       positions are re-hashed level by level up to the root, children read by slicing.  It
       writes nothing into the arrays (the block may never be committed: a proposal refused,
       a second round): it records the changes (positions, hashes, kinds), keyed by
       ``(root, new_root)``, at most ``max_pending`` of them.  Only the levels from
       ``warm_depth`` down are read from the store, each node once for a root.
    3. ``advance(old_root, new_root, new_nodes)`` after the batch is accepted writes the
       recorded changes in place (no walk, no read, no hash); without a record (the update ran
       elsewhere, or was dropped) it walks the new tree where it differs from the arrays,
       reading ``new_nodes`` and then the store.  If the cache does not hold ``old_root`` it is
       left as it is (still right for the root it holds).  A store reopened after a crash starts
       with the empty tree and warms again: the cache is memory only.
    4. Threads: one lock.  Reads (``start``, ``descend``, ``update``) hold it while they use
       the arrays, writers (``advance``, the swap at the end of ``warm``) while they change
       them, so ``advance`` may run on another thread than the reads.  ``update`` holds it for
       its whole walk (~0.2 s at a million keys), during which proofs of the latest root wait.
       ``advance`` needs no I/O on the fast path: call it as soon as the block's state is
       accepted (before the next block's update, or that update reads everything from the
       store); the nodes of ``new_root`` below the top must then be readable by ``get_node``.
       ``expects(root)`` tells a caller about to warm that an ``advance`` to ``root`` is due.
    """

    __slots__ = ("_get_node", "depth", "warm_depth", "root", "_h", "_k", "_pending", "_lock", "max_pending",
                 "warmed")

    def __init__(self, get_node: Callable[[bytes], bytes | None], depth: int = 20, max_pending: int = 4,
                 warm_depth: int | None = None):
        if not 0 <= depth <= MAX_TOP_DEPTH:
            raise ValueError("depth out of range")
        self._get_node = get_node
        self.depth = depth
        self.warm_depth = depth - 1 if warm_depth is None else min(max(warm_depth, 0), depth)
        self._h, self._k = _levels(depth)
        self.root: bytes | None = EMPTY_ROOT  # zeroed arrays: the top of the empty tree
        self._pending: dict[tuple[bytes, bytes], list] = {}
        self._lock = threading.Lock()
        self.max_pending = max(1, max_pending)
        self.warmed = 0  # nodes read by the last warm

    def expects(self, root: bytes) -> bool:
        """True if the cache holds ``root``, or holds a recorded change to it (an ``advance`` to
        ``root`` is on its way, perhaps from another thread): then a warm would be wasted."""
        with self._lock:
            cur = self.root
            return cur == root or (cur is not None and (cur, root) in self._pending)

    @property
    def nbytes(self) -> int:
        """The arrays' size (their pages cost memory once written)."""
        return 33 * ((2 << self.depth) - 1)

    # ---- reads (rule 1) ---------------------------------------------------------

    def start(self, root: bytes, ki: int) -> tuple[bytes, int]:
        """Where a lookup of key ``ki`` under ``root`` goes on: (subtree hash, shift of its bit):
        the last position on its path the cache knows, if it holds ``root``, else (``root``, 255)."""
        with self._lock:
            if root != self.root:
                return root, 255
            K = self._k
            D = self.depth
            p = d = 0
            while d < D and K[d][p] == INTERNAL:
                d += 1
                p = ki >> (KEY_BITS - d)
            if not K[d][p]:
                return EMPTY_ROOT, 255 - d
            o = p << 5
            return self._h[d][o:o + 32], 255 - d

    def descend(self, root: bytes, ki: int, sibs: list) -> tuple[bytes, int]:
        """As ``start``, for a proof: push the path's siblings down to where the path leaves the
        top (its end, if shallower)."""
        with self._lock:
            if root != self.root:
                return root, 255
            H, K = self._h, self._k
            D = self.depth
            p = d = 0
            while d < D and K[d][p] == INTERNAL:
                q = (p << 1) | ((ki >> (255 - d)) & 1)
                s = q ^ 1
                d += 1
                if K[d][s]:
                    o = s << 5
                    sibs.append(H[d][o:o + 32])
                else:
                    sibs.append(EMPTY_ROOT)
                p = q
            if not K[d][p]:
                return EMPTY_ROOT, 255 - d
            o = p << 5
            return H[d][o:o + 32], 255 - d

    # ---- the update (rule 2) ----------------------------------------------------

    def update(self, root: bytes, batch: "_Batch") -> bytes | None:
        """The new root of ``batch`` applied to ``root`` through the arrays, its changes recorded;
        None if the cache does not hold ``root``."""
        with self._lock:
            if root != self.root:
                return None
            new_root, delta = self._walk(root, batch)
            if new_root != root:
                pend = self._pending
                pend.pop((root, new_root), None)
                while len(pend) >= self.max_pending:
                    del pend[next(iter(pend))]  # the oldest
                pend[(root, new_root)] = delta
            return new_root

    def _walk(self, root: bytes, batch: "_Batch") -> tuple[bytes, list]:
        D = self.depth
        H, K = self._h, self._k
        ints = batch.ints
        n = len(ints)
        upd = batch.upd
        sh = KEY_BITS - D
        HD, KD = H[D], K[D]
        P: list = []
        NH: list = []
        NK: list = []
        i = 0
        W = self.warm_depth
        KL = K[D - 1] if W == D - 1 else None
        load = self._load
        while i < n:  # the deepest level: each changed subtree by the batch walk
            p = ints[i] >> sh
            j = i + 1
            if j < n and ints[j] >> sh == p:
                j = bisect_left(ints, (p + 1) << sh, j, n)
            if W < D and (KL is None or KL[p >> 1] == _UNKNOWN):
                load(p, batch.get_node)
            if KD[p]:
                o = p << 5
                h = HD[o:o + 32]
            else:
                h = EMPTY_ROOT
            nh, nk = upd(h, D, i, j)
            if nh != h:
                P.append(p)
                NH.append(nh)
                NK.append(nk)
            i = j
        delta = [(P, NH, NK)]
        for d in range(D - 1, -1, -1):
            P, NH, NK = self._level_up(H[d + 1], K[d + 1], P, NH, NK, batch)
            delta.append((P, NH, NK))
        return (NH[0] if P else root), delta

    @staticmethod
    def _level_up(Hc, Kc, P: list, NH: list, NK: list, batch: "_Batch") -> tuple[list, list, list]:
        """The parents of the changed positions ``P`` (ascending) of one level: (positions, hashes, kinds)."""
        new = batch.new
        node_copy = _node_copy
        QP: list = []
        QH: list = []
        QK: list = []
        m = len(P)
        i = 0
        while i < m:
            p = P[i]
            if p & 1:  # a right child whose left sibling did not change
                rh = NH[i]
                rk = NK[i]
                lk = Kc[p - 1]
                if lk:
                    o = (p - 1) << 5
                    lh = Hc[o:o + 32]
                else:
                    lh = EMPTY_ROOT
                i += 1
            else:
                lh = NH[i]
                lk = NK[i]
                i += 1
                if i < m and P[i] == p + 1:
                    rh = NH[i]
                    rk = NK[i]
                    i += 1
                else:
                    rk = Kc[p + 1]
                    if rk:
                        o = (p + 1) << 5
                        rh = Hc[o:o + 32]
                    else:
                        rh = EMPTY_ROOT
            if lk and rk:
                payload = lh + rh
                ph = node_copy().update(payload).digest()
                new[ph] = _INT_B + payload
                pk = INTERNAL
            elif lk or rk:  # one child: a leaf is lifted, a subtree of two keys or more is not
                ph, pk = (lh, lk) if lk else (rh, rk)
                if pk == _UNKNOWN:
                    pk = batch.kind_of(ph)
                if pk != LEAF:
                    payload = lh + rh
                    ph = node_copy().update(payload).digest()
                    new[ph] = _INT_B + payload
                    pk = INTERNAL
            else:
                ph, pk = EMPTY_ROOT, _EMPTY_KIND
            QP.append(p >> 1)
            QH.append(ph)
            QK.append(pk)
        return QP, QH, QK

    def _load(self, p: int, get_node: Callable) -> None:
        """Make the path to the deepest level's position ``p`` known (rule 1): top down from the
        warmed depth, read each node on it whose children are not loaded yet (kind unknown above the
        deepest level) and write its children.  Facts of the root held, written in place.  Reads
        through ``get_node`` (the batch's: a node it knows is not read from the store)."""
        H, K = self._h, self._k
        D = self.depth
        for d in range(self.warm_depth, D):
            q = p >> (D - d)
            k = K[d][q]
            if k == INTERNAL:
                continue
            if k != _UNKNOWN:
                if k == LEAF:  # a leaf: make sure it is written down its path
                    self._leaf_down(d, q, get_node)
                return  # empty, or a leaf written down its path
            o = q << 5
            h = H[d][o:o + 32]
            raw = _read_node(get_node, h)
            K[d][q] = raw[0]
            if raw[0] == LEAF:
                li = int.from_bytes(raw[1:33], "big")
                for e in range(d + 1, D + 1):
                    r = li >> (KEY_BITS - e)
                    H[e][r << 5:(r << 5) + 32] = h
                    K[e][r] = LEAF
                return
            c = q << 1
            Hc, Kc = H[d + 1], K[d + 1]
            for cc, ch in ((c, raw[1:33]), (c | 1, raw[33:65])):
                if ch != EMPTY_ROOT:
                    Hc[cc << 5:(cc << 5) + 32] = ch
                    Kc[cc] = _UNKNOWN

    def _leaf_down(self, d: int, q: int, get_node: Callable) -> None:
        """The leaf at position ``(d, q)`` stands for its one-key subtree down its key's path to the
        deepest level: write it there if it is not.  A leaf lifted by an update (its sibling
        subtree emptied) comes from a position of unknown kind, whose path below was never
        written: without this, its key's deepest position would read as empty (a delete or an
        update of that key would change nothing)."""
        H, K = self._h, self._k
        D = self.depth
        h = H[d][q << 5:(q << 5) + 32]
        e, r = d, q
        while e < D:  # follow the child holding the same hash
            c = r << 1
            Hn, Kn = H[e + 1], K[e + 1]
            if Kn[c] and Hn[c << 5:(c << 5) + 32] == h:
                r = c
            elif Kn[c | 1] and Hn[(c | 1) << 5:((c | 1) << 5) + 32] == h:
                r = c | 1
            else:
                break
            e += 1
            if Kn[r] != LEAF:
                break
        if e == D and K[D][r] == LEAF:
            return  # written down to the deepest level
        raw = _read_node(get_node, h)
        if raw[0] != LEAF:
            raise CorruptNodeError(f"tree node {h.hex()} is cached as a leaf but is not one")
        li = int.from_bytes(raw[1:33], "big")
        for e in range(d + 1, D + 1):
            r = li >> (KEY_BITS - e)
            H[e][r << 5:(r << 5) + 32] = h
            K[e][r] = LEAF

    # ---- writers (rules 1 and 3) --------------------------------------------------

    def advance(self, old_root: bytes, new_root: bytes, new_nodes: Mapping[bytes, bytes]) -> None:
        """The batch that took ``old_root`` to ``new_root`` (creating ``new_nodes``) is accepted:
        if the cache holds ``old_root``, make it hold ``new_root``."""
        with self._lock:
            delta = self._pending.pop((old_root, new_root), None)
            if self.root == old_root and new_root != old_root:
                if delta is not None:
                    self._apply(delta)
                    self.root = new_root
                else:
                    get_node = self._get_node
                    self.root = None  # while the arrays are half-written
                    try:
                        self._fill(self._h, self._k, new_root, lambda h: new_nodes.get(h) or get_node(h),
                                   new_nodes.get, self.depth)
                        self.root = new_root
                    except MissingNodeError:
                        pass  # stays cold; the next warm loads the top again
            cur = self.root
            for key in [k for k in self._pending if k[0] != cur]:
                del self._pending[key]  # recorded from another root: can never apply now

    def _apply(self, delta: list) -> None:
        H, K = self._h, self._k
        d = self.depth
        zero = _ZERO32
        for P, NH, NK in delta:
            Hd, Kd = H[d], K[d]
            for p, h, k in zip(P, NH, NK):
                o = p << 5
                Hd[o:o + 32] = h if k else zero
                Kd[p] = k
            d -= 1

    def warm(self, root: bytes) -> int:
        """Load the top of the tree ``root`` into fresh arrays; returns how many nodes were read.
        A partial store (a node missing) leaves the cache cold: the tree's own reads will raise."""
        H, K = _levels(self.depth)
        with self._lock:  # the old arrays go now, so that at most one set is in memory
            self.root = None
            self._h, self._k = H, K
            self._pending.clear()
        try:
            n = self._warm_fill(H, K, root)
        except MissingNodeError:
            return 0
        with self._lock:
            if self._h is H:  # not replaced by another warm meanwhile
                self.root = root
        self.warmed = n
        return n

    def _warm_fill(self, H: list, K: list, root: bytes) -> int:
        """``_fill`` into zeroed arrays down to ``warm_depth``, level by level: the same result, but
        no comparison with what the arrays held, no empty position visited, and each level built
        as a list and written in one slice."""
        D = self.depth
        W = self.warm_depth
        get_node = self._get_node
        zero = _ZERO32
        P: list = [] if root == EMPTY_ROOT else [0]  # the positions to read, and their hashes
        Hs: list = [root] * len(P)
        leaves: list = []  # (position, hash, bytes) of leaves carried down their paths
        n = 0
        for d in range(W + 1):
            if not P and not leaves:
                break
            hashes = [zero] * (1 << d)
            kinds = bytearray(1 << d)
            NP: list = []
            NH: list = []
            if d == W:
                for p, h in zip(P, Hs):
                    if h != EMPTY_ROOT:
                        hashes[p] = h
                        kinds[p] = _UNKNOWN
                P = []
            for p, h in zip(P, Hs):
                if h == EMPTY_ROOT:  # an internal node's empty child (next to an internal node)
                    continue
                hashes[p] = h
                raw = get_node(h)
                if raw is None or len(raw) != NODE_SIZE:
                    _read_node(get_node, h)  # raises
                n += 1
                k = raw[0]
                if k == INTERNAL:
                    kinds[p] = INTERNAL
                    c = p << 1
                    NP += (c, c | 1)
                    NH += (raw[1:33], raw[33:65])
                elif k == LEAF:
                    leaves.append((p, h, raw))
                else:
                    _read_node(get_node, h)  # raises: not a node
            carried = []
            for p, h, raw in leaves:  # a leaf stands for its one-key subtree down its key's path
                hashes[p] = h
                kinds[p] = LEAF
                if d < W:
                    carried.append(((p << 1) | ((raw[1 + (d >> 3)] >> (7 - (d & 7))) & 1), h, raw))
                else:  # below the warmed depth, straight into the arrays
                    li = int.from_bytes(raw[1:33], "big")
                    for e in range(d + 1, D + 1):
                        r = li >> (KEY_BITS - e)
                        H[e][r << 5:(r << 5) + 32] = h
                        K[e][r] = LEAF
            H[d][:32 << d] = b"".join(hashes)
            K[d][:1 << d] = kinds
            P, Hs, leaves = NP, NH, carried
        return n

    def _fill(self, H: list, K: list, root: bytes, get_node: Callable, peek: Callable | None, stop: int) -> int:
        """Write into ``H``, ``K`` (the top of some tree, or zeros) the top of ``root`` down to level
        ``stop``, only where they differ; reads every new node above ``stop`` with ``get_node``, and
        there only ``peek``s (a node not found has kind unknown, its children are not written; a
        leaf is written down its path to the deepest level).  Returns how many nodes were read."""
        D = self.depth
        n = 0
        stack = [(0, 0, root, None)]
        pop = stack.pop
        push = stack.append
        zero = _ZERO32
        while stack:
            d, p, h, raw = pop()
            Hd, Kd = H[d], K[d]
            o = p << 5
            if (Hd[o:o + 32] if Kd[p] else EMPTY_ROOT) == h:
                continue  # the same subtree: the same below
            if h == EMPTY_ROOT:
                k = _EMPTY_KIND
            else:
                if raw is None:
                    if d < stop:
                        raw = _read_node(get_node, h)
                        n += 1
                    elif peek is not None:
                        raw = peek(h)
                k = raw[0] if raw is not None else _UNKNOWN
            Hd[o:o + 32] = h if k else zero
            Kd[p] = k
            if d < D and k != _UNKNOWN:
                c = p << 1
                if k == INTERNAL:
                    push((d + 1, c, raw[1:33], None))
                    push((d + 1, c | 1, raw[33:65], None))
                elif k == LEAF:  # the leaf stands for its one-key subtree down the key's path
                    bit = (raw[1 + (d >> 3)] >> (7 - (d & 7))) & 1
                    push((d + 1, c | bit, h, raw))
                    push((d + 1, c | (bit ^ 1), EMPTY_ROOT, None))
                else:
                    push((d + 1, c, EMPTY_ROOT, None))
                    push((d + 1, c | 1, EMPTY_ROOT, None))
        return n
