"""Allocation of goods outside the market: rations, promotional vouchers,
graded-preference lotteries, queues and priority supply.

Which policy this implements
----------------------------
Every scheme names a good, a price per unit (fen, 0 for free) and an expiry
height; what a citizen obtains is redeemed at a seller accredited for that
good (a registry kept by this law, managed by the planning agency).  An
entitlement belongs to one citizen: there is no entry that moves it to
anyone else, only the citizen can redeem it, and it lapses at expiry.  A
citizen is a record in the ``welfare`` register that is still active.

Rations (basic goods in shortage)
    ``per_capita`` units for every registered citizen.  Nothing is written
    per citizen when a ration opens: the entitlement is checked when the
    citizen redeems, so opening a ration for 1,000,000 citizens is one
    constant-size transaction.
Promotional vouchers (overproduced goods)
    The planning agency funds a budget into this law's account; each citizen
    may take up to ``discount`` fen off purchases of the good from accredited
    sellers, while the budget lasts.  The rest returns to the agency after
    expiry.
Graded-preference lotteries (products on trial)
    Applicants rank up to ``max_choices`` of the options.  After applications
    close, at height ``draw_at`` (at least ``draw_delay`` blocks later) the
    chain's randomness beacon of block ``draw_at`` seeds a pseudo-random
    permutation of the applicants (a 4-round Feistel network with BLAKE3
    round functions, cycle-walking onto ``[0, applicants)``); in that order
    each applicant gets the first of their choices that has units left
    (random serial dictatorship).  The draw runs in batches of at most
    ``draw_batch`` applicants per transaction, so its work per block is
    bounded whatever the number of applicants.
    *Limits of the beacon*: the draw is fair only if nobody could know or
    choose ``beacon(draw_at)`` before applications closed.  The law ensures
    the order in time (draw_at > closes, and the draw is refused until the
    beacon exists).  The node's beacon is the hash of the 2f+1 signatures
    that committed block ``draw_at``, carried in the next block: no single
    validator can choose or predict it, but the next block's proposer picks
    which valid set of signatures to include, so it can choose among a few
    alternative draws (docs/laws/allocation.md).  A unique threshold
    signature would remove that choice.
Queues (first come, first served)
    ``units`` units; a citizen's place is the order in which their
    ``join_queue`` transaction was included in the chain; places 1..units
    may buy one unit.
Priority supply (flagged cases)
    The registrar flags a citizen (``disaster_area`` or ``critically_ill``)
    until a height; the planning agency may then grant that citizen a
    quantity of a good, redeemable like any other entitlement.  Two bodies
    must act, and a grant without a live flag is refused.

Parameters are dated (``since`` is YYYYMMDD; the value in force on the
block's date applies) and strictly validated by ``check_params()``.

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change).
"""

LAW = "allocation"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, param, params_at, check_params, version (contracts/runtime/lawkit.py)

ROLE_AGENCY = "planning_agency"
ROLE_FLAG = "registrar"
CITIZEN_REGISTER = "welfare"
SCHEMES = ("ration", "queue", "lottery", "priority")
FLAG_CATEGORIES = ("disaster_area", "critically_ill")
MAX_NAME = 32

# Error codes of this law.
E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_NO_PARAMETER = 4  # raised by the library's param_value / param_in_force (always 4)
E_NOT_CITIZEN = 10
E_UNKNOWN = 11
E_EXISTS = 12
E_EXPIRED = 13
E_NOT_SELLER = 14
E_EXCEEDED = 15
E_CLOSED = 16
E_NOT_YET = 17
E_NO_BEACON = 18
E_NOT_FLAGGED = 19
E_BUDGET = 20

# ---------------------------------------------------------------- parameters
SCHEMA = {
    "max_choices": ("count", "options"),
    "max_options": ("count", "options"),
    "draw_delay": ("count", "blocks"),
    "draw_batch": ("count", "applicants/transaction"),
}

PARAMS = {
    "max_choices": {
        "label": "Most options an applicant may rank in a lottery",
        "unit": "options",
        "reference": "esoc policy",
        "values": ((20250101, 5),),
    },
    "max_options": {
        "label": "Most options one lottery may offer",
        "unit": "options",
        "reference": "esoc policy",
        "values": ((20250101, 32),),
    },
    "draw_delay": {
        "label": "Fewest blocks between the close of applications and the block whose beacon draws",
        "unit": "blocks",
        "reference": "esoc policy: the beacon must not exist while applications are open",
        "values": ((20250101, 2),),
    },
    "draw_batch": {
        "label": "Most applicants served by one draw transaction",
        "unit": "applicants/transaction",
        "reference": "esoc policy: bounds the work of one transaction",
        "values": ((20250101, 500),),
    },
}

