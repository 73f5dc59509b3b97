"""The planning law: catalogue, declarations, reservations, sales, requests, guidance, outcomes;
and procurement reading its quantity from the published guidance."""

from __future__ import annotations

import pytest

from .helpers import PLANNING, TREASURY, at, call, make_host, ok, refused, set_time, view

LAW = "planning"
STEEL_A, STEEL_B, MILL, ALICE, BOB = "esc1steela", "esc1steelb", "esc1mill", "esc1alice", "esc1bob"
E_NOT_AUTHORIZED, E_BAD_ARGUMENT, E_UNKNOWN_PRODUCT, E_NOT_PRODUCER, E_PERIOD_CLOSED, E_ALREADY = 1, 2, 3, 5, 6, 7


def item(product="steel", forecast=1_000, lo80=900, hi80=1_100, lo95=850, hi95=1_150, recommended=1_000, **kw):
    it = {"product": product, "forecast": forecast, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95,
          "recommended": recommended, "price_lo": 240_000, "price_hi": 260_000, "n": 36,
          "method": "ets-ana", "digest": "ab" * 32, "params": {"alpha_e6": 100_000}, "backtest": {"cov80_bps": 8_000}}
    it.update(kw)
    return it


def setup(time=None):
    host = make_host(height=10, time=time, balances={ALICE: 10**9, MILL: 10**12, PLANNING: 10**12})
    host.kinds = {STEEL_A: "enterprise", STEEL_B: "enterprise", MILL: "enterprise", ALICE: "citizen",
                  BOB: "citizen", PLANNING: "agency", TREASURY: "agency", "contract:procurement": "contract"}
    ok(call(host, LAW, "add_product", {"code": "steel", "name": "Rebar steel", "unit": "tonne"}, sender=PLANNING))
    ok(call(host, LAW, "add_product", {"code": "flour", "name": "Wheat flour", "unit": "kg"}, sender=PLANNING))
    ok(call(host, LAW, "add_producer", {"product": "steel", "enterprise": STEEL_A}, sender=PLANNING))
    ok(call(host, LAW, "add_producer", {"product": "steel", "enterprise": STEEL_B}, sender=PLANNING))
    return host


def test_catalogue_is_kept_by_the_planning_agency():
    host = setup()
    assert [p["code"] for p in view(host, LAW, "products")] == ["steel", "flour"]
    assert view(host, LAW, "product", {"code": "steel"})["unit"] == "tonne"
    refused(call(host, LAW, "add_product", {"code": "rice", "name": "Rice", "unit": "kg"}, sender=MILL), E_NOT_AUTHORIZED)
    refused(call(host, LAW, "add_product", {"code": "steel", "name": "x", "unit": "t"}, sender=PLANNING), E_ALREADY)
    refused(call(host, LAW, "add_product", {"code": "a/b", "name": "x", "unit": "t"}, sender=PLANNING), E_BAD_ARGUMENT)
    refused(call(host, LAW, "add_producer", {"product": "steel", "enterprise": ALICE}, sender=PLANNING), E_BAD_ARGUMENT)
    assert view(host, LAW, "producers", {"product": "steel"}) == [STEEL_A, STEEL_B]


def test_bad_declarations_are_refused_with_a_clear_error():
    host = setup()
    r = call(host, LAW, "declare", {"product": "tin", "period": 202601, "production": 5, "inventory": 0}, sender=STEEL_A)
    refused(r, E_UNKNOWN_PRODUCT)
    assert r.value["detail"] == "unknown product 'tin'"
    r = call(host, LAW, "declare", {"product": "steel", "period": 202601, "production": -5, "inventory": 0},
             sender=STEEL_A)
    refused(r, E_BAD_ARGUMENT)
    assert r.value["detail"] == "production must not be negative (got -5)"
    r = call(host, LAW, "declare", {"product": "flour", "period": 202601, "production": 5, "inventory": 0},
             sender=STEEL_A)  # flour is not STEEL_A's product
    refused(r, E_NOT_PRODUCER)
    assert r.value["detail"] == f"{STEEL_A} is not a registered producer of 'flour'"
    refused(call(host, LAW, "declare", {"product": "steel", "period": 202613, "production": 5, "inventory": 0},
                 sender=STEEL_A), E_BAD_ARGUMENT)
    refused(call(host, LAW, "declare", {"product": "steel", "period": 202601, "production": "5", "inventory": 0},
                 sender=STEEL_A), E_BAD_ARGUMENT)
    # a good one, then a replacement: totals follow
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202601, "production": 500, "inventory": 20},
            sender=STEEL_A))
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202601, "production": 300, "inventory": 10,
                                   "stockout": 4}, sender=STEEL_B))
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202601, "production": 450, "inventory": 0},
            sender=STEEL_A))
    s = view(host, LAW, "series", {"product": "steel", "first": 202601, "last": 202601})[0]
    assert (s["produced"], s["inventory"], s["stockout"], s["declarants"]) == (750, 10, 4, 2)


