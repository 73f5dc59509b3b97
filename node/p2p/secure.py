"""The secure channel between two nodes: a sans-IO protocol object.

Theory of operation
-------------------
Two rules, borrowed from h11: this module never touches a socket or a clock,
and everything that moves the channel from one state to the next is in
:meth:`SecureChannel._on_frame`.  Bytes go in with :meth:`receive_data`,
which returns events; bytes to write come out of :meth:`data_to_send` and
:meth:`send`.

The handshake is Station-to-Station, the shape of Tendermint's
SecretConnection (docs/p2p.md has the diagram)::

    initiator                                    responder
    Hello{proto, version, chain_id, eph_i}  -->
                                            <--  Hello{proto, version, chain_id, eph_r}
      (both: check chain id and version; X25519(eph_i, eph_r) -> shared secret;
       transcript = H(hello_i, hello_r); one AEAD key for each direction)
    [Auth{node_key_i, sig_i(transcript)}]   -->
                                            <--  [Auth{node_key_r, sig_r(transcript)}]
    [Msg] ...                               <->  [Msg] ...

``[...]`` is encrypted.  Both Hellos are sent at once (neither waits for
the other), so the handshake takes one round trip.  Each signature is made
with the node's static Ed25519 key in the ``p2p-handshake`` domain over the
chain id, the protocol version, the signer's role, the transcript hash and
the signer's static key; the transcript hash covers both Hellos, so both
ephemeral keys, both chain ids and both versions.  A signature therefore
proves possession of the static key *in this session*: it cannot be
replayed into another one, nor reflected back with the other role.

Frames
------
Every frame is a 4-byte big-endian length and a body (:mod:`.framing`).  The
cap is :data:`HANDSHAKE_MAX_FRAME` until the handshake is done and
``max_message_size`` plus the encryption overhead afterwards; an oversize
prefix is refused before its body is buffered.  An encrypted body is::

    counter (8 bytes, big-endian) || XChaCha20-Poly1305(kind || payload)

with the counter as the associated data and as the nonce.  Each direction
has its own key and counter, starting at 0.  A frame whose counter is not
the next expected one, yet authenticates under the counter it claims, is
a replay (lower) or a reordering / drop (higher); a frame whose tag does
not verify has been tampered with (or belongs to another session).  Any of these ends the channel: there is no resync.

Errors
------
Anything wrong that the peer sent becomes a :class:`ProtocolError` event
and moves the channel to ``ERROR``; later input is ignored.  When session
keys exist, a goodbye frame carrying the reason is queued in
:meth:`data_to_send`, so an honest peer refused (say, for not being on the
allow-list) learns why.  Misuse by our own caller raises
:class:`LocalProtocolError`.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Callable

import nacl.bindings as sodium
import nacl.exceptions
import nacl.utils

from ledger.codec import Bytes, CodecError, Record, Str, UInt, encode
from ledger.crypto import PrivateKey, consteq, tagged_hash, verify

from .framing import FrameDecoder, FrameTooLarge, frame

__all__ = [
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "HANDSHAKE_MAX_FRAME",
    "SELF_CONNECTION",
    "FRAME_OVERHEAD",
    "Event",
    "HandshakeDone",
    "Message",
    "ProtocolError",
    "ConnectionClosed",
    "LocalProtocolError",
    "State",
    "SecureChannel",
]

PROTOCOL = "esoc-p2p"
PROTOCOL_VERSION = 1
DEFAULT_MAX_MESSAGE_SIZE = 4 * 1024 * 1024
SELF_CONNECTION = "connected to ourselves"  # the reason, when we dialed our own address
HANDSHAKE_MAX_FRAME = 512  # a Hello is ~90 bytes, an encrypted Auth ~140

_COUNTER = struct.Struct(">Q")
_TAG_SIZE = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES
_NONCE_PAD = b"\x00" * (sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES - _COUNTER.size)
FRAME_OVERHEAD = _COUNTER.size + 1 + _TAG_SIZE  # counter, kind byte, Poly1305 tag

# Kinds of encrypted frame (the first plaintext byte).
_AUTH = 0
_MSG = 1
_CLOSE = 2
_PING = 3  # keep-alive: no payload, no event

_ROLE = {True: "initiator", False: "responder"}


# --------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------


class Event:
    """Base of what :meth:`SecureChannel.receive_data` returns."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class HandshakeDone(Event):
    """The peer proved it holds ``peer_pubkey`` and is authorized."""

    peer_pubkey: bytes


