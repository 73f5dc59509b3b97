"""A single engine driven by hand: the other validators are simulated by tests.

Validators are ``v0 .. v{n-1}``; the engine under test is ``v{me}``.  The
proposer of round ``r`` is ``v{(r + offset) % n}`` (default offset 1, so the
engine under test proposes in round ``n - 1``).  ``feed`` steps the engine
and answers its requests the way a node would: signatures through a real
:class:`~consensus.signer.Signer`, values from ``next_value``, validity from
``invalid`` (a set of value ids the node rejects) unless ``auto_validate``
is off.
"""

from __future__ import annotations

from consensus.engine import Engine
from consensus.events import (
    BroadcastProposal,
    BroadcastVote,
    Decide,
    EvidenceFound,
    GetValue,
    ProposalReceived,
    ProposalSigned,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    StartHeight,
    TimeoutFired,
    ValidateValue,
    ValueToPropose,
    ValueValidity,
    VoteReceived,
    VoteSigned,
    WalAppend,
)
from consensus.signer import DoubleSignError, Signer
from consensus.sim.disk import MemStorage
from consensus.timeouts import TimeoutConfig
from consensus.types import PRECOMMIT, PREVOTE, Proposal, ValidatorSet, Vote, value_id_of
from ledger.crypto import PrivateKey

CHAIN = "esoc-test"
TIMEOUTS = TimeoutConfig(propose_ms=3000, prevote_ms=1000, precommit_ms=1000, delta_ms=500, max_ms=10_000)


def block(name: str) -> bytes:
    return f"block-{name}".encode()


def vid(name: str) -> bytes:
    return value_id_of(block(name))


class Harness:
    def __init__(self, n: int = 4, me: int = 0, offset: int = 1, powers: list[int] | None = None,
                 observer: bool = False, storage: MemStorage | None = None):
        self.n = n
        self.keys = [PrivateKey.from_name(f"t{i}", salt="consensus-tests") for i in range(n + 1)]
        powers = powers or [1] * n
        self.valset = ValidatorSet.from_powers([(self.keys[i].public, powers[i]) for i in range(n)])
        self.me = me
        self.offset = offset
        addr = self.keys[n].public if observer else self.keys[me].public
        self.engine = Engine(CHAIN, addr, TIMEOUTS, proposer_fn=self.proposer)
        self.storage = storage or MemStorage()
        self.signer = Signer(self.keys[me], CHAIN, self.storage)
        self.invalid: set[bytes] = set()
        self.auto_validate = True
        self.next_value = block("mine")
        self.log: list = []  # every effect, in order
        self.wal: list = []  # the WalAppend'ed events
        self.refused = 0
        self.pending_validation: list[ValidateValue] = []

    def pk(self, i: int) -> bytes:
        return self.keys[i].public

    def proposer(self, h: int, r: int) -> bytes:
        return self.keys[(r + self.offset) % self.n].public

    # -- driving ---------------------------------------------------------

    def feed(self, event) -> list:
        out: list = []
        self._run(self.engine.step(event), out)
        return out

    def _run(self, effects: list, out: list) -> None:
        for eff in effects:
            out.append(eff)
            self.log.append(eff)
            if isinstance(eff, WalAppend):
                self.wal.append(eff.event)
            elif isinstance(eff, SignVote):
                try:
                    signed = self.signer.sign_vote(eff.vote)
                except DoubleSignError:
                    self.refused += 1
                    continue
                self._run(self.engine.step(VoteSigned(signed)), out)
            elif isinstance(eff, SignProposal):
                try:
                    signed = self.signer.sign_proposal(eff.proposal)
                except DoubleSignError:
                    self.refused += 1
                    continue
                self._run(self.engine.step(ProposalSigned(signed)), out)
            elif isinstance(eff, GetValue):
                self._run(self.engine.step(ValueToPropose(eff.height, eff.round, self.next_value)), out)
            elif isinstance(eff, ValidateValue):
                if self.auto_validate:
                    ok = eff.value_id not in self.invalid
                    self._run(self.engine.step(ValueValidity(eff.height, eff.value_id, ok)), out)
                else:
                    self.pending_validation.append(eff)

    def start(self, height: int = 1) -> list:
        return self.feed(StartHeight(height, self.valset))

    def timeout(self, step: int, r: int | None = None, h: int = 1) -> list:
        return self.feed(TimeoutFired(h, self.engine.round if r is None else r, step))

    # -- messages from the other validators ------------------------------

    def signed_vote(self, i: int, vote_type: int, r: int, value_id: bytes | None, h: int = 1) -> Vote:
        v = Vote(vote_type, h, r, value_id, self.pk(i))
        return v.with_signature(self.keys[i].sign("vote", CHAIN, v.sign_bytes()))

    def vote(self, i: int, vote_type: int, r: int, value_id: bytes | None, h: int = 1) -> list:
        return self.feed(VoteReceived(self.signed_vote(i, vote_type, r, value_id, h)))

    def votes(self, who: list[int], vote_type: int, r: int, value_id: bytes | None, h: int = 1) -> list:
        out: list = []
        for i in who:
            out += self.vote(i, vote_type, r, value_id, h)
        return out

    def signed_proposal(self, r: int, value: bytes, vr: int = -1, h: int = 1, by: int | None = None) -> Proposal:
        i = (r + self.offset) % self.n if by is None else by
        p = Proposal(h, r, value_id_of(value), vr, self.pk(i))
        return p.with_signature(self.keys[i].sign("proposal", CHAIN, p.sign_bytes()))

    def propose(self, r: int, value: bytes, vr: int = -1, h: int = 1, by: int | None = None) -> list:
        return self.feed(ProposalReceived(self.signed_proposal(r, value, vr, h, by), value))

    # -- reading effects -------------------------------------------------

    @staticmethod
    def votes_sent(effects: list, vote_type: int | None = None) -> list[Vote]:
        return [e.vote for e in effects if isinstance(e, BroadcastVote) and (vote_type is None or e.vote.type == vote_type)]

    @staticmethod
    def prevotes(effects: list) -> list[bytes | None]:
        return [v.value_id for v in Harness.votes_sent(effects, PREVOTE)]

    @staticmethod
    def precommits(effects: list) -> list[bytes | None]:
        return [v.value_id for v in Harness.votes_sent(effects, PRECOMMIT)]

    @staticmethod
    def proposals_sent(effects: list) -> list[Proposal]:
        return [e.proposal for e in effects if isinstance(e, BroadcastProposal)]

    @staticmethod
    def timeouts(effects: list) -> list[ScheduleTimeout]:
        return [e for e in effects if isinstance(e, ScheduleTimeout)]

    @staticmethod
    def decisions(effects: list) -> list[Decide]:
        return [e for e in effects if isinstance(e, Decide)]

    @staticmethod
    def evidence(effects: list) -> list:
        return [e.evidence for e in effects if isinstance(e, EvidenceFound)]
