"""The planning agency's part of the demo: a catalogue, three years of synthetic history on chain,
guidance published at the start of each month, realised demand during it, the month closed at its end.

Demand for each product is :func:`planning.synthetic.product_series` (a known monthly season, noise
and reservations that carry part of next month's demand), seeded from the demo's seed.  The history
(36 months before the first simulated month) is written as ordinary transactions: tagged payments
(``planning.pay``) from buyer enterprises to the producers, reservations by citizens and the
producers' declarations.  Each month the agency computes guidance from the chain at the tip
(:func:`planning.guidance.compute`, the same code as ``esoc plan compute``) and publishes it in one
transaction; procurement then reads its quantity from it.  One producer of each product follows the
guidance (produces its half of the recommended quantity), the other produces what it sold a year
earlier; their declared inventory and stock-outs show the difference when the month is closed.

In procurement's month a third of the procured product's demand is bought from the state instead
(:data:`PROCURED`): the buyers opt in with that demand, and the state's settled sales are added to
the product's sales by ``planning.record_settlement`` (what the state did not sell of it is paid to
the producers as usual), so the month's realised demand is the known demand, served two ways.
"""

from __future__ import annotations

from planning import guidance, synthetic

from .chain import YUAN, Actor, Chain

HISTORY = 36
ORIGINS = 12  # rolling origins of the back-test published with each month's guidance
PUBLISH_GAS = 100_000_000
CLOSE_GAS = 50_000_000
GAS = 2_000_000
PROCURED = (1, 3)  # in procurement's month this share of the product's demand is bought from the state


