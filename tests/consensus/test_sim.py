"""Multi-node scenarios (reference section 3.6B) in the deterministic simulator."""

from __future__ import annotations

import pytest

from consensus.sim import scenarios as S
from consensus.sim.world import World
from consensus.wal import WalCorruptError


def check(out: S.Outcome) -> S.Outcome:
    assert out.ok, out.summary()
    return out


def test_happy_path_1000_heights():
    out = check(S.happy(7, heights=1000))
    assert min(out.world.heights()) >= 1000  # every node decided every height


def test_same_seed_replays_exactly():
    a = S.lossy_then_stable(3, gst=3000, extra=3)
    b = S.lossy_then_stable(3, gst=3000, extra=3)
    assert a.world.now == b.world.now and a.world._seq == b.world._seq
    assert a.world.checker.decisions == b.world.checker.decisions
    c = S.lossy_then_stable(4, gst=3000, extra=3)
    assert c.world._seq != a.world._seq


def test_proposer_crash_decides_in_round_one():
    check(S.proposer_crash(1))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_drops_and_reordering_before_gst_then_stable(seed):
    check(S.lossy_then_stable(seed))


def test_partition_one_three_and_healing():
    check(S.partition_1_3(2))


def test_partition_two_two_and_healing():
    check(S.partition_2_2(3))


@pytest.mark.parametrize("seed", [1, 2])
def test_equivocating_proposer(seed):
    check(S.equivocating_proposer(seed))


def test_equivocating_voter_evidence_is_committed():
    out = check(S.equivocating_voter(5))
    assert out.info["committed_at"] - out.info["evidence_height"] <= 2


@pytest.mark.parametrize("point", S.CRASH_POINTS)
@pytest.mark.parametrize("nth", [1, 4, 9])
def test_crash_restart_at_every_crash_point(point, nth):
    out = check(S.crash_restart(nth * 31 + len(point), point=point, nth=nth))
    assert out.world.crashes and out.world.crashes[0][2] == point


def test_crash_after_sign_replays_the_stored_signature():
    """Crash right after the signer persisted, before the WAL write: no new signature."""
    out = check(S.crash_restart(11, point="after_sign", nth=2, node=0))
    assert out.world.nodes[0].refused_signatures == 0


def test_torn_wal_tail():
    check(S.torn_wal(4))


def test_wal_corruption_in_the_middle_refuses_to_start():
    w = World(6, 4, commit_delay=50)
    w.start()
    w.run(300)
    node = w.nodes[1]
    data = bytearray(node.disk.wal.durable)
    assert len(data) > 200
    data[len(data) // 2] ^= 0xFF
    node.disk.wal.durable = bytes(data)
    node.crash()
    node.boot()
    assert isinstance(node.boot_error, WalCorruptError) and not node.alive
    # the other three go on without it
    target = max(w.heights()) + 5
    assert w.run(w.now + 20_000, w.all_reached(target, [0, 2, 3]))
    assert not w.violations


@pytest.mark.parametrize("seed", [1, 8])
def test_long_halt_of_two_then_restart(seed):
    out = check(S.long_halt(seed))
    assert out.info["max_timeout_ms"] == 500


def test_validator_set_change():
    check(S.valset_change(9))


def test_checker_detects_double_signing():
    """The invariant checker itself must be able to fail."""
    w = World(1, 4)
    w.start()
    w.run(50)
    from consensus.types import PREVOTE, Vote

    k = w.keys[2]
    a = Vote(PREVOTE, 99, 0, None, k.public)
    b = Vote(PREVOTE, 99, 0, bytes(32), k.public)
    w.checker.on_signed(w.nodes[2], a)
    w.checker.on_signed(w.nodes[2], b)
    assert any("double sign" in v for v in w.violations)
