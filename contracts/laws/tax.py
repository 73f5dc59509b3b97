"""Taxes: personal income tax, enterprise income tax, capital gains tax, and
the tax on inheritances and gifts.

Which policy this implements
----------------------------
1. **Individual income tax on a resident's comprehensive income** (PRC
   Individual Income Tax Law, 2018 amendment, in force 2019-01-01):
   the 7-bracket annual table of art. 3 and its attached Table 1, the
   60,000-yuan yearly basic deduction of art. 6(1)(1), and the cumulative
   withholding method for wages of the State Taxation Administration's
   Announcement 2018 No. 61 (*Measures for the Administration of IIT
   Withholding Declaration*, art. 6 and its Withholding Rate Table 1):

       cumulative taxable = cumulative income
                            - 5,000 yuan x months with this employer
                            - cumulative special, special additional
                              and other deductions
       this month's tax   = cumulative taxable x rate - quick deduction
                            - tax already withheld this year   (>= 0)

   An employer pays a wage through :func:`pay_wage`: the employee gets the
   net pay, the tax and the employee's social insurance go to the treasury,
   all in one transaction.  The employer's per-employee cumulative figures
   for the tax year are kept in storage.  The yearly reconciliation across
   several employers (annual settlement) is not automated here.
2. **Enterprise income tax** (PRC Enterprise Income Tax Law, art. 4 and 28;
   MOF/STA Announcement 2023 No. 12 for small low-profit enterprises):
   an enterprise declares its cumulative taxable profit of a tax year; the
   tax on it, less what it already paid that year, is collected.  The
   standard rate is 25 %; certified high-tech enterprises pay 15 %; small
   low-profit enterprises (certified, and with taxable income of at most
   3,000,000 yuan) count 25 % of their income and pay 20 % on it.  That
   limit is a **declared cliff**: one fen more of profit and the whole
   profit is taxed at the standard rate (it is the law's, not an error).
   The treasury (role ``treasury``) certifies categories per year.
3. **Capital gains** (IIT Law art. 3(3) and 6(1)(5)): property transfer
   income, proceeds less original value less reasonable expenses, at 20 %.
4. **Inheritance and gift tax**: the PRC levies none.  This is a **policy
   choice** of this ledger, not PRC law: a high, progressive ladder on the
   *lifetime cumulative* amount a person receives by gift or inheritance
   (so that splitting a gift does not lower the tax), withheld from the
   transfer.  The first 1,000,000 yuan are free; marginal rates rise to 80 %.

Money is an integer count of fen (1 yuan = 100 fen); rates are basis points
(1 % = 100 bps).  Every product of a rate and an amount is rounded once, to
the nearest fen, half up (the Chinese "四舍五入" to the fen), and nothing is
ever charged twice for a rounding.

Parameters
----------
``PARAMS`` below is the parameter table: for each name a label, a unit, a
legal reference and dated ``values``: ``((since, value), ...)`` where
``since`` is a date written as the integer YYYYMMDD from which the value
holds, in increasing order.  The schema is strict: ``check_params()``
reports any unknown parameter, unknown field, missing field, wrong unit,
badly typed value, or quick-deduction column that does not follow from the
marginal rates.  A law's value for a tax year is the one in force on the
first day of that year.

Collection
----------
Every tax is collected in the transaction that settles it, into the account
the treasury registered with :func:`set_treasury`, and every collection
emits a ``tax_collected`` event naming the law, its version, the kind of
tax, and the parameters used (name -> the ``since`` date of the value
applied, plus the rate where one rate applies).

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change).
"""

LAW = "tax"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, param, params_at, check_params, version (contracts/runtime/lawkit.py)

# ---------------------------------------------------------------- units
# Money is an integer count of fen; rates are integer basis points.
FEN = 1
YUAN = 100 * FEN
BP = 1  # one basis point: 0.01 %
PERCENT = 100 * BP
ALL = 100 * PERCENT  # 10,000 bps: the whole of an amount

