"""The light client against a node that lies (a real gRPC server serving a synthetic, signed chain)."""

from __future__ import annotations

import json
import os

import pytest

from ledger.address import address_of, encode_address
from wallet.client import Client
from wallet.light import LightClient, LightClientError, TrustStore


from .fakenode import FakeChain, FakeNode


@pytest.fixture
def node_for(tmp_path):
    started = []

    def make(chain: FakeChain):
        n = FakeNode(chain)
        started.append(n)
        store = TrustStore(str(tmp_path / f"light{len(started)}"))
        store.anchor_genesis_file(n.write_genesis(str(tmp_path / f"genesis{len(started)}.json")))
        return n, store

    yield make
    for n in started:
        n.stop()


def alice(chain):
    return address_of(chain.alice.public)


def test_honest_node_verified_and_cached(node_for):
    chain = FakeChain(height=50)
    n, store = node_for(chain)
    with Client(n.target) as c:
        v = LightClient(c, store).account(alice(chain))
        assert v.account["balance"] == 12_345 and v.account["nonce"] == 3 and v.height == 50
        assert v.trusted_from == 0 and v.header_checks == 1  # one skip from genesis under a stable set
        # trusted headers are kept on disk: the next run starts from there and checks nothing again
        assert store.latest().height == 50 and os.path.exists(os.path.join(store.path, "headers", "50.json"))
        v2 = LightClient(c, TrustStore(store.path)).account(alice(chain))
        assert v2.trusted_from == 50 and v2.header_checks == 0


def test_away_for_100000_blocks_catches_up_in_one_check(node_for):
    chain = FakeChain(height=100_000)
    n, store = node_for(chain)
    with Client(n.target) as c:
        v = LightClient(c, store).account(alice(chain))
    assert v.height == 100_000 and v.header_checks == 1
    assert chain.calls["GetBlock"] <= 3


def test_skipping_across_many_validator_set_changes(node_for):
    # the set slides by one key every 100 blocks: after 3 changes nobody the wallet trusted is left,
    # so it must bisect; 40 changes over 4,000 blocks
    chain = FakeChain(height=4_000, schedule=lambda h: [h // 100 + i for i in range(4)])
    n, store = node_for(chain)
    with Client(n.target) as c:
        lc = LightClient(c, store)
        v = lc.account(alice(chain))
    assert v.height == 4_000 and v.account["balance"] == 12_345
    assert 13 <= v.header_checks < 200, v.header_checks  # far fewer than 4,000 sequential checks
    assert store.latest().height == 4_000


def test_forged_balance_is_caught(node_for):
    chain = FakeChain(height=20)
    chain.forge_balance = True
    n, store = node_for(chain)
    with Client(n.target) as c, pytest.raises(LightClientError, match="forged value"):
        LightClient(c, store).account(alice(chain))


def test_header_with_too_few_signatures_is_caught(node_for):
    chain = FakeChain(height=20)
    chain.few_signatures = {20}
    n, store = node_for(chain)
    with Client(n.target) as c, pytest.raises(LightClientError, match="not properly signed.*not more than 2/3"):
        LightClient(c, store).account(alice(chain))
    assert store.latest().height == 0  # nothing from that node was trusted


@pytest.mark.parametrize("from_height", [1, 7])
def test_validator_set_that_does_not_follow_is_caught(node_for, from_height):
    # the node invents a validator set of its own keys (self-consistent: header, commit, GetValidators agree)
    chain = FakeChain(height=30)
    chain.fake_set_from = from_height
    n, store = node_for(chain)
    with Client(n.target) as c, pytest.raises(LightClientError, match="does not follow"):
        LightClient(c, store).account(alice(chain))


def test_header_from_another_chain_is_caught(node_for):
    chain = FakeChain(height=10)
    n, store = node_for(chain)
    chain.other_chain = "esoc-elsewhere"  # after the wallet anchored the real genesis
    with Client(n.target) as c, pytest.raises(LightClientError, match="chain 'esoc-elsewhere'"):
        LightClient(c, store).account(alice(chain))


def test_no_anchor_is_a_clear_error(tmp_path):
    chain = FakeChain(height=5)
    n = FakeNode(chain)
    try:
        with Client(n.target) as c, pytest.raises(LightClientError, match="trusts no genesis"):
            LightClient(c, TrustStore(str(tmp_path / "none"))).account(alice(chain))
    finally:
        n.stop()


def test_cli_account_refuses_a_lying_node(node_for, esoc_cli, tmp_path):
    chain = FakeChain(height=20)
    chain.forge_balance = True
    n, _ = node_for(chain)
    ks = str(tmp_path / "ks")
    g = n.write_genesis(str(tmp_path / "g.json"))
    assert esoc_cli("--keystore", ks, "--node", n.target, "wallet", "trust", g).code == 0
    who = encode_address(alice(chain))
    r = esoc_cli("account", who, "--keystore", ks, "--node", n.target)
    assert r.code == 1 and "forged value" in r.err and len(r.err.strip().splitlines()) == 1 and r.out == ""
    r = esoc_cli("account", who, "--keystore", ks, "--node", n.target, "--no-verify", "--json")
    assert r.code == 0 and json.loads(r.out)["verified"] is False  # explicit: the node's word
    chain.forge_balance = False
    r = esoc_cli("account", who, "--keystore", ks, "--node", n.target, "--json")
    assert r.code == 0 and json.loads(r.out)["balance"] == 12_345 and json.loads(r.out)["verified"] is True
