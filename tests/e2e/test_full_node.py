"""A non-validator full node beside four validators, all real processes.

Its home is made with the public ``esoc node init --genesis``; the
validators allow its key (``allow_peers``) and it dials them.  It follows
the chain (same block hashes and state roots), serves reads over gRPC
(accounts with proofs that verify against the validators' headers, blocks,
a block stream), says ``validator=false``, and relays a transaction
submitted to it to the validators, who commit it.  A full node started after
100+ blocks catches up through block sync.
"""

from __future__ import annotations

import pytest

from ledger.address import decode_address
from ledger.smt import Proof, verify_proof
from ledger.state import acct_path, key_hash, path_bytes, value_hash
from ledger.tx import Transfer, sign_tx
from wallet.keystore import Keystore

from .harness import Devnet, init_full_node, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def started(request):
    """Stops whatever a test registers, even when it fails."""
    items = []
    yield items
    for x in reversed(items):
        x.stop()


# Long by design: a full node's life on a real network as one story (join, follow, serve proofs, relay).
def test_full_node_follows_serves_reads_and_relays_transactions(tmp_path, started):
    net = Devnet(str(tmp_path / "net"), validators=4)
    full = init_full_node(net, "full")
    started.append(net)
    net.start()
    started.append(full)
    full.start()
    full.wait_ready()
    with full.client() as fc, net.nodes[0].client() as vc:
        st = fc.status()
        assert st.validator is False and st.chain_id == "esoc-devnet"
        assert st.node_pubkey == full.pubkey
        assert st.genesis_hash == vc.status().genesis_hash
        assert vc.status().validator is True
        wait_until(lambda: fc.status().height >= 5, 60, "the full node to follow the chain")
        wait_until(lambda: fc.status().peers == 4, 30, "the full node to be linked to the 4 validators")

        # a transfer submitted to the full node reaches the validators and is committed
        ks = Keystore(net.keystore)
        alice = ks.unlock("alice", "devnet")
        bob = net.account("bob")["address"]
        bob_before = vc.account(bob).balance
        nonce = fc.account(net.account("alice")["address"]).nonce
        tx = sign_tx(alice, st.chain_id, "transfer", Transfer(to=decode_address(bob), amount=4321), nonce,
                     fc.status().height + 100)
        assert fc.submit(tx) == tx.hash
        on_validator = vc.wait_for_tx(tx.hash, timeout=30, poll=0.05)  # asked of validator 0, not the full node
        assert on_validator.code == 0 and not on_validator.pending
        wait_until(lambda: fc.status().height >= on_validator.height, 30, "the full node to hold that block")
        on_full = fc.tx(tx.hash)
        assert (on_full.height, on_full.index, on_full.code) == (on_validator.height, on_validator.index, 0)
        assert vc.account(bob).balance == bob_before + 4321

        # reads with a proof: it verifies, against the state root of the validators' header
        r = fc.account(bob, prove=True)
        assert r.exists and r.balance == bob_before + 4321
        key = key_hash(path_bytes(acct_path(decode_address(bob))))
        assert verify_proof(r.state_root, key, value_hash(r.value), Proof.decode(r.proof))
        assert not verify_proof(r.state_root, key, value_hash(r.value + b"x"), Proof.decode(r.proof))
        assert vc.block(height=r.height).state_root == r.state_root

        # blocks: the same bytes, and a stream in order without gaps
        top = min(fc.status().height, vc.status().height)
        for h in (1, top // 2 or 1, top):
            a, b = fc.block(height=h), vc.block(height=h)
            assert (a.hash, a.state_root, a.block) == (b.hash, b.state_root, b.block)
        streamed = []
        for b in fc.stream_blocks(1):
            streamed.append((b.height, b.hash))
            if len(streamed) == 6:
                break
        assert [h for h, _ in streamed] == [1, 2, 3, 4, 5, 6]
        assert [x for _, x in streamed] == [vc.block(height=h).hash for h in range(1, 7)]
    # the full node signs nothing: no commit carries its key
    net.nodes.append(full)  # check_agreement over the 4 validators and the full node
    top = net.check_agreement()
    from ledger.block import Commit

    with net.nodes[0].client() as vc:
        for h in range(1, top + 1):
            assert full.pubkey not in {s.validator for s in Commit.decode(vc.block(height=h).commit).signatures}


def test_full_node_started_after_100_blocks_catches_up_by_block_sync(tmp_path, started):
    net = Devnet(str(tmp_path / "net"), validators=4, block_interval_ms=10)
    late = init_full_node(net, "late")  # allowed by the validators from the start; started much later
    started.append(net)
    net.start()
    net.wait_height(110, timeout=75)
    started.append(late)
    late.start()
    late.wait_ready()
    with late.client() as lc:
        assert lc.status().validator is False
        target = net.height(0)
        assert target >= 110
        wait_until(lambda: lc.status().height >= target, 60, f"the late full node to reach height {target}")
        wait_until(lambda: not lc.status().catching_up, 30, "the late node to report it caught up")
    net.nodes.append(late)
    top = net.check_agreement(nodes=[0, 4])
    assert top >= target
