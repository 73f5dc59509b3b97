"""Planning data and published guidance: catalogue, declarations, reservations, requests, forecasts.

Which policy this implements
----------------------------
The planning agency (role ``planning_agency``) keeps a **catalogue** of
products (code, name, unit) and, per product, the list of enterprises that
produce it.  Everything below is per product and **period**; a period is a
month written ``YYYYMM`` (an integer label chosen by the callers, not read
from block time, so a demo or a back-fill can name any month).

Data gathered on chain (all public)
    * ``declare``: a producer declares, for a product and period, its
      production, its inventory at the period's end (unsold stock) and its
      stock-outs (demand it could not serve), in the product's unit.
      Refused: an unknown product, a negative quantity, a sender that is
      not a registered producer of the product (another enterprise's
      product), a closed period.
    * ``reserve``: a citizen or an enterprise declares future demand (a
      quantity of a product for a period); a new call replaces the old one,
      0 withdraws it.  Reservations are the forecast's leading indicator.
    * ``pay``: a **tagged payment**: the buyer pays the seller through this
      law, tagged with product, period and quantity; the law records the
      sale.  ``record_settlement`` adds a settled sale of the procurement
      law (the state selling to an enterprise; read from that law's
      storage, each order once).  Realised demand
      of a period is the quantity sold in it.
    * ``request`` / ``follow``: a **new-demand request** for a product that
      does not exist yet, with a description, optionally naming the nearest
      existing product; people follow it.  ``suggestions`` lists requests
      with many followers together with the producers of the nearest
      product (the R&D suggestions for them).

Guidance
    ``publish`` (planning agency, one transaction per period; a product
    added later gets its own publication for the period) stores, per
    product: the point forecast, the 80 % and 95 % prediction intervals, the
    recommended quantity, the reference price band (fen per unit), the
    method, the fitted parameters (integers, scaled as their names say),
    the digest of the data series read and back-test figures; optionally
    ``ahead``, the forecasts of the next periods (each period after this
    one, in order: its forecast and 80 % / 95 % intervals; at most 11);
    and, for the period, the model and its version and the exact data range
    (heights) read.  The item's own numbers are the period's: procurement
    reads those.  Forecasts are computed off chain (``esoc plan compute``); anyone
    can recompute them (``esoc plan verify``), see docs/planning.md.

Outcome
    ``close_period`` (planning agency) freezes a period for some products
    (by default every product with guidance for it): no more data for them.  For each product with guidance it records realised demand against
    the forecast and the intervals, and compares the producers that
    followed the guidance (declared production within their share of the
    80 % interval; the share is their part of the previous period's
    declared production, or an equal part of the producers when there was
    none) with those that did not (their unsold inventory and stock-outs).
    ``scorecard`` sums the error and the coverage per product and overall.

Quantities are integers in the product's unit; money is integer fen.

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change).
"""

LAW = "planning"
VERSION = 1

ROLE_PLANNING = "planning_agency"
MAX_CODE = 32
MAX_TEXT = 500
MAX_PRODUCTS = 200
MAX_PRODUCERS = 100
MAX_DECLARANTS = 200
MAX_REQUESTS = 1000
MAX_SERIES = 120
MAX_PARAMS = 40
MAX_PUBLICATIONS = 100
MAX_AHEAD = 11  # forecasts of at most 11 periods after the guidance's own (a year in all)
MAX_QUANTITY = 10**15
PROCUREMENT = "procurement"

# Error codes of this law.
E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_UNKNOWN_PRODUCT = 3
E_NO_PARAMETER = 4  # the library's parameter helpers (unused by this law, kept for the shared numbering)
E_NOT_PRODUCER = 5
E_PERIOD_CLOSED = 6
E_ALREADY = 7
E_UNKNOWN_REQUEST = 8
E_NOT_SETTLED = 9
E_LIMIT = 10

ITEM_INTS = ("forecast", "lo80", "hi80", "lo95", "hi95", "recommended", "price_lo", "price_hi", "n")
BOUNDS = ("forecast", "lo80", "hi80", "lo95", "hi95")
AHEAD_FIELDS = ("period",) + BOUNDS
AHEAD_TEXT = "period, forecast, lo80, hi80, lo95, hi95"

