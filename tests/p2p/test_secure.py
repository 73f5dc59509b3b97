"""The secure channel, sans-IO: every test drives both ends over a fake link."""

from __future__ import annotations

import struct
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

from ledger.crypto import PrivateKey
from node.p2p.framing import frame
from node.p2p.secure import (
    FRAME_OVERHEAD,
    HANDSHAKE_MAX_FRAME,
    ConnectionClosed,
    HandshakeDone,
    Hello,
    LocalProtocolError,
    Message,
    ProtocolError,
    SecureChannel,
    State,
)

from .helpers import ALICE, BOB, CHAIN, MALLORY, ChannelPair, allow


def errors(events):
    return [e.reason for e in events if isinstance(e, ProtocolError)]


def split_frames(stream: bytes) -> list[bytes]:
    """Cut a byte stream into whole frames (prefix included)."""
    out, i = [], 0
    while i < len(stream):
        (n,) = struct.unpack_from(">I", stream, i)
        out.append(stream[i : i + 4 + n])
        i += 4 + n
    return out


# ---- handshake --------------------------------------------------------------


def test_handshake_both_ways_and_messages_flow():
    p = ChannelPair().handshake()
    assert p.events["a"] == [HandshakeDone(BOB.public)]
    assert p.events["b"] == [HandshakeDone(ALICE.public)]
    assert p.a.state is State.OPEN and p.b.state is State.OPEN
    assert p.a.peer_pubkey == BOB.public and p.b.peer_pubkey == ALICE.public

    assert p.b.receive_data(p.a.send(b"hello bob")) == [Message(b"hello bob")]
    assert p.a.receive_data(p.b.send(b"hello alice")) == [Message(b"hello alice")]
    # several messages in one write come out in order; the empty message is fine
    wire = p.a.send(b"1") + p.a.send(b"") + p.a.send(b"3" * 1000)
    assert p.b.receive_data(wire) == [Message(b"1"), Message(b""), Message(b"3" * 1000)]


def test_ciphertext_does_not_contain_plaintext_and_differs_each_time():
    p = ChannelPair().handshake()
    secret = b"the quick brown fox jumps" * 4
    w1, w2 = p.a.send(secret), p.a.send(secret)
    assert secret not in w1 and w1 != w2
    assert p.b.receive_data(w1 + w2) == [Message(secret), Message(secret)]


def test_directions_use_different_keys():
    """A frame Alice sent cannot be reflected back to Alice."""
    p = ChannelPair().handshake()
    wire = p.a.send(b"ping")
    evs = p.a.receive_data(wire)
    assert errors(evs) and "authentication" in errors(evs)[0]


def test_wrong_chain_id_refused_on_both_sides():
    p = ChannelPair(b_chain="other-chain")
    p.pump()
    (ea,) = errors(p.events["a"])
    (eb,) = errors(p.events["b"])
    assert "wrong chain id" in ea and "'other-chain'" in ea
    assert "wrong chain id" in eb
    assert p.a.state is State.ERROR and p.b.state is State.ERROR
    assert not any(isinstance(e, HandshakeDone) for e in p.events["a"] + p.events["b"])


def test_unauthorized_key_refused_with_reason_sent_to_peer():
    p = ChannelPair(MALLORY, BOB)  # Bob allows only Alice and Bob
    p.pump()
    (eb,) = errors(p.events["b"])
    assert "not authorized" in eb and MALLORY.public.hex()[:16] in eb
    # Mallory is told why, as a goodbye.  (Bob's own Auth left before he
    # checked hers, so her side may open first: one round trip has that cost.)
    assert p.events["a"][-1] == ConnectionClosed(eb)
    assert p.a.state is State.CLOSED
    # Bob refuses anything Mallory sends afterwards
    assert p.b.receive_data(b"\x00\x00\x00\x05hello") == []


def test_authorize_callback_sees_the_proven_key():
    seen = []
    p = ChannelPair(b_allows=lambda k: seen.append(k) or True).handshake()
    assert seen == [ALICE.public]
    assert p.events["b"] == [HandshakeDone(ALICE.public)]


def test_forged_static_key_refused():
    """Mallory claims Alice's static key but can only sign with her own."""
    liar = PrivateKey(MALLORY.seed)
    liar.public = ALICE.public  # the claimed key; signatures still come from Mallory's seed
    p = ChannelPair(liar, BOB)
    p.pump()
    (eb,) = errors(p.events["b"])
    assert "signature does not verify" in eb and ALICE.public.hex()[:16] in eb
    assert not any(isinstance(e, HandshakeDone) for e in p.events["b"])


