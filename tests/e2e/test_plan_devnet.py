"""``esoc plan`` on a real devnet (one validator process, gRPC): history on chain, guidance computed
and published in one transaction, verified by anyone, procurement quotas following it, bad
declarations refused with a clear error."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from ledger.block import Receipt
from ledger.tx import Call
from planning import guidance, synthetic
from wallet.keystore import Keystore

from .harness import Devnet

pytestmark = pytest.mark.slow

START, TARGET = 202301, 202601


class Sender:
    def __init__(self, net):
        self.net = net
        self.ks = Keystore(net.keystore)
        self.keys = {}

    def addr(self, name):
        return self.net.account(name)["address"]

    def batch(self, name, calls):
        """``(law, entry, args)`` calls from one sender, consecutive nonces; their receipts."""
        key = self.keys.setdefault(name, self.ks.unlock(name, "devnet"))
        with self.net.nodes[0].client() as c:
            first = c.sign(key, "call", Call(contract=calls[0][0], entry=calls[0][1], args=calls[0][2],
                                             gas_limit=5_000_000))
            txs = [first] + [c.sign(key, "call", Call(contract=law, entry=e, args=a, gas_limit=5_000_000),
                                    nonce=first.body.nonce + i + 1) for i, (law, e, a) in enumerate(calls[1:])]
            r = c.submit_batch(txs)
            assert r.accepted == len(txs), [x.reason for x in r.results if x.code]
            return [Receipt.decode(c.wait_for_tx(t.hash, timeout=60, poll=0.05).receipt) for t in txs]


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = Devnet(str(tmp_path_factory.mktemp("plan")), validators=1, block_interval_ms=100).start()
    yield n
    n.stop()


def run(net, *args):
    r = CliRunner().invoke(cli, ["plan", *args, "--node", net.nodes[0].grpc, "--keystore", net.keystore],
                           env={"ESOC_PASSWORD": "devnet"}, catch_exceptions=False)
    return r


def test_plan_on_a_devnet(net, tmp_path):
    s = Sender(net)
    steel_works = s.addr("steelworks")
    rc = s.batch("planning-agency", [("planning", "add_product", {"code": "steel", "name": "Rebar", "unit": "tonne"}),
                                     ("planning", "add_producer", {"product": "steel", "enterprise": steel_works})])
    assert [x.code for x in rc] == [0, 0]
    sales, reserved = synthetic.product_series(37, seed=21)
    pays, res, decl = [], [], []
    p = START
    for t in range(36):
        pays.append(("planning", "pay", {"product": "steel", "period": p, "seller": steel_works, "quantity": sales[t],
                                         "amount": sales[t] * 100}))
        res.append(("planning", "reserve", {"product": "steel", "period": p, "quantity": reserved[t]}))
        decl.append(("planning", "declare", {"product": "steel", "period": p, "production": sales[t], "inventory": 0}))
        p = guidance.add_months(p, 1)
    res.append(("planning", "reserve", {"product": "steel", "period": TARGET, "quantity": reserved[36]}))
    assert all(x.code == 0 for x in s.batch("bakery", pays) + s.batch("alice", res) + s.batch("steelworks", decl))

    # the catalogue; compute and publish; anyone verifies
    r = run(net, "products", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)[0]["producers"] == [steel_works]
    r = run(net, "compute", str(TARGET), "--origins", "4", "--publish", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    item = out["publish"]["items"][0]
    assert item["method"] == "ets-ana" and out["published"]["height"] > out["publish"]["data_to"]
    assert [a["period"] for a in item["ahead"]] == [202602, 202603]  # the default horizon: 3 periods
    r = run(net, "verify", "--json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)
    assert rep["agree"] and rep["products"][0]["agree"] and rep["products"][0]["exact"] is True
    r = run(net, "show", "steel", "--json")
    rows = json.loads(r.stdout)["periods"]
    assert rows[-1]["period"] == TARGET and rows[-1]["guidance"]["forecast"] == item["forecast"]
    assert rows[-1]["guidance"]["ahead"] == item["ahead"]
    r = run(net, "show", "steel")
    assert "202601" in r.output and str(item["forecast"]) in r.output
    later = r.output.split("ahead (guidance for 202601):")[1].splitlines()[1:]
    assert [line.split()[:2] for line in later] == [[str(a["period"]), str(a["forecast"])] for a in item["ahead"]]
    chart = tmp_path / "steel.svg"
    r = run(net, "show", "steel", "--svg", str(chart))
    assert r.exit_code == 0 and chart.read_text().startswith("<svg") and "forecast" in chart.read_text()

    # citizens reserve; a bad declaration is refused with a clear error
    r = run(net, "reserve", "steel", "202602", "7", "--from", "alice", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["result"] == 7
    r = run(net, "declare", "flour", "202601", "--production", "5", "--inventory", "0", "--from", "steelworks")
    assert r.exit_code == 1 and "unknown product 'flour'" in r.output
    r = run(net, "declare", "steel", "202601", "--production", "-5", "--inventory", "0", "--from", "steelworks")
    assert r.exit_code == 1 and "production must not be negative" in r.output
    r = run(net, "declare", "steel", "202601", "--production", "5", "--inventory", "0", "--from", "bakery")
    assert r.exit_code == 1 and "is not a registered producer of 'steel'" in r.output

    # procurement reads its quantity from the guidance (plan_share is 100 % on a devnet started after 2026-06)
    h = net.height(0)
    rc = s.batch("planning-agency", [("procurement", "publish_from_plan", {"product": "steel", "period": TARGET,
                                                                           "optin_close": h + 30, "ends": h + 500})])
    assert rc[0].code == 0, rc[0].result
    assert rc[0].result["quantity"] == item["recommended"] and rc[0].result["price"] == item["price_lo"]