def test_reservations_requests_and_sales_are_recorded_per_product_and_period():
    host = setup()
    ok(call(host, LAW, "reserve", {"product": "steel", "period": 202602, "quantity": 30}, sender=ALICE))
    ok(call(host, LAW, "reserve", {"product": "steel", "period": 202602, "quantity": 70}, sender=MILL))
    assert ok(call(host, LAW, "reserve", {"product": "steel", "period": 202602, "quantity": 10}, sender=ALICE)) == 80
    refused(call(host, LAW, "reserve", {"product": "steel", "period": 202602, "quantity": 1}, sender=PLANNING),
            E_NOT_AUTHORIZED)
    refused(call(host, LAW, "reserve", {"product": "steel", "period": 202602, "quantity": -1}, sender=ALICE),
            E_BAD_ARGUMENT)
    # tagged payments move the money and count as sales
    ok(call(host, LAW, "pay", {"product": "steel", "period": 202601, "seller": STEEL_A, "quantity": 4,
                               "amount": 1_000_000}, sender=MILL))
    ok(call(host, LAW, "pay", {"product": "steel", "period": 202601, "seller": STEEL_B, "quantity": 1,
                               "amount": 250_000}, sender=ALICE))
    assert host.balances[STEEL_A] == 1_000_000 and host.balances[ALICE] == 10**9 - 250_000
    refused(call(host, LAW, "pay", {"product": "steel", "period": 202601, "seller": BOB, "quantity": 1,
                                    "amount": 1}, sender=ALICE), E_BAD_ARGUMENT)  # a citizen is no seller
    ser = view(host, LAW, "series", {"product": "steel", "first": 202512, "last": 202602})
    assert [(x["period"], x["sales"], x["value"], x["reserved"]) for x in ser] == [
        (202512, 0, 0, 0), (202601, 5, 1_250_000, 0), (202602, 0, 0, 80)]
    # new-demand requests: followers counted once each; R&D suggestions name the nearest product's producers
    q = ok(call(host, LAW, "request", {"code": "stainless", "description": "Stainless rebar for the coast",
                                       "near": "steel"}, sender=ALICE))
    ok(call(host, LAW, "follow", {"request_id": q["id"]}, sender=BOB))
    ok(call(host, LAW, "follow", {"request_id": q["id"]}, sender=MILL))
    refused(call(host, LAW, "follow", {"request_id": q["id"]}, sender=BOB), E_ALREADY)
    ok(call(host, LAW, "request", {"code": "oatmilk", "description": "Oat milk"}, sender=BOB))
    refused(call(host, LAW, "request", {"code": "steel", "description": "again"}, sender=BOB), E_ALREADY)
    assert [r["code"] for r in view(host, LAW, "requests")] == ["stainless", "oatmilk"]
    sug = view(host, LAW, "suggestions", {"min_followers": 3})
    assert len(sug) == 1 and sug[0]["request"]["followers"] == 3 and sug[0]["enterprises"] == [STEEL_A, STEEL_B]


