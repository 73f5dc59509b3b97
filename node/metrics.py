"""Prometheus metrics of one node, served over HTTP at /metrics.

A registry per node (not the process-global one), so tests can run several
nodes in one process.  Names follow Prometheus conventions: ``esoc_`` prefix,
base units (seconds, bytes), ``_total`` for counters.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class NodeMetrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.height = Gauge("esoc_height", "Last committed height", registry=r)
        self.round = Gauge("esoc_consensus_round", "Consensus round of the current height", registry=r)
        self.peers = Gauge("esoc_peers", "Connected p2p peers", registry=r)
        self.mempool = Gauge("esoc_mempool_size", "Transactions in the mempool", registry=r)
        self.mempool_bytes = Gauge("esoc_mempool_bytes", "Bytes of transactions in the mempool", registry=r)
        self.txs = Counter("esoc_committed_txs", "Transactions committed", registry=r)
        self.failed_txs = Counter("esoc_failed_txs", "Committed transactions whose receipt code is not 0", registry=r)
        self.blocks = Counter("esoc_blocks", "Blocks committed", registry=r)
        self.block_interval = Histogram("esoc_block_interval_seconds", "Time between consecutive commits", registry=r,
                                        buckets=(0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30))
        self.height_duration = Histogram("esoc_consensus_height_seconds", "From StartHeight to the decision",
                                         registry=r, buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30))
        self.step_duration = Histogram("esoc_consensus_step_seconds", "Time spent in each consensus step",
                                        ["step"], registry=r, buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10))
        self.rounds = Counter("esoc_consensus_rounds", "Rounds started (more than one per height: a round failed)",
                              registry=r)
        self.block_execution = Histogram("esoc_block_execution_seconds", "Executing a proposed block", registry=r,
                                         buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5))
        self.block_commit = Histogram("esoc_block_commit_seconds", "A decided block from staged to "
                                      "written (LevelDB batch, synced, on a worker thread) and the WAL marked", registry=r,
                                      buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2))
        self.block_txs = Histogram("esoc_block_txs", "Transactions per block", registry=r,
                                   buckets=(0, 1, 10, 100, 500, 1000, 2000, 5000, 10000))
        # compact blocks (docs/p2p.md): proposal bytes this node sent, and what the full blocks would have been
        self.proposal_bytes = Counter("esoc_proposal_bytes_sent", "Bytes of proposal messages sent (all peers)",
                                      registry=r)
        self.proposal_full_bytes = Counter("esoc_proposal_full_bytes", "Bytes the same proposals would have "
                                           "taken as full blocks (all peers)", registry=r)
        self.proposal_txs = Counter("esoc_proposal_txs_sent", "Transactions in proposals sent (all peers)", registry=r)
        self.compact_rebuilt = Counter("esoc_compact_rebuilt", "Compact proposals rebuilt into blocks", registry=r)
        self.compact_fetched = Counter("esoc_compact_fetched_txs", "Transactions fetched for compact proposals",
                                       registry=r)
        self.compact_refused = Counter("esoc_compact_refused", "Fetch answers or compact proposals refused",
                                       registry=r)
        self._last_commit = None

    def on_step(self, step_label: str, seconds: float) -> None:
        self.step_duration.labels(step=step_label).observe(seconds)

    def on_commit(self, block, executed, height_seconds: float) -> None:
        now = time.monotonic()
        self.height.set(block.height)
        self.blocks.inc()
        n = len(block.txs)
        self.txs.inc(n)
        self.failed_txs.inc(sum(1 for r in executed.receipts if r.code != 0))
        self.block_txs.observe(n)
        self.height_duration.observe(height_seconds)
        if self._last_commit is not None:
            self.block_interval.observe(now - self._last_commit)
        self._last_commit = now

    def serve(self, listen: str) -> None:
        host, _, port = listen.rpartition(":")
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=self.registry)
