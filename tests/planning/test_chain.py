"""Guidance end to end on one node's application (real LevelDB store, every law installed):
a synthetic seasonal history on chain, guidance computed from it and published in one transaction,
recomputed by ``verify``, and procurement quotas following it."""

from __future__ import annotations

import calendar
import dataclasses
import os

import pytest

from chain.app import open_application
from chain.contract_host import LawQueries
from ledger.genesis import GenesisLaw
from contracts.runtime.registry import law_sources
from ledger.address import encode_address
from ledger.codec import decode
from ledger.store import ChainStore
from ledger.tx import Call
from planning import guidance, synthetic
from tests.chain import ADDR, GENESIS_TIME, World, make_genesis

ACCOUNTS = {
    "cb": (0, "agency", ("central_bank", "treasury")),
    "reg": (0, "agency", ("registrar",)),
    "dave": (10**13, "agency", ("planning_agency",)),  # the planning agency
    "ent": (0, "enterprise", ()),  # the producer
    "carol": (10**13, "enterprise", ()),  # a buyer (a mill)
    "alice": (10**6, "citizen", ()),
}
START = 202301  # 36 months of history: 2023-01 .. 2025-12; guidance for 2026-01
TARGET = 202601
GAS = 50_000_000


class LawWorld(World):
    """``World`` with every law of contracts/laws installed at genesis, and law views."""

    def __init__(self, tmp_dir):
        g = make_genesis(accounts=ACCOUNTS)
        g = dataclasses.replace(g, laws=tuple(GenesisLaw(n, s) for n, s in sorted(law_sources().items())))
        self.genesis = g
        self.path = os.path.join(str(tmp_dir), "node")
        self.store = ChainStore(self.path)
        self.app = open_application(self.store, g)
        self.chain_id = g.chain_id
        self._next_nonce = {}
        self.time = calendar.timegm((2026, 1, 2, 12, 0, 0)) * 1000  # plan_share is 100 % from 2026-06-01? not yet
        self.queries = LawQueries(self.app.contracts, self.store, GENESIS_TIME)

    def call(self, signer, law, entry, args):
        return self.tx(signer, "call", Call(contract=law, entry=entry, args=args, gas_limit=GAS))

    def run(self, *txs):
        ex = self.block(*txs)
        return [(r.code, r.result) for r in ex.receipts]

    def reader(self, fn, args, height=0):
        r = self.queries.eval("planning", fn, args, height or self.store.height())
        value = decode(r["value"]) if r.get("value") else None
        if r["code"]:
            raise guidance.GuidanceError(f"{fn}: {value}")
        return value


def addr(name):
    return encode_address(ADDR[name])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = LawWorld(tmp_path_factory.mktemp("plan"))
    codes = w.run(w.call("dave", "planning", "add_product", {"code": "steel", "name": "Rebar", "unit": "tonne"}),
                  w.call("dave", "planning", "add_product", {"code": "tin", "name": "Tin", "unit": "kg"}),
                  w.call("dave", "planning", "add_producer", {"product": "steel", "enterprise": addr("ent")}))
    assert [c for c, _ in codes] == [0, 0, 0]
    sales, reserved = synthetic.product_series(37, seed=4)
    txs = []
    p = START
    for t in range(36):
        txs.append(w.call("carol", "planning", "pay", {"product": "steel", "period": p, "seller": addr("ent"),
                                                       "quantity": sales[t], "amount": sales[t] * 250_000}))
        txs.append(w.call("alice", "planning", "reserve", {"product": "steel", "period": p, "quantity": reserved[t]}))
        txs.append(w.call("ent", "planning", "declare", {"product": "steel", "period": p, "production": sales[t],
                                                         "inventory": 5 if t == 35 else 0}))
        p = guidance.add_months(p, 1)
    txs.append(w.call("alice", "planning", "reserve", {"product": "steel", "period": TARGET, "quantity": reserved[36]}))
    assert all(c == 0 for c, _ in w.run(*txs))
    w.sales = sales
    yield w
    w.close()


