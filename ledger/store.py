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

How LevelDB is opened (``DB_OPTIONS``): bloom filters, a 32 MB memtable and
**no compression**; the state's writes go into the batch in key order
(``_write_diff``).  What the commit costs, measured 2026-12-05 with
bench/bench_store.py (200 recorded blocks of 1,600 transfers over 4,200
accounts, the validator's shape at 1,400 tx/s, replayed into fresh databases,
arms alternated; process CPU including LevelDB's background thread, until it
is idle; medians of 3 at load average 7.0): as before (snappy, keys in the
order execution made them) 43.4 µs a transfer (committing thread 11.4,
background thread 32.3); without compression 22.9 (12.1 + 10.6); and with
the keys in key order 19.5 (9.8 + 10.1) -- 55 % less (a second run, load
6.3: 46.8, 23.6, 21.7).  With a larger state
(40 blocks of 5,000 transfers over 100,000 accounts, 11 tree nodes a
transfer; load 8-12): 96.0, 51.2 and 51.8 -- there the key order saves no
more than its sort costs (~3 µs a transfer for 55,000 nodes).  A block's
writes are 9-14 keys a transfer, most of them random hashes (tree nodes,
value and transaction hashes) that snappy cannot shrink but still tried to, in every
memtable flush and again in every compaction that rewrote them; the database
is 25 % larger without it (351 MB against 280 MB: blocks and receipts did
compress).  Tried and not kept (without compression, 200-250 blocks): a 4,
8 or 16 MB memtable (28.4, 25.4, 25.8 against 25.9 µs for 32 MB: a smaller
one makes inserts cheaper and compactions dearer) or a 64 MB one (30.9
against 25.4), 8 or 32 MB table files (25.4, 27.9 against 27.2, within the
noise), binding ``wb.put`` once (no change), ``paranoid_checks`` off (25.0
with, 26.0 without: it stays).  ``sync=True`` costs no
measurable CPU (the committing thread's write 9.0-9.6 µs a transfer with it,
8.7-9.8 without): its price is wall time, and it stays.  Point reads of a
tree node from the uncompressed database measured 3 % slower (8.1 against
7.9 µs, at load 12, within the noise), which the top-of-tree cache keeps off
all but large states.
"""

from __future__ import annotations

import os
from threading import get_ident
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


_ABSENT = object()


class _Staging:
    """A block's batch: held in memory for reads (key -> value, None for a delete) and put in a LevelDB
    write batch as it is made, so the thread that writes it only calls ``write`` (which runs without the
    GIL). Building the batch on that thread instead cost 10-60x more beside a busy thread: plyvel lets
    the GIL go at every ``put``, and each one then waits out the other thread's switch interval."""

    __slots__ = ("height", "owner", "items", "written", "batch", "_put", "_delete")

    def __init__(self, height: int, batch):
        self.height = height
        self.owner = get_ident()  # the thread that sees it (the node's); other threads read the disk
        self.items: dict[bytes, bytes | None] = {}
        self.written = False
        self.batch = batch
        self._put, self._delete = batch.put, batch.delete

    def put(self, key: bytes, value: bytes) -> None:
        self.items[key] = value
        self._put(key, value)

    def delete(self, key: bytes) -> None:
        self.items[key] = None
        self._delete(key)


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
# How the database is opened (plyvel.DB keyword arguments; ChainStore(db_options=...) overrides them,
# bench/bench_store.py compares them).  No compression: most of what a block writes is random hashes
# (tree nodes, their keys, value hashes, transaction hashes) that snappy cannot shrink but still tries
# to, in every memtable flush and again in every compaction that rewrites them, on LevelDB's background
# thread (process CPU all the same).  Measured 2026-12-05 (bench_store, 200 blocks of 1,600 transfers
# over 4,200 accounts, the validator's shape at 1,400 tx/s): see the module docstring.  Compression is
# a property of each table block, not of the database: tables written with snappy before stay readable,
# and an older build opens a database written without it.
DB_OPTIONS: dict = {"bloom_filter_bits": 10, "write_buffer_size": WRITE_BUFFER, "compression": None}


