"""The node process: application + gRPC + consensus + p2p, under trio.

``Node.run`` opens one nursery holding every service of the process; a
failure in any of them cancels the others, and SIGINT/SIGTERM end it
cleanly (the gRPC server is stopped, LevelDB closed).  Every chain, of one
validator or many, runs the same Tendermint engine through
``node/consensus_driver.py``; a node whose key is not in the validator set
follows the chain as a full node and serves reads.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import os
import signal
import threading
import time

import trio

from ledger import codes
from ledger.store import ChainStore
from ledger.tx import SignedTx

from chain.app import open_application
from .config import RELOADABLE, ConfigError, Home, NodeConfig
from ledger.genesis import Genesis
from .grpc_api import ServerTls, start_grpc_server
from .logs import log_file_path
from chain.contract_host import LawQueries
from chain.mempool import Rejected
from .metrics import NodeMetrics
from . import statesync
from .admission import Admission
from .verifier import VerifyPool, verify_txs

log = logging.getLogger("esoc.node")


def setup_logging(level: str = "info", fmt: str = "text", file: str | None = None) -> None:
    from .logs import setup_logging as setup

    setup(level, fmt, file)


def _hist_sum(h) -> float:
    """A Prometheus histogram's running sum of observations."""
    for metric in h.collect():
        for sample in metric.samples:
            if sample.name.endswith("_sum"):
                return sample.value
    return 0.0


def _admission_gauges(registry, adm: Admission) -> None:
    """The admission model on /metrics (docs/operations.md), read when scraped."""
    from prometheus_client import Gauge

    for name, doc, f in (
            ("esoc_admission_limit", "Transactions admission lets queue (the block being decided included)", adm.limit),
            ("esoc_admission_block_seconds", "Admission's model: seconds a block's cycle costs whatever it carries",
             lambda: (adm.model() or (0.0, 0.0))[0]),
            ("esoc_admission_tx_seconds", "Admission's model: seconds a transaction adds to a block's cycle",
             lambda: (adm.model() or (0.0, 0.0))[1]),
            ("esoc_admission_model_error", "Median relative error of the model's predicted block cycle",
             adm.model_error),
            ("esoc_admission_refused", "Submissions refused by admission since start", lambda: adm.refused)):
        Gauge(name, doc, registry=registry).set_function(f)


