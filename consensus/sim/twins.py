"""Twins: Byzantine behaviour from honest code run twice under one key.

Theory of operation
-------------------
Twins (Bano et al., OPODIS 2021, arXiv:2004.10617) runs two copies of a
validator with the *same key* and different network identities.  Each copy
is honest code, but together they equivocate as proposers, double vote, and
forget each other's locks.  A scenario fixes, for each of the first ``R``
rounds, a *partition* of the nodes (messages of round ``r`` cross only
between nodes in the same group of partition ``r``) and a *leader* (the
proposer of round ``r`` at every height).  Rounds from ``R`` on are not
partitioned and their leaders rotate; from ``heal_ms`` on nothing is
partitioned any more (the stable period after GST: messages lost earlier
are relayed again by gossip), so the scenario must also terminate.

Generation follows era-consensus/Diem: enumerate the set partitions of the
nodes into at most ``max_groups`` groups, keep those in which some group
holds a quorum of *distinct keys* (others cannot make progress and only add
noise), and draw one partition and one leader per round from the seeded
RNG.  Scenario ``i`` of a sweep is ``random.Random(i)``: any failing index
replays alone with ``python -m consensus.sim --scenario twins --seed i``.

Agreement is checked across *every* node, twins included: a decision always
comes with a commit of 2f+1 distinct keys, and with at most f keys twinned
two such commits for different values cannot exist.  With two twins at
n = 4 (more than f) forks must become possible: the negative control asserts
that the harness sees them.
"""

from __future__ import annotations

import random

from .scenarios import Outcome
from .world import World

N = 4


def set_partitions(items: list[int], max_groups: int) -> list[list[list[int]]]:
    """All partitions of ``items`` into at most ``max_groups`` non-empty groups."""
    out: list[list[list[int]]] = []

    def rec(i: int, groups: list[list[int]]) -> None:
        if i == len(items):
            out.append([list(g) for g in groups])
            return
        for g in groups:
            g.append(items[i])
            rec(i + 1, groups)
            g.pop()
        if len(groups) < max_groups:
            groups.append([items[i]])
            rec(i + 1, groups)
            groups.pop()

    rec(0, [])
    return out


def quorum_partitions(key_of: list[int], n_keys: int, max_groups: int) -> list[list[list[int]]]:
    quorum = (2 * n_keys) // 3 + 1
    keep = []
    for p in set_partitions(list(range(len(key_of))), max_groups):
        if any(len(dict.fromkeys(key_of[i] for i in g)) >= quorum for g in p):
            keep.append(p)
    return keep


_PARTITION_CACHE: dict[tuple[int, int], list[list[list[int]]]] = {}


def generate(index: int, n_twins: int = 1, rounds: int = 6, max_groups: int = 2) -> list[tuple[list[list[int]], int]]:
    """Scenario ``index``: a (partition, leader key) per round."""
    key_of = list(range(N)) + list(range(n_twins))
    ck = (n_twins, max_groups)
    if ck not in _PARTITION_CACHE:
        _PARTITION_CACHE[ck] = quorum_partitions(key_of, N, max_groups)
    parts = _PARTITION_CACHE[ck]
    rng = random.Random(index)
    return [(parts[rng.randrange(len(parts))], rng.randrange(N)) for _ in range(rounds)]


def run_twins(
    seed: int,
    n_twins: int = 1,
    rounds: int = 6,
    heights: int = 2,
    max_groups: int = 2,
    heal_ms: int = 8_000,
    time_limit: int = 60_000,
) -> Outcome:
    """Run Twins scenario ``seed``; checks agreement and (one twin) termination."""
    plan = generate(seed, n_twins, rounds, max_groups)
    w = World(seed, N, twins=list(range(n_twins)), scope="all", gossip_ms=300, use_wal=False)
    keys = [k.public for k in w.keys]

    def proposer(h: int, r: int) -> bytes:
        return keys[plan[r][1]] if r < rounds else keys[(h + r) % N]

    w.proposer_fn = proposer
    group_of: list[list[int]] = []
    for part, _ in plan:
        g = [0] * len(w.nodes)
        for gi, members in enumerate(part):
            for m in members:
                g[m] = gi
        group_of.append(g)

    def link_ok(src: int, dst: int, msg: tuple) -> bool:
        if w.now >= heal_ms:
            return True
        if msg[0] == "vote" or msg[0] == "proposal":
            r = msg[1].round
            if r < rounds:
                g = group_of[r]
                return g[src] == g[dst]
        return True

    w.net.link_filter = link_ok
    w.start()
    done = w.run(time_limit, w.all_reached(heights, list(range(len(w.nodes)))))
    out = Outcome(f"twins[{n_twins}]", seed, w)
    if n_twins == 1:
        out.checks["terminates once the network is whole"] = done
    out.info.update(plan=[(p, leader) for p, leader in plan], forks=len(w.checker.forks))
    return out


def sweep(count: int, start: int = 0, n_twins: int = 1, **kw) -> dict:
    """Run scenarios ``start .. start+count-1``; count failures and forks."""
    failed: list[int] = []
    forked: list[int] = []
    for i in range(start, start + count):
        out = run_twins(i, n_twins=n_twins, **kw)
        if out.world.checker.forks:
            forked.append(i)
        if not out.ok:
            failed.append(i)
    return {"count": count, "failed": failed, "forked": forked}
