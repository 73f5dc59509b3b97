"""The forum: posts, replies, support and oppose, follows, polls, hot lists
and stakeholder recommendations, on chain.

Which policy this implements
----------------------------
Posts and replies
    Any registered account posts a topic (``post``, title up to 200 and
    text up to 2,000 characters) or replies to a post (``reply``).  A post
    may name a congress proposal it is about (``proposal``).
Support and oppose
    Each account supports or opposes a post once (it may switch; the
    counts follow).
Hot lists (a published, deterministic ranking over block heights)
    ``hot()`` ranks the last ``HOT_WINDOW`` topics by
    ``score = support x 1_000_000 // (age + 50)``, where ``age`` is the
    number of blocks since the post; ``most_opposed()`` uses the oppose
    count instead.  Ties go to the newer post (the larger id).
Follows
    A citizen follows a topic (``follow``).  When a topic's followers are
    more than ``assembly_follow_bps`` of the registered citizens
    (``followers x 10000 > bps x citizens``; citizens = the members of the
    congress's constituencies), the topic may trigger a reform assembly
    (``assembly`` law).
Polls
    ``poll_open`` with 2..10 options and a closing height; one vote per
    account (``poll_vote``); counts public.
Recommendation
    ``recommended(citizen)``: the open congress proposals whose pilot report
    shows the citizen's account affected (its money would differ), or whose
    law applied to the citizen in the replayed history (the citizen called
    it, or it moved the citizen's money), or that a topic the citizen
    follows is about.
Rate limits
    At most ``posts_per_window`` posts and replies per account in any
    window of ``rate_window_blocks`` blocks (a fixed window starting at the
    account's first post in it), and ``reactions_per_window`` supports,
    opposes and follows.
"""

LAW = "forum"
VERSION = 1
LIBRARY = 2  # the runtime supplies param, today, version (contracts/runtime/lawkit.py)

MAX_TITLE = 200
MAX_TEXT = 2000
HOT_WINDOW = 200
HOT_SIZE = 20
MAX_OPTIONS = 10

E_NOT_AUTHORIZED = 1
E_BAD_ARGUMENT = 2
E_STATE = 3
E_NO_PARAMETER = 4
E_RATE = 5

PARAMS = {
    "posts_per_window": {"label": "Posts and replies one account may make per window", "unit": "posts",
                         "reference": "esoc policy against spam", "values": ((20200101, 5),)},
    "reactions_per_window": {"label": "Supports, opposes, follows and poll votes per window", "unit": "actions",
                             "reference": "esoc policy against spam", "values": ((20200101, 50),)},
    "rate_window_blocks": {"label": "Length of the rate-limit window", "unit": "blocks",
                           "reference": "esoc policy", "values": ((20200101, 100),)},
    "assembly_follow_bps": {"label": "Share of citizens following a topic above which it triggers a reform assembly",
                            "unit": "bps", "reference": "Consul/Decidim support thresholds, scaled",
                            "values": ((20200101, 3000),)},
}

ENTRIES = ("post", "reply", "support", "oppose", "follow", "unfollow", "poll_open", "poll_vote")
VIEWS = ("get", "replies", "hot", "most_opposed", "followers", "follows", "poll", "recommended",
         "citizens", "triggers_assembly", "version")


def need(cond, code: int, detail: str) -> None:
    if not cond:
        fail(code, detail)


def registered() -> None:
    need(ctx.account_kind(ctx.sender) != "", E_NOT_AUTHORIZED, "only registered accounts take part")


def limit(kind: str, cap_param: str) -> None:
    key = "rl:" + kind + ":" + ctx.sender
    w = storage.get(key, [0, 0])
    if ctx.height >= w[0] + param("rate_window_blocks"):
        w = [ctx.height, 0]
    need(w[1] < param(cap_param), E_RATE, "rate limit: try again in a later block window")
    w[1] = w[1] + 1
    storage.set(key, w)


def text_ok(title: str, text: str) -> None:
    need(is_str(title) and len(title) <= MAX_TITLE, E_BAD_ARGUMENT, "title: at most 200 characters")
    need(is_str(text) and 0 < len(text) <= MAX_TEXT, E_BAD_ARGUMENT, "text: 1..2000 characters")


