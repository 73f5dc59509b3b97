"""Congress: constituencies, direct election without lists, proposals, votes
that constituents can void, pilot-tested amendments, enactment, recall.

Which policy this implements (docs/governance.md gives every rule with its
numbers and its reference)
-----------------------------------------------------------------------
Constituencies
    The registrar records which constituency each citizen belongs to
    (``assign``); a constituency's *members* are its registered citizens.
    Seats are apportioned to constituencies in proportion to their members
    by the **Sainte-Laguë** highest-averages method (divisors 1, 3, 5, ...):
    it is unbiased between large and small constituencies, where D'Hondt
    favours the large, and it has no Alabama paradox, which largest
    remainder has.  A tie between averages goes to the constituency with
    more members, then to the smaller id.
Election (``elect_open`` / ``ballot`` / ``elect_close``)
    No lists and no nominations: any member of the constituency can receive
    votes.  Each member casts one ballot per election, in public (ballots
    are public on this ledger, and the ``ballot`` event shows each ballot's
    effect on the tally).  The seats go to the most voted; a tie is broken
    by ``draw(beacon(closes), candidate)``, the beacon of the block that
    closed the election, which nobody knew while ballots were open.  Terms
    end at ``elected height + term_blocks``.
Proposals (``propose``)
    Classes ``amend`` (a law's new source, or a new law), ``params`` (a new
    source of the law with new dated values), ``role`` (grant or revoke a
    role: this replaces the registrar's unilateral ``set_role``),
    ``validator`` (a validator-set change), ``text`` (signalling) and
    ``cancel`` (cancel an accepted decision before its activation).  A
    sitting delegate submits directly; anyone else's proposal first gathers
    co-signatures (``cosign``) from ``cosign_bps`` of the registered
    citizens (at least ``cosign_min``) within ``cosign_blocks``.
Pilot (amend and params)
    The vote does not open until the chain has fixed a pilot report on chain
    (block execution replays the law's recent calls and the proposer's
    scenario with the new code and the code in force, in bounded chunks; the
    report is in the ``pilot`` law's storage).  A failing pilot blocks the
    proposal for good.
Voting and constituent review
    The vote opens at height ``opened`` with a snapshot of the sitting
    delegates and of each constituency's members.  A delegate votes
    ``yes``, ``no`` or ``abstain`` once, at a height ``h`` with
    ``opened <= h <= vote_end``.  That vote opens a review window for the
    delegate's constituents (members at the snapshot) over heights
    ``h .. h + review_blocks``; a constituent may ``oppose`` or ``support``
    it, and may change their mind within the window.  **The vote is void
    when oppose x 2 > members** (strictly more than half of the
    constituency's members at the snapshot).  A voided delegate cannot vote
    again on that proposal.  The tally is final at ``closes = vote_end +
    review_blocks``, when every window has closed; before then it is
    provisional.
Tally
    Seats = delegates in the snapshot.  Counted = non-void votes.  Quorum:
    counted x 10000 >= quorum_bps[class] x seats.  Accepted when the quorum
    holds and yes x 10000 > threshold_bps[class] x (yes + no).
Enactment
    An accepted proposal is enacted at ``enact_at = closes +
    enact_delay_blocks``: the chain reads ``due:<height>`` of this law's
    storage at the beginning of that block and installs the law version
    (in force from that height), changes the role, or schedules the
    validator update.  Nothing else can do these things.  Until then a
    ``cancel`` decision may withdraw it.
Recall of delegates
    Constituents petition (``recall_sign``); at ``recall_petition_bps`` of
    the members (UK Recall of MPs Act: 10 %) a recall vote opens for
    ``recall_blocks``; it passes when yes > no and yes x 10000 >=
    ``recall_floor_bps`` x members (Taiwan: a quarter of the electorate).
    A recalled seat is filled by a by-election opened at once.  Officials
    (role holders) are recalled by a ``role`` decision.

Parameters are dated (``since`` is YYYYMMDD; the value in force on the
block's date applies); every duration is in blocks.
"""

LAW = "congress"
VERSION = 1
LIBRARY = 2  # the runtime supplies today, version (contracts/runtime/lawkit.py)

CLASSES = ("amend", "params", "role", "validator", "text", "cancel")
CODE_CLASSES = ("amend", "params")
VOTES = ("yes", "no", "abstain")
ROLES = ("registrar", "central_bank", "treasury", "planning_agency", "validator_operator")

MAX_TITLE = 200
MAX_TEXT = 8000
MAX_SOURCE = 48000
MAX_SCENARIO = 16
MAX_ACTIVE = 32
MAX_CANDIDATES = 200
MAX_CONSTITUENCIES = 64
MAX_DUE = 16  # decisions the chain enacts per block (chain/governance.py MAX_DUE)

E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_STATE = 3  # not possible in the proposal's (or election's) current state
E_NO_PARAMETER = 4
E_TOO_MANY = 5
E_TWICE = 6

