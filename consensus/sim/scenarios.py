"""Named multi-node scenarios (reference section 3.6B), replayable by seed.

Each scenario is ``fn(seed, **options) -> Outcome``.  ``Outcome.ok`` is
true when every invariant held and the scenario's own expectations (its
``checks``) passed; ``Outcome.failures`` says what failed.  The CLI
(``python -m consensus.sim --seed N --scenario NAME``) runs one and prints
its outcome; the tests call the same functions.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from ledger.codec import decode

from ..timeouts import TimeoutConfig
from ..types import verify_commit
from .network import NetConfig, Partition
from .world import World


@dataclasses.dataclass
class Outcome:
    name: str
    seed: int
    world: World
    checks: dict[str, bool] = dataclasses.field(default_factory=dict)
    info: dict[str, object] = dataclasses.field(default_factory=dict)

    @property
    def violations(self) -> list[str]:
        return self.world.violations

    @property
    def failures(self) -> list[str]:
        return list(self.violations) + [f"check failed: {k}" for k, v in self.checks.items() if not v]

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> dict:
        return {
            "scenario": self.name,
            "seed": self.seed,
            "ok": self.ok,
            "sim_ms": self.world.now,
            "heights": self.world.heights(),
            "failures": self.failures[:20],
            "crashes": self.world.crashes[:20],
            **{k: v for k, v in self.info.items()},
        }


def happy(seed: int, n: int = 4, heights: int = 1000) -> Outcome:
    """Every node decides the same chain of ``heights`` blocks, in round 0."""
    w = World(seed, n, wal_checkpoint_every=50)
    w.start()
    done = w.run(heights * 500, w.all_reached(heights))
    out = Outcome("happy", seed, w)
    out.checks["all reached target height"] = done
    out.checks["every height decided in round 0"] = all(r == 0 for r in w.checker.decide_round.values())
    chains = [[n_.disk.blocks[h][0] for h in range(1, heights + 1)] for n_ in w.nodes]
    out.checks["identical block chains"] = all(c == chains[0] for c in chains)
    out.info["max_round"] = max(w.checker.decide_round.values(), default=-1)
    return out


def proposer_crash(seed: int, heights: int = 24) -> Outcome:
    """v0 is down from the start: its heights are decided in round 1."""
    w = World(seed, 4)
    w.start(only=[1, 2, 3])
    done = w.run(heights * 2000, w.all_reached(heights, [1, 2, 3]))
    out = Outcome("proposer_crash", seed, w)
    out.checks["live nodes reached target height"] = done
    v0 = w.keys[0].public
    rounds = w.checker.decide_round
    bad_round = []
    slow = []
    budget = w.timeouts.propose_ms + 200  # timeoutPropose(0) + one round of messages
    for h in range(2, heights + 1):
        vs = w.nodes[1].schedule.set_for(h)
        want = 1 if vs.proposer(h, 0) == v0 else 0
        if rounds.get(h) != want:
            bad_round.append(h)
        if want == 1 and w.checker.decide_time[h] - w.checker.decide_time[h - 1] > budget:
            slow.append(h)
    out.checks["v0's heights decided in round 1, others in round 0"] = not bad_round
    out.checks["latency of v0's heights within timeoutPropose(0) + one round"] = not slow
    out.info.update(bad_round=bad_round, slow=slow)
    return out


def lossy_then_stable(seed: int, gst: int = 6000, extra: int = 10) -> Outcome:
    """Drops, duplicates and reordering until GST, then a perfect network."""
    cfg = NetConfig(min_delay=1, max_delay=250, drop_pm=300, dup_pm=150, gst=gst, stable_max_delay=10)
    w = World(seed, 4, net=cfg)
    w.start()
    w.run(gst)
    at_gst = min(w.heights())
    done = w.run(gst + 30_000, w.all_reached(at_gst + extra))
    out = Outcome("lossy_then_stable", seed, w)
    out.checks["all decide after GST"] = done
    after = [r for h, r in w.checker.decide_round.items() if h > at_gst + 1]
    out.checks["after GST heights decided in round 0"] = all(r == 0 for r in after)
    out.info.update(height_at_gst=at_gst, dropped=w.net.dropped)
    return out


def partition_1_3(seed: int, split_ms: int = 8000, extra: int = 5) -> Outcome:
    """{v0} | {v1, v2, v3}: the majority goes on; v0 catches up by sync."""
    w = World(seed, 4)
    w.net.partitions.append(Partition(0, split_ms, [[0], [1, 2, 3]]))
    w.start()
    w.run(split_ms)
    hs = w.heights()
    out = Outcome("partition_1_3", seed, w)
    out.checks["majority progressed during the partition"] = min(hs[1:]) >= 10
    out.checks["isolated node decided nothing"] = hs[0] == 0
    target = max(hs) + extra
    out.checks["all reach majority height after healing"] = w.run(split_ms + 20_000, w.all_reached(target))
    out.checks["isolated node caught up through sync"] = w.nodes[0].sync_decisions >= hs[1] - 2
    out.info.update(during=hs, sync_decisions=w.nodes[0].sync_decisions)
    return out


def partition_2_2(seed: int, start: int = 1000, end: int = 7000, extra: int = 5) -> Outcome:
    """{v0, v1} | {v2, v3}: nobody decides; liveness resumes after healing."""
    w = World(seed, 4)
    w.net.partitions.append(Partition(start, end, [[0, 1], [2, 3]]))
    w.start()
    w.run(start + 200)  # in-flight messages settle
    before = w.heights()
    w.run(end)
    during = w.heights()
    out = Outcome("partition_2_2", seed, w)
    out.checks["no decision while split"] = during == before
    out.checks["liveness after healing"] = w.run(end + 20_000, w.all_reached(max(during) + extra))
    out.info.update(before=before, during=during)
    return out


def equivocating_proposer(seed: int, heights: int = 30) -> Outcome:
    """v0 sends different proposals to the two halves whenever it proposes."""
    w = World(seed, 4, byz={0: "equivocate_proposal"})
    w.start()
    out = Outcome("equivocating_proposer", seed, w)
    out.checks["honest nodes reach target"] = w.run(heights * 3000, w.all_reached(heights))
    return out


def equivocating_voter(seed: int, within: int = 6) -> Outcome:
    """v3 sends conflicting prevotes; the evidence is committed in a block."""
    w = World(seed, 4, byz={3: "equivocate_vote"})
    w.start()
    v3 = w.keys[3].public
    n1 = w.nodes[1]
    found: list[int] = []

    def committed() -> bool:
        while not found and scanned[0] < len(n1.disk.blocks):
            scanned[0] += 1
            for eo in decode(n1.disk.blocks[scanned[0]][0])["ev"]:
                if eo["vote_a"]["validator"] == v3:
                    found.append(scanned[0])
        return bool(found)

    scanned = [0]
    got = w.run(60_000, committed)
    out = Outcome("equivocating_voter", seed, w)
    out.checks["evidence against v3 committed"] = got
    first_ev = min((ev.height for ev in w.checker.evidence.values()), default=None)  # type: ignore[attr-defined]
    h_now = found[0] if found else len(n1.disk.blocks)
    out.checks[f"committed within {within} heights of the equivocation"] = (
        first_ev is not None and h_now - first_ev <= within
    )
    out.checks["honest nodes keep deciding"] = w.run(w.now + 20_000, w.all_reached(len(n1.disk.blocks) + 3))
    out.info.update(evidence_height=first_ev, committed_at=h_now)
    return out


def byzantine(seed: int, behaviour: str = "flood_rounds", heights: int = 12, flood_n: int = 200,
              per_height_ms: int = 4_000, down: int = 0) -> Outcome:
    """v0 runs one Byzantine behaviour (``consensus.sim.node.BEHAVIOURS``) at every height.

    The three honest validators hold 3/4 of the power, so every height must
    be decided, and within a bound: ``per_height_ms`` per height covers the
    round-0 timeout of a height whose proposer lies, plus one round.
    ``down`` honest validators never start: with ``down=2`` the live power
    (v0 still votes) is 1/2 and the liveness check must fail (the negative
    control).
    """
    w = World(seed, 4, byz={0: behaviour}, flood_n=flood_n)
    w.start(only=[0, *range(1 + down, 4)])
    out = Outcome(f"byzantine[{behaviour}]", seed, w)
    out.checks[f"honest nodes decide {heights} heights within {per_height_ms} ms each"] = w.run(
        heights * per_height_ms, w.all_reached(heights, list(range(1 + down, 4)))
    )
    sizes = [len(n_.engine.keeper.rounds) for n_ in w.nodes[1:] if n_.engine and n_.engine.keeper]
    out.info.update(max_rounds_tracked=max(sizes, default=0), sim_ms=w.now)
    return out


CRASH_POINTS = ["before_wal", "after_wal", "after_sign", "before_send", "after_save_block", "after_end_height"]


def crash_restart(seed: int, point: str = "after_sign", nth: int = 3, node: int = 1, heights: int = 12) -> Outcome:
    """Crash one validator at a crash point, restart it from disk."""
    w = World(seed, 4, restart_after=400)
    w.nodes[node].crash_at[point] = nth
    w.start()
    out = Outcome(f"crash_restart[{point}#{nth}]", seed, w)
    out.checks["all reach target height"] = w.run(heights * 3000, w.all_reached(heights))
    out.checks["the crash happened"] = len(w.crashes) == 1
    out.checks["restarted node booted"] = w.nodes[node].boot_error is None and w.nodes[node].alive
    out.info.update(refused=w.nodes[node].refused_signatures)
    return out


def torn_wal(seed: int, heights: int = 5) -> Outcome:
    """Crash mid-height with a torn WAL tail; the node restarts and goes on."""
    w = World(seed, 4, restart_after=300, tear_wal=True, commit_delay=100)
    w.start()
    w.run(400)
    heights = max(w.heights()) + heights
    node = w.nodes[2]
    torn = b"\x00\x00\x01\x00" + b"partial-frame"  # a frame cut short by the crash
    node.disk.wal.append(torn)
    node.disk.wal.sync()
    node.crash()
    w.schedule(300, node.boot)
    out = Outcome("torn_wal", seed, w)
    out.checks["all reach target height"] = w.run(60_000, w.all_reached(heights))
    out.checks["torn tail truncated at boot"] = node.wal.truncated_bytes >= len(torn)
    out.checks["restarted node booted"] = node.boot_error is None and node.incarnation == 2
    return out


def long_halt(seed: int, halt_ms: int = 60_000, storm_ms: int = 120_000, extra: int = 5) -> Outcome:
    """Stop 2 of 4 for a long time, restart them into a lossy network, heal.

    While half the power is down the live nodes wait in the prevote step of
    their round (L34 needs 2f+1 prevotes), so rounds do not run away.  The
    restarted nodes then face a network that loses 95% of messages: rounds
    climb until the timeouts reach their cap.  After healing, the f+1 round
    skip (L55) brings everybody to the highest round and the height is
    decided within a few capped rounds.
    """
    w = World(seed, 4, timeouts=TimeoutConfig(propose_ms=300, prevote_ms=100, precommit_ms=100, delta_ms=50, max_ms=500))
    w.start()
    w.run(1000)
    for i in (2, 3):
        w.nodes[i].crash()
    h_stop = max(w.heights())
    w.run(1000 + halt_ms)
    out = Outcome("long_halt", seed, w)
    out.checks["no progress while halted"] = max(w.heights()) <= h_stop + 1
    halted_round = max(w.nodes[i].engine.round for i in (0, 1))  # type: ignore[union-attr]
    out.checks["rounds do not run away while half the power is down"] = halted_round <= 1
    heal = w.now + storm_ms
    w.net.cfg = NetConfig(min_delay=1, max_delay=50, drop_pm=950, gst=heal, stable_max_delay=10)
    for i in (2, 3):
        w.nodes[i].boot()
    h_storm = max(w.heights())
    w.run(heal)
    rounds = [n_.engine.round for n_ in w.nodes]  # type: ignore[union-attr]
    out.checks["timeouts reached the cap and never passed it"] = w.max_timeout_seen == w.timeouts.max_ms
    h_heal = max(w.heights())
    done = w.run(heal + 60_000, w.all_reached(h_heal + extra))
    out.checks["liveness after healing"] = done
    first_new = min((t for h, t in w.checker.decide_time.items() if h > h_heal), default=None)
    out.checks["first decision within 3 capped rounds of healing"] = (
        first_new is not None and first_new - heal <= 3 * 3 * w.timeouts.max_ms
    )
    out.info.update(
        halted_round=halted_round,
        rounds_at_heal=rounds,
        heights_in_storm=h_heal - h_storm,
        recovery_ms=None if first_new is None else first_new - heal,
        max_timeout_ms=w.max_timeout_seen,
    )
    return out


def valset_change(seed: int, heights: int = 20) -> Outcome:
    """Add v4 by block 5 (active at 7), remove v0 by block 12 (gone at 14)."""
    w = World(seed, 4, extra_nodes=1, updates={5: [(4, 1)], 12: [(0, 0)]}, commit_delay=200)
    w.start(only=[0, 1, 2, 3])
    w.at(1000, w.nodes[4].boot)  # the joining node starts late and syncs
    out = Outcome("valset_change", seed, w)
    out.checks["all reach target"] = w.run(120_000, w.all_reached(heights, [1, 2, 3, 4]))
    n1 = w.nodes[1]
    v0, v4 = w.keys[0].public, w.keys[4].public
    signers = {h: [s.validator for s in n1.disk.blocks[h][1].signatures] for h in sorted(n1.disk.blocks)}
    out.checks["v4 never signs before height 7"] = all(v4 not in s for h, s in signers.items() if h < 7)
    out.checks["v4 signs commits from height 7 on"] = any(v4 in s for h, s in signers.items() if h >= 7)
    out.checks["v0 never signs from height 14 on"] = all(v0 not in s for h, s in signers.items() if h >= 14)
    sched = n1.schedule
    out.checks["set of 6 lacks v4, set of 7 has it"] = v4 not in sched.set_for(6) and v4 in sched.set_for(7)
    # quorum math per height: a height-16 commit does not verify against the genesis set's keys-only view
    h = 16
    value, commit = n1.disk.blocks[h]
    ok_now = True
    try:
        verify_commit(sched.set_for(h), w.chain_id, h, commit.value_id, commit, w.verify)
    except Exception:
        ok_now = False
    out.checks["commit verifies against its own height's set"] = ok_now
    return out


SCENARIOS: dict[str, Callable[..., Outcome]] = {
    "happy": happy,
    "proposer_crash": proposer_crash,
    "lossy_then_stable": lossy_then_stable,
    "partition_1_3": partition_1_3,
    "partition_2_2": partition_2_2,
    "equivocating_proposer": equivocating_proposer,
    "equivocating_voter": equivocating_voter,
    "crash_restart": crash_restart,
    "torn_wal": torn_wal,
    "long_halt": long_halt,
    "valset_change": valset_change,
    "byzantine": byzantine,
}