def test_signature_from_another_session_refused():
    """An Auth frame recorded from one session is useless in another (transcript binding)."""
    # Mallory runs her own session with Bob and sends him a signature Alice made
    # in another session.  Mallory can encrypt it under this session's keys
    # (she holds this session's ephemeral secret), but it covers another transcript.
    import node.p2p.secure as s

    class Replayer(SecureChannel):
        def _on_hello(self, body):
            ev = super()._on_hello(body)
            self._out.clear()
            self._send_ctr = 0
            # Alice's signature over a different transcript
            old = ALICE.sign("p2p-handshake", CHAIN, s.auth_payload("initiator", b"\x00" * 32, ALICE.public))
            self._seal(s._AUTH, s.Auth(ALICE.public, old).encode())
            return ev

    m = Replayer(MALLORY, CHAIN, initiator=True, authorize=lambda k: True)
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=allow(ALICE))
    b.receive_data(m.data_to_send())
    m.receive_data(b.data_to_send())
    (eb,) = errors(b.receive_data(m.data_to_send()))
    assert "signature does not verify" in eb


def test_expected_peer_key_mismatch_refused():
    p = ChannelPair()
    p.a = SecureChannel(ALICE, CHAIN, initiator=True, authorize=lambda k: True,
                        expected_peer=MALLORY.public)
    p.pump()
    (ea,) = errors(p.events["a"])
    assert "not the expected" in ea


def test_connecting_to_ourselves_refused():
    p = ChannelPair(ALICE, ALICE, a_allows=lambda k: True, b_allows=lambda k: True)
    p.pump()
    assert any("ourselves" in r for r in errors(p.events["a"]) + errors(p.events["b"]))


def test_low_order_ephemeral_key_refused():
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
    hello = Hello("esoc-p2p", 1, CHAIN, b"\x00" * 32).encode()
    (e,) = b.receive_data(frame(hello))
    assert isinstance(e, ProtocolError) and "low-order" in e.reason


def test_wrong_version_and_protocol_refused():
    eph = b"\x09" + b"\x00" * 31
    for hello, want in [
        (Hello("esoc-p2p", 2, CHAIN, eph), "unsupported protocol version 2"),
        (Hello("http", 1, CHAIN, eph), "not an esoc-p2p peer"),
    ]:
        b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
        (e,) = b.receive_data(frame(hello.encode()))
        assert want in e.reason


def test_send_before_handshake_or_oversize_is_local_error():
    p = ChannelPair(max_message_size=100)
    with pytest.raises(LocalProtocolError):
        p.a.send(b"too early")
    p.handshake()
    with pytest.raises(LocalProtocolError):
        p.a.send(b"x" * 101)
    assert p.b.receive_data(p.a.send(b"x" * 100)) == [Message(b"x" * 100)]


# ---- frames after the handshake ---------------------------------------------


def test_replayed_frame_refused():
    p = ChannelPair().handshake()
    wire = p.a.send(b"pay bob 10")
    assert p.b.receive_data(wire) == [Message(b"pay bob 10")]
    (e,) = p.b.receive_data(wire)
    assert isinstance(e, ProtocolError) and "replayed frame" in e.reason
    assert p.b.state is State.ERROR


def test_reordered_frame_refused():
    p = ChannelPair().handshake()
    f1, f2 = p.a.send(b"first"), p.a.send(b"second")
    (e,) = p.b.receive_data(f2)
    assert isinstance(e, ProtocolError) and "out of order" in e.reason
    assert p.b.receive_data(f1) == []  # the channel is dead


def test_dropped_frame_detected():
    p = ChannelPair().handshake()
    p.a.send(b"lost")
    evs = p.b.receive_data(p.a.send(b"after"))
    assert "out of order" in errors(evs)[0]


@pytest.mark.parametrize("where", ["counter", "kind", "payload", "tag"])
def test_tampered_ciphertext_refused(where):
    p = ChannelPair().handshake()
    wire = bytearray(p.a.send(b"pay bob 10"))
    pos = {"counter": 4 + 7, "kind": 4 + 8, "payload": 4 + 12, "tag": len(wire) - 1}[where]
    wire[pos] ^= 0x01
    evs = p.b.receive_data(bytes(wire))
    assert not any(isinstance(e, Message) for e in evs)
    (r,) = errors(evs)
    assert "authentication" in r


def test_truncated_length_prefix_changes_are_refused():
    p = ChannelPair().handshake()
    wire = bytearray(p.a.send(b"pay bob 10"))
    wire[3] -= 1  # claim one byte less: the tag no longer verifies
    evs = p.b.receive_data(bytes(wire))
    assert "authentication" in errors(evs)[0]