def test_guidance_is_one_transaction_per_period_and_checked():
    host = setup()
    args = {"period": 202603, "model": "statsmodels-ets", "model_version": "0.15.0", "data_from": 1, "data_to": 10,
            "items": [item(), item("flour", 50, 40, 60, 30, 70, 50)]}
    refused(call(host, LAW, "publish", args, sender=MILL), E_NOT_AUTHORIZED)
    refused(call(host, LAW, "publish", dict(args, items=[item(lo80=1_001)]), sender=PLANNING), E_BAD_ARGUMENT)
    refused(call(host, LAW, "publish", dict(args, items=[item(product="tin")]), sender=PLANNING), E_UNKNOWN_PRODUCT)
    refused(call(host, LAW, "publish", dict(args, items=[item(extra=1)]), sender=PLANNING), E_BAD_ARGUMENT)
    refused(call(host, LAW, "publish", dict(args, items=[item(), item()]), sender=PLANNING), E_BAD_ARGUMENT)
    refused(call(host, LAW, "publish", dict(args, data_to=11), sender=PLANNING), E_BAD_ARGUMENT)  # the future
    head = ok(call(host, LAW, "publish", args, sender=PLANNING))
    assert head["products"] == ["steel", "flour"] and head["data_to"] == 10 and head["id"] == 1
    refused(call(host, LAW, "publish", args, sender=PLANNING), E_ALREADY)
    assert view(host, LAW, "latest")["period"] == 202603
    # a product added later gets its own publication for the period
    ok(call(host, LAW, "add_product", {"code": "tin", "name": "Tin", "unit": "kg"}, sender=PLANNING))
    ok(call(host, LAW, "publish", dict(args, items=[item("tin")]), sender=PLANNING))
    assert [p["products"] for p in view(host, LAW, "published", {"period": 202603})] == [["steel", "flour"], ["tin"]]
    assert view(host, LAW, "guidance", {"product": "tin", "period": 202603})["publication"] == 2
    g = view(host, LAW, "guidance", {"product": "steel", "period": 202603})
    assert g["recommended"] == 1_000 and g["params"] == {"alpha_e6": 100_000}


def test_closing_a_period_judges_the_guidance_and_the_enterprises_that_followed_it():
    host = setup()
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202602, "production": 600, "inventory": 0},
            sender=STEEL_A))
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202602, "production": 400, "inventory": 0},
            sender=STEEL_B))
    ok(call(host, LAW, "publish", {"period": 202603, "model": "m", "model_version": "1", "data_from": 1,
                                   "data_to": 10, "items": [item()]}, sender=PLANNING))
    # A's share is 60 %: its band is 540..660; B's 40 %: 360..440
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202603, "production": 600, "inventory": 5},
            sender=STEEL_A))
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202603, "production": 700, "inventory": 280},
            sender=STEEL_B))
    ok(call(host, LAW, "pay", {"product": "steel", "period": 202603, "seller": STEEL_A, "quantity": 1_020,
                               "amount": 1_000}, sender=MILL))
    res = ok(call(host, LAW, "close_period", {"period": 202603}, sender=PLANNING))
    o = res["outcomes"][0]
    assert (o["realised"], o["error"], o["in80"], o["in95"], o["ape_bps"]) == (1_020, 20, True, True, 196)
    assert o["followed"] == {"n": 1, "production": 600, "inventory": 5, "stockout": 0}
    assert o["other"] == {"n": 1, "production": 700, "inventory": 280, "stockout": 0}
    assert view(host, LAW, "outcome", {"product": "steel", "period": 202603}) == o
    sc = view(host, LAW, "scorecard")
    assert sc["overall"]["n"] == 1 and sc["overall"]["in80"] == 1 and sc["products"]["steel"]["abs_error"] == 20
    # the period is frozen
    refused(call(host, LAW, "declare", {"product": "steel", "period": 202603, "production": 1, "inventory": 0},
                 sender=STEEL_A), E_PERIOD_CLOSED)
    refused(call(host, LAW, "pay", {"product": "steel", "period": 202603, "seller": STEEL_A, "quantity": 1,
                                    "amount": 1}, sender=MILL), E_PERIOD_CLOSED)
    assert view(host, LAW, "is_closed", {"product": "steel", "period": 202603})
    assert not view(host, LAW, "is_closed", {"product": "flour", "period": 202603})
    ok(call(host, LAW, "declare", {"product": "steel", "period": 202604, "production": 1, "inventory": 0},
            sender=STEEL_A))


