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
bytes, signature -- to a worker, as one msgpack frame a batch on that
worker's own pipe; the worker answers one byte a transaction, one frame back.
Nothing is decoded in the worker and nothing is verified twice: the caller
admits the decoded transactions the answer marks good as already verified
(``Mempool.add(..., verified=True)``).

How (since 2026-12-05): a few long-lived worker processes, each on its own
duplex pipe (``multiprocessing.Pipe``: ``send_bytes``/``recv_bytes``), and no
helper thread in the node: the caller that submits a batch writes its frame
itself, and a caller waiting for verdicts reads the worker's answers itself,
in the order the frames were sent, handing each answer to the batch it
belongs to (whoever reads first reads for all; the others wait on the
worker's condition).  This replaced a ``ProcessPoolExecutor``, whose
per-batch cost (a pickled work item and future, its manager thread and queue
feeder thread in the node, a queue lock in the worker) was most of what a
worker spent beyond the checks themselves on the relay path's small batches.

Bounds: at most ``max_in_flight`` batches of at most :data:`MAX_CHUNK`
transactions are sent to the workers and not yet answered; ``submit`` waits
for room (the callers are bounded in turn: gRPC worker threads, the p2p
inbox loop) or, with ``block=False``, returns None so the caller can refuse
or check inline.  A hostile sender cannot grow the queue: it can only make
its own batch wait.  The answers a worker owes are at most ``max_in_flight``
frames of at most :data:`MAX_CHUNK` bytes, well inside a pipe's buffer, so a
worker never blocks writing them.

A worker ends by itself when the node's process is gone: its pipe reads end
of file (and it also watches its parent), so a node killed with -9 leaves no
workers behind.

Failure: if a worker dies (kill -9, out of memory) or does not answer within
:data:`WAIT_S` (a hang: it is then killed), the batches it owed are checked
inline on their callers' threads and the worker is started again on next
use; admission never depends on the workers being alive.
"""

from __future__ import annotations

import collections
import multiprocessing as mp
import multiprocessing.connection
import os
import select
import socket
import struct
import threading
import time
from typing import Sequence

import msgpack

from ledger.crypto import tagged_hash, verify, verify_raw
from ledger.tx import SignedTx

MAX_CHUNK = 512  # transactions per frame sent to a worker
# The workers run at a lower priority than the node: the state thread is the one serial
# resource (everything under the GIL), so the scheduler gives it its core first and the
# workers fill the rest (at equal priority, three runnable processes on two cores leave it
# two thirds of a core).  On a machine shared with other work the workers then get less than
# their share: bench_ledger measured both ways on 2026-12-04 with no clear winner under load.
WORKER_NICE = int(os.environ.get("ESOC_VERIFY_NICE", "5"))
SOCKET_BUFFER = 2 << 20  # bytes a worker's socket may hold unread (see _Worker)
WAIT_S = 30.0  # longest wait for a slot or a verdict; then the caller checks the batch itself


def _check_items(items) -> bytes:
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
    """End this worker when the node is gone, should its pipe somehow stay open (a leaked descriptor)."""
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


def _serve(conn, nice: int, parent: int) -> None:  # pragma: no cover - runs in the worker
    """A worker: one frame in (a msgpack list of [signer, chain_id, body, sig]), one frame out (a byte each)."""
    _warm(nice, parent)
    while True:
        try:
            data = conn.recv_bytes()
        except (EOFError, OSError):  # the node closed its end, or is gone
            os._exit(0)
        try:
            out = _check_items(msgpack.unpackb(data, use_list=False))
        except Exception:  # noqa: BLE001 - an empty answer: the caller checks that batch itself
            out = b""
        try:
            conn.send_bytes(out)
        except OSError:
            os._exit(0)


def _frame(txs: Sequence[SignedTx]) -> bytes:
    return msgpack.packb([(t.body.signer, t.body.chain_id, t.body_bytes, t.sig) for t in txs], use_bin_type=True)


def check_inline(txs: Sequence[SignedTx]) -> list[bool]:
    return [t.verify_signature() for t in txs]


class _Worker:
    """One worker process and the node's end of its pipe (a socket pair: the worker reads and writes it as a
    ``multiprocessing`` connection; the node writes and reads the same frames -- a 4-byte big-endian length,
    then the bytes -- on a socket with a timeout, so a hung worker cannot hold a caller forever)."""

    def __init__(self, ctx, nice: int):
        ours, other = socket.socketpair()
        # room for the frames in flight (up to 8 of ~127 kB a worker) so a caller's send does not block
        # while the worker checks the frames ahead (the state thread is a caller; capped by the host's
        # net.core.wmem_max / rmem_max: where lower, a send waits for room, as before)
        for s_, opt in ((ours, socket.SO_SNDBUF), (other, socket.SO_RCVBUF)):
            try:
                s_.setsockopt(socket.SOL_SOCKET, opt, SOCKET_BUFFER)
            except OSError:
                pass
        theirs = mp.connection.Connection(other.detach())
        try:
            self.proc = ctx.Process(target=_serve, args=(theirs, nice, os.getpid()), daemon=True, name="esoc-verify")
            self.proc.start()
        finally:
            theirs.close()
        self.sock = ours
        self.sock.settimeout(WAIT_S)
        self._poll = select.poll()
        self._poll.register(self.sock.fileno(), select.POLLIN)
        self.cv = threading.Condition()
        self.send_lock = threading.Lock()
        self.sent: collections.deque[_Chunk] = collections.deque()  # answers owed, in the order sent
        self.reading = False  # a caller is reading this worker's socket
        self.sending = False  # a caller is writing it
        self.dead = False
        self.closed = False

    def send(self, frame: bytes) -> None:
        self.sock.sendall(struct.pack("!i", len(frame)) + frame)

    def recv(self, timeout: float) -> bytes | None:
        """The next answer, or None if none came within ``timeout`` seconds (EOFError/OSError: gone)."""
        if not self._poll.poll(max(0, int(timeout * 1000))):
            return None
        (n,) = struct.unpack("!i", self._exact(4))
        return self._exact(n) if n > 0 else b""

    def _exact(self, n: int) -> bytes:
        buf = bytearray(n)
        view = memoryview(buf)
        got = 0
        while got < n:
            k = self.sock.recv_into(view[got:])
            if not k:
                raise EOFError("verify worker closed its pipe")
            got += k
        return bytes(buf)

    def fail(self, kill: bool) -> None:
        """Give the worker up (call with ``cv`` held): every batch it owes is checked by its caller."""
        if not self.dead:
            self.dead = True
            if kill:
                try:
                    self.proc.kill()
                except (OSError, ValueError):
                    pass
        self.close_if_idle()
        while self.sent:
            self.sent.popleft().settle(None)
        self.cv.notify_all()

    def close_if_idle(self) -> None:
        """Close the node's end of a given-up worker's socket once no caller is using it (``cv`` held)."""
        if self.dead and not self.closed and not self.reading and not self.sending:
            self.closed = True
            try:
                self.sock.close()
            except OSError:
                pass


class _Chunk:
    __slots__ = ("txs", "worker", "verdicts", "settled", "_release")

    def __init__(self, txs: Sequence[SignedTx], release):
        self.txs = txs
        self.worker: _Worker | None = None
        self.verdicts: bytes | None = None
        self.settled = False
        self._release = release

    def settle(self, verdicts: bytes | None) -> None:
        if not self.settled:
            self.settled = True
            self.verdicts = verdicts if verdicts is not None and len(verdicts) == len(self.txs) else None
            self._release()


class Pending:
    """The verdicts of one submitted batch, to be collected once with :meth:`result`."""

    def __init__(self, pool: "VerifyPool", chunks: list[_Chunk]):
        self._pool = pool
        self._chunks = chunks

    def done(self) -> bool:
        return all(c.settled for c in self._chunks)

    def result(self) -> list[bool]:
        out: list[bool] = []
        deadline = time.monotonic() + WAIT_S
        for c in self._chunks:
            if not c.settled:
                self._pool._await(c, deadline)
            if c.verdicts is not None:
                out.extend(b == 1 for b in c.verdicts)
            else:  # the worker died or hung: checked here, admission never waits on the pool
                out.extend(check_inline(c.txs))
        return out


class VerifyPool:
    """A bounded set of processes that check transaction signatures (started on first use)."""

    def __init__(self, workers: int | None = None, max_in_flight: int | None = None, nice: int = WORKER_NICE):
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.nice = nice
        # enough queued to keep the workers busy while the state thread builds and commits a block
        # of 5,000 (~100 ms): 8 chunks a worker, 8,192 transactions with two workers
        self.max_in_flight = max_in_flight or 8 * self.workers
        self._slots = threading.BoundedSemaphore(self.max_in_flight)
        self._lock = threading.Lock()
        self._ctx = mp.get_context("spawn")
        self._workers: list[_Worker] = []
        self._closed = False

    def pids(self) -> list[int]:
        """The worker processes' ids (tests, diagnostics)."""
        with self._lock:
            return [w.proc.pid for w in self._workers if not w.dead]

    def _live(self) -> list[_Worker]:
        """The workers, any dead one replaced by a new one (started here, on use)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("verify pool is closed")
            ws = self._workers
            if len(ws) < self.workers or any(w.dead for w in ws):
                old = [w for w in ws if w.dead]
                ws = self._workers = [w for w in ws if not w.dead]
                while len(ws) < self.workers:
                    ws.append(_Worker(self._ctx, self.nice))
                for w in old:  # reap what is gone (a killed process that stays a zombie would leak)
                    w.proc.join(timeout=0)
            return ws

    def start(self) -> None:
        """Start the workers now (otherwise on first use) and wait until each answers."""
        for w in self._live():
            c = _Chunk((), lambda: None)
            self._send(w, c, _frame(()))
            self._await(c, time.monotonic() + WAIT_S)

    def _send(self, w: _Worker, c: _Chunk, frame: bytes) -> None:
        c.worker = w
        with w.send_lock:  # the answers come back in the order the frames go out
            with w.cv:
                if w.dead:
                    c.settle(None)
                    return
                w.sent.append(c)
                w.sending = True
            try:
                w.send(frame)
                ok = True
            except (OSError, ValueError):  # gone, given up meanwhile, or hung past the socket's timeout
                ok = False
            with w.cv:
                w.sending = False
                if not ok:
                    w.fail(kill=True)
                w.close_if_idle()

    def _await(self, c: _Chunk, deadline: float) -> None:
        """Wait until chunk ``c`` is settled, reading its worker's answers if nobody else is."""
        w = c.worker
        if w is None:
            c.settle(None)
            return
        with w.cv:
            while not c.settled:
                left = deadline - time.monotonic()
                if w.dead or left <= 0:
                    w.fail(kill=True)  # hung (or gone): killed; what it owed is checked by its callers
                    break
                if w.reading:
                    w.cv.wait(left)
                    continue
                w.reading = True
                w.cv.release()
                data, gone = None, False
                try:
                    data = w.recv(left)
                except (EOFError, OSError, ValueError, struct.error):  # it died (or was given up meanwhile)
                    gone = True
                finally:
                    w.cv.acquire()
                    w.reading = False
                if gone or w.dead:
                    w.fail(kill=True)
                elif data is not None and w.sent:
                    w.sent.popleft().settle(data)  # an empty or short answer settles as None: checked inline
                w.cv.notify_all()
            if not c.settled:
                c.settle(None)

    def submit(self, txs: Sequence[SignedTx], block: bool = True) -> Pending | None:
        """Send ``txs`` to the workers; None when ``block`` is false and the queue is full."""
        chunks: list[_Chunk] = []
        try:
            workers = self._live()
        except (RuntimeError, OSError):  # closed, or no worker could be started: every batch checked inline
            workers = []
        for i in range(0, len(txs), MAX_CHUNK):
            part = txs[i:i + MAX_CHUNK]
            if not (self._slots.acquire(timeout=WAIT_S) if block else self._slots.acquire(blocking=False)):
                # no room (not blocking, or not within WAIT_S): what was sent is still answered, then dropped
                return None
            c = _Chunk(part, self._slots.release)
            chunks.append(c)
            live = [w for w in workers if not w.dead]
            if not live:
                c.settle(None)
                continue
            self._send(min(live, key=lambda w: len(w.sent)), c, _frame(part))
        return Pending(self, chunks)

    def verify(self, txs: Sequence[SignedTx]) -> list[bool]:
        """The verdicts for ``txs`` in order (waits for room in the queue)."""
        if not txs:
            return []
        p = self.submit(txs, block=True)
        return p.result() if p is not None else check_inline(txs)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            ws, self._workers = self._workers, []
        for w in ws:
            with w.cv:
                w.fail(kill=False)  # its pipe closed: the worker reads end of file and exits
        for w in ws:
            w.proc.join(timeout=5)
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join(timeout=5)


_ADDRESSES: dict[bytes, bytes] = {}  # signer public key -> its address (bounded: cleared when full)
ADDRESSES_KEPT = 65_536


def known_sender(tx: SignedTx) -> SignedTx:
    """``tx`` with its sender's address taken from a table of the signers seen (a hash of the key each time
    otherwise, ~0.7 µs: admission asks it first); returns ``tx``.  Any thread may call it: the table is one
    dict, whose get and set are atomic, cleared whole when full."""
    addrs = _ADDRESSES
    signer = tx.body.signer
    a = addrs.get(signer)
    if a is None:
        if len(addrs) >= ADDRESSES_KEPT:
            addrs.clear()
        addrs[signer] = tx.sender
    else:
        tx._sender = a
    return tx


MIN_BATCH = 32  # smaller batches are checked on the calling thread: a round trip to a worker costs more


def verify_txs(pool: VerifyPool | None, txs: Sequence[SignedTx]) -> list[bool]:
    """Verdicts for ``txs``: in the pool for a batch, inline for a few (or without a pool)."""
    if pool is None or len(txs) < MIN_BATCH:
        return check_inline(txs)
    return pool.verify(txs)
