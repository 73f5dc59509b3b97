"""Regression tests for issue 14 (consensus engine half): one bad message or one
Byzantine validator must not freeze, stall or exhaust a node.

Each test fails on the code before the fix (noted per test) and bounds work by
counting operations, not by the wall clock.
"""

from __future__ import annotations

import types

import pytest

import consensus.valset as valset_mod
from consensus.engine import MAX_FUTURE_PER_SENDER, ROUND_WINDOW, Engine
from consensus.events import Decide, ProposalReceived, StartHeight, ValidateValue, VoteReceived, WalAppend
from consensus.sim import scenarios as S
from consensus.sim.disk import MemFile
from consensus.types import PRECOMMIT, PREVOTE, Proposal, ValidatorSet, Vote, value_id_of
from consensus.votekeeper import VoteKeeper
from consensus.wal import WAL, EndHeight, frame
from ledger.crypto import PrivateKey

from .harness import CHAIN, TIMEOUTS, Harness, block, vid

A = block("A")
IA = vid("A")


class _Budget:
    """Counts ``valset._clamp`` calls (one per validator per election step); raises past a budget."""

    def __init__(self, monkeypatch, budget: int):
        self.calls = 0
        real = valset_mod._clamp

        def counting(x: int) -> int:
            self.calls += 1
            if self.calls > budget:
                raise AssertionError(f"proposer election ran over {budget} steps")
            return real(x)

        monkeypatch.setattr(valset_mod, "_clamp", counting)


def _real_engine(n: int = 4) -> tuple[Engine, list[PrivateKey], ValidatorSet]:
    keys = [PrivateKey.from_name(f"h{i}", salt="hardening") for i in range(n)]
    vs = ValidatorSet.from_powers([(k.public, 1) for k in keys])
    e = Engine(CHAIN, keys[0].public, TIMEOUTS)  # the real weighted round-robin, no proposer_fn
    return e, keys, vs


# ---- fault 1: a proposal with a huge round ----------------------------------


def test_unsigned_proposal_at_round_2_31_costs_no_election(monkeypatch):
    """Before: proposer(h, 2^31) ran 2^31 election steps before any signature check."""
    e, keys, vs = _real_engine()
    e.step(StartHeight(1, vs))
    budget = _Budget(monkeypatch, 10_000)
    for by in (keys[1].public, PrivateKey.from_name("stranger").public):
        p = Proposal(1, 2**31, value_id_of(A), -1, by)  # unsigned
        assert e.step(ProposalReceived(p, A)) == []
        signed = p.with_signature(keys[1].sign("proposal", CHAIN, p.sign_bytes()))
        assert e.step(ProposalReceived(signed, A)) == []
    assert budget.calls <= 5 * (ROUND_WINDOW + 2)
    assert e.proposals == {}


def test_proposal_window_admits_near_rounds_only():
    h = Harness()
    h.start()
    far = ROUND_WINDOW + 1
    assert h.propose(far, A) == []
    assert far not in h.engine.proposals
    h.propose(ROUND_WINDOW, A)
    assert IA in h.engine.proposals[ROUND_WINDOW]


def test_proposer_election_is_incremental(monkeypatch):
    """Asking rounds 0..R in order costs O(R * n) in all, not O(R^2 * n)."""
    _, keys, vs = _real_engine()
    fresh = ValidatorSet.from_powers([(v.pubkey, v.power) for v in vs.validators])
    want = [fresh._elect(r + 1)[1] for r in range(0, 300, 7)]  # the old, from-scratch definition
    budget = _Budget(monkeypatch, 5 * 2100)
    got = [vs.proposer(1, r) for r in range(2000)]
    assert budget.calls <= 5 * 2001 + 4  # n + 1 clamps per step at n = 4
    assert [got[r] for r in range(0, 300, 7)] == want


# ---- fault 2: future-round votes fill the vote table -------------------------


def _signed(key: PrivateKey, t: int, h: int, r: int, v: bytes | None) -> Vote:
    vote = Vote(t, h, r, v, key.public)
    return vote.with_signature(key.sign("vote", CHAIN, vote.sign_bytes()))


def test_keeper_bounds_future_rounds_per_sender_and_keeps_current_and_next():
    """Before: after 10,000 tracked rounds every vote of a new round was dropped."""
    keys = [PrivateKey.from_name(f"k{i}", salt="hardening") for i in range(4)]
    vs = ValidatorSet.from_powers([(k.public, 1) for k in keys])
    kp = VoteKeeper(1, vs)
    byz = keys[3]
    for r in range(2, 10_002):
        kp.add(Vote(PREVOTE, 1, r, None, byz.public))
    assert len(kp.rounds) <= VoteKeeper.FUTURE_ROUNDS_PER_SENDER
    # honest votes of the current and next round always count
    for r in (0, 1):
        for k in keys[:3]:
            assert kp.add(Vote(PREVOTE, 1, r, IA, k.public))[0]
        assert kp.has_quorum_for(r, PREVOTE, IA)
    # a far round reached by f+1 honest senders is a skip candidate; the flood alone is not
    assert kp.skip_round(0) == 1
    kp.add(Vote(PREVOTE, 1, 50_000, None, keys[0].public))
    kp.add(Vote(PREVOTE, 1, 50_000, None, keys[1].public))
    assert kp.skip_round(1) == 50_000


