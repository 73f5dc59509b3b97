"""The state purchase-and-sale service: guidance, opt-in, quotas, escrow, settlement."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import PLANNING, TREASURY, addr, call, make_host, ok, refused, set_time, total_money, view

LAW = "procurement"
ESCROW = addr(LAW)
FARM_A, FARM_B, MILL, INSPECTOR = "esc1farma", "esc1farmb", "esc1mill", "esc1inspector"
PRICE = 250_000  # fen per tonne


def setup(quantity=1_000, band=1_000):
    host = make_host(height=10, balances={PLANNING: 10**12, MILL: 10**12, FARM_A: 0, FARM_B: 0})
    ok(call(host, LAW, "set_treasury", sender=TREASURY))
    ok(call(host, LAW, "publish_guidance", {"product": "wheat", "period": 202507, "unit": "tonne",
                                            "quantity": quantity, "price": PRICE, "band": band,
                                            "optin_close": 20, "ends": 1_000}, sender=PLANNING))
    return host


def close_optin(host):
    set_time(host, host._time, height=21)


def test_guidance_is_for_the_planning_agency_only_and_fixed_after_close():
    host = setup()
    g = view(host, LAW, "guidance", {"product": "wheat", "period": 202507})
    assert g["upper"] == 1_100  # 1,000 tonnes with a 10 % band
    refused(call(host, LAW, "publish_guidance", {"product": "rice", "period": 1, "unit": "t", "quantity": 1,
                                                 "price": 1, "band": 0, "optin_close": 20, "ends": 30}, sender=MILL), 1)
    refused(call(host, LAW, "publish_guidance", {"product": "rice", "period": 1, "unit": "t", "quantity": 1,
                                                 "price": 1, "band": 2_001, "optin_close": 20, "ends": 30},
                 sender=PLANNING), 2)
    close_optin(host)
    refused(call(host, LAW, "publish_guidance", {"product": "wheat", "period": 202507, "unit": "tonne",
                                                 "quantity": 5, "price": 1, "band": 0, "optin_close": 30,
                                                 "ends": 40}, sender=PLANNING), 12)


def test_quotas_follow_the_rule_and_over_quota_orders_are_refused():
    host = setup()
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 900, "demand": 0}, sender=FARM_A))
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 300, "demand": 0}, sender=FARM_B))
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 0, "demand": 2_000}, sender=MILL))
    refused(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_A, "quantity": 1},
                 sender=PLANNING), 13)  # the opt-in is still open
    close_optin(host)
    refused(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 1, "demand": 0},
                 sender="esc1late"), 12)
    qa = view(host, LAW, "quota", {"product": "wheat", "period": 202507, "enterprise": FARM_A})
    qb = view(host, LAW, "quota", {"product": "wheat", "period": 202507, "enterprise": FARM_B})
    qm = view(host, LAW, "quota", {"product": "wheat", "period": 202507, "enterprise": MILL})
    assert qa["purchase"] == 825 and qb["purchase"] == 275  # 1,100 x 900/1,200 and x 300/1,200
    assert qm["sale"] == 1_100 and qm["purchase"] == 0 and qa["final"]
    ok(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_A, "quantity": 800},
            sender=PLANNING))
    r = call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_A, "quantity": 26},
             sender=PLANNING)
    refused(r, 10)
    assert r.value["detail"] == "over the seller's purchase quota"
    refused(call(host, LAW, "state_sale", {"product": "wheat", "period": 202507, "quantity": 1_101}, sender=MILL), 10)
    refused(call(host, LAW, "state_sale", {"product": "wheat", "period": 202507, "quantity": 1}, sender=FARM_B), 10)
    refused(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": "esc1nobody",
                                               "quantity": 1}, sender=PLANNING), 11)
    refused(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_B, "quantity": 1},
                 sender=MILL), 1)


def test_purchase_escrow_settles_on_inspector_confirmation():
    host = setup()
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 100, "demand": 0}, sender=FARM_A))
    close_optin(host)
    start = total_money(host)
    o = ok(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_A,
                                              "quantity": 100}, sender=PLANNING))
    amount = 100 * PRICE
    assert host.balances[ESCROW] == amount == view(host, LAW, "escrow_open")
    assert o["fee"] == amount * 150 // 10_000
    # nobody else can release the escrow
    refused(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=FARM_A), 1)
    refused(call(host, LAW, "add_inspector", {"who": INSPECTOR}, sender=FARM_A), 1)
    ok(call(host, LAW, "add_inspector", {"who": INSPECTOR}, sender=PLANNING))
    s = ok(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=INSPECTOR))
    assert s["status"] == "settled" and s["confirmed_by"] == INSPECTOR
    assert host.balances[FARM_A] == amount - o["fee"]
    assert host.balances[TREASURY] == o["fee"]
    assert host.balances[ESCROW] == 0 == view(host, LAW, "escrow_open")
    assert total_money(host) == start
    refused(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=INSPECTOR), 16)
    ok(call(host, LAW, "remove_inspector", {"who": INSPECTOR}, sender=PLANNING))
    assert not view(host, LAW, "is_inspector", {"who": INSPECTOR})


def test_sale_is_paid_by_the_buyer_with_the_lower_fee_and_settled_by_the_buyer():
    host = setup()
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 0, "demand": 10}, sender=MILL))
    close_optin(host)
    before = host.balances[MILL]
    o = ok(call(host, LAW, "state_sale", {"product": "wheat", "period": 202507, "quantity": 10}, sender=MILL))
    fee = view(host, LAW, "logistics_fee", {"amount": 10 * PRICE})
    market = 10 * PRICE * view(host, LAW, "param", {"name": "market_logistics_fee"}) // 10_000
    assert fee == o["fee"] < market
    assert before - host.balances[MILL] == 10 * PRICE + fee
    refused(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=PLANNING), 1)
    ok(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=MILL))
    assert host.balances[TREASURY] == 10 * PRICE + fee and host.balances[ESCROW] == 0


def test_unconfirmed_order_is_refunded_after_the_window_and_frees_the_quota():
    host = setup()
    ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": 50, "demand": 0}, sender=FARM_A))
    close_optin(host)
    before = host.balances[PLANNING]
    o = ok(call(host, LAW, "state_purchase", {"product": "wheat", "period": 202507, "seller": FARM_A, "quantity": 50},
                sender=PLANNING))
    refused(call(host, LAW, "cancel", {"order_id": o["id"]}, sender=PLANNING), 17)
    set_time(host, host._time, height=o["deadline"] + 1)
    refused(call(host, LAW, "cancel", {"order_id": o["id"]}, sender=FARM_A), 1)
    ok(call(host, LAW, "cancel", {"order_id": o["id"]}, sender=PLANNING))
    assert host.balances[PLANNING] == before and host.balances[ESCROW] == 0
    assert view(host, LAW, "quota", {"product": "wheat", "period": 202507, "enterprise": FARM_A})["bought"] == 0
    refused(call(host, LAW, "confirm_delivery", {"order_id": o["id"]}, sender=PLANNING), 16)
    refused(call(host, LAW, "confirm_delivery", {"order_id": 999}, sender=PLANNING), 18)


@settings(max_examples=30, deadline=None)
@given(quantity=st.integers(1, 10**6), band=st.integers(0, 2_000),
       caps=st.lists(st.integers(0, 10**6), min_size=1, max_size=6))
def test_quotas_never_exceed_the_band_or_the_declaration(quantity, band, caps):
    host = setup(quantity=quantity, band=band)
    for i, c in enumerate(caps):
        ok(call(host, LAW, "opt_in", {"product": "wheat", "period": 202507, "capacity": c, "demand": c},
                sender=f"esc1e{i}"))
    close_optin(host)
    upper = quantity * (10_000 + band) // 10_000
    quotas = [view(host, LAW, "quota", {"product": "wheat", "period": 202507, "enterprise": f"esc1e{i}"})
              for i in range(len(caps))]
    assert sum(q["purchase"] for q in quotas) <= upper and sum(q["sale"] for q in quotas) <= upper
    for q, c in zip(quotas, caps):
        assert q["purchase"] <= c and q["sale"] <= c