PARAMS = {
    "seats": {"label": "Seats of the congress, apportioned by Sainte-Lague", "unit": "seats",
              "reference": "esoc seed: a directly elected congress", "values": ((20200101, 3),)},
    "term_blocks": {"label": "Length of a delegate's term", "unit": "blocks",
                    "reference": "esoc policy", "values": ((20200101, 1_000_000),)},
    "election_blocks": {"label": "Blocks an election stays open for ballots", "unit": "blocks",
                        "reference": "esoc policy", "values": ((20200101, 30),)},
    "vote_blocks": {"label": "Blocks a vote stays open, per class", "unit": "blocks",
                    "reference": "Tezos exploration/promotion periods, scaled to a devnet",
                    "values": ((20200101, {"amend": 120, "params": 120, "role": 60, "validator": 60,
                                            "text": 60, "cancel": 30}),)},
    "review_blocks": {"label": "Length of a constituent review window after each delegate vote", "unit": "blocks",
                      "reference": "Swiss optional referendum (a window after publication), scaled",
                      "values": ((20200101, 40),)},
    "enact_delay_blocks": {"label": "Blocks between the final tally and the activation", "unit": "blocks",
                           "reference": "Tezos adoption period; Cosmos x/upgrade plan height",
                           "values": ((20200101, 100),)},
    "quorum_bps": {"label": "Share of seats that must cast a counted vote, per class", "unit": "bps",
                   "reference": "LiquidFeedback quorums; Tezos quorum", "values": ((20200101, {
                       "amend": 5000, "params": 5000, "role": 5000, "validator": 6667, "text": 3000,
                       "cancel": 5000}),)},
    "threshold_bps": {"label": "Share of yes among yes+no that must be exceeded, per class", "unit": "bps",
                      "reference": "simple majority; 2/3 for the validator set", "values": ((20200101, {
                          "amend": 5000, "params": 5000, "role": 5000, "validator": 6667, "text": 5000,
                          "cancel": 5000}),)},
    "cosign_bps": {"label": "Co-signatures a non-delegate proposal needs, share of registered citizens",
                   "unit": "bps", "reference": "Consul votes_for_proposal_success; Taiwan Join", "values": ((20200101, 2000),)},
    "cosign_min": {"label": "Fewest co-signatures a non-delegate proposal needs", "unit": "citizens",
                   "reference": "esoc policy", "values": ((20200101, 2),)},
    "cosign_blocks": {"label": "Blocks a proposal may gather co-signatures", "unit": "blocks",
                      "reference": "Consul: 12 months, scaled", "values": ((20200101, 200),)},
    "recall_petition_bps": {"label": "Petition signatures that open a recall vote, share of members",
                            "unit": "bps", "reference": "UK Recall of MPs Act 2015 s.14: 10 %",
                            "values": ((20200101, 1000),)},
    "recall_blocks": {"label": "Blocks a recall vote stays open", "unit": "blocks",
                      "reference": "esoc policy", "values": ((20200101, 20),)},
    "recall_floor_bps": {"label": "Yes votes a recall needs, share of members", "unit": "bps",
                         "reference": "Taiwan Civil Servants Election and Recall Act art. 90: 1/4",
                         "values": ((20200101, 2500),)},
}

ENTRIES = (
    "add_constituency", "assign", "propose", "cosign", "vote", "review", "elect_open", "ballot",
    "elect_close", "recall_sign", "recall_vote", "recall_close", "suspend", "on_block",
    "assembly_propose", "urgent", "recall_open",
)
VIEWS = (
    "param", "version", "proposal", "proposals", "tally", "delegates", "constituencies", "constituency_of",
    "apportion", "election", "recall", "void_rule", "due", "source",
)


# ---------------------------------------------------------------- basics
def param(name: str, on: int = 0):
    """The value in force on date ``on`` (0: today): the latest-dated of the
    source's table and of dated values a chain's genesis seeded under the
    storage key ``params`` (the devnet's short windows); a later-dated value
    enacted in the source wins over an older seeded one."""
    when = on if on else today()
    found = param_in_force(PARAMS, name, when)
    for pair in storage.get("params", {}).get(name, []):
        if pair[0] <= when and pair[0] >= found[0]:
            found = pair
    return found[1]


def need(cond, code: int, detail: str) -> None:
    if not cond:
        fail(code, detail)


def consts() -> dict:
    return storage.get("const", {})


def constituencies() -> dict:
    """``{id: {"name", "members"}}`` of every constituency."""
    return consts()


def constituency_of(citizen: str) -> str:
    """The constituency ``citizen`` belongs to ("" if none)."""
    m = storage.get("member:" + citizen)
    return "" if m is None else m[0]


def member_since(citizen: str, cid: str) -> int:
    """The height from which ``citizen`` has been a member of ``cid``, or -1."""
    m = storage.get("member:" + citizen)
    if m is None or m[0] != cid or ctx.account_kind(citizen) != "citizen":
        return -1
    return m[1]


