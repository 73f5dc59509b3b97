"""A fresh full node joins a running 4-validator devnet by state sync.

The validators serve a snapshot every 10 heights.  The new node, started
after 30+ blocks with ``statesync_rpc`` naming two validators, restores the
state at the newest snapshot height H (manifest and chunks checked against
header H, whose commit it verified against the genesis validators), never
holds blocks below H, follows the chain from H + 1 by block sync, and serves
reads whose proofs verify against the validators' headers.
"""

from __future__ import annotations

import grpc
import pytest

from ledger.address import decode_address
from ledger.smt import Proof, verify_proof
from ledger.state import acct_path, key_hash, path_bytes, value_hash
from wallet.client import ClientError

from .harness import Devnet, init_full_node, wait_until

pytestmark = pytest.mark.slow


def test_fresh_node_joins_by_state_sync_and_serves_verified_reads(tmp_path):
    net = Devnet(str(tmp_path / "net"), validators=4, block_interval_ms=20, snapshot_interval=10)
    joiner = init_full_node(net, "joiner", statesync_rpc=[net.nodes[0].grpc, net.nodes[1].grpc])
    try:
        net.start()
        net.wait_height(32, timeout=90)
        joiner.start()
        joiner.wait_ready(timeout=60)
        with joiner.client() as jc, net.nodes[0].client() as vc:
            wait_until(lambda: jc.status().height >= vc.status().height - 1, 60, "the joiner to follow the chain")
            # it started from a snapshot: block 1 was never fetched, the first block it holds is a snapshot height
            with pytest.raises(ClientError) as e:
                jc.block(height=1)
            assert e.value.status in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT)
            first = next(h for h in range(1, jc.status().height + 1) if _has_block(jc, h))
            assert first >= 30 and first % 10 == 0
            # blocks after it are the validators' blocks (the joiner may hold a block node 0 is still writing:
            # a validator's gRPC shows only what is on its disk)
            top = jc.status().height
            wait_until(lambda: vc.status().height >= top, 60, "node 0 to hold the joiner's latest block")
            for h in (first, first + 1, top):
                a, b = jc.block(height=h), vc.block(height=h)
                assert (a.hash, a.state_root) == (b.hash, b.state_root)
            # a verified read: the proof checks against a validator's header at that height
            alice = net.account("alice")["address"]
            r = jc.account(alice, prove=True)
            wait_until(lambda: vc.status().height >= r.height, 60, "node 0 to hold the height the joiner read at")
            assert r.exists and r.balance == vc.account(alice, height=r.height).balance
            assert vc.block(height=r.height).state_root == r.state_root
            key = key_hash(path_bytes(acct_path(decode_address(alice))))
            assert verify_proof(r.state_root, key, value_hash(r.value), Proof.decode(r.proof))
            # and a read at the snapshot height itself, served from the restored state
            r0 = jc.account(alice, height=first, prove=True)
            assert r0.state_root == vc.block(height=first).state_root
            assert verify_proof(r0.state_root, key, value_hash(r0.value), Proof.decode(r0.proof))
    finally:
        joiner.stop()
        net.stop()


def _has_block(client, h: int) -> bool:
    try:
        client.block(height=h)
        return True
    except ClientError:
        return False