ENTRIES = (
    "accredit_seller", "revoke_seller", "open_ration", "open_promotion", "close_promotion",
    "open_lottery", "apply", "run_draw", "open_queue", "join_queue", "flag", "unflag",
    "grant_priority", "redeem", "redeem_promotion",
)
VIEWS = (
    "is_seller", "scheme", "promotion", "entitlement", "application", "lottery_result",
    "queue_place", "flags", "permute", "param", "params_at", "check_params", "version",
)


# ---------------------------------------------------------------- dates and parameters
def is_seq(x) -> bool:
    return is_list(x) or is_tuple(x)


def value_error(kind: str, v) -> str:
    if kind == "count":
        return "" if is_int(v) and 0 < v <= 100_000 else "must be an int in 1..100000"
    return "unknown kind"


# ---------------------------------------------------------------- checks
def require(role: str) -> None:
    if not ctx.has_role(ctx.sender, role):
        fail(E_NOT_AUTHORIZED, "sender lacks the " + role + " role")


def check_name(x, what: str) -> None:
    if not is_str(x) or len(x) == 0 or len(x) > MAX_NAME or "/" in x:
        fail(E_BAD_ARGUMENT, what + " must be 1..32 characters without '/'")


def check_amount(x, what: str, positive: bool) -> None:
    if not is_int(x) or x < 0 or (positive and x == 0):
        fail(E_BAD_ARGUMENT, what + (" must be a positive int" if positive else " must be an int >= 0"))


def is_citizen(who: str) -> bool:
    """An active record in the welfare register."""
    i = state.read(CITIZEN_REGISTER, f"i/{who}")
    if i is None:
        return False
    rec = state.read(CITIZEN_REGISTER, f"c/{i}")
    return rec is not None and rec["active"]


def require_citizen() -> None:
    if not is_citizen(ctx.sender):
        fail(E_NOT_CITIZEN, "the sender is not an active registered citizen")


# ---------------------------------------------------------------- sellers
def is_seller(seller: str, good: str) -> bool:
    return storage.get(f"s/{good}/{seller}", False)


def accredit_seller(seller: str, good: str) -> None:
    require(ROLE_AGENCY)
    check_name(good, "good")
    storage.set(f"s/{good}/{seller}", True)
    emit("seller_accredited", {"law": LAW, "version": VERSION, "seller": seller, "good": good})


def revoke_seller(seller: str, good: str) -> None:
    require(ROLE_AGENCY)
    storage.delete(f"s/{good}/{seller}")
    emit("seller_revoked", {"law": LAW, "version": VERSION, "seller": seller, "good": good})


# ---------------------------------------------------------------- schemes
def skey(kind: str, sid: str) -> str:
    return f"{kind}/{sid}"


def scheme(kind: str, sid: str) -> dict | None:
    """A ration, queue, lottery or priority grant, as stored."""
    if kind not in SCHEMES:
        fail(E_BAD_ARGUMENT, "unknown scheme")
    return storage.get(skey(kind, sid))


def create(kind: str, sid: str, data: dict) -> dict:
    check_name(sid, "id")
    key = skey(kind, sid)
    if storage.has(key):
        fail(E_EXISTS, "this id is taken")
    if data["expires"] <= ctx.height:
        fail(E_BAD_ARGUMENT, "expires must be a future height")
    data["kind"] = kind
    data["id"] = sid
    data["opened"] = ctx.height
    storage.set(key, data)
    emit("scheme_opened", {"law": LAW, "version": VERSION, "scheme": data})
    return data


def open_ration(ration_id: str, good: str, per_capita: int, price: int, expires: int) -> dict:
    """The planning agency rations ``good``: ``per_capita`` units per citizen at ``price``."""
    require(ROLE_AGENCY)
    check_name(good, "good")
    check_amount(per_capita, "per_capita", True)
    check_amount(price, "price", False)
    check_amount(expires, "expires", True)
    return create("ration", ration_id, {"good": good, "per_capita": per_capita, "price": price,
                                        "expires": expires})


def open_queue(queue_id: str, good: str, units: int, price: int, expires: int) -> dict:
    require(ROLE_AGENCY)
    check_name(good, "good")
    check_amount(units, "units", True)
    check_amount(price, "price", False)
    check_amount(expires, "expires", True)
    return create("queue", queue_id, {"good": good, "units": units, "price": price, "expires": expires,
                                      "joined": 0})