def sitting() -> dict:
    """Delegates whose term has not ended: ``{address: record}``."""
    out = {}
    for a, d in storage.get("delegates", {}).items():
        if d["until"] > ctx.height:
            out[a] = d
    return out


def delegates() -> dict:
    """Sitting delegates: constituency, since, until."""
    return sitting()


def is_delegate(a: str) -> bool:
    return a in sitting()


def citizens_total() -> int:
    return sum([c["members"] for c in consts().values()])


# ---------------------------------------------------------------- constituencies
def add_constituency(id: str, name: str) -> None:
    """The registrar creates a constituency (a region or other recorded attribute)."""
    need(ctx.has_role(ctx.sender, "registrar"), E_NOT_AUTHORIZED, "only the registrar records constituencies")
    need(is_str(id) and 0 < len(id) <= 32 and is_str(name) and len(name) <= 100, E_BAD_ARGUMENT, "bad id or name")
    c = consts()
    need(id not in c, E_TWICE, "constituency exists")
    need(len(c) < MAX_CONSTITUENCIES, E_TOO_MANY, "too many constituencies")
    c[id] = {"name": name, "members": 0}
    storage.set("const", c)
    emit("constituency", {"id": id, "name": name})


def assign(citizen: str, constituency: str) -> None:
    """The registrar records a citizen's constituency ("" removes it)."""
    need(ctx.has_role(ctx.sender, "registrar"), E_NOT_AUTHORIZED, "only the registrar records constituencies")
    need(is_str(citizen) and is_str(constituency), E_BAD_ARGUMENT, "bad arguments")
    c = consts()
    need(constituency == "" or constituency in c, E_BAD_ARGUMENT, "unknown constituency")
    need(constituency == "" or ctx.account_kind(citizen) == "citizen", E_BAD_ARGUMENT, "not a registered citizen")
    old = constituency_of(citizen)
    if old == constituency:
        return
    if old != "":
        c[old]["members"] = c[old]["members"] - 1
    if constituency == "":
        storage.delete("member:" + citizen)
    else:
        c[constituency]["members"] = c[constituency]["members"] + 1
        storage.set("member:" + citizen, [constituency, ctx.height])
    storage.set("const", c)
    emit("assigned", {"citizen": citizen, "constituency": constituency, "from": old})


def apportion(seats: int = 0) -> dict:
    """Seats per constituency by Sainte-Lague (divisors 1, 3, 5, ...)."""
    total = seats if seats else param("seats")
    c = consts()
    ids = sorted(c.keys())
    got = {cid: 0 for cid in ids}
    for s in range(total):
        best = ""
        for cid in ids:
            n = c[cid]["members"]
            if n == 0:
                continue
            if best == "":
                best = cid
                continue
            # n / (2k+1) > m / (2j+1), exactly, by cross-multiplication
            lhs = n * (2 * got[best] + 1)
            rhs = c[best]["members"] * (2 * got[cid] + 1)
            if lhs > rhs or (lhs == rhs and n > c[best]["members"]):
                best = cid
        if best == "":
            break
        got[best] = got[best] + 1
    return got


# ---------------------------------------------------------------- proposals
def check_payload(cls: str, payload) -> None:
    need(is_dict(payload), E_BAD_ARGUMENT, "payload must be a map")
    if cls in CODE_CLASSES:
        law = payload.get("law")
        src = payload.get("source")
        need(is_str(law) and 0 < len(law) <= 32 and law != "pilot", E_BAD_ARGUMENT,
             "payload.law must name a law other than pilot (its storage is the chain's record)")
        need(is_str(src) and 0 < len(src) <= MAX_SOURCE, E_BAD_ARGUMENT, "payload.source must be the new source")
        sc = payload.get("scenario", [])
        need(is_list(sc) and len(sc) <= MAX_SCENARIO, E_BAD_ARGUMENT, "scenario: at most 16 calls")
        for item in sc:
            need(is_dict(item) and is_str(item.get("entry")) and is_dict(item.get("args", {})), E_BAD_ARGUMENT,
                 "scenario calls are {sender, entry, args}")
    elif cls == "role":
        need(is_str(payload.get("account")) and payload.get("role") in ROLES and is_bool(payload.get("grant")),
             E_BAD_ARGUMENT, "role payload is {account, role, grant}")
    elif cls == "validator":
        pk = payload.get("pubkey")
        pw = payload.get("power")
        need(is_str(pk) and len(pk) == 64 and is_int(pw) and 0 <= pw <= 1_000_000, E_BAD_ARGUMENT,
             "validator payload is {pubkey: 64 hex, power: 0..1000000, name}")
    elif cls == "cancel":
        t = storage.get("prop:" + str(payload.get("target")))
        need(t is not None and t["status"] == "accepted" and t["class"] != "cancel", E_BAD_ARGUMENT,
             "cancel names an accepted proposal not yet enacted")


