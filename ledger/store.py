"""The chain's store on LevelDB (plyvel).

Layout (one LevelDB, prefixes keep the spaces apart)::

    m/height            last committed height (8 bytes, big endian)
    m/genesis           the genesis document (canonical bytes)
    b/<height>          block (canonical bytes)
    h/<block hash>      height of that block
    c/<height>          the commit this node saw for the block at height
    r/<height>          the block's receipts (canonical list)
    t/<tx hash>         [height, index] of a committed transaction
    s/<path bytes>      latest state value at a path
    v/<value hash>      every state value ever committed, by hash
    n/<node hash>       sparse Merkle tree nodes
    o/<height>          state root after that height

Everything a block writes goes into one ``WriteBatch`` written with
``sync=True``: LevelDB applies a batch atomically, so a crash at any moment
leaves either the whole block or none of it, and a restarted node resumes at
``m/height``.
"""

from __future__ import annotations

import os
from typing import Iterator

import msgpack
import plyvel

from .block import Block, Commit, Receipt
from .codec import decode, encode, encode_array_of_encoded
from .smt import EMPTY_ROOT, SparseMerkleTree, TopCache
from .state import State, StateDiff, key_hash, parse_path, path_bytes
from .tx import tx_hash

P_META_HEIGHT = b"m/height"
P_GENESIS = b"m/genesis"


class StoreError(RuntimeError):
    """The database is missing, locked, or inconsistent."""


def _h(height: int) -> bytes:
    return height.to_bytes(8, "big")


# the top 21 levels of the latest state tree stay in memory (TopCache): position-indexed hash and kind
# arrays, 2^21 x 33 bytes = 69 MB at most, so a block's update does the top in memory and reads LevelDB
# only below it (~2 reads a key at a million accounts)
TOP_CACHE_DEPTH = 20
WRITE_BUFFER = 32 * 1024 * 1024  # LevelDB's memtable, up to two of them in memory
RECORD_CACHE_ENTRIES = 100_000  # decoded records of the latest state (accounts), ~40 MB; emptied when full


