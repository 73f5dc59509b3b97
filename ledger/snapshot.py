"""State snapshots: the whole state at one height, in chunks a new node checks one by one.

Theory of operation
-------------------
A node joining a long chain need not replay it (CometBFT's state sync is the
model): it fetches the state at a recent height ``H`` from a peer and checks
it against the ``state_root`` of header ``H``, a header it verified (its
commit signed by more than 2/3 of the validators, ``ledger.block``).  Here
the check is made **chunk by chunk**, so a bad peer is caught on the first bad
chunk, not after a download of the whole state:

* The key space of the state tree (``ledger/smt.py``) is cut at depth ``d``
  into ``2^d`` positions; chunk ``i`` holds every state entry whose tree key
  (``key_hash(path bytes)``) starts with the ``d`` bits of ``i``, as
  ``[path bytes, value bytes]`` pairs in ascending key order.
* The **manifest** lists, per position, the hash of the canonical subtree of
  those keys, its kind (empty, leaf, internal) and its number of entries.
  Folding the ``2^d`` subtree hashes up ``d`` levels, with the tree's own rule
  (a leaf beside an empty subtree rises), gives the root; the manifest is
  accepted only if that root is the verified header's ``state_root``.
* A chunk is accepted only if its entries, hashed and built into a subtree at
  depth ``d``, give the manifest's hash for its position (so every byte of a
  path and of a value is bound to the root), with the right count and every
  key under the right prefix.  A chunk's tree nodes are then final: they are
  the very nodes of the state tree under that position.

``d`` is chosen so a chunk holds about ``TARGET_CHUNK_ENTRIES`` entries (a
million accounts: ``d = 9``, 512 chunks of ~2,000 entries, ~200 KB each).
Positions with no entries have no chunk to fetch.

The module is pure (no I/O): :func:`make_snapshot` builds from any iterable
of ``(path bytes, value bytes)``; :class:`Restorer` checks and collects;
``write_*`` put the result into a :class:`~ledger.store.ChainStore` (state
rows, value rows, tree nodes, then, in one synced batch, the block ``H``,
its commit, the root and the height: a store is complete or not at all).
"""

from __future__ import annotations

import dataclasses
from typing import Iterable

from .codec import CodecError, decode, encode
from .smt import EMPTY_ROOT, INTERNAL, LEAF, _Batch, internal_hash
from .state import key_hash, value_hash

FORMAT = 1
TARGET_CHUNK_ENTRIES = 2048
MAX_DEPTH = 16  # 65,536 chunks at most; a manifest of ~2.6 MB
MAX_CHUNK_BYTES = 12 * 1024 * 1024  # below gRPC's 16 MB message limit
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
EMPTY = 0


class SnapshotError(ValueError):
    """A manifest or chunk that does not check out against the verified root."""


def depth_for(n_entries: int) -> int:
    d = 0
    while d < MAX_DEPTH and (n_entries >> d) > TARGET_CHUNK_ENTRIES:
        d += 1
    return d


@dataclasses.dataclass(frozen=True)
class Manifest:
    height: int
    root: bytes
    depth: int
    entries: tuple  # per position: (subtree hash, kind, count)

    def encode(self) -> bytes:
        return encode({"format": FORMAT, "height": self.height, "root": self.root, "depth": self.depth,
                       "entries": [list(e) for e in self.entries]})

    @classmethod
    def decode(cls, data: bytes) -> "Manifest":
        try:
            obj = decode(data, max_size=MAX_MANIFEST_BYTES)
            if not isinstance(obj, dict) or set(obj) != {"format", "height", "root", "depth", "entries"}:
                raise SnapshotError("a manifest is a map of format, height, root, depth, entries")
            if obj["format"] != FORMAT:
                raise SnapshotError(f"snapshot format {obj['format']} is not {FORMAT}")
            depth, entries = obj["depth"], obj["entries"]
            if type(depth) is not int or not 0 <= depth <= MAX_DEPTH or len(entries) != 1 << depth:
                raise SnapshotError("manifest depth and number of entries do not agree")
            out = []
            for e in entries:
                if (not isinstance(e, list) or len(e) != 3 or type(e[0]) is not bytes or len(e[0]) != 32
                        or e[1] not in (EMPTY, LEAF, INTERNAL) or type(e[2]) is not int or e[2] < 0):
                    raise SnapshotError("a manifest entry is [hash32, kind, count]")
                out.append((e[0], e[1], e[2]))
            if type(obj["height"]) is not int or type(obj["root"]) is not bytes or len(obj["root"]) != 32:
                raise SnapshotError("bad manifest height or root")
            return cls(obj["height"], obj["root"], depth, tuple(out))
        except CodecError as e:
            raise SnapshotError(f"malformed manifest: {e}") from None

    @property
    def chunks_to_fetch(self) -> list[int]:
        return [i for i, e in enumerate(self.entries) if e[2] > 0]


