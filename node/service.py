"""The node process: application + gRPC + consensus + p2p, under trio.

``Node.run`` opens one nursery holding every service of the process; a
failure in any of them cancels the others, and SIGINT/SIGTERM end it
cleanly (the gRPC server is stopped, LevelDB closed).  Every chain, of one
validator or many, runs the same Tendermint engine through
``node/consensus_driver.py``; a node whose key is not in the validator set
follows the chain as a full node and serves reads.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import trio

from ledger import codes
from ledger.store import ChainStore
from ledger.tx import SignedTx

from chain.app import open_application
from .config import Home, NodeConfig
from chain.genesis import Genesis
from .grpc_api import start_grpc_server
from chain.contract_host import LawQueries
from chain.mempool import Rejected
from .metrics import NodeMetrics
from . import statesync
from .admission import Admission

log = logging.getLogger("esoc.node")


def setup_logging(level: str = "info") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


class Node:
    def __init__(self, home: Home, config: NodeConfig | None = None):
        self.home = home
        self.config = config or NodeConfig.load(home.config_file)
        self.key = home.load_key()
        self.pubkey = self.key.public
        with open(home.genesis_file) as f:
            self.genesis = Genesis.from_json(f.read())
        self.chain_id = self.genesis.chain_id
        self.store = ChainStore(home.data_dir)
        self.snapshots = statesync.serve_snapshots(self.store, home.data_dir, self.config, self.genesis)
        self.admission = (Admission(self.config.admission_latency_ms / 1000,
                                    floor=min(500, int(self.genesis.param("max_block_txs", 5000))))
                          if self.config.admission_latency_ms > 0 else None)
        self.app = open_application(self.store, self.genesis)
        self.laws = LawQueries(self.app.contracts, self.store, self.genesis.genesis_time_ms)
        self.block_cond = threading.Condition()
        self.stopping = False
        self.metrics = NodeMetrics()
        self.driver = None
        self.p2p = None
        self._round = 0
        self._peers = 0
        self._catching_up = False

    # ---- facade for the gRPC servicer --------------------------------------
    def admit_many(self, txs: list[SignedTx]) -> list:
        app = self.app
        state = app.state()
        nh = app.height + 1
        out = []
        admitted = []
        room = self.admission.room(time.monotonic(), len(app.mempool)) if self.admission else len(txs)
        for i, tx in enumerate(txs):
            if i >= room:  # over the latency bound: refused with a retry hint
                out.append(Rejected(*self.admission.refusal(time.monotonic(), len(app.mempool))))
                continue
            try:
                out.append(app.mempool.add(tx, state, nh, verified=True))
                admitted.append(tx.raw)
            except Rejected as e:
                out.append(e)
        if admitted and self.driver is not None:
            self.driver.relay_txs(admitted)
        return out

    def admission_refusals(self, n: int) -> list:
        """Called from gRPC threads before decoding: Rejected for each of the last transactions of a batch
        of ``n`` that cannot fit under the latency bound now (so a refusal costs no signature check)."""
        if self.admission is None:
            return []
        now = time.monotonic()
        queued = len(self.app.mempool)
        over = n - self.admission.room(now, queued)
        return [Rejected(*self.admission.refusal(now, queued)) for _ in range(max(0, over))]

    def pending_tx(self, h: bytes) -> bytes | None:
        tx = self.app.mempool.get(h)
        return tx.raw if tx is not None else None

    def mempool_size(self) -> int:
        return len(self.app.mempool)

    def is_validator(self) -> bool:
        return self.app.valset().power_of(self.pubkey) > 0

    def catching_up(self) -> bool:
        return self._catching_up

    def peer_count(self) -> int:
        return self._peers

    def current_round(self) -> int:
        return self._round

    def validators_at(self, height: int):
        return self.app.validators(height)

    def on_committed(self, block, executed) -> None:
        ok = sum(1 for r in executed.receipts if r.code == codes.OK)
        log.info("committed height=%d txs=%d ok=%d root=%s", block.height, len(block.txs), ok,
                 block.header.state_root.hex()[:16])
        m = self.metrics
        m.mempool.set(len(self.app.mempool))
        m.mempool_bytes.set(self.app.mempool.size_bytes)
        m.peers.set(self._peers)
        m.round.set(self._round)
        with self.block_cond:
            self.block_cond.notify_all()
        if self.snapshots is not None:
            self.snapshots.maybe_take(block.height)
        if self.admission is not None:
            self.admission.on_commit(time.monotonic(), len(block.txs))

    # ---- running ---------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        token = trio.lowlevel.current_trio_token()
        server = start_grpc_server(self, self.config.grpc_listen, token, self.config.submit_rate_per_s, self.config.submit_burst)
        if self.config.metrics_listen:
            self.metrics.serve(self.config.metrics_listen)
        log.info("grpc listening on %s chain=%s height=%d validator=%s", self.config.grpc_listen, self.chain_id,
                 self.app.height, self.is_validator())
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._watch_signals, nursery.cancel_scope)
                from .consensus_driver import run_consensus

                await nursery.start(run_consensus, self)
                task_status.started()
        finally:
            self.stopping = True
            with self.block_cond:
                self.block_cond.notify_all()
            server.stop(grace=1).wait()
            self.store.close()
            log.info("stopped")

    async def _watch_signals(self, cancel_scope) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for sig in signals:
                log.info("received %s, stopping", signal.Signals(sig).name)
                cancel_scope.cancel()
                return


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        out = []
        for x in e.exceptions:
            out.extend(_leaves(x))
        return out
    return [e]


def run_node(home_path: str) -> None:
    home = Home(home_path)
    cfg = NodeConfig.load(home.config_file)
    setup_logging(cfg.log_level)
    node = Node(home, cfg)
    try:
        trio.run(node.run)
    except BaseException as e:
        from .consensus_driver import FatalError

        leaves = _leaves(e)
        if all(isinstance(x, (KeyboardInterrupt, SystemExit)) for x in leaves):
            raise
        for x in leaves:
            log.critical("node stopped by %s: %s", type(x).__name__, x, exc_info=(type(x), x, x.__traceback__))
        first = leaves[0]
        if isinstance(first, FatalError):
            raise SystemExit(f"esoc: halting: {first}") from None
        raise RuntimeError(f"{type(first).__name__}: {first}") from None
