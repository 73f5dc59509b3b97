"""Overload without collapse: admit only what can commit within a latency bound.

An open-loop client population can offer more than the chain commits.  If
the node admits it all, the mempool grows and the latency of every admitted
transaction grows with it, without bound (issue 13: 1,400 tx/s offered to a
chain that commits 1,120 gave p99 14 s).  So admission is bounded by time,
not only by the mempool's size.

Rules
-----
1. **Capacity comes from cost, not from what was admitted.**  A block's
   cycle -- from one commit to the next: the pause after a commit, building
   or receiving the proposal, executing it, the votes, the write -- is
   modelled as ``a + b x n`` seconds for a block of ``n`` transactions:
   ``b`` is the seconds of work a transaction adds to the cycle, ``a`` the
   seconds every block costs whatever it carries.  Both are fitted over the
   last ``window`` blocks committed: ``b`` is the larger of the slope of
   cycle against size (least squares, used when the sizes spread enough to
   give one) and the node's own measured execution + commit seconds per
   transaction (its per-transaction work, a floor under the slope); ``a``
   is the upper quartile of ``cycle - b x n`` (so a jittery chain is judged
   by its slower blocks).  Neither depends on how much was admitted: a
   small block measures the same ``a`` and ``b`` as a big one, so the
   estimate does not shrink with the blocks it lets through.  (The commit
   rate, the earlier rule's measure -- limit = best rate of the last minute
   x bound -- is what admission let in: its level is set by the blocks it
   allowed, and it climbs only as fast as they grow.)
2. **A queue is judged by its drain time.**  A transaction admitted behind
   ``q`` others (the block being decided counts: the mempool holds it until
   it commits) is committed after the block in flight and the ``ceil(q /
   B)`` blocks that carry the rest (``B``, the chain's ``max_block_txs``):
   ``drain(q) = a x (1 + ceil(q / B)) + b x q``.  The **limit** is the
   longest queue with ``drain(limit) <= bound`` -- with one block waiting,
   ``(bound - 2a) / b`` -- and never less than ``floor`` (the node uses 500,
   or a block if blocks are smaller): with nothing measured yet, or a chain
   too slow for the bound, the chain still gets work, and the blocks that
   carry it are measured; and never more than ``TRUST`` (4) times the
   largest block in the window (the line is trusted that far from what it
   was fitted on; blocks carry about half the limit, so at the start of an
   overload the limit at most doubles a block, instead of admitting a burst
   sized by extrapolating small blocks -- a cap of twice held the simulated
   chain at the floor for good, the trap of rule 1).  Two details
   keep what is admitted within it:

   * the room a commit frees opens only ``interval_s`` (the node's
     ``block_interval_ms``) after it, once the next proposal has taken what
     waited: admitted in that pause, a transaction would ride in a block
     already as large as the limit allows, and wait out two full ones;
     so the block in flight and the next one hold at most the limit
     together, and a transaction waits at most ``2a + b x limit``;
   * while it is refusing (any refusal in the last ``pressure_window_s``),
     each validator admits only its **share** of the free room, reckoned
     once after each commit and once when the pause ends: of what entered
     its mempool lately, the part it admitted itself (the rest came relayed),
     at least ``1 / validators`` -- a node sees the others' admissions only
     once they are relayed, and four nodes each filling the whole room at
     once would queue four times the limit.  Below the limit nothing is
     shared: a client's burst to one node is not cut to a quarter;
   * the room a batch's check before its signatures found is **reserved**
     for it (:meth:`reserve`, :meth:`release`; at most ``RESERVE_S``):
     batches checked concurrently do not all pass on the same room, cost
     their decode and signature checks, and then meet the refusal.
3. **Refused with a reason and a retry hint.**  What does not fit is
   refused with ``MEMPOOL_FULL`` (gRPC ``RESOURCE_EXHAUSTED``): ``node busy:
   Q queued, about D s to commit ...; retry after N ms``, which clients parse
   (:func:`retry_after_ms`).  N is the time for the excess over the limit to
   drain, times the **pressure** -- 1 + refusals per admission during the
   last ``pressure_window_s`` seconds (per the limit if fewer were
   admitted), at most ``MAX_PRESSURE`` -- so that when twice what fits keeps coming, the
   refused spread their retries over the time the chain needs for them
   rather than all return at the next commit; bounded to [0.2, 10] s.
4. **Checked against the commit rate.**  The rate committed over the last
   ``rate_window_s`` seconds is kept beside the model (:meth:`rate`), and
   the model's prediction of each block's cycle against the cycle measured
   (:meth:`model_error`): both appear in :meth:`describe` and the refusal.

What the bound costs: blocks of the limit split between two cycles, so the
chain commits about ``(bound - 2a) / (b x bound)`` transactions a second
under overload -- with ``a`` 0.3 s and ``b`` 1/3,000 s, 70 % of the
``1 / b`` a chain of unbounded blocks approaches at a 2 s bound, 76 % at
2.5 s, but 40 % at 1 s: the bound must be several times ``a`` for the
chain to run near its knee.

Sans-IO: the clock is the caller's (monotonic seconds) and no thread is
started, so the logic is tested on a simulated clock (tests/node/
test_admission.py; tests/node/admission_sim.py simulates four validators
with relay lag and jittered blocks under twice their capacity).
Bounded: ``window`` blocks (64), ``pressure_window_s`` one-second buckets (10).
Thread-safe for its callers (gRPC threads ask :meth:`room` while the node's
thread reports commits): the fitted model is one tuple replaced whole, and the
counters are kept under a lock.
"""

