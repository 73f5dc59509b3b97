"""A single-validator chain as a real process: the CLI, the gRPC API, bad input."""

from __future__ import annotations

import json

import grpc
import pytest

from ledger.address import decode_address, encode_address
from ledger.crypto import PrivateKey
from ledger.tx import Transfer, sign_tx
from proto import esoc_pb2 as pb
from proto import esoc_pb2_grpc as pbg
from wallet.keystore import Keystore

from .harness import Devnet, wait_until


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = Devnet(str(tmp_path_factory.mktemp("solo")), validators=1).start()
    yield d
    d.stop()


def test_status_json(net):
    st = json.loads(net.cli("status", "--json").stdout)
    assert st["chain_id"] == "esoc-devnet"
    assert len(bytes.fromhex(st["state_root"])) == 32
    with net.nodes[0].client() as c:
        wait_until(lambda: c.status().height >= 2, 20, "two blocks")
    st2 = json.loads(net.cli("status", "--json").stdout)
    assert st2["height"] >= 2 and st2["height"] >= st["height"]
    assert len(bytes.fromhex(st2["block_hash"])) == 32


def test_transfer_via_cli(net):
    bob = net.account("bob")["address"]
    before = json.loads(net.cli("account", bob, "--json").stdout)["balance"]
    out = json.loads(net.cli("tx", "send", "--from", "alice", "--to", "bob", "--amount", "1250", "--wait", "--json").stdout)
    assert out["code"] == 0
    shown = json.loads(net.cli("tx", "show", out["hash"], "--json").stdout)
    assert shown["code"] == 0 and shown["kind"] == "transfer" and shown["height"] == out["height"]
    assert shown["payload"]["amount"] == 1250 and shown["payload"]["to"] == bob
    after = json.loads(net.cli("account", bob, "--json").stdout)["balance"]
    assert after == before + 1250
    blk = json.loads(net.cli("block", "show", str(out["height"]), "--json").stdout)
    assert out["hash"] in [t["hash"] for t in blk["txs"]]
    assert blk["height"] == out["height"] and blk["commit_signatures"] == 1  # one validator signs every block


def test_account_proof_verifies(net):
    # verified by default: a header followed from the devnet's genesis (beside its keystore), then the proof
    r = json.loads(net.cli("account", "alice", "--json").stdout)
    assert r["verified"] is True and r["exists"] is True and r["header_checks"] >= 1, r
    missing = encode_address(bytes(20))
    r2 = json.loads(net.cli("account", missing, "--json").stdout)
    assert r2["exists"] is False and r2["verified"] is True
    r3 = json.loads(net.cli("account", "alice", "--no-verify", "--json").stdout)
    assert r3["verified"] is False and r3["balance"] >= 0


def test_new_wallet_must_be_registered(net):
    net.cli("wallet", "new", "zoe")
    zoe = Keystore(net.keystore).info("zoe")["address"]
    # unregistered: cannot receive
    r = net.cli("tx", "send", "--from", "alice", "--to", zoe, "--amount", "5", "--wait", "--json", check=False)
    assert r.returncode == 1 and json.loads(r.stdout)["code_name"] == "RECIPIENT_NOT_REGISTERED"
    # unregistered: cannot send (refused at admission)
    r = net.cli("tx", "send", "--from", "zoe", "--to", "alice", "--amount", "5", check=False)
    assert r.returncode == 1 and "not a registered account" in r.stderr
    net.cli("tx", "register", "--from", "registrar", "--account", zoe, "--kind", "citizen", "--wait")
    net.cli("tx", "send", "--from", "alice", "--to", "zoe", "--amount", "5", "--wait")
    assert json.loads(net.cli("account", "zoe", "--json").stdout)["balance"] == 5


def test_bad_input_from_cli(net):
    bob = net.account("bob")["address"]
    typo = bob[:-3] + ("q" if bob[-3] != "q" else "p") + bob[-2:]
    r = net.cli("tx", "send", "--from", "alice", "--to", typo, "--amount", "1", check=False)
    assert r.returncode == 1 and "checksum" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = net.cli("tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", password="wrong", check=False)
    assert r.returncode == 1 and "wrong password" in r.stderr
    # more than carol holds: refused at admission (issue 14 fault 10), so no nonce is taken
    nonce = json.loads(net.cli("account", "carol", "--json").stdout)["nonce"]
    r = net.cli("tx", "send", "--from", "carol", "--to", "bob", "--amount", str(10**15), "--wait", "--json", check=False)
    assert r.returncode == 1 and "INSUFFICIENT_FUNDS" in r.stderr and "insufficient funds" in r.stderr, r.stderr
    assert json.loads(net.cli("account", "carol", "--json").stdout)["nonce"] == nonce
    r = net.cli("tx", "issue", "--from", "alice", "--to", "bob", "--amount", "100", "--wait", "--json", check=False)
    assert json.loads(r.stdout)["code_name"] == "NOT_AUTHORIZED"
    r = net.cli("tx", "show", "zz", check=False)
    assert r.returncode == 1 and "hex" in r.stderr


