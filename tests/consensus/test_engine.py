"""Single-engine scenarios (reference section 3.6A), one rule at a time.

n = 4 validators of power 1 (quorum 3, f+1 = 2).  The engine under test is
v0; the proposer of round r is v{(r+1) % 4}, so v0 proposes in round 3.
"""

from __future__ import annotations

import pytest

from consensus.engine import COMMIT, Engine
from consensus.events import (
    DecisionLearned,
    GetValue,
    ProposalReceived,
    ScheduleTimeout,
    StartHeight,
    ValidateValue,
    ValueValidity,
    VoteReceived,
)
from consensus.sim.disk import MemStorage
from consensus.types import PRECOMMIT, PREVOTE, PROPOSE, Commit, verify_commit, verify_evidence

from .harness import CHAIN, TIMEOUTS, Harness, block, vid

A, B, C = block("A"), block("B"), block("C")
IA, IB, IC = vid("A"), vid("B"), vid("C")


def polka(h: Harness, r: int, value_id, who=(1, 2, 3)) -> list:
    return h.votes(list(who), PREVOTE, r, value_id)


def test_full_round_decides_with_a_verifiable_commit():
    h = Harness()
    out = h.start()
    assert [t.step for t in h.timeouts(out)] == [PROPOSE]  # L21: not the proposer
    out = h.propose(0, A)
    assert h.prevotes(out) == [IA]  # L22-24
    out = polka(h, 0, IA, (1, 2))
    assert h.precommits(out) == [IA]  # L36-41
    assert (h.engine.locked_value, h.engine.locked_round) == (IA, 0)
    assert (h.engine.valid_value, h.engine.valid_round) == (IA, 0)
    out = h.votes([1, 2], PRECOMMIT, 0, IA)
    [d] = h.decisions(out)  # L49-51
    assert (d.height, d.round, d.value_id, d.value) == (1, 0, IA, A)
    verify_commit(h.valset, CHAIN, 1, IA, d.commit)
    assert len(d.commit.signatures) == 3
    assert h.engine.round_step == COMMIT
    # nothing more happens at this height
    assert h.vote(3, PRECOMMIT, 0, IA) == []


def test_proposer_gets_value_and_proposes_it():
    h = Harness(offset=0)  # v0 proposes round 0
    out = h.start()
    assert any(isinstance(e, GetValue) for e in out)
    [p] = h.proposals_sent(out)
    assert (p.round, p.value_id, p.pol_round) == (0, vid("mine"), -1)
    assert h.prevotes(out) == [vid("mine")]  # own proposal goes through L22
    assert h.timeouts(out) == []  # the proposer schedules no propose timeout (L14-19)


def test_own_signed_messages_are_logged_with_sync_before_broadcast():
    h = Harness(offset=0)
    out = h.start()
    kinds = [type(e).__name__ for e in out]
    i_wal = next(i for i, e in enumerate(out) if type(e).__name__ == "WalAppend" and e.sync and type(e.event).__name__ == "ProposalSigned")
    i_bc = kinds.index("BroadcastProposal")
    assert i_wal < i_bc


def test_timeout_propose_prevotes_nil():
    h = Harness()
    h.start()
    out = h.timeout(PROPOSE)
    assert h.prevotes(out) == [None]  # L57-60
    assert h.engine.round_step == PREVOTE


def test_invalid_proposal_prevotes_nil():
    h = Harness()
    h.invalid.add(IA)
    h.start()
    assert h.prevotes(h.propose(0, A)) == [None]  # L26


def test_proposal_waits_for_validity_answer():
    h = Harness()
    h.auto_validate = False
    h.start()
    out = h.propose(0, A)
    assert any(isinstance(e, ValidateValue) for e in out)
    assert h.prevotes(out) == []
    out = h.feed(ValueValidity(1, IA, True))
    assert h.prevotes(out) == [IA]


def test_proposal_from_wrong_proposer_or_bad_signature_or_mismatched_value_is_dropped():
    h = Harness()
    h.start()
    assert h.propose(0, A, by=2) == []  # not the proposer of round 0
    p = h.signed_proposal(0, A)
    assert h.feed(ProposalReceived(p, B)) == []  # value does not hash to the id
    bad = p.with_signature(bytes(64))
    assert h.feed(ProposalReceived(bad, A)) == []
    assert h.engine.round_step == PROPOSE