def join_queue(queue_id: str) -> dict:
    """The citizen takes the next place in the queue (inclusion order)."""
    require_citizen()
    q = storage.get(skey("queue", queue_id))
    if q is None:
        fail(E_UNKNOWN, "no such queue")
    if ctx.height > q["expires"]:
        fail(E_EXPIRED, "the queue has expired")
    key = f"qp/{queue_id}/{ctx.sender}"
    if storage.has(key):
        fail(E_EXISTS, "already in this queue")
    q["joined"] += 1
    place = q["joined"]
    storage.set(skey("queue", queue_id), q)
    storage.set(key, place)
    emit("queue_joined", {"law": LAW, "version": VERSION, "queue": queue_id, "citizen": ctx.sender,
                          "place": place, "served": place <= q["units"]})
    return {"place": place, "served": place <= q["units"]}


def queue_place(queue_id: str, who: str) -> int | None:
    return storage.get(f"qp/{queue_id}/{who}")


# ---------------------------------------------------------------- promotions
def promotion(promo_id: str) -> dict | None:
    return storage.get(f"promo/{promo_id}")


def open_promotion(promo_id: str, good: str, discount: int, budget: int, expires: int) -> dict:
    """The planning agency funds ``budget`` for discounts of up to ``discount`` per citizen."""
    require(ROLE_AGENCY)
    check_name(promo_id, "id")
    check_name(good, "good")
    check_amount(discount, "discount", True)
    check_amount(budget, "budget", True)
    check_amount(expires, "expires", True)
    if expires <= ctx.height:
        fail(E_BAD_ARGUMENT, "expires must be a future height")
    key = f"promo/{promo_id}"
    if storage.has(key):
        fail(E_EXISTS, "this id is taken")
    p = {"id": promo_id, "good": good, "discount": discount, "budget": budget, "left": budget,
         "expires": expires, "funder": ctx.sender, "open": True}
    ctx.transfer(ctx.sender, ctx.this, budget)
    storage.set(key, p)
    emit("promotion_opened", {"law": LAW, "version": VERSION, "promotion": p})
    return p


def redeem_promotion(promo_id: str, seller: str, price: int) -> dict:
    """The citizen buys the promoted good from ``seller`` for ``price`` (the full
    price); the discount comes from the promotion's budget."""
    require_citizen()
    key = f"promo/{promo_id}"
    p = storage.get(key)
    if p is None or not p["open"]:
        fail(E_UNKNOWN, "no such open promotion")
    if ctx.height > p["expires"]:
        fail(E_EXPIRED, "the promotion has expired")
    good = p["good"]
    if not storage.get(f"s/{good}/{seller}", False):
        fail(E_NOT_SELLER, "the seller is not accredited for this good")
    check_amount(price, "price", True)
    ukey = f"pu/{promo_id}/{ctx.sender}"
    used = storage.get(ukey, 0)
    discount = min(p["discount"] - used, price, p["left"])
    if discount <= 0:
        fail(E_BUDGET, "no discount left for this citizen or in the budget")
    storage.set(ukey, used + discount)
    p["left"] -= discount
    storage.set(key, p)
    if price > discount:
        ctx.transfer(ctx.sender, seller, price - discount)
    ctx.transfer(ctx.this, seller, discount)
    emit("promotion_redeemed", {"law": LAW, "version": VERSION, "promotion": promo_id, "citizen": ctx.sender,
                                "seller": seller, "price": price, "discount": discount})
    return {"paid": price - discount, "discount": discount}


def close_promotion(promo_id: str) -> dict:
    """After expiry, the unspent budget goes back to the agency that funded it."""
    require(ROLE_AGENCY)
    key = f"promo/{promo_id}"
    p = storage.get(key)
    if p is None or not p["open"]:
        fail(E_UNKNOWN, "no such open promotion")
    if ctx.height <= p["expires"]:
        fail(E_NOT_YET, "the promotion has not expired")
    if p["left"] > 0:
        ctx.transfer(ctx.this, p["funder"], p["left"])
    emit("promotion_closed", {"law": LAW, "version": VERSION, "promotion": promo_id, "returned": p["left"]})
    p["left"] = 0
    p["open"] = False
    storage.set(key, p)
    return p


