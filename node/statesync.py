"""State sync over gRPC: serve snapshots, and join a chain from one.

Serving (``snapshot_interval`` > 0 in config.toml): after every block whose
height is a multiple of the interval, the node takes a LevelDB snapshot (a
consistent view of the state after that block; O(1), on the commit path) and
a background thread cuts it into chunks (``ledger/snapshot.py``), checks that
the manifest folds to that height's stored root, and writes the manifest and
chunks under ``HOME/data/snapshots/<height>/`` (written to a temporary folder
and renamed, so a listed snapshot is whole).  The newest ``snapshot_keep``
are kept.  Three raw-bytes RPCs of the service ``esoc.v1.StateSync``, added
beside the Node service (no protobuf: the bodies are the ledger codec):

    ListSnapshots(b"")              -> [[height, chunks to fetch, manifest hash], ...]
    GetManifest(encode(height))     -> manifest bytes
    GetChunk(encode([height, i]))   -> chunk bytes

Joining (``statesync_rpc`` lists gRPC addresses, and the store is empty):
before the application opens, :func:`restore_if_fresh` asks those nodes for
their snapshots, takes the highest, fetches block ``H`` and its commit with
``GetBlock``, and checks the commit against the validator set it trusts: the
genesis set, when header ``H`` names it (``validators_hash``); otherwise the
operator must vouch for the block (``statesync_trust_hash``, as CometBFT's
trust hash; a light client that follows validator changes is left for
later).  Then the manifest is checked
against the header's ``state_root``, and every chunk against the manifest,
as it arrives (a chunk that fails is asked of the next node).  The last
write (block ``H``, its commit, the root, the height) is one synced batch;
a store left half-restored by a crash is wiped and restored again.  The
node then starts as usual at ``H + 1``: block sync fetches the rest.  To
check block ``H + 1`` it needs the set that signed ``H``, a value of state
``H - 1``: that one value (and the validators' names) is fetched with a proof
against header ``H - 1``, which header ``H`` names by hash.  Blocks below
``H`` are not held (GetBlock answers that it has none).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading

import grpc

from ledger.block import Block, Commit, InvalidCommit, validator_set_hash, verify_commit_powers
from ledger.codec import CodecError, decode, encode
from ledger.crypto import tagged_hash
from ledger.snapshot import (
    Manifest, Restorer, SnapshotError, count_state_rows, make_snapshot, proof_nodes, read_state_rows, write_chunk,
    write_complete, write_previous,
)
from ledger.smt import Proof, verify_proof
from ledger.state import VALIDATORS, key_hash, path_bytes, value_hash

log = logging.getLogger("esoc.statesync")

SERVICE = "esoc.v1.StateSync"
MAX_LISTED = 8


class StateSyncError(RuntimeError):
    """State sync could not finish (no snapshot, no trusted header, every peer failed)."""


# ---------------------------------------------------------------------------
# serving
# ---------------------------------------------------------------------------
class SnapshotStore:
    """Snapshots on disk: taken every ``interval`` heights in a thread, the newest ``keep`` kept."""

    def __init__(self, store, data_dir: str, interval: int, keep: int = 2):
        self.store = store
        self.dir = os.path.join(data_dir, "snapshots")
        self.interval = interval
        self.keep = max(1, keep)
        self._busy = threading.Lock()
        os.makedirs(self.dir, exist_ok=True)

    def heights(self) -> list[int]:
        return sorted((int(n) for n in os.listdir(self.dir) if n.isdigit()), reverse=True)

    def maybe_take(self, height: int) -> bool:
        """Called after ``height`` is committed; True if a snapshot was started."""
        if self.interval <= 0 or height < 2 or height % self.interval or not self._busy.acquire(blocking=False):
            return False
        snap = self.store.db.snapshot()  # the state after `height`: one write batch per block
        threading.Thread(target=self._take, args=(snap, height), name="snapshot", daemon=True).start()
        return True

    def _take(self, snap, height: int) -> None:
        try:
            self.take_now(snap, height)
        except Exception:  # a failed snapshot is logged, never fatal to the node
            log.exception("snapshot at height %d failed", height)
        finally:
            self._busy.release()

    def take_now(self, snap, height: int) -> Manifest:
        hb = height.to_bytes(8, "big")
        if snap.get(b"m/height") != hb:
            raise SnapshotError(f"the db snapshot is not at height {height}")
        manifest, chunks = make_snapshot(height, read_state_rows(snap), count_state_rows(snap))
        if manifest.root != snap.get(b"o/" + hb):
            raise SnapshotError(f"snapshot at {height} does not fold to the stored state root")
        tmp = os.path.join(self.dir, f"{height}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(tmp)
        with open(os.path.join(tmp, "manifest"), "wb") as f:
            f.write(manifest.encode())
        for i, c in enumerate(chunks):
            if c is not None:
                with open(os.path.join(tmp, f"{i}"), "wb") as f:
                    f.write(c)
        os.replace(tmp, os.path.join(self.dir, str(height)))
        for old in self.heights()[self.keep:]:
            shutil.rmtree(os.path.join(self.dir, str(old)), ignore_errors=True)
        log.info("snapshot at height %d: %d chunks, depth %d", height, len(manifest.chunks_to_fetch), manifest.depth)
        return manifest

    def _read(self, height: int, name: str) -> bytes:
        if type(height) is not int or height not in self.heights():
            raise FileNotFoundError(f"no snapshot at height {height}")
        with open(os.path.join(self.dir, str(height), name), "rb") as f:
            return f.read()

    # ---- the three RPCs: bytes in, bytes out -------------------------------
    def list_snapshots(self, _request: bytes, context) -> bytes:
        out = []
        for h in self.heights()[:MAX_LISTED]:
            m = self._read(h, "manifest")
            out.append([h, len(Manifest.decode(m).chunks_to_fetch), tagged_hash("snapshot manifest", m)])
        return encode(out)

    def get_manifest(self, request: bytes, context) -> bytes:
        return self._guard(context, lambda: self._read(decode(request, max_size=64), "manifest"))

    def get_chunk(self, request: bytes, context) -> bytes:
        def read():
            h, i = decode(request, max_size=64)
            if type(i) is not int or i < 0:
                raise FileNotFoundError("no such chunk")
            return self._read(h, str(i))

        return self._guard(context, read)

    @staticmethod
    def _guard(context, fn) -> bytes:
        try:
            return fn()
        except (FileNotFoundError, CodecError, ValueError, TypeError) as e:
            context.abort(grpc.StatusCode.NOT_FOUND, f"{type(e).__name__}: {e}")
            raise  # unreachable: abort raises


def add_statesync_service(server: grpc.Server, snapshots: SnapshotStore | None) -> None:
    """Register the raw-bytes StateSync service (nothing when the node serves no snapshots)."""
    if snapshots is None:
        return
    h = {name: grpc.unary_unary_rpc_method_handler(fn) for name, fn in (
        ("ListSnapshots", snapshots.list_snapshots), ("GetManifest", snapshots.get_manifest),
        ("GetChunk", snapshots.get_chunk))}
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, h),))


# ---------------------------------------------------------------------------
# joining
# ---------------------------------------------------------------------------
class _Peer:
    def __init__(self, target: str, timeout: float):
        self.target = target
        self.timeout = timeout
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)])

    def call(self, method: str, body: bytes) -> bytes:
        return self.channel.unary_unary(f"/{SERVICE}/{method}")(body, timeout=self.timeout)

    def block(self, height: int):
        from proto import esoc_pb2 as pb
        from proto import esoc_pb2_grpc as pbg

        return pbg.NodeStub(self.channel).GetBlock(pb.GetBlockRequest(height=height), timeout=self.timeout)

    def state(self, path: tuple, height: int):
        from proto import esoc_pb2 as pb
        from proto import esoc_pb2_grpc as pbg

        req = pb.GetStateRequest(path=encode(list(path)), height=height, prove=True)
        return pbg.NodeStub(self.channel).GetState(req, timeout=self.timeout)

    def close(self) -> None:
        self.channel.close()


def _is_fresh(store) -> bool:
    return store.genesis_bytes() is None


def _wipe(store) -> None:
    wb = store.db.write_batch(transaction=True, sync=True)
    for k in store.db.iterator(include_value=False):
        wb.delete(k)
    wb.write()


def _verified_header(peer: _Peer, height: int, genesis, trust_hash: str) -> tuple[Block, bytes, bytes]:
    """Block ``height`` from ``peer``, its commit checked: (block, raw, commit raw)."""
    r = peer.block(height)
    blk = Block.decode(r.block)
    commit = Commit.decode(r.commit)
    if blk.header.height != height or blk.header.chain_id != genesis.chain_id:
        raise StateSyncError(f"{peer.target} served another block for height {height}")
    powers = {v.pubkey: v.power for v in genesis.validators}
    if blk.header.validators_hash != validator_set_hash(powers):
        if trust_hash.lower() != blk.hash.hex():
            raise StateSyncError(f"the validator set changed since genesis before height {height}; set "
                                 f"statesync_trust_hash to a block hash you trust at that height")
        return blk, r.block, r.commit  # vouched for by the operator
    verify_commit_powers(powers, genesis.chain_id, height, blk.hash, commit)
    return blk, r.block, r.commit


def _fetch_chunks(peers: list[_Peer], restorer: Restorer, store, height: int) -> None:
    for n, i in enumerate(restorer.manifest.chunks_to_fetch):
        for attempt in range(len(peers)):
            peer = peers[(n + attempt) % len(peers)]
            try:
                rows, values, nodes = restorer.check_chunk(i, peer.call("GetChunk", encode([height, i])))
            except (grpc.RpcError, SnapshotError) as e:
                log.warning("chunk %d of snapshot %d from %s: %s", i, height, peer.target, e)
                continue
            write_chunk(store, rows, values, nodes)
            break
        else:
            raise StateSyncError(f"no node served a valid chunk {i} of snapshot {height}")


# the values of height H - 1 a node reads when it checks block H + 1 (the set that signed block H)
PREVIOUS_PATHS = (("valset",), VALIDATORS)


def _restore_previous(peers: list[_Peer], store, blk: Block, height: int) -> None:
    """The validator set of block ``height``: read at ``height - 1``, proved against header ``height - 1``
    (which header ``height`` names by hash)."""
    prev = height - 1
    prev_blk = Block.decode(_first_ok(peers, lambda p: p.block(prev)).block)
    if prev_blk.hash != blk.header.prev_hash:
        raise StateSyncError(f"block {prev} served does not match the verified header's prev_hash")
    root = prev_blk.header.state_root
    values, nodes = {}, {}
    for path in PREVIOUS_PATHS:
        r = _first_ok(peers, lambda p: p.state(path, prev))
        key = key_hash(path_bytes(path))
        vh = value_hash(r.value)
        proof = Proof.decode(r.proof)
        if not r.exists or not verify_proof(root, key, vh, proof):
            raise StateSyncError(f"the value at {path} of height {prev} does not verify")
        values[vh] = r.value
        nodes.update(proof_nodes(key, vh, proof))
    write_previous(store, prev, root, values, nodes)


def _best_snapshot(peers: list[_Peer]) -> int:
    best = 0
    for p in peers:
        try:
            for h, _, _ in decode(p.call("ListSnapshots", b"")):
                best = max(best, h)
        except (grpc.RpcError, CodecError, ValueError, TypeError) as e:
            log.warning("snapshots of %s: %s", p.target, e)
    if best == 0:
        raise StateSyncError("no node offers a snapshot")
    return best


def restore_if_fresh(store, genesis, rpc: list[str], trust_hash: str = "", timeout: float = 30.0) -> int | None:
    """Restore ``store`` from a snapshot if it holds no chain yet; the height restored, or None."""
    if not rpc or not _is_fresh(store):
        return None
    _wipe(store)  # a half-restored store (a crash mid-way) starts over
    peers = [_Peer(t, timeout) for t in rpc]
    try:
        height = _best_snapshot(peers)
        blk, block_raw, commit_raw = _first_ok(peers, lambda p: _verified_header(p, height, genesis, trust_hash))
        manifest = _first_ok(peers, lambda p: Manifest.decode(p.call("GetManifest", encode(height))))
        restorer = Restorer(manifest, blk.header.state_root, height)
        _fetch_chunks(peers, restorer, store, height)
        _restore_previous(peers, store, blk, height)
        write_complete(store, restorer, genesis.encode(), block_raw, blk.hash, commit_raw)
        log.info("state sync: restored height %d (%d chunks) from %s", height, len(restorer.done), rpc)
        return height
    finally:
        for p in peers:
            p.close()


def _first_ok(peers: list[_Peer], fn):
    errors = []
    for p in peers:
        try:
            return fn(p)
        except (grpc.RpcError, CodecError, InvalidCommit, SnapshotError, ValueError) as e:
            errors.append(f"{p.target}: {type(e).__name__}: {e}")
    raise StateSyncError("; ".join(errors) or "no node to ask")


def serve_snapshots(store, data_dir: str, config, genesis) -> SnapshotStore | None:
    """The node's hook at start: join by state sync if configured and fresh, then the snapshot store (or None)."""
    if config.statesync_rpc:
        restore_if_fresh(store, genesis, list(config.statesync_rpc), config.statesync_trust_hash)
    if config.snapshot_interval <= 0:
        return None
    return SnapshotStore(store, data_dir, config.snapshot_interval, config.snapshot_keep)