@dataclass(frozen=True, slots=True)
class Message(Event):
    """One application message, authenticated and in order."""

    data: bytes


@dataclass(frozen=True, slots=True)
class ProtocolError(Event):
    """The peer broke the protocol or was refused; the channel is dead."""

    reason: str


@dataclass(frozen=True, slots=True)
class ConnectionClosed(Event):
    """The peer said goodbye (``reason`` is its stated reason) or hung up."""

    reason: str


class _Refuse(Exception):
    """Internal: the peer's input is refused with this reason."""


class LocalProtocolError(RuntimeError):
    """Our own caller misused the channel (e.g. sent before the handshake)."""


class State(enum.Enum):
    AWAIT_HELLO = "await-hello"  # our Hello is queued; waiting for theirs
    AWAIT_AUTH = "await-auth"  # keys derived, our Auth queued; waiting for theirs
    OPEN = "open"
    CLOSED = "closed"  # goodbye sent or received, or EOF
    ERROR = "error"


# --------------------------------------------------------------------------
# Handshake records
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Hello(Record):
    SCHEMA = {
        "proto": Str(max_len=32),
        "version": UInt(),
        "chain_id": Str(max_len=64),
        "eph": Bytes(size=32),
    }
    proto: str
    version: int
    chain_id: str
    eph: bytes


@dataclass(frozen=True)
class Auth(Record):
    SCHEMA = {"node_key": Bytes(size=32), "sig": Bytes(size=64)}
    node_key: bytes
    sig: bytes


def auth_payload(role: str, transcript: bytes, node_key: bytes) -> bytes:
    """What a node signs (in the ``p2p-handshake`` domain, under its chain id)."""
    return encode([PROTOCOL, PROTOCOL_VERSION, role, transcript, node_key])


def _short(key: bytes) -> str:
    return key.hex()[:16]


# --------------------------------------------------------------------------
# The channel
# --------------------------------------------------------------------------


