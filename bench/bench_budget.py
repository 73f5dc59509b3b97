"""The per-transaction cost budget: where every microsecond of a transfer goes.

Two tables, each a list of budget lines with µs per transaction and share:

* **One node** (``single_node_budget``): bench_ledger's path -- decode,
  verify, admit, build a 5,000-transaction block, execute, state tree,
  receipts, LevelDB commit -- run on one thread with a span profiler: the
  functions that own each line are wrapped with a timer that charges its
  *exclusive* CPU time (``time.thread_time``: on a shared machine, time the
  thread waits for a core is not charged; time in a nested span is charged to
  that span).  The wrappers cost ~1 µs a call; the total is measured without
  them too.
* **A validator in the 4-node devnet** (``validator_budget``): the network
  bench's open-loop load at a moderate rate, each node sampled by py-spy
  (``pip install py-spy``; without it the table is skipped), every sampled
  stack charged to the first budget line whose rule matches it (rules in
  ``RULES``, most specific first), and the shares scaled to the node's CPU
  seconds (/proc) per finalized transaction.  Samples are of active threads
  (not idle ones), so a thread waiting for the GIL counts where it waits:
  the shares are a profile, the µs are CPU time divided in those shares.

``python -m bench budget`` runs it alone; ESOC_BENCH_BUDGET_NET=0 skips the
devnet part; ESOC_BENCH_BUDGET_RATE (default 1,400 tx/s) and
ESOC_BENCH_BUDGET_SECONDS (25) shape it.
"""

from __future__ import annotations

import functools
import gc
import os
import shutil
import subprocess
import sys
import tempfile
import time

LINES = ("decode", "signature", "admission (mempool)", "gossip and p2p encryption", "proposal building",
         "execution", "state tree", "receipts", "LevelDB commit", "consensus messages", "gRPC", "other")


# ---------------------------------------------------------------------------
# one node: a span profiler over the node's own functions
# ---------------------------------------------------------------------------
class Spans:
    """Exclusive CPU time (this thread's) per budget line, over wrapped functions (one thread)."""

    def __init__(self):
        self.total = {k: 0.0 for k in LINES}
        self.stack: list[list] = []  # [line, start, child time]
        self.patched: list[tuple] = []

    def wrap(self, owner, name: str, line: str) -> None:
        orig = getattr(owner, name)
        spans = self
        clock = time.thread_time  # CPU time of this thread: other processes on a shared machine do not count

        @functools.wraps(orig)
        def timed(*a, **kw):
            frame = [line, clock(), 0.0]
            spans.stack.append(frame)
            try:
                return orig(*a, **kw)
            finally:
                spans.stack.pop()
                dt = clock() - frame[1]
                spans.total[line] += dt - frame[2]
                if spans.stack:
                    spans.stack[-1][2] += dt

        self.patched.append((owner, name, orig))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, orig in reversed(self.patched):
            setattr(owner, name, orig)
        self.patched.clear()


def _instrument(spans: Spans) -> None:
    import chain.app as app_mod
    from chain.execution import Executor
    from chain.mempool import Mempool
    from ledger import block as block_mod
    from ledger import tx as tx_mod
    from ledger.smt import SparseMerkleTree
    from ledger.state import State
    from ledger.store import ChainStore

    spans.wrap(tx_mod, "decode_tx", "decode")
    spans.wrap(tx_mod.SignedTx, "verify_signature", "signature")
    spans.wrap(Mempool, "add", "admission (mempool)")
    spans.wrap(Mempool, "update", "admission (mempool)")
    spans.wrap(Mempool, "reap", "proposal building")
    spans.wrap(app_mod.Application, "build_block", "proposal building")
    spans.wrap(Executor, "apply_block", "execution")
    spans.wrap(State, "commit", "state tree")
    spans.wrap(SparseMerkleTree, "update", "state tree")
    spans.wrap(block_mod.Receipt, "encode", "receipts")
    spans.wrap(app_mod, "receipts_root", "receipts")
    spans.wrap(ChainStore, "commit_block", "LevelDB commit")


