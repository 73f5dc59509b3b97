"""A simulated chain of validators under offered load, on a simulated clock, for node/admission.py.

Not a test module: tests/node/test_admission.py drives it.  Deterministic (one seeded
``random.Random``), no threads, no sleeps.

The chain: ``validators`` nodes, each with its own :class:`Admission` and a view of one shared
FIFO mempool in which another node's admissions appear ``relay_s`` late.  After a commit the
chain pauses ``interval_s``, the next proposer (round robin) reaps what it sees (at most
``max_block`` transactions), and the block commits ``a_s - interval_s + b_s x n`` (times a
jitter of up to ``jitter``) later; every node is told of the commit with the seconds of work
it measured (``work_share`` of ``b_s`` a transaction: execution and the write, less than a
cycle's true cost per transaction).  Clients: every ``tick_s`` each node receives
``offered / validators x tick_s`` new transactions, and again each refused one once its retry
hint (plus up to 25 % jitter, as the wallet's) has passed.  A transaction is refused or
admitted whole: no nonces here (the bench keeps a sender's order, bench/bench_overload.py).
"""

from __future__ import annotations

import heapq
import random
from collections import deque
from dataclasses import dataclass, field

from node.admission import Admission, retry_after_ms


@dataclass
class Result:
    admitted: int = 0
    refused: int = 0
    committed: int = 0
    latencies: list = field(default_factory=list)  # admission -> commit, of what committed after warm-up
    blocks: list = field(default_factory=list)  # (commit time, n)
    hints_ms: list = field(default_factory=list)
    limits: list = field(default_factory=list)  # node 0's limit after each commit
    seconds: float = 0.0

    def p(self, q: float) -> float:
        s = sorted(self.latencies)
        return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")

    def rate(self) -> float:
        return self.committed / self.seconds


def simulate(offered: float, seconds: float = 60.0, warmup_s: float = 10.0, validators: int = 4, bound_s: float = 2.0,
             a_s: float = 0.3, b_s: float = 1 / 3000, interval_s: float = 0.2, max_block: int = 5000,
             relay_s: float = 0.05, tick_s: float = 0.1, jitter: float = 0.2, work_share: float = 0.6,
             seed: int = 1, admission=None, floor: int = 500) -> Result:
    rng = random.Random(seed)
    nodes = [admission() if admission is not None else Admission(bound_s, floor=floor, max_block_txs=max_block, validators=validators, interval_s=interval_s)
             for _ in range(validators)]
    pool: deque = deque()  # [admit time, node] in arrival order; the block in flight is not removed until it commits
    retries: list[list] = [[] for _ in range(validators)]  # per node, a heap: (due time, seq, first sent)
    seq = 0
    res = Result()
    t = 0.0
    last_commit = 0.0
    proposer = 0
    in_flight: list | None = None  # (commit time, entries)
    propose_at = interval_s
    next_tick = 0.0
    fraction = 0.0
    dt = 0.01
    end = warmup_s + seconds
    while t < end:
        # a block commits
        if in_flight is not None and t >= in_flight[0]:
            _, entries = in_flight
            gone = set(map(id, entries))
            pool = deque(e for e in pool if id(e) not in gone)
            if t >= warmup_s:
                res.latencies.extend(t - e[0] for e in entries)
            n = len(entries)
            if t >= warmup_s:
                res.committed += n
                res.blocks.append((t, n))
            for a in nodes:
                a.on_commit(t, n, work_share * b_s * n)
            res.limits.append(nodes[0].limit())
            last_commit = t
            in_flight = None
            propose_at = t + interval_s
            proposer = (proposer + 1) % validators
        # the next proposer reaps what it sees
        if in_flight is None and t >= propose_at:
            seen = [e for e in pool if e[1] == proposer or t - e[0] >= relay_s][:max_block]
            cycle = (a_s - interval_s + b_s * len(seen)) * (1 + jitter * rng.random())
            in_flight = (t + cycle, seen)
        # clients
        if t >= next_tick:
            next_tick += tick_s
            fraction += offered * tick_s / validators
            fresh, fraction = int(fraction), fraction - int(fraction)
            for k, a in enumerate(nodes):
                due = retries[k]
                batch = []
                while due and due[0][0] <= t:
                    batch += heapq.heappop(due)[2]
                batch += [t] * fresh
                queued = sum(1 for e in pool if e[1] == k or t - e[0] >= relay_s)
                room = a.room(t, queued)
                for first in batch[:room]:
                    pool.append([t, k])
                res.admitted += min(room, len(batch))
                a.note_admitted(t, min(room, len(batch)))
                over = batch[room:]
                if over:
                    _, reason = a.refusal(t, queued, len(over))
                    ms = retry_after_ms(reason)
                    res.hints_ms.append(ms)
                    res.refused += len(over)
                    for part in range(4):  # four groups, each with its own jitter (as many wallets would)
                        seq += 1
                        heapq.heappush(retries[k], (t + ms / 1000 * (1 + 0.25 * rng.random()), seq, over[part::4]))
        t += dt
    res.seconds = seconds
    return res