def test_lock_then_prevote_nil_for_other_value():
    """LockNoPOL: locked on A at round 0; a fresh proposal of B is refused."""
    h = Harness()
    h.start()
    h.propose(0, A)
    polka(h, 0, IA, (1, 2))
    h.votes([1, 2], PRECOMMIT, 0, None)
    h.timeout(PRECOMMIT, 0)  # L65-67 -> round 1
    assert h.engine.round == 1
    out = h.propose(1, B)
    assert h.prevotes(out) == [None]  # L23 fails: locked on A
    # a fresh proposal of the locked value is prevoted
    h2 = Harness()
    h2.start()
    h2.propose(0, A)
    polka(h2, 0, IA, (1, 2))
    h2.timeout(PRECOMMIT, 0)
    assert h2.prevotes(h2.propose(1, A)) == [IA]


def test_relock_on_newer_polka():
    """LockPOLRelock: locked on A at r0, a polka for B at r1 relocks on B."""
    h = Harness()
    h.start()
    h.propose(0, A)
    polka(h, 0, IA, (1, 2))
    h.timeout(PRECOMMIT, 0)
    out = h.propose(1, B)
    assert h.prevotes(out) == [None]
    out = polka(h, 1, IB)
    assert h.precommits(out) == [IB]
    assert (h.engine.locked_value, h.engine.locked_round) == (IB, 1)


def test_unlock_by_pol_round_at_or_above_lock():
    """LockPOLUnlock / L28-29: locked at r0 on A, proposal (B, vr=1) with polka at r1."""
    h = Harness()
    h.start()
    h.propose(0, A)
    polka(h, 0, IA, (1, 2))
    h.timeout(PRECOMMIT, 0)
    h.timeout(PROPOSE, 1)  # prevote nil in round 1
    polka(h, 1, IB)  # we never saw B's proposal: polka for an unknown block
    assert h.engine.locked_value == IA  # no lock change without the proposal
    h.votes([1, 2, 3], PRECOMMIT, 1, None)
    h.timeout(PRECOMMIT, 1)
    assert h.engine.round == 2
    out = h.propose(2, B, vr=1)
    assert h.prevotes(out) == [IB]  # lockedRound 0 <= vr 1


def test_old_polka_does_not_unlock_a_newer_lock():
    """LockPOLSafety: locked at r2; a proposal with vr=1 < lockedRound gets nil."""
    h = Harness()
    h.start()
    h.timeout(PROPOSE, 0)
    polka(h, 1, IB)  # f+1 from round 1 -> skip (L55); a polka for B (unknown here) at r1
    assert h.engine.round == 1
    h.timeout(PROPOSE, 1)
    h.votes([1, 2, 3], PRECOMMIT, 1, None)
    h.timeout(PRECOMMIT, 1)
    h.propose(2, C)
    polka(h, 2, IC, (1, 2))
    assert (h.engine.locked_value, h.engine.locked_round) == (IC, 2)
    h.votes([1, 2], PRECOMMIT, 2, None)
    h.timeout(PRECOMMIT, 2)
    h.engine_round3 = h.engine.round
    # round 3: v0 is proposer and re-proposes its valid value C with vr=2
    assert h.engine.round == 3
    # go to round 4 (proposer v1) where a proposal for B with vr=1 arrives
    h.votes([1, 2, 3], PREVOTE, 3, None)
    h.votes([1, 2, 3], PRECOMMIT, 3, None)
    h.timeout(PRECOMMIT, 3)
    out = h.propose(4, B, vr=1)
    assert h.prevotes(out) == [None]
    assert h.engine.locked_value == IC


def test_polka_for_unknown_block_then_proposal_arrives():
    """LockPOLUnlockOnUnknownBlock: no precommit for a block we do not have."""
    h = Harness()
    h.start()
    h.timeout(PROPOSE, 0)
    out = polka(h, 0, IA)
    assert h.precommits(out) == []  # L36 needs the proposal
    assert [t.step for t in h.timeouts(out)] == [PREVOTE]  # L34
    out = h.propose(0, A)
    assert h.precommits(out) == [IA]  # now L36 fires while step = prevote
    assert h.engine.locked_value == IA