# ---------------------------------------------------------------- lotteries
def open_lottery(lottery_id: str, options: list, closes: int, draw_at: int, expires: int) -> dict:
    """The planning agency opens a lottery of ``options``: a list of
    ``[good, units, price]``; applications until ``closes``; the beacon of
    block ``draw_at`` draws; winners redeem until ``expires``."""
    require(ROLE_AGENCY)
    if not is_seq(options) or len(options) == 0 or len(options) > param("max_options"):
        fail(E_BAD_ARGUMENT, "options must be a non-empty list within max_options")
    names = []
    units = {}
    prices = {}
    for opt in options:
        if not is_seq(opt) or len(opt) != 3:
            fail(E_BAD_ARGUMENT, "each option is [good, units, price]")
        good, count, price = opt
        check_name(good, "good")
        check_amount(count, "units", True)
        check_amount(price, "price", False)
        if good in units:
            fail(E_BAD_ARGUMENT, "an option appears twice")
        names.append(good)
        units[good] = count
        prices[good] = price
    check_amount(closes, "closes", True)
    if closes < ctx.height or draw_at < closes + param("draw_delay") or expires <= draw_at:
        fail(E_BAD_ARGUMENT, "need height <= closes, closes + draw_delay <= draw_at < expires")
    return create("lottery", lottery_id, {"options": names, "left": units, "prices": prices,
                                          "closes": closes, "draw_at": draw_at, "expires": expires,
                                          "applicants": 0, "drawn": 0})


def apply(lottery_id: str, choices: list) -> dict:
    """The citizen applies (or changes their ranking) before applications close."""
    require_citizen()
    lot = storage.get(skey("lottery", lottery_id))
    if lot is None:
        fail(E_UNKNOWN, "no such lottery")
    if ctx.height > lot["closes"]:
        fail(E_CLOSED, "applications have closed")
    if not is_seq(choices) or len(choices) == 0 or len(choices) > param("max_choices"):
        fail(E_BAD_ARGUMENT, "rank 1..max_choices options")
    seen = []
    for c in choices:
        if c not in lot["options"] or c in seen:
            fail(E_BAD_ARGUMENT, "choices must be distinct options of this lottery")
        seen.append(c)
    key = f"lk/{lottery_id}/{ctx.sender}"
    k = storage.get(key)
    if k is None:
        k = lot["applicants"]
        lot["applicants"] = k + 1
        storage.set(skey("lottery", lottery_id), lot)
        storage.set(key, k)
    storage.set(f"la/{lottery_id}/{k}", {"who": ctx.sender, "choices": seen})
    emit("applied", {"law": LAW, "version": VERSION, "lottery": lottery_id, "citizen": ctx.sender,
                     "choices": seen})
    return {"number": k, "choices": seen}


def application(lottery_id: str, who: str) -> dict | None:
    k = storage.get(f"lk/{lottery_id}/{who}")
    return None if k is None else storage.get(f"la/{lottery_id}/{k}")


def feistel(x: int, half: int, seed: bytes, label: str) -> int:
    """One pass of a 4-round Feistel network on ``2 x half``-bit integers."""
    mask = (1 << half) - 1
    left = x >> half
    right = x & mask
    for r in range(4):
        f = draw(seed, f"{label}/{r}/{right}", 1 << half)
        left, right = right, left ^ f
    return (left << half) | right


def permute(seed: bytes, label: str, n: int, k: int) -> int:
    """The ``k``-th element of a pseudo-random permutation of ``[0, n)`` (pure)."""
    half = 1
    while (1 << (2 * half)) < n:
        half += 1
    x = feistel(k, half, seed, label)
    while x >= n:  # cycle-walking: stays a permutation of [0, n)
        x = feistel(x, half, seed, label)
    return x


def run_draw(lottery_id: str, steps: int = 0) -> dict:
    """Serve the next applicants in the beacon's random order (anyone may call).

    ``steps`` (0 = draw_batch) bounds the applicants served by this call."""
    key = skey("lottery", lottery_id)
    lot = storage.get(key)
    if lot is None:
        fail(E_UNKNOWN, "no such lottery")
    if ctx.height <= lot["draw_at"]:
        fail(E_NOT_YET, "the beacon of draw_at is not yet known")
    seed = beacon(lot["draw_at"])
    if seed is None:
        fail(E_NO_BEACON, "the chain has no beacon value for draw_at")
    batch = param("draw_batch")
    if not is_int(steps) or steps < 0:
        fail(E_BAD_ARGUMENT, "steps must be an int >= 0")
    if steps == 0 or steps > batch:
        steps = batch
    n = lot["applicants"]
    pos = lot["drawn"]
    end = min(n, pos + steps)
    served = []
    while pos < end:
        k = permute(seed, lottery_id, n, pos)
        app = storage.get(f"la/{lottery_id}/{k}")
        won = None
        for c in app["choices"]:
            if won is None and lot["left"][c] > 0:
                won = c
        if won is not None:
            lot["left"][won] -= 1
            winner = app["who"]
            storage.set(f"lw/{lottery_id}/{winner}", won)
        served.append([app["who"], won])
        pos += 1
    lot["drawn"] = pos
    storage.set(key, lot)
    emit("lottery_drawn", {"law": LAW, "version": VERSION, "lottery": lottery_id, "beacon_height": lot["draw_at"],
                           "beacon": hex_of(seed), "served": served, "done": pos >= n})
    return {"served": len(served), "drawn": pos, "applicants": n, "done": pos >= n}