ENTRIES = (
    "add_product", "add_producer", "remove_producer", "declare", "reserve", "pay", "record_settlement",
    "request", "follow", "publish", "close_period",
)
VIEWS = (
    "product", "products", "producers", "declaration", "reservation", "sales", "series", "track", "guidance",
    "published", "publication", "latest", "outcome", "scorecard", "request_info", "requests", "suggestions", "is_closed",
    "next_period", "version",
)


# ---------------------------------------------------------------- checks
def version() -> dict:
    return {"law": LAW, "version": VERSION}


def require_planning() -> None:
    if not ctx.has_role(ctx.sender, ROLE_PLANNING):
        fail(E_NOT_AUTHORIZED, "only the planning agency may do this")


def check_code(code, what: str = "product") -> None:
    if not is_str(code) or len(code) == 0 or len(code) > MAX_CODE or "/" in code:
        fail(E_BAD_ARGUMENT, f"{what} code must be 1..32 characters without '/'")


def check_text(text, what: str, most: int = MAX_TEXT) -> None:
    if not is_str(text) or len(text) == 0 or len(text) > most:
        fail(E_BAD_ARGUMENT, f"{what} must be 1..{most} characters")


def check_quantity(x, what: str) -> None:
    if not is_int(x):
        fail(E_BAD_ARGUMENT, f"{what} must be an integer")
    if x < 0:
        fail(E_BAD_ARGUMENT, f"{what} must not be negative (got {x})")
    if x > MAX_QUANTITY:
        fail(E_BAD_ARGUMENT, f"{what} is too large")


def is_period(p) -> bool:
    return is_int(p) and 100001 <= p <= 999912 and 1 <= p % 100 <= 12


def check_period(p) -> None:
    if not is_period(p):
        fail(E_BAD_ARGUMENT, "period must be a month YYYYMM")


def check_open(product: str, period: int) -> None:
    """The period is a month and the product's data for it is not frozen yet."""
    check_period(period)
    if storage.has(f"closed/{product}/{period}"):
        fail(E_PERIOD_CLOSED, f"period {period} is closed for '{product}'")


