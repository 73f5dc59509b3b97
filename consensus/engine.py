"""The Tendermint engine: Algorithm 1 of arXiv:1807.04938 as a sans-IO machine.

Theory of operation
-------------------
Two rules, as in h11: the engine never performs I/O, and it never waits.
``Engine.step(event)`` updates the state and returns the effects the node must
perform, in order.  Time enters only as ``TimeoutFired`` events, signatures
only as ``VoteSigned``/``ProposalSigned`` answers, validity only as
``ValueValidity`` answers.  Given the same events the engine returns the same
effects, which is what makes WAL replay and the simulator exact.

State per height is the paper's: ``height, round, step, lockedValue,
lockedRound, validValue, validRound`` plus the message log (the
:class:`~consensus.votekeeper.VoteKeeper` and the proposals received).
Values are identified by a 32-byte id; the engine keeps the bytes only to
re-propose and to hand to the node.

The rules live in :mod:`consensus.rules` (one method per line of the paper,
evaluated from ``Rules.RULES``); this module holds the state, the admission
of inputs and the event handlers.

Each input is handled in three phases:

1. *admission* -- drop what is stale, malformed, from a non-validator, or
   badly signed; buffer messages for the next height;
2. *logging* -- an admitted input is emitted as ``WalAppend(event, sync)``
   before any effect it causes (``sync`` for own signed messages and the
   proposer's own value, so they are on disk before they leave);
3. *rules* -- the guards of the paper are evaluated until none fires (a
   fixpoint); each rule below names its paper line.  ``# Lnn`` comments
   refer to malachite ``specs/consensus/pseudo-code.md``.

Decision (L49) and round skip (L55) look at every round of the height; the
other rules look at the current round only.  "For the first time" rules
(L34, L36, L47) remember the round they fired in.  ``(height, round, step)``
is checked never to go back (the attribute is ``round_step``: ``step`` is the method) (an ``AssertionError`` if it ever did).

Steps: ``STOPPED`` before the first ``StartHeight``, then ``PROPOSE``,
``PREVOTE``, ``PRECOMMIT`` as in the paper, and ``COMMIT`` after the decision
of the height until the node sends ``StartHeight(height + 1)`` (L52-54 are
split: the engine decides, the node stores the block and starts the next
height with its validator set).
"""

from __future__ import annotations

from typing import Callable

from ledger.crypto import verify

