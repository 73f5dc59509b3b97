"""The reform assembly: a temporary organ, directly elected for one topic.

Which policy this implements (the seed's reform assembly)
---------------------------------------------------------
Trigger
    When more than ``assembly_follow_bps`` of the registered citizens follow
    a forum topic (the ``forum`` law's rule), anyone may ``convene`` an
    assembly for it; one per topic.
Election
    Direct, without lists, like the congress's: every member of a
    constituency votes once (``ballot``) for any member of a constituency;
    after ``election_blocks`` the ``seats`` most voted sit (``seat``; ties by
    the beacon of the closing block) for ``term_blocks``.
Decisions
    A member moves a resolution (``resolve``); members vote (``decide``);
    it passes when yes x 2 > seats and fails when no x 2 >= seats (a
    majority of the seats, not of those voting).
    Urgent resolutions take effect on chain at once:

    * ``suspend_delegate`` {delegate, until}: the delegate cannot vote
      until that height (the congress law's ``suspend``);
    * ``suspend_role`` {account, role}: a congress decision revoking the
      role, enacted by the chain at the next block;
    * ``reorganise`` {account, role, grant}: a role change, the same way;
    * ``recall`` {delegate}: opens the recall vote in the delegate's
      constituency without a petition;
    * ``investigate`` {subject, text}: an investigation record, public here.

    A non-urgent resolution (``propose`` {cls, title, text, payload})
    becomes a congress proposal that needs no co-signatures.
"""

LAW = "assembly"
VERSION = 1
LIBRARY = 2  # the runtime supplies param, today, version (contracts/runtime/lawkit.py)

URGENT = ("suspend_delegate", "suspend_role", "reorganise", "recall", "investigate")
MAX_CANDIDATES = 200

E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_STATE = 3
E_NO_PARAMETER = 4
E_TWICE = 6

PARAMS = {
    "seats": {"label": "Seats of a reform assembly", "unit": "seats", "reference": "esoc seed: reform assembly",
              "values": ((20200101, 3),)},
    "election_blocks": {"label": "Blocks an assembly election stays open", "unit": "blocks",
                        "reference": "esoc policy", "values": ((20200101, 30),)},
    "term_blocks": {"label": "An assembly's limited term", "unit": "blocks", "reference": "esoc seed: temporary organ",
                    "values": ((20200101, 2000),)},
}

ENTRIES = ("convene", "ballot", "seat", "resolve", "decide")
VIEWS = ("get", "resolution", "investigation", "version")


def need(cond, code: int, detail: str) -> None:
    if not cond:
        fail(code, detail)


def is_member_citizen(a: str) -> bool:
    return ctx.account_kind(a) == "citizen" and state.read("congress", "member:" + a) is not None


def load(id) -> dict:
    need(is_int(id), E_BAD_ARGUMENT, "id must be an int")
    a = storage.get("a:" + str(id))
    need(a is not None, E_BAD_ARGUMENT, "no such assembly")
    return a


def get(id: int) -> dict:
    """An assembly: topic, election, members, term."""
    return load(id)


def convene(topic: int) -> int:
    """Convene an assembly for a forum topic followed by more than the share of citizens."""
    need(call("forum", "triggers_assembly", {"topic": topic}), E_STATE,
         "the topic is not followed by enough citizens")
    need(not storage.has("topic:" + str(topic)), E_TWICE, "this topic already has an assembly")
    aid = storage.get("next", 1)
    storage.set("next", aid + 1)
    a = {"id": aid, "topic": topic, "seats": param("seats"), "opened": ctx.height,
         "closes": ctx.height + param("election_blocks"), "tally": {}, "ballots": 0, "status": "electing",
         "members": [], "until": 0, "resolutions": 0}
    storage.set("a:" + str(aid), a)
    storage.set("topic:" + str(topic), aid)
    emit("assembly_convened", {"id": aid, "topic": topic, "closes": a["closes"]})
    return aid


def ballot(assembly: int, candidate: str) -> int:
    """A citizen votes once for any citizen of a constituency."""
    a = load(assembly)
    need(a["status"] == "electing" and ctx.height <= a["closes"], E_STATE, "the election is not open")
    need(is_member_citizen(ctx.sender), E_NOT_AUTHORIZED, "registered citizens of a constituency vote")
    need(is_member_citizen(candidate), E_BAD_ARGUMENT, "any registered citizen may be elected, no one else")
    key = "b:" + str(assembly) + ":" + ctx.sender
    need(not storage.has(key), E_TWICE, "one ballot per citizen")
    need(candidate in a["tally"] or len(a["tally"]) < MAX_CANDIDATES, E_BAD_ARGUMENT, "too many candidates")
    storage.set(key, candidate)
    a["tally"][candidate] = a["tally"].get(candidate, 0) + 1
    a["ballots"] = a["ballots"] + 1
    storage.set("a:" + str(assembly), a)
    emit("assembly_ballot", {"id": assembly, "voter": ctx.sender, "candidate": candidate,
                             "votes": a["tally"][candidate]})
    return a["tally"][candidate]


