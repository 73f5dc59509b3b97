"""Welfare: the citizens' register, unemployment relief, pensions, and
housing, medical and education vouchers.

Which policy this implements
----------------------------
Register
    The registrar (role ``registrar``) registers citizens with their birth
    date and residence, corrects their status, and keeps the list of
    employers.  A registered employer records a hire (the citizen is then
    *employed since* that date) and a separation (*unemployed since* that
    date).  Dates are integers YYYYMMDD.

Cash benefits, paid every month (a period is a calendar month of block time)
    * **Pension**: a citizen who has reached ``pension_age`` on the first day
      of the month receives ``pension_monthly``.
    * **Unemployment relief**: a citizen unemployed since a date less than
      ``unemployment_limit_years`` before the first day of the month receives
      ``unemployment_relief_monthly`` (not on top of a pension).

    Payment is **pushed, in bounded batches**: the node calls the entry
    ``on_block()`` at the end of every block (no arguments, the law itself
    as sender, a fixed gas budget).  A cursor walks the register; each call
    pays at most ``batch_size`` citizens and moves the cursor; when it has
    passed the last citizen of the period's pass it waits for the next month
    (or starts the next month at once when it is behind).  Each citizen's
    record keeps the last month paid, so nobody is paid twice for a month.
    If the law's account cannot pay the next citizen, the batch stops there
    (event ``underfunded``) and resumes when the treasury has topped it up.
    docs/laws/welfare.md argues this choice against accrual and claims.

Vouchers (lazy: nothing is written per citizen until one is used)
    Every registered citizen is entitled each month to ``housing_voucher``,
    ``medical_voucher`` and, below ``education_age_limit``,
    ``education_voucher`` (fen).  Vouchers are not transferable: only the
    citizen can redeem them, only at a provider accredited for that kind
    (a registry kept by this law, managed by the registrar), and the money
    goes from this law's account straight to the provider.  A month's
    vouchers expire at the end of the month.

Funding: the law pays from its own account, which the treasury funds by an
ordinary transfer.

Parameters are dated (``since`` is YYYYMMDD; the value in force on the
first day of the month being paid applies) and strictly validated by
``check_params()``.  Amounts are integer fen; ages and limits whole years.

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change).
"""

LAW = "welfare"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, param, params_at, check_params, version (contracts/runtime/lawkit.py)

# ---------------------------------------------------------------- units
# Money is an integer count of fen; dates are integers YYYYMMDD.
FEN = 1
YUAN = 100 * FEN
YEAR = 10000  # one year added to a date YYYYMMDD

ROLE_REGISTRAR = "registrar"
ROLE_CRANK = ("registrar", "treasury")  # may push on_block by hand if the node does not
VOUCHER_KINDS = ("housing", "medical", "education")
MAX_TEXT = 64
FIRST_DATE = 18000101  # earliest date the register accepts (YYYYMMDD)

# Error codes of this law.
E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_NO_PARAMETER = 4  # raised by the library's param_value / param_in_force (always 4)
E_NOT_REGISTERED = 10
E_ALREADY_REGISTERED = 11
E_NOT_EMPLOYER = 12
E_NOT_PROVIDER = 13
E_VOUCHER_EXCEEDED = 14
E_NOT_EMPLOYED_HERE = 15
E_INACTIVE = 16

# ---------------------------------------------------------------- parameters
SCHEMA = {
    "pension_age": ("years", "years"),
    "pension_monthly": ("money", "fen/month"),
    "unemployment_relief_monthly": ("money", "fen/month"),
    "unemployment_limit_years": ("years", "years"),
    "housing_voucher": ("money", "fen/month"),
    "medical_voucher": ("money", "fen/month"),
    "education_voucher": ("money", "fen/month"),
    "education_age_limit": ("years", "years"),
    "batch_size": ("count", "citizens/block"),
}

