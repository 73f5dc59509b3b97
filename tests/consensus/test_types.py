"""Votes, proposals, commits, evidence, validator sets and the H+2 schedule."""

from __future__ import annotations

import pytest

from consensus.types import (
    PRECOMMIT,
    PREVOTE,
    Commit,
    CommitSig,
    Evidence,
    InvalidCommit,
    InvalidEvidence,
    Proposal,
    ValidatorSchedule,
    ValidatorSet,
    ValidatorSetError,
    Vote,
    verify_commit,
    verify_evidence,
)
from ledger.codec import CodecError
from ledger.crypto import PrivateKey

CHAIN = "esoc-test"
KEYS = [PrivateKey.from_name(f"k{i}", salt="types-tests") for i in range(6)]
VID = bytes(range(32))


def signed(k: PrivateKey, t: int, h: int, r: int, vid: bytes | None) -> Vote:
    v = Vote(t, h, r, vid, k.public)
    return v.with_signature(k.sign("vote", CHAIN, v.sign_bytes()))


def vs(powers: list[int]) -> ValidatorSet:
    return ValidatorSet.from_powers([(KEYS[i].public, p) for i, p in enumerate(powers)])


def test_records_round_trip_and_sign_bytes_exclude_signature():
    v = signed(KEYS[0], PREVOTE, 3, 1, VID)
    assert Vote.decode(v.encode()) == v
    assert v.sign_bytes() == Vote(PREVOTE, 3, 1, VID, KEYS[0].public).sign_bytes()
    p = Proposal(3, 2, VID, 1, KEYS[1].public)
    assert Proposal.decode(p.encode()) == p
    s = vs([1, 2, 3])
    assert ValidatorSet.decode(s.encode()) == s
    with pytest.raises(CodecError):
        Proposal(3, 2, VID, 2, KEYS[1].public)  # vr must be < round
    with pytest.raises(CodecError):
        Vote(1, 3, 0, None, KEYS[0].public)  # type 1 is not a vote


def test_signature_binds_kind_and_chain():
    v = signed(KEYS[0], PREVOTE, 1, 0, VID)
    assert v.verify(CHAIN)
    assert not v.verify("other-chain")
    as_precommit = Vote(PRECOMMIT, 1, 0, VID, KEYS[0].public, v.signature)
    assert not as_precommit.verify(CHAIN)


def test_commit_verification():
    s = vs([1, 1, 1, 1])
    votes = [signed(KEYS[i], PRECOMMIT, 5, 2, VID) for i in (2, 0, 1)]
    c = Commit.from_votes(votes)
    assert [x.validator for x in c.signatures] == sorted(x.validator for x in c.signatures)
    verify_commit(s, CHAIN, 5, VID, c)
    assert Commit.decode(c.encode()) == c
    with pytest.raises(InvalidCommit, match="not more than 2/3"):
        verify_commit(s, CHAIN, 5, VID, Commit.from_votes(votes[:2]))
    with pytest.raises(InvalidCommit, match="height"):
        verify_commit(s, CHAIN, 6, VID, c)
    with pytest.raises(InvalidCommit, match="another block"):
        verify_commit(s, CHAIN, 5, bytes(32), c)
    forged = Commit(5, 2, VID, (c.signatures[0], CommitSig(c.signatures[1].validator, bytes(64)), c.signatures[2]))
    with pytest.raises(InvalidCommit, match="bad precommit signature"):
        verify_commit(s, CHAIN, 5, VID, forged)
    dup = Commit(5, 2, VID, (c.signatures[0], c.signatures[0], c.signatures[1]))
    with pytest.raises(InvalidCommit, match="sorted"):
        verify_commit(s, CHAIN, 5, VID, dup)
    outsider = Commit.from_votes(votes + [signed(KEYS[5], PRECOMMIT, 5, 2, VID)])
    with pytest.raises(InvalidCommit, match="not a validator"):
        verify_commit(s, CHAIN, 5, VID, outsider)
    # by power: the single validator with power 10 of 13 is a quorum alone
    heavy = vs([10, 1, 1, 1])
    verify_commit(heavy, CHAIN, 5, VID, Commit.from_votes([votes[1]]))