def test_malformed_grpc_requests(net):
    ch = grpc.insecure_channel(net.nodes[0].grpc)
    stub = pbg.NodeStub(ch)
    bad = [
        ("SubmitTx", pb.SubmitTxRequest(tx=b"\x00garbage")),
        ("SubmitTx", pb.SubmitTxRequest(tx=b"")),
        ("SubmitTx", pb.SubmitTxRequest(tx=b"\x82\xa1b\x01\xa1a\x02")),
        ("GetAccount", pb.GetAccountRequest(address="esc1notanaddress")),
        ("GetAccount", pb.GetAccountRequest(address="")),
        ("GetTx", pb.GetTxRequest(hash=b"short")),
        ("GetState", pb.GetStateRequest(path=b"\xc1")),
        ("GetAccount", pb.GetAccountRequest(address=net.account("bob")["address"], height=10**12)),
    ]
    for method, req in bad:
        with pytest.raises(grpc.RpcError) as ei:
            getattr(stub, method)(req, timeout=10)
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, (method, ei.value.code(), ei.value.details())
        assert ei.value.details()
    # a signature over the wrong chain, and a forged signature
    k = PrivateKey.from_name("stranger")
    tx = sign_tx(k, "other-chain", "transfer", Transfer(to=bytes(20), amount=1), 0, 10**6)
    with pytest.raises(grpc.RpcError) as ei:
        stub.SubmitTx(pb.SubmitTxRequest(tx=tx.raw), timeout=10)
    assert "WRONG_CHAIN" in ei.value.details()
    with pytest.raises(grpc.RpcError) as ei:
        stub.GetBlock(pb.GetBlockRequest(height=10**9), timeout=10)
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND
    # the node is still serving
    assert stub.Status(pb.StatusRequest(), timeout=10).chain_id == "esoc-devnet"
    ch.close()


def test_health_and_reflection(net):
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    ch = grpc.insecure_channel(net.nodes[0].grpc)
    h = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="esoc.v1.Node"), timeout=10)
    assert h.status == health_pb2.HealthCheckResponse.SERVING
    stub = reflection_pb2_grpc.ServerReflectionStub(ch)
    resp = list(stub.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10))
    names = [s.name for s in resp[0].list_services_response.service]
    assert "esoc.v1.Node" in names
    ch.close()


def _dan_and_erin(net):
    """The batch tests' payer (dan's key, from the devnet keystore) and payee (erin's address)."""
    return Keystore(net.keystore).unlock("dan", "devnet"), decode_address(net.account("erin")["address"])


def test_batch_submit_and_stream(net):
    dan, erin = _dan_and_erin(net)
    with net.nodes[0].client() as c:
        nonce = c.account(net.account("dan")["address"]).nonce
        st = c.status()
        txs = [sign_tx(dan, st.chain_id, "transfer", Transfer(to=erin, amount=1), nonce + i, st.height + 500) for i in range(300)]
        before = c.account(net.account("erin")["address"]).balance
        r = c.submit_batch(txs + [b"junk"])
        assert r.accepted == 300
        assert r.results[-1].code != 0 and r.results[-1].reason
        c.wait_for_tx(txs[-1].hash, timeout=30)
        assert c.account(net.account("erin")["address"]).balance == before + 300
        # stream blocks from 1: heights arrive in order without gaps
        heights = []
        for b in c.stream_blocks(1):
            heights.append(b.height)
            if len(heights) == 5:
                break
        assert heights == [1, 2, 3, 4, 5]


def test_a_batch_answers_nonce_gaps_before_any_signature_check(net):
    dan, erin = _dan_and_erin(net)
    with net.nodes[0].client() as c:
        nonce = c.account(net.account("dan")["address"]).nonce
        st = c.status()
        good = sign_tx(dan, st.chain_id, "transfer", Transfer(to=erin, amount=1), nonce, st.height + 500)
        gap = sign_tx(dan, st.chain_id, "transfer", Transfer(to=erin, amount=2), nonce + 5, st.height + 500)
        forged = sign_tx(dan, st.chain_id, "transfer", Transfer(to=erin, amount=3), nonce + 1, st.height + 500)
        forged = forged.raw[:-64] + bytes(64)  # the signature zeroed: a bad signature with a good nonce
        forged_gap = sign_tx(dan, st.chain_id, "transfer", Transfer(to=erin, amount=4), nonce + 9, st.height + 500)
        forged_gap = forged_gap.raw[:-64] + bytes(64)
        r = c.submit_batch([good, gap, forged, forged_gap])
        codes_ = [x.code for x in r.results]
        assert r.accepted == 1 and codes_[0] == 0
        assert "nonce" in r.results[1].reason and f"next nonce {nonce + 1}" in r.results[1].reason
        assert "signature" in r.results[2].reason  # its nonce follows: its signature is checked, and fails
        assert "nonce" in r.results[3].reason  # refused on its nonce before its signature was looked at
        c.wait_for_tx(good.hash, timeout=30)


def test_prometheus_metrics(net):
    with net.nodes[0].client() as c:
        h = c.status().height
        wait_until(lambda: c.status().height >= h + 2, 20, "two more blocks")
    values = net.metrics(0)
    assert values["esoc_height"] >= h + 2
    assert values["esoc_blocks_total"] >= 2
    assert values["esoc_committed_txs_total"] >= 1  # the transfers of the tests above
    for step in ("propose", "prevote", "precommit"):
        assert values[f'esoc_consensus_step_seconds_count{{step="{step}"}}'] >= 1
    assert values["esoc_block_interval_seconds_count"] >= 1
    assert values["esoc_block_commit_seconds_count"] >= 2 and values["esoc_block_commit_seconds_sum"] > 0
    assert "esoc_mempool_size" in values and "esoc_peers" in values
