"""Guidance from the chain's data, and its verification.

Everything is read through a *reader*: ``reader(function, args, height)``
runs a view of the ``planning`` law at a height and returns its value (see
:class:`ClientReader` for a node over gRPC).  All reads of one computation
are at one height, ``data_to``: the state after every transaction of
heights ``1..data_to``.  That pair is the published data range; reading the
same views at the same height gives the same integers on any node.

:func:`compute` builds the ``publish`` arguments for a period (every product
of the catalogue); :func:`verify` re-reads the data a published guidance
names and checks it two ways:

* **exact**: the forecast, the intervals, ``sigma``, the recommended
  quantity and the price band recomputed from the published integer
  parameters and the data equal the published ones (``planning.model``'s
  exact rational path), and the data's digest matches;
* **re-fit**: fitting again (statsmodels) gives parameters and numbers
  within :data:`planning.model.TOLERANCE` of the published ones.
"""

from __future__ import annotations

from fractions import Fraction

from ledger.codec import decode, encode
from ledger.crypto import tagged_hash

from . import model

LAW = "planning"
LOOKBACK = 60  # months of history read before the period
BACKTEST_ORIGINS = 12
PRICE_PERIODS = 3


class GuidanceError(Exception):
    """The chain said no, or the data is not there: one line for the user."""


class ClientReader:
    """Views of the planning law through a node's gRPC ``EvalLaw``."""

    def __init__(self, client, law: str = LAW):
        self.client = client
        self.law = law

    def __call__(self, function: str, args: dict, height: int = 0):
        r = self.client.eval_law(self.law, function, args, height)
        value = decode(r.value) if r.value else None
        if r.code != 0:
            detail = value.get("detail") if isinstance(value, dict) else r.error
            raise GuidanceError(f"{self.law}.{function}: {detail or r.error or r.code}")
        return value