class ChainStore:
    def __init__(self, path: str, create: bool = True, cache_depth: int = TOP_CACHE_DEPTH,
                 db_options: dict | None = None):
        os.makedirs(path, exist_ok=True) if create else None
        try:
            # bloom filters (10 bits a key, ~1% false positives): a point read of a tree node skips the
            # recently written tables (level 0, where every table's key range spans the random hashes)
            # instead of searching each; tables written before keep working without one. A 32 MB
            # memtable (LevelDB's default is 4 MB) holds ~3 blocks' writes of a 1M-account state
            # before a flush, so fewer, larger level-0 tables are compacted (docs/state.md, figures)
            opts = DB_OPTIONS if db_options is None else {**DB_OPTIONS, **db_options}
            self.db = plyvel.DB(path, create_if_missing=create, paranoid_checks=True, **opts)
        except plyvel.IOError as e:
            raise StoreError(f"cannot open the database at {path}: {e}") from None
        except plyvel.CorruptionError as e:
            raise StoreError(f"the database at {path} is corrupt: {e}") from None
        self.path = path
        # the top of the latest state tree in memory (cache_depth < 0: none). It holds the top of one
        # root (node_cache.root; the empty tree when new) and is used only for that root. Warmed by the
        # first state_at (a node about to execute; read-only tools never pay for it), then carried from
        # block to block: the tree's update records the top's change, commit_block's advance writes it.
        # Warmed down to its deepest level: the last level's nodes are read once at the warm (~1.4 s
        # of CPU at a million keys) instead of by the first blocks, a position at a time
        # (docs/state.md, "A million accounts").
        self.node_cache = TopCache(self.get_node, cache_depth, warm_depth=cache_depth) if cache_depth >= 0 else None
        self.smt = SparseMerkleTree(self.get_node, top=self.node_cache)
        # decoded records of the latest state, shared by its working states (State's cache): valid
        # for one height; commit_block carries them to the next with the block's own records
        self._records: dict[bytes, object] = {}
        # what the tree's update is told of the latest state's old values (State.commit), kept as _records:
        # value hashes (the values the last blocks wrote) and the bytes its working states read
        self._hashes: dict[bytes, bytes] = {}
        self._seen: dict[bytes, bytes] = {}
        self._records_height = -1
        self._staged: _Staging | None = None  # a block whose batch is being written (stage_block)

    def close(self) -> None:
        self.db.close()

    # ---- reads ------------------------------------------------------------
    def _get(self, key: bytes) -> bytes | None:
        """A key's value: from the block staged for writing if it holds the key and this is the thread
        that staged it, else from LevelDB."""
        staged = self._staged
        if staged is not None and staged.owner == get_ident():
            v = staged.items.get(key, _ABSENT)
            if v is not _ABSENT:
                return v  # None: deleted by the staged block
        return self.db.get(key)

    def height(self) -> int:
        """The last committed height: on the thread that staged a block, that block's."""
        staged = self._staged
        if staged is not None and staged.owner == get_ident():
            return staged.height
        v = self.db.get(P_META_HEIGHT)
        return 0 if v is None else int.from_bytes(v, "big")

    def genesis_bytes(self) -> bytes | None:
        return self.db.get(P_GENESIS)

    def get_node(self, node_hash: bytes) -> bytes | None:
        return self._get(b"n/" + node_hash)

    def get_value_by_hash(self, vh: bytes) -> bytes | None:
        return self._get(b"v/" + vh)

    def read_latest(self, pb: bytes) -> bytes | None:
        return self._get(b"s/" + pb)

    def state_root(self, height: int | None = None) -> bytes:
        if height is None:
            height = self.height()
        v = self._get(b"o/" + _h(height))
        return EMPTY_ROOT if v is None else v

    def block_bytes(self, height: int) -> bytes | None:
        return self._get(b"b/" + _h(height))

    def block(self, height: int) -> Block | None:
        b = self.block_bytes(height)
        return None if b is None else Block.decode(b)

    def height_of(self, block_hash: bytes) -> int | None:
        v = self._get(b"h/" + block_hash)
        return None if v is None else int.from_bytes(v, "big")

    def commit(self, height: int) -> Commit | None:
        v = self._get(b"c/" + _h(height))
        return None if v is None else Commit.decode(v)

    def receipts(self, height: int) -> list[Receipt]:
        v = self._get(b"r/" + _h(height))
        return [] if v is None else [Receipt.from_obj(x) for x in decode(v)]

    def receipts_bytes(self, height: int) -> bytes:
        """The block's receipts as stored: their canonical list, the bytes ``encode`` gives for them."""
        v = self._get(b"r/" + _h(height))
        return b"\x90" if v is None else v  # an empty list

    def tx_location(self, tx_hash: bytes) -> tuple[int, int] | None:
        v = self._get(b"t/" + tx_hash)
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
        if self._records_height != h or len(self._records) > RECORD_CACHE_ENTRIES \
                or len(self._hashes) > RECORD_CACHE_ENTRIES or len(self._seen) > RECORD_CACHE_ENTRIES:
            self._records.clear()
            self._hashes.clear()
            self._seen.clear()
            self._records_height = h
        return State(self.read_latest, self.state_root(h), h, cache=self._records, hashes=self._hashes,
                     seen=self._seen)

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

    @staticmethod
    def _write_diff(wb, diff: StateDiff) -> None:
        """The state's writes, in key order (n/ < s/ < v/, each sorted): LevelDB applies a batch to its
        memtable (a skip list) one key at a time, and a key next to the one before finds its place
        among nodes still in the CPU's cache; in hash order every insert walks cold memory.  The sort
        costs less than it saves in blocks of the validator's shape (bench_store, 2026-12-05: the
        committing thread 12.1 -> 9.8 µs a transfer at 1,600 a block) and about what it saves at
        5,000 a block over 100,000 accounts.  A batch is applied atomically whatever its order, and
        no key is in it twice."""
        put = wb.put
        nodes = diff.nodes
        for nh in sorted(nodes):
            put(b"n/" + nh, nodes[nh])
        changes = diff.changes
        for pb in sorted(changes):
            v = changes[pb]
            if v is None:
                wb.delete(b"s/" + pb)
            else:
                put(b"s/" + pb, v)
        values = diff.values
        for vh in sorted(values):
            put(b"v/" + vh, values[vh])

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
        """Write a block, its receipts and state in one atomic, synced batch (stage, write, unstage)."""
        self.stage_block(block, block_raw, commit, receipts, diff, receipts_encoded, tx_hashes)
        self.write_staged()
        self.unstage()

    # ---- the pipelined write (node/consensus_driver.py) ---------------------
    # A decided block is *staged*: everything its batch will write is held in memory and every read
    # of this store on the thread that staged it (height, state, tree nodes, blocks, receipts) sees it
    # at once, so the next height can be proposed and executed there while ``write_staged`` writes
    # the batch on another thread.  Other threads (gRPC's, snapshots) read only what is on disk: a
    # client is never told of a block a crash could still take back from this node.  One
    # block at a time: the next is staged only after the last one's ``unstage``. A crash before the
    # write completes loses the staged block and nothing else; the consensus WAL, which is marked
    # for the block only after the write (EndHeight), replays its decision (docs/consensus.md).
    def stage_block(
        self,
        block: Block,
        block_raw: bytes,
        commit: Commit | None,
        receipts: list[Receipt],
        diff: StateDiff,
        receipts_encoded: list[bytes] | None = None,
        tx_hashes: list[bytes] | None = None,
    ) -> None:
        """Hold the block's whole batch in memory, visible to every read on the calling thread (the node's)."""
        if self._staged is not None:
            raise StoreError(f"block {self._staged.height} is still being written; block {block.header.height} "
                             "cannot be staged before it")
        h = block.header.height
        if h != self.height() + 1:
            raise StoreError(f"block {h} does not follow committed height {self.height()}")
        hb = _h(h)
        old_root = self.state_root(h - 1)
        st = _Staging(h, self.db.write_batch(transaction=True, sync=True))
        put = st.put
        put(b"b/" + hb, block_raw)
        put(b"h/" + block.hash, hb)
        if commit is not None:
            put(b"c/" + hb, commit.encode())
        if receipts_encoded is None:
            receipts_encoded = [r.encode() for r in receipts]
        put(b"r/" + hb, encode_array_of_encoded(receipts_encoded))
        if tx_hashes is None or len(tx_hashes) != len(block.txs):
            tx_hashes = [tx_hash(raw) for raw in block.txs]
        packb = msgpack.packb
        for i, th in enumerate(tx_hashes):
            put(b"t/" + th, packb([h, i]))  # = encode([h, i]): two unsigned ints
        self._write_diff(st, diff)
        put(b"o/" + hb, diff.root)
        put(P_META_HEIGHT, hb)
        self._staged = st
        self._carry_records(h, diff)
        if self.node_cache is not None:
            # the cache's top follows the staged root now (the change its update recorded, written in
            # place): the next height's update uses it; nodes below it are read through the staging
            self.node_cache.advance(old_root, diff.root, diff.nodes)

    def write_staged(self) -> None:
        """Write the staged block in one atomic batch, synced; any thread (LevelDB writes without the GIL).

        Reads stay served meanwhile, from the staging; on an error the block stays staged and the
        error propagates (the node halts: it cannot go on without its block on disk).
        """
        st = self._staged
        if st is None:
            raise StoreError("no block is staged")
        st.batch.write()
        st.written = True

    def unstage(self) -> None:
        """After ``write_staged``: reads go to LevelDB again (call on the thread that reads)."""
        st = self._staged
        if st is None:
            return
        if not st.written:
            raise StoreError(f"block {st.height} is staged but not written")
        self._staged = None

    def staged_height(self) -> int | None:
        """The height of the block being written, or None."""
        st = self._staged
        return None if st is None else st.height

    def _carry_records(self, h: int, diff: StateDiff) -> None:
        """After block ``h`` is written: the decoded records of ``h - 1`` stay valid but for what it changed."""
        recs = self._records
        hashes = self._hashes
        seen = self._seen
        if self._records_height != h - 1:
            recs.clear()
            hashes.clear()
            seen.clear()
        else:
            new_hashes = diff.hashes
            for pb in diff.changes:
                r = diff.records.get(pb)
                if r is None:
                    recs.pop(pb, None)
                else:
                    recs[pb] = r
                seen.pop(pb, None)
                vh = new_hashes.get(pb)
                if vh is None:
                    hashes.pop(pb, None)
                else:
                    hashes[pb] = vh
        self._records_height = h

    def save_commit(self, height: int, commit: Commit) -> None:
        """Record the commit seen for a block already stored (e.g. the latest)."""
        self.db.put(b"c/" + _h(height), commit.encode(), sync=True)
