"""The ledger's commit check: what a light client relies on."""

from __future__ import annotations

import pytest

from consensus.types import PRECOMMIT, Vote
from consensus.types import Commit as CCommit
from ledger.block import Commit, CommitSig, InvalidCommit, precommit_sign_bytes, validator_set_hash, verify_commit_powers
from ledger.crypto import PrivateKey

CHAIN = "light"
KEYS = [PrivateKey.from_name(f"v{i}", salt="light") for i in range(4)]
POWERS = {k.public: 10 for k in KEYS}
BID = b"\x07" * 32


def commit_by(keys, height=5, round_=1, bid=BID, chain=CHAIN) -> Commit:
    votes = []
    for k in keys:
        v = Vote(PRECOMMIT, height, round_, bid, k.public)
        votes.append(v.with_signature(k.sign("vote", chain, v.sign_bytes())))
    return Commit.decode(CCommit.from_votes(votes).encode())


def test_sign_bytes_are_the_consensus_vote_bytes():
    v = Vote(PRECOMMIT, 9, 3, BID, KEYS[0].public)
    assert precommit_sign_bytes(9, 3, BID, KEYS[0].public) == v.sign_bytes()


def test_a_quorum_commit_verifies():
    # the check raises InvalidCommit on failure and returns nothing on success: not raising is the assertion
    assert verify_commit_powers(POWERS, CHAIN, 5, BID, commit_by(KEYS[:3])) is None


@pytest.mark.parametrize("case, reason", [
    ("two of four", "not more than 2/3"),
    ("other block", "another block"),
    ("other height", "height"),
    ("other chain", "bad precommit signature"),
    ("outsider", "not a validator"),
    ("tampered", "bad precommit signature"),
    ("unsorted", "not sorted"),
])
def test_a_bad_commit_is_refused_with_its_reason(case, reason):
    c = commit_by(KEYS[:3])
    if case == "two of four":
        c = commit_by(KEYS[:2])
    elif case == "other block":
        c = commit_by(KEYS[:3], bid=b"\x08" * 32)
    elif case == "other height":
        c = commit_by(KEYS[:3], height=6)
    elif case == "other chain":
        c = commit_by(KEYS[:3], chain="another")
    elif case == "outsider":
        c = commit_by(KEYS[:2] + [PrivateKey.from_name("x", salt="light")])
    elif case == "tampered":
        s0 = c.signatures[0]
        c = Commit(c.height, c.round, c.value_id, (CommitSig(s0.validator, bytes([s0.signature[0] ^ 1]) + s0.signature[1:]),)
                   + c.signatures[1:])
    elif case == "unsorted":
        c = Commit(c.height, c.round, c.value_id, tuple(reversed(c.signatures)))
    with pytest.raises(InvalidCommit, match=reason):
        verify_commit_powers(POWERS, CHAIN, 5, BID, c)


def test_set_hash_is_the_consensus_set_hash():
    from consensus.valset import ValidatorSet

    assert validator_set_hash(POWERS) == ValidatorSet.from_powers(POWERS).hash()