def fold(entries, depth: int) -> tuple[bytes, dict[bytes, bytes]]:
    """The root above ``2^depth`` subtrees (hash, kind, ...), and the nodes made on the way."""
    level = [(e[0], e[1]) for e in entries]
    nodes: dict[bytes, bytes] = {}
    for _ in range(depth):
        up = []
        for j in range(0, len(level), 2):
            (hl, kl), (hr, kr) = level[j], level[j + 1]
            if kl == EMPTY and kr == EMPTY:
                up.append((EMPTY_ROOT, EMPTY))
            elif kl == EMPTY and kr == LEAF:
                up.append((hr, LEAF))
            elif kr == EMPTY and kl == LEAF:
                up.append((hl, LEAF))
            else:
                h = internal_hash(hl, hr)
                nodes[h] = b"\x02" + hl + hr
                up.append((h, INTERNAL))
        level = up
    return level[0][0], nodes


def _subtree(depth: int, items: list[tuple[int, bytes, bytes]]) -> tuple[bytes, int, dict[bytes, bytes]]:
    """(hash, kind, nodes) of the canonical subtree at ``depth`` of sorted (key int, key, value hash)."""
    if not items:
        return EMPTY_ROOT, EMPTY, {}
    b = _Batch(lambda h: None, {})
    h = b.build(depth, [x[0] for x in items], [x[1] for x in items], [x[2] for x in items], 0, len(items))
    return h, (LEAF if len(items) == 1 else INTERNAL), b.new


def make_snapshot(height: int, rows: Iterable[tuple[bytes, bytes]], n_entries: int | None = None) -> tuple[Manifest, list[bytes | None]]:
    """Manifest and chunk bytes (None where a position is empty) of the state ``rows`` at ``height``."""
    rows = list(rows) if n_entries is None else rows
    d = depth_for(len(rows) if n_entries is None else n_entries)  # type: ignore[arg-type]
    buckets: list[list] = [[] for _ in range(1 << d)]
    shift = 256 - d
    for pb, v in rows:
        k = key_hash(pb)
        ki = int.from_bytes(k, "big")
        buckets[ki >> shift if d else 0].append((ki, k, pb, v))
    entries, chunks = [], []
    for bucket in buckets:
        bucket.sort()
        h, kind, _ = _subtree(d, [(ki, k, value_hash(v)) for ki, k, _, v in bucket])
        entries.append((h, kind, len(bucket)))
        chunks.append(encode([[pb, v] for _, _, pb, v in bucket]) if bucket else None)
    root, _ = fold(entries, d)
    return Manifest(height, root, d, tuple(entries)), chunks


class Restorer:
    """Checks a manifest against a verified root, then each chunk against the manifest."""

    def __init__(self, manifest: Manifest, verified_root: bytes, verified_height: int):
        if manifest.height != verified_height:
            raise SnapshotError(f"manifest is for height {manifest.height}, not {verified_height}")
        root, self.top_nodes = fold(manifest.entries, manifest.depth)
        if root != verified_root or manifest.root != verified_root:
            raise SnapshotError("manifest does not fold to the verified state root")
        self.manifest = manifest
        self.done: set[int] = set()

    def check_chunk(self, index: int, data: bytes) -> tuple[list[tuple[bytes, bytes]], dict[bytes, bytes], dict[bytes, bytes]]:
        """Verify chunk ``index``: (state rows, values by hash, tree nodes); raise SnapshotError."""
        m = self.manifest
        if not 0 <= index < len(m.entries):
            raise SnapshotError(f"no chunk {index}")
        want_h, want_kind, want_n = m.entries[index]
        try:
            rows = decode(data, max_size=MAX_CHUNK_BYTES)
        except CodecError as e:
            raise SnapshotError(f"chunk {index} is malformed: {e}") from None
        if not isinstance(rows, list) or len(rows) != want_n:
            raise SnapshotError(f"chunk {index} has {len(rows) if isinstance(rows, list) else '?'} entries, not {want_n}")
        items, out_rows, values = [], [], {}
        shift = 256 - m.depth
        prev = -1
        for r in rows:
            if not isinstance(r, list) or len(r) != 2 or type(r[0]) is not bytes or type(r[1]) is not bytes:
                raise SnapshotError(f"chunk {index}: an entry is [path bytes, value bytes]")
            k = key_hash(r[0])
            ki = int.from_bytes(k, "big")
            if ki <= prev or (m.depth and ki >> shift != index):
                raise SnapshotError(f"chunk {index}: keys out of order or outside the chunk's prefix")
            prev = ki
            vh = value_hash(r[1])
            items.append((ki, k, vh))
            values[vh] = r[1]
            out_rows.append((r[0], r[1]))
        h, kind, nodes = _subtree(m.depth, items)
        if h != want_h or kind != want_kind:
            raise SnapshotError(f"chunk {index} does not hash to the manifest's subtree")
        self.done.add(index)
        return out_rows, values, nodes

    @property
    def complete(self) -> bool:
        return self.done.issuperset(self.manifest.chunks_to_fetch)