def test_procurement_quantity_follows_the_published_guidance():
    host = setup(time=at(2026, 7, 1))  # plan_share = 10000 (100 %) from 2026-06-01
    ok(call(host, "procurement", "set_treasury", sender=TREASURY))
    hand = {"product": "steel", "period": 202607, "unit": "tonne", "quantity": 5, "price": 1, "band": 0,
            "optin_close": 20, "ends": 1_000}
    r = call(host, "procurement", "publish_guidance", hand, sender=PLANNING)
    refused(r, 2)
    assert "use publish_from_plan" in r.value["detail"]
    args = {"product": "steel", "period": 202607, "optin_close": 20, "ends": 1_000}
    refused(call(host, "procurement", "publish_from_plan", args, sender=PLANNING), 15)  # no plan guidance yet
    ok(call(host, LAW, "publish", {"period": 202607, "model": "m", "model_version": "1", "data_from": 1,
                                   "data_to": 10, "items": [item(recommended=1_000, hi80=1_100)]}, sender=PLANNING))
    g = ok(call(host, "procurement", "publish_from_plan", args, sender=PLANNING))
    assert (g["quantity"], g["band"], g["upper"], g["price"], g["unit"]) == (1_000, 1_000, 1_100, 250_000, "tonne")
    ok(call(host, "procurement", "opt_in", {"product": "steel", "period": 202607, "capacity": 900, "demand": 0},
            sender=STEEL_A))
    ok(call(host, "procurement", "opt_in", {"product": "steel", "period": 202607, "capacity": 300, "demand": 0},
            sender=STEEL_B))
    set_time(host, host._time, height=21)
    q = view(host, "procurement", "quota", {"product": "steel", "period": 202607, "enterprise": STEEL_A})
    assert q["purchase"] == 825  # 1,100 x 900 / 1,200, from the plan's recommended 1,000 and its 80 % band


def test_procurement_before_the_plan_share_date_is_set_by_hand():
    host = setup(time=at(2026, 5, 31))
    refused(call(host, "procurement", "publish_from_plan", {"product": "steel", "period": 202605, "optin_close": 20,
                                                             "ends": 1_000}, sender=PLANNING), 2)
    ok(call(host, "procurement", "publish_guidance", {"product": "steel", "period": 202605, "unit": "t",
                                                      "quantity": 5, "price": 1, "band": 0, "optin_close": 20,
                                                      "ends": 1_000}, sender=PLANNING))


def test_a_settled_procurement_sale_counts_as_a_sale_once():
    host = setup(time=at(2026, 7, 1))
    ok(call(host, "procurement", "set_treasury", sender=TREASURY))
    ok(call(host, LAW, "publish", {"period": 202607, "model": "m", "model_version": "1", "data_from": 1,
                                   "data_to": 10, "items": [item()]}, sender=PLANNING))
    ok(call(host, "procurement", "publish_from_plan", {"product": "steel", "period": 202607, "optin_close": 20,
                                                       "ends": 1_000}, sender=PLANNING))
    ok(call(host, "procurement", "opt_in", {"product": "steel", "period": 202607, "capacity": 100, "demand": 0},
            sender=STEEL_A))
    ok(call(host, "procurement", "opt_in", {"product": "steel", "period": 202607, "capacity": 0, "demand": 50},
            sender=MILL))
    set_time(host, host._time, height=21)
    bought = ok(call(host, "procurement", "state_purchase", {"product": "steel", "period": 202607, "seller": STEEL_A,
                                                             "quantity": 40}, sender=PLANNING))
    sold = ok(call(host, "procurement", "state_sale", {"product": "steel", "period": 202607, "quantity": 30},
                   sender=MILL))
    refused(call(host, LAW, "record_settlement", {"order_id": sold["id"]}, sender=ALICE), 9)  # not settled yet
    ok(call(host, "procurement", "confirm_delivery", {"order_id": bought["id"]}, sender=PLANNING))
    ok(call(host, "procurement", "confirm_delivery", {"order_id": sold["id"]}, sender=MILL))
    r = call(host, LAW, "record_settlement", {"order_id": bought["id"]}, sender=ALICE)
    refused(r, E_BAD_ARGUMENT)  # a state purchase is supply, not demand
    assert "supply" in r.value["detail"]
    s = ok(call(host, LAW, "record_settlement", {"order_id": sold["id"]}, sender=ALICE))
    assert s == {"quantity": 30, "value": 30 * 250_000, "count": 1}
    refused(call(host, LAW, "record_settlement", {"order_id": sold["id"]}, sender=ALICE), E_ALREADY)


def ahead(*periods, forecast=1_000, lo80=880, hi80=1_120, lo95=820, hi95=1_180):
    return [{"period": p, "forecast": forecast, "lo80": lo80, "hi80": hi80, "lo95": lo95, "hi95": hi95}
            for p in periods]