def seat(assembly: int) -> list:
    """After the election closes and its beacon exists, seat the most voted."""
    a = load(assembly)
    need(a["status"] == "electing" and ctx.height > a["closes"], E_STATE, "the election has not closed")
    seed = beacon(a["closes"])
    need(seed is not None, E_STATE, "the beacon of the closing block is not yet known")
    ranked = sorted([[-n, draw(seed, "tie:" + c, 1 << 62), c] for c, n in a["tally"].items()])
    a["members"] = [r[2] for r in ranked[:a["seats"]]]
    a["seats"] = len(a["members"])
    a["status"] = "sitting"
    a["until"] = ctx.height + param("term_blocks")
    storage.set("a:" + str(assembly), a)
    emit("assembly_seated", {"id": assembly, "members": a["members"], "until": a["until"]})
    return a["members"]


def sitting(a: dict) -> bool:
    return a["status"] == "sitting" and ctx.height < a["until"]


def resolve(assembly: int, kind: str, payload: dict, text: str = "") -> int:
    """A member moves a resolution; urgent kinds take effect when passed."""
    a = load(assembly)
    need(sitting(a), E_STATE, "the assembly is not sitting")
    need(ctx.sender in a["members"], E_NOT_AUTHORIZED, "only members move resolutions")
    need(kind in URGENT or kind == "propose", E_BAD_ARGUMENT, "kind: " + ", ".join(URGENT) + " or propose")
    need(is_dict(payload) and is_str(text) and len(text) <= 2000, E_BAD_ARGUMENT, "payload is a map")
    rid = a["resolutions"] + 1
    a["resolutions"] = rid
    storage.set("a:" + str(assembly), a)
    r = {"id": rid, "assembly": assembly, "kind": kind, "payload": payload, "text": text, "mover": ctx.sender,
         "height": ctx.height, "yes": [], "no": [], "status": "open", "outcome": None}
    storage.set("r:" + str(assembly) + ":" + str(rid), r)
    emit("resolution", {"assembly": assembly, "id": rid, "kind": kind})
    return rid


def resolution(assembly: int, id: int) -> dict:
    """A resolution: kind, payload, votes, status, outcome."""
    r = storage.get("r:" + str(assembly) + ":" + str(id))
    need(r is not None, E_BAD_ARGUMENT, "no such resolution")
    return r


def investigation(id: int) -> dict:
    """An investigation record opened by an assembly."""
    return storage.get("inv:" + str(id))


def decide(assembly: int, id: int, yes: bool) -> dict:
    """A member votes; a majority of the seats passes or fails the resolution."""
    a = load(assembly)
    need(sitting(a), E_STATE, "the assembly is not sitting")
    need(ctx.sender in a["members"], E_NOT_AUTHORIZED, "only members decide")
    r = resolution(assembly, id)
    need(r["status"] == "open", E_STATE, "already decided")
    need(ctx.sender not in r["yes"] and ctx.sender not in r["no"], E_TWICE, "one vote per member")
    if yes:
        r["yes"].append(ctx.sender)
    else:
        r["no"].append(ctx.sender)
    if len(r["yes"]) * 2 > a["seats"]:
        r["status"] = "passed"
        r["outcome"] = carry_out(a, r)
    elif len(r["no"]) * 2 >= a["seats"]:
        r["status"] = "failed"
    storage.set("r:" + str(assembly) + ":" + str(id), r)
    emit("decided", {"assembly": assembly, "id": id, "status": r["status"], "outcome": r["outcome"]})
    return r


def carry_out(a: dict, r: dict):
    k = r["kind"]
    p = r["payload"]
    if k == "suspend_delegate":
        call("congress", "suspend", {"delegate": p["delegate"], "until": p["until"]})
        return {"suspended": p["delegate"], "until": p["until"]}
    if k == "suspend_role" or k == "reorganise":
        grant = k == "reorganise" and p.get("grant", True)
        pid = call("congress", "urgent", {"payload": {"account": p["account"], "role": p["role"], "grant": grant},
                                          "title": "Reform assembly " + str(a["id"]) + ": " + k,
                                          "assembly": a["id"]})
        return {"decision": pid}
    if k == "recall":
        call("congress", "recall_open", {"delegate": p["delegate"]})
        return {"recall": p["delegate"]}
    if k == "investigate":
        n = storage.get("next_inv", 1)
        storage.set("next_inv", n + 1)
        storage.set("inv:" + str(n), {"id": n, "assembly": a["id"], "subject": p.get("subject", ""),
                                      "text": r["text"], "opened": ctx.height})
        return {"investigation": n}
    pid = call("congress", "assembly_propose", {"cls": p["cls"], "title": p["title"], "text": p.get("text", ""),
                                                "payload": p.get("payload", {})})
    return {"proposal": pid}
