"""Twins: Byzantine behaviour from honest code run twice under one key.

Theory of operation
-------------------
Twins (Bano et al., OPODIS 2021, arXiv:2004.10617) runs two copies of a
validator with the *same key* and different network identities.  Each copy
is honest code, but together they equivocate as proposers, double vote, and
forget each other's locks.  A scenario fixes, for each of the first ``R``
rounds, two *partitions* of the nodes -- one for the round's proposals and
prevotes, one for its precommits (Tendermint has two vote phases per round;
splitting them lets a polka lock nodes that never see the round's
precommits) -- a *leader* (the proposer of round ``r`` at every height), and
in half the rounds a few nodes *deaf* to the round's precommits.  A message
of round ``r`` crosses only between nodes in the same group.  With
all-to-all broadcast and symmetric groups, every node of a group that decides
decides together, and with one twin the undecided rest never holds a quorum
of keys, so a broken lock rule could not fork; deaf nodes recreate the
"some decide, the locked others do not" situation (this sweep finds a lock
rule that ignores the lock -- checked by mutation).  Rounds from ``R`` on are not
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

from ..types import PRECOMMIT
from .node import BEHAVIOURS
from .scenarios import Outcome
from .world import World

# What the second copy of the twinned validator does besides running the
# engine: nothing (plain Twins) or one of the Byzantine behaviours.  Scenario
# ``i`` uses ``TWIN_BEHAVIOURS[i % len(TWIN_BEHAVIOURS)]``.
TWIN_BEHAVIOURS: tuple[str | None, ...] = (None, *BEHAVIOURS)

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


Plan = list[tuple[list[list[int]], list[list[int]], int, list[int]]]


def generate(index: int, n_twins: int = 1, rounds: int = 6, max_groups: int = 2) -> Plan:
    """Scenario ``index``: per round, (partition for proposals and prevotes,
    partition for precommits, leader key, nodes deaf to the round's precommits)."""
    key_of = list(range(N)) + list(range(n_twins))
    ck = (n_twins, max_groups)
    if ck not in _PARTITION_CACHE:
        _PARTITION_CACHE[ck] = quorum_partitions(key_of, N, max_groups)
    parts = _PARTITION_CACHE[ck]
    rng = random.Random(index)
    plan: Plan = []
    for _ in range(rounds):
        a = parts[rng.randrange(len(parts))]
        # half the rounds split precommits differently from prevotes, so that a
        # polka (and the locks it makes) can be seen by nodes that never get
        # the round's precommits
        b = parts[rng.randrange(len(parts))] if rng.randrange(2) else a
        leader = rng.randrange(N)
        # sometimes a few nodes hear no precommit of the round: the others may
        # decide while they stay undecided (possibly locked) -- the situation
        # in which a broken lock rule forks
        nodes = list(range(len(key_of)))
        deaf = sorted(rng.sample(nodes, rng.randrange(1, 4))) if rng.randrange(2) else []
        plan.append((a, b, leader, deaf))
    return plan


def run_twins(
    seed: int,
    n_twins: int = 1,
    rounds: int = 6,
    heights: int = 2,
    max_groups: int = 2,
    heal_ms: int = 8_000,
    time_limit: int = 60_000,
    behaviour: str | None = "by_seed",
    live_ms: int = 30_000,
    flood_n: int = 40,
) -> Outcome:
    """Run Twins scenario ``seed``; checks agreement and (one twin) termination.

    With one twin, the twin's second copy also runs a Byzantine behaviour
    (``behaviour``; by default chosen by the seed), and the honest nodes,
    who hold 3/4 of the power, must decide every height within ``live_ms``
    of the network healing (liveness, not only agreement).
    """
    plan = generate(seed, n_twins, rounds, max_groups)
    w = World(seed, N, twins=list(range(n_twins)), scope="all", gossip_ms=300, use_wal=False, flood_n=flood_n)
    if behaviour == "by_seed":
        behaviour = TWIN_BEHAVIOURS[seed % len(TWIN_BEHAVIOURS)] if n_twins == 1 else None
    if behaviour is not None:
        w.nodes[N].byz = behaviour  # the second copy of v0
    keys = [k.public for k in w.keys]

    def proposer(h: int, r: int) -> bytes:
        return keys[plan[r][2]] if r < rounds else keys[(h + r) % N]

    w.proposer_fn = proposer

    w.net.link_filter = _link_filter(w, plan, rounds, heal_ms)
    w.start()
    done = w.run(time_limit, w.all_reached(heights, list(range(len(w.nodes)))))
    out = Outcome(f"twins[{n_twins}]" + (f"+{behaviour}" if behaviour else ""), seed, w)
    if n_twins == 1:
        out.checks["terminates once the network is whole"] = done
        last = max(w.checker.decide_time.values(), default=None)
        out.checks[f"every height decided within {live_ms} ms of healing"] = (
            done and last is not None and last <= heal_ms + live_ms
        )
    out.info.update(plan=plan, forks=len(w.checker.forks), behaviour=behaviour)
    return out


def _link_filter(w: World, plan: Plan, rounds: int, heal_ms: int):
    """Messages of round r cross only within the plan's groups (precommits: also not to the deaf), until heal."""

    def groups(part: list[list[int]]) -> list[int]:
        g = [0] * len(w.nodes)
        for gi, members in enumerate(part):
            for m in members:
                g[m] = gi
        return g

    group_pv = [groups(a) for a, _, _, _ in plan]
    group_pc = [groups(b) for _, b, _, _ in plan]
    deaf = [d for _, _, _, d in plan]

    def link_ok(src: int, dst: int, msg: tuple) -> bool:
        if w.now >= heal_ms:
            return True
        if msg[0] == "vote" or msg[0] == "proposal":
            m = msg[1]
            r = m.round
            if r < rounds:
                if msg[0] == "vote" and m.type == PRECOMMIT:
                    return group_pc[r][src] == group_pc[r][dst] and dst not in deaf[r]
                return group_pv[r][src] == group_pv[r][dst]
        return True

    return link_ok


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
