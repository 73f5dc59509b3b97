"""``esoc demo economy`` on a real validator: a small run of the same code path,
its summary checked against what the chain itself says (treasury balance,
supply, receipts)."""

from __future__ import annotations

import argparse
import json

import pytest

from ledger.codec import decode
from ledger.state import Supply
from cli.demo import add_demo_commands, render

from .harness import Devnet

pytestmark = pytest.mark.slow


class CliError(Exception):
    pass


def emit(args, data, human=None):
    print(json.dumps(data) if args.json or human is None else human)


def parser(net: Devnet) -> argparse.ArgumentParser:
    """The demo's own subcommand on a parser shaped like cli/main.py's (``add_demo_commands``)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--node", default=net.nodes[0].grpc)
    common.add_argument("--keystore", default=net.keystore)
    common.add_argument("--json", action="store_true")
    p = argparse.ArgumentParser(prog="esoc", parents=[common])
    sub = p.add_subparsers(dest="cmd")
    add_demo_commands(sub, common, CliError, emit)
    return p


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = Devnet(str(tmp_path_factory.mktemp("demo")), validators=1).start()
    yield d
    d.stop()


def chain_figures(net: Devnet) -> dict:
    with net.nodes[0].client() as c:
        s = c.state(("supply",))
        sup = Supply.decode(s.value)
        return {"treasury": c.account(net.account("treasury")["address"]).balance, "issued": sup.issued,
                "retired": sup.retired, "height": c.status().height}


# Long by design: the demo's summary checked figure by figure against the chain: one story.
def test_demo_economy_small_run_adds_up(net, capsys, monkeypatch):
    monkeypatch.setenv("ESOC_PASSWORD", "devnet")
    before = chain_figures(net)
    args = parser(net).parse_args(["demo", "economy", "--citizens", "20", "--enterprises", "6", "--months", "2",
                                   "--seed", "11", "--json"])
    args.fn(args)  # raises SystemExit(1) on an unexpected failure or a failed check
    out = capsys.readouterr()
    s = json.loads(out.out)
    after = chain_figures(net)
    assert "[" in out.err and "100%" in out.err  # the progress bar went to stderr

    # the devnet's clock is the wall clock: the months ran back to back, and the summary says so
    assert not s["clock"]["simulated"] and s["clock"]["calendar"] is None
    assert "tax_law_counted_every_month" not in s["checks"]
    # the demo's own checks, and the same figures measured here from the chain
    assert s["checks"]["all_ok"], s["checks"]
    t = s["transactions"]
    assert t["committed"] == t["submitted"] > 150 and t["unexpected_failures"] == 0
    # the deliberate refusals, each with the contract-error code: over quota, not accredited,
    # two transferred coupons, one expired coupon
    assert t["failed_by_code"] == {"CONTRACT_4": 5}
    assert sum(t["expected_refusals"].values()) == 5
    proc = s["procurement"]
    treasury_in = s["taxes"]["total"] + proc["fees_to_treasury"] + proc["sale_proceeds_to_treasury"]
    assert after["treasury"] - before["treasury"] == treasury_in == s["treasury"]["change"]
    assert s["taxes"]["iit_wage"] == s["wages"]["tax"] > 0
    assert s["taxes"]["social_insurance"] == s["wages"]["social_insurance"] > 0
    assert s["wages"]["gross"] == s["wages"]["net"] + s["wages"]["tax"] + s["wages"]["social_insurance"]
    assert s["wages"]["payments"] == s["months"] * s["population"]["employed"]  # no layoffs before month 4
    # conservation: the supply changed by exactly what the demo issued, nothing was retired
    assert after["issued"] - before["issued"] == s["supply"]["issued_by_demo"] > 0
    assert after["retired"] == before["retired"]
    assert s["supply"]["balances_change_of_accounts_involved"] == s["supply"]["issued_by_demo"]
    # procurement: every order placed was settled, one over-quota order refused, escrow empty
    assert proc["orders_settled"] == proc["orders_placed"] == 6 and proc["over_quota_refused"] == [104]
    assert proc["escrow_open_after"] == 0
    assert 0 < proc["paid_to_sellers"] < proc["purchases_value"] and proc["fees_to_treasury"] > 0
    # rations: coupons issued to every registered citizen, redeemed within the entitlement
    r = s["rations"]
    assert r["coupons_issued"] == r["coupon_holders"] * r["per_capita"] and r["coupon_holders"] >= 20
    assert 0 < r["redeemed_units"] <= 20 * r["per_capita"] and r["paid_to_sellers"] == r["redeemed_units"] * r["price"]
    assert set(r["refused"].values()) == {1, 2} and sum(r["refused"].values()) == 4
    # welfare: what the law's views say was paid equals what left the fund; pensions reached the retired
    w = s["welfare"]
    assert w["cash_paid"] == sum(k["amount"] for k in w["by_kind"].values())
    assert w["by_kind"].get("pension", {}).get("payments", 0) == s["population"]["retired"]
    # the lottery was drawn with the beacon of a block after applications closed
    lt = s["lottery"]
    assert lt["draw_code"] == 0 and lt["beacon_height"] == lt["draw_at"] and lt["winners"] == lt["redeemed"] > 0
    assert lt["winners"] <= sum(lt["options"].values())
    # planning: guidance published each month, each month closed and judged; procurement's Q came from it
    pl = s["planning"]
    assert pl["months"] == 2 and len(pl["products"]) == 2
    for x in pl["products"].values():
        assert [r["method"] for r in x["periods"]] == ["ets-ana", "ets-ana"]
        assert all(r["realised"] is not None and r["lo95"] <= r["forecast"] <= r["hi95"] for r in x["periods"])
        assert x["backtest_at_first_publication"]["origins"] == 12
    assert pl["scorecard"]["overall"]["n"] >= 4
    steel = pl["products"][proc["product"]]["periods"][1]  # procurement runs in month 2
    assert proc["from_plan"] and proc["quantity_planned"] == steel["recommended"]
    # the state's sales are the product's demand: counted once by the planning law (record_settlement),
    # so each month's realised demand is the demo's known demand, nothing lost or counted twice
    counted = pl["procurement_counted"]
    assert [(c["product"], c["period"], len(c["orders"])) for c in counted] == [(proc["product"], proc["period"], 2)]
    assert counted[0]["quantity"] * proc["price"] == proc["sales_value"] > 0 and counted[0]["quantity"] <= steel["demand"]
    for x in pl["products"].values():
        assert [r["realised"] for r in x["periods"]] == [r["demand"] for r in x["periods"]]
    with net.nodes[0].client() as c:
        sold = decode(c.eval_law("planning", "sales", {"product": proc["product"], "period": proc["period"]}).value)
    assert sold["quantity"] == steel["demand"] and sold["count"] >= 2 + 2  # two tagged payments, two state sales
    # the summary for people renders every section
    text = render(s)
    for word in ("taxes", "welfare paid", "procurement", "planning", "ration", "lottery", "transactions", "supply",
                 "checks", "counted as demand"):
        assert word in text
    # and the welfare hook kept running without a failure
    with net.nodes[0].client() as c:
        assert decode(c.state(("hook", "welfare")).value)["code"] == 0


# --------------------------------------------------------------------------
# a simulated clock: the demo follows the chain's calendar
# --------------------------------------------------------------------------

DAY_MS = 86_400_000


@pytest.fixture(scope="module")
def simnet(tmp_path_factory):
    """A devnet whose blocks are a day apart (``block_time_step_ms``, what ``esoc devnet --time-step-ms`` sets)."""
    d = Devnet(str(tmp_path_factory.mktemp("demo-sim")), validators=1, block_time_step_ms=DAY_MS).start()
    yield d
    d.stop()


def test_demo_economy_follows_a_simulated_calendar(simnet, capsys, monkeypatch):
    monkeypatch.setenv("ESOC_PASSWORD", "devnet")
    with simnet.nodes[0].client() as c:
        st = c.status()
        gap = st.time_ms - c.block(height=st.height - 1).time_ms if st.height > 1 else DAY_MS
    assert gap == DAY_MS  # the harness's keyword setting reached the node's config
    args = parser(simnet).parse_args(["demo", "economy", "--citizens", "20", "--enterprises", "6", "--months", "3",
                                      "--seed", "12", "--json", "--no-progress"])
    args.fn(args)  # raises SystemExit(1) on an unexpected failure or a failed check
    s = json.loads(capsys.readouterr().out)

    # the clock was read from the headers, and the three months are consecutive calendar months of one year
    ck = s["clock"]
    assert ck["simulated"] and ck["step_ms"] == DAY_MS and ck["how"].startswith("detected")
    cal = ck["calendar"]
    assert len(cal) == 3 and len({m[:4] for m in cal}) == 1
    assert [int(m[5:]) for m in cal] == list(range(int(cal[0][5:]), int(cal[0][5:]) + 3))
    assert ck["ended_at"][:7] == cal[-1]  # everything happened within the last month
    # the tax law counted three months of employment, welfare paid three periods: the simulated months
    assert s["wages"]["months_counted_by_tax_law"] == 3
    assert s["welfare_periods"] == cal
    retired = s["population"]["retired"]
    assert retired > 0 and s["welfare"]["by_kind"]["pension"]["payments"] == 3 * retired
    # withholding by the cumulative method summed to the annual table on the year's taxable income
    wt = s["wage_tax_check"]
    assert wt["employees"] == s["population"]["employed"] and wt["mismatched"] == 0 and wt["months_as_payments"]
    assert wt["withheld"] == wt["annual_tax"] == s["wages"]["tax"] == s["taxes"]["iit_wage"] > 0
    # the money checks, and the calendar checks a simulated clock adds
    assert s["checks"]["all_ok"], s["checks"]
    for name in ("tax_law_counted_every_month", "welfare_paid_every_month",
                 "withheld_equals_annual_tax_of_taxable_income", "welfare_views_match_fund"):
        assert s["checks"][name] is True
    t = s["transactions"]
    assert t["committed"] == t["submitted"] and t["unexpected_failures"] == 0 and t["failed_by_code"] == {"CONTRACT_4": 5}
    assert s["welfare"]["paid_to_others"] == {"citizens": 0, "payments": 0, "amount": 0}  # a fresh register
    # afterwards the demo's citizens are off the register (records kept, inactive), so their pensions stop
    assert s["welfare"]["records_closed_after_run"] >= 20
    with simnet.nodes[0].client() as c:
        n = decode(c.eval_law("welfare", "citizen_count", {}).value)
        records = [decode(c.state(("cstore", "welfare", f"c/{i}")).value) for i in range(n)]
        assert n == s["welfare"]["records_closed_after_run"] and not any(r["active"] for r in records)
        assert decode(c.state(("hook", "welfare")).value)["code"] == 0
