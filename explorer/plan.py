"""The explorer's plan pages: published guidance beside what happened.

``/plan`` lists the planning law's catalogue with each product's latest
published guidance (forecast, 80 % and 95 % intervals, recommended quantity,
price band) and the last judged period's realised demand, the law's
scorecard, the followers of the guidance against the others, and the
new-demand requests with many followers (R&D suggestions).
``/plan/{product}`` shows a product's months: realised sales, reservations,
declared production and inventory, each published forecast with its
intervals and the outcome; the latest guidance's model, version, fitted
parameters, data range and publishing transaction; its back-test figures; a
chart (``static/plan.js``) and the same numbers as a table and CSV.

Everything comes from the node, like any outside reader: views of the
``planning`` law (contracts/laws/planning.py) evaluated at the index's
height, so the page and the index agree on the chain they show.  A node
that does not answer gives the page with an error note, never a 500.
Every read is bounded: a page of the catalogue (at most 100 products, two
views each), at most 120 months of one product (one view per judged month).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import json

from ledger.codec import decode

from . import openapi as oa
from .routing import LIMIT, PAGE, Page, Param, PathParam
from .views import SEARCH_MORE, BadRequest, Ctx, NotFound, page_of

LAW = "planning"
MAX_CODE = 32  # the law's limit on a product code
MAX_AHEAD = 24  # forecasts beyond the period shown at most
MAX_SUGGESTIONS = 50
MAX_PUBLISH_SCAN = 5000  # transactions of one block looked at to find the publishing one
CATALOGUE_WINDOW = 24  # months before the latest published period searched for a product's guidance
GUIDANCE_INTS = ("forecast", "lo80", "hi80", "lo95", "hi95")


class LawError(Exception):
    """The node did not answer, or the law refused the view: shown as a note on the page."""


# ---- reading the law -----------------------------------------------------------------


def read(ctx: Ctx, function: str, args: dict, height: int):
    """A view of the planning law at ``height`` (0: the node's tip)."""
    if ctx.client is None:
        raise LawError("the explorer runs without a node: plan guidance is read from the node")
    try:
        r = ctx.client.eval_law(LAW, function, args, height=height)
    except Exception as e:  # noqa: BLE001 - the node is down or refused: one line on the page
        raise LawError(f"the node did not answer ({str(e)[:200]})") from None
    try:
        value = decode(r.value) if r.value else None
    except Exception:  # noqa: BLE001
        raise LawError(f"{LAW}.{function}: the node's answer does not decode") from None
    if r.code != 0:
        detail = value.get("detail") if isinstance(value, dict) else None
        raise LawError(f"{LAW}.{function}: {detail or r.error or r.code}")
    return value


def height_of(ctx: Ctx) -> int:
    """The height the pages read at: the index's, so the law's numbers and the indexed blocks match."""
    return ctx.index.height()


def is_period(p) -> bool:
    return isinstance(p, int) and not isinstance(p, bool) and 100001 <= p <= 999912 and 1 <= p % 100 <= 12


def add_months(period: int, k: int) -> int:
    y, m = divmod(period, 100)
    idx = y * 12 + (m - 1) + k
    return (idx // 12) * 100 + idx % 12 + 1


def check_product_code(code: str) -> str:
    if not isinstance(code, str) or not 1 <= len(code) <= MAX_CODE or "/" in code \
            or any(ord(c) < 32 or ord(c) == 127 for c in code):
        raise NotFound(f"no product {code[:80]!r} in the catalogue (a code is 1..{MAX_CODE} characters)")
    return code


def _int(v) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _group(g) -> dict:
    g = g if isinstance(g, dict) else {}
    return {k: _int(g.get(k)) or 0 for k in ("n", "production", "inventory", "stockout")}


def ahead_of(item: dict) -> list[dict]:
    """The guidance's forecasts for later periods (an optional ``ahead`` list), the well-formed ones."""
    out = []
    raw = item.get("ahead") if isinstance(item, dict) else None
    if not isinstance(raw, list):
        return out
    for a in raw[:MAX_AHEAD]:
        if not isinstance(a, dict) or not is_period(a.get("period")):
            continue
        vals = {k: _int(a.get(k)) for k in GUIDANCE_INTS}
        if any(v is None for v in vals.values()):
            continue
        out.append({"period": a["period"], **vals})
    return out


def _scaled(sc) -> dict | None:
    """A scorecard entry of the law with its derived figures (integers: thousandths and basis points)."""
    if not isinstance(sc, dict) or not _int(sc.get("n")):
        return None
    n = sc["n"]
    ape_n = _int(sc.get("ape_n")) or 0
    out = {k: _int(sc.get(k)) or 0 for k in ("n", "abs_error", "ape_bps_sum", "ape_n", "in80", "in95")}
    out["mae_e3"] = out["abs_error"] * 1000 // n
    out["mape_bps"] = out["ape_bps_sum"] // ape_n if ape_n else None
    out["cov80_bps"] = out["in80"] * 10000 // n
    out["cov95_bps"] = out["in95"] * 10000 // n
    return out


def publication_tx(ctx: Ctx, head: dict) -> str | None:
    """The hash of the transaction that made publication ``head`` (from the index), if indexed."""
    h, pid = _int(head.get("height")), _int(head.get("id"))
    if not h or not pid:
        return None
    rows = ctx.index.r.query("SELECT hash, payload, result FROM txs WHERE height = ? AND kind = ? AND code = 0 "
                             "ORDER BY idx LIMIT ?", (h, "call", MAX_PUBLISH_SCAN))
    for tx_hash, payload, result in rows:
        try:
            p, r = json.loads(payload), json.loads(result)
        except (TypeError, ValueError):
            continue
        if isinstance(p, dict) and p.get("contract") == LAW and p.get("entry") == "publish" \
                and isinstance(r, dict) and r.get("id") == pid:
            return tx_hash
    return None


# ---- /plan ---------------------------------------------------------------------------


def _latest_row(rows: list, key: str):
    for row in reversed(rows):
        if isinstance(row, dict) and row.get(key):
            return row
    return None


def catalogue(ctx: Ctx, page: int, limit: int, min_followers: int) -> dict:
    """The catalogue page: products with their latest guidance and last outcome, the scorecard, R&D suggestions."""
    height = height_of(ctx)
    out: dict = {"height": height, "error": None, "latest": None, "products": page_of([], page, limit, 0),
                 "scorecard": {"overall": None, "products": []}, "followers": [],
                 "followers_total": {"followed": _group(None), "other": _group(None)},
                 "suggestions": [], "min_followers": min_followers}
    try:
        cat = read(ctx, "products", {}, height) or []
        latest = read(ctx, "latest", {}, height)
        out["latest"] = _head(latest) if isinstance(latest, dict) else None
        cat = [p for p in cat if isinstance(p, dict) and isinstance(p.get("code"), str)]
        items = []
        for p in cat[(page - 1) * limit: page * limit]:
            items.append(_catalogue_row(ctx, p, out["latest"], height, out))
        out["products"] = page_of(items, page, limit, len(cat))
        sc = read(ctx, "scorecard", {}, height) or {}
        out["scorecard"] = {"overall": _scaled(sc.get("overall")), "products": [
            {"product": k, **_scaled(v)} for k, v in sorted((sc.get("products") or {}).items()) if _scaled(v)]}
        sug = read(ctx, "suggestions", {"min_followers": min_followers}, height) or []
        out["suggestions"] = [_suggestion(s) for s in sug[:MAX_SUGGESTIONS] if isinstance(s, dict)]
    except LawError as e:
        out["error"] = str(e)
    tot = out["followers_total"]
    for f in out["followers"]:
        for side in ("followed", "other"):
            for k in tot[side]:
                tot[side][k] += f[side][k]
    return out


def _head(h: dict) -> dict:
    return {"id": _int(h.get("id")), "period": _int(h.get("period")), "model": str(h.get("model", "")),
            "model_version": str(h.get("model_version", "")), "data_from": _int(h.get("data_from")),
            "data_to": _int(h.get("data_to")), "height": _int(h.get("height")),
            "publisher": str(h.get("publisher", "")), "products": [str(x) for x in h.get("products") or []]}


def _suggestion(s: dict) -> dict:
    q = s.get("request") if isinstance(s.get("request"), dict) else {}
    return {"id": _int(q.get("id")), "code": str(q.get("code", "")), "description": str(q.get("description", "")),
            "near": str(q.get("near", "")), "followers": _int(q.get("followers")) or 0, "by": str(q.get("by", "")),
            "height": _int(q.get("height")),
            "enterprises": [str(e) for e in (s.get("enterprises") or [])][:100]}


def _catalogue_row(ctx: Ctx, p: dict, latest: dict | None, height: int, out: dict) -> dict:
    row = {"code": p["code"], "name": str(p.get("name", "")), "unit": str(p.get("unit", "")), "guidance": None,
           "outcome": None}
    if latest is None or not is_period(latest.get("period")):
        return row  # nothing published yet: no guidance and no outcome to look for
    last = add_months(latest["period"], 2)  # a product's own publication may be a month or two ahead
    rows = read(ctx, "track", {"product": p["code"], "first": add_months(last, -(CATALOGUE_WINDOW - 1)),
                               "last": last}, height) or []
    g = _latest_row(rows, "guidance")
    if g is not None:
        gd = g["guidance"]
        row["guidance"] = {"period": g["period"], **{k: _int(gd.get(k)) for k in GUIDANCE_INTS + (
            "recommended", "price_lo", "price_hi")}, "method": str(gd.get("method", ""))}
    o = _latest_row(rows, "outcome")
    if o is not None:
        full = read(ctx, "outcome", {"product": p["code"], "period": o["period"]}, height) or {}
        row["outcome"] = {"period": o["period"], "realised": _int(full.get("realised")),
                          "forecast": _int(full.get("forecast")), "error": _int(full.get("error")),
                          "in80": bool(full.get("in80")), "in95": bool(full.get("in95"))}
        out["followers"].append({"product": p["code"], "period": o["period"], "followed": _group(full.get("followed")),
                                 "other": _group(full.get("other"))})
    return row


def catalogue_csv(d: dict) -> list[list]:
    keys = ["product", "name", "unit", "guidance_period", "forecast", "lo80", "hi80", "lo95", "hi95", "recommended",
            "price_lo_fen", "price_hi_fen", "method", "outcome_period", "realised", "outcome_forecast", "error",
            "in80", "in95"]
    rows = [keys]
    for p in d["products"]["items"]:
        g, o = p["guidance"] or {}, p["outcome"] or {}
        rows.append([p["code"], p["name"], p["unit"], g.get("period", ""), g.get("forecast", ""), g.get("lo80", ""),
                     g.get("hi80", ""), g.get("lo95", ""), g.get("hi95", ""), g.get("recommended", ""),
                     g.get("price_lo", ""), g.get("price_hi", ""), g.get("method", ""), o.get("period", ""),
                     o.get("realised", ""), o.get("forecast", ""), o.get("error", ""),
                     "" if not o else int(o["in80"]), "" if not o else int(o["in95"])])
    return rows


# ---- /plan/{product} -------------------------------------------------------------------


def _period_param(v: int | None, name: str) -> int | None:
    if v is not None and not is_period(v):
        raise BadRequest(f"parameter {name!r} must be a month YYYYMM (month 01 to 12), not {v}")
    return v


def _default_last(ctx: Ctx, latest) -> int:
    if isinstance(latest, dict) and is_period(latest.get("period")):
        return latest["period"]
    b = ctx.index.block(ctx.index.height()) if ctx.index.height() else None
    t = _dt.datetime.fromtimestamp((b["time_ms"] if b else 0) / 1000, tz=_dt.timezone.utc)
    return t.year * 100 + t.month if b else 202601


def product_page(ctx: Ctx, product: str, last: int | None, months: int, period: int | None) -> dict:
    """A product's months with the guidance and outcome of each, the detailed guidance and its back-test."""
    code = check_product_code(product)
    last, period = _period_param(last, "last"), _period_param(period, "period")
    height = height_of(ctx)
    out: dict = {"product": {"code": code, "name": "", "unit": ""}, "producers": [], "height": height,
                 "error": None, "first": None, "last": last, "months": months, "periods": [], "guidance": None,
                 "publication": None, "ahead": [], "scorecard": None,
                 "followers": {"periods": 0, "followed": _group(None), "other": _group(None)}}
    try:
        p = read(ctx, "product", {"code": code}, height)
    except LawError as e:
        out["error"] = str(e)
        return out
    if not isinstance(p, dict):
        raise NotFound(f"no product {code!r} in the planning law's catalogue")
    out["product"] = {"code": code, "name": str(p.get("name", "")), "unit": str(p.get("unit", "")),
                      "added": _int(p.get("added"))}
    try:
        out["producers"] = [str(x) for x in (read(ctx, "producers", {"product": code}, height) or [])][:100]
        if last is None:
            last = _default_last(ctx, read(ctx, "latest", {}, height))
        first = max(add_months(last, -(months - 1)), 100001)  # not before the first month a period can name
        out["first"], out["last"] = first, last
        track = read(ctx, "track", {"product": code, "first": first, "last": last}, height) or []
        series = {r["period"]: r for r in read(ctx, "series", {"product": code, "first": first, "last": last}, height)
                  or [] if isinstance(r, dict)}
        rows = [_period_row(ctx, code, t, series.get(t.get("period"), {}), height, out) for t in track
                if isinstance(t, dict)]
        start = next((i for i, r in enumerate(rows) if _has_data(r)), len(rows))
        out["periods"] = rows[start:]
        gp = period
        if gp is None:
            g = _latest_row(rows, "guidance")
            gp = g["period"] if g else None
        if gp is not None:
            item = read(ctx, "guidance", {"product": code, "period": gp}, height)
            if not isinstance(item, dict):
                raise NotFound(f"no guidance for {code!r} in {gp} is published")
            out["guidance"] = _detail(item, gp)
            out["ahead"] = [a for a in ahead_of(item) if a["period"] > last]  # after the months shown
            if _int(item.get("publication")):
                head = read(ctx, "publication", {"pub_id": item["publication"]}, height)
                if isinstance(head, dict):
                    out["publication"] = {**_head(head), "tx_hash": publication_tx(ctx, head)}
        sc = read(ctx, "scorecard", {}, height) or {}
        out["scorecard"] = _scaled((sc.get("products") or {}).get(code))
    except LawError as e:
        out["error"] = str(e)
    return out


def _has_data(r: dict) -> bool:
    return bool(r["sales"] or r["reserved"] or r["produced"] or r["inventory"] or r["declarants"] or r["guidance"]
                or r["outcome"] or r["closed"])


def _detail(item: dict, period: int) -> dict:
    d = {"period": period, **{k: _int(item.get(k)) for k in GUIDANCE_INTS + ("recommended", "price_lo", "price_hi",
                                                                              "n", "publication")},
         "method": str(item.get("method", "")), "digest": str(item.get("digest", ""))}
    d["params"] = {str(k): v for k, v in (item.get("params") or {}).items() if _int(v) is not None}
    d["backtest"] = {str(k): v for k, v in (item.get("backtest") or {}).items() if _int(v) is not None}
    return d


def _period_row(ctx: Ctx, code: str, t: dict, s: dict, height: int, out: dict) -> dict:
    row = {"period": t.get("period"), "sales": _int(t.get("sales")) or 0, "value": _int(s.get("value")) or 0,
           "count": _int(s.get("count")) or 0, "reserved": _int(t.get("reserved")) or 0,
           "produced": _int(t.get("produced")) or 0, "inventory": _int(s.get("inventory")) or 0,
           "stockout": _int(s.get("stockout")) or 0, "declarants": _int(s.get("declarants")) or 0,
           "closed": bool(t.get("closed")), "guidance": None, "outcome": None}
    g = t.get("guidance")
    if isinstance(g, dict):
        row["guidance"] = {**{k: _int(g.get(k)) for k in GUIDANCE_INTS + ("recommended", "price_lo", "price_hi")},
                           "method": str(g.get("method", ""))}
    if isinstance(t.get("outcome"), dict):
        o = read(ctx, "outcome", {"product": code, "period": row["period"]}, height) or {}
        row["outcome"] = {"realised": _int(o.get("realised")), "error": _int(o.get("error")),
                          "ape_bps": _int(o.get("ape_bps")), "in80": bool(o.get("in80")), "in95": bool(o.get("in95")),
                          "followed": _group(o.get("followed")), "other": _group(o.get("other"))}
        f = out["followers"]
        f["periods"] += 1
        for side in ("followed", "other"):
            for k in f[side]:
                f[side][k] += row["outcome"][side][k]
    return row


def product_csv(d: dict) -> list[list]:
    keys = ["period", "sales", "value_fen", "reserved", "produced", "inventory", "stockout", "declarants", "closed",
            "forecast", "lo80", "hi80", "lo95", "hi95", "recommended", "price_lo_fen", "price_hi_fen", "method",
            "realised", "error", "in80", "in95"]
    rows = [keys]
    for r in d["periods"]:
        g, o = r["guidance"] or {}, r["outcome"] or {}
        rows.append([r["period"], r["sales"], r["value"], r["reserved"], r["produced"], r["inventory"], r["stockout"],
                     r["declarants"], int(r["closed"])] + [g.get(k, "") for k in GUIDANCE_INTS + (
                         "recommended", "price_lo", "price_hi", "method")]
                    + [o.get("realised", ""), o.get("error", ""), "" if not o else int(o["in80"]),
                       "" if not o else int(o["in95"])])
    for a in d["ahead"]:
        rows.append([a["period"], "", "", "", "", "", "", "", 0] + [a[k] for k in GUIDANCE_INTS]
                    + ["", "", "", "ahead", "", "", "", ""])
    return rows


# ---- search --------------------------------------------------------------------------


def search_products(ctx: Ctx, q: str) -> list[dict]:
    """A product code of the catalogue (exact) for the search box; nothing when the node does not answer."""
    if ctx.client is None or len(q) > MAX_CODE:
        return []
    try:
        code = check_product_code(q)
        p = read(ctx, "product", {"code": code}, height_of(ctx))
    except (NotFound, LawError):
        return []
    if not isinstance(p, dict):
        return []
    return [{"type": "product", "label": f"product {code} ({str(p.get('name', ''))[:100]})", "url": f"/plan/{code}"}]


SEARCH_MORE.append(search_products)


# ---- declarations ----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ProductParam(PathParam):
    def schema(self) -> dict:
        return {"name": self.name, "in": "path", "required": True, "description": self.doc,
                "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CODE, "pattern": "^[^/]+$"}}


G_INTS = {k: oa.NINT for k in GUIDANCE_INTS + ("recommended", "price_lo", "price_hi")}
GROUP = oa.obj({"n": oa.INT, "production": oa.INT, "inventory": oa.INT, "stockout": oa.INT})
SCORE = oa.obj({"n": oa.INT, "abs_error": oa.INT, "ape_bps_sum": oa.INT, "ape_n": oa.INT, "in80": oa.INT,
                "in95": oa.INT, "mae_e3": oa.INT, "mape_bps": oa.NINT, "cov80_bps": oa.INT, "cov95_bps": oa.INT})
NSCORE = {**SCORE, "nullable": True}
HEAD = oa.obj({"id": oa.NINT, "period": oa.NINT, "model": oa.STR, "model_version": oa.STR, "data_from": oa.NINT,
               "data_to": oa.NINT, "height": oa.NINT, "publisher": oa.STR, "products": oa.arr(oa.STR)})
AHEAD = oa.obj({"period": oa.INT, **{k: oa.INT for k in GUIDANCE_INTS}})

CATALOGUE = oa.obj({
    "height": oa.INT, "error": oa.NSTR, "latest": {**HEAD, "nullable": True},
    "products": oa.paged(oa.obj({"code": oa.STR, "name": oa.STR, "unit": oa.STR,
                                 "guidance": {**oa.obj({"period": oa.INT, **G_INTS, "method": oa.STR}), "nullable": True},
                                 "outcome": {**oa.obj({"period": oa.INT, "realised": oa.NINT, "forecast": oa.NINT,
                                                       "error": oa.NINT, "in80": oa.BOOL, "in95": oa.BOOL}),
                                             "nullable": True}})),
    "scorecard": oa.obj({"overall": NSCORE, "products": oa.arr(oa.obj({"product": oa.STR, **SCORE["properties"]}))}),
    "followers": oa.arr(oa.obj({"product": oa.STR, "period": oa.INT, "followed": GROUP, "other": GROUP})),
    "followers_total": oa.obj({"followed": GROUP, "other": GROUP}),
    "suggestions": oa.arr(oa.obj({"id": oa.NINT, "code": oa.STR, "description": oa.STR, "near": oa.STR,
                                  "followers": oa.INT, "by": oa.STR, "height": oa.NINT,
                                  "enterprises": oa.arr(oa.STR)})),
    "min_followers": oa.INT})

PRODUCT = oa.obj({
    "product": oa.obj({"code": oa.STR, "name": oa.STR, "unit": oa.STR}, {"added": oa.NINT}),
    "producers": oa.arr(oa.STR), "height": oa.INT, "error": oa.NSTR, "first": oa.NINT, "last": oa.NINT,
    "months": oa.INT,
    "periods": oa.arr(oa.obj({
        "period": oa.INT, "sales": oa.INT, "value": oa.INT, "count": oa.INT, "reserved": oa.INT, "produced": oa.INT,
        "inventory": oa.INT, "stockout": oa.INT, "declarants": oa.INT, "closed": oa.BOOL,
        "guidance": {**oa.obj({**G_INTS, "method": oa.STR}), "nullable": True},
        "outcome": {**oa.obj({"realised": oa.NINT, "error": oa.NINT, "ape_bps": oa.NINT, "in80": oa.BOOL,
                              "in95": oa.BOOL, "followed": GROUP, "other": GROUP}), "nullable": True}})),
    "guidance": {**oa.obj({"period": oa.INT, **G_INTS, "n": oa.NINT, "publication": oa.NINT, "method": oa.STR,
                           "digest": oa.STR, "params": oa.ANY, "backtest": oa.ANY}), "nullable": True},
    "publication": {**oa.obj({**HEAD["properties"], "tx_hash": oa.NSTR}), "nullable": True},
    "ahead": oa.arr(AHEAD), "scorecard": NSCORE,
    "followers": oa.obj({"periods": oa.INT, "followed": GROUP, "other": GROUP})})

ROUTES: list[Page] = [
    Page("/plan", catalogue, "plan_index.html",
         "Plan guidance: the catalogue with each product's latest forecast and intervals, the last outcome, "
         "the scorecard and R&D suggestions",
         (PAGE, LIMIT, Param("min_followers", default=10, lo=0, hi=1_000_000,
                             doc="R&D suggestions: requests with at least this many followers")),
         csv=catalogue_csv, schema=CATALOGUE),
    Page("/plan/{product}", product_page, "plan_product.html",
         "One product: realised demand per month beside each published forecast and its intervals, the model, "
         "its parameters and back-test",
         (Param("last", default=None, lo=100001, hi=999912, doc="last month shown, YYYYMM (default: the latest "
                                                                "published period)"),
          Param("months", default=36, lo=1, hi=120, doc="how many months (at most 120)"),
          Param("period", default=None, lo=100001, hi=999912,
                doc="the guidance shown in detail, YYYYMM (default: the latest in the months shown)")),
         (ProductParam("product", "product", "product code of the planning law's catalogue"),),
         csv=product_csv, schema=PRODUCT),
]