def test_guidance_carries_forecasts_for_the_next_periods():
    host = setup()
    args = {"period": 202611, "model": "m", "model_version": "1", "data_from": 1, "data_to": 10,
            "items": [item(ahead=ahead(202612, 202701)), item("flour", 50, 40, 60, 30, 70, 50)]}
    ok(call(host, LAW, "publish", args, sender=PLANNING))
    g = view(host, LAW, "guidance", {"product": "steel", "period": 202611})
    assert g["forecast"] == 1_000 and [a["period"] for a in g["ahead"]] == [202612, 202701]  # across the year
    rows = view(host, LAW, "track", {"product": "steel", "first": 202611, "last": 202611})
    assert rows[0]["guidance"]["ahead"] == ahead(202612, 202701)
    flour = view(host, LAW, "track", {"product": "flour", "first": 202611, "last": 202611})
    assert flour[0]["guidance"]["ahead"] == []  # optional: published without it


@pytest.mark.parametrize("bad, detail", [
    ([], "steel: ahead must be a list of 1..11 forecasts"),
    ({"period": 202612}, "steel: ahead must be a list of 1..11 forecasts"),
    (ahead(*[202612 + i for i in range(0, 1)], *[202701 + i for i in range(11)]),
     "steel: ahead must be a list of 1..11 forecasts"),  # 12 periods: too long
    (ahead(202701), "steel: ahead must list the periods after 202611 in order: expected 202612, got 202701"),
    (ahead(202612, 202612), "steel: ahead must list the periods after 202611 in order: expected 202701, got 202612"),
    (ahead(202611), "steel: ahead must list the periods after 202611 in order: expected 202612, got 202611"),
    (ahead(202612, lo80=1_001), "steel ahead 202612: need lo95 <= lo80 <= forecast <= hi80 <= hi95"),
    (ahead(202612, lo95=-1), "ahead 202612 lo95 must not be negative (got -1)"),
    (ahead(202612, hi95="1180"), "ahead 202612 hi95 must be an integer"),
    ([{"period": 202612, "forecast": 1, "lo80": 1, "hi80": 1, "lo95": 1, "hi95": 1, "note": 2}],
     "steel: each ahead entry must be a dict of period, forecast, lo80, hi80, lo95, hi95"),
    ([{"period": 202612, "forecast": 1, "lo80": 1, "hi80": 1, "lo95": 1, "note": 1}],
     "steel: an ahead entry lacks hi95"),
    (["202612"], "steel: each ahead entry must be a dict of period, forecast, lo80, hi80, lo95, hi95"),
])
def test_a_malformed_ahead_is_refused_with_a_clear_error(bad, detail):
    host = setup()
    args = {"period": 202611, "model": "m", "model_version": "1", "data_from": 1, "data_to": 10,
            "items": [item(ahead=bad)]}
    r = call(host, LAW, "publish", args, sender=PLANNING)
    refused(r, E_BAD_ARGUMENT)
    assert r.value["detail"] == detail
    assert view(host, LAW, "guidance", {"product": "steel", "period": 202611}) is None  # nothing stored


def test_bad_sales_and_reservations_are_refused_with_a_clear_error():
    host = setup()
    r = call(host, LAW, "reserve", {"product": "tin", "period": 202601, "quantity": 5}, sender=ALICE)
    refused(r, E_UNKNOWN_PRODUCT)
    assert r.value["detail"] == "unknown product 'tin'"
    r = call(host, LAW, "reserve", {"product": "steel", "period": 202601, "quantity": -3}, sender=ALICE)
    refused(r, E_BAD_ARGUMENT)
    assert r.value["detail"] == "quantity must not be negative (got -3)"
    r = call(host, LAW, "pay", {"product": "steel", "period": 202601, "seller": STEEL_A, "quantity": -1,
                                "amount": 5}, sender=MILL)
    refused(r, E_BAD_ARGUMENT)
    assert r.value["detail"] == "quantity must not be negative (got -1)"
    r = call(host, LAW, "pay", {"product": "rice", "period": 202601, "seller": STEEL_A, "quantity": 1,
                                "amount": 5}, sender=MILL)
    refused(r, E_UNKNOWN_PRODUCT)
    r = call(host, LAW, "record_settlement", {"order_id": -4}, sender=ALICE)
    refused(r, E_BAD_ARGUMENT)
    assert r.value["detail"] == "order_id must be a positive integer"
    refused(call(host, LAW, "record_settlement", {"order_id": 77}, sender=ALICE), 9)  # no such order
    assert view(host, LAW, "sales", {"product": "steel", "period": 202601}) == {"quantity": 0, "value": 0, "count": 0}