class Node:
    def __init__(self, home: Home, config: NodeConfig | None = None):
        self.home = home
        self.config = config or NodeConfig.load(home.config_file)
        self.key = home.load_key()
        self.pubkey = self.key.public
        with open(home.genesis_file) as f:
            self.genesis = Genesis.from_json(f.read())
        self.chain_id = self.genesis.chain_id
        try:
            self.tls = ServerTls.from_config(self.config, home)
        except OSError as e:
            raise ConfigError(str(e)) from None
        self.grpc_servicer = None
        self.store = ChainStore(home.data_dir)
        # signature checks of submitted and relayed batches, in worker processes started on first use
        self.verifier = VerifyPool(self.config.verify_workers or None)
        self.snapshots = statesync.serve_snapshots(self.store, home.data_dir, self.config, self.genesis)
        max_block = int(self.genesis.param("max_block_txs", 5000))
        self.admission = (Admission(self.config.admission_latency_ms / 1000, floor=min(500, max_block),
                                    max_block_txs=max_block, validators=len(self.genesis.validators),
                                    interval_s=self.config.block_interval_ms / 1000)
                          if self.config.admission_latency_ms > 0 else None)
        self._work_s = 0.0  # execution + commit seconds (the metrics' sums) at the last commit, for admission
        self.app = open_application(self.store, self.genesis)
        self.app.verify_batch = lambda txs: verify_txs(self.verifier, txs)  # a proposal's unseen transactions
        self.laws = LawQueries(self.app.contracts, self.store, self.genesis.genesis_time_ms)
        self.block_cond = threading.Condition()
        self.stopping = False
        self.metrics = NodeMetrics()
        if self.admission is not None:
            _admission_gauges(self.metrics.registry, self.admission)
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
        hashes = []
        now = time.monotonic()
        if self.admission is not None:
            self.admission.release(now, len(txs))  # the room admission_refusals reserved for them
        room = self.admission.room(now, len(app.mempool)) if self.admission else len(txs)
        busy = Rejected(*self.admission.refusal(now, len(app.mempool), len(txs) - room)) if room < len(txs) else None
        for i, tx in enumerate(txs):
            if i >= room:  # over the latency bound: refused with a retry hint
                out.append(busy)
                continue
            try:
                h = app.mempool.add(tx, state, nh, verified=True)
            except Rejected as e:
                out.append(e)
                continue
            out.append(h)
            admitted.append(tx.raw)
            hashes.append(h)
        if admitted and self.admission is not None:
            self.admission.note_admitted(now, len(admitted))
        if admitted and self.driver is not None:
            self.driver.relay_txs(admitted, hashes)
        return out

    def refusals_before_signatures(self, txs: list[SignedTx]) -> list:
        """On the node's trio thread (as admit_many), with a decoded batch before its signatures are checked: a Rejected
        for each transaction the mempool would refuse whatever its signature (a nonce gap behind a
        refused transaction, a duplicate, an expired one), else None (chain/mempool.py)."""
        app = self.app
        return app.mempool.refusals_before_signatures(txs, app.state(), app.height + 1)

    def admission_refusals(self, n: int) -> list:
        """Called from gRPC threads before decoding: Rejected for each of the last transactions of a batch
        of ``n`` that cannot fit under the latency bound now (so a refusal costs no signature check)."""
        if self.admission is None:
            return []
        now = time.monotonic()
        queued = len(self.app.mempool)
        over = n - self.admission.reserve(now, queued, n)  # the rest reserved until admit_many takes it
        return [Rejected(*self.admission.refusal(now, queued, over))] * over if over > 0 else []

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
        if self.admission is not None:  # the block's cycle, and this node's execution + commit seconds for it
            work = _hist_sum(m.block_execution) + _hist_sum(m.block_commit)
            if self._catching_up:
                self.admission.forget_gap(time.monotonic())  # a synced block's cycle says nothing of the live chain's
            else:
                self.admission.on_commit(time.monotonic(), len(block.txs), work - self._work_s)
            self._work_s = work

    # ---- running ---------------------------------------------------------------
    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        token = trio.lowlevel.current_trio_token()
        server, self.grpc_servicer = start_grpc_server(self, self.config.grpc_listen, token, self.config.submit_rate_per_s,
                                                       self.config.submit_burst, tls=self.tls)
        if self.config.metrics_listen:
            self.metrics.serve(self.config.metrics_listen)
        security = "plaintext" if self.tls is None else ("mutual TLS" if self.tls.client_ca else "TLS")
        log.info("grpc listening on %s (%s) chain=%s height=%d validator=%s", self.config.grpc_listen, security,
                 self.chain_id, self.app.height, self.is_validator())
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
            self.verifier.close()
            self.store.close()
            log.info("stopped")

    async def _watch_signals(self, cancel_scope) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM, signal.SIGHUP) as signals:
            async for sig in signals:
                if sig == signal.SIGHUP:
                    self.reload_config()
                    continue
                log.info("received %s, stopping", signal.Signals(sig).name)
                cancel_scope.cancel()
                return

    def reload_config(self) -> bool:
        """Re-read HOME/config.toml and apply ``peers``, ``allow_peers`` and ``tls_client_allow``.

        A config that does not load or validate changes nothing (logged); other
        changed settings are named in a warning: they take effect at the next start.
        """
        try:
            new = NodeConfig.load(self.home.config_file)
        except ConfigError as e:
            log.error("config reload refused, keeping the running settings: %s", e)
            return False
        old = self.config
        if self.driver is not None:
            self.driver.apply_peer_config(new)
        old.peers, old.allow_peers = list(new.peers), list(new.allow_peers)
        if self.grpc_servicer is not None and self.tls is not None and self.tls.client_ca is not None:
            if new.tls_client_allow != old.tls_client_allow:
                self.grpc_servicer.allow = new.tls_fingerprints()
                log.info("config reload: tls_client_allow now lists %d certificates", len(new.tls_client_allow))
            old.tls_client_allow = list(new.tls_client_allow)
        later = [f.name for f in dataclasses.fields(NodeConfig)
                 if f.name not in RELOADABLE and getattr(new, f.name) != getattr(old, f.name)]
        if later:
            log.warning("config reload: %s changed; these take effect when the node restarts", ", ".join(later))
        log.info("config reloaded from %s", self.home.config_file)
        return True


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """The collector's settings for a node under load, called once the node has opened its state.

    With CPython's defaults (700, 10, 10) the cyclic collector ran ~660 times during 40,000
    transfers in bench_ledger and took ~15 % of the state thread (0.25 s of 1.6 s; its third
    generation alone 0.15 s, five full passes over every live object).  Objects alive after
    start-up (genesis, laws, caches) are frozen out of its passes, and a collection waits for
    50,000 new objects instead of 700: 0.11 s, and +2.5 % transfers/s (2026-12-04).  Garbage in
    cycles still goes, a few hundred milliseconds later.
    """
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _leaves(e: BaseException) -> list[BaseException]:
    if isinstance(e, BaseExceptionGroup):
        out = []
        for x in e.exceptions:
            out.extend(_leaves(x))
        return out
    return [e]


def run_node(home_path: str) -> None:
    home = Home(home_path)
    cfg = NodeConfig.load(home.config_file)  # a ConfigError is the CLI's to print
    setup_logging(cfg.log_level, cfg.log_format, log_file_path(home.path, cfg.log_file))
    node = Node(home, cfg)
    tune_gc()
    pidfile = os.path.join(home.path, "node.pid")  # `esoc node reload` sends SIGHUP to this pid
    with open(pidfile, "w") as f:
        f.write(f"{os.getpid()}\n")
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
    finally:
        try:
            os.remove(pidfile)
        except OSError:
            pass
