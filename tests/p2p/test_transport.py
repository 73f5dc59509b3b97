"""The trio shell on real loopback TCP.

Tests that wait on time run under ``trio.testing.MockClock``; the others wait
on events, with a generous ``fail_after`` as a safety net only.
"""

from __future__ import annotations

import struct

import trio
import trio.testing

from node.p2p import PeerAddress, backoff_delay
from node.p2p.secure import HandshakeDone

from .nodes import ALLOWED, CHAIN, KEYS, OUTSIDER, Inbox, RawClient, fast_config, start_node, until

LIMIT = 30  # seconds; a hang fails the test instead of freezing the suite


def run(main, *, mock: bool = False):
    clock = trio.testing.MockClock(autojump_threshold=0.02) if mock else None
    trio.run(main, clock=clock)


async def full_mesh(nursery, n=3, **kw):
    nodes = [await start_node(nursery, i, **kw) for i in range(n)]
    managers = [m for m, _ in nodes]
    for i, m in enumerate(managers):
        for j, other in enumerate(managers):
            if i != j:
                m.add_peer(f"127.0.0.1:{other.listen_port}")
    for m in managers:
        await m.wait_peers(n - 1)
    return nodes


def test_three_nodes_connect_and_broadcast_reaches_all():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                nodes = await full_mesh(nursery)
                for i, (m, _) in enumerate(nodes):
                    assert m.broadcast(f"hello from {i}".encode()) == 2
                for i, (_, inbox) in enumerate(nodes):
                    others = [j for j in range(3) if j != i]
                    await inbox.wait_for(
                        lambda ib: all(f"hello from {j}".encode() in ib.data_from(KEYS[j].public) for j in others)
                    )
                    assert sorted(nodes[i][0].peers()) == sorted(KEYS[j].public for j in others)
                # send() reaches exactly one peer, in order
                m0 = nodes[0][0]
                for k in range(20):
                    assert m0.send(KEYS[2].public, b"seq %d" % k)
                await nodes[2][1].wait_for(lambda ib: b"seq 19" in ib.data_from(KEYS[0].public))
                seq = [d for d in nodes[2][1].data_from(KEYS[0].public) if d.startswith(b"seq")]
                assert seq == [b"seq %d" % k for k in range(20)]
                assert not any(d.startswith(b"seq") for _, d in nodes[1][1].items)
                nursery.cancel_scope.cancel()

    run(main)


def test_duplicate_connections_keep_the_one_dialed_by_the_lower_key():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                (a, ia), (b, ib) = await full_mesh(nursery, 2)
                lower = min(a.node_id, b.node_id)

                def settled():
                    infos = [m.peer_info() for m in (a, b)]
                    return all(len(i) == 1 for i in infos) and all(
                        i[0].outbound == (m.node_id == lower) for m, i in zip((a, b), infos)
                    )

                await until([a, b], settled)
                assert a.broadcast(b"after settling") == 1
                await ib.wait_for(lambda ib: b"after settling" in ib.data_from(a.node_id))
                assert b.send(a.node_id, b"and back")
                await ia.wait_for(lambda ia: b"and back" in ia.data_from(b.node_id))
                # no churn: the link that was kept is still the only one.  (A
                # side may redial once if the loser's goodbye beats the winner's
                # handshake on its end; then that link loses too.)
                assert settled()
                for m in (a, b):
                    assert m.statistics().dials <= 2 and m.statistics().handshakes_ok <= 3
                assert a.statistics().duplicates_closed + b.statistics().duplicates_closed >= 1
                nursery.cancel_scope.cancel()

    run(main)


