"""State purchase-and-sale service (opt-in), with escrow and quotas.

Which policy this implements
----------------------------
The planning agency (role ``planning_agency``) publishes **guidance** for a
product and a period: the planned quantity ``Q`` (in the product's unit), the
reference price (fen per unit) and an uncertainty band (bps).  Enterprises
that want to trade with the state **opt in** before the opt-in closes,
declaring the capacity they can sell to the state and the demand they want
to buy from it.  Everything else is the free market: plain transfers between
accounts are untouched by this law.

Quotas (the rule)
    Let ``U = floor(Q x (10000 + band) / 10000)``, the most the state will
    handle in the period.  After the opt-in closes, an enterprise's

    * purchase quota (what the state buys from it) is
      ``min(capacity, floor(U x capacity / total capacity))``;
    * sale quota (what the state sells to it) is
      ``min(demand, floor(U x demand / total demand))``.

    Quotas are shares of ``U`` in proportion to what was declared, never
    more than was declared, and they are fixed once the opt-in closes, so
    the order in which enterprises act cannot change them.  Their sum never
    exceeds ``U``.  An order that would take an enterprise over its quota is
    refused with error ``E_OVER_QUOTA`` (10).

Escrow and settlement
    Every order is paid into this law's own account when it is placed: the
    planning agency pays for a state purchase, the buying enterprise for a
    state sale.  The money stays there until delivery is confirmed by the
    party receiving the goods (the planning agency for a purchase, the buyer
    for a sale) or by an authorised inspector (a registry kept by this law
    and managed by the planning agency); then it is settled:

    * purchase: the seller receives the price less the scheme's logistics
      fee; the fee goes to the treasury;
    * sale: the price and the fee go to the treasury.

    An order not confirmed within the delivery window can be cancelled by
    whoever paid, who gets the escrow back; the quota it used is released.

Logistics fee
    Inside the scheme the logistics fee is ``scheme_logistics_fee`` bps of
    the order's value, paid by the enterprise (deducted from a seller's
    proceeds, added to a buyer's payment).  ``market_logistics_fee`` is the
    reference fee outside the scheme; the schema requires the scheme's fee
    to be lower.

Parameters are dated (``since`` is YYYYMMDD; the value in force on the block's
date applies) and strictly validated by ``check_params()``.  Money is an
integer count of fen; rates are basis points; the fee is rounded down (the
enterprise is never charged a fraction of a fen).

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change).
"""

LAW = "procurement"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, param, params_at, check_params, version (contracts/runtime/lawkit.py)

# ---------------------------------------------------------------- units
# Money is an integer count of fen; shares and fees are basis points.
BP = 1  # one basis point: 0.01 %
PERCENT = 100 * BP
ALL = 100 * PERCENT  # 10,000 bps: the whole of an amount

ROLE_PLANNING = "planning_agency"
ROLE_TREASURY = "treasury"
MAX_NAME = 32

# Error codes of this law.
E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_NO_TREASURY = 3
E_NO_PARAMETER = 4  # raised by the library's param_value / param_in_force (always 4)
E_OVER_QUOTA = 10
E_NOT_OPTED_IN = 11
E_OPTIN_CLOSED = 12
E_OPTIN_OPEN = 13
E_PERIOD_ENDED = 14
E_NO_GUIDANCE = 15
E_ORDER_STATE = 16
E_TOO_EARLY = 17
E_UNKNOWN_ORDER = 18

# ---------------------------------------------------------------- parameters
SCHEMA = {
    "scheme_logistics_fee": ("bps", "bps"),
    "market_logistics_fee": ("bps", "bps"),
    "max_band": ("bps", "bps"),
    "delivery_window": ("count", "blocks"),
    "plan_share": ("bps", "bps"),
}

PARAM_FIELDS = ("label", "unit", "reference", "values")

