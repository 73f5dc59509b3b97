"""The engine's inputs (events) and outputs (effects).

Theory of operation
-------------------
The engine is ``Engine.step(event) -> list[Effect]``.  Events are what the
node tells the engine: messages that arrived, timers that fired, and answers
to the engine's requests.  Effects are what the engine asks the node to do,
in order.  The engine never waits: a request (``GetValue``,
``ValidateValue``, ``SignVote``, ``SignProposal``) is answered later by an
event (``ValueToPropose``, ``ValueValidity``, ``VoteSigned``,
``ProposalSigned``), and other events may come in between.

Events are :class:`ledger.codec.Record` objects, because the write-ahead log
stores them (``WalAppend(event, sync)``): a restarted engine is rebuilt by
stepping the logged events again.  Effects are plain frozen dataclasses.

Request/answer pairs::

    GetValue(h, r)                -> ValueToPropose(h, r, value)
    ValidateValue(h, r, id, v)    -> ValueValidity(h, id, valid)
    SignProposal(p)               -> ProposalSigned(p with signature)
    SignVote(v)                   -> VoteSigned(v with signature)
"""

from __future__ import annotations

import dataclasses

from ledger.codec import Bool, Bytes, Nested, Record, UInt
from ledger.crypto import HASH_SIZE

from .types import Commit, Evidence, Proposal, ValidatorSet, Vote

MAX_VALUE_SIZE = 8 * 1024 * 1024


# ---------------------------------------------------------------------------
# Events (inputs)
# ---------------------------------------------------------------------------


class Event(Record):
    KIND = ""


@dataclasses.dataclass(frozen=True)
class StartHeight(Event):
    """Begin consensus for ``height`` with that height's validator set (L10)."""

    KIND = "start_height"
    SCHEMA = {"height": UInt(), "valset": Nested(ValidatorSet)}
    height: int
    valset: ValidatorSet


@dataclasses.dataclass(frozen=True)
class ProposalReceived(Event):
    """A signed proposal and its value bytes, from the network."""

    KIND = "proposal"
    SCHEMA = {"proposal": Nested(Proposal), "value": Bytes(max_size=MAX_VALUE_SIZE)}
    proposal: Proposal
    value: bytes


@dataclasses.dataclass(frozen=True)
class VoteReceived(Event):
    """A signed prevote or precommit, from the network."""

    KIND = "vote"
    SCHEMA = {"vote": Nested(Vote)}
    vote: Vote


@dataclasses.dataclass(frozen=True)
class TimeoutFired(Event):
    """A timer set by ``ScheduleTimeout(height, round, step, _)`` expired."""

    KIND = "timeout"
    SCHEMA = {"height": UInt(), "round": UInt(2**31), "step": UInt(3)}
    height: int
    round: int
    step: int


@dataclasses.dataclass(frozen=True)
class ValueValidity(Event):
    """The node's verdict on a value it was asked to validate."""

    KIND = "validity"
    SCHEMA = {"height": UInt(), "value_id": Bytes(HASH_SIZE), "valid": Bool()}
    height: int
    value_id: bytes
    valid: bool


@dataclasses.dataclass(frozen=True)
class ValueToPropose(Event):
    """The node's answer to ``GetValue``: a block to propose."""

    KIND = "value_to_propose"
    SCHEMA = {"height": UInt(), "round": UInt(2**31), "value": Bytes(max_size=MAX_VALUE_SIZE)}
    height: int
    round: int
    value: bytes


@dataclasses.dataclass(frozen=True)
class ProposalSigned(Event):
    """The signer's answer to ``SignProposal``."""

    KIND = "proposal_signed"
    SCHEMA = {"proposal": Nested(Proposal)}
    proposal: Proposal


@dataclasses.dataclass(frozen=True)
class VoteSigned(Event):
    """The signer's answer to ``SignVote``."""

    KIND = "vote_signed"
    SCHEMA = {"vote": Nested(Vote)}
    vote: Vote


@dataclasses.dataclass(frozen=True)
class DecisionLearned(Event):
    """A block and its commit for the current height, learned from sync."""

    KIND = "decision"
    SCHEMA = {"height": UInt(), "value": Bytes(max_size=MAX_VALUE_SIZE), "commit": Nested(Commit)}
    height: int
    value: bytes
    commit: Commit


EVENT_KINDS: dict[str, type[Event]] = {
    cls.KIND: cls
    for cls in (
        StartHeight,
        ProposalReceived,
        VoteReceived,
        TimeoutFired,
        ValueValidity,
        ValueToPropose,
        ProposalSigned,
        VoteSigned,
        DecisionLearned,
    )
}


# ---------------------------------------------------------------------------
# Effects (outputs)
# ---------------------------------------------------------------------------


class Effect:
    __slots__ = ()


@dataclasses.dataclass(frozen=True)
class WalAppend(Effect):
    """Append ``event`` to the WAL; fsync before the next effect if ``sync``."""

    event: Event
    sync: bool


@dataclasses.dataclass(frozen=True)
class BroadcastProposal(Effect):
    proposal: Proposal
    value: bytes


@dataclasses.dataclass(frozen=True)
class BroadcastVote(Effect):
    vote: Vote


@dataclasses.dataclass(frozen=True)
class ScheduleTimeout(Effect):
    """After ``duration_ms``, step ``TimeoutFired(height, round, step)``."""

    height: int
    round: int
    step: int
    duration_ms: int


@dataclasses.dataclass(frozen=True)
class GetValue(Effect):
    """This node proposes at (height, round): build a block, answer ``ValueToPropose``."""

    height: int
    round: int


@dataclasses.dataclass(frozen=True)
class ValidateValue(Effect):
    """Execute/check ``value``; answer ``ValueValidity(height, value_id, ok)``."""

    height: int
    round: int
    value_id: bytes
    value: bytes


@dataclasses.dataclass(frozen=True)
class SignProposal(Effect):
    proposal: Proposal


@dataclasses.dataclass(frozen=True)
class SignVote(Effect):
    vote: Vote


@dataclasses.dataclass(frozen=True)
class Decide(Effect):
    """``value`` is decided at ``height``; store it with ``commit``, then StartHeight(height + 1)."""

    height: int
    round: int
    value_id: bytes
    value: bytes
    commit: Commit


@dataclasses.dataclass(frozen=True)
class EvidenceFound(Effect):
    """A validator signed two conflicting votes: gossip and include in a block."""

    evidence: Evidence