def test_guidance_is_computed_published_and_recomputed_by_anyone(world):
    w = world
    h = w.store.height()
    args = guidance.compute(w.reader, TARGET, h, backtest_origins=6)
    steel, tin = args["items"]
    assert steel["method"] == "ets-ana" and steel["n"] == 36 and steel["params"]["first_period"] == START
    assert steel["lo95"] <= steel["lo80"] <= steel["forecast"] <= steel["hi80"] <= steel["hi95"]
    assert steel["recommended"] == steel["forecast"] - 5  # less the inventory declared at the end of 2025-12
    assert steel["price_lo"] == steel["price_hi"] == 250_000 and steel["backtest"]["origins"] == 6
    assert tin["method"] == "none" and tin["n"] == 0 and tin["hi80"] == 3  # no history: no crash, wide
    # the next periods: the item's own numbers are TARGET's, ahead lists the two months after it
    assert [a["period"] for a in steel["ahead"]] == [202602, 202603] and len(tin["ahead"]) == 2
    assert all(a["lo95"] <= a["lo80"] <= a["forecast"] <= a["hi80"] <= a["hi95"] for a in steel["ahead"])
    assert steel["backtest"]["h2_n"] == 5 and steel["backtest"]["h3_n"] == 4
    assert [c for c, _ in w.run(w.call("dave", "planning", "publish", args))] == [0]
    report = guidance.verify(w.reader)  # the latest period
    assert report["period"] == TARGET and report["publications"][0]["data_to"] == h
    assert report["agree"], report
    assert [(x["product"], x["agree"], x["exact"]) for x in report["products"]] == [("steel", True, True),
                                                                                  ("tin", True, True)]
    assert w.reader("guidance", {"product": "steel", "period": TARGET})["ahead"] == steel["ahead"]


def test_tampered_guidance_is_caught_by_verify(world):
    w = world
    args = guidance.compute(w.reader, 202602, w.store.height(), backtest_origins=0)
    args["items"][0]["forecast"] += 40
    args["items"][0]["hi80"] += 40
    args["items"][0]["hi95"] += 40
    assert [c for c, _ in w.run(w.call("dave", "planning", "publish", args))] == [0]
    report = guidance.verify(w.reader, 202602, refit=False)
    steel = report["products"][0]
    assert not report["agree"] and not steel["agree"] and not steel["exact"]
    assert steel["differences"]["exact"]["forecast"]["published"] == steel["differences"]["exact"]["forecast"][
        "recomputed"] + 40


def test_a_tampered_forecast_ahead_is_caught_by_verify(world):
    w = world
    args = guidance.compute(w.reader, 202604, w.store.height(), backtest_origins=0, products=["steel"])
    a = args["items"][0]["ahead"][1]  # 202606
    a["forecast"] += 1
    a["hi80"] += 1
    a["hi95"] += 1
    assert [c for c, _ in w.run(w.call("dave", "planning", "publish", args))] == [0]
    report = guidance.verify(w.reader, 202604, refit=False)
    d = report["products"][0]["differences"]["exact"]
    assert not report["agree"] and set(d) == {"ahead.202606.forecast", "ahead.202606.hi80", "ahead.202606.hi95"}
    assert d["ahead.202606.forecast"]["published"] == d["ahead.202606.forecast"]["recomputed"] + 1


def test_guidance_for_one_period_only_has_no_ahead_and_verifies(world):
    w = world
    args = guidance.compute(w.reader, 202605, w.store.height(), backtest_origins=3, products=["steel"], horizon=1)
    assert "ahead" not in args["items"][0] and "h2_n" not in args["items"][0]["backtest"]
    assert [c for c, _ in w.run(w.call("dave", "planning", "publish", args))] == [0]
    assert guidance.verify(w.reader, 202605)["agree"]
    with pytest.raises(guidance.GuidanceError, match="horizon must be 1..6"):
        guidance.compute(w.reader, 202607, w.store.height(), products=["steel"], horizon=7)


def test_procurement_quotas_follow_the_published_guidance(world):
    w = world
    w.time = calendar.timegm((2026, 7, 1, 12, 0, 0)) * 1000  # plan_share (100 %) is in force from 2026-06-01
    g = w.reader("guidance", {"product": "steel", "period": TARGET})
    h = w.store.height()
    res = w.run(w.call("cb", "procurement", "set_treasury", {}),
                w.call("dave", "procurement", "publish_from_plan", {"product": "steel", "period": TARGET,
                                                                    "optin_close": h + 2, "ends": h + 100}),
                w.call("ent", "procurement", "opt_in", {"product": "steel", "period": TARGET, "capacity": 10**6,
                                                        "demand": 0}))
    assert [c for c, _ in res] == [0, 0, 0], res
    pg = res[1][1]
    assert pg["quantity"] == g["recommended"] and pg["unit"] == "tonne"
    assert pg["upper"] == g["recommended"] * (10_000 + pg["band"]) // 10_000 and pg["upper"] >= g["hi80"] - 1
    w.run()
    w.run()
    q = w.queries.eval("procurement", "quota", {"product": "steel", "period": TARGET, "enterprise": addr("ent")},
                       w.store.height())
    assert decode(q["value"])["purchase"] == pg["upper"]  # the only seller: its quota is all of U