PARAMS = {
    "pension_age": {
        "label": "Age from which the pension is paid",
        "unit": "years",
        "reference": "esoc policy; cf. PRC statutory retirement ages (NPCSC Decision of 2024-09-13, rising gradually from 2025)",
        "values": ((20250101, 60),),
    },
    "pension_monthly": {
        "label": "Pension per month",
        "unit": "fen/month",
        "reference": "esoc policy",
        "values": ((20250101, 3_000 * YUAN),),
    },
    "unemployment_relief_monthly": {
        "label": "Unemployment relief per month",
        "unit": "fen/month",
        "reference": "esoc policy; cf. PRC Regulations on Unemployment Insurance (1999) art. 18",
        "values": ((20250101, 1_800 * YUAN),),
    },
    "unemployment_limit_years": {
        "label": "Longest continuous unemployment for which relief is paid",
        "unit": "years",
        "reference": "PRC Regulations on Unemployment Insurance (1999) art. 17 (at most 24 months)",
        "values": ((20250101, 2),),
    },
    "housing_voucher": {
        "label": "Housing voucher per citizen per month",
        "unit": "fen/month",
        "reference": "esoc policy",
        "values": ((20250101, 1_000 * YUAN),),
    },
    "medical_voucher": {
        "label": "Medical voucher per citizen per month",
        "unit": "fen/month",
        "reference": "esoc policy",
        "values": ((20250101, 500 * YUAN),),
    },
    "education_voucher": {
        "label": "Education voucher per month for citizens below the education age limit",
        "unit": "fen/month",
        "reference": "esoc policy",
        "values": ((20250101, 800 * YUAN),),
    },
    "education_age_limit": {
        "label": "Education vouchers go to citizens younger than this",
        "unit": "years",
        "reference": "esoc policy",
        "values": ((20250101, 25),),
    },
    "batch_size": {
        "label": "Citizens visited per on_block call (bounds the work of one block)",
        "unit": "citizens/block",
        "reference": "esoc policy: sized so that a batch of eligible citizens fits the node's on_block gas budget",
        "values": ((20250101, 2000),),
    },
}

ENTRIES = (
    "register_citizen", "deregister_citizen", "set_residence", "set_status", "add_employer",
    "remove_employer", "hire", "separate", "accredit", "revoke", "redeem_voucher", "on_block",
)
VIEWS = (
    "citizen", "citizen_count", "is_employer", "is_provider", "benefit", "vouchers", "cursor",
    "period_of", "param", "params_at", "check_params", "version",
)