def propose(cls: str, title: str, text: str = "", payload: dict | None = None) -> int:
    """Submit a proposal; returns its id.  A delegate's goes straight on;
    anyone else's gathers co-signatures first."""
    kind = ctx.account_kind(ctx.sender)
    need(kind == "citizen" or kind == "enterprise" or kind == "agency", E_NOT_AUTHORIZED, "not a registered account")
    return make_proposal(cls, title, text, payload, ctx.sender, is_delegate(ctx.sender))


def from_assembly() -> None:
    need(ctx.caller == ctx.address_of("assembly"), E_NOT_AUTHORIZED, "only a reform assembly resolution does this")


def assembly_propose(cls: str, title: str, text: str = "", payload: dict | None = None) -> int:
    """A reform assembly's non-urgent resolution becomes a proposal (no co-signatures)."""
    from_assembly()
    return make_proposal(cls, title, text, payload, ctx.caller, True)


def make_proposal(cls: str, title: str, text: str, payload, proposer: str, direct: bool) -> int:
    need(cls in CLASSES, E_BAD_ARGUMENT, "class must be one of " + ", ".join(CLASSES))
    need(is_str(title) and 0 < len(title) <= MAX_TITLE, E_BAD_ARGUMENT, "title: 1..200 characters")
    need(is_str(text) and len(text) <= MAX_TEXT, E_BAD_ARGUMENT, "text: at most 8000 characters")
    if payload is None:
        payload = {}
    check_payload(cls, payload)
    active = storage.get("active", [])
    need(len(active) < MAX_ACTIVE, E_TOO_MANY, "too many open proposals")
    pid = storage.get("next_id", 1)
    storage.set("next_id", pid + 1)
    if cls in CODE_CLASSES:  # the source lives under its own key: records stay small for on_block
        src = payload["source"]
        storage.set("src:" + str(pid), src)
        payload["source"] = ""
        payload["source_digest"] = hex_of(digest(src))
    p = {"id": pid, "class": cls, "title": title, "text": text, "payload": payload, "proposer": proposer,
         "proposed_at": ctx.height, "status": "", "cosigns": 0, "cosign_need": 0, "cosign_until": 0,
         "opened": 0, "vote_end": 0, "closes": 0, "snapshot": {}, "votes": {}, "reviews": {},
         "result": {}, "enact_at": 0}
    if direct:
        advance(p)
    else:
        p["status"] = "gathering"
        p["cosign_need"] = max(param("cosign_min"), mul_div(citizens_total(), param("cosign_bps"), 10000, "up"))
        p["cosign_until"] = ctx.height + param("cosign_blocks")
    active.append(pid)
    storage.set("active", active)
    storage.set("prop:" + str(pid), p)
    emit("proposed", {"id": pid, "class": cls, "title": title, "proposer": proposer, "status": p["status"]})
    return pid


def urgent(payload: dict, title: str, assembly: int) -> int:
    """A reform assembly's urgent role resolution: a decision the chain enacts at the next block."""
    from_assembly()
    check_payload("role", payload)
    active = storage.get("active", [])
    need(len(active) < MAX_ACTIVE, E_TOO_MANY, "too many open proposals")
    pid = storage.get("next_id", 1)
    storage.set("next_id", pid + 1)
    at = ctx.height + 1
    while len(storage.get("due:" + str(at), [])) >= MAX_DUE:
        at = at + 1
    p = {"id": pid, "class": "role", "title": title, "text": "urgent resolution of reform assembly " + str(assembly),
         "payload": payload, "proposer": ctx.caller, "proposed_at": ctx.height, "status": "accepted",
         "cosigns": 0, "cosign_need": 0, "cosign_until": 0, "opened": 0, "vote_end": 0, "closes": ctx.height,
         "snapshot": {}, "votes": {}, "reviews": {}, "result": {"assembly": assembly, "urgent": True},
         "enact_at": at}
    d = storage.get("due:" + str(at), [])
    d.append(pid)
    storage.set("due:" + str(at), d)
    active.append(pid)
    storage.set("active", active)
    storage.set("prop:" + str(pid), p)
    emit("urgent", {"id": pid, "assembly": assembly, "payload": payload, "enact_at": at})
    return pid


def advance(p: dict) -> None:
    """Past co-signing: code goes to the pilot, anything else to the vote."""
    if p["class"] in CODE_CLASSES:
        p["status"] = "piloting"
        w = storage.get("pilot_wait", [])
        w.append(p["id"])
        storage.set("pilot_wait", w)
    else:
        open_vote(p)