from .events import (
    BroadcastProposal,
    BroadcastVote,
    Decide,
    DecisionLearned,
    Effect,
    Event,
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
from .timeouts import TimeoutConfig
from .types import (
    PRECOMMIT,
    PREVOTE,
    PROPOSE,
    Commit,
    InvalidCommit,
    Proposal,
    ValidatorSet,
    Verifier,
    Vote,
    value_id_of,
    verify_commit,
)
from .rules import COMMIT, Rules
from .votekeeper import VoteKeeper

STOPPED = 0
STEP_LABELS = {STOPPED: "stopped", PROPOSE: "propose", PREVOTE: "prevote", PRECOMMIT: "precommit", COMMIT: "commit"}

ROUND_WINDOW = 16  # proposals are admitted for rounds current - 1 .. current + ROUND_WINDOW
MAX_PROPOSALS_PER_ROUND = 2  # one proposal, or one equivocation (more only if a quorum backs it)
MAX_FUTURE_PER_SENDER = 8  # next-height messages buffered per validator
MAX_FUTURE_PROPOSALS_PER_SENDER = 2  # of which proposals (they carry a value of up to 8 MiB)


class Engine(Rules):
    """One validator's (or observer's) consensus state machine.

    ``address`` is this node's validator public key, or ``None`` for a node
    that follows consensus without voting.  ``value_id`` maps value bytes to
    their 32-byte id (the block hash); proposals whose value does not hash to
    the announced id are dropped.  ``proposer_fn`` replaces the weighted
    round-robin (Twins tests only).
    """

    def __init__(
        self,
        chain_id: str,
        address: bytes | None,
        timeouts: TimeoutConfig | None = None,
        value_id: Callable[[bytes], bytes] = value_id_of,
        verifier: Verifier = verify,
        proposer_fn: Callable[[int, int], bytes] | None = None,
    ):
        self.chain_id = chain_id
        self.address = address
        self.timeouts = timeouts or TimeoutConfig()
        self.value_id = value_id
        self.verifier = verifier
        self.proposer_fn = proposer_fn
        self.height = 0
        self.round = 0
        self.round_step = STOPPED
        self.valset: ValidatorSet | None = None
        self._future: list[tuple[int, Event]] = []
        self._future_count: dict[bytes, tuple[int, int]] = {}
        self._out: list[Effect] = []
        self._replaying = False
        self._last_hrs = (0, 0, STOPPED)
        self._reset_height()

    def _reset_height(self) -> None:
        # L5-9 and "empty message log" of L53
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self.decision: Decide | None = None
        self.keeper: VoteKeeper | None = None
        self.proposals: dict[int, dict[bytes, Proposal]] = {}
        self.values: dict[bytes, bytes] = {}
        self.validity: dict[bytes, bool] = {}
        self._validation_requested: dict[bytes, tuple[int, bytes]] = {}
        self._fired: dict[tuple[str, int], None] = {}
        self._timeouts: dict[tuple[int, int], int] = {}
        self._pending_sign: dict[bytes, Proposal | Vote] = {}
        self._own: list[Proposal | Vote] = []
        self._awaiting_value: int | None = None

    # ------------------------------------------------------------------
    # public API
    # ------------------------------------------------------------------

    @property
    def hrs(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.round_step)

    def proposer(self, height: int, round: int) -> bytes:
        if self.proposer_fn is not None:
            return self.proposer_fn(height, round)
        assert self.valset is not None
        return self.valset.proposer(height, round)

    def step(self, event: Event) -> list[Effect]:
        """Feed one event; return the effects to perform, in order."""
        self._out = []
        handler = self._HANDLERS.get(type(event))
        if handler is None:
            raise TypeError(f"not a consensus event: {type(event).__name__}")
        handler(self, event)
        if self.round_step in (PROPOSE, PREVOTE, PRECOMMIT):
            self._run_rules()
        out, self._out = self._out, []
        return out

    def restore(self, events: list[Event]) -> list[Effect]:
        """Rebuild state from WAL events, then return the effects to resume.

        Replayed events are not logged again and their network, timer and
        request effects are dropped (they happened before the crash), except
        ``Decide`` and ``EvidenceFound``, which the node must handle
        idempotently.  The effects of :meth:`resume` follow.
        """
        kept: list[Effect] = []
        self._replaying = True
        try:
            for ev in events:
                for eff in self.step(ev):
                    if isinstance(eff, (Decide, EvidenceFound)):
                        kept.append(eff)
        finally:
            self._replaying = False
        return kept + self.resume()

    def resume(self) -> list[Effect]:
        """Effects that re-arm an engine restored from the WAL.

        Re-broadcast own signed messages of this height, re-ask every request
        that has no answer yet (signatures, the value to propose, validity),
        and re-schedule the timeouts of the current round that have not fired.
        """
        if self.round_step in (STOPPED, COMMIT):
            return []
        out: list[Effect] = []
        for m in self._own:
            if isinstance(m, Proposal) and m.value_id not in self.values:
                continue  # a pruned round's proposal: no rule needs it any more
            out.append(self._broadcast_effect(m))
        for m in self._pending_sign.values():
            out.append(SignProposal(m) if isinstance(m, Proposal) else SignVote(m))
        if self._awaiting_value is not None and self._awaiting_value == self.round and self.round_step == PROPOSE:
            out.append(GetValue(self.height, self.round))
        for vid, (r, value) in self._validation_requested.items():
            if vid not in self.validity:
                out.append(ValidateValue(self.height, r, vid, value))
        for (r, st), ms in self._timeouts.items():
            if r == self.round:
                out.append(ScheduleTimeout(self.height, r, st, ms))
        return out

    def gossip(self) -> list[Effect]:
        """Messages worth re-sending when the height makes no progress.

        The paper assumes gossip: what one correct process receives, all
        eventually receive.  A node that calls this on a slow timer (only
        when stuck) relays the proposals and votes that carry the height's
        progress: the current and previous round, the polka rounds behind
        the lock and the valid value, and rounds with a precommit quorum.
        """
        if self.round_step in (STOPPED, COMMIT) or self.keeper is None:
            return []
        rounds: list[int] = []
        for r in (self.round, self.round - 1, self.locked_round, self.valid_round, *self.keeper.precommit_quorum_rounds):
            if r >= 0 and r not in rounds:
                rounds.append(r)
        out: list[Effect] = []
        for r in rounds:
            for vid, p in self.proposals.get(r, {}).items():
                out.append(BroadcastProposal(p, self.values[vid]))
            for v in self.keeper.votes_of_round(r):
                out.append(BroadcastVote(v))
        return out

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------

    def _emit(self, eff: Effect) -> None:
        self._out.append(eff)

    def _log(self, event: Event, sync: bool = False) -> None:
        if not self._replaying:
            self._emit(WalAppend(event, sync))

    def _set_hrs(self, round: int, step: int) -> None:
        new = (self.height, round, step)
        assert new >= self._last_hrs, f"(height, round, step) went back from {self._last_hrs} to {new}"
        self.round, self.round_step = round, step
        self._last_hrs = new

    def _is_validator(self) -> bool:
        return self.address is not None and self.valset is not None and self.address in self.valset

    def _broadcast_effect(self, m: Proposal | Vote) -> Effect:
        if isinstance(m, Proposal):
            return BroadcastProposal(m, self.values[m.value_id])
        return BroadcastVote(m)

    def _schedule(self, step: int) -> None:
        ms = self.timeouts.duration(step, self.round)
        self._timeouts[(self.round, step)] = ms
        self._emit(ScheduleTimeout(self.height, self.round, step, ms))

    def _request_sign(self, m: Proposal | Vote) -> None:
        if not self._is_validator():
            return
        self._pending_sign[m.sign_bytes()] = m
        self._emit(SignProposal(m) if isinstance(m, Proposal) else SignVote(m))

    def _vote(self, vote_type: int, value_id: bytes | None) -> None:
        if self.address is not None:
            self._request_sign(Vote(vote_type, self.height, self.round, value_id, self.address))

    def _request_validation(self, round: int, vid: bytes) -> None:
        if vid in self.validity or vid in self._validation_requested:
            return
        value = self.values[vid]
        self._validation_requested[vid] = (round, value)
        self._emit(ValidateValue(self.height, round, vid, value))

    def _buffer_future(self, event: Event, height: int) -> None:
        """Keep a next-height message until ``StartHeight(height)`` (admission of fault 7).

        Only a signed message of a member of the current set (the next
        height's set is not known yet: a validator joining at ``h + 1`` has
        its early messages dropped, and peers re-gossip them), for a round
        inside the window, within its sender's quota.
        """
        if height != self.height + 1 or self.valset is None:
            return
        msg = event.proposal if isinstance(event, ProposalReceived) else event.vote  # type: ignore[attr-defined]
        sender = msg.signer_key()
        if sender not in self.valset or msg.round > ROUND_WINDOW:
            return
        n_all, n_prop = self._future_count.get(sender, (0, 0))
        is_prop = isinstance(event, ProposalReceived)
        if n_all >= MAX_FUTURE_PER_SENDER or (is_prop and n_prop >= MAX_FUTURE_PROPOSALS_PER_SENDER):
            return
        if not msg.verify(self.chain_id, self.verifier):
            return
        self._future_count[sender] = (n_all + 1, n_prop + int(is_prop))
        self._future.append((height, event))

    # ------------------------------------------------------------------
    # StartRound (L11-21)
    # ------------------------------------------------------------------

    def _start_round(self, r: int) -> None:
        self._set_hrs(r, PROPOSE)  # L12-13
        self._awaiting_value = None
        assert self.keeper is not None
        self.keeper.set_round(r)
        self._prune_proposals()
        if self._is_validator() and self.proposer(self.height, r) == self.address:  # L14
            if self.valid_value is not None:  # L15
                self._propose(self.valid_value, self.valid_round)  # L16, L19
            else:
                self._awaiting_value = r  # L18: getValue(), answered by ValueToPropose
                self._emit(GetValue(self.height, r))
        else:
            self._schedule(PROPOSE)  # L21

    def _propose(self, vid: bytes, vr: int) -> None:
        assert self.address is not None
        self._request_sign(Proposal(self.height, self.round, vid, vr, self.address))  # L19

    # ------------------------------------------------------------------
    # event handlers: admission, logging, bookkeeping
    # ------------------------------------------------------------------

    def _on_start_height(self, ev: StartHeight) -> None:
        if self.round_step != STOPPED and ev.height <= self.height:
            return
        self._log(ev)
        future, self._future = self._future, []
        self._future_count = {}
        self.height = ev.height
        self.valset = ev.valset
        self._reset_height()
        self.keeper = VoteKeeper(ev.height, ev.valset)
        self._start_round(0)  # L10
        for h, fev in future:
            if h == self.height:
                self._HANDLERS[type(fev)](self, fev)

    def _on_value_to_propose(self, ev: ValueToPropose) -> None:
        if not (
            ev.height == self.height
            and ev.round == self.round
            and self.round_step == PROPOSE
            and self._awaiting_value == ev.round
        ):
            return
        self._log(ev, sync=True)
        self._awaiting_value = None
        vid = self.value_id(ev.value)
        self.values[vid] = ev.value
        self.validity[vid] = True  # our own block: built valid by the node
        self._propose(vid, -1)  # L18-19

    def _on_proposal_signed(self, ev: ProposalSigned) -> None:
        p = ev.proposal
        if self._pending_sign.pop(p.sign_bytes(), None) is None:
            return
        self._log(ev, sync=True)
        self._own.append(p)
        self._emit(BroadcastProposal(p, self.values[p.value_id]))
        self._store_proposal(p)

    def _on_vote_signed(self, ev: VoteSigned) -> None:
        v = ev.vote
        if self._pending_sign.pop(v.sign_bytes(), None) is None:
            return
        self._log(ev, sync=True)
        self._own.append(v)
        self._emit(BroadcastVote(v))
        self._count_vote(v)

    def _on_proposal(self, ev: ProposalReceived) -> None:
        p = ev.proposal
        if p.height != self.height or self.round_step in (STOPPED, COMMIT):
            self._buffer_future(ev, p.height)
            return
        if not self._proposal_admissible(p):
            return
        if not p.verify(self.chain_id, self.verifier):  # before hashing the value: junk costs a check, no more
            return
        if p.proposer != self.proposer(self.height, p.round):  # bounded: the round is inside the window
            return
        if self.value_id(ev.value) != p.value_id:
            return
        self._log(ev)
        self.values.setdefault(p.value_id, ev.value)
        self._store_proposal(p)

    def _proposal_admissible(self, p: Proposal) -> bool:
        """Cheap checks before any signature or hash (faults 1 and 5 of issue 14).

        A member of the set; a round from ``round - 1`` to ``round +
        ROUND_WINDOW`` (so the proposer election it needs is bounded), at
        most ``MAX_PROPOSALS_PER_ROUND`` per round -- except a proposal whose
        value a quorum of the round voted for, which L49 (any round) or a
        polka may need, and which no f validators can fabricate.
        """
        assert self.valset is not None and self.keeper is not None
        if p.proposer not in self.valset or p.round > self.round + ROUND_WINDOW:
            return False
        by_round = self.proposals.get(p.round, {})
        if p.value_id in by_round:
            return False
        if p.round >= self.round - 1 and len(by_round) < MAX_PROPOSALS_PER_ROUND:
            return True
        k = self.keeper
        return k.precommit_quorum_rounds.get(p.round) == p.value_id or k.has_quorum_for(p.round, PREVOTE, p.value_id)

    def _store_proposal(self, p: Proposal) -> None:
        # validation is lazy: a rule that needs valid(v) asks for it (_validity)
        self.proposals.setdefault(p.round, {})[p.value_id] = p
        assert self.keeper is not None
        self.keeper.want(p.value_id)

    def _prune_proposals(self) -> None:
        """Forget proposals no rule can use any more (bounds memory across rounds).

        Kept: rounds from ``round - 1`` on, the rounds of the lock and the
        valid value, and rounds where a quorum voted for the proposal's value.
        """
        k = self.keeper
        assert k is not None
        keep_rounds = (self.locked_round, self.valid_round)
        for r in [r for r in self.proposals if r < self.round - 1 and r not in keep_rounds]:
            by_round = self.proposals[r]
            for vid in [vid for vid in by_round if not (
                k.precommit_quorum_rounds.get(r) == vid or k.has_quorum_for(r, PREVOTE, vid)
            )]:
                del by_round[vid]
            if not by_round:
                del self.proposals[r]
        used = {vid for by_round in self.proposals.values() for vid in by_round}
        for vid in [vid for vid in self.values if vid not in used and vid not in (self.locked_value, self.valid_value)]:
            del self.values[vid]
            self._validation_requested.pop(vid, None)

    def _on_vote(self, ev: VoteReceived) -> None:
        v = ev.vote
        if v.height != self.height or self.round_step in (STOPPED, COMMIT):
            self._buffer_future(ev, v.height)
            return
        assert self.keeper is not None
        if not self.keeper.admissible(v):  # membership, duplicates, equivocation cap, future quota
            return
        if not v.verify(self.chain_id, self.verifier):
            return
        self._log(ev)
        self._count_vote(v)

    def _count_vote(self, v: Vote) -> None:
        assert self.keeper is not None
        _, evidence = self.keeper.add(v)
        if evidence is not None:
            self._emit(EvidenceFound(evidence))

    def _on_validity(self, ev: ValueValidity) -> None:
        if ev.height != self.height or self.round_step in (STOPPED, COMMIT) or ev.value_id in self.validity:
            return
        if ev.value_id not in self._validation_requested:
            return
        self._log(ev)
        self.validity[ev.value_id] = ev.valid

    def _on_decision(self, ev: DecisionLearned) -> None:
        if ev.height != self.height or self.round_step in (STOPPED, COMMIT):
            return
        assert self.valset is not None
        vid = self.value_id(ev.value)
        try:
            verify_commit(self.valset, self.chain_id, self.height, vid, ev.commit, self.verifier)
        except InvalidCommit:
            return
        self._log(ev)
        self._decide(ev.commit.round, vid, ev.value, ev.commit)

    def _on_timeout(self, ev: TimeoutFired) -> None:
        if ev.height != self.height or ev.round != self.round:
            return
        self._timeouts.pop((ev.round, ev.step), None)
        if ev.step == PROPOSE and self.round_step == PROPOSE:
            # L57-60 OnTimeoutPropose (the paper's line 58 reads "step = propose")
            self._log(ev)
            self._vote(PREVOTE, None)  # L59
            self._set_hrs(self.round, PREVOTE)  # L60
        elif ev.step == PREVOTE and self.round_step == PREVOTE:
            # L61-64 OnTimeoutPrevote
            self._log(ev)
            self._vote(PRECOMMIT, None)  # L63
            self._set_hrs(self.round, PRECOMMIT)  # L64
        elif ev.step == PRECOMMIT and self.round_step in (PROPOSE, PREVOTE, PRECOMMIT):
            # L65-67 OnTimeoutPrecommit
            self._log(ev)
            self._start_round(self.round + 1)  # L67

    _HANDLERS: dict = {}

Engine._HANDLERS = {
    StartHeight: Engine._on_start_height,
    ProposalReceived: Engine._on_proposal,
    VoteReceived: Engine._on_vote,
    TimeoutFired: Engine._on_timeout,
    ValueValidity: Engine._on_validity,
    ValueToPropose: Engine._on_value_to_propose,
    ProposalSigned: Engine._on_proposal_signed,
    VoteSigned: Engine._on_vote_signed,
    DecisionLearned: Engine._on_decision,
}
