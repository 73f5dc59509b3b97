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


# ---- the trusting period and the clock (CometBFT's light client) -------------------------------------------

DAY = 86_400_000


def test_trusted_header_past_the_trusting_period_is_refused_until_a_checkpoint(node_for, tmp_path):
    chain = FakeChain(height=30)
    n, store = node_for(chain)
    with Client(n.target) as c:
        LightClient(c, store).account(alice(chain))  # verified now: block 30 is trusted
        assert store.latest().height == 30 and store.latest().time_ms == chain.t0_ms + 30_000
        chain.height = 40
        later = chain.t0_ms + 30_000 + 15 * DAY  # the wallet comes back 15 days after block 30's time
        with pytest.raises(LightClientError, match=r"height 30\) is 15\.0 days old, past its trusting period of 14\.0 days"):
            LightClient(c, store, now_ms=lambda: later).account(alice(chain))
        assert store.latest().height == 30  # nothing was verified from it
        # 13.9 days: still within the period
        v = LightClient(c, store, now_ms=lambda: chain.t0_ms + 30_000 + 13 * DAY + 9 * DAY // 10).account(alice(chain))
        assert v.height == 40 and v.trusted_from == 30
        # a recent checkpoint, from a source the user trusts, re-opens verified reads
        chain.height = 60
        hd = chain.header(55)
        store.anchor_genesis_file(str(tmp_path / "genesis1.json"), checkpoint=(55, hd.hash), client=c)
        v = LightClient(c, store, now_ms=lambda: chain.t0_ms + 60_000 + DAY).account(alice(chain))
        assert v.height == 60 and v.trusted_from == 55


def test_genesis_anchor_of_an_old_chain_needs_a_checkpoint(node_for):
    chain = FakeChain(height=20, t0_ms=1_700_000_000_000)  # a chain started in November 2023
    n, store = node_for(chain)
    now = 1_700_000_000_000 + 20 * DAY
    with Client(n.target) as c, pytest.raises(LightClientError, match="height 0\\) is 20.0 days old.*--checkpoint"):
        LightClient(c, store, now_ms=lambda: now).account(alice(chain))


def test_header_from_the_future_is_refused(node_for):
    chain = FakeChain(height=10)
    n, store = node_for(chain)
    with Client(n.target) as c:
        # the node's block 10 is an hour ahead of this computer's clock
        with pytest.raises(LightClientError, match="block 10 is dated 1.0 hours ahead of this computer's clock"):
            LightClient(c, store, now_ms=lambda: chain.t0_ms + 10_000 - 3_600_000).account(alice(chain))
        # 5 s ahead is within the drift allowed
        v = LightClient(c, store, now_ms=lambda: chain.t0_ms + 10_000 - 5_000).account(alice(chain))
        assert v.height == 10


def test_header_not_after_the_trusted_one_is_refused(node_for):
    chain = FakeChain(height=10)
    n, store = node_for(chain)
    with Client(n.target) as c:
        LightClient(c, store).account(alice(chain))
        chain.height = 12
        chain.t0_ms -= 5_000  # the node now dates block 12 before the trusted block 10
        with pytest.raises(LightClientError, match="block 12's time is not after the trusted block 10's"):
            LightClient(c, store).account(alice(chain))


def test_zero_trusting_period_checks_no_clock(node_for, tmp_path):
    chain = FakeChain(height=10, t0_ms=1_700_000_000_000)
    n = FakeNode(chain)
    try:
        store = TrustStore(str(tmp_path / "sim"))
        store.anchor_genesis_file(n.write_genesis(str(tmp_path / "g.json")), trusting_period_ms=0)
        with Client(n.target) as c:
            assert LightClient(c, store, now_ms=lambda: 0).account(alice(chain)).height == 10
        with pytest.raises(LightClientError, match="whole number of milliseconds >= 0"):
            store.anchor_genesis_file(str(tmp_path / "g.json"), trusting_period_ms=-1)
    finally:
        n.stop()


def test_devnet_on_a_simulated_clock_has_no_trusting_period(tmp_path):
    chain = FakeChain(height=3)
    n = FakeNode(chain)
    try:
        for step, want in ((0, 14 * DAY), (DAY, 0)):
            home = tmp_path / f"devnet{step}"
            home.mkdir()
            n.write_genesis(str(home / "genesis.json"))
            (home / "devnet.json").write_text(json.dumps({"time_step_ms": step}))
            store = TrustStore.for_keystore(str(home / "keystore"))
            assert store.trusting_period_ms() == want
    finally:
        n.stop()


def test_header_saved_by_an_older_wallet_gets_its_time_from_the_node(node_for):
    chain = FakeChain(height=20)
    n, store = node_for(chain)
    with Client(n.target) as c:
        LightClient(c, store).account(alice(chain))
        path = os.path.join(store.path, "headers", "20.json")
        doc = json.load(open(path))
        del doc["time_ms"]  # as written before the trusting period existed
        json.dump(doc, open(path, "w"))
        chain.height = 25
        with pytest.raises(LightClientError, match="past its trusting period"):  # block 20's time, read from the node
            LightClient(c, store, now_ms=lambda: chain.t0_ms + 20_000 + 14 * DAY).account(alice(chain))
        chain.t0_ms += 1  # now the node's block 20 is another block (another time, another hash)
        with pytest.raises(LightClientError, match="block 20 is not the one the wallet trusts"):
            LightClient(c, store).account(alice(chain))


def test_cli_trust_sets_the_trusting_period(node_for, esoc_cli, tmp_path):
    chain = FakeChain(height=5)
    n, _ = node_for(chain)
    ks = str(tmp_path / "ks")
    g = n.write_genesis(str(tmp_path / "g.json"))
    r = esoc_cli("--keystore", ks, "--node", n.target, "wallet", "trust", g, "--trusting-period", "3", "--json")
    assert r.code == 0 and json.loads(r.out)["trusting_period_ms"] == 3 * DAY
    assert TrustStore.for_keystore(ks).trusting_period_ms() == 3 * DAY
    r = esoc_cli("--keystore", ks, "--node", n.target, "wallet", "trust", g, "--trusting-period", "-1")
    assert r.code == 2 and "-1" in r.err
