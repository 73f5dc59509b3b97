"""Service work orders: a ticket to an agency, a timed response, escalation,
overdue marking on chain, the opener's rating, and public performance.

Which policy this implements
----------------------------
A registered citizen or enterprise opens a ticket (``open_ticket``) to an agency
(an account of kind ``agency``) with a *kind*; each kind has a response
deadline in blocks (``deadline_blocks``, a dated parameter; after Open311's
``expected_datetime``).  The agency, or an official it has named
(``name_official``), responds (``respond``) or escalates the ticket to
another agency (``escalate``: the deadline starts again there).  At the end
of the block after a ticket's deadline, if it is still unanswered, the law's
``on_block`` marks it **overdue** on chain (bounded work: it looks only at
the tickets due at that height, at most ``MAX_DUE_PER_HEIGHT`` of them).
A late response is still recorded, and the ticket stays counted overdue.
The opener rates a response from 1 to 5 (``rate``), once.

Performance per agency and per official is public (``stats``): tickets
opened, responded, overdue, escalated, the sum of response times in blocks
(mean = sum / responded) and the ratings (mean = sum / count).
"""

LAW = "tickets"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, version (contracts/runtime/lawkit.py)

MAX_TEXT = 1000
MAX_DUE_PER_HEIGHT = 64
MAX_OPEN_PER_ACCOUNT = 20

E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_STATE = 3
E_NO_PARAMETER = 4
E_FULL = 5

PARAMS = {
    "deadline_blocks": {"label": "Response deadline per ticket kind", "unit": "blocks",
                        "reference": "Open311 GeoReport v2 expected_datetime; esoc policy",
                        "values": ((20200101, {"permit": 200, "complaint": 100, "repair": 300, "information": 50}),)},
}

ENTRIES = ("open_ticket", "respond", "escalate", "rate", "name_official", "on_block")
VIEWS = ("ticket", "stats", "list_for", "kinds", "version")


def need(cond, code: int, detail: str) -> None:
    if not cond:
        fail(code, detail)


def kinds() -> dict:
    """Ticket kinds and their response deadlines in blocks."""
    return param_value(PARAMS, "deadline_blocks", today())


def blank() -> dict:
    return {"opened": 0, "responded": 0, "overdue": 0, "escalated": 0, "response_blocks": 0,
            "ratings": 0, "rating_sum": 0}


def bump(who: str, field: str, by: int) -> None:
    s = storage.get("stats:" + who, blank())
    s[field] = s[field] + by
    storage.set("stats:" + who, s)


def stats(account: str) -> dict:
    """Performance of an agency or an official."""
    return storage.get("stats:" + account, blank())


def schedule(tid: int, due: int) -> None:
    key = "due:" + str(due)
    q = storage.get(key, [])
    need(len(q) < MAX_DUE_PER_HEIGHT, E_FULL, "too many tickets due at that height; try again next block")
    q.append(tid)
    storage.set(key, q)


def open_ticket(agency: str, kind: str, text: str) -> int:
    """Open a ticket to ``agency``; returns its id."""
    k = ctx.account_kind(ctx.sender)
    need(k == "citizen" or k == "enterprise", E_NOT_AUTHORIZED, "citizens and enterprises open tickets")
    need(ctx.account_kind(agency) == "agency", E_BAD_ARGUMENT, "tickets go to an agency")
    table = kinds()
    need(kind in table, E_BAD_ARGUMENT, "unknown kind; see kinds()")
    need(is_str(text) and 0 < len(text) <= MAX_TEXT, E_BAD_ARGUMENT, "text: 1..1000 characters")
    mine = storage.get("by:" + ctx.sender, [])
    open_now = [t for t in mine if storage.get("t:" + str(t))["status"] in ("open", "overdue")]
    need(len(open_now) < MAX_OPEN_PER_ACCOUNT, E_FULL, "too many open tickets")
    tid = storage.get("next", 1)
    storage.set("next", tid + 1)
    due = ctx.height + table[kind]
    t = {"id": tid, "opener": ctx.sender, "agency": agency, "kind": kind, "text": text, "opened": ctx.height,
         "due": due, "status": "open", "overdue": False, "response": "", "responded_at": 0, "by": "",
         "history": [], "rating": 0}
    schedule(tid, due)
    storage.set("t:" + str(tid), t)
    mine.append(tid)
    storage.set("by:" + ctx.sender, mine[-100:])
    bump(agency, "opened", 1)
    emit("ticket_opened", {"id": tid, "agency": agency, "kind": kind, "due": due})
    return tid