def test_valid_value_set_on_delayed_prevote():
    """SetValidBlockOnDelayedPrevote: L36 in the precommit step only sets validValue."""
    h = Harness()
    h.start()
    h.propose(0, A)
    h.votes([1, 2], PREVOTE, 0, None)  # 2f+1 any (with ours) -> L34
    out = h.timeout(PREVOTE, 0)
    assert h.precommits(out) == [None]  # L61-64
    h.vote(3, PREVOTE, 0, IA)  # too late to make a polka with ours? ours + v3 = 2
    assert h.engine.valid_value is None
    h2 = Harness()
    h2.start()
    h2.propose(0, A)
    h2.votes([1], PREVOTE, 0, None)
    h2.vote(2, PREVOTE, 0, IA)  # 3 prevotes: A, nil, A -> L34 only
    out = h2.timeout(PREVOTE, 0)
    assert h2.precommits(out) == [None]
    out = h2.vote(3, PREVOTE, 0, IA)  # the delayed prevote makes the polka
    assert h2.precommits(out) == []  # no second precommit
    assert (h2.engine.valid_value, h2.engine.valid_round) == (IA, 0)  # L42-43
    assert h2.engine.locked_round == -1  # but no lock (L37 needs step = prevote)


def test_valid_value_set_on_delayed_proposal_and_reproposed():
    """SetValidBlockOnDelayedProposal + ProposeValidBlock."""
    h = Harness()
    h.start()
    h.timeout(PROPOSE, 0)
    polka(h, 0, IA)
    h.timeout(PREVOTE, 0)  # precommit nil
    assert h.engine.round_step == PRECOMMIT
    h.propose(0, A)  # the proposal arrives after the polka
    assert (h.engine.valid_value, h.engine.valid_round) == (IA, 0)
    assert h.engine.locked_round == -1
    # rounds 1 and 2 fail; in round 3 v0 proposes: validValue with vr = 0
    for r in (0, 1, 2):
        h.votes([1, 2, 3], PRECOMMIT, r, None)
        out = h.timeout(PRECOMMIT, r)
        if r < 2:
            h.timeout(PROPOSE, r + 1)
    [p] = h.proposals_sent(out)
    assert (p.round, p.value_id, p.pol_round) == (3, IA, 0)  # L15-16, L19
    assert not any(isinstance(e, GetValue) for e in out)


def test_decide_for_a_past_round():
    """CommitFromPreviousRound / decideForPastRound: L49 looks at any round."""
    h = Harness()
    h.start()
    h.timeout(PROPOSE, 0)
    h.votes([1, 2, 3], PREVOTE, 0, None)
    h.timeout(PREVOTE, 0)
    h.timeout(PRECOMMIT, 0)
    assert h.engine.round == 1
    h.propose(0, A)  # round-0 proposal, late
    out = h.votes([1, 2, 3], PRECOMMIT, 0, IA)
    [d] = h.decisions(out)
    assert (d.round, d.value_id) == (0, IA)


def test_round_skip_needs_f_plus_one():
    h = Harness()
    h.start()
    h.vote(1, PREVOTE, 5, None)
    assert h.engine.round == 0  # one validator is not f+1
    out = h.vote(2, PRECOMMIT, 5, None)
    assert h.engine.round == 5  # L55-56
    assert [t.round for t in h.timeouts(out)] == [5]


def test_timeouts_start_only_on_2f1_any_and_once():
    h = Harness()
    h.start()
    h.propose(0, A)  # we prevote A
    out = h.vote(1, PREVOTE, 0, None)
    assert h.timeouts(out) == []  # 2 prevotes: no L34 yet
    out = h.vote(2, PREVOTE, 0, IB)
    assert [t.step for t in h.timeouts(out)] == [PREVOTE]  # L34: A, nil, B
    out = h.vote(3, PREVOTE, 0, None)
    assert h.timeouts(out) == []  # "for the first time"
    # L47 fires in any step, once
    h2 = Harness()
    h2.start()
    out = h2.votes([1, 2, 3], PRECOMMIT, 0, None)
    assert [t.step for t in h2.timeouts(out)] == [PRECOMMIT]
    assert h2.engine.round_step == PROPOSE