PARAMS = {
    "scheme_logistics_fee": {
        "label": "Logistics fee on an order inside the scheme, share of the order's value",
        "unit": "bps",
        "reference": "esoc policy: state logistics at cost inside the purchase-and-sale service",
        "values": ((20250101, 150 * BP),),
    },
    "market_logistics_fee": {
        "label": "Reference logistics fee outside the scheme (for comparison; must exceed the scheme's)",
        "unit": "bps",
        "reference": "esoc policy: reference figure published by the planning agency",
        "values": ((20250101, 4 * PERCENT),),
    },
    "max_band": {
        "label": "Largest uncertainty band the planning agency may publish",
        "unit": "bps",
        "reference": "esoc policy",
        "values": ((20250101, 20 * PERCENT),),
    },
    "delivery_window": {
        "label": "Blocks after an order is placed before an unconfirmed order may be cancelled",
        "unit": "blocks",
        "reference": "esoc policy (about one week of 6-second blocks)",
        "values": ((20250101, 100_800),),
    },
    "plan_share": {
        "label": "Q is this share of the planning law's recommended quantity (0: Q is set by hand)",
        "unit": "bps",
        "reference": "esoc policy: issue 12, quotas follow the published plan guidance (docs/planning.md)",
        "values": ((20250101, 0), (20260601, 10000)),
    },
}

ENTRIES = (
    "set_treasury", "publish_guidance", "publish_from_plan", "add_inspector", "remove_inspector", "opt_in",
    "state_purchase", "state_sale", "confirm_delivery", "cancel",
)
VIEWS = (
    "guidance", "participation", "quota", "order", "is_inspector", "treasury", "logistics_fee",
    "escrow_open", "param", "params_at", "check_params", "version",
)


# ---------------------------------------------------------------- dates and parameters
def value_error(kind: str, v) -> str:
    if kind == "bps":
        return "" if is_int(v) and 0 <= v <= ALL else "must be an int in 0..10000 (bps)"
    if kind == "count":
        return "" if is_int(v) and v > 0 else "must be an int > 0"
    return "unknown kind"


def check_params(params: dict | None = None) -> list:
    """Every way ``params`` (default: PARAMS) breaks the schema; [] if none.

    ``check_param_table`` (library) makes the checks every law makes: names,
    fields, units, label and reference, increasing YYYYMMDD dates, and
    ``value_error`` on each value.  Then this law's own rule across two
    parameters: on every date, the scheme's fee is below the market fee.
    """
    if params is None:
        params = PARAMS
    errors = check_param_table(params, SCHEMA, PARAM_FIELDS, value_error)
    if not errors:
        # cross-parameter rule: inside the scheme the fee is lower, on every date
        for since, fee in params["scheme_logistics_fee"]["values"]:
            market = None
            for s2, v2 in params["market_logistics_fee"]["values"]:
                if s2 <= since:
                    market = v2
            if market is not None and fee >= market:
                errors.append(f"scheme_logistics_fee.values[{since}]: must be below the market fee {market}")
    return errors


# ---------------------------------------------------------------- pure computations
def upper_quantity(quantity: int, band: int) -> int:
    """The most the state handles in the period: Q x (1 + band), rounded down.

    esoc policy (the unified purchase-and-sale service): the state commits
    to the planned quantity widened by the published uncertainty band.
    """
    return mul_div(quantity, ALL + band, ALL)


def share(upper: int, declared: int, total: int) -> int:
    """An enterprise's quota: its proportional share of ``upper``, at most what it declared.

    esoc policy: quotas are pro rata to the capacities (purchases) or demands
    (sales) declared at opt-in, so no enterprise is favoured by order of arrival.
    """
    if declared <= 0 or total <= 0:
        return 0
    return min(declared, mul_div(upper, declared, total))


def logistics_fee(amount: int, on: int = 0) -> int:
    """The scheme's logistics fee on an order of value ``amount`` (rounded down)."""
    return bps_of(amount, param("scheme_logistics_fee", on))


# ---------------------------------------------------------------- registries
def require_planning() -> None:
    if not ctx.has_role(ctx.sender, ROLE_PLANNING):
        fail(E_NOT_AUTHORIZED, "only the planning agency may do this")


def check_name(product: str) -> None:
    if not is_str(product) or len(product) == 0 or len(product) > MAX_NAME or "/" in product:
        fail(E_BAD_ARGUMENT, "product must be 1..32 characters without '/'")


def treasury() -> str | None:
    return treasury_account()


def treasury_account() -> str | None:
    """The account named by ``set_treasury``, else the registry's first holder
    of the ``treasury`` role (so no set-up step is needed)."""
    named = storage.get("treasury")
    if named is not None:
        return named
    holders = ctx.role_holders(ROLE_TREASURY)
    return holders[0] if len(holders) > 0 else None


