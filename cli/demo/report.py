"""The demo's summary, for people and as JSON."""

from __future__ import annotations


import json


from .chain import DAY_MS, SIMULATED_STEP_MS, YUAN, _duration  # noqa: F401


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100:,}.{fen % 100:02d}"


def render(s: dict) -> str:
    """The summary for people: the run and its clock, money by programme, then the checks."""
    return "\n".join(_run_lines(s) + _money_lines(s) + _programme_lines(s) + _totals_lines(s))


def _run_lines(s: dict) -> list[str]:
    """The run, its population, and what the chain's clock meant for the laws' months."""
    L: list[str] = []
    a = L.append
    pop = s["population"]
    a(f"esoc demo economy: {s['months']} simulated months on {s['chain_id']}, heights {s['heights'][0]}..{s['heights'][1]} "
      f"({s['blocks']} blocks), {s['elapsed_s']} s, seed {s['seed']}")
    a(f"  population: {pop['citizens']} citizens ({pop['employed']} employed, {pop['retired']} retired, "
      f"{pop['unemployed']} unemployed, {pop['laid_off']} laid off, {pop['students']} students), {pop['enterprises']} enterprises")
    ck = s["clock"]
    counted = s["wages"]["months_counted_by_tax_law"]
    periods = s["welfare_periods"]
    if ck["simulated"]:
        cal = ck["calendar"]
        a(f"  the chain's clock is simulated, {_duration(ck['step_ms'])} a block ({ck['how']}): the demo followed its calendar, "
          f"{cal[0]}..{cal[-1]}, each month's wages, declarations and status changes in that month (last block read: {ck['ended_at']})")
        a(f"  the tax law counted {counted} month(s) of employment for {s['months']} simulated months; welfare paid "
          f"{len(periods)} period(s) for {s['months']} simulated months: {', '.join(periods)}")
        if ck["ended_at"][:7] != cal[-1]:
            a(f"  the last month's work ran on into {ck['ended_at']}, so welfare paid the month after too: a short run packs "
              f"the state's programmes into its last months; more months, or a smaller --time-step-ms, leave room")
    else:
        if ck["how"].startswith("detected"):
            a(f"  the chain's clock is the wall clock ({ck['how']}): the {s['months']} simulated months ran back to back "
              f"inside {len(periods)} calendar month(s) of block time, not a calendar year")
        else:
            a(f"  the demo did not follow the chain's calendar ({ck['how']}): the {s['months']} simulated months ran back "
              f"to back inside {len(periods)} calendar month(s) of block time, not a calendar year")
        a(f"  months of block time: welfare paid for {', '.join(periods)}; the tax law counted "
          f"{counted} month(s) of employment for {s['months']} simulated monthly wages (several payments in one month count "
          f"as one)" + (f"; a devnet started with --time-step-ms {DAY_MS} lets the months pass"
                        if ck["step_ms"] < SIMULATED_STEP_MS else ""))
    return L


def _money_lines(s: dict) -> list[str]:
    """Taxes, wages with the withholding check, sales and welfare."""
    L: list[str] = []
    a = L.append
    a("taxes (yuan)")
    for k, v in sorted(s["taxes"].items()):
        if k != "total":
            a(f"  {k:<22} {_yuan(v):>18}")
    a(f"  {'total':<22} {_yuan(s['taxes']['total']):>18}")
    w = s["wages"]
    a(f"wages: {w['payments']} payments, gross {_yuan(w['gross'])}, net {_yuan(w['net'])}, withheld {_yuan(w['tax'])}")
    wt = s["wage_tax_check"]
    a(f"  withheld per employee = annual tax of the taxable income (income - deductions - basic deduction for the months "
      f"counted): {wt['employees'] - wt['mismatched']}/{wt['employees']} employees ({wt['paid_all_12_months']} paid all 12 "
      f"months), {_yuan(wt['withheld'])} withheld, {_yuan(wt['annual_tax'])} by the annual table")
    a(f"sales: {s['sales']['count']} purchases, {_yuan(s['sales']['value'])}")
    wf = s["welfare"]
    a(f"welfare paid: {_yuan(wf['cash_paid'])} in cash "
      + ", ".join(f"{k} {v['payments']} x = {_yuan(v['amount'])}" for k, v in sorted(wf["by_kind"].items()))
      + f"; vouchers {wf['vouchers']['redeemed']} = {_yuan(wf['vouchers']['value'])}; fund left {_yuan(wf['fund_left'])}")
    po = wf["paid_to_others"]
    if po["amount"] is None:
        a("  (the register is too large to tell what went to citizens the demo did not register; the checks assume nothing)")
    elif po["amount"]:
        a(f"  of which {_yuan(po['amount'])} to {po['citizens']} citizen(s) the demo did not register ({po['payments']} payments: "
          f"they share the law's fund; an earlier run's, or anyone's)")
    if "records_closed_after_run" in wf:
        a(f"  then the registrar closed the demo's {wf['records_closed_after_run']} welfare records (on a simulated clock their "
          f"pensions would otherwise go on every few seconds and drain the fund)")
    return L