class Planner:
    def __init__(self, ch: Chain, agency: Actor, citizens: list, enterprises: list, tag: str, seed: int, months: int):
        self.ch = ch
        self.pa = agency
        self.citizens = citizens[:3]
        e = enterprises
        # code, name, unit, price (fen per unit), level, amplitude, phase, producers, buyers
        self.products = [
            {"code": f"steel-{tag}", "name": "Rebar steel", "unit": "tonne", "price": 250 * YUAN, "level": 120,
             "amplitude": 30, "phase": 0, "producers": [e[0], e[1]], "buyers": [e[4], e[5]]},
            {"code": f"bread-{tag}", "name": "Bread", "unit": "1000 loaves", "price": 150 * YUAN, "level": 200,
             "amplitude": 40, "phase": 5, "producers": [e[2], e[3]], "buyers": [e[0], e[1]]},
        ]
        for i, p in enumerate(self.products):
            lv = p["level"]  # noise in proportion to the level: 4 % announced (reserved), 3 % not
            p["sales"], p["reserved"] = synthetic.product_series(
                HISTORY + months + 1, seed * 7 + i, level=lv, amplitude=p["amplitude"], phase=p["phase"],
                sd_announced=0.04 * lv, sd_unannounced=0.03 * lv, sd_reservation=0.004 * lv)
        self.months = []  # one record per simulated month
        self.held: dict = {}  # product -> demand left to procurement this month (not paid to the producers)
        self.procured: dict = {}  # period -> the state's sales counted as demand (record_settlement)

    @property
    def codes(self) -> list[str]:
        return [p["code"] for p in self.products]

    def price(self, p: dict, t: int) -> int:
        return p["price"] * (100 + 2 * (t % 3 - 1)) // 100  # ±2 %: the published price band is not a point

    def _pay(self, p: dict, period: int, t: int, k: int, quantity: int) -> None:
        self.ch.call(p["buyers"][k], "planning", "pay", {"product": p["code"], "period": period,
                                                         "seller": p["producers"][k].addr, "quantity": quantity,
                                                         "amount": quantity * self.price(p, t)}, gas=GAS)

    def _sell(self, p: dict, period: int, t: int, productions: list[int] | None, held: int = 0) -> None:
        """Period ``t``'s demand: tagged payments to the producers (half each) of all but ``held`` (which the
        state sells in procurement's month), and the producers' declarations (of the whole demand)."""
        q = p["sales"][t]
        halves = [q // 2, q - q // 2]
        paid = [(q - held) // 2, q - held - (q - held) // 2]
        for k, producer in enumerate(p["producers"]):
            if paid[k]:
                self._pay(p, period, t, k, paid[k])
            made = halves[k] if productions is None else productions[k]
            self.ch.call(producer, "planning", "declare",
                         {"product": p["code"], "period": period, "production": made,
                          "inventory": max(0, made - halves[k]), "stockout": max(0, halves[k] - made)}, gas=GAS)

    def _reserve(self, p: dict, period: int, t: int) -> None:
        r = p["reserved"][t]
        parts = [r // 3, r // 3, r - 2 * (r // 3)]
        for c, part in zip(self.citizens, parts):
            if part:
                self.ch.call(c, "planning", "reserve", {"product": p["code"], "period": period, "quantity": part}, gas=GAS)

    # ------------------------------------------------------------------ phases
    def queue_setup(self, first_period: int) -> None:
        """The catalogue, the producers and 36 months of history (queued; the caller flushes)."""
        for p in self.products:
            self.ch.call(self.pa, "planning", "add_product", {"code": p["code"], "name": p["name"], "unit": p["unit"]},
                         gas=GAS)
            for e in p["producers"]:
                self.ch.call(self.pa, "planning", "add_producer", {"product": p["code"], "enterprise": e.addr}, gas=GAS)
        for t in range(HISTORY):
            period = guidance.add_months(first_period, t - HISTORY)
            for p in self.products:
                self._sell(p, period, t, None)
                self._reserve(p, period, t)
        for p in self.products:
            self._reserve(p, first_period, HISTORY)

    def publish(self, period: int) -> dict:
        """Compute guidance for ``period`` from the chain at the tip and publish it (one transaction)."""
        h = self.ch.height()
        args = guidance.compute(guidance.ClientReader(self.ch.c), period, h, ORIGINS, self.codes)
        self.ch.call(self.pa, "planning", "publish", args, gas=PUBLISH_GAS)
        rec = {"period": period, "data_to": h, "items": {it["product"]: it for it in args["items"]}}
        self.months.append(rec)
        return rec

    def queue_month(self, period: int, m: int, procured: str | None = None) -> None:
        """Month ``m``'s demand and declarations for ``period`` and the reservations for the next month.

        ``procured``: the product procurement handles this month; :data:`PROCURED` of its demand is
        left to the state's sales (:meth:`procurement_demand`, :meth:`count_procurement`)."""
        t = HISTORY + m - 1
        rec = self.months[-1]
        for p in self.products:
            rec_q = rec["items"][p["code"]]["recommended"]
            follower = (rec_q + 1) // 2
            other = p["sales"][t - 12] - p["sales"][t - 12] // 2  # what it sold a year earlier
            held = p["sales"][t] * PROCURED[0] // PROCURED[1] if p["code"] == procured else 0
            if held:
                self.held[p["code"]] = (period, t, held)
            self._sell(p, period, t, [follower, other], held)
            self._reserve(p, guidance.add_months(period, 1), t + 1)

    def procurement_demand(self, code: str) -> list[int]:
        """What the product's two buyers declare at procurement's opt-in: the held-back demand, 2 : 1."""
        held = self.held[code][2]
        return [held - held // 3, held // 3]

    def count_procurement(self, code: str, sales: list[dict]) -> dict:
        """The state's settled sales of ``code`` (procurement orders) counted as its demand, each once
        (``planning.record_settlement``); the rest of the held-back demand is paid to the producers (queued)."""
        period, t, held = self.held.pop(code)
        p = next(x for x in self.products if x["code"] == code)
        for o in sales:
            self.ch.call(self.pa, "planning", "record_settlement", {"order_id": o["id"]}, gas=GAS)
        sold = sum(o["quantity"] for o in sales)
        if held > sold:
            self._pay(p, period, t, 0, held - sold)
        rec = {"product": code, "period": period, "orders": [o["id"] for o in sales], "quantity": sold,
               "held": held, "paid_to_producers": max(0, held - sold)}
        self.procured[period] = rec
        return rec

    def close(self, period: int) -> None:
        self.ch.call(self.pa, "planning", "close_period", {"period": period, "products": self.codes}, gas=CLOSE_GAS)

    def summary(self) -> dict:
        out = {"products": {}, "months": len(self.months)}
        for p in self.products:
            code = p["code"]
            rows = []
            for rec in self.months:
                o = self.ch.view("planning", "outcome", {"product": code, "period": rec["period"]})
                it = rec["items"][code]
                rows.append({"period": rec["period"], "demand": p["sales"][HISTORY + len(rows)],
                             "method": it["method"], "forecast": it["forecast"],
                             "lo80": it["lo80"], "hi80": it["hi80"], "lo95": it["lo95"], "hi95": it["hi95"],
                             "recommended": it["recommended"], "realised": None if o is None else o["realised"],
                             "in80": None if o is None else o["in80"], "in95": None if o is None else o["in95"],
                             "followed": None if o is None else o["followed"], "other": None if o is None else o["other"]})
            first = self.months[0]["items"][code] if self.months else None
            out["products"][code] = {"unit": p["unit"], "periods": rows,
                                     "backtest_at_first_publication": first["backtest"] if first else None,
                                     "price_band": [first["price_lo"], first["price_hi"]] if first else None}
        out["procurement_counted"] = list(self.procured.values())
        out["scorecard"] = self.ch.view("planning", "scorecard")
        return out