def open_vote(p: dict) -> None:
    d = {}
    for a, rec in sitting().items():
        if not rec.get("suspended", False) or rec.get("suspended_until", 0) <= ctx.height:
            d[a] = rec["c"]
    members = {cid: c["members"] for cid, c in consts().items()}
    p["status"] = "voting"
    p["opened"] = ctx.height
    p["vote_end"] = ctx.height + param("vote_blocks")[p["class"]]
    p["closes"] = p["vote_end"] + param("review_blocks")
    p["snapshot"] = {"height": ctx.height, "delegates": d, "members": members}
    emit("vote_open", {"id": p["id"], "vote_end": p["vote_end"], "closes": p["closes"]})


def cosign(id: int) -> int:
    """A registered citizen co-signs a gathering proposal (once)."""
    p = get_prop(id)
    need(p["status"] == "gathering", E_STATE, "the proposal is not gathering co-signatures")
    need(ctx.height <= p["cosign_until"], E_STATE, "co-signing has closed")
    need(ctx.account_kind(ctx.sender) == "citizen", E_NOT_AUTHORIZED, "only registered citizens co-sign")
    key = "cs:" + str(id) + ":" + ctx.sender
    need(not storage.has(key), E_TWICE, "already co-signed")
    storage.set(key, ctx.height)
    p["cosigns"] = p["cosigns"] + 1
    if p["cosigns"] >= p["cosign_need"]:
        advance(p)
    storage.set("prop:" + str(id), p)
    emit("cosigned", {"id": id, "citizen": ctx.sender, "cosigns": p["cosigns"], "need": p["cosign_need"]})
    return p["cosigns"]


def get_prop(id) -> dict:
    need(is_int(id), E_BAD_ARGUMENT, "id must be an int")
    p = storage.get("prop:" + str(id))
    need(p is not None, E_BAD_ARGUMENT, "no such proposal")
    return p


def proposal(id: int) -> dict:
    """The proposal with its provisional (or final) tally."""
    p = get_prop(id)
    if p["status"] == "voting":
        p["result"] = count(p)
    return p


def source(id: int) -> str:
    """The new source of a code proposal (its payload names its digest)."""
    get_prop(id)
    return storage.get("src:" + str(id), "")


def proposals(status: str = "") -> list:
    """A summary of every proposal, newest first (at most 100)."""
    out = []
    pid = storage.get("next_id", 1) - 1
    while pid > 0 and len(out) < 100:
        p = storage.get("prop:" + str(pid))
        if status == "" or p["status"] == status:
            out.append({"id": pid, "class": p["class"], "title": p["title"], "status": p["status"],
                        "proposer": p["proposer"], "closes": p["closes"], "enact_at": p["enact_at"]})
        pid = pid - 1
    return out


def vote(id: int, choice: str) -> None:
    """A delegate in the snapshot votes yes, no or abstain, once, in public."""
    p = get_prop(id)
    need(p["status"] == "voting", E_STATE, "the proposal is not open for votes")
    need(ctx.height <= p["vote_end"], E_STATE, "voting has closed")
    need(choice in VOTES, E_BAD_ARGUMENT, "vote yes, no or abstain")
    need(ctx.sender in p["snapshot"]["delegates"], E_NOT_AUTHORIZED, "not a delegate of this vote")
    need(ctx.sender not in p["votes"], E_TWICE, "a delegate votes once (a voided vote cannot be recast)")
    rec = sitting().get(ctx.sender)
    need(rec is not None, E_NOT_AUTHORIZED, "no longer a delegate")
    need(not rec.get("suspended", False) or rec.get("suspended_until", 0) <= ctx.height, E_NOT_AUTHORIZED,
         "this delegate's vote is suspended by a reform assembly")
    p["votes"][ctx.sender] = {"v": choice, "h": ctx.height, "review_until": ctx.height + param("review_blocks")}
    storage.set("prop:" + str(id), p)
    emit("voted", {"id": id, "delegate": ctx.sender, "vote": choice,
                   "review_until": p["votes"][ctx.sender]["review_until"]})


def review(id: int, delegate: str, stance: str) -> dict:
    """A constituent opposes or supports their delegate's vote within its window."""
    p = get_prop(id)
    need(stance == "oppose" or stance == "support", E_BAD_ARGUMENT, "stance is oppose or support")
    need(p["status"] == "voting", E_STATE, "the proposal is not in its vote")
    v = p["votes"].get(delegate)
    need(v is not None, E_STATE, "that delegate has not voted")
    need(ctx.height <= v["review_until"], E_STATE, "the review window has closed")
    cid = p["snapshot"]["delegates"][delegate]
    since = member_since(ctx.sender, cid)
    need(since >= 0 and since <= p["snapshot"]["height"], E_NOT_AUTHORIZED,
         "only the delegate's constituents at the snapshot review the vote")
    key = "rv:" + str(id) + ":" + delegate + ":" + ctx.sender
    old = storage.get(key, "")
    counts = p["reviews"].get(delegate, [0, 0])
    if old == stance:
        return {"oppose": counts[0], "support": counts[1]}
    if old == "oppose":
        counts[0] = counts[0] - 1
    if old == "support":
        counts[1] = counts[1] - 1
    if stance == "oppose":
        counts[0] = counts[0] + 1
    else:
        counts[1] = counts[1] + 1
    p["reviews"][delegate] = counts
    storage.set(key, stance)
    storage.set("prop:" + str(id), p)
    members = p["snapshot"]["members"][cid]
    out = {"oppose": counts[0], "support": counts[1], "members": members, "void": counts[0] * 2 > members}
    emit("reviewed", {"id": id, "delegate": delegate, "citizen": ctx.sender, "stance": stance, "counts": out})
    return out