def set_treasury() -> str:
    """The holder of the ``treasury`` role names itself as the receiving account."""
    if not ctx.has_role(ctx.sender, ROLE_TREASURY):
        fail(E_NOT_AUTHORIZED, "only the treasury names the treasury account")
    storage.set("treasury", ctx.sender)
    emit("treasury_set", {"law": LAW, "version": VERSION, "account": ctx.sender})
    return ctx.sender


def is_inspector(who: str) -> bool:
    return storage.get(f"insp/{who}", False)


def add_inspector(who: str) -> None:
    require_planning()
    storage.set(f"insp/{who}", True)
    emit("inspector_added", {"law": LAW, "version": VERSION, "inspector": who})


def remove_inspector(who: str) -> None:
    require_planning()
    storage.delete(f"insp/{who}")
    emit("inspector_removed", {"law": LAW, "version": VERSION, "inspector": who})


# ---------------------------------------------------------------- guidance and opt-in
def gkey(product: str, period: int) -> str:
    return f"g/{product}/{period}"


def pkey(product: str, period: int, enterprise: str) -> str:
    return f"p/{product}/{period}/{enterprise}"


def guidance(product: str, period: int) -> dict | None:
    return storage.get(gkey(product, period))


def publish_guidance(product: str, period: int, unit: str, quantity: int, price: int, band: int,
                     optin_close: int, ends: int) -> dict:
    """The planning agency publishes (or, before the opt-in closes, revises) guidance.

    ``quantity`` is in ``unit`` (e.g. "tonne"); ``price`` is fen per unit;
    ``band`` the uncertainty band in bps; ``optin_close`` the last height at
    which enterprises may opt in; ``ends`` the last height at which orders
    may be placed.
    """
    require_planning()
    if param("plan_share") > 0:
        fail(E_BAD_ARGUMENT, "Q follows the planning law's guidance while plan_share is in force: use publish_from_plan")
    return store_guidance(product, period, unit, quantity, price, band, optin_close, ends)


def publish_from_plan(product: str, period: int, optin_close: int, ends: int) -> dict:
    """Guidance from the planning law's published guidance for the product and period.

    ``Q = floor(recommended x plan_share / 10000)``; the price is the middle of
    the published price band; the band is the 80 % interval's upper end above
    the recommended quantity, in bps, rounded up and capped at ``max_band``."""
    require_planning()
    share_bps = param("plan_share")
    if share_bps == 0:
        fail(E_BAD_ARGUMENT, "plan_share is 0 on this date: guidance is set by hand")
    check_name(product)
    pg = call("planning", "guidance", {"product": product, "period": period})
    if pg is None:
        fail(E_NO_GUIDANCE, "the planning law has no guidance for this product and period")
    rec = pg["recommended"]
    if rec == 0:
        fail(E_NO_GUIDANCE, "the planning law recommends 0 for this product and period")
    band = min(param("max_band"), mul_div(max(0, pg["hi80"] - rec), 10000, rec, "up"))
    unit = call("planning", "product", {"code": product})["unit"]
    return store_guidance(product, period, unit, mul_div(rec, share_bps, 10000), (pg["price_lo"] + pg["price_hi"]) // 2,
                          band, optin_close, ends)


def store_guidance(product: str, period: int, unit: str, quantity: int, price: int, band: int,
                   optin_close: int, ends: int) -> dict:
    check_name(product)
    if not is_int(period) or period < 0:
        fail(E_BAD_ARGUMENT, "period must be an int >= 0")
    if not is_str(unit) or len(unit) == 0 or len(unit) > MAX_NAME:
        fail(E_BAD_ARGUMENT, "unit must be 1..32 characters")
    for x in (quantity, price, band, optin_close, ends):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "quantity, price, band and heights must be ints >= 0")
    if quantity == 0 or price == 0:
        fail(E_BAD_ARGUMENT, "quantity and price must be positive")
    if band > param("max_band"):
        fail(E_BAD_ARGUMENT, "band above max_band")
    if optin_close < ctx.height or ends <= optin_close:
        fail(E_BAD_ARGUMENT, "need height <= optin_close < ends")
    key = gkey(product, period)
    old = storage.get(key)
    if old is not None and ctx.height > old["optin_close"]:
        fail(E_OPTIN_CLOSED, "guidance is fixed once the opt-in has closed")
    g = {"product": product, "period": period, "unit": unit, "quantity": quantity, "price": price,
         "band": band, "upper": upper_quantity(quantity, band), "optin_close": optin_close, "ends": ends,
         "total_capacity": 0 if old is None else old["total_capacity"],
         "total_demand": 0 if old is None else old["total_demand"]}
    storage.set(key, g)
    emit("guidance_published", {"law": LAW, "version": VERSION, "guidance": g})
    return g