def new_post(parent: int, title: str, text: str, proposal: int) -> int:
    pid = storage.get("next", 1)
    storage.set("next", pid + 1)
    p = {"id": pid, "parent": parent, "author": ctx.sender, "title": title, "text": text, "height": ctx.height,
         "support": 0, "oppose": 0, "replies": 0, "followers": 0, "proposal": proposal}
    storage.set("p:" + str(pid), p)
    return pid


def post(title: str, text: str, proposal: int = 0) -> int:
    """A new topic; ``proposal`` names a congress proposal it is about (0: none)."""
    registered()
    need(is_str(title) and 0 < len(title), E_BAD_ARGUMENT, "a topic needs a title")
    text_ok(title, text)
    need(is_int(proposal) and proposal >= 0, E_BAD_ARGUMENT, "proposal must be an id")
    limit("post", "posts_per_window")
    pid = new_post(0, title, text, proposal)
    topics = storage.get("topics", [])
    topics.append(pid)
    storage.set("topics", topics[-HOT_WINDOW:])
    emit("posted", {"id": pid, "author": ctx.sender, "title": title})
    return pid


def get_post(id) -> dict:
    need(is_int(id), E_BAD_ARGUMENT, "id must be an int")
    p = storage.get("p:" + str(id))
    need(p is not None, E_BAD_ARGUMENT, "no such post")
    return p


def get(id: int) -> dict:
    """A post."""
    return get_post(id)


def reply(to: int, text: str) -> int:
    """Reply to a post."""
    registered()
    parent = get_post(to)
    text_ok("", text)
    limit("post", "posts_per_window")
    rid = new_post(to, "", text, 0)
    parent["replies"] = parent["replies"] + 1
    storage.set("p:" + str(to), parent)
    lst = storage.get("r:" + str(to), [])
    lst.append(rid)
    storage.set("r:" + str(to), lst[-200:])
    emit("replied", {"id": rid, "to": to, "author": ctx.sender})
    return rid


def replies(id: int) -> list:
    """The replies to a post (its last 200)."""
    return [storage.get("p:" + str(r)) for r in storage.get("r:" + str(id), [])]


def react(id: int, stance: str) -> dict:
    registered()
    p = get_post(id)
    limit("react", "reactions_per_window")
    key = "s:" + str(id) + ":" + ctx.sender
    old = storage.get(key, "")
    if old == stance:
        return p
    if old != "":
        p[old] = p[old] - 1
    p[stance] = p[stance] + 1
    storage.set(key, stance)
    storage.set("p:" + str(id), p)
    emit(stance, {"id": id, "account": ctx.sender})
    return {"support": p["support"], "oppose": p["oppose"]}


def support(id: int) -> dict:
    """Support a post (once; switchable)."""
    return react(id, "support")


def oppose(id: int) -> dict:
    """Oppose a post (once; switchable)."""
    return react(id, "oppose")


def citizens() -> int:
    """Registered citizens: the members of the congress's constituencies."""
    return sum([c["members"] for c in state.read("congress", "const", {}).values()])


def follow(topic: int) -> int:
    """A citizen follows a topic; returns its follower count."""
    need(ctx.account_kind(ctx.sender) == "citizen", E_NOT_AUTHORIZED, "citizens follow topics")
    p = get_post(topic)
    need(p["parent"] == 0, E_BAD_ARGUMENT, "follow a topic, not a reply")
    limit("react", "reactions_per_window")
    key = "f:" + str(topic) + ":" + ctx.sender
    if storage.has(key):
        return p["followers"]
    storage.set(key, ctx.height)
    p["followers"] = p["followers"] + 1
    storage.set("p:" + str(topic), p)
    mine = storage.get("fl:" + ctx.sender, [])
    mine.append(topic)
    storage.set("fl:" + ctx.sender, mine[-50:])
    emit("followed", {"topic": topic, "citizen": ctx.sender, "followers": p["followers"],
                      "triggers_assembly": triggers(p)})
    return p["followers"]


def unfollow(topic: int) -> int:
    """Stop following a topic."""
    p = get_post(topic)
    key = "f:" + str(topic) + ":" + ctx.sender
    need(storage.has(key), E_STATE, "not following")
    storage.delete(key)
    p["followers"] = p["followers"] - 1
    storage.set("p:" + str(topic), p)
    storage.set("fl:" + ctx.sender, [t for t in storage.get("fl:" + ctx.sender, []) if t != topic])
    return p["followers"]