def test_evidence_verification():
    s = vs([1, 1, 1, 1])
    a = signed(KEYS[1], PREVOTE, 4, 0, VID)
    b = signed(KEYS[1], PREVOTE, 4, 0, None)
    ev = Evidence.from_votes(a, b)
    assert Evidence.from_votes(b, a) == ev  # canonical order
    verify_evidence(s, CHAIN, ev)
    assert Evidence.decode(ev.encode()) == ev
    with pytest.raises(InvalidEvidence, match="same value"):
        verify_evidence(s, CHAIN, Evidence(a, a))
    c = signed(KEYS[1], PREVOTE, 4, 1, None)
    with pytest.raises(InvalidEvidence, match="differ"):
        verify_evidence(s, CHAIN, Evidence.from_votes(a, c))
    with pytest.raises(InvalidEvidence, match="not a validator"):
        x = signed(KEYS[5], PREVOTE, 4, 0, VID)
        y = signed(KEYS[5], PREVOTE, 4, 0, None)
        verify_evidence(s, CHAIN, Evidence.from_votes(x, y))
    bad = Evidence.from_votes(a, Vote(PREVOTE, 4, 0, None, KEYS[1].public, bytes(64)))
    with pytest.raises(InvalidEvidence, match="signature"):
        verify_evidence(s, CHAIN, bad)


def test_quorum_helpers():
    s = vs([1, 1, 1, 1])
    assert s.total_power == 4 and s.quorum_power() == 3
    assert s.is_quorum(3) and not s.is_quorum(2)
    assert s.is_one_third(2) and not s.is_one_third(1)
    s = vs([3, 3, 3])
    assert s.quorum_power() == 7 and s.is_quorum(7) and not s.is_quorum(6)


def test_valset_hash_ignores_priorities_and_order_is_canonical():
    s = vs([1, 2, 3])
    assert s.next_height().hash() == s.hash()
    assert vs([1, 2, 4]).hash() != s.hash()
    with pytest.raises(ValidatorSetError):
        ValidatorSet(tuple(reversed(s.validators)))


def _sequence(s: ValidatorSet, heights: int) -> list[bytes]:
    out = []
    for h in range(1, heights + 1):
        out.append(s.proposer(h, 0))
        s = s.next_height()
    return out


def test_proposer_weighted_round_robin_matches_the_spec_example():
    # cometbft proposer-selection.md: p1 power 1, p2 power 3 -> p2, p1, p2, p2 repeating
    k = sorted([KEYS[0].public, KEYS[1].public])
    s = ValidatorSet.from_powers([(k[0], 1), (k[1], 3)])
    seq = _sequence(s, 8)
    p1, p2 = k[0], k[1]
    assert seq == [p2, p1, p2, p2] * 2


def test_proposer_fairness_and_determinism():
    powers = [4, 2, 2, 2]
    s = vs(powers)
    seq = _sequence(s, 100)
    counts = [seq.count(KEYS[i].public) for i in range(4)]
    assert counts == [40, 20, 20, 20]
    assert _sequence(vs(powers), 100) == seq
    # within a height the queue moves one step per round
    assert [s.proposer(1, r) for r in range(10)] == _sequence(s, 10)


def test_schedule_applies_updates_at_h_plus_2():
    g = vs([1, 1, 1, 1])
    sched = ValidatorSchedule(g)
    new = KEYS[4].public
    for h in range(1, 5):
        sched.set_for(h)
        sched.record_updates(h, [(new, 5)] if h == 3 else [])
    assert new not in sched.set_for(4)
    assert sched.set_for(5).power_of(new) == 5
    assert sched.set_for(5).total_power == 9
    sched.record_updates(5, [(KEYS[0].public, 0), (new, 2)])
    assert KEYS[0].public in sched.set_for(6)
    s7 = sched.set_for(7)
    assert KEYS[0].public not in s7 and s7.power_of(new) == 2 and s7.total_power == 5
    with pytest.raises(ValidatorSetError):
        sched.record_updates(4, [(new, 1)])  # the set of 6 is fixed already


def test_new_validator_starts_behind_in_the_queue():
    g = vs([1, 1, 1])
    s = g.with_updates([(KEYS[4].public, 1)])
    v = [x for x in s.validators if x.pubkey == KEYS[4].public][0]
    assert v.priority < min(x.priority for x in s.validators if x.pubkey != KEYS[4].public)


def test_bad_updates_are_refused():
    g = vs([1, 1])
    with pytest.raises(ValidatorSetError):
        g.with_updates([(KEYS[0].public, 0), (KEYS[1].public, 0)])
    with pytest.raises(ValidatorSetError):
        g.with_updates([(KEYS[5].public, 0)])
    with pytest.raises(ValidatorSetError):
        g.with_updates([(KEYS[0].public, 2), (KEYS[0].public, 3)])
