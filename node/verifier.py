"""Signature checks for admission in worker processes.

Why processes: a transaction's Ed25519 check (libsodium) releases the GIL,
but the threads that call it must take the GIL back between checks, and
while the state thread runs Python (admission, execution, commit) a waiting
thread gets it back only at the interpreter's switch interval (5 ms): in
threads, the checks barely overlap the serial work (measured: bench_ledger
gained nothing from its two verifying threads).  Worker processes have no
GIL to share.

What crosses: the caller decodes each transaction once (``decode_tx``, on its
own thread) and sends only what the check needs -- signer, chain id, body
bytes, signature -- to a worker, which answers one byte a transaction.
Nothing is decoded in the worker and nothing is verified twice: the caller
admits the decoded transactions the answer marks good as already verified
(``Mempool.add(..., verified=True)``).

Bounds: at most ``max_in_flight`` batches of at most :data:`MAX_CHUNK`
transactions are queued to the workers; ``submit`` waits for room (the
callers are bounded in turn: gRPC worker threads, the p2p inbox loop) or,
with ``block=False``, returns None so the caller can refuse or check inline.
A hostile sender cannot grow the queue: it can only make its own batch wait.

A worker ends by itself when the node's process is gone (it watches its
parent), so a node killed with -9 leaves no workers behind.

Failure: if a worker dies (kill -9, out of memory) the batch is checked
inline on the caller's thread and the pool is started again on next use;
admission never depends on the pool being alive.
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import os
import threading
import time
from typing import Sequence

import msgpack

from ledger.crypto import tagged_hash, verify, verify_raw
from ledger.tx import SignedTx

MAX_CHUNK = 512  # transactions per task sent to a worker
# The workers run at a lower priority than the node: the state thread is the one serial
# resource (everything under the GIL), so the scheduler gives it its core first and the
# workers fill the rest (at equal priority, three runnable processes on two cores leave it
# two thirds of a core).  On a machine shared with other work the workers then get less than
# their share: bench_ledger measured both ways on 2026-12-04 with no clear winner under load.
WORKER_NICE = int(os.environ.get("ESOC_VERIFY_NICE", "5"))
WAIT_S = 30.0  # longest wait for a slot or a verdict; then the caller checks the batch itself


def _check_items(items: list) -> bytes:
    """In a worker: one byte per (signer, chain_id, body_bytes, sig): 1 if the signature verifies
    (``ledger.crypto.verify`` in the ``tx`` domain, its signing hash and check inlined)."""
    out = bytearray(len(items))
    for i, (signer, chain_id, body, sig) in enumerate(items):
        if type(chain_id) is str and type(body) is bytes:
            msg = tagged_hash("sign tx", msgpack.packb([chain_id, body], use_bin_type=True))
            out[i] = verify_raw(signer, msg, sig)
        else:
            out[i] = verify(signer, "tx", chain_id, body, sig)
    return bytes(out)


def _watch_parent(parent: int) -> None:  # pragma: no cover - runs in the worker
    """End this worker when the node is gone (kill -9 included): nothing else would tell it."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            os._exit(0)


def _warm(nice: int = 0, parent: int = 0) -> None:  # pragma: no cover - runs in the worker
    if parent:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    if nice:
        try:
            os.nice(nice)
        except OSError:
            pass
    verify(bytes(32), "tx", "", b"", bytes(64))


def _items(txs: Sequence[SignedTx]) -> list:
    return [(t.body.signer, t.body.chain_id, t.body_bytes, t.sig) for t in txs]


def check_inline(txs: Sequence[SignedTx]) -> list[bool]:
    return [t.verify_signature() for t in txs]


class Pending:
    """The verdicts of one submitted batch, to be collected once with :meth:`result`."""

    def __init__(self, pool: "VerifyPool", txs: Sequence[SignedTx], futures: list):
        self._pool = pool
        self._txs = txs
        self._futures = futures

    def done(self) -> bool:
        return all(f.done() for f in self._futures)

    def result(self) -> list[bool]:
        out: list[bool] = []
        try:
            for f in self._futures:
                out.extend(b == 1 for b in f.result(timeout=WAIT_S))
            return out
        except cf.process.BrokenProcessPool:
            self._pool._broken()
        except Exception:  # a hung worker (timeout), a cancelled batch: admission never waits on the pool
            pass
        return check_inline(self._txs)


class VerifyPool:
    """A bounded pool of processes that check transaction signatures (started on first use)."""

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None, nice: int = WORKER_NICE):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.nice = nice
        # enough queued to keep the workers busy while the state thread builds and commits a block
        # of 5,000 (~100 ms): 8 chunks a worker, 8,192 transactions with two workers
        self.max_in_flight = max_in_flight or 8 * self.workers
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._lock = threading.Lock()
        self._pool: cf.ProcessPoolExecutor | None = None
        self._closed = False

    def _executor(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise RuntimeError("verify pool is closed")
            if self._pool is None:
                self._pool = cf.ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"),
                                                    initializer=_warm, initargs=(self.nice, os.getpid()))
            return self._pool

    def _broken(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def start(self) -> None:
        """Start the workers now (otherwise on first use) and wait until they answer."""
        ex = self._executor()
        list(ex.map(_check_items, [[] for _ in range(self.workers)]))

    def submit(self, txs: Sequence[SignedTx], block: bool = True) -> Pending | None:
        """Send ``txs`` to the workers; None when ``block`` is false and the queue is full."""
        chunks = [txs[i:i + MAX_CHUNK] for i in range(0, len(txs), MAX_CHUNK)]
        taken = 0
        futures = []
        try:
            for c in chunks:
                if not (self._slots.acquire(timeout=WAIT_S) if block else self._slots.acquire(blocking=False)):
                    break
                taken += 1
                f = self._executor().submit(_check_items, _items(c))
                f.add_done_callback(lambda _f: self._slots.release())
                taken -= 1  # the callback now owns the slot
                futures.append(f)
            else:
                return Pending(self, txs, futures)
        except (cf.process.BrokenProcessPool, RuntimeError):
            self._broken()
            for _ in range(taken):
                self._slots.release()
            return Pending(self, txs, [_inline_future(c) for c in chunks])
        # no room (not blocking, or not within WAIT_S): what was sent is still checked, then dropped
        return None

    def verify(self, txs: Sequence[SignedTx]) -> list[bool]:
        """The verdicts for ``txs`` in order (waits for room in the queue)."""
        if not txs:
            return []
        p = self.submit(txs, block=True)
        return p.result() if p is not None else check_inline(txs)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _inline_future(txs: Sequence[SignedTx]) -> cf.Future:
    f: cf.Future = cf.Future()
    f.set_result(bytes(1 if ok else 0 for ok in check_inline(txs)))
    return f


MIN_BATCH = 32  # smaller batches are checked on the calling thread: a round trip to a worker costs more


def verify_txs(pool: VerifyPool | None, txs: Sequence[SignedTx]) -> list[bool]:
    """Verdicts for ``txs``: in the pool for a batch, inline for a few (or without a pool)."""
    if pool is None or len(txs) < MIN_BATCH:
        return check_inline(txs)
    return pool.verify(txs)