from __future__ import annotations

import math
import re
import threading
from collections import deque

from ledger import codes

_HINT = re.compile(r"retry after (\d+) ms")

TRUST = 4  # the limit is at most this many times the largest block measured lately
MIN_FIT_BLOCKS = 4  # cycles with transactions measured before the model replaces the floor
MAX_PRESSURE = 16.0  # the retry hint grows with submissions per admission up to this factor
HINT_MIN_S, HINT_MAX_S = 0.2, 10.0
RESERVE_S = 2.0  # room reserved for a batch whose signatures are being checked, at most this long


def retry_after_ms(reason: str) -> int | None:
    """The retry hint in a refusal's reason, or None."""
    m = _HINT.search(reason or "")
    return int(m.group(1)) if m else None


def _quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def fit_cycle(blocks, min_spread: float = 50.0) -> tuple[float, float] | None:
    """``(a, b)`` of ``cycle = a + b x n`` over ``blocks`` [(n, cycle_s, work_s or None)], or None
    when fewer than MIN_FIT_BLOCKS carried transactions.

    ``b``: the least-squares slope of cycle against n when the sizes spread by at least
    ``min_spread`` transactions (standard deviation), and never below the median measured work
    per transaction (execution + commit seconds of blocks of 20 or more); ``a``: the upper
    quartile of ``cycle - b x n``, at least 0."""
    blocks = list(blocks)
    busy = [(n, c, w) for n, c, w in blocks if n > 0]
    if len(busy) < MIN_FIT_BLOCKS:
        return None
    work = [w / n for n, _, w in busy if w is not None and n >= 20]
    b_work = _quantile(work, 0.5) if work else 0.0
    k = len(blocks)
    mn = sum(n for n, _, _ in blocks) / k
    mc = sum(c for _, c, _ in blocks) / k
    sxx = sum((n - mn) ** 2 for n, _, _ in blocks)
    b_fit = 0.0
    if sxx / k >= min_spread ** 2:
        b_fit = max(0.0, sum((n - mn) * (c - mc) for n, c, _ in blocks) / sxx)
    b = max(b_work, b_fit)
    if b <= 0.0:
        b = mc / max(1.0, mn)  # one size only and no work measured: all of a cycle counted per transaction
    a = max(0.0, _quantile([c - b * n for n, c, _ in blocks], 0.75))
    return a, b