def void_rule() -> str:
    """The void rule in words."""
    return "a delegate's vote is void when oppose x 2 > members of the constituency at the snapshot"


def count(p: dict) -> dict:
    """The tally: void votes leave it; quorum and threshold of the class."""
    snap = p["snapshot"]
    seats = len(snap["delegates"])
    yes = 0
    no = 0
    abstain = 0
    void = []
    for d in sorted(p["votes"].keys()):
        members = snap["members"][snap["delegates"][d]]
        opp = p["reviews"].get(d, [0, 0])[0]
        if opp * 2 > members:
            void.append(d)
            continue
        v = p["votes"][d]["v"]
        if v == "yes":
            yes = yes + 1
        elif v == "no":
            no = no + 1
        else:
            abstain = abstain + 1
    quorum = param("quorum_bps")[p["class"]]
    threshold = param("threshold_bps")[p["class"]]
    counted = yes + no + abstain
    quorum_ok = seats > 0 and counted * 10000 >= quorum * seats
    accepted = quorum_ok and yes * 10000 > threshold * (yes + no)
    return {"seats": seats, "yes": yes, "no": no, "abstain": abstain, "void": void, "counted": counted,
            "quorum_bps": quorum, "threshold_bps": threshold, "quorum_ok": quorum_ok, "accepted": accepted,
            "final": ctx.height >= p["closes"]}


def tally(id: int) -> dict:
    """The provisional (or final) tally of a proposal."""
    return count(get_prop(id))


def due(height: int) -> list:
    """Ids of decisions the chain enacts at the beginning of block ``height``."""
    return storage.get("due:" + str(height), [])


def finish(p: dict) -> None:
    r = count(p)
    r["final"] = True
    p["result"] = r
    if not r["accepted"]:
        p["status"] = "rejected"
    elif p["class"] == "text":
        p["status"] = "adopted"
    elif p["class"] == "cancel":
        p["status"] = "adopted"
        cancel_target(p["payload"]["target"])
    else:
        p["status"] = "accepted"
        at = ctx.height + param("enact_delay_blocks")
        while len(storage.get("due:" + str(at), [])) >= MAX_DUE:  # the chain enacts at most 16 per block
            at = at + 1
        p["enact_at"] = at
        key = "due:" + str(at)
        d = storage.get(key, [])
        d.append(p["id"])
        storage.set(key, d)
    emit("tally", {"id": p["id"], "status": p["status"], "result": r, "enact_at": p["enact_at"]})


def cancel_target(tid: int) -> None:
    t = storage.get("prop:" + str(tid))
    if t is None or t["status"] != "accepted" or t["enact_at"] <= ctx.height:
        emit("cancel_too_late", {"target": tid})
        return
    key = "due:" + str(t["enact_at"])
    storage.set(key, [x for x in storage.get(key, []) if x != tid])
    t["status"] = "cancelled"
    storage.set("prop:" + str(tid), t)
    emit("cancelled", {"id": tid})


# ---------------------------------------------------------------- block hook
def on_block() -> None:
    """Bounded work per block: pilot verdicts, final tallies, enactments, expiries.

    Only the chain's end-of-block hook runs it (its sender is this law's own
    account): a transaction calling it could close a window early."""
    need(ctx.sender == ctx.this, E_NOT_AUTHORIZED, "on_block runs only as the chain's block hook")
    h = ctx.height
    wait = storage.get("pilot_wait", [])
    still = []
    for pid in wait:
        rep = state.read("pilot", "report:" + str(pid))
        if rep is None:
            still.append(pid)
            continue
        p = storage.get("prop:" + str(pid))
        if rep["ok"]:
            p["pilot"] = {"hash": rep["hash"], "ok": True}
            open_vote(p)
        else:
            p["pilot"] = {"hash": rep["hash"], "ok": False, "reason": rep["reason"]}
            p["status"] = "blocked"
            emit("pilot_failed", {"id": pid, "reason": rep["reason"]})
        storage.set("prop:" + str(pid), p)
    if len(still) != len(wait):
        storage.set("pilot_wait", still)
    active = storage.get("active", [])
    keep = []
    for pid in active:
        p = storage.get("prop:" + str(pid))
        st = p["status"]
        changed = False
        if st == "gathering" and h > p["cosign_until"]:
            p["status"] = "expired"
            changed = True
        elif st == "voting" and h >= p["closes"]:
            finish(p)
            changed = True
        elif st == "accepted" and h >= p["enact_at"]:
            rec = state.read("pilot", "enacted:" + str(pid))
            p["status"] = "enacted" if rec is not None and rec["ok"] else "failed"
            p["enactment"] = rec
            changed = True
            emit("enacted", {"id": pid, "height": p["enact_at"], "status": p["status"]})
        if changed:
            storage.set("prop:" + str(pid), p)
        if p["status"] in ("gathering", "piloting", "voting", "accepted"):
            keep.append(pid)
    if len(keep) != len(active):
        storage.set("active", keep)