def lottery_result(lottery_id: str, who: str) -> str | None:
    """The option ``who`` won (None: not drawn yet, or nothing left for them)."""
    return storage.get(f"lw/{lottery_id}/{who}")


# ---------------------------------------------------------------- priority supply
def flags(who: str) -> dict:
    return storage.get(f"f/{who}", {})


def flag(citizen: str, category: str, until: int) -> dict:
    """The registrar flags a citizen for priority supply until a height."""
    require(ROLE_FLAG)
    if category not in FLAG_CATEGORIES:
        fail(E_BAD_ARGUMENT, "unknown category")
    check_amount(until, "until", True)
    if not is_citizen(citizen):
        fail(E_NOT_CITIZEN, "not an active registered citizen")
    f = storage.get(f"f/{citizen}", {})
    f[category] = until
    storage.set(f"f/{citizen}", f)
    emit("flagged", {"law": LAW, "version": VERSION, "citizen": citizen, "category": category, "until": until})
    return f


def unflag(citizen: str, category: str) -> dict:
    require(ROLE_FLAG)
    f = storage.get(f"f/{citizen}", {})
    if category in f:
        f.pop(category)
    storage.set(f"f/{citizen}", f)
    emit("unflagged", {"law": LAW, "version": VERSION, "citizen": citizen, "category": category})
    return f


def grant_priority(grant_id: str, citizen: str, good: str, quantity: int, price: int, expires: int,
                   category: str) -> dict:
    """The planning agency grants a flagged citizen ``quantity`` of ``good``."""
    require(ROLE_AGENCY)
    f = storage.get(f"f/{citizen}", {})
    if f.get(category, -1) < ctx.height:
        fail(E_NOT_FLAGGED, "the citizen has no live flag of this category")
    check_name(good, "good")
    check_amount(quantity, "quantity", True)
    check_amount(price, "price", False)
    check_amount(expires, "expires", True)
    return create("priority", grant_id, {"citizen": citizen, "good": good, "quantity": quantity,
                                         "price": price, "expires": expires, "category": category})


# ---------------------------------------------------------------- redemption
def entitlement(kind: str, sid: str, who: str) -> dict:
    """What ``who`` may still redeem from a scheme: good, price, units left."""
    s = scheme(kind, sid)
    if s is None:
        fail(E_UNKNOWN, "no such scheme")
    good = s.get("good")
    price = s.get("price", 0)
    total = 0
    if kind == "ration":
        total = s["per_capita"] if is_citizen(who) else 0
    elif kind == "queue":
        place = storage.get(f"qp/{sid}/{who}")
        total = 1 if place is not None and place <= s["units"] else 0
    elif kind == "lottery":
        won = storage.get(f"lw/{sid}/{who}")
        if won is not None:
            total = 1
            good = won
            price = s["prices"][won]
    else:
        total = s["quantity"] if s["citizen"] == who else 0
    used = storage.get(f"u/{kind}/{sid}/{who}", 0)
    return {"good": good, "price": price, "total": total, "used": used,
            "left": total - used if total > used else 0, "expires": s["expires"]}


def redeem(kind: str, scheme_id: str, seller: str, quantity: int) -> dict:
    """The citizen (the sender) takes ``quantity`` units of an entitlement from an
    accredited seller, paying the scheme's price to the seller."""
    check_amount(quantity, "quantity", True)
    e = entitlement(kind, scheme_id, ctx.sender)
    if ctx.height > e["expires"]:
        fail(E_EXPIRED, "the entitlement has expired")
    good = e["good"]
    if not storage.get(f"s/{good}/{seller}", False):
        fail(E_NOT_SELLER, "the seller is not accredited for this good")
    if quantity > e["left"]:
        fail(E_EXCEEDED, "more than the entitlement left")
    storage.set(f"u/{kind}/{scheme_id}/{ctx.sender}", e["used"] + quantity)
    cost = e["price"] * quantity
    if cost > 0:
        ctx.transfer(ctx.sender, seller, cost)
    emit("redeemed", {"law": LAW, "version": VERSION, "scheme": kind, "id": scheme_id, "citizen": ctx.sender,
                      "seller": seller, "good": e["good"], "quantity": quantity, "paid": cost})
    return {"good": e["good"], "quantity": quantity, "paid": cost, "left": e["left"] - quantity}