# ---------------------------------------------------------------- periods
def add_months(period: int, k: int) -> int:
    y, m = divmod(period, 100)
    idx = y * 12 + (m - 1) + k
    return (idx // 12) * 100 + idx % 12 + 1


def check_period(period: int) -> int:
    if not isinstance(period, int) or not 100001 <= period <= 999912 or not 1 <= period % 100 <= 12:
        raise GuidanceError(f"period must be a month YYYYMM, not {period!r}")
    return period


def digest(rows: list) -> str:
    return tagged_hash("esoc plan data", encode(rows)).hex()


# ---------------------------------------------------------------- one product
def first_period(rows: list) -> int | None:
    """The first period with any sales or declarations (the history starts there)."""
    for row in rows:
        if row["sales"] or row["declarants"] or row["count"]:
            return row["period"]
    return None


def price_band(history: list) -> tuple[int, int]:
    """Fen per unit: the lowest and highest average price of the last periods with sales."""
    prices = [row["value"] // row["sales"] for row in history if row["sales"] > 0][-PRICE_PERIODS:]
    return (min(prices), max(prices)) if prices else (0, 0)


def recommended(forecast: int, history: list) -> int:
    """What to produce: the forecast less the inventory producers declared at the end of the last period."""
    carried = history[-1]["inventory"] if history else 0
    return max(0, forecast - carried)


def ahead_of(period: int, later: list[dict]) -> list[dict]:
    """The published ``ahead`` list: periods after ``period``, each with its forecast and bounds."""
    return [{"period": add_months(period, h), **b} for h, b in enumerate(later, 1)]


def item_for(product: str, period: int, rows: list, backtest_origins: int = BACKTEST_ORIGINS,
             horizon: int = model.HORIZON) -> dict:
    """The published item of one product, from its rows ``first .. period`` (the last is the period itself).

    The item's own numbers are ``period``'s; with ``horizon`` > 1, ``ahead``
    lists the ``horizon - 1`` periods after it."""
    history, nxt = rows[:-1], rows[-1]
    y = [row["sales"] for row in history]
    r = [row["reserved"] for row in history]
    f = model.fit(y, r, nxt["reserved"], horizon)
    lo, hi = price_band(history)
    params = dict(f.params)
    params["first_period"] = rows[0]["period"]
    bt = model.backtest(y, r, origins=backtest_origins, horizon=horizon) if backtest_origins else {"origins": 0}
    item = {"product": product, **f.bounds(), "recommended": recommended(f.forecast, history),
            "price_lo": lo, "price_hi": hi, "n": f.n, "method": f.method, "digest": digest(rows),
            "params": params, "backtest": model.backtest_ints(bt)}
    if horizon > 1:
        item["ahead"] = ahead_of(period, f.later)
    return item


def rows_for(reader, product: str, period: int, height: int, first: int | None = None) -> list:
    """The product's rows from its first period with data (or ``first``) to ``period``."""
    if first is None:
        rows = reader("series", {"product": product, "first": add_months(period, -LOOKBACK), "last": period}, height)
        start = first_period(rows[:-1])
        return rows[[row["period"] for row in rows].index(start):] if start is not None else rows[-1:]
    return reader("series", {"product": product, "first": first, "last": period}, height)


# ---------------------------------------------------------------- the period
def open_products(reader, period: int, height: int) -> list[str]:
    """Catalogue products with no guidance for ``period`` yet and their data for it still open."""
    out = []
    for p in reader("products", {}, height):
        if (reader("guidance", {"product": p["code"], "period": period}, height) is None
                and not reader("is_closed", {"product": p["code"], "period": period}, height)):
            out.append(p["code"])
    return out


def compute(reader, period: int, height: int, backtest_origins: int = BACKTEST_ORIGINS,
            products: list[str] | None = None, horizon: int = model.HORIZON) -> dict:
    """The ``publish`` arguments for ``period`` from the state at ``height``.

    ``products``: the codes to include (default: :func:`open_products`);
    ``horizon``: periods forecast, ``period`` and the ``horizon - 1`` after it."""
    check_period(period)
    try:
        model.check_horizon(horizon)
    except ValueError as e:
        raise GuidanceError(str(e)) from None
    if products is None:
        if not reader("products", {}, height):
            raise GuidanceError("the catalogue is empty: the planning agency adds products first")
        products = open_products(reader, period, height)
        if not products:
            raise GuidanceError(f"every product already has guidance for {period} (or is closed for it)")
    items = [item_for(code, period, rows_for(reader, code, period, height), backtest_origins, horizon)
             for code in products]
    return {"period": period, "model": "statsmodels-ets-ana", "model_version": model.model_version(),
            "data_from": 1, "data_to": height, "items": items}


def _close(a: int, b: int, rel: Fraction, floor: int = 1) -> bool:
    return abs(a - b) <= max(floor, abs(b) * rel)


def verify(reader, period: int | None = None, refit: bool = True, backtest: bool = True) -> dict:
    """Recompute published guidance: every publication of ``period``, or the latest publication.

    Per product: ``agree`` and the differences (``exact`` and ``refit``)."""
    if period is None:
        head = reader("latest", {}, 0)
        heads = [] if head is None else [head]
    else:
        heads = reader("published", {"period": check_period(period)}, 0)
    if not heads:
        raise GuidanceError("no guidance is published" + ("" if period is None else f" for {period}"))
    out = []
    for head in heads:
        out += verify_publication(reader, head, refit, backtest)
    local = model.model_version()
    return {"period": heads[0]["period"], "publications": [
        {k: h[k] for k in ("id", "data_from", "data_to", "model", "model_version", "height", "products")} for h in heads],
        "local_model_version": local, "agree": all(x["agree"] for x in out), "products": out}


def _differ(where: dict, field: str, published, recomputed) -> None:
    if published != recomputed:
        where[field] = {"published": published, "recomputed": recomputed}


def horizon_of(g: dict) -> int:
    """How many periods a published item forecasts: its own and those of ``ahead``."""
    return 1 + len(g.get("ahead") or [])


def _ahead_differences(where: dict, g: dict, period: int, later: list[dict], agree) -> None:
    """Compare the published ``ahead`` with recomputed forecasts of periods 2..H (``agree(published, recomputed)``)."""
    published = g.get("ahead") or []
    mine = ahead_of(period, later)
    if [a["period"] for a in published] != [a["period"] for a in mine]:
        _differ(where, "ahead", published, mine)
        return
    for pub, rec in zip(published, mine):
        for k, v in rec.items():
            if k != "period" and not agree(pub.get(k), v):
                where[f"ahead.{rec['period']}.{k}"] = {"published": pub.get(k), "recomputed": v}


def exact_differences(g: dict, params: dict, rows: list) -> dict:
    """Step 1 of docs/planning.md's verification: the data's digest, then every number from the published
    integer parameters and the data (exact rational arithmetic): any difference is a disagreement."""
    history, nxt = rows[:-1], rows[-1]
    y = [row["sales"] for row in history]
    r = [row["reserved"] for row in history]
    exact: dict = {}
    _differ(exact, "digest", g["digest"], digest(rows))
    _differ(exact, "n", g["n"], len(y))
    if g["method"] != model.method_for(len(y)):
        _differ(exact, "method", g["method"], model.method_for(len(y)))
        return exact
    try:
        again = model.path(g["method"], params, y, r, nxt["reserved"], horizon_of(g))
        sigma = model.sigma_of(g["method"], params, y, r)
    except (KeyError, ValueError, ZeroDivisionError, TypeError) as e:  # malformed published parameters
        again, sigma = [], None
        exact["params"] = {"published": params, "recomputed": f"cannot recompute: {type(e).__name__}: {e}"}
    if again:
        for k, v in again[0].items():
            _differ(exact, k, g[k], v)
        _ahead_differences(exact, g, nxt["period"], again[1:], lambda a, b: a == b)
        if "sigma_e3" in params:
            _differ(exact, "sigma_e3", params["sigma_e3"], sigma)
    _differ(exact, "recommended", g["recommended"], recommended(g["forecast"], history))
    lo, hi = price_band(history)
    _differ(exact, "price_lo", g["price_lo"], lo)
    _differ(exact, "price_hi", g["price_hi"], hi)
    return exact


def refit_differences(g: dict, params: dict, rows: list, backtest: bool) -> dict:
    """Step 2: fit again (statsmodels, floats) and compare within :data:`planning.model.TOLERANCE`."""
    history, nxt = rows[:-1], rows[-1]
    y = [row["sales"] for row in history]
    r = [row["reserved"] for row in history]
    horizon = horizon_of(g)
    f = model.fit(y, r, nxt["reserved"], horizon)
    tol = model.TOLERANCE
    rd: dict = {}
    for k, v in f.params.items():
        pub = params.get(k)
        if pub is None:
            rd[k] = {"published": None, "recomputed": v}
        elif k in ("alpha_e6", "gamma_e6"):
            if abs(pub - v) > tol["smoothing_e6"]:
                rd[k] = {"published": pub, "recomputed": v}
        elif k.endswith("_e3") and k != "sigma_e3" and k != "res_xbar_e3":
            room = max(1000, abs(params.get("l0_e3", 0)) * tol["state_e3_rel"])  # 1 unit, or 1 % of the level
            if abs(pub - v) > room:
                rd[k] = {"published": pub, "recomputed": v}

    def close(a, b) -> bool:
        return isinstance(a, int) and _close(a, b, tol["forecast_rel"])

    for k, v in f.bounds().items():
        if not close(g[k], v):
            rd[k] = {"published": g[k], "recomputed": v}
    _ahead_differences(rd, g, nxt["period"], f.later, close)
    if backtest and g["backtest"].get("origins", 0):
        bt = model.backtest_ints(model.backtest(y, r, origins=g["backtest"]["origins"], horizon=horizon))
        for k, v in bt.items():
            pub = g["backtest"].get(k)
            n = bt.get(k.split("_")[0] + "_n", bt["origins"]) if k.startswith("h") else bt["origins"]
            room = 10_000 // max(1, n) if "cov" in k else max(10, abs(v) // 50)
            if pub is None or abs(pub - v) > room:
                rd[f"backtest.{k}"] = {"published": pub, "recomputed": v}
    return rd


def verify_publication(reader, head: dict, refit: bool, backtest: bool) -> list:
    """Per product of one publication: the exact check, then (when it passed and ``refit``) the re-fit."""
    period, height = head["period"], head["data_to"]
    out = []
    for code in head["products"]:
        g = reader("guidance", {"product": code, "period": period}, 0)
        params = dict(g["params"])
        first = params.pop("first_period")
        rows = rows_for(reader, code, period, height, first)
        diffs: dict = {}
        exact = exact_differences(g, params, rows)
        if exact:
            diffs["exact"] = exact
        refit_ok = None
        if refit and not exact:
            rd = refit_differences(g, params, rows, backtest)
            if rd:
                diffs["refit"] = rd
            refit_ok = not rd
        out.append({"product": code, "publication": head["id"], "method": g["method"], "agree": not diffs,
                    "exact": not exact, "refit": refit_ok, "differences": diffs})
    return out


def show(reader, product: str, last: int, months: int = 24) -> dict:
    """A product's history with the guidance and the outcome of each period (for ``esoc plan show``)."""
    first = add_months(last, -(months - 1))
    rows = reader("track", {"product": product, "first": first, "last": last}, 0)
    return {"product": reader("product", {"code": product}, 0), "periods": rows}
