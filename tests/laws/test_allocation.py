"""Allocation: rations, promotions, lotteries, queues and priority supply."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .helpers import PLANNING, REGISTRAR, addr, at, call, make_host, ok, refused, set_time, total_money, view
from .test_welfare import populate

LAW = "allocation"
SHOP, OTHER_SHOP = "esc1shop", "esc1othershop"
CITIZENS = [f"esc1c{i:06d}" for i in range(40)]


def setup(n=10, beacons=None):
    host = make_host(time=at(2025, 3, 10), height=100, beacons=beacons,
                     balances={PLANNING: 10**12, **{c: 10**9 for c in CITIZENS[:n]}})
    populate(host, n)
    ok(call(host, LAW, "accredit_seller", {"seller": SHOP, "good": "rice"}, sender=PLANNING))
    return host


def redeem(host, kind, sid, who, quantity=1, seller=SHOP):
    return call(host, LAW, "redeem", {"kind": kind, "scheme_id": sid, "seller": seller, "quantity": quantity}, sender=who)


# ------------------------------------------------------------ rations
def test_ration_is_per_capita_at_accredited_sellers_until_expiry():
    host = setup()
    refused(call(host, LAW, "open_ration", {"ration_id": "r1", "good": "rice", "per_capita": 5, "price": 300,
                                            "expires": 200}, sender=CITIZENS[0]), 1)
    ok(call(host, LAW, "open_ration", {"ration_id": "r1", "good": "rice", "per_capita": 5, "price": 300,
                                       "expires": 200}, sender=PLANNING))
    a = CITIZENS[0]
    r = ok(redeem(host, "ration", "r1", a, 3))
    assert r == {"good": "rice", "quantity": 3, "paid": 900, "left": 2} and host.balances[SHOP] == 900
    refused(redeem(host, "ration", "r1", a, 3), 15)  # over the per-capita ration
    refused(redeem(host, "ration", "r1", a, 1, seller=OTHER_SHOP), 14)  # not accredited
    refused(redeem(host, "ration", "r1", "esc1stranger", 1), 15)  # not a citizen: no ration
    ok(redeem(host, "ration", "r1", CITIZENS[1], 5))  # another citizen has their own
    set_time(host, host._time, height=201)
    refused(redeem(host, "ration", "r1", a, 1), 13)  # expired
    assert call(host, LAW, "transfer_coupon", {"to": CITIZENS[1]}, sender=a).code == 15  # no such entry


def test_opening_a_ration_costs_the_same_for_ten_or_five_thousand_citizens():
    gas, writes = [], []
    for n in (10, 5_000):
        host = setup(n=n)
        before = len(host.store)
        r = call(host, LAW, "open_ration", {"ration_id": "r", "good": "rice", "per_capita": 1, "price": 0,
                                           "expires": 500}, sender=PLANNING)
        assert r.code == 0
        gas.append(r.gas_used)
        writes.append(len(host.store) - before)
    assert gas[0] == gas[1] and writes == [1, 1]


# ------------------------------------------------------------ promotions
def test_promotion_discounts_from_its_budget_and_returns_the_rest():
    host = setup()
    start = total_money(host)
    ok(call(host, LAW, "open_promotion", {"promo_id": "p1", "good": "rice", "discount": 1_000, "budget": 2_500,
                                          "expires": 150}, sender=PLANNING))
    assert host.balances[addr(LAW)] == 2_500
    r = ok(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": SHOP, "price": 600}, sender=CITIZENS[0]))
    assert r == {"paid": 0, "discount": 600}
    r = ok(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": SHOP, "price": 5_000}, sender=CITIZENS[0]))
    assert r == {"paid": 4_600, "discount": 400}  # the per-capita discount is used up
    refused(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": SHOP, "price": 5_000}, sender=CITIZENS[0]), 20)
    ok(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": SHOP, "price": 5_000}, sender=CITIZENS[1]))
    r = ok(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": SHOP, "price": 5_000}, sender=CITIZENS[2]))
    assert r["discount"] == 500  # what is left of the budget
    refused(call(host, LAW, "redeem_promotion", {"promo_id": "p1", "seller": OTHER_SHOP, "price": 10}, sender=CITIZENS[3]), 14)
    refused(call(host, LAW, "close_promotion", {"promo_id": "p1"}, sender=PLANNING), 17)
    set_time(host, host._time, height=151)
    ok(call(host, LAW, "close_promotion", {"promo_id": "p1"}, sender=PLANNING))
    assert host.balances[addr(LAW)] == 0 and total_money(host) == start
    assert host.balances[SHOP] == 600 + 5_000 + 5_000 + 5_000


# ------------------------------------------------------------ lotteries
OPTIONS = [["phone-a", 3, 100_000], ["phone-b", 2, 120_000], ["rice", 4, 1_000]]


def lottery_host(n, seed=b"\x42" * 32):
    host = setup(n=n, beacons={150: seed})
    ok(call(host, LAW, "open_lottery", {"lottery_id": "trial", "options": OPTIONS, "closes": 120, "draw_at": 150,
                                        "expires": 400}, sender=PLANNING))
    for i in range(n):
        choices = [["phone-a", "phone-b"], ["phone-b", "rice"], ["phone-a"], ["rice", "phone-a", "phone-b"]][i % 4]
        ok(call(host, LAW, "apply", {"lottery_id": "trial", "choices": choices}, sender=CITIZENS[i]))
    return host


def results(host, n):
    return [view(host, LAW, "lottery_result", {"lottery_id": "trial", "who": c}) for c in CITIZENS[:n]]


def test_lottery_needs_the_beacon_of_a_block_after_applications_close():
    host = lottery_host(12)
    refused(call(host, LAW, "open_lottery", {"lottery_id": "bad", "options": OPTIONS, "closes": 120, "draw_at": 121,
                                             "expires": 400}, sender=PLANNING), 2)  # draw_delay is 2
    refused(call(host, LAW, "run_draw", {"lottery_id": "trial"}, sender=CITIZENS[0]), 17)
    set_time(host, host._time, height=121)
    refused(call(host, LAW, "apply", {"lottery_id": "trial", "choices": ["rice"]}, sender=CITIZENS[0]), 16)
    set_time(host, host._time, height=150)
    refused(call(host, LAW, "run_draw", {"lottery_id": "trial"}, sender=CITIZENS[0]), 17)  # beacon(150) not final
    set_time(host, host._time, height=151)
    del host.beacons[150]
    refused(call(host, LAW, "run_draw", {"lottery_id": "trial"}, sender=CITIZENS[0]), 18)


def test_lottery_is_deterministic_given_the_beacon_batched_and_respects_rankings():
    n = 12
    outcomes = []
    for seed in (b"\x42" * 32, b"\x42" * 32, b"\x07" * 32):
        host = lottery_host(n, seed)
        set_time(host, host._time, height=151)
        r = ok(call(host, LAW, "run_draw", {"lottery_id": "trial", "steps": 5}, sender=CITIZENS[0]))
        assert r == {"served": 5, "drawn": 5, "applicants": n, "done": False}
        ok(call(host, LAW, "run_draw", {"lottery_id": "trial", "steps": 5}, sender=CITIZENS[1]))
        assert ok(call(host, LAW, "run_draw", {"lottery_id": "trial"}, sender=CITIZENS[2]))["done"]
        refused(call(host, LAW, "apply", {"lottery_id": "trial", "choices": ["rice"]}, sender=CITIZENS[0]), 16)
        got = results(host, n)
        # every unit at most once, and only to someone who ranked it
        for name, units, _ in OPTIONS:
            assert got.count(name) <= units
        for i, g in enumerate(got):
            app = view(host, LAW, "application", {"lottery_id": "trial", "who": CITIZENS[i]})
            assert g is None or g in app["choices"]
        # serial dictatorship: replaying the published order gives the same outcome
        order = [view(host, LAW, "permute", {"seed": seed, "label": "trial", "n": n, "k": k}) for k in range(n)]
        left = {name: units for name, units, _ in OPTIONS}
        for k in order:
            choices = view(host, LAW, "application", {"lottery_id": "trial", "who": CITIZENS[k]})["choices"]
            won = next((c for c in choices if left[c] > 0), None)
            if won:
                left[won] -= 1
            assert got[k] == won
        outcomes.append(got)
        # winners redeem their option at its price, at an accredited seller
        w = next(i for i, g in enumerate(got) if g == "rice")
        ok(redeem(host, "lottery", "trial", CITIZENS[w], 1))
        refused(redeem(host, "lottery", "trial", CITIZENS[w], 1), 15)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] != outcomes[2]


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 40), st.binary(min_size=32, max_size=32))
def test_permutation_is_a_bijection(n, seed):
    host = make_host()
    got = [view(host, LAW, "permute", {"seed": seed, "label": "x", "n": n, "k": k}) for k in range(n)]
    assert sorted(got) == list(range(n))


# ------------------------------------------------------------ queues
def test_queue_serves_by_inclusion_order():
    host = setup()
    ok(call(host, LAW, "open_queue", {"queue_id": "q", "good": "rice", "units": 2, "price": 50, "expires": 300},
            sender=PLANNING))
    places = [ok(call(host, LAW, "join_queue", {"queue_id": "q"}, sender=c)) for c in CITIZENS[:3]]
    assert places == [{"place": 1, "served": True}, {"place": 2, "served": True}, {"place": 3, "served": False}]
    refused(call(host, LAW, "join_queue", {"queue_id": "q"}, sender=CITIZENS[0]), 12)
    refused(call(host, LAW, "join_queue", {"queue_id": "q"}, sender="esc1stranger"), 10)
    ok(redeem(host, "queue", "q", CITIZENS[1]))
    refused(redeem(host, "queue", "q", CITIZENS[2]), 15)


# ------------------------------------------------------------ priority supply
def test_priority_needs_a_live_flag_from_the_registrar_and_a_grant_from_the_agency():
    host = setup()
    a = CITIZENS[0]
    grant = {"grant_id": "g1", "citizen": a, "good": "rice", "quantity": 10, "price": 0, "expires": 300,
             "category": "disaster_area"}
    refused(call(host, LAW, "grant_priority", grant, sender=PLANNING), 19)  # not flagged
    refused(call(host, LAW, "flag", {"citizen": a, "category": "disaster_area", "until": 200}, sender=PLANNING), 1)
    refused(call(host, LAW, "flag", {"citizen": "esc1stranger", "category": "disaster_area", "until": 200},
                 sender=REGISTRAR), 10)
    ok(call(host, LAW, "flag", {"citizen": a, "category": "disaster_area", "until": 200}, sender=REGISTRAR))
    refused(call(host, LAW, "grant_priority", grant, sender=REGISTRAR), 1)
    ok(call(host, LAW, "grant_priority", grant, sender=PLANNING))
    refused(redeem(host, "priority", "g1", CITIZENS[1], 1), 15)  # someone else's grant
    ok(redeem(host, "priority", "g1", a, 10))
    set_time(host, host._time, height=201)  # the flag has lapsed
    refused(call(host, LAW, "grant_priority", dict(grant, grant_id="g2"), sender=PLANNING), 19)