def next_period(period: int) -> int:
    if period % 100 == 12:
        return (period // 100 + 1) * 100 + 1
    return period + 1


def previous_period(period: int) -> int:
    if period % 100 == 1:
        return (period // 100 - 1) * 100 + 12
    return period - 1


def known_product(code) -> dict:
    check_code(code)
    p = storage.get(f"cat/{code}")
    if p is None:
        fail(E_UNKNOWN_PRODUCT, f"unknown product '{code}'")
    return p


def is_closed(product: str, period: int) -> bool:
    return storage.has(f"closed/{product}/{period}")


# ---------------------------------------------------------------- catalogue
def product(code: str) -> dict | None:
    return storage.get(f"cat/{code}") if is_str(code) else None


def products() -> list:
    return [storage.get(f"cat/{c}") for c in storage.get("catalogue", [])]


def producers(product: str) -> list:
    return storage.get(f"prod/{product}", []) if is_str(product) else []


def add_product(code: str, name: str, unit: str) -> dict:
    """The planning agency adds a product to the catalogue (its code, name and unit)."""
    require_planning()
    check_code(code)
    check_text(name, "name", 100)
    check_text(unit, "unit", MAX_CODE)
    if storage.has(f"cat/{code}"):
        fail(E_ALREADY, f"product '{code}' is already in the catalogue")
    codes = storage.get("catalogue", [])
    if len(codes) >= MAX_PRODUCTS:
        fail(E_LIMIT, "the catalogue is full")
    p = {"code": code, "name": name, "unit": unit, "added": ctx.height}
    storage.set(f"cat/{code}", p)
    codes.append(code)
    storage.set("catalogue", codes)
    emit("product_added", {"law": LAW, "version": VERSION, "product": p})
    return p


def add_producer(product: str, enterprise: str) -> list:
    """The planning agency registers an enterprise as a producer of a product."""
    require_planning()
    known_product(product)
    if ctx.account_kind(enterprise) != "enterprise":
        fail(E_BAD_ARGUMENT, "a producer must be a registered enterprise")
    lst = storage.get(f"prod/{product}", [])
    if enterprise in lst:
        fail(E_ALREADY, "already a producer of this product")
    if len(lst) >= MAX_PRODUCERS:
        fail(E_LIMIT, "too many producers of this product")
    lst.append(enterprise)
    storage.set(f"prod/{product}", lst)
    emit("producer_added", {"law": LAW, "version": VERSION, "product": product, "enterprise": enterprise})
    return lst


def remove_producer(product: str, enterprise: str) -> list:
    require_planning()
    known_product(product)
    lst = storage.get(f"prod/{product}", [])
    if enterprise not in lst:
        fail(E_NOT_PRODUCER, "not a producer of this product")
    lst.remove(enterprise)
    storage.set(f"prod/{product}", lst)
    emit("producer_removed", {"law": LAW, "version": VERSION, "product": product, "enterprise": enterprise})
    return lst


# ---------------------------------------------------------------- declarations
def declaration(product: str, period: int, enterprise: str) -> dict | None:
    return storage.get(f"d/{product}/{period}/{enterprise}")


def declare(product: str, period: int, production: int, inventory: int, stockout: int = 0) -> dict:
    """A producer (the sender) declares its production, end inventory and stock-outs for a period.

    A new declaration for the same product and period replaces the old one."""
    known_product(product)
    check_open(product, period)
    check_quantity(production, "production")
    check_quantity(inventory, "inventory")
    check_quantity(stockout, "stockout")
    if ctx.sender not in storage.get(f"prod/{product}", []):
        fail(E_NOT_PRODUCER, f"{ctx.sender} is not a registered producer of '{product}'")
    key = f"d/{product}/{period}/{ctx.sender}"
    old = storage.get(key)
    tkey = f"dt/{product}/{period}"
    t = storage.get(tkey, {"production": 0, "inventory": 0, "stockout": 0, "n": 0})
    if old is None:
        dl = storage.get(f"dl/{product}/{period}", [])
        if len(dl) >= MAX_DECLARANTS:
            fail(E_LIMIT, "too many declarations for this product and period")
        dl.append(ctx.sender)
        storage.set(f"dl/{product}/{period}", dl)
        t["n"] += 1
    else:
        t["production"] -= old["production"]
        t["inventory"] -= old["inventory"]
        t["stockout"] -= old["stockout"]
    d = {"production": production, "inventory": inventory, "stockout": stockout, "height": ctx.height}
    t["production"] += production
    t["inventory"] += inventory
    t["stockout"] += stockout
    storage.set(key, d)
    storage.set(tkey, t)
    emit("declared", {"law": LAW, "version": VERSION, "enterprise": ctx.sender, "product": product,
                      "period": period, "production": production, "inventory": inventory, "stockout": stockout})
    return d


# ---------------------------------------------------------------- reservations
def reservation(product: str, period: int, who: str) -> int:
    return storage.get(f"r/{product}/{period}/{who}", 0)


def reserve(product: str, period: int, quantity: int) -> int:
    """A citizen or an enterprise reserves ``quantity`` of a product for a period (0 withdraws)."""
    known_product(product)
    check_open(product, period)
    check_quantity(quantity, "quantity")
    kind = ctx.account_kind(ctx.sender)
    if kind != "citizen" and kind != "enterprise":
        fail(E_NOT_AUTHORIZED, "reservations are made by citizens and enterprises")
    key = f"r/{product}/{period}/{ctx.sender}"
    old = storage.get(key, 0)
    total = storage.get(f"rt/{product}/{period}", 0) - old + quantity
    storage.set(f"rt/{product}/{period}", total)
    if quantity == 0:
        storage.delete(key)
    else:
        storage.set(key, quantity)
    emit("reserved", {"law": LAW, "version": VERSION, "who": ctx.sender, "product": product, "period": period,
                      "quantity": quantity, "total": total})
    return total


# ---------------------------------------------------------------- sales
def sales(product: str, period: int) -> dict:
    return storage.get(f"s/{product}/{period}", {"quantity": 0, "value": 0, "count": 0})


def add_sale(product: str, period: int, quantity: int, value: int) -> dict:
    key = f"s/{product}/{period}"
    s = storage.get(key, {"quantity": 0, "value": 0, "count": 0})
    s["quantity"] += quantity
    s["value"] += value
    s["count"] += 1
    storage.set(key, s)
    return s


def pay(product: str, period: int, seller: str, quantity: int, amount: int) -> dict:
    """A tagged payment: the sender pays ``amount`` fen to ``seller`` for ``quantity`` of a product."""
    known_product(product)
    check_open(product, period)
    check_quantity(quantity, "quantity")
    check_quantity(amount, "amount")
    if quantity == 0 or amount == 0:
        fail(E_BAD_ARGUMENT, "quantity and amount must be positive")
    if ctx.account_kind(seller) != "enterprise":
        fail(E_BAD_ARGUMENT, "the seller must be a registered enterprise")
    if seller == ctx.sender:
        fail(E_BAD_ARGUMENT, "a sale to oneself is not a sale")
    ctx.transfer(ctx.sender, seller, amount)
    s = add_sale(product, period, quantity, amount)
    emit("sale", {"law": LAW, "version": VERSION, "buyer": ctx.sender, "seller": seller, "product": product,
                  "period": period, "quantity": quantity, "amount": amount})
    return s


def record_settlement(order_id: int) -> dict:
    """Anyone adds a settled procurement sale (the state selling to an enterprise) to the sales of its
    product and period (once).  State purchases are supply, not demand: refused."""
    if not is_int(order_id) or order_id <= 0:
        fail(E_BAD_ARGUMENT, "order_id must be a positive integer")
    if storage.has(f"rs/{order_id}"):
        fail(E_ALREADY, "this order is already recorded")
    o = state.read(PROCUREMENT, f"o/{order_id}")
    if o is None or o["status"] != "settled":
        fail(E_NOT_SETTLED, "no settled procurement order with this id")
    if o["kind"] != "sale":
        fail(E_BAD_ARGUMENT, "only the state's sales are demand (a state purchase is supply)")
    known_product(o["product"])
    check_open(o["product"], o["period"])
    storage.set(f"rs/{order_id}", ctx.height)
    s = add_sale(o["product"], o["period"], o["quantity"], o["amount"])
    emit("settlement_recorded", {"law": LAW, "version": VERSION, "order": order_id, "product": o["product"],
                                 "period": o["period"], "quantity": o["quantity"], "amount": o["amount"]})
    return s


def series(product: str, first: int, last: int) -> list:
    """Per period from ``first`` to ``last`` (at most 120 months): sales, reservations, declarations."""
    known_product(product)
    if not is_period(first) or not is_period(last) or last < first:
        fail(E_BAD_ARGUMENT, "need months YYYYMM with first <= last")
    out = []
    p = first
    while p <= last:
        if len(out) >= MAX_SERIES:
            fail(E_LIMIT, "at most 120 periods at a time")
        s = storage.get(f"s/{product}/{p}", {"quantity": 0, "value": 0, "count": 0})
        d = storage.get(f"dt/{product}/{p}", {"production": 0, "inventory": 0, "stockout": 0, "n": 0})
        out.append({"period": p, "sales": s["quantity"], "value": s["value"], "count": s["count"],
                    "reserved": storage.get(f"rt/{product}/{p}", 0), "produced": d["production"],
                    "inventory": d["inventory"], "stockout": d["stockout"], "declarants": d["n"]})
        p = next_period(p)
    return out


def track(product: str, first: int, last: int) -> list:
    """Per period: realised sales and reservations, the guidance's numbers (with ``ahead``, the forecasts
    it made for the periods after it: an empty list if none) and the outcome, if any."""
    out = []
    for row in series(product, first, last):
        p = row["period"]
        g = storage.get(f"g/{product}/{p}")
        o = storage.get(f"o/{product}/{p}")
        out.append({"period": p, "sales": row["sales"], "reserved": row["reserved"], "produced": row["produced"],
                    "guidance": None if g is None else {
                        "forecast": g["forecast"], "lo80": g["lo80"], "hi80": g["hi80"], "lo95": g["lo95"],
                        "hi95": g["hi95"], "recommended": g["recommended"], "price_lo": g["price_lo"],
                        "price_hi": g["price_hi"], "method": g["method"], "backtest": g["backtest"],
                        "ahead": g.get("ahead", [])},
                    "outcome": None if o is None else {"realised": o["realised"], "error": o["error"],
                                                       "in80": o["in80"], "in95": o["in95"]},
                    "closed": storage.has(f"closed/{product}/{p}")})
    return out


# ---------------------------------------------------------------- new-demand requests
def request_info(request_id: int) -> dict | None:
    return storage.get(f"q/{request_id}") if is_int(request_id) else None


def request(code: str, description: str, near: str = "") -> dict:
    """A citizen or an enterprise asks for a product that does not exist yet (and follows it)."""
    check_code(code, "requested product")
    check_text(description, "description")
    kind = ctx.account_kind(ctx.sender)
    if kind != "citizen" and kind != "enterprise":
        fail(E_NOT_AUTHORIZED, "requests are made by citizens and enterprises")
    if storage.has(f"cat/{code}"):
        fail(E_ALREADY, f"'{code}' is already in the catalogue")
    if near != "":
        known_product(near)
    rid = storage.get("next_request", 1)
    if rid > MAX_REQUESTS:
        fail(E_LIMIT, "too many requests")
    storage.set("next_request", rid + 1)
    q = {"id": rid, "code": code, "description": description, "near": near, "by": ctx.sender,
         "followers": 1, "height": ctx.height}
    storage.set(f"q/{rid}", q)
    storage.set(f"qf/{rid}/{ctx.sender}", True)
    emit("request_made", {"law": LAW, "version": VERSION, "request": q})
    return q


def follow(request_id: int) -> dict:
    q = request_info(request_id)
    if q is None:
        fail(E_UNKNOWN_REQUEST, "no such request")
    kind = ctx.account_kind(ctx.sender)
    if kind != "citizen" and kind != "enterprise":
        fail(E_NOT_AUTHORIZED, "requests are followed by citizens and enterprises")
    if storage.has(f"qf/{request_id}/{ctx.sender}"):
        fail(E_ALREADY, "already following this request")
    storage.set(f"qf/{request_id}/{ctx.sender}", True)
    q["followers"] += 1
    storage.set(f"q/{request_id}", q)
    emit("request_followed", {"law": LAW, "version": VERSION, "id": request_id, "followers": q["followers"]})
    return q


def by_followers(q: dict) -> list:
    return [-q["followers"], q["id"]]


def requests(min_followers: int = 0) -> list:
    """Requests with at least ``min_followers`` followers, most followed first."""
    out = []
    for rid in range(1, storage.get("next_request", 1)):
        q = storage.get(f"q/{rid}")
        if q["followers"] >= min_followers:
            out.append(q)
    return sorted(out, key=by_followers)


def suggestions(min_followers: int = 10) -> list:
    """R&D suggestions: requests with many followers and the producers of the nearest product."""
    out = []
    for q in requests(min_followers):
        near = q["near"]
        out.append({"request": q, "enterprises": storage.get(f"prod/{near}", []) if near else []})
    return out


# ---------------------------------------------------------------- guidance
def guidance(product: str, period: int) -> dict | None:
    return storage.get(f"g/{product}/{period}")


def publication(pub_id: int) -> dict | None:
    return storage.get(f"pub/{pub_id}") if is_int(pub_id) else None


def published(period: int) -> list:
    """The publications of guidance for a period, in order."""
    return [storage.get(f"pub/{i}") for i in storage.get(f"gpl/{period}", [])]


def latest() -> dict | None:
    """The latest publication (of any period)."""
    i = storage.get("next_pub", 1) - 1
    return None if i == 0 else storage.get(f"pub/{i}")


def check_int_dict(d, what: str) -> None:
    if not is_dict(d) or len(d) > MAX_PARAMS:
        fail(E_BAD_ARGUMENT, f"{what} must be a dict of at most 40 integers")
    for k, v in d.items():
        if len(k) > MAX_CODE or not is_int(v):
            fail(E_BAD_ARGUMENT, f"{what}: {k} must be an integer")


def check_bounds(b: dict, what: str) -> None:
    if not (b["lo95"] <= b["lo80"] <= b["forecast"] <= b["hi80"] <= b["hi95"]):
        fail(E_BAD_ARGUMENT, f"{what}: need lo95 <= lo80 <= forecast <= hi80 <= hi95")


def check_ahead(code: str, period: int, ahead) -> None:
    """``ahead``: 1..11 forecasts of the periods right after ``period``, in order, each with ordered bounds."""
    if not is_list(ahead) or len(ahead) == 0 or len(ahead) > MAX_AHEAD:
        fail(E_BAD_ARGUMENT, f"{code}: ahead must be a list of 1..{MAX_AHEAD} forecasts")
    want = period
    for a in ahead:
        want = next_period(want)
        if not is_dict(a) or len(a) != len(AHEAD_FIELDS):
            fail(E_BAD_ARGUMENT, f"{code}: each ahead entry must be a dict of {AHEAD_TEXT}")
        for k in AHEAD_FIELDS:
            if k not in a:
                fail(E_BAD_ARGUMENT, f"{code}: an ahead entry lacks {k}")
        if a["period"] != want:
            got = a["period"]
            fail(E_BAD_ARGUMENT, f"{code}: ahead must list the periods after {period} in order: expected {want}, got {got}")
        for k in BOUNDS:
            check_quantity(a[k], f"ahead {want} {k}")
        check_bounds(a, f"{code} ahead {want}")


def check_item(it, period: int) -> None:
    if not is_dict(it):
        fail(E_BAD_ARGUMENT, "each item must be a dict")
    code = it.get("product")
    known_product(code)
    for k in ITEM_INTS:
        check_quantity(it.get(k), k)
    check_bounds(it, code)
    if it["price_lo"] > it["price_hi"]:
        fail(E_BAD_ARGUMENT, f"{code}: need price_lo <= price_hi")
    check_text(it.get("method"), "method", 64)
    check_text(it.get("digest"), "digest", 64)
    check_int_dict(it.get("params"), "params")
    check_int_dict(it.get("backtest"), "backtest")
    if "ahead" in it:
        check_ahead(code, period, it["ahead"])
    extra = [k for k in it.keys() if k not in ITEM_INTS and k not in ("product", "method", "digest", "params", "backtest",
                                                                       "ahead")]
    if extra:
        fail(E_BAD_ARGUMENT, f"{code}: unknown field {extra[0]}")


def publish(period: int, model: str, model_version: str, data_from: int, data_to: int, items: list) -> dict:
    """The planning agency publishes the guidance for a period: one transaction for its products.

    A product gets guidance for a period once, while its data for the period
    is open; a product added later gets its own publication."""
    require_planning()
    check_period(period)
    check_text(model, "model", 64)
    check_text(model_version, "model_version", 64)
    if not is_int(data_from) or not is_int(data_to) or data_from < 0 or data_to < data_from or data_to > ctx.height:
        fail(E_BAD_ARGUMENT, "need 0 <= data_from <= data_to <= the current height")
    if not is_list(items) or len(items) == 0 or len(items) > MAX_PRODUCTS:
        fail(E_BAD_ARGUMENT, "items must be a non-empty list")
    codes = []
    for it in items:
        check_item(it, period)
        code = it["product"]
        if code in codes:
            fail(E_BAD_ARGUMENT, f"product {code} listed twice")
        check_open(code, period)
        if storage.has(f"g/{code}/{period}"):
            fail(E_ALREADY, f"guidance for '{code}' in {period} is already published")
        codes.append(code)
    pubs = storage.get(f"gpl/{period}", [])
    if len(pubs) >= MAX_PUBLICATIONS:
        fail(E_LIMIT, "too many publications for this period")
    pid = storage.get("next_pub", 1)
    storage.set("next_pub", pid + 1)
    for it in items:
        g = dict(it)
        g["period"] = period
        g["publication"] = pid
        code = g["product"]
        storage.set(f"g/{code}/{period}", g)
    head = {"id": pid, "period": period, "model": model, "model_version": model_version, "data_from": data_from,
            "data_to": data_to, "products": codes, "height": ctx.height, "publisher": ctx.sender}
    storage.set(f"pub/{pid}", head)
    pubs.append(pid)
    storage.set(f"gpl/{period}", pubs)
    emit("guidance_published", {"law": LAW, "version": VERSION, "publication": pid, "period": period, "model": model,
                                "model_version": model_version, "data_from": data_from, "data_to": data_to,
                                "products": codes})
    return head


# ---------------------------------------------------------------- outcome
def outcome(product: str, period: int) -> dict | None:
    return storage.get(f"o/{product}/{period}")


def empty_group() -> dict:
    return {"n": 0, "production": 0, "inventory": 0, "stockout": 0}


def judge(product: str, period: int, g: dict) -> dict:
    """Realised demand against the guidance; followers of the guidance against the others."""
    realised = storage.get(f"s/{product}/{period}", {"quantity": 0})["quantity"]
    err = realised - g["forecast"]
    prev = previous_period(period)
    prev_total = storage.get(f"dt/{product}/{prev}", {"production": 0})["production"]
    n_prod = max(1, len(storage.get(f"prod/{product}", [])))
    groups = {"followed": empty_group(), "other": empty_group()}
    for who in storage.get(f"dl/{product}/{period}", []):
        d = storage.get(f"d/{product}/{period}/{who}")
        if prev_total > 0:
            mine = storage.get(f"d/{product}/{prev}/{who}", {"production": 0})["production"]
            lo = mul_div(g["lo80"], mine, prev_total, "floor")
            hi = mul_div(g["hi80"], mine, prev_total, "ceiling")
        else:
            lo = div_round(g["lo80"], n_prod, "floor")
            hi = div_round(g["hi80"], n_prod, "ceiling")
        grp = groups["followed"] if lo <= d["production"] <= hi else groups["other"]
        grp["n"] += 1
        grp["production"] += d["production"]
        grp["inventory"] += d["inventory"]
        grp["stockout"] += d["stockout"]
    ape = mul_div(abs(err), 10000, realised, "half_up") if realised > 0 else None
    return {"product": product, "period": period, "forecast": g["forecast"], "realised": realised, "error": err,
            "ape_bps": ape, "in80": g["lo80"] <= realised <= g["hi80"], "in95": g["lo95"] <= realised <= g["hi95"],
            "lo80": g["lo80"], "hi80": g["hi80"], "lo95": g["lo95"], "hi95": g["hi95"],
            "followed": groups["followed"], "other": groups["other"]}


def add_score(key: str, o: dict) -> None:
    sc = storage.get(key, {"n": 0, "abs_error": 0, "ape_bps_sum": 0, "ape_n": 0, "in80": 0, "in95": 0})
    sc["n"] += 1
    sc["abs_error"] += abs(o["error"])
    if o["ape_bps"] is not None:
        sc["ape_bps_sum"] += o["ape_bps"]
        sc["ape_n"] += 1
    sc["in80"] += 1 if o["in80"] else 0
    sc["in95"] += 1 if o["in95"] else 0
    storage.set(key, sc)


def close_period(period: int, products: list | None = None) -> dict:
    """The planning agency closes a period for some products (None: every product with guidance for it).

    Their data for the period is frozen and their guidance, if any, judged."""
    require_planning()
    check_period(period)
    if products is None:
        products = []
        for pid in storage.get(f"gpl/{period}", []):
            products.extend(storage.get(f"pub/{pid}")["products"])
    if not is_list(products) or len(products) > MAX_PRODUCTS:
        fail(E_BAD_ARGUMENT, "products must be a list of product codes")
    judged = []
    for code in products:
        known_product(code)
        check_open(code, period)
        storage.set(f"closed/{code}/{period}", ctx.height)
        g = storage.get(f"g/{code}/{period}")
        if g is not None:
            o = judge(code, period, g)
            storage.set(f"o/{code}/{period}", o)
            add_score(f"sc/{code}", o)
            add_score("sc", o)
            judged.append(o)
    emit("period_closed", {"law": LAW, "version": VERSION, "period": period, "products": products,
                           "judged": len(judged)})
    return {"period": period, "products": products, "outcomes": judged}


def scorecard() -> dict:
    """How good the plan was: per product and overall, closed periods' error and interval coverage."""
    per = {}
    for code in storage.get("catalogue", []):
        sc = storage.get(f"sc/{code}")
        if sc is not None:
            per[code] = sc
    return {"overall": storage.get("sc"), "products": per}