ROUNDING = "half_up"
ROLE_TREASURY = "treasury"
EIT_CATEGORIES = ("standard", "small_low_profit", "high_tech")
TRANSFER_KINDS = ("gift", "inheritance")

# Error codes of this law (the detail text is for people; the code is stable).
E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_NO_TREASURY = 3
E_NO_PARAMETER = 4  # raised by the library's param_value / param_in_force (always 4)
E_BAD_YEAR = 5
E_ALREADY_PAID = 6  # pay_wage with a payment_id this employer already used

# ---------------------------------------------------------------- parameters
# kind and unit of every parameter: check_params() refuses anything else.
SCHEMA = {
    "iit_brackets": ("brackets", "fen; bps; fen"),
    "iit_basic_deduction_annual": ("money", "fen/year"),
    "iit_basic_deduction_monthly": ("money", "fen/month"),
    "eit_standard_rate": ("bps", "bps"),
    "eit_high_tech_rate": ("bps", "bps"),
    "eit_small_low_profit_rate": ("bps", "bps"),
    "eit_small_low_profit_base": ("bps", "bps"),
    "eit_small_low_profit_limit": ("money", "fen/year"),
    "capital_gains_rate": ("bps", "bps"),
    "transfer_tax_ladder": ("ladder", "fen; bps"),
}

PARAMS = {
    "iit_brackets": {
        "label": "Comprehensive income tax table: (upper bound of annual taxable income or None, rate, quick deduction)",
        "unit": "fen; bps; fen",
        "reference": "PRC Individual Income Tax Law (2018 amendment) art. 3(1) and Table 1; STA Announcement 2018 No. 61, Withholding Rate Table 1",
        "values": (
            (20190101, (
                (36_000 * YUAN, 3 * PERCENT, 0),
                (144_000 * YUAN, 10 * PERCENT, 2_520 * YUAN),
                (300_000 * YUAN, 20 * PERCENT, 16_920 * YUAN),
                (420_000 * YUAN, 25 * PERCENT, 31_920 * YUAN),
                (660_000 * YUAN, 30 * PERCENT, 52_920 * YUAN),
                (960_000 * YUAN, 35 * PERCENT, 85_920 * YUAN),
                (None, 45 * PERCENT, 181_920 * YUAN),
            )),
        ),
    },
    "iit_basic_deduction_annual": {
        "label": "Basic deduction from comprehensive income, per year",
        "unit": "fen/year",
        "reference": "PRC Individual Income Tax Law (2018 amendment) art. 6(1)(1)",
        "values": ((20190101, 60_000 * YUAN),),
    },
    "iit_basic_deduction_monthly": {
        "label": "Basic deduction per month in the cumulative withholding of wages",
        "unit": "fen/month",
        "reference": "STA Announcement 2018 No. 61, art. 6",
        "values": ((20190101, 5_000 * YUAN),),
    },
    "eit_standard_rate": {
        "label": "Enterprise income tax, standard rate",
        "unit": "bps",
        "reference": "PRC Enterprise Income Tax Law art. 4",
        "values": ((20080101, 25 * PERCENT),),
    },
    "eit_high_tech_rate": {
        "label": "Enterprise income tax, certified high and new technology enterprises",
        "unit": "bps",
        "reference": "PRC Enterprise Income Tax Law art. 28(2)",
        "values": ((20080101, 15 * PERCENT),),
    },
    "eit_small_low_profit_rate": {
        "label": "Enterprise income tax, small low-profit enterprises",
        "unit": "bps",
        "reference": "PRC Enterprise Income Tax Law art. 28(1)",
        "values": ((20080101, 20 * PERCENT),),
    },
    "eit_small_low_profit_base": {
        "label": "Share of a small low-profit enterprise's taxable income that is taxed",
        "unit": "bps",
        "reference": "MOF/STA Announcement 2023 No. 12, art. 3 (25 % of taxable income, 2023-01-01 to 2027-12-31)",
        "values": ((20080101, ALL), (20230101, 25 * PERCENT), (20280101, ALL)),
    },
    "eit_small_low_profit_limit": {
        "label": "Highest annual taxable income of a small low-profit enterprise (above it: the standard rate on all of it)",
        "unit": "fen/year",
        "reference": "MOF/STA Announcement 2023 No. 12 (3,000,000 yuan)",
        "values": ((20080101, 3_000_000 * YUAN),),
    },
    "capital_gains_rate": {
        "label": "Tax on property transfer income (proceeds - original value - reasonable expenses)",
        "unit": "bps",
        "reference": "PRC Individual Income Tax Law art. 3(3), art. 6(1)(5)",
        "values": ((20190101, 20 * PERCENT),),
    },
    "transfer_tax_ladder": {
        "label": "Inheritance and gift tax on lifetime cumulative receipts: (upper bound or None, marginal rate); a policy choice, the PRC has no such tax",
        "unit": "fen; bps",
        "reference": "esoc policy (no PRC statute); ladder shape after Japan's Inheritance Tax Act art. 16 (10 %-55 %), set higher",
        "values": (
            (20250101, (
                (1_000_000 * YUAN, 0),
                (5_000_000 * YUAN, 20 * PERCENT),
                (20_000_000 * YUAN, 40 * PERCENT),
                (100_000_000 * YUAN, 60 * PERCENT),
                (None, 80 * PERCENT),
            )),
        ),
    },
}