def participation(product: str, period: int, enterprise: str) -> dict | None:
    return storage.get(pkey(product, period, enterprise))


def opt_in(product: str, period: int, capacity: int, demand: int) -> dict:
    """The sender opts in (or updates its declaration, or opts out with 0, 0)."""
    g = storage.get(gkey(product, period))
    if g is None:
        fail(E_NO_GUIDANCE, "no guidance for this product and period")
    if ctx.height > g["optin_close"]:
        fail(E_OPTIN_CLOSED, "the opt-in has closed")
    for x in (capacity, demand):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "capacity and demand must be ints >= 0")
    key = pkey(product, period, ctx.sender)
    p = storage.get(key, {"capacity": 0, "demand": 0, "bought": 0, "sold": 0})
    g["total_capacity"] += capacity - p["capacity"]
    g["total_demand"] += demand - p["demand"]
    p["capacity"] = capacity
    p["demand"] = demand
    storage.set(gkey(product, period), g)
    if capacity == 0 and demand == 0:
        storage.delete(key)
    else:
        storage.set(key, p)
    emit("opted_in", {"law": LAW, "version": VERSION, "enterprise": ctx.sender, "product": product,
                      "period": period, "capacity": capacity, "demand": demand})
    return p


def quota(product: str, period: int, enterprise: str) -> dict:
    """An enterprise's purchase and sale quotas, and how much of each it used.

    Before the opt-in closes the figures are provisional (they move as
    others opt in)."""
    g = storage.get(gkey(product, period))
    if g is None:
        fail(E_NO_GUIDANCE, "no guidance for this product and period")
    p = storage.get(pkey(product, period, enterprise))
    if p is None:
        return {"purchase": 0, "sale": 0, "bought": 0, "sold": 0, "final": ctx.height > g["optin_close"]}
    return {"purchase": share(g["upper"], p["capacity"], g["total_capacity"]),
            "sale": share(g["upper"], p["demand"], g["total_demand"]),
            "bought": p["bought"], "sold": p["sold"], "final": ctx.height > g["optin_close"]}


# ---------------------------------------------------------------- orders
def order(order_id: int) -> dict | None:
    return storage.get(f"o/{order_id}")


def escrow_open() -> int:
    """Fen held in escrow for open orders (equals this law's balance)."""
    return storage.get("escrow", 0)


def open_window(product: str, period: int, enterprise: str) -> list:
    """Guidance and participation for an order now, or a clear refusal."""
    g = storage.get(gkey(product, period))
    if g is None:
        fail(E_NO_GUIDANCE, "no guidance for this product and period")
    if ctx.height <= g["optin_close"]:
        fail(E_OPTIN_OPEN, "orders start after the opt-in closes")
    if ctx.height > g["ends"]:
        fail(E_PERIOD_ENDED, "the period has ended")
    p = storage.get(pkey(product, period, enterprise))
    if p is None:
        fail(E_NOT_OPTED_IN, "the enterprise has not opted in")
    return [g, p]


def place(kind: str, g: dict, enterprise: str, quantity: int, payer: str) -> dict:
    amount = quantity * g["price"]
    fee = logistics_fee(amount)
    paid = amount + fee if kind == "sale" else amount
    oid = storage.get("next_order", 1)
    storage.set("next_order", oid + 1)
    o = {"id": oid, "kind": kind, "product": g["product"], "period": g["period"], "enterprise": enterprise,
         "quantity": quantity, "price": g["price"], "amount": amount, "fee": fee, "escrow": paid,
         "payer": payer, "status": "open", "placed": ctx.height,
         "deadline": ctx.height + param("delivery_window")}
    storage.set(f"o/{oid}", o)
    storage.set("escrow", storage.get("escrow", 0) + paid)
    ctx.transfer(payer, ctx.this, paid)
    emit("order_placed", {"law": LAW, "version": VERSION, "order": o,
                          "params": {"scheme_logistics_fee": param_in_force(PARAMS, "scheme_logistics_fee", today())}})
    return o


