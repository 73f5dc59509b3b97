"""The demo's summary: every figure read from the chain at one height, and the money checks.

The checks compare what the demo did with what the laws recorded: the
treasury's change with the taxes and fees collected, the withholding with the
annual tax of the year's taxable income, the supply's change with what the
demo issued, and the welfare fund's cash with the benefits its own views say
were paid.
"""

from __future__ import annotations

from ledger import codes

from .chain import _ymd, law_events


def wage_tax_check(econ, recs: list[dict], h1: int) -> dict:
    """Cumulative withholding, summed, is the annual table applied to the year's taxable income.

    Per employee, employer and tax year: income and deductions as the demo paid them, the basic
    deduction for the months the tax law counted (for twelve months the law's annual basic
    deduction), and the law's ``annual_tax`` of what is left; it must equal what was withheld."""
    groups: dict[tuple, dict] = {}
    for r in recs:
        if r["code"] != 0 or r["tag"] != "tax.pay_wage":
            continue
        ev = law_events(r, "tax_collected")[0]
        g = groups.setdefault((r["info"]["employee"], r["info"]["employer"], ev["year"]),
                              {"income": 0, "deductions": 0, "withheld": 0, "months": 0, "payments": 0})
        g["income"] += r["info"]["gross"]
        g["deductions"] += r["info"]["deductions"]
        g["withheld"] += r["result"]["tax"]
        g["months"] = max(g["months"], r["result"]["month"])
        g["payments"] += 1
    basic: dict[tuple, int] = {}
    due: dict[tuple, int] = {}
    out = {"employees": len(groups), "paid_all_12_months": 0, "withheld": 0, "annual_tax": 0, "mismatched": 0,
           "months_as_payments": all(g["months"] == g["payments"] for g in groups.values())}
    view = econ.ch.view
    for (_, _, year), g in groups.items():
        on = year * 10000 + 101  # 1 January: the tax year's parameters
        if (year, g["months"]) not in basic:
            basic[(year, g["months"])] = (
                view("tax", "param", {"name": "iit_basic_deduction_annual", "on": on}, height=h1)
                if g["months"] == 12 else
                g["months"] * view("tax", "param", {"name": "iit_basic_deduction_monthly", "on": on}, height=h1))
        taxable = g["income"] - g["deductions"] - basic[(year, g["months"])]
        if (year, taxable) not in due:
            due[(year, taxable)] = view("tax", "annual_tax", {"taxable_income": taxable, "year": year}, height=h1)
        out["paid_all_12_months"] += g["months"] == 12
        out["withheld"] += g["withheld"]
        out["annual_tax"] += due[(year, taxable)]
        out["mismatched"] += g["withheld"] != due[(year, taxable)]
    return out


def taxes_collected(recs: list[dict]) -> dict[str, int]:
    """Taxes and social insurance by kind, from the laws' events."""
    taxes: dict[str, int] = {}
    for r in recs:
        if r["code"] != 0:
            continue
        for ev in law_events(r, "tax_collected"):
            taxes[ev["kind"]] = taxes.get(ev["kind"], 0) + ev["amount"]
        for ev in law_events(r, "social_insurance_paid"):
            taxes["social_insurance"] = taxes.get("social_insurance", 0) + ev["amount"]
    taxes["total"] = sum(taxes.values())
    return taxes


def welfare_paid(econ, people: list[dict], periods: list[int], h1: int) -> dict[str, dict]:
    """What the welfare law's own views say each of the demo's citizens was paid, by kind."""
    by_kind: dict[str, dict] = {}
    for p in people:
        for per in periods:
            b = econ.ch.view("welfare", "benefit", {"who": p["actor"].addr, "period": per}, height=h1)
            if b["paid"] and b["amount"] > 0:
                k = by_kind.setdefault(b["kind"], {"payments": 0, "amount": 0})
                k["payments"] += 1
                k["amount"] += b["amount"]
    return by_kind


def failures(recs: list[dict]) -> dict:
    """Failed transactions by code; the refusals the demo provoked on purpose apart from the rest."""
    by_code: dict[str, int] = {}
    expected: dict[str, int] = {}
    unexpected = []
    for r in recs:
        if r["code"] == 0:
            continue
        name = codes.name(r["code"])
        by_code[name] = by_code.get(name, 0) + 1
        if r["expect"] and r["code"] == r["expect"]:
            expected[r["tag"]] = expected.get(r["tag"], 0) + 1
        else:
            unexpected.append({"what": r["tag"], "from": r["sender"], "code": r["code"], "code_name": name,
                               "height": r["height"]})
    return {"failed_by_code": by_code, "expected_refusals": expected, "unexpected_failures": len(unexpected),
            "unexpected": unexpected[:20]}


def population(people: list[dict], n_enterprises: int) -> dict:
    count = lambda status: sum(1 for p in people if p["status"] == status)  # noqa: E731
    return {"citizens": len(people), "enterprises": n_enterprises, "employed": count("employed"),
            "retired": count("retired"), "unemployed": count("unemployed"), "laid_off": count("laid off"),
            "students": count("student")}