# ---------------------------------------------------------------- elections
def elect_open(constituency: str) -> int:
    """Open an election for the constituency's free seats (anyone may call)."""
    c = consts()
    need(constituency in c, E_BAD_ARGUMENT, "unknown constituency")
    seats = apportion().get(constituency, 0)
    taken = len([a for a, d in sitting().items() if d["c"] == constituency])
    free = seats - taken
    need(free > 0, E_STATE, "no free seat in this constituency")
    need(storage.get("open_elect:" + constituency) is None, E_STATE, "an election is already open here")
    return new_election(constituency, free, "general")


def new_election(constituency: str, seats: int, kind: str) -> int:
    eid = storage.get("next_eid", 1)
    storage.set("next_eid", eid + 1)
    e = {"id": eid, "constituency": constituency, "seats": seats, "kind": kind, "opened": ctx.height,
         "closes": ctx.height + param("election_blocks"), "tally": {}, "ballots": 0, "status": "open",
         "elected": [], "members": consts()[constituency]["members"]}
    storage.set("elect:" + str(eid), e)
    storage.set("open_elect:" + constituency, eid)
    emit("election_open", {"id": eid, "constituency": constituency, "seats": seats, "kind": kind,
                           "closes": e["closes"]})
    return eid


def election(id: int) -> dict:
    """An election: tally, ballots, status, elected, turnout."""
    e = storage.get("elect:" + str(id))
    need(e is not None, E_BAD_ARGUMENT, "no such election")
    return e


def ballot(election: int, candidate: str) -> dict:
    """A member votes once for any member of the constituency (no lists)."""
    e = storage.get("elect:" + str(election))
    need(e is not None, E_BAD_ARGUMENT, "no such election")
    need(e["status"] == "open" and ctx.height <= e["closes"], E_STATE, "the election is not open")
    cid = e["constituency"]
    need(member_since(ctx.sender, cid) >= 0, E_NOT_AUTHORIZED, "only members of the constituency vote here")
    need(member_since(candidate, cid) >= 0, E_BAD_ARGUMENT, "the candidate must be a member of the constituency")
    key = "ballot:" + str(election) + ":" + ctx.sender
    need(not storage.has(key), E_TWICE, "one ballot per citizen per election")
    need(candidate in e["tally"] or len(e["tally"]) < MAX_CANDIDATES, E_TOO_MANY, "too many candidates")
    storage.set(key, candidate)
    e["tally"][candidate] = e["tally"].get(candidate, 0) + 1
    e["ballots"] = e["ballots"] + 1
    storage.set("elect:" + str(election), e)
    emit("ballot", {"election": election, "voter": ctx.sender, "candidate": candidate,
                    "candidate_votes": e["tally"][candidate], "ballots": e["ballots"]})
    return {"candidate": candidate, "votes": e["tally"][candidate]}


def elect_close(election: int) -> list:
    """After the election closes and its beacon exists, seat the most voted."""
    e = storage.get("elect:" + str(election))
    need(e is not None, E_BAD_ARGUMENT, "no such election")
    need(e["status"] == "open", E_STATE, "already closed")
    need(ctx.height > e["closes"], E_STATE, "the election is still open")
    seed = beacon(e["closes"])
    need(seed is not None, E_STATE, "the beacon of the closing block is not yet known")
    ranked = sorted([[-n, draw(seed, "tie:" + cand, 1 << 62), cand] for cand, n in e["tally"].items()])
    ds = storage.get("delegates", {})
    until = ctx.height + param("term_blocks")
    elected = []
    for row in ranked:
        if len(elected) >= e["seats"]:
            break
        cand = row[2]
        if cand in ds and ds[cand]["until"] > ctx.height:
            continue
        ds[cand] = {"c": e["constituency"], "since": ctx.height, "until": until, "election": election}
        elected.append(cand)
    storage.set("delegates", ds)
    e["status"] = "closed"
    e["elected"] = elected
    e["turnout_bps"] = 0 if e["members"] == 0 else mul_div(e["ballots"], 10000, e["members"], "down")
    storage.set("elect:" + str(election), e)
    storage.delete("open_elect:" + e["constituency"])
    emit("elected", {"election": election, "elected": elected, "tally": e["tally"], "turnout_bps": e["turnout_bps"]})
    return elected