ENTRIES = ("set_treasury", "certify", "pay_wage", "declare_profit", "declare_disposal", "give", "inherit")
VIEWS = (
    "annual_tax", "withholding", "enterprise_tax", "capital_gains_tax", "transfer_tax",
    "param", "params_at", "check_params", "treasury", "wage_record", "profit_record",
    "category", "received", "version", "payment",
)


# ---------------------------------------------------------------- dates and parameters
def jan_1(year: int) -> int:
    """1 January of ``year`` as YYYYMMDD: a tax year's parameters are those in force that day."""
    return year * 10000 + 101


def tax_year(year: int) -> int:
    """``year``, or the block's year when ``year`` is 0."""
    if year == 0:
        return date_of(ctx.time)[0]
    if not is_int(year) or year < 1900 or year > 9999:
        fail(E_BAD_YEAR, "year out of range")
    return year


def is_seq(x) -> bool:
    return is_list(x) or is_tuple(x)


def value_error(kind: str, v) -> str:
    """Why ``v`` is not a valid value of ``kind`` ("" if it is)."""
    if kind == "money":
        return "" if is_int(v) and v >= 0 else "must be an int >= 0 (fen)"
    if kind == "bps":
        return "" if is_int(v) and 0 <= v <= ALL else "must be an int in 0..10000 (bps)"
    if kind == "brackets" or kind == "ladder":
        width = 3 if kind == "brackets" else 2
        if not is_seq(v) or len(v) == 0:
            return "must be a non-empty table"
        lower = 0
        last_rate = 0
        last_qd = 0
        for i, row in enumerate(v):
            if not is_seq(row) or len(row) != width:
                return "each row must have " + str(width) + " items"
            upper = row[0]
            rate = row[1]
            final = i == len(v) - 1
            if final and upper is not None:
                return "the last row's upper bound must be None"
            if not final and (not is_int(upper) or upper <= lower):
                return "upper bounds must be increasing ints"
            if not is_int(rate) or rate < last_rate or rate >= ALL:
                return "rates must be non-decreasing ints below 10000 bps"
            if kind == "brackets":
                qd = row[2]
                # the quick deduction follows from the marginal rates, exactly
                want = last_qd * ALL + lower * (rate - last_rate)
                if not is_int(qd) or qd * ALL != want:
                    return "quick deduction of row " + str(i) + " must be " + str(want // ALL)
                last_qd = qd
            last_rate = rate
            if not final:
                lower = upper
        return ""
    return "unknown kind"


# ---------------------------------------------------------------- pure computations
def progressive(taxable: int, table: list) -> int:
    """Tax by the quick-deduction method: taxable x rate - quick deduction.

    IIT Law (2018) art. 3(1) and its Table 1: the rate of the bracket that
    ``taxable`` falls in, less that bracket's quick deduction, which equals
    taxing each slice at its own marginal rate.
    """
    if taxable <= 0:
        return 0
    for upper, rate, quick in table:
        if upper is None or taxable <= upper:
            return mul_div(taxable, rate, ALL, ROUNDING) - quick
    return 0  # unreachable: the last row has no upper bound


def marginal(taxable: int, ladder: list) -> int:
    """Tax on ``taxable`` with each slice at its own rate, rounded once.

    The inheritance and gift ladder (``transfer_tax_ladder``; esoc policy):
    the slice of the amount between two bounds pays that slice's rate.
    """
    if taxable <= 0:
        return 0
    scaled = 0  # tax x ALL, exact
    lower = 0
    for upper, rate in ladder:
        top = taxable if upper is None or taxable < upper else upper
        if top > lower:
            scaled += (top - lower) * rate
        if upper is None or taxable <= upper:
            break
        lower = upper
    return div_round(scaled, ALL, ROUNDING)


def annual_tax(taxable_income: int, year: int = 0) -> int:
    """Tax on a year's taxable comprehensive income (fen), after all deductions.

    IIT Law (2018) art. 3(1), art. 6(1)(1) and Table 1: the 7-bracket table in
    force on 1 January of the tax year, by the quick-deduction method.

    Official worked example: taxable income 100,000 yuan is taxed
    100,000 x 10 % - 2,520 = 7,480 yuan.
    """
    if not is_int(taxable_income):
        fail(E_BAD_ARGUMENT, "taxable_income must be an int (fen)")
    on = jan_1(tax_year(year))
    return progressive(taxable_income, param("iit_brackets", on))


def withholding(month: int, cumulative_income: int, cumulative_deductions: int,
                withheld_so_far: int, year: int = 0) -> int:
    """Tax to withhold from this month's wage by the cumulative method.

    STA Announcement 2018 No. 61, art. 6 and Withholding Rate Table 1:
    cumulative taxable = cumulative income - 5,000 yuan x months - cumulative
    deductions; tax = table(cumulative taxable) - tax withheld so far.

    ``month`` is the number of months of employment with this employer in
    the tax year so far, this one included (1..12); ``cumulative_deductions``
    are the year's special, special additional and other deductions so far,
    *without* the basic deduction, which is applied here (5,000 yuan x month).
    The result is never negative: an excess withheld earlier waits for the
    annual settlement.
    """
    if not is_int(month) or month < 1 or month > 12:
        fail(E_BAD_ARGUMENT, "month must be 1..12")
    for x in (cumulative_income, cumulative_deductions, withheld_so_far):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "amounts must be ints >= 0 (fen)")
    on = jan_1(tax_year(year))
    basic = param("iit_basic_deduction_monthly", on) * month
    taxable = cumulative_income - basic - cumulative_deductions
    due = progressive(taxable, param("iit_brackets", on)) - withheld_so_far
    return due if due > 0 else 0