def state_purchase(product: str, period: int, seller: str, quantity: int) -> dict:
    """The planning agency buys ``quantity`` from an opted-in ``seller`` within its quota."""
    require_planning()
    if not is_int(quantity) or quantity <= 0:
        fail(E_BAD_ARGUMENT, "quantity must be a positive int")
    g, p = open_window(product, period, seller)
    allowed = share(g["upper"], p["capacity"], g["total_capacity"])
    if p["bought"] + quantity > allowed:
        fail(E_OVER_QUOTA, "over the seller's purchase quota")
    p["bought"] += quantity
    storage.set(pkey(product, period, seller), p)
    return place("purchase", g, seller, quantity, ctx.sender)


def state_sale(product: str, period: int, quantity: int) -> dict:
    """An opted-in enterprise (the sender) buys ``quantity`` from the state within its quota."""
    if not is_int(quantity) or quantity <= 0:
        fail(E_BAD_ARGUMENT, "quantity must be a positive int")
    g, p = open_window(product, period, ctx.sender)
    allowed = share(g["upper"], p["demand"], g["total_demand"])
    if p["sold"] + quantity > allowed:
        fail(E_OVER_QUOTA, "over the buyer's sale quota")
    p["sold"] += quantity
    storage.set(pkey(product, period, ctx.sender), p)
    return place("sale", g, ctx.sender, quantity, ctx.sender)


def load_open(order_id: int) -> dict:
    o = storage.get(f"o/{order_id}") if is_int(order_id) else None
    if o is None:
        fail(E_UNKNOWN_ORDER, "no such order")
    if o["status"] != "open":
        fail(E_ORDER_STATE, "the order is not open")
    return o


def confirm_delivery(order_id: int) -> dict:
    """The receiving party or an inspector confirms delivery; the escrow settles."""
    o = load_open(order_id)
    who = ctx.sender
    if o["kind"] == "purchase":
        receiver = ctx.has_role(who, ROLE_PLANNING)
    else:
        receiver = who == o["enterprise"]
    if not receiver and not storage.get(f"insp/{who}", False):
        fail(E_NOT_AUTHORIZED, "only the receiving party or an inspector confirms delivery")
    to = treasury_account()
    if to is None:
        fail(E_NO_TREASURY, "the treasury has not named its account")
    if o["kind"] == "purchase":
        net = o["amount"] - o["fee"]
        if net > 0:
            ctx.transfer(ctx.this, o["enterprise"], net)
        if o["fee"] > 0:
            ctx.transfer(ctx.this, to, o["fee"])
    else:
        ctx.transfer(ctx.this, to, o["escrow"])
    o["status"] = "settled"
    o["settled"] = ctx.height
    o["confirmed_by"] = who
    storage.set(f"o/{order_id}", o)
    storage.set("escrow", storage.get("escrow", 0) - o["escrow"])
    emit("order_settled", {"law": LAW, "version": VERSION, "id": order_id, "kind": o["kind"],
                           "confirmed_by": who, "amount": o["amount"], "fee": o["fee"], "treasury": to})
    return o


def cancel(order_id: int) -> dict:
    """Whoever paid cancels an order not confirmed within the delivery window."""
    o = load_open(order_id)
    if ctx.sender != o["payer"]:
        fail(E_NOT_AUTHORIZED, "only the payer cancels")
    if ctx.height <= o["deadline"]:
        fail(E_TOO_EARLY, "the delivery window is still open")
    key = pkey(o["product"], o["period"], o["enterprise"])
    p = storage.get(key)
    if p is not None:
        if o["kind"] == "purchase":
            p["bought"] -= o["quantity"]
        else:
            p["sold"] -= o["quantity"]
        storage.set(key, p)
    ctx.transfer(ctx.this, o["payer"], o["escrow"])
    o["status"] = "cancelled"
    storage.set(f"o/{order_id}", o)
    storage.set("escrow", storage.get("escrow", 0) - o["escrow"])
    emit("order_cancelled", {"law": LAW, "version": VERSION, "id": order_id, "refund": o["escrow"]})
    return o