def money_checks(econ, people, start, end, taxes, by_kind, wage_tax, welfare_periods, calendar,
                 cash_paid, to_others, from_procurement, procurement) -> dict:
    """Each check of the run's money, ``all_ok`` last: what the demo did against what the laws recorded."""
    bal0, bal1 = start["balances"], end["balances"]
    supply0, supply1 = start["supply"], end["supply"]
    treasury = econ.ag["treasury"].addr
    change = sum(bal1.values()) - sum(bal0.values())
    supply_change = (supply1.issued - supply1.retired) - (supply0.issued - supply0.retired)
    checks = {
        "treasury_change_equals_receipts": bal1[treasury] - bal0[treasury] == taxes["total"] + from_procurement,
        "wage_tax_equals_events": econ.s["wages"]["tax"] == taxes.get("iit_wage", 0),
        "withheld_equals_annual_tax_of_taxable_income": wage_tax["mismatched"] == 0,
        "eit_equals_events": econ.s["eit"]["tax"] == taxes.get("eit", 0),
        "supply_change_equals_issuance": supply_change == econ.issued and supply1.retired == supply0.retired,
        "balances_change_equals_issuance": change == econ.issued - to_others,
        "welfare_views_match_fund": sum(k["amount"] for k in by_kind.values()) + to_others == cash_paid,
        "procurement_escrow_empty": procurement is None or procurement["escrow_open_after"] == 0,
    }
    if econ.simulated:
        # the chain's calendar was followed: each wage in its own month, each month paid once
        checks["tax_law_counted_every_month"] = (econ.s["wages"]["months_counted_by_tax_law"] == econ.months
                                                 and wage_tax["months_as_payments"])
        checks["welfare_paid_every_month"] = (
            welfare_periods == calendar
            and by_kind.get("pension", {}).get("payments", 0)
            == econ.months * sum(1 for p in people if p["status"] == "retired"))
    checks["all_ok"] = all(checks.values())
    return checks


def summarise(econ, people: list[dict], start: dict, end: dict, periods: list[int], programmes: dict) -> dict:
    """The run's figures and checks, every one read at the end height."""
    ch = econ.ch
    recs = ch.records
    h0, h1 = start["height"], end["height"]
    bal0, bal1 = start["balances"], end["balances"]
    supply0, supply1 = start["supply"], end["supply"]
    procurement = programmes["procurement"]
    taxes = taxes_collected(recs)
    by_kind = welfare_paid(econ, people, periods, h1)
    fund = econ.law["welfare"]
    cash_paid = bal0[fund] + econ.welfare_funding - bal1[fund] - econ.s["vouchers"]["value"]
    others = econ.paid_to_others(h0, h1, econ.cursor0)
    to_others = others["amount"] or 0
    treasury = econ.ag["treasury"].addr
    from_procurement = (procurement or {}).get("fees_to_treasury", 0) + (procurement or {}).get("sale_proceeds_to_treasury", 0)
    change = sum(bal1.values()) - sum(bal0.values())
    supply_change = (supply1.issued - supply1.retired) - (supply0.issued - supply0.retired)
    wage_tax = wage_tax_check(econ, recs, h1)
    w = dict(econ.s["wages"])
    welfare_periods = [f"{p // 12}-{p % 12 + 1:02d}" for p in periods]
    calendar = [f"{y}-{mo:02d}" for y, mo in econ.calendar] if econ.simulated else None
    checks = money_checks(econ, people, start, end, taxes, by_kind, wage_tax, welfare_periods, calendar,
                          cash_paid, to_others, from_procurement, procurement)
    ration, lottery = programmes["ration"], programmes["lottery"]
    if ration is not None:
        ration = {k: v for k, v in ration.items() if k != "late"}
        ration["coupons_issued"] = ration["coupon_holders"] * ration["per_capita"]
    if lottery is not None:
        lottery = {k: v for k, v in lottery.items() if k not in ("people", "seller")}
    return {
        "chain_id": ch.chain_id, "heights": [h0, h1], "blocks": h1 - h0, "months": econ.months,
        "clock": dict(econ.clock, calendar=calendar, ended_at=_ymd(ch.c.block(height=h1).time_ms) if h1 else None),
        "welfare_periods": welfare_periods,
        "population": population(people, len(econ.enterprises)),
        "taxes": taxes,
        "wages": w,
        "wage_tax_check": wage_tax,
        "enterprise_tax": econ.s["eit"],
        "sales": econ.s["sales"],
        "welfare": {"cash_paid": cash_paid, "by_kind": by_kind, "funded": econ.welfare_funding,
                    "paid_to_others": others, "vouchers": econ.s["vouchers"], "fund_left": bal1[fund]},
        "procurement": procurement,
        "rations": ration,
        "lottery": lottery,
        "treasury": {"before": bal0[treasury], "after": bal1[treasury], "change": bal1[treasury] - bal0[treasury],
                     "taxes_and_contributions": taxes["total"], "procurement": from_procurement,
                     "issued_for_welfare": econ.welfare_funding, "paid_to_welfare_fund": econ.welfare_funding},
        "supply": {"issued_before": supply0.issued, "issued_after": supply1.issued, "retired_before": supply0.retired,
                   "retired_after": supply1.retired, "issued_by_demo": econ.issued,
                   "balances_change_of_accounts_involved": change, "welfare_paid_outside": to_others},
        "transactions": {"submitted": ch.submitted, "committed": len(recs), "ok": sum(1 for r in recs if r["code"] == 0),
                         **failures(recs)},
        "checks": checks,
    }