def enterprise_tax(taxable_profit: int, category: str = "standard", year: int = 0) -> int:
    """Enterprise income tax on a year's taxable profit for a category.

    EIT Law art. 4 (standard rate), art. 28(2) (certified high and new
    technology enterprises), art. 28(1) with MOF/STA Announcement 2023 No. 12
    art. 3 (small low-profit enterprises: a share of the profit taxed at their
    rate, up to the limit; above it, the standard rate on the whole profit).
    """
    if not is_int(taxable_profit):
        fail(E_BAD_ARGUMENT, "taxable_profit must be an int (fen)")
    if category not in EIT_CATEGORIES:
        fail(E_BAD_ARGUMENT, "unknown category")
    if taxable_profit <= 0:
        return 0
    on = jan_1(tax_year(year))
    rate = param("eit_standard_rate", on)
    if category == "high_tech":
        rate = param("eit_high_tech_rate", on)
    if category == "small_low_profit" and taxable_profit <= param("eit_small_low_profit_limit", on):
        base = param("eit_small_low_profit_base", on)
        return mul_div(taxable_profit, base * param("eit_small_low_profit_rate", on), ALL * ALL, ROUNDING)
    return mul_div(taxable_profit, rate, ALL, ROUNDING)


def capital_gains_tax(proceeds: int, cost: int, expenses: int = 0, year: int = 0) -> int:
    """Tax on a disposal: (proceeds - original value - reasonable expenses) x rate.

    IIT Law art. 3(3) (20 % on property transfer income) and art. 6(1)(5)
    (the income is the proceeds less the original value and reasonable expenses).
    """
    for x in (proceeds, cost, expenses):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "amounts must be ints >= 0 (fen)")
    gain = proceeds - cost - expenses
    if gain <= 0:
        return 0
    on = jan_1(tax_year(year))
    return mul_div(gain, param("capital_gains_rate", on), ALL, ROUNDING)