def test_oversize_length_prefix_refused_without_allocating():
    p = ChannelPair(max_message_size=1024).handshake()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        evs = p.b.receive_data(b"\xff\xff\xff\xff")  # announces 4 GiB
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (r,) = errors(evs)
    assert "4294967295 bytes announced" in r and f"limit of {1024 + FRAME_OVERHEAD}" in r
    assert peak < 64 * 1024
    # it was refused on the prefix alone: no body was needed or awaited
    assert p.b._decoder.buffered == 0


def test_frame_just_over_the_cap_refused_at_exact_boundary():
    p = ChannelPair(max_message_size=1000).handshake()
    cap = 1000 + FRAME_OVERHEAD
    assert errors(p.b.receive_data(struct.pack(">I", cap + 1)))
    q = ChannelPair(max_message_size=1000).handshake()
    assert q.b.receive_data(q.a.send(b"m" * 1000)) == [Message(b"m" * 1000)]


def test_handshake_frames_have_a_small_cap():
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
    (e,) = b.receive_data(struct.pack(">I", HANDSHAKE_MAX_FRAME + 1))
    assert "over the limit of 512" in e.reason


# ---- garbage -----------------------------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x00\x00\x00\x03abc", b"\x00\x00\x00\x00", bytes(range(256))],
)
def test_garbage_before_handshake_refused(garbage):
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
    evs = b.receive_data(garbage)
    assert len(errors(evs)) == 1 and b.state is State.ERROR
    assert b.data_to_send()  # our Hello, but never a HandshakeDone
    assert not any(isinstance(e, HandshakeDone) for e in evs)


def test_garbage_after_handshake_refused():
    p = ChannelPair().handshake()
    evs = p.b.receive_data(p.a.send(b"ok") + b"\x00\x00\x00\x20" + b"\xaa" * 32)
    assert evs[0] == Message(b"ok")
    assert "authentication" in errors(evs)[0]


def test_garbage_between_hello_and_auth_refused():
    a = SecureChannel(ALICE, CHAIN, initiator=True, authorize=lambda k: True)
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
    hello_a = a.data_to_send()
    a.receive_data(b.data_to_send())
    evs = b.receive_data(hello_a + frame(b"\x01" * 40))
    assert "authentication" in errors(evs)[0]


def test_short_encrypted_frame_refused():
    p = ChannelPair().handshake()
    assert "too short" in errors(p.b.receive_data(frame(b"\x00" * 8)))[0]


# ---- close and EOF -------------------------------------------------------------


def test_goodbye_and_eof():
    p = ChannelPair().handshake()
    assert p.b.receive_data(p.a.close("shutting down")) == [ConnectionClosed("shutting down")]
    assert p.b.state is State.CLOSED
    q = ChannelPair().handshake()
    (e,) = q.b.receive_data(b"")
    assert isinstance(e, ConnectionClosed)
    r = ChannelPair()
    assert "during the handshake" in errors(r.b.receive_data(b""))[0]
    s = ChannelPair().handshake()
    s.b.receive_data(s.a.send(b"abc")[:-3])
    assert "inside a frame" in errors(s.b.receive_data(b""))[0]


# ---- chunking (hypothesis) -------------------------------------------------------

_EPH_A = b"\x11" * 32
_EPH_B = b"\x22" * 32


def _recorded_stream(messages: list[bytes]) -> bytes:
    """Everything Alice writes to Bob in a session with Bob's fixed ephemeral key."""
    a = SecureChannel(ALICE, CHAIN, initiator=True, authorize=lambda k: True, ephemeral_secret=_EPH_A)
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True, ephemeral_secret=_EPH_B)
    out = a.data_to_send()
    b.receive_data(out)
    a.receive_data(b.data_to_send())  # Bob's Hello and Auth: Alice is open
    out += a.data_to_send()
    for m in messages:
        out += a.send(m)
    return out


def _fresh_bob() -> SecureChannel:
    return SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True, ephemeral_secret=_EPH_B)


@settings(max_examples=150, deadline=None)
@given(
    messages=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=4000), max_size=40),
)
def test_any_chunking_yields_the_same_messages(messages, cuts):
    stream = _recorded_stream(messages)
    whole = _fresh_bob().receive_data(stream)
    assert whole == [HandshakeDone(ALICE.public)] + [Message(m) for m in messages]

    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[i:j] for i, j in zip([0] + points, points + [len(stream)])]
    bob = _fresh_bob()
    got = []
    for c in chunks:
        if c:
            got += bob.receive_data(c)
    assert got == whole


