"""The node process: application + gRPC + block production, under trio.

``Node.run`` opens one nursery holding every service of the process; a
failure in any of them cancels the others, and SIGINT/SIGTERM end it
cleanly (the gRPC server is stopped, LevelDB closed).  With a validator set
of one (a single-validator chain) blocks are produced by
:func:`Node._produce_solo`; with more, the consensus driver takes over.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import trio

from ledger import codes
from ledger.block import Commit, CommitSig
from ledger.codec import encode
from ledger.store import ChainStore
from ledger.tx import SignedTx

from .app import Application
from .config import Home, NodeConfig
from .genesis import Genesis
from .grpc_api import start_grpc_server
from .mempool import Rejected

log = logging.getLogger("esoc.node")


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def solo_precommit_bytes(chain_id: str, height: int, round_: int, block_hash: bytes) -> bytes:
    return encode({"type": "precommit", "height": height, "round": round_, "block_hash": block_hash})


class Node:
    def __init__(self, home: Home, config: NodeConfig | None = None, contracts=None):
        self.home = home
        self.config = config or NodeConfig.load(home.config_file)
        self.key = home.load_key()
        self.pubkey = self.key.public
        with open(home.genesis_file) as f:
            self.genesis = Genesis.from_json(f.read())
        self.chain_id = self.genesis.chain_id
        self.store = ChainStore(home.data_dir)
        self.app = Application(self.store, self.genesis, contracts)
        self.laws = None
        self.block_cond = threading.Condition()
        self.stopping = False
        self._round = 0
        self._peers = 0
        self._catching_up = False
        self.committed_at: dict[int, float] = {}

    # ---- facade for the gRPC servicer --------------------------------------
    def admit_many(self, txs: list[SignedTx]) -> list:
        app = self.app
        state = app.state()
        nh = app.height + 1
        out = []
        for tx in txs:
            try:
                out.append(app.mempool.add(tx, state, nh, verified=True))
            except Rejected as e:
                out.append(e)
        return out

    def pending_tx(self, h: bytes) -> bytes | None:
        tx = self.app.mempool._txs.get(h)
        return tx.raw if tx is not None else None

    def mempool_size(self) -> int:
        return len(self.app.mempool)

    def is_validator(self) -> bool:
        return any(v.pubkey == self.pubkey for v in self.app.validators())

    def catching_up(self) -> bool:
        return self._catching_up

    def peer_count(self) -> int:
        return self._peers

    def current_round(self) -> int:
        return self._round

    def validators_at(self, height: int):
        return self.app.validators(height)

    def notify_commit(self) -> None:
        with self.block_cond:
            self.block_cond.notify_all()

    # ---- running ---------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        token = trio.lowlevel.current_trio_token()
        server = start_grpc_server(self, self.config.grpc_listen, token, self.config.submit_rate_per_s, self.config.submit_burst)
        log.info("grpc listening on %s chain=%s height=%d", self.config.grpc_listen, self.chain_id, self.app.height)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_signals, nursery.cancel_scope)
                vals = self.app.validators()
                if len(vals) == 1 and vals[0].pubkey == self.pubkey:
                    nursery.start_soon(self._produce_solo)
                else:
                    from .consensus_driver import run_consensus  # multi-validator network

                    nursery.start_soon(run_consensus, self)
                task_status.started()
        finally:
            self.stopping = True
            self.notify_commit()
            server.stop(grace=1).wait()
            self.store.close()
            log.info("stopped at height %d", self.store.height() if not self.store.db.closed else -1)

    async def _watch_signals(self, cancel_scope) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for sig in signals:
                log.info("received %s, stopping", signal.Signals(sig).name)
                cancel_scope.cancel()
                return

    async def _produce_solo(self) -> None:
        """A single-validator chain: build, self-commit, repeat."""
        interval = self.config.block_interval_ms / 1000
        last_commit = self.store.commit(self.app.height) if self.app.height else None
        while True:
            await trio.sleep(interval)
            if not len(self.app.mempool) and not self.config.create_empty_blocks:
                continue
            ex = self.app.build_block(int(time.time() * 1000), self.pubkey, last_commit)
            blk = ex.block
            sig = self.key.sign("vote", self.chain_id, solo_precommit_bytes(self.chain_id, blk.height, 0, blk.hash))
            commit = Commit(height=blk.height, round=0, value_id=blk.hash, signatures=(CommitSig(self.pubkey, sig),))
            self.app.commit(ex, commit)
            last_commit = commit
            self.committed_at[blk.height] = time.time()
            ok = sum(1 for r in ex.receipts if r.code == codes.OK)
            log.info("committed height=%d txs=%d ok=%d root=%s", blk.height, len(blk.txs), ok, blk.header.state_root.hex()[:16])
            self.notify_commit()
            await trio.sleep(0)


def run_node(home_path: str) -> None:
    home = Home(home_path)
    cfg = NodeConfig.load(home.config_file)
    setup_logging(cfg.log_level)
    node = Node(home, cfg)
    trio.run(node.run)