class ChainStore:
    def __init__(self, path: str, create: bool = True, cache_depth: int = TOP_CACHE_DEPTH):
        os.makedirs(path, exist_ok=True) if create else None
        try:
            # bloom filters (10 bits a key, ~1% false positives): a point read of a tree node skips the
            # recently written tables (level 0, where every table's key range spans the random hashes)
            # instead of searching each; tables written before keep working without one. A 32 MB
            # memtable (LevelDB's default is 4 MB) holds ~3 blocks' writes of a 1M-account state
            # before a flush, so fewer, larger level-0 tables are compacted (docs/state.md, figures)
            self.db = plyvel.DB(path, create_if_missing=create, paranoid_checks=True, bloom_filter_bits=10,
                                write_buffer_size=WRITE_BUFFER)
        except plyvel.IOError as e:
            raise StoreError(f"cannot open the database at {path}: {e}") from None
        except plyvel.CorruptionError as e:
            raise StoreError(f"the database at {path} is corrupt: {e}") from None
        self.path = path
        # the top of the latest state tree in memory (cache_depth < 0: none). It holds the top of one
        # root (node_cache.root; the empty tree when new) and is used only for that root. Warmed by the
        # first state_at (a node about to execute; read-only tools never pay for it), then carried from
        # block to block: the tree's update records the top's change, commit_block's advance writes it.
        self.node_cache = TopCache(self.get_node, cache_depth) if cache_depth >= 0 else None
        self._cache_root: bytes | None = None  # (unused since the cache knows its root: node_cache.root)
        self.smt = SparseMerkleTree(self.get_node, top=self.node_cache)
        # decoded records of the latest state, shared by its working states (State's cache): valid
        # for one height; commit_block carries them to the next with the block's own records
        self._records: dict[bytes, object] = {}
        self._records_height = -1

    def close(self) -> None:
        self.db.close()

    # ---- reads ------------------------------------------------------------
    def height(self) -> int:
        v = self.db.get(P_META_HEIGHT)
        return 0 if v is None else int.from_bytes(v, "big")

    def genesis_bytes(self) -> bytes | None:
        return self.db.get(P_GENESIS)

    def get_node(self, node_hash: bytes) -> bytes | None:
        return self.db.get(b"n/" + node_hash)

    def get_value_by_hash(self, vh: bytes) -> bytes | None:
        return self.db.get(b"v/" + vh)

    def read_latest(self, pb: bytes) -> bytes | None:
        return self.db.get(b"s/" + pb)

    def state_root(self, height: int | None = None) -> bytes:
        if height is None:
            height = self.height()
        v = self.db.get(b"o/" + _h(height))
        return EMPTY_ROOT if v is None else v

    def block_bytes(self, height: int) -> bytes | None:
        return self.db.get(b"b/" + _h(height))

    def block(self, height: int) -> Block | None:
        b = self.block_bytes(height)
        return None if b is None else Block.decode(b)

    def height_of(self, block_hash: bytes) -> int | None:
        v = self.db.get(b"h/" + block_hash)
        return None if v is None else int.from_bytes(v, "big")

    def commit(self, height: int) -> Commit | None:
        v = self.db.get(b"c/" + _h(height))
        return None if v is None else Commit.decode(v)

    def receipts(self, height: int) -> list[Receipt]:
        v = self.db.get(b"r/" + _h(height))
        return [] if v is None else [Receipt.from_obj(x) for x in decode(v)]

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        v = self.db.get(b"t/" + tx_hash)
        if v is None:
            return None
        h, i = decode(v)
        return h, i

    def state_at(self, height: int | None = None) -> State:
        """A working state over the latest committed state."""
        h = self.height() if height is None else height
        if h != self.height():
            raise StoreError("a working state is only built on the latest height")
        if self.node_cache is not None:
            root = self.state_root(h)
            if not self.node_cache.expects(root):  # the first working state, or a state written around
                self.node_cache.warm(root)  # commit_block (a state-sync restore): load the top of this one
        if self._records_height != h or len(self._records) > RECORD_CACHE_ENTRIES:
            self._records.clear()
            self._records_height = h
        return State(self.read_latest, self.state_root(h), h, cache=self._records)

    def _root_at(self, height: int) -> bytes:
        if height > self.height() or height < 0:
            raise StoreError(f"no state at height {height} (latest is {self.height()})")
        return self.state_root(height)

    def read_at(self, path: tuple, height: int) -> bytes | None:
        """The value at ``path`` in the state after ``height`` (any past height)."""
        root = self._root_at(height)
        vh = self.smt.get(root, key_hash(path_bytes(path)))
        return None if vh is None else self.get_value_by_hash(vh)

    def prove(self, path: tuple, height: int):
        root = self._root_at(height)
        return root, self.smt.prove(root, key_hash(path_bytes(path)))

    def iter_latest(self, prefix: tuple) -> Iterator[tuple[tuple, bytes]]:
        p = b"s/" + path_bytes(prefix)
        for k, v in self.db.iterator(prefix=p):
            yield parse_path(k[2:]), v

    # ---- the one write path ----------------------------------------------
    def write_genesis(self, genesis: bytes, diff: StateDiff) -> None:
        """Write the genesis document and the state it creates (height 0)."""
        if self.genesis_bytes() is not None:
            raise StoreError("this database already has a genesis")
        wb = self.db.write_batch(transaction=True, sync=True)
        self._write_diff(wb, diff)
        wb.put(b"o/" + _h(0), diff.root)
        wb.put(P_META_HEIGHT, _h(0))
        wb.put(P_GENESIS, genesis)
        wb.write()
        if self.node_cache is not None:
            self.node_cache.advance(EMPTY_ROOT, diff.root, diff.nodes)
            self._cache_root = diff.root if self._cache_root == EMPTY_ROOT else None

    @staticmethod
    def _write_diff(wb, diff: StateDiff) -> None:
        for pb, v in diff.changes.items():
            if v is None:
                wb.delete(b"s/" + pb)
            else:
                wb.put(b"s/" + pb, v)
        for vh, v in diff.values.items():
            wb.put(b"v/" + vh, v)
        for nh, nb in diff.nodes.items():
            wb.put(b"n/" + nh, nb)

    def commit_block(
        self,
        block: Block,
        block_raw: bytes,
        commit: Commit | None,
        receipts: list[Receipt],
        diff: StateDiff,
        receipts_encoded: list[bytes] | None = None,
        tx_hashes: list[bytes] | None = None,
    ) -> None:
        h = block.header.height
        if h != self.height() + 1:
            raise StoreError(f"block {h} does not follow committed height {self.height()}")
        hb = _h(h)
        old_root = self.state_root(h - 1)
        wb = self.db.write_batch(transaction=True, sync=True)
        wb.put(b"b/" + hb, block_raw)
        wb.put(b"h/" + block.hash, hb)
        if commit is not None:
            wb.put(b"c/" + hb, commit.encode())
        if receipts_encoded is None:
            receipts_encoded = [r.encode() for r in receipts]
        wb.put(b"r/" + hb, encode_array_of_encoded(receipts_encoded))
        if tx_hashes is None or len(tx_hashes) != len(block.txs):
            tx_hashes = [tx_hash(raw) for raw in block.txs]
        for i, th in enumerate(tx_hashes):
            wb.put(b"t/" + th, msgpack.packb([h, i]))  # = encode([h, i]): two unsigned ints
        self._write_diff(wb, diff)
        wb.put(b"o/" + hb, diff.root)
        wb.put(P_META_HEIGHT, hb)
        wb.write()
        self._carry_records(h, diff)
        if self.node_cache is not None:
            self.node_cache.advance(old_root, diff.root, diff.nodes)
            # carried: the cache holds the new top if it held the old one; else the next state_at warms it
            self._cache_root = diff.root if self._cache_root == old_root else None

    def _carry_records(self, h: int, diff: StateDiff) -> None:
        """After block ``h`` is written: the decoded records of ``h - 1`` stay valid but for what it changed."""
        recs = self._records
        if self._records_height != h - 1:
            recs.clear()
        else:
            for pb in diff.changes:
                r = diff.records.get(pb)
                if r is None:
                    recs.pop(pb, None)
                else:
                    recs[pb] = r
        self._records_height = h

    def save_commit(self, height: int, commit: Commit) -> None:
        """Record the commit seen for a block already stored (e.g. the latest)."""
        self.db.put(b"c/" + _h(height), commit.encode(), sync=True)