def transfer_tax(amount: int, received_before: int = 0, year: int = 0) -> int:
    """Inheritance/gift tax on ``amount`` for someone who already received
    ``received_before`` by gift or inheritance in their life.

    esoc policy (no PRC statute): the ladder applies to lifetime cumulative
    receipts, so the tax is ladder(before + amount) - ladder(before) and
    splitting a gift never lowers it.
    """
    for x in (amount, received_before):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "amounts must be ints >= 0 (fen)")
    on = jan_1(tax_year(year))
    ladder = param("transfer_tax_ladder", on)
    return marginal(received_before + amount, ladder) - marginal(received_before, ladder)


# ---------------------------------------------------------------- collection
def treasury() -> str | None:
    """The account taxes are paid into (set by the treasury)."""
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


def collect(payer: str, amount: int, kind: str, used: dict, extra: dict) -> None:
    """Move ``amount`` from ``payer`` to the treasury and say so in the receipt."""
    to = treasury_account()
    if to is None:
        fail(E_NO_TREASURY, "the treasury has not named its account")
    if amount > 0:
        ctx.transfer(payer, to, amount)
    data = {"law": LAW, "version": VERSION, "kind": kind, "payer": payer, "amount": amount,
            "treasury": to, "params": used}
    data.update(extra)
    emit("tax_collected", data)


def used_params(names: tuple, on: int) -> dict:
    """name -> since-date of the value applied (what a receipt cites)."""
    return {n: param_in_force(PARAMS, n, on)[0] for n in names}


def wage_key(year: int, employer: str, employee: str) -> str:
    return f"w/{year}/{employer}/{employee}"


def wage_record(employer: str, employee: str, year: int = 0) -> dict:
    """An employee's cumulative figures with an employer for a tax year."""
    return storage.get(wage_key(tax_year(year), employer, employee),
                       {"months": 0, "last_month": 0, "income": 0, "deductions": 0, "withheld": 0})


def payment_key(employer: str, payment_id: str) -> str:
    return f"p/{employer}/{payment_id}"


def payment(employer: str, payment_id: str):
    """The result of an employer's wage payment with this ``payment_id`` (None if never made)."""
    return storage.get(payment_key(employer, payment_id))