def test_sim_one_validator_floods_10000_future_rounds_then_withholds_its_proposal():
    """Before: the height where v0 proposes never ended (every round's votes dropped)."""
    out = S.byzantine(1, "flood_rounds", heights=4, flood_n=10_000)
    assert out.ok, out.summary()
    assert min(out.world.heights()[1:]) >= 4


# ---- fault 5: admission before logging; bounded proposals; bounded WAL memory --


def test_conflicting_votes_beyond_two_are_neither_verified_nor_logged():
    """Before: every further conflicting vote was verified and written to the WAL."""
    h = Harness()
    checked = []
    real = h.engine.verifier
    h.engine.verifier = lambda *a: checked.append(a[0]) or real(*a)
    h.start()
    for i in range(10):
        h.vote(3, PREVOTE, 0, value_id_of(b"x%d" % i))
    assert len(checked) == 2
    assert sum(isinstance(ev, VoteReceived) for ev in h.wal) == 2
    assert len(h.evidence(h.log)) == 1


def test_only_current_round_proposals_are_validated_and_past_ones_pruned():
    """Before: every proposal of every round was kept and executed by ValidateValue."""
    h = Harness()
    h.start()
    for r in range(0, ROUND_WINDOW + 1):
        for i in range(4):
            h.propose(r, block(f"r{r}-{i}"))
    asked = [e for e in h.log if isinstance(e, ValidateValue)]
    assert {e.round for e in asked} == {0}
    assert all(len(ps) <= 2 for ps in h.engine.proposals.values())
    # move on many rounds: old proposals (no quorum, no lock) are forgotten
    for r in range(0, 6):
        h.timeout(1, r)
        h.timeout(2, r)
        h.timeout(3, r)
    assert min(h.engine.proposals) >= h.engine.round - 1
    assert len(h.engine.values) <= 2 * (ROUND_WINDOW + 2)


def test_wal_holds_no_records_in_memory():
    """Before: the WAL kept every record in a list until a checkpoint."""
    f = MemFile()
    w = WAL(f)
    key = PrivateKey.from_name("w")
    for r in range(500):
        w.append(VoteReceived(_signed(key, PREVOTE, 1, r, None)))
    assert not any(isinstance(v, (list, dict)) for v in vars(w).values())
    assert len(w.events_to_replay()) == 500
    w.end_height(1)
    w.append(VoteReceived(_signed(key, PREVOTE, 2, 0, None)))
    w.checkpoint()
    w2 = WAL(f)
    assert w2.last_end_height() == 1 and [e.vote.height for e in w2.events_to_replay()] == [2]


# ---- fault 7: the next-height buffer ----------------------------------------


def test_next_height_buffer_takes_only_signed_member_messages_within_quota():
    """Before: 4,096 unsigned junk votes for h+1 filled the buffer; genuine ones were dropped."""
    h = Harness()
    h.start()
    for i in range(5000):
        junk = Vote(PREVOTE, 2, i % 7, value_id_of(b"%d" % i), h.pk(i % 4))  # unsigned, in members' names
        h.feed(VoteReceived(junk))
    stranger = PrivateKey.from_name("stranger")
    h.feed(VoteReceived(_signed(stranger, PREVOTE, 2, 0, None)))
    for r in range(20):  # one member over its quota
        h.vote(3, PREVOTE, r % ROUND_WINDOW, value_id_of(b"q%d" % r), h=2)
    assert len(h.engine._future) == MAX_FUTURE_PER_SENDER
    h.votes([1, 2], PREVOTE, 0, None, h=2)  # genuine early votes still get in
    h.vote(1, PRECOMMIT, 0, None, h=2)
    assert len(h.engine._future) == MAX_FUTURE_PER_SENDER + 3
    h.engine.step(StartHeight(2, h.valset))
    assert h.engine.keeper.has_quorum_any(0, PREVOTE)  # v1, v2 and v3's round-0 vote


# ---- fault 8: EndHeight when replay decides a stored block --------------------


def test_driver_commit_of_an_already_stored_block_writes_end_height():
    """Before: ConsensusDriver._commit returned early without the EndHeight marker."""
    from node.consensus_driver import ConsensusDriver

    import trio

    async def nothing_being_written() -> None:
        pass

    wal = WAL(MemFile())
    fake = types.SimpleNamespace(app=types.SimpleNamespace(height=5), wal=wal, _wait_written=nothing_being_written)
    d = Decide(5, 0, IA, A, None)  # type: ignore[arg-type]
    trio.run(ConsensusDriver._commit, fake, d)
    assert wal.last_end_height() == 5
    trio.run(ConsensusDriver._commit, fake, d)  # idempotent: no second marker
    assert wal._size == len(frame(EndHeight(5)))


# ---- issue 16 item 3: each rule alone ----------------------------------------


