"""Peer-to-peer transport: authenticated, encrypted channels between known nodes.

The pieces, from the bytes up (docs/p2p.md tells the whole story):

- :mod:`.framing` - length-prefixed frames with a cap checked before allocation;
- :mod:`.secure` - :class:`SecureChannel`, the sans-IO handshake and encrypted frames;
- :mod:`.messages` - the typed messages nodes exchange (strictly decoded);
- :mod:`.gossip` - who is known to have which message, and per-peer rate limits;
- :mod:`.config` - :class:`P2PConfig`, :class:`PeerAddress`, the backoff schedule;
- :mod:`.connection` - one connection's state: its bounded outbox, why it ended;
- :mod:`.dialer` - the configured addresses, dialed and redialed with backoff;
- :mod:`.transport` - the trio shell: :func:`serve_p2p` and :class:`PeerManager`.
"""

from __future__ import annotations

from typing import Iterable

from .gossip import PeerKnowledge, RateLimiter, TokenBucket, message_id
from .messages import (
    MESSAGE_TYPES,
    BlockRequest,
    BlockResponse,
    CompactProposalMsg,
    EvidenceMsg,
    FETCH_MAX_BYTES,
    FETCH_MAX_TXS,
    P2PMessage,
    ProposalMsg,
    StatusMsg,
    TxFetchRequest,
    TxFetchResponse,
    TxMsg,
    TxsMsg,
    TxsSentMsg,
    VoteMsg,
    decode_message,
)
from .secure import (
    DEFAULT_MAX_MESSAGE_SIZE,
    PROTOCOL,
    PROTOCOL_VERSION,
    ConnectionClosed,
    HandshakeDone,
    LocalProtocolError,
    Message,
    ProtocolError,
    SecureChannel,
    State,
)
from .transport import (
    P2PConfig,
    P2PStatistics,
    PeerAddress,
    PeerInfo,
    PeerManager,
    PeerMisbehaved,
    backoff_delay,
    serve_p2p,
)


class AllowList:
    """The permissioned-mode ``authorize`` callback: validators ∪ operator allow-list.

    ``validators`` is re-read on every call when it is a callable, so a
    validator-set change decided on chain takes effect for new connections
    without restarting the transport::

        authorize = AllowList(lambda: app.validator_keys(), extra=config.allowed_peers)
    """

    def __init__(self, validators=(), extra: Iterable[bytes] = ()):
        self._validators = validators
        self.extra = frozenset(bytes(k) for k in extra)

    def __call__(self, pubkey: bytes) -> bool:
        if pubkey in self.extra:
            return True
        validators = self._validators() if callable(self._validators) else self._validators
        return pubkey in set(validators)


__all__ = [
    "AllowList",
    "BlockRequest",
    "BlockResponse",
    "CompactProposalMsg",
    "FETCH_MAX_BYTES",
    "FETCH_MAX_TXS",
    "TxFetchRequest",
    "TxFetchResponse",
    "ConnectionClosed",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "EvidenceMsg",
    "HandshakeDone",
    "LocalProtocolError",
    "MESSAGE_TYPES",
    "Message",
    "P2PConfig",
    "P2PMessage",
    "P2PStatistics",
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "PeerAddress",
    "PeerInfo",
    "PeerKnowledge",
    "PeerManager",
    "PeerMisbehaved",
    "ProposalMsg",
    "ProtocolError",
    "RateLimiter",
    "SecureChannel",
    "State",
    "StatusMsg",
    "TokenBucket",
    "TxMsg",
    "TxsMsg",
    "TxsSentMsg",
    "VoteMsg",
    "backoff_delay",
    "decode_message",
    "message_id",
    "serve_p2p",
]