# ---------------------------------------------------------------- recall
def recall(delegate: str) -> dict:
    """The recall petition or vote of a delegate."""
    return storage.get("recall:" + delegate, {})


def recall_sign(delegate: str) -> dict:
    """A constituent signs the petition to recall their delegate."""
    ds = sitting()
    need(delegate in ds, E_BAD_ARGUMENT, "not a sitting delegate")
    cid = ds[delegate]["c"]
    need(member_since(ctx.sender, cid) >= 0, E_NOT_AUTHORIZED, "only the delegate's constituents petition")
    r = storage.get("recall:" + delegate, {"status": "petition", "signatures": 0, "yes": 0, "no": 0, "round": 1})
    need(r["status"] == "petition", E_STATE, "a recall vote is already under way")
    key = "rs:" + str(r["round"]) + ":" + delegate + ":" + ctx.sender
    need(not storage.has(key), E_TWICE, "already signed")
    storage.set(key, ctx.height)
    r["signatures"] = r["signatures"] + 1
    members = consts()[cid]["members"]
    r["need"] = max(1, mul_div(members, param("recall_petition_bps"), 10000, "up"))
    if r["signatures"] >= r["need"]:
        r["status"] = "voting"
        r["members"] = members
        r["closes"] = ctx.height + param("recall_blocks")
        emit("recall_vote_open", {"delegate": delegate, "closes": r["closes"]})
    storage.set("recall:" + delegate, r)
    emit("recall_signed", {"delegate": delegate, "citizen": ctx.sender, "signatures": r["signatures"]})
    return r


def recall_vote(delegate: str, yes: bool) -> dict:
    """A constituent votes once in an open recall (yes recalls)."""
    r = storage.get("recall:" + delegate)
    need(r is not None and r["status"] == "voting" and ctx.height <= r["closes"], E_STATE, "no recall vote open")
    ds = storage.get("delegates", {})
    cid = ds[delegate]["c"]
    need(member_since(ctx.sender, cid) >= 0, E_NOT_AUTHORIZED, "only the delegate's constituents vote")
    key = "rb:" + str(r["round"]) + ":" + delegate + ":" + ctx.sender
    need(not storage.has(key), E_TWICE, "one vote per recall")
    storage.set(key, yes)
    if yes:
        r["yes"] = r["yes"] + 1
    else:
        r["no"] = r["no"] + 1
    storage.set("recall:" + delegate, r)
    emit("recall_voted", {"delegate": delegate, "citizen": ctx.sender, "yes": yes})
    return r


def recall_close(delegate: str) -> dict:
    """After the recall vote: yes > no and yes x 10000 >= floor x members recalls; a by-election opens."""
    r = storage.get("recall:" + delegate)
    need(r is not None and r["status"] == "voting" and ctx.height > r["closes"], E_STATE, "no finished recall vote")
    passed = r["yes"] > r["no"] and r["yes"] * 10000 >= param("recall_floor_bps") * r["members"]
    ds = storage.get("delegates", {})
    cid = ds[delegate]["c"]
    r["status"] = "recalled" if passed else "petition"
    r["round"] = r["round"] + 1
    if passed:
        ds[delegate]["until"] = ctx.height
        ds[delegate]["recalled"] = ctx.height
        storage.set("delegates", ds)
        r["by_election"] = new_election(cid, 1, "by-election")
    else:
        r["signatures"] = 0
        r["yes"] = 0
        r["no"] = 0
    storage.set("recall:" + delegate, r)
    emit("recall_result", {"delegate": delegate, "recalled": passed})
    return r


def recall_open(delegate: str) -> dict:
    """A reform assembly's urgent resolution opens a recall vote without a petition."""
    from_assembly()
    ds = sitting()
    need(delegate in ds, E_BAD_ARGUMENT, "not a sitting delegate")
    r = storage.get("recall:" + delegate, {"status": "petition", "signatures": 0, "yes": 0, "no": 0, "round": 1})
    need(r["status"] == "petition", E_STATE, "a recall vote is already under way")
    r["status"] = "voting"
    r["members"] = consts()[ds[delegate]["c"]]["members"]
    r["closes"] = ctx.height + param("recall_blocks")
    r["need"] = 0
    storage.set("recall:" + delegate, r)
    emit("recall_vote_open", {"delegate": delegate, "closes": r["closes"], "by": "assembly"})
    return r


def suspend(delegate: str, until: int) -> None:
    """The reform assembly law suspends a delegate's vote until a height."""
    from_assembly()
    ds = storage.get("delegates", {})
    need(delegate in ds, E_BAD_ARGUMENT, "not a delegate")
    ds[delegate]["suspended"] = True
    ds[delegate]["suspended_until"] = until
    storage.set("delegates", ds)
    emit("suspended", {"delegate": delegate, "until": until})