def _one_node_run(n_accounts: int, n_txs: int, block_txs: int, instrument: bool) -> tuple[float, int, Spans | None]:
    """bench_ledger's path on ONE thread: (CPU seconds, applied, spans)."""
    from chain.app import Application
    from ledger import tx as tx_mod
    from ledger.store import ChainStore
    from node.service import tune_gc

    from .bench_ledger import _setup, _sign_load

    keys, g = _setup(n_accounts)
    raws = _sign_load(keys, n_txs)
    spans = Spans() if instrument else None
    gc_before = gc.get_threshold()
    with tempfile.TemporaryDirectory() as d:
        store = ChainStore(d)
        app = Application(store, g)
        tune_gc()  # as the node does once open (node/service.py)
        if spans:
            _instrument(spans)
        try:
            t0 = time.thread_time()
            applied = 0
            when = 2_000
            for b in range(0, n_txs, block_txs):
                state = app.state()
                for raw in raws[b:b + block_txs]:
                    tx = tx_mod.decode_tx(raw)
                    if tx.verify_signature():
                        app.mempool.add(tx, state, app.height + 1, verified=True)
                when += 1000
                ex = app.build_block(when, g.validators[0].pubkey, None)
                app.commit(ex, None)
                applied += sum(1 for r in ex.receipts if r.code == 0)
            dt = time.thread_time() - t0
        finally:
            if spans:
                spans.restore()
            store.close()
            gc.unfreeze()
            gc.set_threshold(*gc_before)
    return dt, applied, spans


def single_node_budget(n_accounts: int = 2000, n_txs: int = 10000, block_txs: int = 5000) -> dict:
    _one_node_run(n_accounts, n_txs // 5, block_txs // 5, instrument=False)  # warm: imports, caches
    prof_s, applied_p, spans = _one_node_run(n_accounts, n_txs, block_txs, instrument=True)
    plain_s, applied, _ = _one_node_run(n_accounts, n_txs, block_txs, instrument=False)
    assert spans is not None
    spans.total["other"] += max(0.0, prof_s - sum(spans.total.values()))
    us = {k: v / applied_p * 1e6 for k, v in spans.total.items()}
    return {"us": us, "total_us": prof_s / applied_p * 1e6, "plain_us": plain_s / applied * 1e6, "applied": applied}


# ---------------------------------------------------------------------------
# a validator in the devnet: py-spy samples, charged by rules
# ---------------------------------------------------------------------------
# (line, substrings of a frame; the first rule with a frame that matches wins)
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("signature", ("verify_signature", "verify_raw", "verify_batch", "crypto_sign")),
    ("state tree", ("ledger/smt.py", "commit (ledger/state.py")),
    ("LevelDB commit", ("commit_block (ledger/store.py", "stage_block (ledger/store.py", "write_staged (ledger/store.py")),
    ("receipts", ("receipts_root", "encode (ledger/block.py")),
    ("decode", ("decode_tx", "from_raw")),
    ("admission (mempool)", ("chain/mempool.py", "admission_error", "admit_many")),
    ("execution", ("apply_block", "chain/execution.py", "chain/contract_host.py", "contracts/")),
    ("proposal building", ("build_block",)),
    ("gossip and p2p encryption", ("node/p2p/", "nacl", "cryptography", "noise")),
    ("consensus messages", ("consensus/", "consensus_driver.py")),
    ("gRPC", ("grpc",)),
)


# A sample whose innermost frame is one of these is a thread waiting (for epoll, a lock, a queue, a
# worker's answer), not CPU: py-spy samples such threads as active when the wait is inside a C call
# that it does not know releases the GIL.  They are counted apart ("idle"), in no budget line (before
# 2026-12-05 they were ~40% of the samples and all charged to "other", "gRPC" or "signature").
# Line numbers pin the functions whose other lines do work (Python 3.11, trio and grpc as installed).
IDLE_LEAVES: tuple[str, ...] = (
    "EpollIOManager.get_events (trio/_core/_io_epoll.py",  # trio's event loop: epoll_wait
    "_PollLikeSelector.select (selectors.py",  # selectors: poll/epoll wait
    "Condition.wait (threading.py",  # a lock wait: futures, queues' feeder threads, idle workers
    "_worker (concurrent/futures/thread.py:81)",  # a thread pool's idle thread: work_queue.get
    "_serve (grpc/_server.py:1314)",  # grpc's server thread: completion_queue.poll
    "WorkerThread._work (trio/_core/_thread_cache.py:211)",  # trio's idle cached thread
    "_send_message_to_trio (trio/_threads.py:528)",  # a thread waiting for trio to run its call
    "_Worker.recv (node/verifier.py",  # waiting for a signature worker's answer: poll
)


def classify(stack: str) -> str:
    """The budget line of one sampled stack (frames joined by ';', root first); "idle" for a thread waiting."""
    frames = stack.split(";")
    leaf = frames[-1]
    if any(leaf.startswith(n) for n in IDLE_LEAVES):
        return "idle"
    for line, needles in RULES:
        for f in frames:
            if any(n in f for n in needles):
                return line
    return "other"