def test_stale_timeouts_are_ignored():
    h = Harness()
    h.start()
    h.propose(0, A)
    assert h.timeout(PROPOSE, 0) == []  # step is prevote already
    assert h.timeout(PREVOTE, 7) == []  # wrong round
    assert h.feed(__import__("consensus.events", fromlist=["TimeoutFired"]).TimeoutFired(2, 0, PROPOSE)) == []


def test_timeouts_grow_per_round_and_cap():
    assert [TIMEOUTS.duration(PROPOSE, r) for r in (0, 1, 2)] == [3000, 3500, 4000]
    assert TIMEOUTS.duration(PROPOSE, 1000) == TIMEOUTS.max_ms
    h = Harness()
    h.start()
    h.vote(1, PREVOTE, 40, None)
    out = h.vote(2, PREVOTE, 40, None)
    [t] = h.timeouts(out)
    assert (t.round, t.duration_ms) == (40, TIMEOUTS.max_ms)


def test_issue_1745_early_polka_does_not_force_nil_prevote():
    """2f+1 prevotes before the proposal: wait for the proposal or timeoutPropose."""
    h = Harness()
    h.start()
    out = polka(h, 0, IA)
    assert h.prevotes(out) == [] and h.engine.round_step == PROPOSE
    out = h.votes([1, 2, 3], PREVOTE, 0, None) + h.votes([1, 2], PRECOMMIT, 0, None)
    assert h.prevotes(out) == []
    out = h.propose(0, A)
    assert h.prevotes(out) == [IA]
    assert h.precommits(out) == [IA]  # and the waiting polka now locks


def test_conflicting_votes_produce_evidence_once():
    h = Harness()
    h.start()
    out = h.vote(2, PREVOTE, 0, IA) + h.vote(2, PREVOTE, 0, IB)
    [ev] = h.evidence(out)
    verify_evidence(h.valset, CHAIN, ev)
    assert ev.validator == h.pk(2)
    assert h.evidence(h.vote(2, PREVOTE, 0, None)) == []  # once per (validator, round, type)
    assert h.evidence(h.vote(2, PREVOTE, 0, IA)) == []  # duplicate


def test_equivocating_votes_count_for_each_value():
    """The paper counts messages from distinct senders per value (L36, L44)."""
    h = Harness()
    h.start()
    h.propose(0, A)  # ours: A
    h.vote(1, PREVOTE, 0, IA)
    h.vote(2, PREVOTE, 0, IB)
    out = h.vote(2, PREVOTE, 0, IA)  # v2 equivocates: A too
    assert h.precommits(out) == [IA]


def test_double_sign_refused_after_losing_the_wal():
    storage = MemStorage()
    h = Harness(storage=storage)
    h.start()
    h.propose(0, A)
    assert h.prevotes(h.log) == [IA]
    # the node restarts without its WAL but with its signer state
    h2 = Harness(storage=storage)
    h2.start()
    out = h2.timeout(PROPOSE, 0)  # would prevote nil: conflicts with the prevote for A
    assert h2.prevotes(out) == [] and h2.refused == 1
    h2.propose(0, A)  # the same prevote again is allowed (stored signature)
    h3 = Harness(storage=storage)
    h3.start()
    out = h3.propose(0, A)
    assert h3.prevotes(out) == [IA]
    assert h3.votes_sent(out)[0].signature == h.votes_sent(h.log)[0].signature


def test_future_height_messages_are_buffered():
    h = Harness()
    h.start()
    h.propose(0, A)
    polka(h, 0, IA, (1, 2))
    # height 2 messages arrive before we decide height 1
    p2 = h.signed_proposal(0, B, h=2)
    h.feed(ProposalReceived(p2, B))
    h.votes([1, 2], PREVOTE, 0, vid("B"), h=2)
    [d] = h.decisions(h.votes([1, 2], PRECOMMIT, 0, IA))
    assert d.height == 1
    out = h.feed(StartHeight(2, h.valset))
    assert h.prevotes(out) == [IB]
    assert h.precommits(out) == [IB]  # buffered prevotes + ours = polka


def test_decision_learned_from_sync():
    h = Harness()
    h.start()
    votes = [h.signed_vote(i, PRECOMMIT, 3, IA) for i in (1, 2, 3)]
    commit = Commit.from_votes(votes)
    bad = Commit.from_votes(votes[:2])
    assert h.feed(DecisionLearned(1, A, bad)) == []  # not 2/3
    assert h.feed(DecisionLearned(1, B, commit)) == []  # wrong block
    [d] = h.decisions(h.feed(DecisionLearned(1, A, commit)))
    assert (d.height, d.round, d.value) == (1, 3, A)