def test_hostile_clients_are_dropped_while_honest_peers_keep_talking():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                nodes = await full_mesh(nursery)
                (m0, in0), (m1, in1), (m2, in2) = nodes
                port = m0.listen_port

                # 1. raw garbage: disconnected, no handshake
                s = await trio.open_tcp_stream("127.0.0.1", port)
                await s.send_all(b"GET / HTTP/1.1\r\nHost: esoc\r\n\r\n" * 10)
                got = b""
                while True:
                    data = await s.receive_some(65536)
                    if not data:
                        break
                    got += data
                assert got.startswith(struct.pack(">I", len(got) - 4))  # only node0's Hello came back

                # 2. an authorized peer that completes the handshake, then
                #    announces a 2 GiB frame
                hostile = await RawClient.connect(port, KEYS[3])
                assert isinstance(hostile.events[0], HandshakeDone)
                await m0.wait_connected(KEYS[3].public)
                await hostile.stream.send_all(b"\x7f\xff\xff\xff")
                await hostile.read_until_closed()
                assert "2147483647 bytes announced" in hostile.closed_reason()

                # 3. an authorized peer that sends a tampered frame
                tamper = await RawClient.connect(port, KEYS[3])
                wire = bytearray(tamper.channel.send(b"hi"))
                wire[-1] ^= 1
                await tamper.stream.send_all(bytes(wire))
                await tamper.read_until_closed()
                assert "failed authentication" in tamper.closed_reason()

                # 4. not on the allow-list; 5. on another chain
                outsider = await RawClient.connect(port, OUTSIDER)
                await outsider.read_until_closed()
                assert "not authorized" in outsider.closed_reason()
                stranger = await RawClient.connect(port, KEYS[3], chain="other-chain")
                assert "wrong chain id" in stranger.closed_reason()

                # node0 says why, and its honest peers never noticed
                reasons = [r for _, r in m0.recent_disconnects()]
                assert any("2147483647 bytes announced" in r for r in reasons)
                assert any("not authorized" in r for r in reasons)
                assert any("wrong chain id" in r for r in reasons)
                assert any("malformed Hello" in r or "over the limit" in r for r in reasons)
                assert sorted(m0.peers()) == sorted([KEYS[1].public, KEYS[2].public])
                m1.broadcast(b"still here")
                m0.broadcast(b"me too")
                await in0.wait_for(lambda ib: b"still here" in ib.data_from(KEYS[1].public))
                await in2.wait_for(lambda ib: b"me too" in ib.data_from(KEYS[0].public))
                assert m0.statistics().protocol_errors >= 3
                nursery.cancel_scope.cancel()

    run(main)


def test_on_message_may_reject_a_peer():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                m0, _ = await start_node(nursery, 0, inbox=Inbox(misbehaving=b"poison"))
                client = await RawClient.connect(m0.listen_port, KEYS[3])
                await client.stream.send_all(client.channel.send(b"fine") + client.channel.send(b"poison"))
                await client.read_until_closed()
                assert "peer misbehaved: sent the forbidden message" in client.closed_reason()
                assert m0.peers() == []
                nursery.cancel_scope.cancel()

    run(main)


def test_reauthorize_drops_peers_no_longer_allowed_and_callbacks_fire():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                allowed = {k.public for k in KEYS}
                seen = []
                from functools import partial
                from node.p2p import serve_p2p

                inbox = Inbox()
                m0 = await nursery.start(partial(
                    serve_p2p, "127.0.0.1", 0, KEYS[0], CHAIN, lambda k: k in allowed, inbox.on_message,
                    on_peer_connected=lambda p: seen.append(("up", p)),
                    on_peer_disconnected=lambda p, r: seen.append(("down", p, r)),
                ))
                m1, _ = await start_node(nursery, 1)
                m2, _ = await start_node(nursery, 2)
                m1.add_peer(f"127.0.0.1:{m0.listen_port}")
                m2.add_peer(f"127.0.0.1:{m0.listen_port}")
                await m0.wait_peers(2)
                assert m0.reauthorize() == []
                allowed.discard(KEYS[2].public)  # KEYS[2] left the validator set
                assert m0.reauthorize() == [KEYS[2].public]
                await m0.wait_until(lambda: m0.peers() == [KEYS[1].public])
                assert ("down", KEYS[2].public, "no longer authorized") in seen
                assert {e[1] for e in seen if e[0] == "up"} == {KEYS[1].public, KEYS[2].public}
                nursery.cancel_scope.cancel()

    run(main)


def test_gossip_is_not_sent_back_to_a_peer_known_to_have_it():
    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                (m0, _), (m1, in1), (m2, in2) = await full_mesh(nursery)
                tx = b"tx: pay 5 fen"
                assert m0.gossip(tx) == 2
                assert m0.gossip(tx) == 0  # already sent to both
                await in1.wait_for(lambda ib: tx in ib.data_from(m0.node_id))
                # node1 got it from node0, so it forwards it to node2 only
                assert m1.gossip(tx) == 1
                await in2.wait_for(lambda ib: in2.data_from(m1.node_id).count(tx) == 1)
                # node2 had it from both: it forwards to no one
                await in2.wait_for(lambda ib: tx in ib.data_from(m0.node_id))
                assert m2.gossip(tx) == 0
                nursery.cancel_scope.cancel()

    run(main)


