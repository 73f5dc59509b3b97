"""The message envelope: typed, strict, unknown types refused."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ledger.codec import CodecError, encode
from node.p2p.messages import (
    MESSAGE_TYPES,
    BlockRequest,
    BlockResponse,
    CompactProposalMsg,
    EvidenceMsg,
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

EXAMPLES = [
    TxMsg(b"signed tx bytes"),
    TxsMsg((b"tx one", b"tx two")),
    TxsSentMsg((b"tx one", b"tx two"), (b"\x05" * 32, b"\x06" * 32)),
    ProposalMsg(b"signed proposal", b"block bytes"),
    VoteMsg(b"canonical vote"),
    EvidenceMsg(b"two votes"),
    BlockRequest(7),
    BlockResponse(7, b"block", b"commit"),
    BlockResponse(8, None, None),
    StatusMsg(12, b"\x01" * 32),
    CompactProposalMsg(b"signed proposal", b"block shell", (b"\x02" * 32, b"\x03" * 32)),
    TxFetchRequest(b"\x04" * 32, (b"\x02" * 32,)),
    TxFetchResponse(b"\x04" * 32, (b"tx one",)),
]


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip_and_type_tag(msg):
    data = msg.encode()
    assert decode_message(data) == msg
    assert type(msg).decode(data) == msg
    assert P2PMessage.decode(data) == msg
    from ledger.codec import decode

    assert decode(data)["type"] == msg.TYPE


def test_every_type_has_an_example():
    assert {m.TYPE for m in EXAMPLES} == set(MESSAGE_TYPES)


def test_unknown_or_missing_type_refused():
    with pytest.raises(CodecError, match="unknown type 'gossip'"):
        decode_message(encode({"type": "gossip", "tx": b""}))
    with pytest.raises(CodecError, match="missing or non-string"):
        decode_message(encode({"tx": b"x"}))
    with pytest.raises(CodecError, match="missing or non-string"):
        decode_message(encode({"type": 1, "tx": b"x"}))
    with pytest.raises(CodecError, match="expected a map"):
        decode_message(encode([1, 2]))


def test_fields_are_strict():
    with pytest.raises(CodecError, match="unknown field"):
        decode_message(encode({"type": "tx", "tx": b"x", "extra": 1}))
    with pytest.raises(CodecError, match="missing field"):
        decode_message(encode({"type": "proposal", "proposal": b"x"}))
    with pytest.raises(CodecError, match="expected bytes"):
        decode_message(encode({"type": "vote", "vote": "text"}))
    with pytest.raises(CodecError, match="exactly 32 bytes"):
        decode_message(encode({"type": "status", "height": 1, "block_hash": b"short"}))
    with pytest.raises(CodecError, match="integer"):
        decode_message(encode({"type": "block_request", "height": -1}))


def test_wrong_class_refused():
    with pytest.raises(CodecError, match="expected a 'tx' message"):
        TxMsg.decode(VoteMsg(b"v").encode())


def test_non_canonical_bytes_refused():
    good = TxMsg(b"x").encode()
    with pytest.raises(CodecError):
        decode_message(good + b"\x00")  # trailing byte
    # the same map with its keys out of order
    import msgpack

    unsorted = msgpack.packb({"type": "tx", "tx": b"x"}, use_bin_type=True)
    assert unsorted != good
    with pytest.raises(CodecError):
        decode_message(unsorted)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_never_crash(data):
    try:
        msg = decode_message(data)
    except CodecError:
        return
    assert msg.encode() == data  # anything accepted is canonical
