"""The signed nouns of consensus: votes, proposals, commits, evidence.

Theory of operation
-------------------
Everything here is a :class:`ledger.codec.Record`, so it has exactly one
byte encoding.  A signed object's *sign bytes* are the canonical encoding of
the object with its ``signature`` field left out; the signature is
``PrivateKey.sign(domain, chain_id, sign_bytes)`` with domain ``"vote"`` or
``"proposal"``, so a signature is bound to its kind and to the chain.

* :class:`Vote` -- ``PREVOTE`` or ``PRECOMMIT`` for a value id (32 bytes, the
  block hash) or for nil (``value_id=None``) at ``(height, round)``, by a
  validator named by its public key.
* :class:`Proposal` -- ``PROPOSAL(h, r, id(v), pol_round)`` by the proposer;
  ``pol_round`` is the paper's ``vr`` (``-1`` for none).  The value bytes
  travel next to the proposal (they are not part of the sign bytes: the
  value id commits to them).
* :class:`Commit` -- the certificate that a value was decided: the
  precommit signatures of more than 2/3 of the power for ``value_id`` at
  ``(height, round)``, sorted by validator key.  It is stored with the block
  and checked by :func:`verify_commit` by anyone holding the validator set.
* :class:`Evidence` -- two votes signed by one validator for the same
  ``(height, round, type)`` and different values; :func:`verify_evidence`
  checks it against the validator set of its height.

Steps are numbered as in CometBFT's last-sign-state: propose 1, prevote 2,
precommit 3; the signer compares ``(height, round, step)`` triples.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from ledger.block import Commit as LedgerCommit
from ledger.block import InvalidCommit, verify_commit_powers  # noqa: F401  (re-export)
from ledger.block import CommitSig  # noqa: F401  (re-export)
from ledger.codec import Bytes, CodecError, Int, Nested, Opt, Record, UInt, encode
from ledger.crypto import HASH_SIZE, PUBKEY_SIZE, SIG_SIZE, tagged_hash, verify

from .valset import Validator, ValidatorSchedule, ValidatorSet, ValidatorSetError  # noqa: F401  (re-export)

# Round steps (also the signer's HRS step numbers).
PROPOSE = 1
PREVOTE = 2
PRECOMMIT = 3
STEP_NAMES = {PROPOSE: "propose", PREVOTE: "prevote", PRECOMMIT: "precommit"}

NO_SIG = b""

# A function that checks an Ed25519 signature: (pubkey, domain, chain_id, payload, sig) -> bool.
Verifier = Callable[[bytes, str, str, bytes, bytes], bool]


def value_id_of(value: bytes) -> bytes:
    """The default value id: a tagged BLAKE3 hash of the value bytes."""
    return tagged_hash("block", value)


class _Signed(Record):
    DOMAIN = ""

    def sign_bytes(self) -> bytes:
        """Canonical encoding without the signature (memoised: records are frozen)."""
        sb = self.__dict__.get("_sign_bytes")
        if sb is None:
            obj = self.to_obj()
            del obj["signature"]
            sb = encode(obj)
            object.__setattr__(self, "_sign_bytes", sb)
        return sb

    def with_signature(self, sig: bytes):
        new = dataclasses.replace(self, signature=sig)
        sb = self.__dict__.get("_sign_bytes")
        if sb is not None:
            object.__setattr__(new, "_sign_bytes", sb)
        return new

    def signer_key(self) -> bytes:  # pragma: no cover - interface
        raise NotImplementedError

    def verify(self, chain_id: str, verifier: Verifier = verify) -> bool:
        if len(self.signature) != SIG_SIZE:
            return False
        return verifier(self.signer_key(), self.DOMAIN, chain_id, self.sign_bytes(), self.signature)


@dataclasses.dataclass(frozen=True)
class Vote(_Signed):
    DOMAIN = "vote"
    SCHEMA = {
        "type": UInt(3),
        "height": UInt(),
        "round": UInt(2**31),
        "value_id": Opt(Bytes(HASH_SIZE)),
        "validator": Bytes(PUBKEY_SIZE),
        "signature": Bytes(max_size=SIG_SIZE),
    }
    type: int  # PREVOTE or PRECOMMIT
    height: int
    round: int
    value_id: bytes | None
    validator: bytes
    signature: bytes = NO_SIG

    def __post_init__(self) -> None:
        if self.type not in (PREVOTE, PRECOMMIT):
            raise CodecError("vote type must be PREVOTE (2) or PRECOMMIT (3)")

    def signer_key(self) -> bytes:
        return self.validator

    @property
    def step(self) -> int:
        return self.type

    def __repr__(self) -> str:  # short, for logs and failing tests
        vid = self.value_id.hex()[:8] if self.value_id else "nil"
        return f"Vote({STEP_NAMES[self.type]} h={self.height} r={self.round} {vid} by {self.validator.hex()[:8]})"


@dataclasses.dataclass(frozen=True)
class Proposal(_Signed):
    DOMAIN = "proposal"
    SCHEMA = {
        "height": UInt(),
        "round": UInt(2**31),
        "value_id": Bytes(HASH_SIZE),
        "pol_round": Int(),
        "proposer": Bytes(PUBKEY_SIZE),
        "signature": Bytes(max_size=SIG_SIZE),
    }
    height: int
    round: int
    value_id: bytes
    pol_round: int  # the paper's vr; -1 for none
    proposer: bytes
    signature: bytes = NO_SIG

    def __post_init__(self) -> None:
        if not (-1 <= self.pol_round < self.round):
            raise CodecError("pol_round must be -1 or a round below the proposal's round")

    def signer_key(self) -> bytes:
        return self.proposer

    @property
    def step(self) -> int:
        return PROPOSE

    def __repr__(self) -> str:
        return (
            f"Proposal(h={self.height} r={self.round} {self.value_id.hex()[:8]} vr={self.pol_round} "
            f"by {self.proposer.hex()[:8]})"
        )


@dataclasses.dataclass(frozen=True)
class Commit(LedgerCommit):
    """2f+1 precommit signatures for ``value_id`` at ``(height, round)``.

    The data and its encoding are the ledger's (``ledger/block.py``: a block
    carries its predecessor's commit); this adds what consensus does with one.
    """

    @classmethod
    def from_votes(cls, votes: list[Vote]) -> "Commit":
        """Build a commit from signed precommits for one value at one (h, r)."""
        if not votes:
            raise ValueError("a commit needs at least one precommit")
        v0 = votes[0]
        if v0.value_id is None:
            raise ValueError("a commit is for a value, not for nil")
        for v in votes:
            if (v.type, v.height, v.round, v.value_id) != (PRECOMMIT, v0.height, v0.round, v0.value_id):
                raise ValueError("a commit's votes must be precommits for one value at one (height, round)")
        sigs = sorted((CommitSig(v.validator, v.signature) for v in votes), key=lambda s: s.validator)
        return cls(v0.height, v0.round, v0.value_id, tuple(sigs))

    def votes(self) -> list[Vote]:
        """The precommits this commit is made of."""
        return [
            Vote(PRECOMMIT, self.height, self.round, self.value_id, s.validator, s.signature) for s in self.signatures
        ]


def verify_commit(
    valset: ValidatorSet,
    chain_id: str,
    height: int,
    block_id: bytes,
    commit: Commit,
    verifier: Verifier = verify,
) -> None:
    """Check that ``commit`` proves ``block_id`` was decided at ``height``.

    ``valset`` must be the validator set of ``height``.  Raises
    :class:`InvalidCommit` with a one-line reason; returns None when good.
    (The check itself is the ledger's, which light clients use too.)
    """
    verify_commit_powers({v.pubkey: v.power for v in valset.validators}, chain_id, height, block_id, commit, verifier)


@dataclasses.dataclass(frozen=True)
class Evidence(Record):
    """Two conflicting votes signed by one validator (duplicate-vote evidence).

    ``vote_a`` sorts before ``vote_b`` by sign bytes, so one pair of votes has
    one encoding and one hash.
    """

    SCHEMA = {"vote_a": Nested(Vote), "vote_b": Nested(Vote)}
    vote_a: Vote
    vote_b: Vote

    @classmethod
    def from_votes(cls, a: Vote, b: Vote) -> "Evidence":
        if a.sign_bytes() > b.sign_bytes():
            a, b = b, a
        return cls(a, b)

    @property
    def validator(self) -> bytes:
        return self.vote_a.validator

    @property
    def height(self) -> int:
        return self.vote_a.height

    def hash(self) -> bytes:
        """Tagged hash of the encoding (memoised: records are frozen)."""
        hsh = self.__dict__.get("_hash")
        if hsh is None:
            hsh = tagged_hash("evidence", self.encode())
            object.__setattr__(self, "_hash", hsh)
        return hsh


class InvalidEvidence(ValueError):
    """Evidence that does not prove misbehaviour."""


def verify_evidence(valset: ValidatorSet, chain_id: str, ev: Evidence, verifier: Verifier = verify) -> None:
    """Check duplicate-vote evidence against the validator set of its height."""
    a, b = ev.vote_a, ev.vote_b
    if (a.validator, a.height, a.round, a.type) != (b.validator, b.height, b.round, b.type):
        raise InvalidEvidence("votes differ in validator, height, round or type")
    if a.value_id == b.value_id:
        raise InvalidEvidence("votes are for the same value")
    if a.sign_bytes() >= b.sign_bytes():
        raise InvalidEvidence("votes not in canonical order")
    if a.validator not in valset:
        raise InvalidEvidence("voter is not a validator at that height")
    if not a.verify(chain_id, verifier) or not b.verify(chain_id, verifier):
        raise InvalidEvidence("bad signature in evidence")