# Long by design: the withholding statute's steps in order (checks, cumulative record, tax, transfers, events), as a legislator reads them.
def pay_wage(employee: str, gross: int, social_insurance: int = 0,
             special_additional: int = 0, other_deductions: int = 0, payment_id: str = "") -> dict:
    """Pay ``gross`` wage to ``employee``, withholding the tax in the same transaction.

    The sender is the employer.  ``social_insurance`` is the employee's
    share of social insurance and housing fund (a special deduction, paid
    over to the treasury with the tax); ``special_additional`` the month's
    special additional deductions (children's education, elderly support,
    ...); ``other_deductions`` any other deduction allowed by law.  Several
    payments in one calendar month count as one month.  A ``payment_id``
    (an employer's idempotency key, e.g. a payroll row's) makes the payment
    happen at most once: a second one with the same id is refused
    (``E_ALREADY_PAID``) and ``payment(employer, id)`` shows the first.

    STA Announcement 2018 No. 61, art. 6: the employer withholds monthly by
    the cumulative method (:func:`withholding`) and pays the tax over; IIT
    Law art. 6(1)(1) and art. 6(2) for the deductions.
    """
    employer = ctx.sender
    if not is_str(payment_id) or len(payment_id) > 64:
        fail(E_BAD_ARGUMENT, "payment_id must be a string of at most 64 characters")
    if payment_id != "" and storage.get(payment_key(employer, payment_id)) is not None:
        fail(E_ALREADY_PAID, f"payment {payment_id} was already made by this employer")
    if not is_str(employee) or employee == "" or employee == employer:
        fail(E_BAD_ARGUMENT, "employee must be another account")
    for x in (gross, social_insurance, special_additional, other_deductions):
        if not is_int(x) or x < 0:
            fail(E_BAD_ARGUMENT, "amounts must be ints >= 0 (fen)")
    if social_insurance > gross:
        fail(E_BAD_ARGUMENT, "social insurance exceeds the gross wage")
    ymd = date_of(ctx.time)
    year = ymd[0]
    key = wage_key(year, employer, employee)
    rec = storage.get(key, {"months": 0, "last_month": 0, "income": 0, "deductions": 0, "withheld": 0})
    if rec["last_month"] != ymd[1]:
        rec["months"] += 1
        rec["last_month"] = ymd[1]
    rec["income"] += gross
    rec["deductions"] += social_insurance + special_additional + other_deductions
    tax = withholding(rec["months"], rec["income"], rec["deductions"], rec["withheld"], year)
    if tax + social_insurance > gross:
        fail(E_BAD_ARGUMENT, "tax and social insurance exceed the gross wage")
    rec["withheld"] += tax
    storage.set(key, rec)
    net = gross - tax - social_insurance
    if net > 0:
        ctx.transfer(employer, employee, net)
    on = jan_1(year)
    collect(employer, tax, "iit_wage", used_params(("iit_brackets", "iit_basic_deduction_monthly"), on),
            {"employee": employee, "year": year, "month": rec["months"], "gross": gross,
             "cumulative_income": rec["income"], "cumulative_deductions": rec["deductions"],
             "withheld_to_date": rec["withheld"]})
    if social_insurance > 0:
        to = treasury_account()
        ctx.transfer(employer, to, social_insurance)
        emit("social_insurance_paid", {"law": LAW, "version": VERSION, "employer": employer,
                                       "employee": employee, "amount": social_insurance})
    result = {"tax": tax, "net": net, "social_insurance": social_insurance, "month": rec["months"],
              "withheld_to_date": rec["withheld"]}
    if payment_id != "":
        storage.set(payment_key(employer, payment_id), {"employee": employee, "gross": gross, "tax": tax, "net": net,
                                                        "height": ctx.height})
    return result


def category(enterprise: str, year: int = 0) -> str:
    """The enterprise income tax category certified for ``enterprise`` in ``year``."""
    return storage.get(f"cat/{tax_year(year)}/{enterprise}", "standard")


def certify(enterprise: str, year: int, category: str) -> None:
    """The treasury certifies an enterprise's category for a tax year."""
    if not ctx.has_role(ctx.sender, ROLE_TREASURY):
        fail(E_NOT_AUTHORIZED, "only the treasury certifies enterprise categories")
    if category not in EIT_CATEGORIES:
        fail(E_BAD_ARGUMENT, "unknown category")
    y = tax_year(year)
    storage.set(f"cat/{y}/{enterprise}", category)
    emit("category_certified", {"law": LAW, "version": VERSION, "enterprise": enterprise,
                                "year": y, "category": category})


def profit_record(enterprise: str, year: int = 0) -> dict:
    return storage.get(f"eit/{tax_year(year)}/{enterprise}", {"profit": 0, "paid": 0})