# ---------------------------------------------------------------------------
# the store side (ChainStore's LevelDB, its key layout)
# ---------------------------------------------------------------------------
def read_state_rows(db_or_snapshot) -> Iterable[tuple[bytes, bytes]]:
    """Every latest-state row (path bytes, value bytes) of a ChainStore's db or a plyvel snapshot of it."""
    for k, v in db_or_snapshot.iterator(prefix=b"s/"):
        yield k[2:], v


def count_state_rows(db_or_snapshot) -> int:
    return sum(1 for _ in db_or_snapshot.iterator(prefix=b"s/", include_value=False))


def write_chunk(store, rows, values, nodes) -> None:
    """Write one verified chunk (not synced: the final batch is)."""
    wb = store.db.write_batch()
    for pb, v in rows:
        wb.put(b"s/" + pb, v)
    for vh, v in values.items():
        wb.put(b"v/" + vh, v)
    for nh, nb in nodes.items():
        wb.put(b"n/" + nh, nb)
    wb.write()


def write_complete(store, restorer: Restorer, genesis_bytes: bytes, block_raw: bytes, block_hash: bytes,
                   commit_raw: bytes) -> None:
    """After every chunk: the top of the tree, block H, its commit, root and height, in one synced batch."""
    if not restorer.complete:
        raise SnapshotError("not every chunk has been restored")
    h = restorer.manifest.height
    hb = h.to_bytes(8, "big")
    wb = store.db.write_batch(transaction=True, sync=True)
    for nh, nb in restorer.top_nodes.items():
        wb.put(b"n/" + nh, nb)
    wb.put(b"b/" + hb, block_raw)
    wb.put(b"h/" + block_hash, hb)
    wb.put(b"c/" + hb, commit_raw)
    wb.put(b"o/" + hb, restorer.manifest.root)
    wb.put(b"m/genesis", genesis_bytes)
    wb.put(b"m/height", hb)
    wb.write()


def proof_nodes(key: bytes, value_hash_: bytes, proof) -> dict[bytes, bytes]:
    """The tree nodes on ``key``'s path, rebuilt from a membership proof (check the proof first).

    Written beside a restored state so that a few values of the height *before*
    the snapshot (the validator set that signed it) can be read with the
    ordinary tree walk.
    """
    from .smt import leaf_hash

    cur = leaf_hash(key, value_hash_)
    nodes = {cur: b"\x01" + key + value_hash_}
    ki = int.from_bytes(key, "big")
    for i in range(len(proof.siblings) - 1, -1, -1):
        sib = proof.siblings[i]
        payload = sib + cur if (ki >> (255 - i)) & 1 else cur + sib
        cur = internal_hash(payload[:32], payload[32:])
        nodes[cur] = b"\x02" + payload
    return nodes


def write_previous(store, height: int, root: bytes, values: dict[bytes, bytes], nodes: dict[bytes, bytes]) -> None:
    """The proved values of the height before the snapshot, and that height's root (not synced)."""
    wb = store.db.write_batch()
    for vh, v in values.items():
        wb.put(b"v/" + vh, v)
    for nh, nb in nodes.items():
        wb.put(b"n/" + nh, nb)
    wb.put(b"o/" + height.to_bytes(8, "big"), root)
    wb.write()