# ---------------------------------------------------------------- dates and parameters
def period_of(date: int = 0) -> int:
    """The month of a date (YYYYMMDD; 0 = today) as a count: year x 12 + month - 1."""
    d = date if date else today()
    return (d // 10000) * 12 + d // 100 % 100 - 1


def first_day(period: int) -> int:
    """YYYYMMDD of the first day of a period."""
    return (period // 12) * 10000 + (period % 12 + 1) * 100 + 1


def value_error(kind: str, v) -> str:
    if kind == "money":
        return "" if is_int(v) and v >= 0 else "must be an int >= 0 (fen)"
    if kind == "years":
        return "" if is_int(v) and 0 < v <= 150 else "must be an int in 1..150 (years)"
    if kind == "count":
        return "" if is_int(v) and 0 < v <= 100_000 else "must be an int in 1..100000"
    return "unknown kind"


# ---------------------------------------------------------------- pure computations
def reached(born: int, years: int, on: int) -> bool:
    """Whether someone born on ``born`` is at least ``years`` old on ``on`` (YYYYMMDD).

    Age in whole years as the civil law counts it (PRC Civil Code art. 1259
    and 201: a person is N years old from the N-th anniversary of birth).
    """
    return born + years * YEAR <= on


def cash_rates(on: int) -> dict:
    """The cash-benefit parameters in force on ``on`` (looked up once per batch)."""
    return {"pension_age": param("pension_age", on), "pension": param("pension_monthly", on),
            "relief": param("unemployment_relief_monthly", on),
            "limit": param("unemployment_limit_years", on)}


def cash_benefit(rec: dict, on: int, rates: dict) -> list:
    """``[kind, amount]`` of the cash benefit due for the month starting ``on``.

    Pension (esoc policy; the age after the NPCSC Decision of 2024-09-13)
    from ``pension_age``; otherwise unemployment relief for at most
    ``unemployment_limit_years`` of continuous unemployment (Regulations on
    Unemployment Insurance (1999) art. 17-18); never both.
    """
    if not rec["active"]:
        return ["none", 0]
    if reached(rec["born"], rates["pension_age"], on):
        return ["pension", rates["pension"]]
    since = rec["unemployed"]
    if since is not None and since <= on and on < since + rates["limit"] * YEAR:
        return ["unemployment", rates["relief"]]
    return ["none", 0]


def voucher_entitlement(rec: dict, kind: str, on: int) -> int:
    """A citizen's voucher of ``kind`` for the month starting ``on`` (fen).

    esoc policy: every active citizen has the month's housing and medical
    vouchers, and the education voucher below ``education_age_limit``.
    """
    if not rec["active"] or rec["born"] > on:
        return 0
    if kind == "education":
        if reached(rec["born"], param("education_age_limit", on), on):
            return 0
        return param("education_voucher", on)
    if kind == "housing":
        return param("housing_voucher", on)
    return param("medical_voucher", on)


# ---------------------------------------------------------------- the register
def require(role: str) -> None:
    if not ctx.has_role(ctx.sender, role):
        fail(E_NOT_AUTHORIZED, "sender lacks the " + role + " role")


def index_of(who: str) -> int:
    i = storage.get(f"i/{who}")
    if i is None:
        fail(E_NOT_REGISTERED, "not a registered citizen")
    return i


def record(who: str) -> list:
    """``[index, record]`` of a registered citizen."""
    i = index_of(who)
    return [i, storage.get(f"c/{i}")]


def citizen(who: str) -> dict | None:
    i = storage.get(f"i/{who}")
    return None if i is None else storage.get(f"c/{i}")


def citizen_count() -> int:
    return storage.get("n", 0)


def check_text(x, what: str) -> None:
    if not is_str(x) or len(x) == 0 or len(x) > MAX_TEXT:
        fail(E_BAD_ARGUMENT, what + " must be 1..64 characters")


def register_citizen(who: str, born: int, residence: str) -> int:
    """The registrar registers a citizen; returns the citizen's index."""
    require(ROLE_REGISTRAR)
    check_text(who, "address")
    check_text(residence, "residence")
    if not is_date(born) or born < FIRST_DATE or born > today():
        fail(E_BAD_ARGUMENT, "born must be a past date YYYYMMDD")
    if storage.has(f"i/{who}"):
        fail(E_ALREADY_REGISTERED, "already registered")
    n = storage.get("n", 0)
    storage.set(f"c/{n}", {"address": who, "born": born, "residence": residence, "active": True,
                           "employer": None, "employed": None, "unemployed": None, "paid": 0})
    storage.set(f"i/{who}", n)
    storage.set("n", n + 1)
    emit("citizen_registered", {"law": LAW, "version": VERSION, "citizen": who, "index": n})
    return n


def save(i: int, rec: dict, what: str) -> None:
    storage.set(f"c/{i}", rec)
    emit(what, {"law": LAW, "version": VERSION, "citizen": rec["address"], "employer": rec["employer"],
                "employed": rec["employed"], "unemployed": rec["unemployed"], "active": rec["active"]})


def deregister_citizen(who: str) -> None:
    """The registrar closes a record (death, emigration); it stays, inactive."""
    require(ROLE_REGISTRAR)
    index, rec = record(who)
    rec["active"] = False
    save(index, rec, "citizen_deregistered")


def set_residence(who: str, residence: str) -> None:
    require(ROLE_REGISTRAR)
    check_text(residence, "residence")
    index, rec = record(who)
    rec["residence"] = residence
    storage.set(f"c/{index}", rec)
    emit("residence_set", {"law": LAW, "version": VERSION, "citizen": who, "residence": residence})


def set_status(who: str, employed: int | None = None, unemployed: int | None = None) -> None:
    """The registrar corrects a status: at most one of the two dates, or none
    (neither employed nor seeking work)."""
    require(ROLE_REGISTRAR)
    if employed is not None and unemployed is not None:
        fail(E_BAD_ARGUMENT, "employed and unemployed at once")
    for d in (employed, unemployed):
        if d is not None and (not is_date(d) or d < FIRST_DATE or d > today()):
            fail(E_BAD_ARGUMENT, "dates must be past dates YYYYMMDD")
    index, rec = record(who)
    rec["employed"] = employed
    rec["unemployed"] = unemployed
    if employed is None:
        rec["employer"] = None
    save(index, rec, "status_set")


def is_employer(who: str) -> bool:
    return storage.get(f"emp/{who}", False)


def add_employer(who: str) -> None:
    require(ROLE_REGISTRAR)
    storage.set(f"emp/{who}", True)
    emit("employer_added", {"law": LAW, "version": VERSION, "employer": who})


def remove_employer(who: str) -> None:
    require(ROLE_REGISTRAR)
    storage.delete(f"emp/{who}")
    emit("employer_removed", {"law": LAW, "version": VERSION, "employer": who})


def hire(who: str) -> None:
    """A registered employer (the sender) records that it employs ``who`` from today."""
    if not storage.get(f"emp/{ctx.sender}", False):
        fail(E_NOT_EMPLOYER, "sender is not a registered employer")
    index, rec = record(who)
    if not rec["active"]:
        fail(E_INACTIVE, "the record is closed")
    rec["employer"] = ctx.sender
    rec["employed"] = today()
    rec["unemployed"] = None
    save(index, rec, "hired")


def separate(who: str) -> None:
    """The current employer records that ``who`` left; unemployed from today."""
    index, rec = record(who)
    if rec["employer"] != ctx.sender:
        fail(E_NOT_EMPLOYED_HERE, "the sender is not this citizen's employer")
    rec["employer"] = None
    rec["employed"] = None
    rec["unemployed"] = today()
    save(index, rec, "separated")


# ---------------------------------------------------------------- vouchers
def is_provider(who: str, kind: str) -> bool:
    return storage.get(f"prov/{kind}/{who}", False)


def accredit(provider: str, kind: str) -> None:
    require(ROLE_REGISTRAR)
    if kind not in VOUCHER_KINDS:
        fail(E_BAD_ARGUMENT, "unknown voucher kind")
    storage.set(f"prov/{kind}/{provider}", True)
    emit("provider_accredited", {"law": LAW, "version": VERSION, "provider": provider, "kind": kind})


def revoke(provider: str, kind: str) -> None:
    require(ROLE_REGISTRAR)
    storage.delete(f"prov/{kind}/{provider}")
    emit("provider_revoked", {"law": LAW, "version": VERSION, "provider": provider, "kind": kind})


def vouchers(who: str) -> dict:
    """This month's voucher entitlements of ``who``, what is used, and what is left."""
    rec = citizen(who)
    p = period_of()
    on = first_day(p)
    out = {}
    for kind in VOUCHER_KINDS:
        total = 0 if rec is None else voucher_entitlement(rec, kind, on)
        used = storage.get(f"v/{p}/{kind}/{who}", 0)
        out[kind] = {"entitled": total, "used": used, "left": total - used if total > used else 0}
    return out


def redeem_voucher(kind: str, provider: str, amount: int) -> dict:
    """The citizen (the sender) pays ``amount`` of a voucher to an accredited provider."""
    if kind not in VOUCHER_KINDS:
        fail(E_BAD_ARGUMENT, "unknown voucher kind")
    if not is_int(amount) or amount <= 0:
        fail(E_BAD_ARGUMENT, "amount must be a positive int (fen)")
    if not storage.get(f"prov/{kind}/{provider}", False):
        fail(E_NOT_PROVIDER, "the provider is not accredited for this kind")
    who = ctx.sender
    index, rec = record(who)
    p = period_of()
    on = first_day(p)
    key = f"v/{p}/{kind}/{who}"
    used = storage.get(key, 0)
    total = voucher_entitlement(rec, kind, on)
    if used + amount > total:
        fail(E_VOUCHER_EXCEEDED, "more than this month's voucher")
    storage.set(key, used + amount)
    ctx.transfer(ctx.this, provider, amount)
    emit("voucher_redeemed", {"law": LAW, "version": VERSION, "citizen": who, "kind": kind,
                              "provider": provider, "amount": amount, "period": p,
                              "params": {kind + "_voucher": param_in_force(PARAMS, kind + "_voucher", on)}})
    return {"kind": kind, "amount": amount, "left": total - used - amount}


# ---------------------------------------------------------------- payouts
def benefit(who: str, period: int = 0) -> dict:
    """The cash benefit ``who`` is due for a period (0 = this month)."""
    p = period if period else period_of()
    rec = citizen(who)
    if rec is None:
        return {"kind": "none", "amount": 0, "paid": False}
    on = first_day(p)
    kind, amount = cash_benefit(rec, on, cash_rates(on))
    return {"kind": kind, "amount": amount, "paid": rec["paid"] >= p}


def cursor() -> dict:
    """Where the payout stands: the month being paid and the next index."""
    return storage.get("cursor", {"period": period_of(), "next": 0})


# Long by design: the statute's monthly pass in one readable piece: who may run it, the cursor, each citizen's payment, the batch's event.
def on_block() -> dict:
    """Pay the next batch of citizens (called by the node after every block).

    Bounded work: at most ``batch_size`` records are read, and at most that
    many transfers and writes made, whatever the size of the register.
    Each citizen is paid at most once a month: the record keeps the last
    period paid (see the module docstring for the cursor's rules).
    """
    if ctx.sender != ctx.this:
        allowed = False
        for role in ROLE_CRANK:
            if ctx.has_role(ctx.sender, role):
                allowed = True
        if not allowed:
            fail(E_NOT_AUTHORIZED, "on_block is run by the node (or a registrar/treasury by hand)")
    now = period_of()
    cur = storage.get("cursor", {"period": now, "next": 0})
    n = storage.get("n", 0)
    if cur["next"] >= n and cur["period"] < now:
        cur = {"period": cur["period"] + 1, "next": 0}
    period = cur["period"]
    start = cur["next"]
    if start >= n:
        if n == 0 and cur["period"] < now:
            cur = {"period": now, "next": 0}  # nobody to pay yet: the cursor keeps up with the calendar
            period = now
        if storage.get("cursor") != cur:
            storage.set("cursor", cur)
        return {"period": period, "paid": 0, "total": 0, "next": start, "done": True}
    on = first_day(period)
    stop = min(n, start + param("batch_size", on))
    rates = cash_rates(on)
    funds = ctx.balance(ctx.this)
    paid = 0
    total = 0
    i = start
    short = False
    while i < stop:
        rec = storage.get(f"c/{i}")
        if rec["paid"] < period:
            kind, amount = cash_benefit(rec, on, rates)
            if amount > 0 and ctx.account_kind(rec["address"]) == "":
                amount = 0  # the registrar has closed the account: skip, do not stall the others
            if amount > 0:
                if amount > funds:
                    short = True
                    break
                ctx.transfer(ctx.this, rec["address"], amount)
                funds -= amount
                rec["paid"] = period
                storage.set(f"c/{i}", rec)
                paid += 1
                total += amount
        i += 1
    cur["next"] = i
    storage.set("cursor", cur)
    emit("payout_batch", {"law": LAW, "version": VERSION, "period": period, "from": start, "to": i,
                          "paid": paid, "total": total,
                          "params": {"pension_monthly": param_in_force(PARAMS, "pension_monthly", on),
                                     "unemployment_relief_monthly": param_in_force(PARAMS, "unemployment_relief_monthly", on)}})
    if short:
        emit("underfunded", {"law": LAW, "version": VERSION, "period": period, "at": i, "balance": funds})
    return {"period": period, "paid": paid, "total": total, "next": i, "done": i >= n}