def test_closing_the_period_publishes_how_good_the_plan_was(world):
    w = world
    g = w.reader("guidance", {"product": "steel", "period": TARGET})
    actual = w.sales[36]
    res = w.run(w.call("carol", "planning", "pay", {"product": "steel", "period": TARGET, "seller": addr("ent"),
                                                    "quantity": actual, "amount": actual * 250_000}),
                w.call("dave", "planning", "close_period", {"period": TARGET}))
    assert [c for c, _ in res] == [0, 0]
    o = w.reader("outcome", {"product": "steel", "period": TARGET})
    assert o["realised"] == actual and o["error"] == actual - g["forecast"]
    assert o["in80"] == (g["lo80"] <= actual <= g["hi80"])
    track = w.reader("track", {"product": "steel", "first": 202512, "last": TARGET})
    assert track[1]["guidance"]["forecast"] == g["forecast"] and track[1]["outcome"]["realised"] == actual
    assert w.reader("scorecard", {})["overall"]["n"] == 2  # steel and tin


def test_forecast_against_outcome_chart(world):
    import xml.etree.ElementTree as ET

    from planning.chart import svg

    rows = world.reader("track", {"product": "steel", "first": 202501, "last": 202602})
    doc = ET.fromstring(svg(rows, "steel"))
    ns = "{http://www.w3.org/2000/svg}"
    bands = [e for e in doc.iter(f"{ns}rect")]
    assert len(bands) == 2 * sum(1 for r in rows if r["guidance"]) >= 4  # 80 % and 95 % per period with guidance
    assert len(doc.find(f"{ns}polyline").get("points").split()) >= 12  # the realised sales line


def test_guidance_with_missing_parameters_is_a_disagreement_not_a_crash(world):
    w = world
    args = guidance.compute(w.reader, 202603, w.store.height(), backtest_origins=0, products=["steel"])
    del args["items"][0]["params"]["alpha_e6"]
    assert [c for c, _ in w.run(w.call("dave", "planning", "publish", args))] == [0]
    report = guidance.verify(w.reader, 202603)
    steel = report["products"][0]
    assert not report["agree"] and "cannot recompute: KeyError" in steel["differences"]["exact"]["params"]["recomputed"]


def test_bad_input_is_refused_on_the_chain_with_a_clear_error(world):
    """Through the real application: each refusal is a failed receipt with the law's reason, and nothing changes."""
    w = world
    before = w.reader("series", {"product": "steel", "first": 202608, "last": 202608})
    good = guidance.compute(w.reader, 202608, w.store.height(), backtest_origins=0, products=["steel"])
    bent = [dict(good["items"][0], ahead=[dict(a) for a in good["items"][0]["ahead"]])]
    bent[0]["ahead"][0]["period"] = 202610  # skips 202609
    res = w.run(
        w.call("ent", "planning", "declare", {"product": "rice", "period": 202608, "production": 5, "inventory": 0}),
        w.call("ent", "planning", "declare", {"product": "steel", "period": 202608, "production": -5, "inventory": 0}),
        w.call("carol", "planning", "declare", {"product": "steel", "period": 202608, "production": 5, "inventory": 0}),
        w.call("alice", "planning", "reserve", {"product": "steel", "period": 202608, "quantity": -1}),
        w.call("dave", "planning", "publish", dict(good, items=bent)))
    details = [(r["error"], r["detail"]) for _, r in res]
    assert all(code != 0 for code, _ in res)
    assert details == [(3, "unknown product 'rice'"), (2, "production must not be negative (got -5)"),
                       (5, f"{addr('carol')} is not a registered producer of 'steel'"),
                       (2, "quantity must not be negative (got -1)"),
                       (2, "steel: ahead must list the periods after 202608 in order: expected 202609, got 202610")]
    assert w.reader("series", {"product": "steel", "first": 202608, "last": 202608}) == before
    assert w.reader("guidance", {"product": "steel", "period": 202608}) is None