# ---- tests that wait on time: MockClock -------------------------------------


def test_reconnect_after_a_peer_restarts_with_capped_backoff():
    async def main():
        config = fast_config(backoff_base=0.5, backoff_cap=8.0)
        async with trio.open_nursery() as nursery:
            a, ia = await start_node(nursery, 0, config=config)
            async with trio.open_nursery() as b_nursery:
                b, ib = await start_node(b_nursery, 1, config=config)
                port = b.listen_port
                a.add_peer(PeerAddress("127.0.0.1", port))
                await a.wait_connected(b.node_id)
                a.send(b.node_id, b"before")
                await ib.wait_for(lambda ib: b"before" in ib.data_from(a.node_id))
                b_nursery.cancel_scope.cancel()  # b goes down
            await until([a], lambda: a.peers() == [])
            dials_before = a.statistics().dials
            down_at = trio.current_time()
            await trio.sleep(60)  # b stays down for a virtual minute
            dials_down = a.statistics().dials - dials_before
            # backoff 0.25-0.5, 0.5-1, 1-2, 2-4, then 4-8 s each: about 10 dials a minute
            assert 6 <= dials_down <= 16, dials_down
            async with trio.open_nursery() as b_nursery:
                b2, ib2 = await start_node(b_nursery, 1, config=config, port=port)
                await a.wait_connected(b2.node_id)
                assert trio.current_time() - down_at - 60 <= config.backoff_cap + 1
                a.send(b2.node_id, b"after")
                await ib2.wait_for(lambda ib: b"after" in ib.data_from(a.node_id))
                b_nursery.cancel_scope.cancel()
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_handshake_timeout_drops_a_silent_client():
    async def main():
        async with trio.open_nursery() as nursery:
            m0, _ = await start_node(nursery, 0, config=fast_config(handshake_timeout=5.0))
            silent = await RawClient.connect(m0.listen_port, KEYS[3], handshake=False)
            t0 = trio.current_time()
            await silent.read_until_closed()  # node0's Hello, then EOF
            assert 5.0 <= trio.current_time() - t0 < 6.0
            assert any("handshake timed out" in r for _, r in m0.recent_disconnects())
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_idle_peer_is_dropped_and_pings_keep_a_quiet_link_alive():
    async def main():
        cfg = fast_config(ping_interval=10.0, idle_timeout=30.0)
        async with trio.open_nursery() as nursery:
            m0, _ = await start_node(nursery, 0, config=cfg)
            m1, _ = await start_node(nursery, 1, config=cfg)
            m1.add_peer(f"127.0.0.1:{m0.listen_port}")
            await m1.wait_connected(m0.node_id)
            client = await RawClient.connect(m0.listen_port, KEYS[3])  # never pings
            await trio.sleep(100)  # honest nodes ping each other; the client does not
            await client.read_until_closed()
            assert "nothing heard for 30.0 s" in client.closed_reason()
            assert m0.peers() == [m1.node_id]
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_slow_peer_is_dropped_not_buffered_forever():
    async def main():
        cfg = fast_config(send_queue_messages=8, send_queue_bytes=1 << 20, write_timeout=1000.0)
        async with trio.open_nursery() as nursery:
            m0, _ = await start_node(nursery, 0, config=cfg)
            sloth = await RawClient.connect(m0.listen_port, KEYS[3])  # never reads
            await m0.wait_connected(KEYS[3].public)
            blob = b"\xab" * 100_000
            for _ in range(2000):
                if not m0.broadcast(blob):
                    break
                await trio.testing.wait_all_tasks_blocked()
            else:
                raise AssertionError("the slow peer was never dropped")
            await until([m0], lambda: m0.peers() == [])
            assert m0.statistics().slow_peers_dropped == 1
            assert any("send queue full" in r for _, r in m0.recent_disconnects())
            await sloth.stream.aclose()
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_inbound_rate_limit_drops_excess_messages():
    async def main():
        cfg = fast_config(inbound_rate=1.0, inbound_burst=3.0)
        async with trio.open_nursery() as nursery:
            m0, in0 = await start_node(nursery, 0, config=cfg)
            client = await RawClient.connect(m0.listen_port, KEYS[3])
            await m0.wait_connected(KEYS[3].public)
            wire = b"".join(client.channel.send(b"m%d" % i) for i in range(10))
            await client.stream.send_all(wire)
            await trio.testing.wait_all_tasks_blocked()
            await until([m0], lambda: m0.statistics().messages_in == 10)
            assert in0.data_from(KEYS[3].public) == [b"m0", b"m1", b"m2"]
            assert m0.statistics().rate_limited == 7
            await trio.sleep(2.0)  # two tokens come back
            await client.stream.send_all(b"".join(client.channel.send(b"n%d" % i) for i in range(3)))
            await in0.wait_for(lambda ib: len(ib.data_from(KEYS[3].public)) == 5)
            assert in0.data_from(KEYS[3].public)[3:] == [b"n0", b"n1"]
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_dialing_our_own_address_stops():
    async def main():
        async with trio.open_nursery() as nursery:
            m0, _ = await start_node(nursery, 0, config=fast_config())
            m0.add_peer(f"127.0.0.1:{m0.listen_port}")
            await trio.sleep(30)
            assert m0.statistics().dials == 1
            assert any("ourselves" in r for _, r in m0.recent_disconnects())
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_backoff_delay_is_capped_jittered_and_seeded():
    import random

    r1, r2 = random.Random(7), random.Random(7)
    d1 = [backoff_delay(i, 0.5, 30.0, r1) for i in range(12)]
    d2 = [backoff_delay(i, 0.5, 30.0, r2) for i in range(12)]
    assert d1 == d2  # same seed, same schedule
    for i, d in enumerate(d1):
        full = min(30.0, 0.5 * 2**i)
        assert full / 2 <= d <= full
    assert max(d1) <= 30.0 and d1[-1] >= 15.0
    assert backoff_delay(10_000, 0.5, 30.0, r1) <= 30.0
    assert len({round(backoff_delay(9, 0.5, 30.0, random.Random(s)), 6) for s in range(5)}) == 5


