"""The messages nodes exchange over a secure channel.

Each message is a :class:`ledger.codec.Record` encoded as one canonical map
with a ``type`` tag next to its fields::

    {"type": "vote", "vote": <bytes>}

Decoding is strict: the bytes must be canonical, the tag must name a known
type, and the fields must be exactly that type's fields.  Where the payload
is another module's object (a transaction, a consensus vote, a block), it is
carried as that object's canonical bytes and left to its owner to decode:
this module knows the envelope, not the contents.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.codec import Bytes, CodecError, List, Opt, Record, UInt, decode
from ledger.block import MAX_BLOCK_TXS
from ledger.crypto import HASH_SIZE

from .secure import DEFAULT_MAX_MESSAGE_SIZE

__all__ = [
    "P2PMessage",
    "TxMsg",
    "TxsMsg",
    "TxsSentMsg",
    "ProposalMsg",
    "VoteMsg",
    "EvidenceMsg",
    "BlockRequest",
    "BlockResponse",
    "StatusMsg",
    "CompactProposalMsg",
    "TxFetchRequest",
    "TxFetchResponse",
    "FETCH_MAX_TXS",
    "FETCH_MAX_BYTES",
    "MESSAGE_TYPES",
    "decode_message",
]

_BIG = DEFAULT_MAX_MESSAGE_SIZE  # a block or a proposal fills at most one frame
_SMALL = 1 << 20  # a transaction, a vote, a piece of evidence
_TX = 64 * 1024  # one transaction in a block (ledger/block.py's bound)
FETCH_MAX_TXS = 4096  # transactions asked for in one tx_fetch (compact blocks)
FETCH_MAX_BYTES = 2 * 1024 * 1024  # bytes of transactions in one tx_fetched answer


class P2PMessage(Record):
    """Base of the typed messages; ``TYPE`` is the wire tag."""

    TYPE: ClassVar[str] = ""

    def to_obj(self) -> dict:
        obj = super().to_obj()
        obj["type"] = self.TYPE
        return obj

    @classmethod
    def from_obj(cls, obj: Any, where: str | None = None):
        if cls is P2PMessage:
            return _from_envelope(obj)
        msg = _from_envelope(obj)
        if not isinstance(msg, cls):
            raise CodecError(f"expected a {cls.TYPE!r} message, got {msg.TYPE!r}")
        return msg

    @classmethod
    def _fields_from_obj(cls, obj: dict):
        return Record.from_obj.__func__(cls, obj, cls.__name__)


@dataclass(frozen=True)
class TxMsg(P2PMessage):
    """A transaction for the mempool (its canonical signed encoding)."""

    TYPE = "tx"
    SCHEMA = {"tx": Bytes(max_size=_SMALL)}
    tx: bytes


@dataclass(frozen=True)
class TxsMsg(P2PMessage):
    """Several transactions at once (gossip at high rates)."""

    TYPE = "txs"
    SCHEMA = {"txs": List(Bytes(max_size=_SMALL), max_len=10_000)}
    txs: tuple


SENT_TO_MAX = 256  # peers a relayed batch names as sent to (more are simply not named: they may get it twice)


@dataclass(frozen=True)
class TxsSentMsg(P2PMessage):
    """Several transactions, and the nodes known to have them: the sender, the peers it sends this
    batch to, and those it knew had them.  A receiver relays them only to its peers not named, so in a
    full mesh a transaction crosses each link once (its origin sends it to all) instead of coming
    back as echoes; where peers are not all connected, those the sender could not reach still get it."""

    TYPE = "txs_sent"
    SCHEMA = {"txs": List(Bytes(max_size=_SMALL), max_len=10_000),
              "sent_to": List(Bytes(size=32), max_len=SENT_TO_MAX)}
    txs: tuple
    sent_to: tuple


@dataclass(frozen=True)
class ProposalMsg(P2PMessage):
    """A consensus proposal and the block it proposes."""

    TYPE = "proposal"
    SCHEMA = {"proposal": Bytes(max_size=_SMALL), "block": Bytes(max_size=_BIG)}
    proposal: bytes
    block: bytes


@dataclass(frozen=True)
class VoteMsg(P2PMessage):
    """A prevote or precommit (the canonical encoding of a consensus vote)."""

    TYPE = "vote"
    SCHEMA = {"vote": Bytes(max_size=_SMALL)}
    vote: bytes


@dataclass(frozen=True)
class EvidenceMsg(P2PMessage):
    """Evidence of misbehaviour (e.g. two conflicting signed votes)."""

    TYPE = "evidence"
    SCHEMA = {"evidence": Bytes(max_size=_SMALL)}
    evidence: bytes


@dataclass(frozen=True)
class BlockRequest(P2PMessage):
    """Block sync: please send the block at ``height`` and its commit."""

    TYPE = "block_request"
    SCHEMA = {"height": UInt()}
    height: int


@dataclass(frozen=True)
class BlockResponse(P2PMessage):
    """Block sync: the block at ``height`` and its commit, or both None if we lack it."""

    TYPE = "block_response"
    SCHEMA = {
        "height": UInt(),
        "block": Opt(Bytes(max_size=_BIG)),
        "commit": Opt(Bytes(max_size=_SMALL)),
    }
    height: int
    block: bytes | None
    commit: bytes | None


@dataclass(frozen=True)
class StatusMsg(P2PMessage):
    """Where a node is: its latest committed height and that block's hash."""

    TYPE = "status"
    SCHEMA = {"height": UInt(), "block_hash": Bytes(size=HASH_SIZE)}
    height: int
    block_hash: bytes