def get(tid) -> dict:
    need(is_int(tid), E_BAD_ARGUMENT, "id must be an int")
    t = storage.get("t:" + str(tid))
    need(t is not None, E_BAD_ARGUMENT, "no such ticket")
    return t


def ticket(id: int) -> dict:
    """One ticket."""
    return get(id)


def list_for(account: str) -> list:
    """The tickets an account opened (its last 100)."""
    return [storage.get("t:" + str(t)) for t in storage.get("by:" + account, [])]


def name_official(official: str, on: bool) -> None:
    """An agency names (or removes) an official who may respond for it."""
    need(ctx.account_kind(ctx.sender) == "agency", E_NOT_AUTHORIZED, "only an agency names its officials")
    key = "official:" + ctx.sender + ":" + official
    if on:
        storage.set(key, True)
    else:
        storage.delete(key)
    emit("official", {"agency": ctx.sender, "official": official, "on": on})


def may_act(t: dict) -> bool:
    return ctx.sender == t["agency"] or storage.get("official:" + t["agency"] + ":" + ctx.sender, False)


def respond(id: int, text: str) -> dict:
    """The agency or one of its officials responds to an open or overdue ticket."""
    t = get(id)
    need(may_act(t), E_NOT_AUTHORIZED, "only the agency or its officials respond")
    need(t["status"] == "open" or t["status"] == "overdue", E_STATE, "the ticket is not open")
    need(is_str(text) and 0 < len(text) <= MAX_TEXT, E_BAD_ARGUMENT, "text: 1..1000 characters")
    took = ctx.height - t["opened"]
    t["status"] = "responded"
    t["response"] = text
    t["responded_at"] = ctx.height
    t["by"] = ctx.sender
    storage.set("t:" + str(id), t)
    bump(t["agency"], "responded", 1)
    bump(t["agency"], "response_blocks", took)
    if ctx.sender != t["agency"]:
        bump(ctx.sender, "responded", 1)
        bump(ctx.sender, "response_blocks", took)
    emit("ticket_responded", {"id": id, "by": ctx.sender, "blocks": took, "late": t["overdue"]})
    return t


def escalate(id: int, to: str) -> dict:
    """Pass an open ticket to another agency; the deadline starts again."""
    t = get(id)
    need(may_act(t), E_NOT_AUTHORIZED, "only the agency or its officials escalate")
    need(t["status"] == "open" or t["status"] == "overdue", E_STATE, "the ticket is not open")
    need(ctx.account_kind(to) == "agency" and to != t["agency"], E_BAD_ARGUMENT, "escalate to another agency")
    bump(t["agency"], "escalated", 1)
    t["history"].append([t["agency"], ctx.height])
    t["agency"] = to
    t["status"] = "open"
    t["due"] = ctx.height + kinds()[t["kind"]]
    schedule(id, t["due"])
    storage.set("t:" + str(id), t)
    bump(to, "opened", 1)
    emit("ticket_escalated", {"id": id, "to": to, "due": t["due"]})
    return t


def rate(id: int, stars: int) -> None:
    """The opener rates a response 1..5, once."""
    t = get(id)
    need(ctx.sender == t["opener"], E_NOT_AUTHORIZED, "only the opener rates")
    need(t["status"] == "responded" and t["rating"] == 0, E_STATE, "rate a response, once")
    need(is_int(stars) and 1 <= stars <= 5, E_BAD_ARGUMENT, "stars: 1..5")
    t["rating"] = stars
    storage.set("t:" + str(id), t)
    bump(t["agency"], "ratings", 1)
    bump(t["agency"], "rating_sum", stars)
    if t["by"] != t["agency"]:
        bump(t["by"], "ratings", 1)
        bump(t["by"], "rating_sum", stars)
    emit("ticket_rated", {"id": id, "stars": stars})


def on_block() -> None:
    """Mark overdue the unanswered tickets whose deadline was the previous height.

    Only the chain's end-of-block hook runs it (its sender is this law's own account)."""
    need(ctx.sender == ctx.this, E_NOT_AUTHORIZED, "on_block runs only as the chain's block hook")
    key = "due:" + str(ctx.height - 1)
    q = storage.get(key)
    if q is None:
        return
    for tid in q:
        t = storage.get("t:" + str(tid))
        if t["status"] == "open" and t["due"] == ctx.height - 1:
            t["status"] = "overdue"
            t["overdue"] = True
            storage.set("t:" + str(tid), t)
            bump(t["agency"], "overdue", 1)
            emit("ticket_overdue", {"id": tid, "agency": t["agency"]})
    storage.delete(key)
