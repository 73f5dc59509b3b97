"""Tiny example laws for the runtime tests (the real laws live in contracts/laws/)."""

INCOME_TAX = '''\
"""Progressive income tax (example law for the runtime tests).

Income and tax are integers in fen; rates are in basis points.
"""

BRACKETS = (
    (0, 0),
    (500_000, 300),
    (1_200_000, 1000),
    (2_500_000, 2000),
    (3_500_000, 2500),
    (5_500_000, 3000),
    (8_000_000, 3500),
)
TREASURY = "treasury"

ENTRIES = ("pay",)
VIEWS = ("tax_due", "paid")


def tax_due(income: int) -> int:
    """Tax on a yearly income: each slice taxed at its own rate, rounded down."""
    assert income >= 0, "income must not be negative"
    tax = 0
    n = len(BRACKETS)
    for i in range(n):
        lower, rate = BRACKETS[i]
        if income <= lower:
            break
        upper = BRACKETS[i + 1][0] if i + 1 < n else income
        tax += bps_of(min(income, upper) - lower, rate)
    return tax


def pay(income: int) -> int:
    due = tax_due(income)
    if due > 0:
        ctx.transfer(ctx.sender, ctx.address_of(TREASURY), due)
    key = f"paid/{ctx.sender}"
    storage.set(key, storage.get(key, 0) + due)
    emit("tax_paid", {"payer": ctx.sender, "income": income, "tax": due, "height": ctx.height})
    return due


def paid(who: str) -> int:
    return storage.get(f"paid/{who}", 0)
'''

WELFARE = '''\
"""Welfare top-up (example): pays citizens below a floor, funded by the law's account."""

FLOOR = 300_000
ENTRIES = ("claim", "register")
VIEWS = ("owed",)


def owed(income: int) -> int:
    tax = call("income_tax", "tax_due", {"income": income})
    net = income - tax
    return FLOOR - net if net < FLOOR else 0


def register(who: str) -> None:
    if not ctx.has_role(ctx.sender, "registrar"):
        fail(1, "only the registrar registers")
    people = storage.get("people", [])
    if who in people:
        fail(2, "already registered")
    people.append(who)
    storage.set("people", people)


def claim(income: int) -> int:
    if ctx.sender not in storage.get("people", []):
        fail(3, "not registered")
    amount = owed(income)
    if amount:
        ctx.transfer(ctx.this, ctx.sender, amount)
        emit("paid", {"to": ctx.sender, "amount": amount})
    return amount
'''

WORKLOAD = '''\
"""Exercises ordering, strings, money and dates (determinism cross-check)."""

ENTRIES = ("work",)
VIEWS = ("view",)
NAMES = ("zoe", "adam", "mia", "bob", "\u00e9lodie", "carl", "dora", "eve", "femi", "gus")


def score(name: str) -> int:
    return len(name) * 7


def work(seed: int) -> dict:
    d = {}
    for i, n in enumerate(NAMES):
        d[n + str(i)] = (seed * (i + 3)) % 97
    ranked = sorted(d.items(), key=by_value)
    words = " ".join([k for k, v in ranked])
    money = [mul_div(seed * 1000 + i, 7, 3, r) for i, r in enumerate(("down", "up", "half_even", "half_up", "floor", "ceiling", "half_down"))]
    out = {
        "order": list(d.keys()),
        "ranked": [k for k, v in ranked],
        "words": words.upper() if words.isascii() else words,
        "split": words.split(" ")[:3],
        "money": money,
        "date": date_of(ctx.time),
        "fmt": f"{seed} {len(words)} {True} {None}",
        "pct": percent_of(seed, 33, "half_up"),
        "pow": 3 ** 200 % 1_000_003,
        "draw": draw(digest("seed"), "lottery", 1000),
        "eq": [[1, [2]], {"a": (1,)}] == [[1, [2]], {"a": [1]}],
    }
    for k in sorted(d):
        storage.set("k/" + k, d[k])
    emit("done", {"n": len(d)})
    return out


def by_value(item):
    return (item[1], item[0])


def view(n: int) -> list:
    return [x * x for x in range(n) if x % 3]
'''