def test_observer_follows_without_signing():
    h = Harness(observer=True)
    h.start()
    h.propose(0, A)
    polka(h, 0, IA)
    out = h.votes([1, 2, 3], PRECOMMIT, 0, IA)
    assert len(h.decisions(out)) == 1
    assert h.votes_sent(h.log) == [] and h.signer.last is None


def test_restore_from_wal_resumes_the_same_state():
    h = Harness()
    h.start()
    h.propose(0, A)
    polka(h, 0, IA, (1, 2))
    h.vote(1, PRECOMMIT, 0, None)
    h.votes([1, 2], PREVOTE, 1, None)  # f+1 of round 1: skip
    fresh = Engine(CHAIN, h.pk(0), TIMEOUTS, proposer_fn=h.proposer)
    out = fresh.restore(list(h.wal))
    e = h.engine
    assert fresh.hrs == e.hrs
    assert (fresh.locked_value, fresh.locked_round, fresh.valid_value, fresh.valid_round) == (
        e.locked_value, e.locked_round, e.valid_value, e.valid_round)
    # resume re-broadcasts own messages and re-arms the current round's timeout
    kinds = [type(x).__name__ for x in out]
    assert kinds.count("BroadcastVote") == 2 and "ScheduleTimeout" in kinds
    assert not any(type(x).__name__ == "WalAppend" for x in out)


def test_restore_re_requests_unanswered_signature():
    h = Harness()
    h.start()
    # feed the proposal but "crash" before the signature answer: take the WAL up to it
    eff = h.engine.step(ProposalReceived(h.signed_proposal(0, A), A))
    wal = list(h.wal) + [e.event for e in eff if type(e).__name__ == "WalAppend"]
    # the engine asked for validation; the answer was logged too
    wal.append(ValueValidity(1, IA, True))
    fresh = Engine(CHAIN, h.pk(0), TIMEOUTS, proposer_fn=h.proposer)
    out = fresh.restore(wal)
    assert [type(x).__name__ for x in out if type(x).__name__ == "SignVote"] == ["SignVote"]


@pytest.mark.parametrize("power", [[1, 1, 1, 1], [5, 1, 1, 1]])
def test_thresholds_are_by_voting_power(power):
    h = Harness(powers=power)
    h.start()
    h.timeout(PROPOSE, 0)
    out = h.votes([1, 2], PREVOTE, 0, None)
    # with powers 5,1,1,1 (total 8) v0(5)+v1+v2 = 7 > 16/3; with equal powers 3 of 4
    assert [t.step for t in h.timeouts(out)] == [PREVOTE]
    h2 = Harness(powers=power)
    h2.start()
    out = h2.votes([1, 2, 3], PREVOTE, 0, None)
    if power[0] == 5:
        assert h2.timeouts(out) == [] and h2.engine.round_step == PROPOSE  # 3 of 8 is not a quorum
    else:
        assert h2.engine.round_step == PROPOSE  # #1745: still waits in propose


def test_vote_from_non_validator_or_bad_signature_ignored():
    h = Harness()
    h.start()
    v = h.signed_vote(1, PREVOTE, 0, IA)
    assert h.feed(VoteReceived(v.with_signature(bytes(64)))) == []
    stranger = h.keys[4]
    from consensus.types import Vote

    sv = Vote(PREVOTE, 1, 0, IA, stranger.public)
    sv = sv.with_signature(stranger.sign("vote", CHAIN, sv.sign_bytes()))
    assert h.feed(VoteReceived(sv)) == []
    # a vote signed for another chain does not verify here
    other = Vote(PREVOTE, 1, 0, IA, h.pk(1))
    other = other.with_signature(h.keys[1].sign("vote", "other-chain", other.sign_bytes()))
    assert h.feed(VoteReceived(other)) == []


def test_engine_rejects_unknown_events():
    e = Engine(CHAIN, None)
    with pytest.raises(TypeError):
        e.step(ScheduleTimeout(1, 0, 1, 5))  # an effect, not an event