def test_byte_at_a_time():
    msgs = [b"a" * 70000, b"", b"z"]
    stream = _recorded_stream(msgs)
    bob = _fresh_bob()
    got = []
    for i in range(len(stream)):
        got += bob.receive_data(stream[i : i + 1])
    assert got == [HandshakeDone(ALICE.public)] + [Message(m) for m in msgs]


@settings(max_examples=100, deadline=None)
@given(pos=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_single_bit_flip_is_never_accepted_as_a_different_message(pos, bit):
    msgs = [b"transfer 10 fen to bob", b"second"]
    stream = bytearray(_recorded_stream(msgs))
    pos %= len(stream)
    stream[pos] ^= 1 << bit
    evs = _fresh_bob().receive_data(bytes(stream))
    good = [HandshakeDone(ALICE.public)] + [Message(m) for m in msgs]
    # what comes out is a prefix of the honest events, then (maybe) an error
    ok = [e for e in evs if not isinstance(e, ProtocolError)]
    assert ok == good[: len(ok)]
    # a flip always shows up somewhere: an error, or a missing message
    assert errors(evs) or len(ok) < len(good)


# ---- the state x frame-kind table ---------------------------------------------

import node.p2p.secure as _s

_KIND_TABLE = {
    # state after the Hellos            kind      -> outcome
    (State.AWAIT_AUTH, _s._AUTH): "handshake",
    (State.AWAIT_AUTH, _s._MSG): "error",
    (State.AWAIT_AUTH, _s._PING): "error",
    (State.AWAIT_AUTH, _s._CLOSE): "closed",
    (State.AWAIT_AUTH, 7): "error",
    (State.OPEN, _s._AUTH): "error",
    (State.OPEN, _s._MSG): "message",
    (State.OPEN, _s._PING): "nothing",
    (State.OPEN, _s._CLOSE): "closed",
    (State.OPEN, 7): "error",
}


@pytest.mark.parametrize("state,kind", sorted(_KIND_TABLE, key=lambda k: (k[0].value, k[1])))
def test_every_frame_kind_in_every_state(state, kind):
    """Each (state, kind) pair does what the table says; nothing else opens the channel."""
    a = SecureChannel(ALICE, CHAIN, initiator=True, authorize=lambda k: True)
    b = SecureChannel(BOB, CHAIN, initiator=False, authorize=lambda k: True)
    b.receive_data(a.data_to_send())  # Bob: AWAIT_AUTH, his Auth queued
    a.receive_data(b.data_to_send())  # Alice: OPEN, her Auth queued
    auth = a.data_to_send()
    if state is State.OPEN:
        assert b.receive_data(auth) == [HandshakeDone(ALICE.public)]
        payload = b"" if kind == _s._PING else b"payload"
    else:
        payload = s_auth_payload(a) if kind == _s._AUTH else b"payload"
        a._send_ctr = 0  # the frame below replaces Alice's real Auth
    assert b.state is state
    a._seal(kind, payload)
    evs = b.receive_data(a.data_to_send())
    want = _KIND_TABLE[(state, kind)]
    if want == "handshake":
        assert evs == [HandshakeDone(ALICE.public)] and b.state is State.OPEN
    elif want == "message":
        assert evs == [Message(b"payload")] and b.state is State.OPEN
    elif want == "nothing":
        assert evs == [] and b.state is State.OPEN
    elif want == "closed":
        assert evs == [ConnectionClosed("payload")] and b.state is State.CLOSED
    else:
        (reason,) = errors(evs)
        assert b.state is State.ERROR
        assert "Auth frame" in reason or "unexpected frame kind" in reason  # not a counter error


def s_auth_payload(a: SecureChannel) -> bytes:
    sig = ALICE.sign("p2p-handshake", CHAIN, _s.auth_payload("initiator", a._transcript, ALICE.public))
    return _s.Auth(ALICE.public, sig).encode()


def test_half_close_still_reads_what_the_peer_sent():
    p = ChannelPair().handshake()
    bye = p.a.close("duplicate")
    assert p.a.state is State.OPEN and not p.a.can_send
    with pytest.raises(LocalProtocolError):
        p.a.send(b"no more")
    in_flight = p.b.send(b"already on its way")
    assert p.b.receive_data(bye) == [ConnectionClosed("duplicate")]
    assert p.a.receive_data(in_flight) == [Message(b"already on its way")]
    assert p.a.receive_data(b"") == [ConnectionClosed("peer hung up without a goodbye")]
    assert p.a.close("again") == b""  # idempotent