class Admission:
    def __init__(self, latency_bound_s: float = 1.0, floor: int = 500, max_block_txs: int = 5000,
                 window: int = 64, rate_window_s: float = 10.0, pressure_window_s: int = 10,
                 max_blocks: int | None = None, validators: int = 1, interval_s: float = 0.0):
        self.bound = latency_bound_s
        self.interval = interval_s
        self._held = (0.0, 0)  # (commit time, its transactions): room that opens once the next block is taken
        self.validators = max(1, validators)
        self.floor = floor
        self.max_block = max(1, max_block_txs)
        self.rate_window_s = rate_window_s
        window = max_blocks or window
        self._blocks: deque = deque(maxlen=window)  # (n, cycle s, work s or None): the model's data
        self._commits: deque = deque(maxlen=window)  # (time, n): the commit rate's
        self._errors: deque = deque(maxlen=window)  # |predicted - measured| / measured cycle
        self._last: float | None = None
        self._model: tuple | None = None  # (a, b, limit): replaced whole
        self._lock = threading.RLock()
        self._reserved: deque = deque(maxlen=4096)  # [time, n]: room promised to batches being checked
        self._pw = max(1, pressure_window_s)
        self._buckets: deque = deque(maxlen=self._pw)  # [second, admitted, refused, queue seen first]
        self._cycle: tuple = (None, 0)  # ((commit time, in the pause), transactions this node may still admit)
        self.refused = 0
        self.admitted = 0

    # ---- measurements ------------------------------------------------------------
    def on_commit(self, now: float, n_txs: int, work_s: float | None = None) -> None:
        """A block of ``n_txs`` committed at ``now``; ``work_s``: the seconds this node spent executing
        and writing it, if measured."""
        self._commits.append((now, n_txs))
        self._held = (now, n_txs)
        last, self._last = self._last, now
        if last is None or now <= last:
            return
        cycle = now - last
        m = self._model
        if m is not None and cycle > 0:
            self._errors.append(abs(m[0] + m[1] * n_txs - cycle) / cycle)
        self._blocks.append((n_txs, cycle, work_s))
        fit = fit_cycle(self._blocks)
        if fit is not None:
            a, b = fit
            # the line is trusted up to four times the largest block it was fitted on (a burst at the start of
            # an overload would otherwise be sized by extrapolating small blocks); blocks carry about half the
            # limit (the block in flight and the next share it), so the limit at most doubles a block
            seen = max(n for n, _, _ in self._blocks)
            self._model = (a, b, min(self._limit(a, b), max(self.floor, TRUST * seen)))

    def forget_gap(self, now: float) -> None:
        """The next commit's cycle is not one (e.g. after catching up through block sync)."""
        self._last = now

    def note_admitted(self, now: float, n: int) -> None:
        with self._lock:
            self.admitted += n
            self._bucket(now)[1] += n
            t, left = self._cycle
            self._cycle = (t, left - n)

    def _bucket(self, now: float, queued: int = -1) -> list:
        s = int(now)
        if not self._buckets or self._buckets[-1][0] != s:
            self._buckets.append([s, 0, 0, queued])
        elif self._buckets[-1][3] < 0:
            self._buckets[-1][3] = queued
        return self._buckets[-1]

    # ---- the model ---------------------------------------------------------------
    def drain_s(self, q: int, a: float | None = None, b: float | None = None) -> float:
        """Seconds until ``q`` queued transactions are committed: the block in flight and the blocks the
        rest fill (rule 2)."""
        if a is None:
            if self._model is None:
                return 0.0
            a, b = self._model[0], self._model[1]
        return a * (1 + max(1, math.ceil(q / self.max_block))) + b * q

    def _limit(self, a: float, b: float) -> int:
        """The longest queue whose drain time is within the bound (at least ``floor``)."""
        best = 0
        for blocks in range(1, 64):  # the queue fills `blocks` blocks behind the one in flight
            spare = self.bound - a * (1 + blocks)
            if spare <= 0:
                break
            q = int(spare / b) if b > 0 else blocks * self.max_block
            if q > (blocks - 1) * self.max_block:
                best = max(best, min(q, blocks * self.max_block))
            if q <= blocks * self.max_block:
                break
        return max(self.floor, best)

    def limit(self) -> int:
        """How many transactions may be queued (the block in flight included)."""
        m = self._model
        return m[2] if m is not None else self.floor

    def model(self) -> tuple[float, float] | None:
        """``(a, b)``: seconds a block costs, seconds a transaction adds; None until measured."""
        m = self._model
        return (m[0], m[1]) if m is not None else None

    def capacity(self, now: float | None = None) -> float:
        """Transactions per second the chain commits with the queue held at the limit: the blocks then carry
        about half the limit each (one in flight, one waiting); 0 until measured."""
        m = self._model
        if m is None:
            return 0.0
        a, b, lim = m
        n = min(self.max_block, max(1, lim // 2))
        return n / (a + b * n)

    def rate(self, now: float) -> float:
        """Transactions committed per second over the last ``rate_window_s`` (the cross-check)."""
        c = [x for x in list(self._commits) if now - x[0] <= self.rate_window_s]
        if len(c) < 2 or c[-1][0] <= c[0][0]:
            return 0.0
        return (sum(n for _, n in c) - c[0][1]) / (c[-1][0] - c[0][0])

    def model_error(self) -> float:
        """Median relative error of the model's predicted cycle against the cycle measured."""
        e = list(self._errors)
        return _quantile(e, 0.5) if e else 0.0

    def refusing(self, now: float) -> bool:
        """Whether anything was refused in the last ``pressure_window_s``."""
        with self._lock:
            return any(b[2] for b in self._buckets if now - b[0] <= self._pw)

    def pressure(self, now: float) -> float:
        """1 + refusals per admission lately (per the limit, if fewer were admitted: a first refusal after a
        quiet spell is not judged against nothing), at most MAX_PRESSURE."""
        with self._lock:
            adm = ref = 0
            for s, a, r, _ in self._buckets:
                if now - s <= self._pw:
                    adm += a
                    ref += r
        return min(MAX_PRESSURE, 1.0 + ref / max(adm, self.limit()))

    def describe(self, now: float) -> str:
        m = self._model
        model = (f"a block {m[0] * 1000:.0f} ms + {m[1] * 1e6:.0f} us a transaction" if m else "not measured yet")
        return (f"limit {self.limit():,} queued ({model}; capacity {self.capacity():,.0f} tx/s, committed "
                f"{self.rate(now):,.0f} tx/s lately, model error {self.model_error():.0%})")

    # ---- admission ---------------------------------------------------------------
    def share(self, now: float, queued: int = 0) -> float:
        """This node's part of the free room: of the transactions that entered its mempool over the last
        ``rate_window_s`` (committed since, plus the queue's growth), the part it admitted itself -- the
        rest came relayed from the other validators; at least 1 / validators, at most 1 (and 1 while
        nothing entered: an idle chain's first burst is not cut to a quarter)."""
        floor = 1.0 / self.validators
        if self.validators == 1:
            return 1.0
        committed = sum(n for t, n in list(self._commits) if now - t <= self.rate_window_s)
        with self._lock:
            recent = [b for b in self._buckets if now - b[0] <= self.rate_window_s]
            mine = sum(b[1] for b in recent)
            q0 = next((b[3] for b in recent if b[3] >= 0), queued)
        entered = committed + queued - q0
        return min(1.0, max(floor, mine / entered)) if entered > 0 else 1.0  # nothing seen: no one to share with

    def room(self, now: float, queued: int) -> int:
        """How many more transactions may be admitted with ``queued`` already waiting (rule 2 of the module
        doc): the free room under the limit, the room the last commit freed held through the pause after it,
        and of that only this node's share, reckoned at the first ask after the commit and again once the
        pause is over (the other validators' admissions reach this node's mempool only when relayed)."""
        t, n = self._held
        held = now - t < self.interval
        free = self.limit() - queued - (n if held else 0)
        pending = self._pending(now)
        if self.validators == 1:
            return max(0, free - pending)
        share = self.share(now, queued) if self.refusing(now) else 1.0  # nothing refused lately: no race
        with self._lock:
            self._bucket(now, queued)
            if self._cycle[0] != (t, held):  # the first ask since the commit, and again once its room opens
                self._cycle = ((t, held), math.ceil(max(0, free) * share))
            left = self._cycle[1]
        return max(0, min(free, left) - pending)

    def reserve(self, now: float, queued: int, n: int) -> int:
        """How many of a batch of ``n`` fit (as :meth:`room`), promised to it until :meth:`release` (or
        ``RESERVE_S``): the batches checked before their signatures, concurrently, do not all see the same
        room and then meet a refusal after the signature checks they cost."""
        with self._lock:
            k = min(n, self.room(now, queued))
            if k > 0:
                self._reserved.append([now, k])
            return k

    def release(self, now: float, n: int) -> None:
        """``n`` transactions reserved for are being admitted (or were refused for other reasons)."""
        with self._lock:
            r = self._reserved
            while n > 0 and r:
                take = min(n, r[0][1])
                r[0][1] -= take
                n -= take
                if r[0][1] == 0:
                    r.popleft()

    def _pending(self, now: float) -> int:
        with self._lock:
            r = self._reserved
            while r and now - r[0][0] > RESERVE_S:
                r.popleft()
            return sum(k for _, k in r)

    def refusal(self, now: float, queued: int, n: int = 1) -> tuple[int, str]:
        """(code, reason with a retry hint) for ``n`` transactions that do not fit (counted as refused)."""
        with self._lock:
            self.refused += n
            self._bucket(now)[2] += n
        m = self._model
        lim = self.limit()
        if m is None:
            wait = self.bound / 2
            drain = 0.0
        else:
            a, b = m[0], m[1]
            drain = self.drain_s(queued, a, b)
            wait = a + b * max(0, queued + 1 - lim)  # the next commit, and the excess ahead of the room it opens
        ms = int(min(HINT_MAX_S, max(HINT_MIN_S, wait * self.pressure(now))) * 1000)
        cost = f"a block {m[0] * 1000:.0f} ms + {m[1] * 1e6:.0f} us a transaction, " if m else ""
        return codes.MEMPOOL_FULL, (f"node busy: {queued} transactions queued, about {drain:.1f} s to commit, "
                                    f"limit {lim} for a {self.bound:g} s bound ({cost}{self.rate(now):,.0f} tx/s "
                                    f"committed lately); retry after {ms} ms")