def _at(step: int, **state) -> Harness:
    h = Harness()
    h.start()
    e = h.engine
    if step >= 2:
        h.timeout(1)  # prevote nil, step prevote
    for k, v in state.items():
        setattr(e, k, v)
    h.log.clear()
    return h


def _store(h: Harness, r: int, value: bytes, vr: int = -1, valid: bool | None = True) -> bytes:
    p = h.signed_proposal(r, value, vr)
    h.engine.values[p.value_id] = value
    h.engine.proposals.setdefault(r, {})[p.value_id] = p
    if valid is not None:
        h.engine.validity[p.value_id] = valid
    return p.value_id


def _count(h: Harness, who, t: int, r: int, v) -> None:
    for i in who:
        h.engine.keeper.add(h.signed_vote(i, t, r, v))


def test_rule_L22_prevotes_a_fresh_valid_proposal():
    h = _at(1)
    v = _store(h, 0, A)
    assert h.engine._rule_L22() is True and h.engine.round_step == PREVOTE
    h2 = _at(1, locked_round=0, locked_value=b"\x01" * 32)
    _store(h2, 0, A)
    assert h2.engine._rule_L22() is True  # locked on another value: prevote nil (L26)
    assert [m.value_id for m in h2.engine._pending_sign.values()] == [None]
    h3 = _at(1)
    _store(h3, 0, A, valid=None)
    assert h3.engine._rule_L22() is False  # valid(v) unknown: it asks and waits
    assert [type(e).__name__ for e in h3.engine._out] == ["ValidateValue"]
    assert v == IA


def test_rule_L28_needs_the_polka_of_vr():
    h = _at(1)
    h.engine.round = 0
    _store(h, 0, A, vr=-1)
    h.engine.proposals.clear()
    e = h.engine
    e._set_hrs(2, 1)
    e.keeper.set_round(2)
    _store(h, 2, A, vr=1)
    assert e._rule_L28() is False  # no polka at round 1 yet
    _count(h, (1, 2, 3), PREVOTE, 1, IA)
    assert e._rule_L28() is True and e.round_step == PREVOTE


def test_rule_L34_and_L47_only_schedule_once():
    h = _at(2)
    _count(h, (1, 2), PREVOTE, 0, IA)  # with our nil prevote: 3 of 4
    assert h.engine._rule_L34() is False and [t.step for t in h.timeouts(h.engine._out)] == [2]
    assert h.engine._rule_L34() is False and len(h.engine._out) == 1
    _count(h, (1, 2, 3), PRECOMMIT, 0, None)
    assert h.engine._rule_L47() is False and [t.step for t in h.timeouts(h.engine._out)] == [2, 3]
    assert h.engine._rule_L47() is False and len(h.engine._out) == 2


def test_rule_L36_locks_and_L44_precommits_nil():
    h = Harness()
    h.start()
    h.engine._set_hrs(0, PREVOTE)
    _store(h, 0, A)
    _count(h, (1, 2, 3), PREVOTE, 0, IA)
    assert h.engine._rule_L36() is True
    assert (h.engine.locked_value, h.engine.valid_round, h.engine.round_step) == (IA, 0, PRECOMMIT)
    h2 = Harness()
    h2.start()
    h2.engine._set_hrs(0, PREVOTE)
    assert h2.engine._rule_L44() is False
    _count(h2, (1, 2, 3), PREVOTE, 0, None)
    assert h2.engine._rule_L44() is True and h2.engine.round_step == PRECOMMIT


def test_rule_L49_decides_any_round_and_L55_skips():
    h = _at(1)
    _store(h, 0, A)
    _count(h, (1, 2, 3), PRECOMMIT, 0, IA)
    assert h.engine._rule_L49() is True
    assert [d.value_id for d in h.decisions(h.engine._out)] == [IA]
    h2 = _at(1)
    _count(h2, (1, 2), PREVOTE, 7, None)
    assert h2.engine._rule_L55() is True and h2.engine.round == 7


def test_rules_table_is_in_the_papers_order():
    names = [f.__name__ for f in Engine.RULES]
    assert names == ["_rule_L49", "_rule_L55", "_rule_L22", "_rule_L28", "_rule_L34", "_rule_L36", "_rule_L44",
                     "_rule_L47"]


@pytest.mark.parametrize("name", ["_on_proposal", "_proposal_admissible", "_run_rules", "_buffer_future"])
def test_engine_functions_stay_short(name):
    import inspect

    assert len(inspect.getsource(getattr(Engine, name)).splitlines()) <= 60


# ---- the class: every Byzantine behaviour, with a liveness bound ---------------


@pytest.mark.parametrize("behaviour", __import__("consensus.sim.node", fromlist=["BEHAVIOURS"]).BEHAVIOURS)
def test_one_byzantine_validator_never_stops_the_chain(behaviour):
    out = S.byzantine(3, behaviour, heights=8)
    assert out.ok, out.summary()


def test_liveness_check_fails_when_honest_power_is_not_enough():
    """Negative control: with two honest validators down (live power 1/2) the check must fail."""
    out = S.byzantine(3, "vote_storm", heights=3, down=2)
    assert not out.ok
    assert any("decide" in f for f in out.failures) and not out.violations
