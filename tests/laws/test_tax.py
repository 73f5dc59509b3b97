"""The tax law: official worked examples, properties, and its entries.

Official examples (amounts in yuan, tests in fen):

* STA Announcement 2018 No. 61 and the STA's published explanation of the
  cumulative withholding method: an employee paid 30,000 a month, with
  4,500 of social insurance and housing fund ("三险一金") and 2,000 of
  special additional deductions, has 555 withheld in January, 625 in
  February and 1,850 in March; the year totals 27,480, which is the annual
  table applied to the year's taxable income of 222,000.
* IIT Law Table 1: taxable income of 100,000 pays 100,000 x 10 % - 2,520 = 7,480.
* EIT Law art. 4 / 28 and MOF/STA 2023 No. 12: the rates applied to a
  profit (25 %, 15 %; small low-profit: 25 % of the income at 20 %).
* IIT Law art. 3(3), 6(1)(5): property transfer income at 20 %.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .helpers import TREASURY, at, call, make_host, ok, refused, set_time, total_money, view

YUAN = 100
EMPLOYER = "esc1employer"
EMPLOYEE = "esc1employee"
TABLE = ((36_000, 3, 0), (144_000, 10, 2_520), (300_000, 20, 16_920), (420_000, 25, 31_920),
         (660_000, 30, 52_920), (960_000, 35, 85_920), (None, 45, 181_920))  # yuan, %, yuan

HOST = make_host()
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def tax_host(**kw):
    kw.setdefault("balances", {EMPLOYER: 10**13, "esc1donor": 10**13})
    host = make_host(**kw)
    ok(call(host, "tax", "set_treasury", sender=TREASURY))
    return host


def reference_tax(taxable_fen: int) -> int:
    """The table by slices in exact fractions, rounded half up to the fen."""
    if taxable_fen <= 0:
        return 0
    tax = Fraction(0)
    lower = 0
    for upper, pct, _ in TABLE:
        top = taxable_fen if upper is None else min(taxable_fen, upper * YUAN)
        if top > lower:
            tax += Fraction((top - lower) * pct, 100)
        if upper is None or taxable_fen <= upper * YUAN:
            break
        lower = upper * YUAN
    return int(tax + Fraction(1, 2))  # half up, tax >= 0


def annual(x: int, year: int = 2025) -> int:
    return view(HOST, "tax", "annual_tax", {"taxable_income": x, "year": year})


# ------------------------------------------------------------ official examples
def test_sta_cumulative_withholding_example_first_quarter():
    wh = []
    withheld = 0
    for month in (1, 2, 3):
        t = view(HOST, "tax", "withholding", {
            "month": month, "cumulative_income": 30_000 * YUAN * month,
            "cumulative_deductions": (4_500 + 2_000) * YUAN * month, "withheld_so_far": withheld, "year": 2019})
        wh.append(t)
        withheld += t
    assert wh == [555 * YUAN, 625 * YUAN, 1_850 * YUAN]


def test_sta_example_paid_through_the_entry_for_a_whole_year():
    host = tax_host()
    got = []
    for month in range(1, 13):
        set_time(host, at(2025, month, 10))
        r = ok(call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 30_000 * YUAN,
                                               "social_insurance": 4_500 * YUAN,
                                               "special_additional": 2_000 * YUAN}, sender=EMPLOYER))
        assert r["month"] == month
        got.append(r["tax"] // YUAN)
    assert got == [555, 625, 1850, 1850, 1850, 1850, 1850, 2250, 3700, 3700, 3700, 3700]
    assert sum(got) == 27_480
    assert annual(222_000 * YUAN) == 27_480 * YUAN  # 222,000 x 20 % - 16,920
    rec = view(host, "tax", "wage_record", {"employer": EMPLOYER, "employee": EMPLOYEE, "year": 2025})
    assert rec["withheld"] == 27_480 * YUAN and rec["months"] == 12
    assert host.balances[EMPLOYEE] == 12 * (30_000 - 4_500) * YUAN - 27_480 * YUAN
    assert host.balances[TREASURY] == 12 * 4_500 * YUAN + 27_480 * YUAN


def test_table_example_and_every_bracket_boundary():
    assert annual(100_000 * YUAN) == 7_480 * YUAN
    for upper, pct, qd in TABLE[:-1]:
        for x in (upper * YUAN - 1, upper * YUAN, upper * YUAN + 1):
            assert annual(x) == reference_tax(x)
        assert annual(upper * YUAN) == (upper * pct // 100 - qd) * YUAN
    assert annual(0) == 0 and annual(-5) == 0 and annual(1) == 0  # 3 % of a fen rounds to 0
    assert annual(17) == 1  # 0.51 fen rounds half up


def test_enterprise_income_tax_examples():
    def eit(profit, category, year=2025):
        return view(HOST, "tax", "enterprise_tax", {"taxable_profit": profit * YUAN, "category": category, "year": year})
    assert eit(1_000_000, "standard") == 250_000 * YUAN
    assert eit(1_000_000, "high_tech") == 150_000 * YUAN
    assert eit(2_000_000, "small_low_profit") == 100_000 * YUAN  # 2,000,000 x 25 % x 20 %
    assert eit(2_000_000, "small_low_profit", 2022) == 400_000 * YUAN  # before 2023 No. 12: 20 % on all
    # the declared cliff at 3,000,000 yuan
    assert eit(3_000_000, "small_low_profit") == 150_000 * YUAN
    r = view(HOST, "tax", "enterprise_tax", {"taxable_profit": 3_000_000 * YUAN + 1, "category": "small_low_profit", "year": 2025})
    assert r == 750_000 * YUAN


def test_capital_gains_example():
    t = view(HOST, "tax", "capital_gains_tax", {"proceeds": 1_000_000 * YUAN, "cost": 600_000 * YUAN,
                                                 "expenses": 50_000 * YUAN})
    assert t == 70_000 * YUAN
    assert view(HOST, "tax", "capital_gains_tax", {"proceeds": 100, "cost": 200}) == 0


def test_inheritance_and_gift_ladder():
    t = lambda amount, before=0: view(HOST, "tax", "transfer_tax", {"amount": amount * YUAN, "received_before": before * YUAN})
    assert t(1_000_000) == 0
    assert t(2_000_000) == 200_000 * YUAN
    assert t(1_000_000, 1_000_000) == 200_000 * YUAN
    # 1M free, 4M at 20 %, 15M at 40 %, 80M at 60 %, 100M at 80 %
    assert t(200_000_000) == (800_000 + 6_000_000 + 48_000_000 + 80_000_000) * YUAN


# ------------------------------------------------------------ properties
@FAST
@given(st.integers(0, 3 * 10**8), st.integers(0, 10**8))
def test_income_tax_is_monotone_with_marginal_rate_below_45_percent(x, d):
    a, b = annual(x), annual(x + d)
    assert a <= b
    assert b - a <= (d * 45 + 99) // 100 + 1  # 45 % plus at most one fen of rounding
    assert a == reference_tax(x)


@FAST
@given(st.integers(0, 10**9), st.integers(0, 10**8), st.sampled_from(["standard", "high_tech", "small_low_profit"]))
def test_enterprise_tax_monotone_except_the_declared_cliff(x, d, category):
    f = lambda p: view(HOST, "tax", "enterprise_tax", {"taxable_profit": p, "category": category, "year": 2025})
    limit = 300_000_000
    a, b = f(x), f(x + d)
    assert a <= b
    crosses_cliff = category == "small_low_profit" and x <= limit < x + d
    if not crosses_cliff:
        assert b - a <= (d * 25 + 99) // 100 + 1


@settings(max_examples=25, deadline=None)
@given(gross=st.integers(0, 200_000 * YUAN), si_share=st.integers(0, 2_000), extra=st.integers(0, 10_000 * YUAN))
def test_twelve_steady_months_withhold_exactly_the_annual_tax(gross, si_share, extra):
    si = gross * si_share // 10_000
    host = tax_host()
    total = 0
    for month in range(1, 13):
        set_time(host, at(2025, month, 5))
        total += ok(call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": gross, "social_insurance": si,
                                                    "special_additional": extra}, sender=EMPLOYER))["tax"]
    taxable = 12 * gross - 60_000 * YUAN - 12 * (si + extra)
    assert total == annual(taxable)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["wage", "gift", "inherit", "disposal", "profit"]),
                          st.integers(1, 5 * 10**9)), min_size=1, max_size=8))
def test_every_fen_moved_is_in_some_balance_or_the_treasury(ops):
    host = tax_host()
    start = total_money(host)
    collected = 0
    for i, (kind, amount) in enumerate(ops):
        set_time(host, at(2025, 1 + i % 12, 3))
        before = dict(host.balances)
        if kind == "wage":
            r = call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": amount, "social_insurance": amount // 10}, sender=EMPLOYER)
        elif kind in ("gift", "inherit"):
            fn = "give" if kind == "gift" else "inherit"
            key = "recipient" if kind == "gift" else "heir"
            r = call(host, "tax", fn, {key: "esc1heir", "amount": amount}, sender="esc1donor")
        elif kind == "disposal":
            r = call(host, "tax", "declare_disposal", {"asset": "flat", "proceeds": amount, "cost": amount // 3}, sender="esc1donor")
        else:
            r = call(host, "tax", "declare_profit", {"year": 2025, "cumulative_profit": amount}, sender=EMPLOYER)
        assert r.code == 0, r.value
        for e in r.events:
            if e["name"] == "tax_collected":
                assert e["data"]["law"] == "tax" and e["data"]["version"] == 1 and e["data"]["params"]
                collected += e["data"]["amount"]
            if e["name"] == "social_insurance_paid":
                collected += e["data"]["amount"]
        assert total_money(host) == start
        assert host.balances.get(TREASURY, 0) - before.get(TREASURY, 0) >= 0
    assert host.balances.get(TREASURY, 0) == collected


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(1, 3 * 10**10), min_size=1, max_size=6))
def test_splitting_a_gift_does_not_lower_the_tax(parts):
    host = tax_host(balances={"esc1donor": 10**13})
    paid = 0
    for p in parts:
        paid += ok(call(host, "tax", "give", {"recipient": "esc1heir", "amount": p}, sender="esc1donor"))["tax"]
    assert paid == view(host, "tax", "transfer_tax", {"amount": sum(parts), "received_before": 0})


# ------------------------------------------------------------ entries
def test_collection_needs_a_treasury_in_the_registry():
    host = make_host(balances={EMPLOYER: 10**9})
    host.roles.pop(TREASURY)  # nobody holds the treasury role
    refused(call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 10**6}, sender=EMPLOYER), 3)
    refused(call(host, "tax", "set_treasury", sender=EMPLOYER), 1)
    assert host.balances == {EMPLOYER: 10**9} and host.applied == 0


def test_the_treasury_is_learned_from_the_registry_without_set_up():
    host = make_host(balances={EMPLOYER: 10**9})  # TREASURY holds the role; nobody called set_treasury
    assert view(host, "tax", "treasury") == TREASURY
    r = ok(call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 10**6}, sender=EMPLOYER))
    assert host.balances[TREASURY] == r["tax"] > 0


def test_wage_receipt_names_law_version_and_parameters():
    host = tax_host()
    r = call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 30_000 * YUAN,
                                       "social_insurance": 4_500 * YUAN, "special_additional": 2_000 * YUAN},
             sender=EMPLOYER)
    ev = [e for e in r.events if e["name"] == "tax_collected"][0]["data"]
    assert ev["law"] == "tax" and ev["version"] == 1 and ev["kind"] == "iit_wage"
    assert ev["params"] == {"iit_brackets": 20190101, "iit_basic_deduction_monthly": 20190101}
    assert ev["amount"] == 555 * YUAN and ev["treasury"] == TREASURY


def test_two_payments_in_one_month_count_as_one_month():
    host = tax_host()
    for _ in range(2):
        r = ok(call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 15_000 * YUAN}, sender=EMPLOYER))
        assert r["month"] == 1
    assert ok(call(host, "tax", "pay_wage", {"employee": "esc1other", "gross": 1}, sender=EMPLOYER))["month"] == 1


def test_an_employer_without_funds_pays_nothing():
    host = tax_host(balances={EMPLOYER: 100})
    r = call(host, "tax", "pay_wage", {"employee": EMPLOYEE, "gross": 30_000 * YUAN}, sender=EMPLOYER)
    assert r.code == 17  # INSUFFICIENT_FUNDS
    assert view(host, "tax", "wage_record", {"employer": EMPLOYER, "employee": EMPLOYEE})["months"] == 0


def test_enterprise_declarations_are_cumulative_and_categories_certified():
    host = tax_host()
    refused(call(host, "tax", "certify", {"enterprise": EMPLOYER, "year": 2025, "category": "high_tech"}, sender=EMPLOYER), 1)
    ok(call(host, "tax", "certify", {"enterprise": EMPLOYER, "year": 2025, "category": "high_tech"}, sender=TREASURY))
    q1 = ok(call(host, "tax", "declare_profit", {"year": 2025, "cumulative_profit": 400_000 * YUAN}, sender=EMPLOYER))
    q2 = ok(call(host, "tax", "declare_profit", {"year": 2025, "cumulative_profit": 1_000_000 * YUAN}, sender=EMPLOYER))
    assert q1["tax"] == 60_000 * YUAN and q2["tax"] == 90_000 * YUAN and q2["paid_to_date"] == 150_000 * YUAN
    q3 = ok(call(host, "tax", "declare_profit", {"year": 2025, "cumulative_profit": 900_000 * YUAN}, sender=EMPLOYER))
    assert q3["tax"] == 0  # no refund here: the annual settlement handles overpayment
    refused(call(host, "tax", "declare_profit", {"year": 2026, "cumulative_profit": 1}, sender=EMPLOYER), 5)
    assert host.balances[TREASURY] == 150_000 * YUAN


def test_disposal_and_inheritance_collect_into_the_treasury():
    host = tax_host()
    r = ok(call(host, "tax", "declare_disposal", {"asset": "flat 3-2-101", "proceeds": 1_000_000 * YUAN,
                                                   "cost": 600_000 * YUAN, "expenses": 50_000 * YUAN}, sender="esc1donor"))
    assert r["tax"] == 70_000 * YUAN
    r = ok(call(host, "tax", "inherit", {"heir": "esc1heir", "amount": 3_000_000 * YUAN}, sender="esc1donor"))
    assert r["tax"] == 400_000 * YUAN and host.balances["esc1heir"] == 2_600_000 * YUAN
    assert host.balances[TREASURY] == 470_000 * YUAN
    assert view(host, "tax", "received", {"who": "esc1heir"}) == 3_000_000 * YUAN
    refused(call(host, "tax", "give", {"recipient": "esc1donor", "amount": 5}, sender="esc1donor"), 2)