def parse_pyspy_raw(path: str) -> dict[str, int]:
    """Samples per budget line from one `py-spy record --format raw` file (and the idle ones, under "idle")."""
    out = {k: 0 for k in (*LINES, "idle")}
    with open(path) as f:
        for text in f:
            stack, _, count = text.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            out[classify(stack)] += int(count)
    return out


def _spy() -> str | None:
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    return spy if os.path.exists(spy) else None


def validator_budget(rate: int, seconds: float) -> dict | None:
    from . import bench_network as bn

    if _spy() is None:
        print("  py-spy not installed: no validator budget (pip install py-spy)", file=sys.stderr)
        return None
    tmp = tempfile.mkdtemp(prefix="esoc-bench-budget-")
    try:
        prof = os.path.join(tmp, "prof")
        r = bn.load_test(os.path.join(tmp, "net"), rate, seconds, verbose=False, profile_dir=prof,
                         sampler=_sampler_no_idle)
        per_node = []
        for i in range(4):
            p = os.path.join(prof, f"node{i}.txt")
            if os.path.exists(p):
                per_node.append(parse_pyspy_raw(p))
        if not per_node:
            return None
        samples = {k: sum(n[k] for n in per_node) for k in LINES}
        n_samples = max(1, sum(samples.values()))
        # one validator's share, of the node processes only (py-spy samples those; the signature workers'
        # CPU is node_cpu_s - node_own_cpu_s, printed beside)
        cpu_us_per_tx = sum(r["node_own_cpu_s"]) / 4 / max(1, r["ok_in_window"]) * 1e6
        us = {k: cpu_us_per_tx * v / n_samples for k, v in samples.items()}
        return {"us": us, "total_us": cpu_us_per_tx, "run": r, "samples": n_samples}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _sampler_no_idle(spy: str, pid: int, seconds: float, out: str) -> subprocess.Popen:
    return subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
                             "--format", "raw", "--threads", "--nonblocking", "-o", out],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------------------
def table(budget: dict) -> str:
    total = sum(budget["us"].values()) or 1.0
    rows = ["| budget line | µs per tx | share |", "|---|---:|---:|"]
    for k in LINES:
        v = budget["us"][k]
        rows.append(f"| {k} | {v:.1f} | {v / total:.1%} |")
    rows.append(f"| **total** | **{total:.1f}** | 100% |")
    return "\n".join(rows)


def _rows(kind: str, budget: dict, note: str) -> list[dict]:
    total = sum(budget["us"].values()) or 1.0
    out = [{"name": f"{kind}: {k}", "value": round(budget["us"][k], 1), "unit": "µs/tx",
            "note": f"{budget['us'][k] / total:.1%} of the total"} for k in LINES]
    out.append({"name": f"{kind}: total", "value": round(total, 1), "unit": "µs/tx", "note": note})
    return out


def run() -> list[dict]:
    rows: list[dict] = []
    one = single_node_budget()
    print("  one node (one thread, span profiler):\n" + table(one), file=sys.stderr, flush=True)
    serial = sum(v for k, v in one["us"].items() if k != "signature")
    rows += _rows("one node", one, f"{one['applied']} transfers on one thread, 2000 accounts, blocks of 5000; "
                                   f"{one['plain_us']:.1f} µs/tx without the profiler's wrappers "
                                   f"({1e6 / one['plain_us']:,.0f} tx/s on one core); all but the signature "
                                   f"(the node's serial part: its signatures go to worker processes) "
                                   f"{serial:.1f} µs/tx")
    if os.environ.get("ESOC_BENCH_BUDGET_NET", "1") != "0":
        rate = int(os.environ.get("ESOC_BENCH_BUDGET_RATE", "1400"))
        seconds = float(os.environ.get("ESOC_BENCH_BUDGET_SECONDS", "25"))
        val = validator_budget(rate, seconds)
        if val is not None:
            r = val["run"]
            print("  one validator of 4 (py-spy, CPU per finalized tx):\n" + table(val), file=sys.stderr, flush=True)
            rows += _rows("validator of 4", val,
                          f"4-node devnet, {r['offered_rate']:,.0f} tx/s offered for {r['seconds']:.0f} s, "
                          f"{r['finalized_per_s']:,.0f} finalized/s, p50 {r['p50']:.2f} s; {val['samples']} py-spy samples "
                          f"over the 4 nodes, shares scaled to the mean node's CPU per finalized tx; the node "
                          f"processes only: signatures of batches are checked in their worker processes "
                          f"(node/verifier.py), whose CPU, "
                          f"{(sum(r['node_cpu_s']) - sum(r['node_own_cpu_s'])) / 4 / max(1, r['ok_in_window']) * 1e6:,.0f}"
                          f" µs a transaction a node in this run, is not in these µs")
    return rows


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