def follows(citizen: str) -> list:
    """The topics a citizen follows."""
    return storage.get("fl:" + citizen, [])


def followers(topic: int) -> int:
    """A topic's follower count."""
    return get_post(topic)["followers"]


def triggers(p: dict) -> bool:
    return p["followers"] * 10000 > param("assembly_follow_bps") * citizens()


def triggers_assembly(topic: int) -> bool:
    """Whether more than ``assembly_follow_bps`` of citizens follow the topic."""
    return triggers(get_post(topic))


def ranked(field: str) -> list:
    rows = []
    for pid in storage.get("topics", []):
        p = storage.get("p:" + str(pid))
        score = p[field] * 1_000_000 // (ctx.height - p["height"] + 50)
        if p[field] > 0:
            rows.append([score, pid, p["title"], p["support"], p["oppose"]])
    rows = sorted(rows, reverse=True)
    return [{"id": r[1], "title": r[2], "score": r[0], "support": r[3], "oppose": r[4]} for r in rows[:HOT_SIZE]]


def hot() -> list:
    """The most supported recent topics: support x 1e6 // (age in blocks + 50)."""
    return ranked("support")


def most_opposed() -> list:
    """The most opposed recent topics (the hot formula over oppose)."""
    return ranked("oppose")


def poll_open(question: str, options: list, closes: int) -> int:
    """Open a poll with 2..10 options until a height."""
    registered()
    text_ok("", question)
    need(is_list(options) and 2 <= len(options) <= MAX_OPTIONS, E_BAD_ARGUMENT, "2..10 options")
    for o in options:
        need(is_str(o) and 0 < len(o) <= 100, E_BAD_ARGUMENT, "options: 1..100 characters")
    need(is_int(closes) and closes > ctx.height, E_BAD_ARGUMENT, "closes must be a later height")
    limit("post", "posts_per_window")
    pid = storage.get("next_poll", 1)
    storage.set("next_poll", pid + 1)
    storage.set("poll:" + str(pid), {"id": pid, "question": question, "options": options, "closes": closes,
                                     "counts": [0 for o in options], "author": ctx.sender})
    emit("poll", {"id": pid, "closes": closes})
    return pid


def poll(id: int) -> dict:
    """A poll and its counts."""
    p = storage.get("poll:" + str(id))
    need(p is not None, E_BAD_ARGUMENT, "no such poll")
    return p


def poll_vote(id: int, option: int) -> list:
    """Vote once in an open poll."""
    registered()
    p = poll(id)
    need(ctx.height <= p["closes"], E_STATE, "the poll has closed")
    need(is_int(option) and 0 <= option < len(p["options"]), E_BAD_ARGUMENT, "no such option")
    key = "pv:" + str(id) + ":" + ctx.sender
    need(not storage.has(key), E_STATE, "one vote per poll")
    limit("react", "reactions_per_window")
    storage.set(key, option)
    p["counts"][option] = p["counts"][option] + 1
    storage.set("poll:" + str(id), p)
    return p["counts"]


def recommended(citizen: str) -> list:
    """Open proposals affecting ``citizen``: by its pilot report, or by a topic it follows."""
    out = []
    about = {}
    for t in storage.get("fl:" + citizen, []):
        p = storage.get("p:" + str(t))
        if p["proposal"] > 0:
            about[str(p["proposal"])] = t
    for pid in state.read("congress", "active", []):
        prop = state.read("congress", "prop:" + str(pid))
        rep = state.read("pilot", "report:" + str(pid))
        why = []
        if rep is not None and citizen in rep["accounts"]:
            why.append("pilot: your account would change by " + str(rep["accounts"][citizen]) + " fen")
        elif rep is not None and citizen in rep.get("subjects", []):
            why.append("the law it changes applied to you in its recent history")
        if str(pid) in about:
            why.append("you follow topic " + str(about[str(pid)]))
        if len(why) > 0:
            out.append({"proposal": pid, "title": prop["title"], "status": prop["status"], "why": why})
    return out