def declare_profit(year: int, cumulative_profit: int) -> dict:
    """An enterprise (the sender) declares its taxable profit of ``year`` so far
    and pays the tax on it less what it already paid for that year.

    EIT Law art. 54 (provisional payments during the year, settled against
    the year's tax): never negative; an overpayment waits for the annual
    settlement.
    """
    y = tax_year(year)
    if y > date_of(ctx.time)[0]:
        fail(E_BAD_YEAR, "cannot declare for a future year")
    if not is_int(cumulative_profit):
        fail(E_BAD_ARGUMENT, "cumulative_profit must be an int (fen)")
    who = ctx.sender
    key = f"eit/{y}/{who}"
    rec = storage.get(key, {"profit": 0, "paid": 0})
    cat = storage.get(f"cat/{y}/{who}", "standard")
    total = enterprise_tax(cumulative_profit, cat, y)
    due = total - rec["paid"]
    if due < 0:
        due = 0
    rec["profit"] = cumulative_profit
    rec["paid"] += due
    storage.set(key, rec)
    on = jan_1(y)
    names = ("eit_standard_rate",)
    if cat == "high_tech":
        names = ("eit_high_tech_rate",)
    if cat == "small_low_profit":
        names = ("eit_standard_rate", "eit_small_low_profit_rate", "eit_small_low_profit_base",
                 "eit_small_low_profit_limit")
    collect(who, due, "eit", used_params(names, on),
            {"year": y, "category": cat, "cumulative_profit": cumulative_profit, "tax_for_year": total,
             "paid_to_date": rec["paid"]})
    return {"tax": due, "tax_for_year": total, "category": cat, "paid_to_date": rec["paid"]}


def declare_disposal(asset: str, proceeds: int, cost: int, expenses: int = 0) -> dict:
    """The sender declares the disposal of ``asset`` and pays the capital gains tax.

    IIT Law art. 3(3), 6(1)(5) (see :func:`capital_gains_tax`).
    """
    if not is_str(asset) or len(asset) == 0 or len(asset) > 128:
        fail(E_BAD_ARGUMENT, "asset must be a description of 1..128 characters")
    tax = capital_gains_tax(proceeds, cost, expenses)
    y = date_of(ctx.time)[0]
    on = jan_1(y)
    collect(ctx.sender, tax, "capital_gains", used_params(("capital_gains_rate",), on),
            {"asset": asset, "proceeds": proceeds, "cost": cost, "expenses": expenses,
             "rate_bps": param("capital_gains_rate", on)})
    return {"tax": tax, "gain": proceeds - cost - expenses}


def received(who: str) -> int:
    """Lifetime amount ``who`` received by gift or inheritance (before tax)."""
    return storage.get(f"recv/{who}", 0)


def settle_transfer(kind: str, recipient: str, amount: int) -> dict:
    """Withhold the inheritance or gift tax (esoc policy) from a transfer and pay the rest.

    The recipient's lifetime receipts grow by the gross amount; the tax is
    :func:`transfer_tax` on them.
    """
    if not is_str(recipient) or recipient == "" or recipient == ctx.sender:
        fail(E_BAD_ARGUMENT, "recipient must be another account")
    if not is_int(amount) or amount <= 0:
        fail(E_BAD_ARGUMENT, "amount must be a positive int (fen)")
    key = f"recv/{recipient}"
    before = storage.get(key, 0)
    tax = transfer_tax(amount, before)
    storage.set(key, before + amount)
    if amount - tax > 0:
        ctx.transfer(ctx.sender, recipient, amount - tax)
    on = jan_1(date_of(ctx.time)[0])
    collect(ctx.sender, tax, kind, used_params(("transfer_tax_ladder",), on),
            {"recipient": recipient, "gross": amount, "received_before": before})
    return {"tax": tax, "net": amount - tax, "received_to_date": before + amount}


def give(recipient: str, amount: int) -> dict:
    """A gift of ``amount`` from the sender; the tax is withheld from it."""
    return settle_transfer("gift", recipient, amount)


def inherit(heir: str, amount: int) -> dict:
    """A transfer from an estate (the sender) to an heir; the tax is withheld."""
    return settle_transfer("inheritance", heir, amount)
