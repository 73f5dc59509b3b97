"""Gossip bookkeeping and rate limiting, sans-IO with a fake clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from node.p2p.gossip import PeerKnowledge, RateLimiter, TokenBucket, message_id

P1, P2, P3 = b"p1", b"p2", b"p3"


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_message_id_is_blake3():
    import blake3

    assert message_id(b"tx") == blake3.blake3(b"tx").digest()
    assert message_id(b"tx") != message_id(b"ty")


def test_no_resend_to_a_peer_known_to_have_it():
    k = PeerKnowledge()
    tx = message_id(b"tx1")
    k.mark(P1, tx)  # we received it from P1
    assert k.select(tx, [P1, P2, P3]) == [P2, P3]  # so it goes to the others only
    assert k.select(tx, [P1, P2, P3]) == []  # and never twice
    assert k.select(message_id(b"tx2"), [P1, P2]) == [P1, P2]


def test_forget_peer():
    k = PeerKnowledge()
    tx = message_id(b"tx")
    k.select(tx, [P1])
    k.forget_peer(P1)
    assert not k.knows(P1, tx)
    assert k.select(tx, [P1]) == [P1]


def test_lru_bound_per_peer():
    k = PeerKnowledge(max_per_peer=3)
    ids = [message_id(bytes([i])) for i in range(5)]
    for i in ids[:3]:
        k.mark(P1, i)
    k.mark(P1, ids[0])  # touch: ids[1] is now the least recent
    k.mark(P1, ids[3])
    assert k.count(P1) == 3
    assert not k.knows(P1, ids[1])
    assert all(k.knows(P1, i) for i in (ids[0], ids[2], ids[3]))
    k.mark(P2, ids[4])  # another peer's set is separate
    assert k.count(P1) == 3 and k.count(P2) == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([P1, P2, P3]), st.integers(0, 40)), max_size=300),
       st.integers(1, 10))
def test_lru_bound_holds_and_recent_ids_stay(ops, bound):
    k = PeerKnowledge(max_per_peer=bound)
    for peer, n in ops:
        k.mark(peer, message_id(bytes([n])))
        assert k.count(peer) <= bound
        assert k.knows(peer, message_id(bytes([n])))  # the newest is always kept
    # the last `bound` distinct ids marked for a peer are all remembered
    for peer in (P1, P2, P3):
        recent = []
        for p, n in reversed(ops):
            if p == peer and n not in recent:
                recent.append(n)
        for n in recent[:bound]:
            assert k.knows(peer, message_id(bytes([n])))


def test_token_bucket_burst_then_rate():
    b = TokenBucket(rate=2.0, burst=4.0, now=0.0)
    assert [b.allow(0.0) for _ in range(5)] == [True] * 4 + [False]
    assert b.allow(0.25) is False  # half a token
    assert b.allow(0.5) is True  # one token after 0.5 s
    assert b.allow(100.0, cost=4.0) is True  # refill stops at the burst
    assert b.allow(100.0) is False
    assert b.allow(99.0) is False  # time going backwards adds nothing


def test_rate_limiter_per_peer_with_injected_clock():
    clock = FakeClock()
    rl = RateLimiter(rate=1.0, burst=2.0, clock=clock)
    assert [rl.allow(P1) for _ in range(3)] == [True, True, False]
    assert rl.allow(P2) and rl.allow(P2)  # P2 has its own bucket
    clock.now += 1.0
    assert rl.allow(P1) and not rl.allow(P1)
    rl.forget_peer(P1)
    assert rl.allow(P1) and rl.allow(P1)  # a fresh, full bucket


def test_invalid_parameters():
    with pytest.raises(ValueError):
        PeerKnowledge(0)
    with pytest.raises(ValueError):
        RateLimiter(0, 1, FakeClock())