def _programme_lines(s: dict) -> list[str]:
    """Procurement, rations and the lottery."""
    L: list[str] = []
    a = L.append
    p = s["procurement"]
    if p:
        a(f"procurement {p['product']} period {p['period']}: Q {p['quantity_planned']} "
          f"({'from the plan guidance' if p.get('from_plan') else 'set by hand'}), band {p['band_bps']} bps; "
          f"{p['orders_settled']}/{p['orders_placed']} orders settled, "
          f"state bought {_yuan(p['purchases_value'])} (sellers got {_yuan(p['paid_to_sellers'])}), sold {_yuan(p['sales_value'])}, "
          f"fees to treasury {_yuan(p['fees_to_treasury'])}; over-quota order refused with code {p['over_quota_refused']}")
    pl = s.get("planning")
    if pl:
        for code, x in pl["products"].items():
            bt = x["backtest_at_first_publication"] or {}
            closed = [r for r in x["periods"] if r["realised"] is not None]
            cover = (f"realised inside the 80 % interval {sum(1 for r in closed if r['in80'])}/{len(closed)}, "
                     f"95 % {sum(1 for r in closed if r['in95'])}/{len(closed)}") if closed else "no month closed"
            methods = ", ".join(sorted(set(r["method"] for r in x["periods"])))
            a(f"planning {code}: guidance each month ({methods}); "
              + ("; ".join(f"{r['period']} forecast {r['forecast']} [{r['lo80']}..{r['hi80']}] realised {r['realised']}"
                           for r in x["periods"][:3]) + ("; ..." if len(x["periods"]) > 3 else "")))
            if bt.get("origins"):
                a(f"  back-test ({bt['origins']} rolling origins): MASE {bt['mase_e3'] / 1000:.2f} against seasonal naive "
                  f"{bt['naive_mase_e3'] / 1000:.2f}; 80 % interval covered {bt['cov80_bps'] / 100:.0f} %, "
                  f"95 % {bt['cov95_bps'] / 100:.0f} %; {cover}")
        for c in pl.get("procurement_counted", []):
            a(f"planning {c['product']} {c['period']}: the state's sales ({c['quantity']} in {len(c['orders'])} orders) "
              f"counted as demand (record_settlement); {c['paid_to_producers']} more paid to the producers")
    r = s["rations"]
    if r:
        a(f"ration {r['good']}: {r['coupons_issued']} coupons issued ({r['coupon_holders']} citizens x {r['per_capita']}), "
          f"{r['redeemed_units']} redeemed in {r['redemptions']} purchases; refused: "
          + ", ".join(f"{k} {v}" for k, v in r["refused"].items()))
    lt = s["lottery"]
    if lt:
        a(f"lottery {lt['id']}: {lt['applicants']} applicants, {lt['winners']} winners {lt['won']}, drawn with the beacon of "
          f"height {lt['beacon_height']}, {lt['redeemed']} redeemed")
    return L


def _totals_lines(s: dict) -> list[str]:
    """Transactions, the treasury, the supply, and the checks."""
    L: list[str] = []
    a = L.append
    t = s["transactions"]
    a(f"transactions: {t['submitted']} submitted, {t['committed']} committed, {t['ok']} ok; failures by code: "
      + (", ".join(f"{k} {v}" for k, v in sorted(t["failed_by_code"].items())) or "none")
      + f"; unexpected failures: {t['unexpected_failures']}")
    tr = s["treasury"]
    a(f"treasury: {_yuan(tr['before'])} -> {_yuan(tr['after'])} (change {_yuan(tr['change'])} = taxes and contributions "
      f"{_yuan(tr['taxes_and_contributions'])} + procurement {_yuan(tr['procurement'])})")
    sp = s["supply"]
    a(f"supply: issued {_yuan(sp['issued_before'])} -> {_yuan(sp['issued_after'])} (demo issued {_yuan(sp['issued_by_demo'])}); "
      f"balances of every account involved changed by {_yuan(sp['balances_change_of_accounts_involved'])}"
      + (f" (welfare paid {_yuan(sp['welfare_paid_outside'])} to accounts outside the run)" if sp["welfare_paid_outside"] else ""))
    a("checks: " + ", ".join(f"{k} {'ok' if v else 'FAILED'}" for k, v in s["checks"].items() if k != "all_ok"))
    return L


def summary_json(s: dict) -> str:
    return json.dumps(s)
