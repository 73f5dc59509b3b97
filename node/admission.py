"""Overload without collapse: admit only what can commit within a latency bound.

An open-loop client population can offer more than the chain commits.  If
the node admits it all, the mempool grows and the latency of every admitted
transaction grows with it, without bound (issue 13: 1,400 tx/s offered to a
chain that commits 1,120 gave p99 14 s).  So admission is bounded by time,
not only by the mempool's size:

* The node measures its **commit rate**: transactions committed per second
  over the blocks of the last ``window_s`` seconds, and keeps the highest
  rate seen over a longer ``peak_window_s`` (under overload blocks are full,
  so the peak is the chain's capacity; at a low load the rate only says what
  was offered, and the peak remembers the capacity measured before).
* A queue of ``q`` transactions drains in about ``q / rate`` seconds, so the
  room for new ones is ``rate x latency_bound - q``, never less than
  ``floor`` (the node uses 500): an idle node, whose measured rate says
  only what was offered, still takes a burst of that size, and a bigger
  burst is admitted in steps as the blocks that carry it raise the measured
  rate (as TCP's slow start probes); on a slow machine a larger floor alone
  would queue more than the bound's worth of work (a floor of half a block,
  2,500, queued 28 s at the 89 tx/s a saturated 2-core machine committed).
* What does not fit is refused at admission with ``MEMPOOL_FULL`` (gRPC
  ``RESOURCE_EXHAUSTED``) and a retry hint: the time for the queue ahead to
  drain to the bound, at the measured rate -- ``retry after N ms`` in the
  reason, which clients parse (:func:`retry_after_ms`).

The clock is the caller's (monotonic seconds), so the logic is tested with a
simulated one.  Bounded: one entry per committed block in the window.
"""

from __future__ import annotations

import re
from collections import deque

from ledger import codes

_HINT = re.compile(r"retry after (\d+) ms")


def retry_after_ms(reason: str) -> int | None:
    """The retry hint in a refusal's reason, or None."""
    m = _HINT.search(reason or "")
    return int(m.group(1)) if m else None


class Admission:
    def __init__(self, latency_bound_s: float = 2.0, floor: int = 5000, window_s: float = 10.0,
                 peak_window_s: float = 60.0, max_blocks: int = 4096):
        self.bound = latency_bound_s
        self.floor = floor
        self.window_s = window_s
        self.peak_window_s = peak_window_s
        self._blocks: deque = deque(maxlen=max_blocks)  # (time, txs committed)
        self._peaks: deque = deque(maxlen=max_blocks)  # (time, rate)
        self.refused = 0

    def on_commit(self, now: float, n_txs: int) -> None:
        self._blocks.append((now, n_txs))
        while self._blocks and now - self._blocks[0][0] > self.window_s:
            self._blocks.popleft()
        r = self.rate(now)
        if r > 0:
            self._peaks.append((now, r))
        while self._peaks and now - self._peaks[0][0] > self.peak_window_s:
            self._peaks.popleft()

    def rate(self, now: float) -> float:
        """Transactions committed per second over the window (0 until two blocks are seen)."""
        b = self._blocks
        if len(b) < 2 or b[-1][0] <= b[0][0]:
            return 0.0
        return (sum(n for _, n in b) - b[0][1]) / (b[-1][0] - b[0][0])

    def capacity(self, now: float) -> float:
        """The best commit rate measured lately (tx/s)."""
        return max([self.rate(now)] + [r for _, r in self._peaks])

    def room(self, now: float, queued: int) -> int:
        """How many more transactions may be admitted with ``queued`` already waiting."""
        limit = max(self.floor, int(self.capacity(now) * self.bound))
        return max(0, limit - queued)

    def refusal(self, now: float, queued: int) -> tuple[int, str]:
        """(code, reason with a retry hint) for a transaction that does not fit."""
        self.refused += 1
        cap = self.capacity(now)
        limit = max(self.floor, int(cap * self.bound))
        wait_s = (queued - limit) / cap if cap > 0 else self.bound
        ms = int(min(30.0, max(0.2, wait_s + self.bound / 4)) * 1000)
        return codes.MEMPOOL_FULL, (f"node busy: {queued} transactions queued, about {queued / cap if cap else 0:.1f} s of "
                                    f"commits at {cap:,.0f} tx/s; retry after {ms} ms")
