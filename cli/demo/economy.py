"""A year of a small economy, programme by programme, and its money checks."""

from __future__ import annotations


import random
import sys
import time

from ledger import codes
from ledger.codec import decode
from ledger.crypto import PrivateKey
from ledger.tx import Issue, Register, Transfer

from .planning import Planner
from .summary import summarise
from .chain import (  # noqa: F401
    AGENCIES, BATCH, DAY_MS, DRAW_GAS, EXPIRY_BLOCKS, GAS, LAWS, REGISTER_READ_LIMIT, SIMULATED_STEP_MS, YUAN, Actor, Chain, DemoError, Progress, _duration, _raw, _seed, _ymd, add_months, law_address, law_events, month_of,
)


class Economy:
    def __init__(self, chain: Chain, agency_keys: dict, n_citizens: int, n_enterprises: int, months: int, rng, tag,
                 progress, clock: dict | None = None):
        self.ch = chain
        self.rng = rng
        self.tag = tag
        self.months = months
        self.clock = clock or {"simulated": False, "step_ms": 0, "how": "not read"}
        self.simulated = self.clock["simulated"]
        # the chain's months pass quickly (a simulated clock, even with --wall-clock): the demo's
        # citizens leave the welfare register at the end, or their pensions would drain its fund
        self.fast_clock = self.simulated or self.clock["step_ms"] >= SIMULATED_STEP_MS
        self.calendar: list[tuple] = []  # simulated clock: the (year, month) of each simulated month
        self.pending: list[tuple] = []  # (height it is due after, what) : a ration's expiry, a lottery's draw
        self.ag = {name: Actor(name, agency_keys[name]) for name in AGENCIES}
        self.citizens = [Actor(f"citizen-{tag}-{i}", PrivateKey(_seed(rng))) for i in range(n_citizens)]
        self.enterprises = [Actor(f"enterprise-{tag}-{i}", PrivateKey(_seed(rng))) for i in range(n_enterprises)]
        self.law = {name: law_address(name) for name in LAWS}
        # phases: setup 3, a month 1 (+1 each quarter), procurement 5, ration 3, lottery 4, welfare 1, summary 1;
        # a simulated clock adds a wait per month and the closing of the records
        self.progress = Progress(3 + months + (months + 2) // 3 + 5 + 3 + 4 + 2 + (months + 1 if self.simulated else 0)
                                 + 1 + 2 * months,  # planning: the history, then each month's guidance and close
                                 progress)
        self.issued = 0
        self.welfare_funding = 0
        self.expected_failures = 0
        self.s: dict = {}

    # helpers -------------------------------------------------------------
    def flush(self, label: str) -> list[dict]:
        recs = self.ch.flush()
        self.progress.step(label, self.ch.submitted)
        return recs

    def today(self, height: int = 0) -> int:
        """The block time's date as YYYYMMDD (the laws' own reading of it)."""
        p = self.ch.view("welfare", "period_of", height=height)
        return (p // 12) * 10000 + (p % 12 + 1) * 100 + 1  # first day of the law's month

    # the chain's calendar (simulated clock) -------------------------------------
    def first_month(self) -> tuple:
        """The first simulated month: the next calendar month of block time, or the next January
        when the months would not fit in its year (a tax year is a calendar year)."""
        first = add_months(month_of(self.ch.c.status().time_ms), 1)
        if first[1] + self.months - 1 > 12:
            first = (first[0] + 1, 1)
        return first

    def enter_month(self, m: int, announce: bool = True) -> None:
        """Wait until the chain's block time is in simulated month ``m``; refuse if it is already past it."""
        want = self.calendar[m - 1]
        st = self.ch.c.status()
        if month_of(st.time_ms) < want:
            self.progress.note(f"month {m}/{self.months}: waiting for {want[0]}-{want[1]:02d} on the chain's clock "
                               f"(block time {_ymd(st.time_ms)})", self.ch.submitted)
            st = self.ch.wait_month(want)
        now = month_of(st.time_ms)
        if now > want:
            raise DemoError(f"the chain's block time reached {_ymd(st.time_ms)} before the demo could start month {m} "
                            f"({want[0]}-{want[1]:02d}): its clock moves {_duration(self.clock['step_ms'])} a block, "
                            f"too fast for this node; use a devnet with a smaller --time-step-ms")
        if announce:
            self.progress.step(f"month {m}/{self.months}: block time {_ymd(st.time_ms)}", self.ch.submitted)

    def yyyymm(self, year: int, m: int) -> int:
        if self.simulated:
            y, mo = self.calendar[m - 1]
            return y * 100 + mo
        return year * 100 + m

    def run_due(self, wait: bool) -> None:
        """The steps that wait for a height (a ration's expiry, a lottery's draw): those already due,
        or all of them (``wait``), in the order they fall due."""
        later = []
        for due, step in sorted(self.pending, key=lambda x: x[0]):
            if wait or self.ch.height() > due:
                step()
            else:
                later.append((due, step))
        self.pending = later

    # the year ------------------------------------------------------------
    def run(self) -> dict:
        self.registered: list[Actor] = []
        try:
            return self._run()
        except BaseException:
            if self.fast_clock and self.registered:
                self.close_records(best_effort=True)
            raise

    def open_register(self) -> None:
        """The welfare law moves its payout cursor on to a new month only when it passes a citizen: on
        an empty register the cursor stays in the month the law first ran, and the first citizens
        registered later would be paid for every month since.  So on an empty register whose cursor is
        behind, the registrar first registers one resident with no cash benefit (20 years old, neither
        employed nor unemployed) and the demo waits until the cursor has caught up with block time."""
        ch = self.ch
        h = ch.height()
        if (ch.view("welfare", "citizen_count", height=h) > 0
                or ch.view("welfare", "cursor", height=h)["period"] >= ch.view("welfare", "period_of", height=h)):
            return
        year = self.today(h) // 10000
        opener = Actor(f"resident-{self.tag}", PrivateKey(_seed(random.Random(f"{self.tag}/resident"))))  # not from self.rng: the run stays the same
        self.registered.append(opener)
        ch.call(self.ag["registrar"], "welfare", "register_citizen",
                {"who": opener.addr, "born": (year - 20) * 10000 + 101, "residence": "district-0"})
        self.flush("welfare: a first resident on the empty register")
        self.welfare_wait()

    def _run(self) -> dict:
        """The year: setup, the months, the programmes, then every figure read at one height."""
        start = self._start()
        people = self._population(start["year"])
        self._register(people, start["period"])
        self._fund(people, start["year"])
        # the planning agency's catalogue and three years of history (cli/demo/planning.py)
        self.planner = Planner(self.ch, self.ag["planning-agency"], self.citizens, self.enterprises, self.tag,
                               int(self.tag, 16), self.months)
        self.planner.queue_setup(self.yyyymm(start["year"], 1))
        self.check(self.flush("planning: catalogue and 36 months of history"), "setup")
        books = {e.addr: {"revenue": 0, "wages": 0} for e in self.enterprises}
        self.s = {"wages": {"payments": 0, "gross": 0, "net": 0, "tax": 0, "social_insurance": 0,
                            "months_counted_by_tax_law": 0},
                  "sales": {"count": 0, "value": 0}, "vouchers": {"redeemed": 0, "value": 0},
                  "eit": {"declarations": 0, "tax": 0}}
        programmes: dict = {"procurement": None, "ration": None, "lottery": None}
        for m in range(1, self.months + 1):
            self._month(m, start["year"], people, books, programmes)
        self.run_due(wait=True)
        return self._finish(start, people, programmes)

    def _start(self) -> dict:
        """Open the register, enter the chain's calendar, and read the figures the year starts from."""
        ch = self.ch
        self.open_register()
        if self.simulated:
            first = self.first_month()
            self.calendar = [add_months(first, k) for k in range(self.months)]
            self.enter_month(1)  # the whole year happens on the chain's calendar, setup included
            self.welfare_wait()  # citizens already on the register are paid for this month before the fund is read
        height = ch.height()
        everyone = ([a.addr for a in self.citizens + self.enterprises] + [a.addr for a in self.ag.values()]
                    + list(self.law.values()))
        self.cursor0 = ch.view("welfare", "cursor", height=height)["period"]
        self.register_size0 = ch.view("welfare", "citizen_count", height=height)
        return {"height": height, "everyone": everyone, "balances": {a: ch.balance(a, height) for a in everyone},
                "supply": ch.supply(height), "year": self.today(height) // 10000,
                "period": ch.view("welfare", "period_of", height=height)}

    def _population(self, year: int) -> list[dict]:
        """Each citizen's birth date, status, employer and wage, drawn from the run's seed."""
        rng = self.rng
        people = []
        for c in self.citizens:
            r = rng.random()
            if r < 0.15:
                ages, status = (61, 85), "retired"
            elif r < 0.25:
                ages, status = (22, 55), "unemployed"
            elif r < 0.30:
                ages, status = (18, 24), "student"
            else:
                ages, status = (22, 58), "employed"
            born = (year - rng.randint(*ages)) * 10000 + rng.randint(1, 12) * 100 + rng.randint(1, 28)
            people.append({"actor": c, "born": born, "status": status, "employer": None,
                           "gross": rng.choice([6_000, 8_000, 10_000, 12_000, 15_000, 20_000, 30_000]) * YUAN})
        for k, p in enumerate(self.workers(people)):
            p["employer"] = self.enterprises[k % len(self.enterprises)]
        return people

    @staticmethod
    def workers(people: list[dict]) -> list[dict]:
        return [p for p in people if p["status"] == "employed"]

    def _register(self, people: list[dict], start_period: int) -> None:
        """Registration (native and the welfare register), employers, the clinic, the treasury's accounts."""
        ch, ag, rng = self.ch, self.ag, self.rng
        reg = ag["registrar"]
        for c in self.citizens:
            ch.add(reg, "register", Register(account=c.raw, kind="citizen", name=c.name), "register")
        for e in self.enterprises:
            ch.add(reg, "register", Register(account=e.raw, kind="enterprise", name=e.name), "register")
        for i, p in enumerate(people):
            ch.call(reg, "welfare", "register_citizen",
                    {"who": p["actor"].addr, "born": p["born"], "residence": f"district-{i % 7}"})
            if p["status"] == "unemployed":
                # right after the record (same batch, next nonce, so in practice the same block): the payout
                # cursor judges a record when it first visits it, at the end of the block that adds it
                per = start_period - rng.randint(1, 18)
                p["since"] = (per // 12) * 10000 + (per % 12 + 1) * 100 + 1
                ch.call(reg, "welfare", "set_status", {"who": p["actor"].addr, "unemployed": p["since"]})
        for e in self.enterprises:
            ch.call(reg, "welfare", "add_employer", {"who": e.addr})
        ch.call(reg, "welfare", "accredit", {"provider": self.clinic.addr, "kind": "medical"})
        if ch.view("tax", "treasury") is None:
            ch.call(ag["treasury"], "tax", "set_treasury", {})
        if ch.view("procurement", "treasury") is None:
            ch.call(ag["treasury"], "procurement", "set_treasury", {})
        self.registered += [p["actor"] for p in people]
        self.check(self.flush("register citizens and enterprises"), "setup")

    @property
    def clinic(self) -> Actor:
        return self.enterprises[-1]

    def _fund(self, people: list[dict], year: int) -> None:
        """Money for everyone, the welfare fund, hiring, and the year's enterprise tax categories."""
        ch, ag = self.ch, self.ag
        for c in self.citizens:
            self.issue(c, 3_000 * YUAN)
        for e in self.enterprises:
            self.issue(e, 3_000_000 * YUAN)
        self.issue(ag["planning-agency"], 4_000_000 * YUAN)
        # the welfare fund: pensions and relief (with room for the year's layoffs) and vouchers; with the
        # wall clock two months of cash, in case the run crosses a month end; when the chain's months
        # pass, every month of the run and one more
        rates = ch.view("welfare", "params_at")
        cash_months = self.months + 1 if self.fast_clock else 2
        retired = sum(1 for p in people if p["status"] == "retired")
        unemployed = sum(1 for p in people if p["status"] == "unemployed")
        need = (cash_months * (retired * rates["pension_monthly"][1]
                               + (unemployed + 4) * rates["unemployment_relief_monthly"][1])
                + len(self.citizens) * 300 * YUAN)
        self.issue(ag["treasury"], need)  # the treasury's budget for it, then an ordinary transfer (docs/laws/welfare.md)
        self.flush("issue money")
        ch.add(ag["treasury"], "transfer", Transfer(to=_raw(self.law["welfare"]), amount=need, memo="welfare fund"), "fund welfare")
        self.welfare_funding += need
        for p in self.workers(people):
            ch.call(p["employer"], "welfare", "hire", {"who": p["actor"].addr}, fresh=True)
        ch.call(ag["treasury"], "tax", "certify", {"enterprise": self.enterprises[0].addr, "year": year, "category": "high_tech"})
        for e in self.enterprises[1:4]:
            ch.call(ag["treasury"], "tax", "certify", {"enterprise": e.addr, "year": year, "category": "small_low_profit"})
        self.check(self.flush("fund welfare, hire workers"), "setup")

    def _month(self, m: int, year: int, people: list[dict], books: dict, programmes: dict) -> None:
        """One month: wages with withholding, sales, vouchers, layoffs, then the state's programmes."""
        label = f"month {m}/{self.months}"
        if self.simulated:
            self.enter_month(m, announce=m > 1)  # month 1 was entered before the setup
        period = self.yyyymm(year, m)
        self.planner.publish(period)  # guidance for the month, computed from the chain, one transaction
        self.check(self.flush(f"planning: guidance for {period}"), label)
        # procurement's month: part of its product's demand is bought from the state (cli/demo/planning.py)
        self.planner.queue_month(period, m, f"steel-{self.tag}" if m == min(2, self.months) else None)
        self._wages(people)
        self._sales(people)
        if m in (1, 5, 9):  # medical vouchers at the clinic (lazy, per month of block time)
            for p in self.rng.sample(people, min(10, len(people))):
                self.ch.call(p["actor"], "welfare", "redeem_voucher",
                             {"kind": "medical", "provider": self.clinic.addr, "amount": 100 * YUAN})
        if m == 4:  # layoffs (welfare status entries)
            for p in [w for w in self.workers(people) if w["employer"] is not None][:3]:
                self.ch.call(p["employer"], "welfare", "separate", {"who": p["actor"].addr})
                p["employer"] = None
                p["status"] = "laid off"
        recs = self.flush(label)
        self.check(recs, label)
        self._tally(recs, books)
        # the state's programmes, each in the month it happens (in a short run several share a month:
        # the ration and the lottery open first, so that their windows pass while procurement runs)
        if m == min(6, self.months):
            ration = programmes["ration"] = self.ration_open(people)
            self.pending.append((ration["expires"], lambda r=ration: self.ration_expired(r)))
        if m == min(8, self.months):
            lottery = programmes["lottery"] = self.lottery_open(people)
            self.pending.append((lottery["draw_at"], lambda lt=lottery: self.lottery_draw(lt)))
        if m == min(2, self.months):
            programmes["procurement"] = self.procurement_cycle(self.yyyymm(year, m), books)
        if m % 3 == 0 or m == self.months:
            self.declare_profits(year, books, label)
        self.planner.close(period)
        self.check(self.flush(f"planning: {period} closed, guidance judged"), label)
        self.run_due(wait=False)

    def _wages(self, people: list[dict]) -> None:
        """Each employed citizen's wage through the tax law, which withholds the tax."""
        for p in people:
            if p["status"] != "employed" or p["employer"] is None:
                continue
            gross = p["gross"]
            si = gross * 105 // 1000
            special = 2_000 * YUAN if p["born"] % 3 == 0 else 0
            self.ch.call(p["employer"], "tax", "pay_wage",
                         {"employee": p["actor"].addr, "gross": gross, "social_insurance": si, "special_additional": special},
                         info={"employer": p["employer"].addr, "employee": p["actor"].addr, "gross": gross,
                               "deductions": si + special})

    def _sales(self, people: list[dict]) -> None:
        """Citizens buy from enterprises (plain transfers)."""
        for p in people:
            bal = self.ch.balance(p["actor"].addr)
            if bal < 100 * YUAN:
                continue
            e = self.enterprises[self.rng.randrange(len(self.enterprises))]
            amount = self.rng.randint(bal // 10, bal // 3)
            self.ch.add(p["actor"], "transfer", Transfer(to=e.raw, amount=amount, memo="purchase"), "sale",
                        info={"to": e.addr, "amount": amount})

    def _tally(self, recs: list[dict], books: dict) -> None:
        """The month's committed wages, sales and vouchers into the summary and the enterprises' books."""
        for r in recs:
            if r["code"] != 0:
                continue
            if r["tag"] == "tax.pay_wage":
                res = r["result"]
                w = self.s["wages"]
                w["payments"] += 1
                w["gross"] += r["info"]["gross"]
                w["net"] += res["net"]
                w["tax"] += res["tax"]
                w["social_insurance"] += res["social_insurance"]
                w["months_counted_by_tax_law"] = max(w["months_counted_by_tax_law"], res["month"])
                books[r["info"]["employer"]]["wages"] += r["info"]["gross"]
            elif r["tag"] == "sale":
                self.s["sales"]["count"] += 1
                self.s["sales"]["value"] += r["info"]["amount"]
                books[r["info"]["to"]]["revenue"] += r["info"]["amount"]
            elif r["tag"] == "welfare.redeem_voucher":
                self.s["vouchers"]["redeemed"] += 1
                self.s["vouchers"]["value"] += 100 * YUAN

    def _finish(self, start: dict, people: list[dict], programmes: dict) -> dict:
        """Wait for the welfare payouts, read every figure at one height, close the demo's records."""
        ch = self.ch
        end_height = self.welfare_wait()
        self.progress.step("welfare payouts", ch.submitted)
        end = {"height": end_height, "balances": {a: ch.balance(a, end_height) for a in start["everyone"]},
               "supply": ch.supply(end_height), "period": ch.view("welfare", "period_of", height=end_height)}
        summary = summarise(self, people, start, end, list(range(start["period"], end["period"] + 1)), programmes)
        summary["planning"] = self.planner.summary()
        if self.fast_clock:
            # the demo's citizens leave the register: on a simulated clock a month passes every few
            # seconds, and their pensions would drain the fund (and then stall everyone's payouts)
            summary["welfare"]["records_closed_after_run"] = self.close_records()
            self.registered = []
        self.progress.finish("done", ch.submitted)
        self.progress.close()
        return summary

    def close_records(self, best_effort: bool = False) -> int:
        """The registrar closes the demo's citizens' welfare records (they stay, inactive)."""
        ch, reg = self.ch, self.ag["registrar"]
        if best_effort:  # after a failure: drop what was queued, count the nonce again from the chain
            ch.queue = []
            ch.nonces.pop(reg.raw, None)
        for a in self.registered:
            ch.call(reg, "welfare", "deregister_citizen", {"who": a.addr}, tag="welfare.deregister_citizen (end of run)")
        try:
            recs = ch.flush(timeout=60.0 if best_effort else 300.0)
        except Exception as e:  # noqa: BLE001 - already failing: say so, keep the first error
            if not best_effort:
                raise
            print(f"note: the demo's citizens could not be taken off the welfare register: {e}", file=sys.stderr)
            return 0
        if not best_effort:
            self.progress.step("the demo's citizens leave the welfare register", ch.submitted)
        return sum(1 for r in recs if r["code"] == 0)

    def issue(self, to: Actor, amount: int) -> None:
        self.ch.add(self.ag["central-bank"], "issue", Issue(to=to.raw, amount=amount, memo="demo"), "issue")
        self.issued += amount

    def check(self, recs: list[dict], where: str) -> None:
        for r in recs:
            if r["expect"]:
                self.expected_failures += 1

    # procurement -----------------------------------------------------------
    # Long by design: one procurement cycle in the order the law runs it (guidance, opt-in, quotas, orders, delivery, settlement).
    def procurement_cycle(self, period: int, books: dict) -> dict:
        ch, pa = self.ch, self.ag["planning-agency"]
        product = f"steel-{self.tag}"
        h = ch.height()
        close = h + 6
        # the quantity, price and band come from the planning law's guidance for the month (plan_share);
        # on a chain dated before plan_share is in force the agency sets the same numbers by hand
        if ch.view("procurement", "param", {"name": "plan_share"}):
            ch.call(pa, "procurement", "publish_from_plan", {"product": product, "period": period,
                                                             "optin_close": close, "ends": close + 400})
        else:
            pg = ch.view("planning", "guidance", {"product": product, "period": period})
            ch.call(pa, "procurement", "publish_guidance",
                    {"product": product, "period": period, "unit": "tonne", "quantity": pg["recommended"],
                     "price": (pg["price_lo"] + pg["price_hi"]) // 2, "band": 1_000, "optin_close": close,
                     "ends": close + 400})
        self.flush("procurement: guidance")
        g = ch.view("procurement", "guidance", {"product": product, "period": period})
        price = g["price"]
        sellers = self.enterprises[:4]
        caps = [600, 400, 300, 200]
        buyers = self.enterprises[4:6]
        demand = self.planner.procurement_demand(product)  # the part of the month's demand left to the state
        for e, cap in zip(sellers, caps):
            ch.call(e, "procurement", "opt_in", {"product": product, "period": period, "capacity": cap, "demand": 0})
        for e, d in zip(buyers, demand):
            ch.call(e, "procurement", "opt_in", {"product": product, "period": period, "capacity": 0, "demand": d})
        self.flush("procurement: opt-in")
        ch.wait_height(close + 1)
        quotas = {e.addr: ch.view("procurement", "quota", {"product": product, "period": period, "enterprise": e.addr})
                  for e in sellers + buyers}
        buys = []
        for e in sellers:
            q = quotas[e.addr]["purchase"]
            qty = q - self.rng.randint(0, max(1, q // 10))
            buys.append((e, qty))
            ch.call(pa, "procurement", "state_purchase", {"product": product, "period": period, "seller": e.addr, "quantity": qty},
                    info={"seller": e.addr})
        # one order over the quota: refused by the law (E_OVER_QUOTA)
        e0, q0 = buys[0]
        over = quotas[e0.addr]["purchase"] - q0 + 1
        ch.call(pa, "procurement", "state_purchase", {"product": product, "period": period, "seller": e0.addr, "quantity": over},
                tag="procurement.state_purchase (over quota)", expect=codes.CONTRACT_BASE + 4)
        for e in buyers:
            ch.call(e, "procurement", "state_sale", {"product": product, "period": period, "quantity": quotas[e.addr]["sale"]})
        recs = self.flush("procurement: orders")
        orders = [r for r in recs if r["code"] == 0]
        for r in orders:
            o = r["result"]
            confirmer = pa if o["kind"] == "purchase" else next(e for e in buyers if e.addr == o["enterprise"])
            ch.call(confirmer, "procurement", "confirm_delivery", {"order_id": o["id"]})
        settled = self.flush("procurement: delivery confirmed, settled")
        out = {"product": product, "period": period, "quantity_planned": g["quantity"], "band_bps": g["band"],
               "price": price, "from_plan": bool(ch.view("procurement", "param", {"name": "plan_share"})),
               "orders_placed": len(orders), "orders_settled": 0, "purchases_value": 0, "sales_value": 0,
               "paid_to_sellers": 0, "fees_to_treasury": 0, "sale_proceeds_to_treasury": 0,
               "over_quota_refused": [r["code"] for r in recs if r["expect"]],
               "quotas": {e.name: quotas[e.addr]["purchase"] or quotas[e.addr]["sale"] for e in sellers + buyers}}
        self._settlement(out, settled, books)
        out["escrow_open_after"] = ch.view("procurement", "escrow_open")
        # the state's sales are demand for the product: counted by the planning law before the month closes
        sales = [r["result"] for r in settled if r["code"] == 0 and r["result"]["kind"] == "sale"]
        out["counted_as_demand"] = self.planner.count_procurement(product, sales)
        self.check(self.flush("planning: the state's sales counted as demand"), "procurement")
        return out

    @staticmethod
    def _settlement(out: dict, settled: list[dict], books: dict) -> None:
        """Settled orders into the cycle's figures and the enterprises' books."""
        for r in settled:
            if r["code"] != 0:
                continue
            o = r["result"]
            out["orders_settled"] += 1
            if o["kind"] == "purchase":
                out["purchases_value"] += o["amount"]
                out["paid_to_sellers"] += o["amount"] - o["fee"]
                out["fees_to_treasury"] += o["fee"]
                books[o["enterprise"]]["revenue"] += o["amount"] - o["fee"]
            else:
                out["sales_value"] += o["amount"]
                out["sale_proceeds_to_treasury"] += o["amount"]
                out["fees_to_treasury"] += o["fee"]
                books[o["enterprise"]]["revenue"] -= o["escrow"]

    # rations ----------------------------------------------------------------
    def ration_open(self, people: list) -> dict:
        ch, pa = self.ch, self.ag["planning-agency"]
        good = f"flour-{self.tag}"
        rid = f"flour-{self.tag}"
        sellers = self.enterprises[1:3]
        for s in sellers:
            ch.call(pa, "allocation", "accredit_seller", {"seller": s.addr, "good": good})
        per_capita, price = 5, 300
        # coupons last 25 blocks; on a simulated clock about ten days, so that a ration opened in a
        # run's last month expires within it
        days = -(-10 * DAY_MS // self.clock["step_ms"]) if self.simulated else 25
        expires = ch.height() + max(5, days)
        ch.call(pa, "allocation", "open_ration", {"ration_id": rid, "good": good, "per_capita": per_capita, "price": price,
                                                  "expires": expires})
        self.flush("shortage: ration opened")
        ration = {"id": rid, "good": good, "per_capita": per_capita, "price": price, "expires": expires,
                  "coupon_holders": self.active_citizens(), "redemptions": 0, "redeemed_units": 0,
                  "paid_to_sellers": 0, "refused": {}}
        rng = self.rng
        takers = [p for p in people if rng.random() < 0.8]
        if len(takers) < 3:
            takers = people[:3]
        for p in takers[2:]:
            ch.call(p["actor"], "allocation", "redeem", {"kind": "ration", "scheme_id": rid,
                                                        "seller": sellers[rng.randrange(2)].addr,
                                                        "quantity": rng.randint(1, per_capita)})
        # at a shop not accredited for flour
        ch.call(takers[0]["actor"], "allocation", "redeem",
                {"kind": "ration", "scheme_id": rid, "seller": self.enterprises[5].addr, "quantity": 1},
                tag="ration: not accredited seller", expect=codes.CONTRACT_BASE + 4)
        # a coupon handed to someone else: takers[1] uses its own 5 units and tries to use a neighbour's too
        ch.call(takers[1]["actor"], "allocation", "redeem",
                {"kind": "ration", "scheme_id": rid, "seller": sellers[0].addr, "quantity": per_capita + 2},
                tag="ration: transferred coupon", expect=codes.CONTRACT_BASE + 4)
        # ... and an enterprise, which holds no coupon, tries to redeem one given to it
        ch.call(self.enterprises[-2], "allocation", "redeem",
                {"kind": "ration", "scheme_id": rid, "seller": sellers[0].addr, "quantity": 1},
                tag="ration: transferred coupon", expect=codes.CONTRACT_BASE + 4)
        ration["late"] = takers[2]["actor"]
        self.ration_records(self.flush("shortage: coupons redeemed"), ration)
        return ration

    def welfare_record(self, i: int, height: int) -> dict | None:
        """Record ``i`` of the welfare register, read from the law's public storage."""
        r = self.ch.c.state(("cstore", "welfare", f"c/{i}"), height=height)
        return decode(r.value) if r.exists else None

    def active_citizens(self, limit: int = REGISTER_READ_LIMIT) -> int:
        """Active records on the welfare register (those the allocation law counts as citizens);
        above ``limit`` records, all of them."""
        h = self.ch.height()
        n = self.ch.view("welfare", "citizen_count", height=h)
        if n > limit:
            return n
        return sum(1 for i in range(n) if (self.welfare_record(i, h) or {}).get("active"))

    def paid_to_others(self, h0: int, h1: int, first_period: int, limit: int = REGISTER_READ_LIMIT) -> dict:
        """Cash the welfare law paid between heights ``h0`` and ``h1`` to citizens the demo did not
        register (an earlier run's, anyone's): they share its fund.  Per record, the periods paid in
        between (its ``paid`` month before and after, from ``first_period``, the cursor's month at
        ``h0``) at the amounts the law's ``benefit`` view gives.  ``None`` above ``limit`` records."""
        ours = {a.addr for a in self.registered}
        n = self.ch.view("welfare", "citizen_count", height=h1)
        if n > limit:
            return {"citizens": None, "payments": None, "amount": None}
        out = {"citizens": 0, "payments": 0, "amount": 0}
        for i in range(n):
            rec = self.welfare_record(i, h1)
            if rec is None or rec["address"] in ours:
                continue
            before = self.welfare_record(i, h0) if i < self.register_size0 else None
            paid0 = max(before["paid"] if before else 0, first_period - 1)
            if rec["paid"] <= paid0:
                continue
            out["citizens"] += 1
            for per in range(paid0 + 1, rec["paid"] + 1):
                b = self.ch.view("welfare", "benefit", {"who": rec["address"], "period": per}, height=h1)
                if b["paid"] and b["amount"] > 0:
                    out["payments"] += 1
                    out["amount"] += b["amount"]
        return out

    def ration_records(self, recs: list[dict], ration: dict) -> None:
        for r in recs:
            if r["code"] == 0 and r["tag"] == "allocation.redeem":
                ration["redemptions"] += 1
                ration["redeemed_units"] += r["result"]["quantity"]
                ration["paid_to_sellers"] += r["result"]["paid"]
            elif r["expect"]:
                key = f"{r['tag'].split(': ')[1]} ({codes.name(r['code'])})"
                ration["refused"][key] = ration["refused"].get(key, 0) + 1

    def ration_expired(self, ration: dict) -> None:
        self.ch.wait_height(ration["expires"] + 1)
        self.ch.call(ration["late"], "allocation", "redeem",
                     {"kind": "ration", "scheme_id": ration["id"], "seller": self.enterprises[1].addr, "quantity": 1},
                     tag="ration: expired coupon", expect=codes.CONTRACT_BASE + 4)
        self.ration_records(self.flush("shortage: an expired coupon"), ration)

    # lottery ----------------------------------------------------------------
    def lottery_open(self, people: list) -> dict:
        ch, pa, rng = self.ch, self.ag["planning-agency"], self.rng
        lid = f"cars-{self.tag}"
        options = [[f"scooter-{self.tag}", 4, 300_000], [f"bike-{self.tag}", 10, 60_000]]
        seller = self.enterprises[0]
        for good, _, _ in options:
            ch.call(pa, "allocation", "accredit_seller", {"seller": seller.addr, "good": good})
        closes = ch.height() + 8
        ch.call(pa, "allocation", "open_lottery", {"lottery_id": lid, "options": options, "closes": closes,
                                                   "draw_at": closes + 2, "expires": closes + 2000})
        self.flush("lottery: opened")
        # those who can afford what they rank apply
        able = [p for p in people if ch.balance(p["actor"].addr) >= 2 * max(o[2] for o in options)]
        applicants = rng.sample(able, min(len(able), 40))
        for p in applicants:
            choices = [o[0] for o in options]
            if rng.random() < 0.5:
                choices.reverse()
            if rng.random() < 0.3:
                choices = choices[:1]
            ch.call(p["actor"], "allocation", "apply", {"lottery_id": lid, "choices": choices})
        recs = self.flush("lottery: applications")
        return {"id": lid, "options": {o[0]: o[1] for o in options}, "closes": closes, "draw_at": closes + 2,
                "applicants": sum(1 for r in recs if r["code"] == 0), "people": applicants, "seller": seller,
                "prices": {o[0]: o[2] for o in options}}

    def lottery_draw(self, lot: dict) -> None:
        ch = self.ch
        ch.wait_height(lot["draw_at"] + 1)
        ch.call(self.ag["planning-agency"], "allocation", "run_draw", {"lottery_id": lot["id"]}, gas=DRAW_GAS)
        recs = self.flush("lottery: drawn with the beacon")
        lot["draw_code"] = recs[0]["code"]
        drawn = [ev for r in recs for ev in law_events(r, "lottery_drawn")]
        lot["beacon_height"] = drawn[0]["beacon_height"] if drawn else None
        lot["beacon"] = drawn[0]["beacon"] if drawn else None
        winners = [(w, g) for ev in drawn for w, g in ev["served"] if g is not None]
        lot["winners"] = len(winners)
        lot["won"] = {}
        byaddr = {p["actor"].addr: p["actor"] for p in lot["people"]}
        for w, g in winners:
            lot["won"][g] = lot["won"].get(g, 0) + 1
            ch.call(byaddr[w], "allocation", "redeem", {"kind": "lottery", "scheme_id": lot["id"],
                                                         "seller": lot["seller"].addr, "quantity": 1})
        recs = self.flush("lottery: winners redeem")
        lot["redeemed"] = sum(1 for r in recs if r["code"] == 0)
        lot["paid_to_seller"] = sum(r["result"]["paid"] for r in recs if r["code"] == 0)

    # enterprise income tax -------------------------------------------------------
    def declare_profits(self, year: int, books: dict, label: str) -> None:
        for e in self.enterprises:
            b = books[e.addr]
            profit = b["revenue"] - b["wages"]
            self.ch.call(e, "tax", "declare_profit", {"year": year, "cumulative_profit": profit})
        recs = self.flush(f"{label}: enterprises declare profit")
        for r in recs:
            if r["code"] == 0:
                self.s["eit"]["declarations"] += 1
                self.s["eit"]["tax"] += r["result"]["tax"]

    # welfare ---------------------------------------------------------------------
    def welfare_wait(self, timeout: float = 120.0) -> int:
        """Wait until the payout cursor has passed the whole register for the month of block time;
        return the height at which it had (every figure read there is consistent)."""
        deadline = time.monotonic() + timeout
        while True:
            h = self.ch.height()
            cur = self.ch.view("welfare", "cursor", height=h)
            n = self.ch.view("welfare", "citizen_count", height=h)
            if cur["next"] >= n and cur["period"] >= self.ch.view("welfare", "period_of", height=h):
                return h
            if time.monotonic() > deadline:
                raise DemoError(f"the welfare payout cursor did not pass the register within {timeout:.0f}s: {cur} of {n} "
                                f"citizens (is the law's fund short? citizens registered earlier and still active "
                                f"are paid from it too)")
            time.sleep(0.2)