@dataclass(frozen=True)
class CompactProposalMsg(P2PMessage):
    """A consensus proposal and its block named, not carried (compact blocks, docs/p2p.md).

    ``shell`` is the block's canonical encoding with an empty transaction list
    (header, evidence, last commit); ``tx_hashes`` are the block's transactions'
    hashes in block order.  The receiver rebuilds the block from its mempool and
    fetches what it lacks with :class:`TxFetchRequest`; the rebuilt block's hash
    and transactions root are checked as any proposed block's are.
    """

    TYPE = "compact_proposal"
    SCHEMA = {
        "proposal": Bytes(max_size=_SMALL),
        "shell": Bytes(max_size=_BIG),
        "tx_hashes": List(Bytes(size=HASH_SIZE), max_len=MAX_BLOCK_TXS),
    }
    proposal: bytes
    shell: bytes
    tx_hashes: tuple


@dataclass(frozen=True)
class TxFetchRequest(P2PMessage):
    """Compact blocks: please send these transactions of the proposed block ``value_id``."""

    TYPE = "tx_fetch"
    SCHEMA = {"value_id": Bytes(size=HASH_SIZE), "tx_hashes": List(Bytes(size=HASH_SIZE), max_len=FETCH_MAX_TXS)}
    value_id: bytes
    tx_hashes: tuple


@dataclass(frozen=True)
class TxFetchResponse(P2PMessage):
    """Compact blocks: the asked transactions the sender holds (at most ``FETCH_MAX_BYTES`` of them)."""

    TYPE = "tx_fetched"
    SCHEMA = {"value_id": Bytes(size=HASH_SIZE), "txs": List(Bytes(max_size=_TX), max_len=FETCH_MAX_TXS)}
    value_id: bytes
    txs: tuple


MESSAGE_TYPES: dict[str, type[P2PMessage]] = {
    cls.TYPE: cls
    for cls in (TxMsg, TxsMsg, TxsSentMsg, ProposalMsg, VoteMsg, EvidenceMsg, BlockRequest, BlockResponse, StatusMsg,
                CompactProposalMsg, TxFetchRequest, TxFetchResponse)
}


def _from_envelope(obj: Any) -> P2PMessage:
    if type(obj) is not dict:
        raise CodecError("message: expected a map")
    tag = obj.get("type")
    if type(tag) is not str:
        raise CodecError("message: missing or non-string 'type'")
    cls = MESSAGE_TYPES.get(tag)
    if cls is None:
        raise CodecError(f"message: unknown type {tag[:32]!r}")
    fields = {k: v for k, v in obj.items() if k != "type"}
    return cls._fields_from_obj(fields)


def decode_message(data: bytes, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> P2PMessage:
    """Strictly decode one message of any known type; :class:`CodecError` otherwise."""
    return _from_envelope(decode(data, max_size))