def test_peer_address_parsing():
    key = KEYS[0].public
    assert PeerAddress.parse("10.0.0.1:26656") == PeerAddress("10.0.0.1", 26656)
    assert PeerAddress.parse(f"{key.hex()}@node.example:26656") == PeerAddress("node.example", 26656, key)
    assert PeerAddress.parse("[::1]:9") == PeerAddress("::1", 9)
    assert str(PeerAddress("::1", 9)) == "[::1]:9"
    for bad in ["nohost", "host:", ":1", "h:99999", "zz@h:1", "abcd@h:1"]:
        try:
            PeerAddress.parse(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


def test_sending_while_the_peer_said_goodbye_mid_batch_is_harmless():
    """The peer's goodbye is parsed while on_message still handles an earlier
    message of the same read; a send queued meanwhile must not crash the node."""

    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                release = trio.Event()
                inbox = Inbox()

                async def slow(peer, data):
                    if data == b"slow":
                        await release.wait()
                    await inbox.on_message(peer, data)

                from functools import partial
                from node.p2p import serve_p2p
                from .nodes import ALLOWED

                m0 = await nursery.start(partial(serve_p2p, "127.0.0.1", 0, KEYS[0], CHAIN, ALLOWED, slow))
                client = await RawClient.connect(m0.listen_port, KEYS[3])
                await m0.wait_connected(KEYS[3].public)
                await client.stream.send_all(client.channel.send(b"slow") + client.channel.close("bye"))
                await trio.testing.wait_all_tasks_blocked()  # on_message is now parked
                assert m0.send(KEYS[3].public, b"to a departing peer")
                await trio.testing.wait_all_tasks_blocked()  # the writer ran and stopped
                release.set()
                await m0.wait_until(lambda: m0.peers() == [])
                assert inbox.data_from(KEYS[3].public) == [b"slow"]
                assert any("peer closed the connection: bye" in r for _, r in m0.recent_disconnects())
                nursery.cancel_scope.cancel()

    run(main)


def test_a_peer_that_resets_its_connection_drops_only_that_peer():
    """Regression: an RST from a connected peer arrives wrapped in the reader/
    writer nursery's exception group; it must end that connection, not the node."""
    import socket as pysocket

    async def main():
        with trio.fail_after(LIMIT):
            async with trio.open_nursery() as nursery:
                nodes = await full_mesh(nursery)
                (m0, in0), (m1, in1), _ = nodes
                for _ in range(3):
                    peer = await RawClient.connect(m0.listen_port, KEYS[3])
                    assert isinstance(peer.events[0], HandshakeDone)
                    await m0.wait_connected(KEYS[3].public)
                    m0.broadcast(b"x" * 100_000)  # keep the writer busy while the reset lands
                    sock = peer.stream.socket
                    sock.setsockopt(pysocket.SOL_SOCKET, pysocket.SO_LINGER, struct.pack("ii", 1, 0))
                    sock.close()  # RST, not FIN
                    await m0.wait_until(lambda: KEYS[3].public not in m0.peers())
                m1.broadcast(b"after resets")
                await in0.wait_for(lambda ib: b"after resets" in ib.data_from(KEYS[1].public))
                nursery.cancel_scope.cancel()

    run(main)


def test_a_peer_that_refuses_us_is_redialed_with_growing_backoff():
    """Issue 14 fault 12: a full node not on a validator's allow-list redialed it at once
    after each refusal (the handshake had completed on its side, which reset the
    backoff): 572 refusal lines in 18 s.  Now the attempts in a window are bounded by
    the backoff schedule."""
    from node.p2p import AllowList

    async def main():
        config = fast_config(backoff_base=0.5, backoff_cap=30.0)
        async with trio.open_nursery() as nursery:
            validator, _ = await start_node(nursery, 0, config=config)
            validator._authorize = AllowList([KEYS[0].public])  # the newcomer is not on its list
            newcomer, _ = await start_node(nursery, 1, config=config)
            newcomer.add_peer(PeerAddress("127.0.0.1", validator.listen_port, KEYS[0].public))
            await trio.sleep(60)  # a virtual minute
            dials = newcomer.statistics().dials
            refused = [r for _, r in validator.recent_disconnects() if "not authorized" in r]
            # 0.25-0.5, 0.5-1, 1-2, 2-4, 4-8, 8-16, then 15-30 s each: at most 9 in a minute
            assert 4 <= dials <= 9, dials
            assert len(refused) == validator.statistics().handshake_failures <= 9
            assert validator.peers() == [] and newcomer.peers() == []
            nursery.cancel_scope.cancel()

    run(main, mock=True)


def test_peers_can_be_added_removed_and_redialed_at_run_time():
    """What a config reload (SIGHUP) does: dial a new address once, stop dialing a
    removed one (closing the link it made), and redial a refused peer at once when
    the allow-lists changed, instead of waiting out the backoff."""
    from node.p2p import AllowList

    async def main():
        config = fast_config(backoff_base=0.5, backoff_cap=30.0)
        async with trio.open_nursery() as nursery:
            a, _ = await start_node(nursery, 0, config=config)
            b, _ = await start_node(nursery, 1, config=config)
            addr = PeerAddress("127.0.0.1", b.listen_port, KEYS[1].public)
            a.add_peer(addr)
            a.add_peer(str(addr))  # the same address: still one dial loop
            assert a.dialed() == [addr]
            await a.wait_connected(b.node_id)
            assert a.statistics().dials == 1
            assert a.remove_peer(addr) is True and a.remove_peer(addr) is False
            await until([a, b], lambda: a.peers() == [] and b.peers() == [])
            assert a.dialed() == []
            await trio.sleep(120)
            assert a.statistics().dials == 1  # no longer dialed
            # b refuses a; a backs off to tens of seconds ...
            b._authorize = AllowList([KEYS[1].public])
            a.add_peer(addr)
            await trio.sleep(60)
            refused_dials = a.statistics().dials
            # ... until b allows it again and a is told to redial: it connects at once
            b._authorize = ALLOWED
            t0 = trio.current_time()
            a.redial_now()
            await a.wait_connected(b.node_id)
            assert trio.current_time() - t0 < 1.0
            assert a.statistics().dials == refused_dials + 1
            nursery.cancel_scope.cancel()

    run(main, mock=True)
