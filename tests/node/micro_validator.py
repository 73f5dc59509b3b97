"""A validator's per-transaction work, in process: CPU µs per transaction of each path (not a test).

Two applications of one chain (2,000 funded accounts, one validator key), each with its own LevelDB,
mempool and consensus driver (p2p replaced by a recorder), and a real signature worker pool
(node/verifier.py).  For each block of ``N`` freshly signed transfers:

* ``grpc.decode``, ``grpc.precheck``, ``grpc.handover``, ``grpc.admit`` -- node A as its gRPC path admits
  a client's batches (35 by default, as the network bench's clients send at 1,400 tx/s): the decode, the
  mempool's checks before signatures, the signatures handed to the workers and
  their verdicts settled, then ``Node.admit_many`` (mempool checks, nonce/balance, admission's room);
* ``relay.queue``, ``relay.handover``, ``relay.admit`` -- node B receives the same transactions
  relayed (``TxsSentMsg``'s list, in batches of the same size): the driver's echo filter, decode +
  signature hand-over (``_decode_verify_batch`` on a trio worker thread), then the mempool adds (since
  2026-12-05 one method, ``_admit_relayed``: ``relay.all``);
* ``propose`` -- A builds the block (``_build``) and its compact proposal message, the block's
  execution (``Application.build_block``) excluded;
* ``compact`` -- B rebuilds the block from the compact message (``_on_compact`` -> ``_feed_compact``)
  and takes its value id;
* ``validate`` -- B's ``_validate``, execution (``Application.execute_block``'s own work) excluded;
* ``commit.A``, ``commit.B`` -- ``_commit`` on each node, its execution cache lookup, staging,
  the LevelDB write and the mempool's update excluded (each timed apart: ``mempool.update``);
* ``execute.A``, ``execute.B`` -- A's building (``Application.build_block``) and B's execution
  (``Application.execute_block``) of the block: the transactions' lookup, the roots and execution.

CPU is this process's (``time.process_time``: the workers' checks are not in it); each figure is
µs per transaction.  ``python -m tests.node.micro_validator [N] [blocks]`` prints one JSON line;
``tests/node/micro_ab.py`` alternates it between two trees.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
import types
from collections import defaultdict

import trio

CPU = time.process_time


class Acc:
    """CPU seconds per stage, with nested spans excluded from their callers (wrapped functions)."""

    def __init__(self):
        self.t = defaultdict(float)
        self.stack: list[list] = []

    def span(self, name, fn, *a, **kw):
        frame = [CPU(), 0.0]
        self.stack.append(frame)
        try:
            return fn(*a, **kw)
        finally:
            self.stack.pop()
            dt = CPU() - frame[0]
            self.t[name] += dt - frame[1]
            if self.stack:
                self.stack[-1][1] += dt

    async def aspan(self, name, fn, *a, **kw):
        frame = [CPU(), 0.0]
        self.stack.append(frame)
        try:
            return await fn(*a, **kw)
        finally:
            self.stack.pop()
            dt = CPU() - frame[0]
            self.t[name] += dt - frame[1]
            if self.stack:
                self.stack[-1][1] += dt

    def wrap(self, owner, attr, name):
        orig = getattr(owner, attr)
        acc = self

        def w(*a, **kw):
            return acc.span(name, orig, *a, **kw)

        setattr(owner, attr, w)


def _fake_node(tmp, name, g, vkey, pool):
    from chain.app import open_application
    from ledger.store import ChainStore
    from node.config import NodeConfig

    d = os.path.join(tmp, name)
    os.makedirs(d)
    store = ChainStore(d)
    app = open_application(store, g)
    cfg = NodeConfig()
    cfg.compact_blocks = True
    cfg.block_time_step_ms = 1000
    cfg.block_interval_ms = 0
    n = types.SimpleNamespace(app=app, store=store, chain_id=g.chain_id, config=cfg, home=types.SimpleNamespace(data_dir=d),
                              key=vkey, pubkey=vkey.public, metrics=None, verifier=pool, driver=None,
                              _catching_up=False, on_committed=lambda blk, ex: None)
    from node.admission import Admission
    n.admission = Admission(1000.0, floor=50_000, max_block_txs=5000, validators=1, interval_s=0.0)
    app.verify_batch = lambda txs: __import__("node.verifier", fromlist=["verify_txs"]).verify_txs(pool, txs)
    return n


class _P2P:
    def __init__(self):
        self.sent = []

    def peers(self):
        return [b"\xaa" * 32]

    def send(self, peer, data):
        self.sent.append(data)
        return True

    def broadcast(self, data, exclude=()):
        self.sent.append(data)
        return 1


def run(n_txs: int = 5000, blocks: int = 4, warm: int = 1, batch: int = 35) -> dict:
    from bench.bench_ledger import _setup, _sign_load
    from consensus.types import Commit as CCommit
    from consensus.events import Decide, ProposalReceived
    from consensus.types import PRECOMMIT, Proposal, Vote
    from ledger.crypto import PrivateKey
    from ledger.tx import decode_tx
    import node.consensus_driver as cd
    from node.consensus_driver import ConsensusDriver
    from node.p2p import decode_message
    from node.service import Node, tune_gc
    from node.verifier import VerifyPool, verify_txs

    keys, g = _setup(2000)
    vkey = PrivateKey.from_name("v", salt="bench")
    raws_all = _sign_load(keys, n_txs * (blocks + warm))
    pool = VerifyPool(2)
    pool.start()
    tmp = tempfile.mkdtemp(prefix="esoc-micro-")
    acc = Acc()
    try:
        a = _fake_node(tmp, "a", g, vkey, pool)
        b = _fake_node(tmp, "b", g, vkey, pool)
        da, db = ConsensusDriver(a), ConsensusDriver(b)
        a.driver, b.driver = da, db
        for d in (da, db):
            d.p2p = _P2P()
            d.clock_ms = lambda: 1_900_000_000_000
        tune_gc()
        # the inner work each stage excludes
        for n, tag in ((a, "A"), (b, "B")):
            app = n.app
            acc.wrap(app, "build_block", "execute." + tag)
            acc.wrap(app, "execute_block", "execute." + tag)
            acc.wrap(app, "stage", "stage+write")
            acc.wrap(n.store, "write_staged", "stage+write")
            acc.wrap(app.mempool, "update", "mempool.update")
        totals = None
        peer = b"\xaa" * 32
        import node.verifier as nv
        known = getattr(nv, "known_sender", None)  # since 2026-12-05: the gRPC decode takes senders from a table

        def grpc_decode(part):
            return [known(decode_tx(r)) for r in part] if known else [decode_tx(r) for r in part]

        async def one_block(h: int, raws: list[bytes]):
            # ---- A: gRPC path, batches of 500
            for i in range(0, len(raws), batch):
                part = raws[i:i + batch]
                decoded = acc.span("grpc.decode", grpc_decode, part)  # as the gRPC thread's _decode
                pre = acc.span("grpc.precheck", Node.refusals_before_signatures, a, decoded)
                decoded = [t for t, r in zip(decoded, pre) if r is None]
                verdicts = acc.span("grpc.handover", verify_txs, pool, decoded)
                ok = [t for t, v in zip(decoded, verdicts) if v]
                acc.span("grpc.admit", Node.admit_many, a, ok)
            da.tx_relay.clear()
            # ---- B: the same transactions relayed, in TxsSentMsg batches of 500
            for i in range(0, len(raws), batch):
                part = list(raws[i:i + batch])
                acc.span("relay.queue", db._queue_txs, peer, part)
                sub, db.tx_inbox = db.tx_inbox, []
                if hasattr(db, "_admit_relayed"):
                    await acc.aspan("relay.all", db._admit_relayed, sub)
                else:
                    checked = await acc.aspan("relay.handover", trio.to_thread.run_sync, cd._decode_verify_batch,
                                              [r for _, r, _ in sub], pool, [x for _, _, x in sub])


                    def add(sub=sub, checked=checked):
                        state = b.app.state()
                        nh = b.app.height + 1
                        for (have, _, _), tx in zip(sub, checked):
                            if tx is None:
                                continue
                            try:
                                b.app.mempool.add(tx, state, nh, verified=True)
                                db.tx_relay.append((have, tx.raw))
                            except Exception:
                                pass
                    acc.span("relay.admit", add)
            db.tx_relay.clear()
            assert len(b.app.mempool) == len(raws), (len(b.app.mempool), len(raws))
            # ---- A proposes
            raw = acc.span("propose", da._build, h)
            assert raw is not None
            vid = acc.span("propose", da._value_id, raw)
            prop = Proposal(h, 0, vid, -1, a.pubkey)
            data, ntx = acc.span("propose", da._proposal_msg, prop, raw)
            assert ntx == len(raws)
            # ---- B rebuilds it
            msg = acc.span("compact", decode_message, data)
            await acc.aspan("compact", db._on_compact, peer, msg)
            ev = db.inbox.receive_nowait()
            assert isinstance(ev, ProposalReceived) and ev.value == raw
            assert acc.span("compact", db._value_id, ev.value) == vid
            ok = acc.span("validate", db._validate, h, ev.value)
            assert ok
            # ---- both commit
            v = Vote(PRECOMMIT, h, 0, vid, vkey.public)
            commit = CCommit.from_votes([v.with_signature(vkey.sign("vote", g.chain_id, v.sign_bytes()))])
            for n, d in ((a, da), (b, db)):
                async with trio.open_nursery() as nursery:
                    d.nursery = nursery
                    await acc.aspan("commit.A" if d is da else "commit.B", d._commit, Decide(h, 0, vid, raw, commit))
                if d._written is not None:
                    await d._written.wait()
                while True:  # drain the _StartHeight the commit queued
                    try:
                        d.inbox.receive_nowait()
                    except trio.WouldBlock:
                        break
                assert n.app.height == h

        for k in range(warm + blocks):
            if k == warm:
                acc.t.clear()
            raws = raws_all[k * n_txs:(k + 1) * n_txs]
            trio.run(one_block, k + 1, raws)
        totals = {s: v / (blocks * n_txs) * 1e6 for s, v in sorted(acc.t.items())}
        for n in (a, b):
            n.store.close()
        return totals
    finally:
        pool.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    bt = int(sys.argv[3]) if len(sys.argv) > 3 else 35
    print(json.dumps(run(n, k, batch=bt)))