class SecureChannel:
    """One end of an authenticated, encrypted channel.

    Parameters
    ----------
    node_key:
        This node's static Ed25519 key.
    chain_id:
        Both ends must agree on it.
    initiator:
        True on the side that dialed.  It fixes which key encrypts which
        direction and the role each signature names.
    authorize:
        ``authorize(peer_pubkey) -> bool``, asked once the peer has proved
        its key.  False refuses the peer.
    expected_peer:
        When dialing an address known to belong to one key, any other key is
        refused.
    max_message_size:
        The largest application message either way (default 4 MiB).
    ephemeral_secret:
        For tests only: a fixed X25519 secret instead of a fresh random one.
    """

    def __init__(
        self,
        node_key: PrivateKey,
        chain_id: str,
        *,
        initiator: bool,
        authorize: Callable[[bytes], bool],
        expected_peer: bytes | None = None,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        ephemeral_secret: bytes | None = None,
    ):
        if max_message_size < 1:
            raise ValueError("max_message_size must be positive")
        self._node_key = node_key
        self.chain_id = chain_id
        self.initiator = initiator
        self._authorize = authorize
        self._expected_peer = expected_peer
        self.max_message_size = max_message_size

        self.state = State.AWAIT_HELLO
        self.peer_pubkey: bytes | None = None
        self.error: str | None = None

        self._eph_sk = ephemeral_secret if ephemeral_secret is not None else nacl.utils.random(32)
        eph_pk = sodium.crypto_scalarmult_base(self._eph_sk)
        self._hello = Hello(PROTOCOL, PROTOCOL_VERSION, chain_id, eph_pk).encode()
        self._decoder = FrameDecoder(HANDSHAKE_MAX_FRAME)
        self._out = bytearray(frame(self._hello))

        self.send_closed = False  # our goodbye is out; we may still read theirs
        self._send_key: bytes | None = None
        self._recv_key: bytes | None = None
        self._send_ctr = 0
        self._recv_ctr = 0
        self._transcript: bytes | None = None

    # ---- output ---------------------------------------------------------

    @property
    def can_send(self) -> bool:
        """True while :meth:`send` and :meth:`ping` are allowed."""
        return self.state is State.OPEN and not self.send_closed

    def data_to_send(self) -> bytes:
        """Drain the bytes queued for the peer (the Hello, the Auth, goodbyes)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def send(self, data: bytes) -> bytes:
        """Encrypt one application message; returns every byte to write, in order."""
        if not self.can_send:
            raise LocalProtocolError(f"cannot send in state {self.state.value}")
        if len(data) > self.max_message_size:
            raise LocalProtocolError(
                f"message of {len(data)} bytes over the limit of {self.max_message_size}"
            )
        self._seal(_MSG, bytes(data))
        return self.data_to_send()

    def ping(self) -> bytes:
        """A keep-alive frame (the peer's channel swallows it); returns the bytes to write."""
        if not self.can_send:
            raise LocalProtocolError(f"cannot ping in state {self.state.value}")
        self._seal(_PING, b"")
        return self.data_to_send()

    def close(self, reason: str = "closing") -> bytes:
        """Say goodbye with ``reason``; returns the bytes to write (may be empty).

        Once the handshake is done this is a half-close: we send nothing
        more, but messages the peer wrote before it read our goodbye are
        still received, until its own goodbye or EOF moves us to CLOSED.
        Before that, it closes outright.  Calling it again does nothing.
        """
        if self.state in (State.AWAIT_AUTH, State.OPEN) and not self.send_closed:
            self._seal(_CLOSE, reason.encode("utf-8")[:256])
            self.send_closed = True
        if self.state is not State.OPEN and self.state is not State.ERROR:
            self.state = State.CLOSED
        return self.data_to_send()

    # ---- input ----------------------------------------------------------

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes from the peer (``b""`` means end of stream); returns events."""
        if self.state in (State.CLOSED, State.ERROR):
            return []
        if not data:
            return [self._on_eof()]
        self._decoder.feed(data)
        events: list[Event] = []
        while self.state not in (State.CLOSED, State.ERROR):
            body = self._decoder.next_frame()
            if body is None:
                break
            if isinstance(body, FrameTooLarge):
                events.append(
                    self._fail(f"frame of {body.length} bytes announced, over the limit of {body.limit}")
                )
                break
            try:
                event = self._on_frame(body)
            except _Refuse as e:
                events.append(self._fail(str(e)))
                break
            if event is not None:
                events.append(event)
        return events

    def _on_eof(self) -> Event:
        if self.state is State.OPEN and self._decoder.buffered == 0:
            self.state = State.CLOSED
            return ConnectionClosed("peer hung up without a goodbye")
        if self.state is State.OPEN:
            return self._fail("stream ended inside a frame")
        return self._fail("stream ended during the handshake")

    def _on_frame(self, body: bytes) -> Event | None:
        """The whole state machine: one frame in, at most one event out."""
        if self.state is State.AWAIT_HELLO:
            return self._on_hello(body)
        kind, payload = self._open(body)
        if kind == _CLOSE:
            self.state = State.CLOSED
            return ConnectionClosed(payload.decode("utf-8", "replace"))
        if self.state is State.AWAIT_AUTH:
            if kind != _AUTH:
                raise _Refuse("expected the peer's Auth frame")
            return self._on_auth(payload)
        # OPEN
        if kind == _MSG:
            return Message(payload)
        if kind == _PING and not payload:
            return None
        raise _Refuse(f"unexpected frame kind {kind}")

    # ---- handshake ------------------------------------------------------

    def _on_hello(self, body: bytes) -> Event | None:
        try:
            hello = Hello.decode(body, max_size=HANDSHAKE_MAX_FRAME)
        except CodecError as e:
            raise _Refuse(f"malformed Hello: {e}") from None
        if hello.proto != PROTOCOL:
            raise _Refuse(f"not an {PROTOCOL} peer (protocol {hello.proto!r})")
        if hello.version != PROTOCOL_VERSION:
            raise _Refuse(
                f"unsupported protocol version {hello.version} (we speak {PROTOCOL_VERSION})"
            )
        if hello.chain_id != self.chain_id:
            raise _Refuse(f"wrong chain id: peer is on {hello.chain_id!r}, we are on {self.chain_id!r}")
        try:
            shared = sodium.crypto_scalarmult(self._eph_sk, hello.eph)
        except (nacl.exceptions.RuntimeError, nacl.exceptions.CryptoError):
            raise _Refuse("peer's ephemeral key is a low-order point") from None
        if consteq(hello.eph, sodium.crypto_scalarmult_base(self._eph_sk)):
            raise _Refuse("peer echoed our own ephemeral key")
        hellos = [self._hello, body] if self.initiator else [body, self._hello]
        self._transcript = tagged_hash("p2p transcript", encode(hellos))
        i2r = tagged_hash("p2p key initiator to responder", shared + self._transcript)
        r2i = tagged_hash("p2p key responder to initiator", shared + self._transcript)
        self._send_key, self._recv_key = (i2r, r2i) if self.initiator else (r2i, i2r)
        self.state = State.AWAIT_AUTH
        role = _ROLE[self.initiator]
        sig = self._node_key.sign(
            "p2p-handshake", self.chain_id, auth_payload(role, self._transcript, self._node_key.public)
        )
        self._seal(_AUTH, Auth(self._node_key.public, sig).encode())
        return None

    def _on_auth(self, payload: bytes) -> Event:
        try:
            auth = Auth.decode(payload, max_size=HANDSHAKE_MAX_FRAME)
        except CodecError as e:
            raise _Refuse(f"malformed Auth: {e}") from None
        role = _ROLE[not self.initiator]
        signed = auth_payload(role, self._transcript, auth.node_key)
        if not verify(auth.node_key, "p2p-handshake", self.chain_id, signed, auth.sig):
            raise _Refuse(
                f"handshake signature does not verify for the claimed key {_short(auth.node_key)}"
            )
        if consteq(auth.node_key, self._node_key.public):
            raise _Refuse(SELF_CONNECTION)
        if self._expected_peer is not None and not consteq(auth.node_key, self._expected_peer):
            raise _Refuse(
                f"peer key {_short(auth.node_key)} is not the expected {_short(self._expected_peer)}"
            )
        if not self._authorize(auth.node_key):
            raise _Refuse(f"peer key {_short(auth.node_key)} is not authorized to connect")
        self.peer_pubkey = auth.node_key
        self.state = State.OPEN
        self._decoder.max_body = self.max_message_size + FRAME_OVERHEAD
        return HandshakeDone(auth.node_key)

    # ---- encryption -----------------------------------------------------

    def _seal(self, kind: int, payload: bytes) -> None:
        ctr = _COUNTER.pack(self._send_ctr)
        self._send_ctr += 1
        ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            bytes([kind]) + payload, ctr, _NONCE_PAD + ctr, self._send_key
        )
        self._out += frame(ctr + ct)

    def _open(self, body: bytes) -> tuple[int, bytes]:
        """Decrypt a frame into ``(kind, payload)``; raise :class:`_Refuse` if it is not the next one."""
        if len(body) < _COUNTER.size + _TAG_SIZE + 1:
            raise _Refuse("encrypted frame too short")
        ctr_bytes = body[: _COUNTER.size]
        (ctr,) = _COUNTER.unpack(ctr_bytes)
        # Authenticate first, under the counter the frame claims, so that the
        # reason given is true: only a genuine frame of this session can be
        # called a replay or a reordering.
        try:
            plain = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                body[_COUNTER.size :], ctr_bytes, _NONCE_PAD + ctr_bytes, self._recv_key
            )
        except nacl.exceptions.CryptoError:
            raise _Refuse(
                "frame failed authentication (tampered, or not from this session)"
            ) from None
        if ctr < self._recv_ctr:
            raise _Refuse(f"replayed frame (counter {ctr}, expected {self._recv_ctr})")
        if ctr > self._recv_ctr:
            raise _Refuse(
                f"frame out of order (counter {ctr}, expected {self._recv_ctr}): "
                "a frame was dropped or reordered"
            )
        if not plain:
            raise _Refuse("empty encrypted frame")
        self._recv_ctr += 1
        return plain[0], plain[1:]

    def _fail(self, reason: str) -> ProtocolError:
        if self._send_key is not None and self.state in (State.AWAIT_AUTH, State.OPEN):
            if not self.send_closed:
                self._seal(_CLOSE, reason.encode("utf-8")[:256])
                self.send_closed = True
        self.state = State.ERROR
        self.error = reason
        return ProtocolError(reason)
