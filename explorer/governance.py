"""The explorer's governance pages (declared in :data:`ROUTES`, served by :mod:`explorer.app`).

Two sources, like every page of the explorer:

* the **node**, for the current state of the governance laws: ``congress``
  (proposals, tallies with the constituents' reviews and voids, delegates,
  elections, recalls), ``forum`` (hot lists, posts, follows), ``assembly``
  and ``tickets`` — read with ``EvalLaw`` at the index's height, so a page
  shows the chain as far as the explorer has verified it.  When the node
  does not answer, a page still renders what the index knows, with a note;
* the **index**, for what no law view lists: the law events of every
  transaction (``law_events``/``law_refs`` in :mod:`explorer.index`) give a
  delegate's votes and the reviews of them, the elections held, the forum
  threads about a proposal, the assemblies convened for a topic and the work
  orders sent to each agency.

Every list is bounded (at most 100 rows a page, and a fixed number of law
evaluations per page); a malformed id is a 404, a malformed query a 400.
"""

from __future__ import annotations

import difflib

from .openapi import ANY, BOOL, INT, NINT, NSTR, STR, arr, obj, paged
from .routing import LIMIT, PAGE, Page, Param, PathParam
from .verify import plain
from .views import MAX_HEIGHT, BadRequest, Ctx, NotFound, check_address, page_of

STATUSES = ("gathering", "piloting", "voting", "accepted", "rejected", "adopted", "enacted", "failed", "cancelled",
            "expired", "blocked")
LAW_VIEW_MAX = 100  # congress.proposals returns at most this many
MAX_LISTED = 1000  # delegates/agencies gathered before paging
MAX_ROWS = 200  # votes, replies, tally rows shown on one page
MAX_DIFF = 200_000  # characters of a law diff shown


NODE_DOWN = "the node is not answering"


class NodeDown(Exception):
    """The node did not answer (or none is configured): pages render the index's part with a note."""


class LawRefused(Exception):
    """The law answered with an error (no such proposal, ...)."""


def law(ctx: Ctx, name: str, fn: str, args: dict | None = None):
    """``name.fn(args)`` evaluated by the node at the index's height, as plain JSON-able data."""
    if ctx.client is None:
        raise NodeDown("no node to ask")
    from ledger.codec import decode

    try:
        r = ctx.client.eval_law(name, fn, args or {}, height=ctx.index.height())
    except Exception as e:  # noqa: BLE001 - any failure of the node is a note on the page
        raise NodeDown(str(e)[:200]) from None
    if r.code != 0:
        v = decode(r.value) if r.value else None
        raise LawRefused(str(v.get("detail") if isinstance(v, dict) and v.get("detail") else r.error or r.code)[:200])
    return plain(decode(r.value)) if r.value else None


def _down(errors: list) -> bool:
    return bool(errors) and errors[0].startswith(NODE_DOWN)


def _node(ctx: Ctx, errors: list, name: str, fn: str, args: dict | None = None, default=None):
    """``law(...)``, or ``default`` with the reason noted in ``errors`` (once the node has failed on
    this page, it is not asked again: a hung node costs one timeout, not one per row)."""
    if _down(errors):
        return default
    try:
        return law(ctx, name, fn, args)
    except NodeDown as e:
        errors.insert(0, f"{NODE_DOWN}: {e}")
        return default
    except LawRefused as e:
        errors.append(f"{name}.{fn}: {e}")
        return default


def _name(ctx: Ctx, address) -> str:
    if not isinstance(address, str):
        return ""
    n = ctx.index.name_of(address)
    return n["name"] if n else ""


def _bound_id(i: int, what: str) -> int:
    if not 1 <= i <= MAX_HEIGHT:
        raise NotFound(f"no {what} {i}")
    return i


def _error(errors: list) -> str | None:
    return "; ".join(errors)[:400] if errors else None


# ---- proposals ---------------------------------------------------------------------------


def _summary(p: dict) -> dict:
    return {"id": p["id"], "class": p["class"], "title": p["title"], "status": p["status"], "proposer": p["proposer"],
            "closes": p.get("closes", 0), "enact_at": p.get("enact_at", 0)}


def proposals(ctx: Ctx, status: str, page: int, limit: int) -> dict:
    status = status.strip()
    if status and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    errors: list = []
    newest = _node(ctx, errors, "congress", "proposals", {"status": status}, default=None)
    off = (page - 1) * limit
    items: list = []
    total = 0
    if newest is None:  # the node is down: the proposals the index saw submitted
        total = ctx.index.law_events_count("congress", ("proposed", "urgent"))
        for e in ctx.index.law_events("congress", ("proposed", "urgent"), off, limit):
            d = e["data"] if isinstance(e["data"], dict) else {}
            items.append({"id": d.get("id"), "class": d.get("class", "role"), "title": d.get("title", ""),
                          "status": "?", "proposer": d.get("proposer", ""), "closes": 0,
                          "enact_at": d.get("enact_at", 0)})
    elif status:  # the law lists the newest 100 with that status
        total = len(newest)
        items = [_summary(p) for p in newest[off:off + limit]]
    else:
        top = newest[0]["id"] if newest else 0
        total = top
        if off + limit <= len(newest) or len(newest) < LAW_VIEW_MAX:
            items = [_summary(p) for p in newest[off:off + limit]]
        else:  # older than the law's list: one evaluation per proposal on this page
            for pid in range(top - off, max(0, top - off - limit), -1):
                p = _node(ctx, errors, "congress", "proposal", {"id": pid})
                if p is not None:
                    items.append(_summary(p))
    for it in items:
        it["proposer_name"] = _name(ctx, it["proposer"])
    return {**page_of(items, page, limit, total), "status": status, "statuses": list(STATUSES),
            "height": ctx.index.height(), "error": _error(errors)}


def _diff(ctx: Ctx, errors: list, p: dict) -> tuple[str | None, str | None]:
    """(law name, unified diff of the proposed source against the one in force when it was proposed)."""
    if p["class"] not in ("amend", "params"):
        return None, None
    name = p["payload"].get("law") if isinstance(p.get("payload"), dict) else None
    new = _node(ctx, errors, "congress", "source", {"id": p["id"]}, default=None)
    if not isinstance(name, str) or not isinstance(new, str):
        return name, None
    old = ""
    try:
        old = ctx.client.get_law(name, height=max(1, p.get("proposed_at", 0))).source
    except Exception:  # noqa: BLE001 - a new law: nothing in force before
        old = ""
    d = "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                     f"{name} (in force at {p.get('proposed_at', 0)})", f"{name} (proposal {p['id']})",
                                     n=3))
    return name, d[:MAX_DIFF]


def _pilot(ctx: Ctx, errors: list, p: dict) -> dict | None:
    if p["class"] not in ("amend", "params"):
        return None
    out = {"ok": None, "hash": None, "reason": "", "totals": {}, "accounts": [], "values": [], "kinds": {}}
    if isinstance(p.get("pilot"), dict):
        out.update({"ok": p["pilot"].get("ok"), "hash": p["pilot"].get("hash"), "reason": p["pilot"].get("reason", "")})
    try:
        from ledger.codec import decode

        r = ctx.client.state(("pilot_report", p["id"]), height=ctx.index.height())
        rep = plain(decode(r.value)) if r.exists else None
    except Exception as e:  # noqa: BLE001
        errors.append(f"pilot report: {str(e)[:100]}")
        rep = None
    if not isinstance(rep, dict):
        return out if out["ok"] is not None else None
    accounts = rep.get("accounts") if isinstance(rep.get("accounts"), dict) else {}
    rows = sorted(accounts.items(), key=lambda kv: (-abs(kv[1].get("diff", 0)) if isinstance(kv[1], dict) else 0, kv[0]))
    out.update({"ok": rep.get("ok"), "reason": rep.get("reason", ""), "totals": rep.get("totals") or {},
                "kinds": rep.get("kinds") or {},
                "accounts": [{"address": a, "name": _name(ctx, a), "old": r.get("old"), "new": r.get("new"),
                              "diff": r.get("diff")} for a, r in rows[:50] if isinstance(r, dict)],
                "values": [{"entry": v.get("entry"), "args": v.get("args"), "old": v.get("old"), "new": v.get("new")}
                           for v in (rep.get("values") or [])[:50] if isinstance(v, dict)]})
    return out


def vote_rows(ctx: Ctx, p: dict, tally: dict | None) -> list[dict]:
    """Each delegate's vote with the constituents' review counts and whether it is void."""
    snap = p.get("snapshot") or {}
    void = set((tally or {}).get("void") or [])
    rows = []
    for d, v in sorted((p.get("votes") or {}).items(), key=lambda kv: (kv[1].get("h", 0), kv[0]))[:MAX_ROWS]:
        cid = (snap.get("delegates") or {}).get(d, "")
        members = (snap.get("members") or {}).get(cid, 0)
        opp, sup = ((p.get("reviews") or {}).get(d) or [0, 0])[:2]
        rows.append({"delegate": d, "name": _name(ctx, d), "constituency": cid, "vote": v.get("v"),
                     "height": v.get("h"), "review_until": v.get("review_until"), "oppose": opp, "support": sup,
                     "members": members, "void": d in void or opp * 2 > members,
                     "review_open": ctx.index.height() <= (v.get("review_until") or 0)})
    return rows


def proposal(ctx: Ctx, pid: int) -> dict:
    pid = _bound_id(pid, "proposal")
    errors: list = []
    events = ctx.index.law_events("congress", (), 0, 50, kind="proposal", ref=str(pid))
    threads = [{"id": e["data"].get("id"), "title": e["data"].get("title", ""), "author": e["data"].get("author", ""),
                "height": e["height"]}
               for e in ctx.index.law_events("forum", ("posted",), 0, 20, kind="proposal", ref=str(pid))
               if isinstance(e["data"], dict)]
    try:
        p = law(ctx, "congress", "proposal", {"id": pid})
    except LawRefused as e:
        raise NotFound(f"no proposal {pid}: {e}") from None
    except NodeDown as e:
        found = ctx.index.law_events("congress", ("proposed", "urgent"), 0, 1, kind="proposal", ref=str(pid),
                                     oldest_first=True)
        first = found[0] if found else None
        if first is None:
            raise NotFound(f"no proposal {pid} in the index (and the node is not answering)") from None
        d = first["data"]
        p = {"id": pid, "class": d.get("class", "role"), "title": d.get("title", ""), "text": "", "status": "?",
             "proposer": d.get("proposer", ""), "proposed_at": first["height"], "payload": {}, "votes": {},
             "reviews": {}, "result": {}}
        errors.append(f"{NODE_DOWN}: {e}")
    if not isinstance(p, dict):
        raise NotFound(f"no proposal {pid}")
    tally = p.get("result") if p.get("result") and "yes" in p.get("result", {}) else None
    law_name, diff = _diff(ctx, errors, p) if ctx.client is not None and p.get("payload") else (None, None)
    payload = {k: v for k, v in (p.get("payload") or {}).items() if k not in ("source", "scenario")}
    info = {k: p.get(k) for k in ("id", "class", "title", "text", "status", "proposer", "proposed_at", "opened",
                                  "vote_end", "closes", "enact_at", "cosigns", "cosign_need", "cosign_until")}
    info["proposer_name"] = _name(ctx, p.get("proposer"))
    info["payload"] = payload
    return {"proposal": info, "tally": tally, "votes": vote_rows(ctx, p, tally), "law": law_name, "diff": diff,
            "pilot": _pilot(ctx, errors, p) if ctx.client is not None and not _down(errors) else None,
            "threads": threads,
            "events": events, "void_rule": "a delegate's vote is void when oppose x 2 > the members of the "
                                           "constituency at the snapshot",
            "height": ctx.index.height(), "error": _error(errors)}


# ---- delegates -------------------------------------------------------------------------


def delegates(ctx: Ctx, page: int, limit: int) -> dict:
    errors: list = []
    sitting = _node(ctx, errors, "congress", "delegates", default={}) or {}
    consts = _node(ctx, errors, "congress", "constituencies", default={}) or {}
    rows = {}
    for a, d in sorted(sitting.items())[:MAX_LISTED]:
        cid = d.get("c", "")
        rows[a] = {"address": a, "constituency": cid, "constituency_name": (consts.get(cid) or {}).get("name", ""),
                   "since": d.get("since"), "until": d.get("until"), "sitting": True,
                   "suspended": bool(d.get("suspended")) and d.get("suspended_until", 0) > ctx.index.height()}
    for r in ctx.index.law_refs("delegate", 0, MAX_LISTED):  # former delegates, recalled or whose term ended
        rows.setdefault(r["ref"], {"address": r["ref"], "constituency": "", "constituency_name": "", "since": None,
                                   "until": None, "sitting": False, "suspended": False})
    ordered = sorted(rows.values(), key=lambda x: (not x["sitting"], x["constituency"], x["address"]))
    off = (page - 1) * limit
    items = ordered[off:off + limit]
    for it in items:
        if not it["sitting"] and not _down(errors):  # a former delegate: the constituency they still belong to
            cid = _node(ctx, errors, "congress", "constituency_of", {"citizen": it["address"]}, default="") or ""
            it["constituency"], it["constituency_name"] = cid, (consts.get(cid) or {}).get("name", "")
        it["name"] = _name(ctx, it["address"])
        it["votes"] = ctx.index.law_events_count("congress", ("voted",), kind="delegate", ref=it["address"])
    return {**page_of(items, page, limit, len(ordered)), "constituencies": [
        {"id": k, "name": v.get("name", ""), "members": v.get("members", 0)} for k, v in sorted(consts.items())],
        "height": ctx.index.height(), "error": _error(errors)}


def delegate(ctx: Ctx, address: str, page: int, limit: int) -> dict:
    addr = check_address(address)
    errors: list = []
    sitting = _node(ctx, errors, "congress", "delegates", default=None)
    known = ctx.index.law_events_count("congress", (), kind="delegate", ref=addr)
    rec = (sitting or {}).get(addr)
    if rec is None and known == 0:
        raise NotFound(f"{addr} is not a delegate" + (" (the node is not answering)" if sitting is None else ""))
    consts = _node(ctx, errors, "congress", "constituencies", default={}) or {}
    cid = rec.get("c", "") if rec else (_node(ctx, errors, "congress", "constituency_of", {"citizen": addr}, "") or "")
    total = ctx.index.law_events_count("congress", ("voted",), kind="delegate", ref=addr)
    record = []
    props: dict = {}
    for e in ctx.index.law_events("congress", ("voted",), (page - 1) * limit, limit, kind="delegate", ref=addr):
        d = e["data"] if isinstance(e["data"], dict) else {}
        pid = d.get("id")
        if pid not in props and isinstance(pid, int):
            props[pid] = _node(ctx, errors, "congress", "proposal", {"id": pid})
        p = props.get(pid)
        row = {"proposal": pid, "title": "", "class": "", "status": "", "vote": d.get("vote"), "height": e["height"],
               "tx_hash": e["tx_hash"], "review_until": d.get("review_until"), "oppose": None, "support": None,
               "members": None, "void": None}
        if isinstance(p, dict):
            tally = p.get("result") if p.get("result") and "yes" in p.get("result", {}) else None
            mine = next((v for v in vote_rows(ctx, p, tally) if v["delegate"] == addr), None)
            row.update({"title": p.get("title", ""), "class": p.get("class", ""), "status": p.get("status", "")})
            if mine:
                row.update({k: mine[k] for k in ("oppose", "support", "members", "void")})
        record.append(row)
    reviews = [{"proposal": e["data"].get("id"), "citizen": e["data"].get("citizen"), "stance": e["data"].get("stance"),
                "height": e["height"], "tx_hash": e["tx_hash"], "counts": e["data"].get("counts")}
               for e in ctx.index.law_events("congress", ("reviewed",), 0, 50, kind="delegate", ref=addr)
               if isinstance(e["data"], dict)]
    recall = _node(ctx, errors, "congress", "recall", {"delegate": addr}, default=None)
    recall_events = [{"name": e["name"], "height": e["height"], "tx_hash": e["tx_hash"], "data": e["data"]}
                     for e in ctx.index.law_events("congress", ("recall_signed", "recall_vote_open", "recall_voted",
                                                                "recall_result", "suspended"), 0, 50,
                                                   kind="delegate", ref=addr)]
    elections = [{"election": e["data"].get("election"), "height": e["height"]}
                 for e in ctx.index.law_events("congress", ("elected",), 0, 20, kind="delegate", ref=addr)
                 if isinstance(e["data"], dict)]
    info = {"address": addr, "name": _name(ctx, addr), "sitting": rec is not None, "constituency": cid,
            "constituency_name": (consts.get(cid) or {}).get("name", ""),
            "members": (consts.get(cid) or {}).get("members"), "since": rec.get("since") if rec else None,
            "until": rec.get("until") if rec else None, "suspended": bool(rec and rec.get("suspended")),
            "suspended_until": rec.get("suspended_until") if rec else None}
    return {"delegate": info, "record": page_of(record, page, limit, total), "reviews": reviews,
            "recall": recall or None, "recall_events": recall_events, "elections": elections,
            "height": ctx.index.height(), "error": _error(errors)}


# ---- elections -------------------------------------------------------------------------


def elections(ctx: Ctx, page: int, limit: int) -> dict:
    errors: list = []
    total = ctx.index.law_events_count("congress", ("election_open",))
    items = []
    for e in ctx.index.law_events("congress", ("election_open",), (page - 1) * limit, limit):
        d = e["data"] if isinstance(e["data"], dict) else {}
        row = {"id": d.get("id"), "constituency": d.get("constituency", ""), "seats": d.get("seats"),
               "kind": d.get("kind", ""), "opened": e["height"], "closes": d.get("closes"), "status": "",
               "ballots": None, "elected": []}
        if isinstance(d.get("id"), int):
            x = _node(ctx, errors, "congress", "election", {"id": d["id"]})
            if isinstance(x, dict):
                row.update({"status": x.get("status", ""), "ballots": x.get("ballots"),
                            "elected": list(x.get("elected") or [])})
        items.append(row)
    return {**page_of(items, page, limit, total), "height": ctx.index.height(), "error": _error(errors)}


def election(ctx: Ctx, eid: int) -> dict:
    eid = _bound_id(eid, "election")
    errors: list = []
    try:
        e = law(ctx, "congress", "election", {"id": eid})
    except LawRefused as x:
        raise NotFound(f"no election {eid}: {x}") from None
    except NodeDown as x:
        ev = ctx.index.law_events("congress", ("election_open",), 0, 1, kind="election", ref=str(eid))
        if not ev:
            raise NotFound(f"no election {eid} in the index (and the node is not answering)") from None
        d = ev[0]["data"]
        e = {"id": eid, "constituency": d.get("constituency", ""), "seats": d.get("seats"), "kind": d.get("kind", ""),
             "opened": ev[0]["height"], "closes": d.get("closes"), "tally": {}, "ballots": 0, "status": "?",
             "elected": [], "members": 0}
        errors.append(f"{NODE_DOWN}: {x}")
    tally = sorted(((e.get("tally") or {}).items()), key=lambda kv: (-kv[1], kv[0]))[:MAX_ROWS]
    elected = list(e.get("elected") or [])
    info = {k: e.get(k) for k in ("id", "constituency", "seats", "kind", "opened", "closes", "ballots", "status",
                                  "members", "turnout_bps")}
    return {"election": info,
            "candidates": [{"address": a, "name": _name(ctx, a), "votes": n, "elected": a in elected} for a, n in tally],
            "elected": [{"address": a, "name": _name(ctx, a)} for a in elected],
            "height": ctx.index.height(), "error": _error(errors)}


# ---- forum and assemblies ------------------------------------------------------------------


def _assembly_for(ctx: Ctx, errors: list, topic: int) -> dict | None:
    ev = ctx.index.law_events("assembly", ("assembly_convened",), 0, 1, kind="post", ref=str(topic))
    if not ev or not isinstance(ev[0]["data"], dict) or not isinstance(ev[0]["data"].get("id"), int):
        return None
    aid = ev[0]["data"]["id"]
    a = _node(ctx, errors, "assembly", "get", {"id": aid})
    if not isinstance(a, dict):
        return {"id": aid, "topic": topic, "status": "?", "members": [], "seats": None, "closes": None, "until": None,
                "ballots": None, "resolutions": None}
    return {k: a.get(k) for k in ("id", "topic", "status", "members", "seats", "opened", "closes", "until", "ballots",
                                  "resolutions")}


def forum(ctx: Ctx) -> dict:
    errors: list = []
    hot = _node(ctx, errors, "forum", "hot", default=[]) or []
    opposed = _node(ctx, errors, "forum", "most_opposed", default=[]) or []
    recent = [{"id": e["data"].get("id"), "title": e["data"].get("title", ""), "author": e["data"].get("author", ""),
               "height": e["height"]}
              for e in ctx.index.law_events("forum", ("posted",), 0, 20) if isinstance(e["data"], dict)]
    assemblies = []
    for e in ctx.index.law_events("assembly", ("assembly_convened",), 0, 20):
        d = e["data"] if isinstance(e["data"], dict) else {}
        a = _node(ctx, errors, "assembly", "get", {"id": d.get("id")}) if isinstance(d.get("id"), int) else None
        assemblies.append({"id": d.get("id"), "topic": d.get("topic"), "convened": e["height"],
                           "status": (a or {}).get("status", "?"), "members": list((a or {}).get("members") or []),
                           "until": (a or {}).get("until")})
    keys = ("id", "title", "score", "support", "oppose")
    return {"hot": [{k: x.get(k) for k in keys} for x in hot[:LAW_VIEW_MAX]],
            "most_opposed": [{k: x.get(k) for k in keys} for x in opposed[:LAW_VIEW_MAX]],
            "recent": recent, "assemblies": assemblies, "height": ctx.index.height(), "error": _error(errors)}


def forum_post(ctx: Ctx, post: int, page: int, limit: int) -> dict:
    pid = _bound_id(post, "post")
    errors: list = []
    try:
        p = law(ctx, "forum", "get", {"id": pid})
    except LawRefused as x:
        raise NotFound(f"no post {pid}: {x}") from None
    except NodeDown as x:
        ev = ctx.index.law_events("forum", ("posted", "replied"), 0, 1, kind="post", ref=str(pid), oldest_first=True)
        if not ev:
            raise NotFound(f"no post {pid} in the index (and the node is not answering)") from None
        d = ev[0]["data"]
        p = {"id": pid, "parent": d.get("to", 0), "author": d.get("author", ""), "title": d.get("title", ""),
             "text": "", "height": ev[0]["height"], "support": None, "oppose": None, "replies": None,
             "followers": None, "proposal": 0}
        errors.append(f"{NODE_DOWN}: {x}")
    info = {k: p.get(k) for k in ("id", "parent", "author", "title", "text", "height", "support", "oppose", "replies",
                                  "followers", "proposal")}
    info["author_name"] = _name(ctx, p.get("author"))
    replies: list = []
    triggers = None
    assembly = None
    if not _down(errors):
        rs = _node(ctx, errors, "forum", "replies", {"id": pid}, default=[]) or []
        replies = [{k: r.get(k) for k in ("id", "author", "text", "height", "support", "oppose")}
                   for r in rs if isinstance(r, dict)]
        if p.get("parent", 0) == 0:
            triggers = _node(ctx, errors, "forum", "triggers_assembly", {"topic": pid})
    if p.get("parent", 0) == 0:
        assembly = _assembly_for(ctx, errors, pid)
    off = (page - 1) * limit
    return {"post": info, "replies": page_of(replies[off:off + limit], page, limit, len(replies)),
            "triggers_assembly": triggers, "assembly": assembly, "height": ctx.index.height(), "error": _error(errors)}


# ---- agencies and work orders ---------------------------------------------------------------


def _perf(s: dict | None) -> dict:
    s = s if isinstance(s, dict) else {}
    out = {k: s.get(k, 0) for k in ("opened", "responded", "overdue", "escalated", "response_blocks", "ratings",
                                    "rating_sum")}
    # means without floats: whole blocks, and the rating in hundredths (rendered as 4.25)
    out["mean_response_blocks"] = out["response_blocks"] // out["responded"] if out["responded"] else None
    out["mean_rating_x100"] = out["rating_sum"] * 100 // out["ratings"] if out["ratings"] else None
    return out


def agencies(ctx: Ctx, page: int, limit: int) -> dict:
    errors: list = []
    seen = {r["ref"] for r in ctx.index.law_refs("agency", 0, MAX_LISTED)}
    seen |= {n["address"] for n in ctx.index.names_of_kind("agency", MAX_LISTED)}
    ordered = sorted(seen)
    off = (page - 1) * limit
    items = []
    for a in ordered[off:off + limit]:
        s = _node(ctx, errors, "tickets", "stats", {"account": a})
        items.append({"address": a, "name": _name(ctx, a),
                      "work_orders": ctx.index.law_events_count("tickets", ("ticket_opened", "ticket_escalated"),
                                                                kind="agency", ref=a),
                      **_perf(s), "stats_known": s is not None})
    return {**page_of(items, page, limit, len(ordered)), "height": ctx.index.height(), "error": _error(errors)}


def agency(ctx: Ctx, address: str, page: int, limit: int) -> dict:
    addr = check_address(address)
    errors: list = []
    names = ("ticket_opened", "ticket_escalated")
    total = ctx.index.law_events_count("tickets", names, kind="agency", ref=addr)
    n = ctx.index.name_of(addr)
    if total == 0 and not (n and n["kind"] == "agency"):
        raise NotFound(f"{addr} is not an agency with work orders in the index")
    stats = _node(ctx, errors, "tickets", "stats", {"account": addr})
    orders = []
    for e in ctx.index.law_events("tickets", names, (page - 1) * limit, limit, kind="agency", ref=addr):
        d = e["data"] if isinstance(e["data"], dict) else {}
        row = {"id": d.get("id"), "event": e["name"], "height": e["height"], "tx_hash": e["tx_hash"],
               "kind": d.get("kind", ""), "due": d.get("due"), "opener": "", "status": "", "overdue": None,
               "responded_at": None, "response_blocks": None, "rating": None, "text": "", "response": "", "by": ""}
        t = _node(ctx, errors, "tickets", "ticket", {"id": d["id"]}) if isinstance(d.get("id"), int) else None
        if isinstance(t, dict):
            responded = t.get("responded_at") or 0
            row.update({"kind": t.get("kind", row["kind"]), "opener": t.get("opener", ""), "status": t.get("status", ""),
                        "overdue": t.get("overdue"), "responded_at": responded or None,
                        "response_blocks": responded - t.get("opened", 0) if responded else None,
                        "rating": t.get("rating") or None, "text": t.get("text", ""), "response": t.get("response", ""),
                        "by": t.get("by", ""), "agency_now": t.get("agency", "")})
        orders.append(row)
    return {"agency": {"address": addr, "name": n["name"] if n else "", **_perf(stats), "stats_known": stats is not None},
            "work_orders": page_of(orders, page, limit, total), "height": ctx.index.height(), "error": _error(errors)}


# ---- CSV twins -------------------------------------------------------------------------------


def _csv(keys: list, items: list) -> list[list]:
    return [keys] + [["" if x.get(k) is None else x.get(k) for k in keys] for x in items]


def _proposals_csv(d: dict) -> list[list]:
    return _csv(["id", "class", "status", "title", "proposer", "closes", "enact_at"], d["items"])


def _delegates_csv(d: dict) -> list[list]:
    return _csv(["address", "name", "constituency", "sitting", "since", "until", "votes"], d["items"])


def _delegate_csv(d: dict) -> list[list]:
    return _csv(["proposal", "title", "class", "status", "vote", "height", "oppose", "support", "members", "void",
                 "tx_hash"], d["record"]["items"])


def _proposal_csv(d: dict) -> list[list]:
    return _csv(["delegate", "name", "constituency", "vote", "height", "review_until", "oppose", "support", "members",
                 "void"], d["votes"])


def _elections_csv(d: dict) -> list[list]:
    return _csv(["id", "constituency", "kind", "seats", "opened", "closes", "status", "ballots"], d["items"])


def _forum_csv(d: dict) -> list[list]:
    rows = [["list", "id", "title", "score", "support", "oppose"]]
    for lst in ("hot", "most_opposed"):
        rows += [[lst, x["id"], x["title"], x["score"], x["support"], x["oppose"]] for x in d[lst]]
    return rows


def _agencies_csv(d: dict) -> list[list]:
    return _csv(["address", "name", "work_orders", "opened", "responded", "overdue", "escalated",
                 "mean_response_blocks", "ratings", "rating_sum"], d["items"])


def _agency_csv(d: dict) -> list[list]:
    return _csv(["id", "event", "height", "kind", "opener", "status", "overdue", "due", "responded_at",
                 "response_blocks", "rating", "tx_hash"], d["work_orders"]["items"])


# ---- response shapes and routes ---------------------------------------------------------------

ERR = {"error": NSTR, "height": INT}


def paged_with(items: dict, extra: dict) -> dict:
    """A page of ``items`` (every field of :func:`openapi.paged` required) with more fields."""
    p = paged(items)
    return obj({**{k: p["properties"][k] for k in p["required"]}, **extra})


PROPOSAL_ROW = obj({"id": INT, "class": STR, "title": STR, "status": STR, "proposer": STR, "closes": INT,
                    "enact_at": INT})
VOTE = obj({"delegate": STR, "name": STR, "constituency": STR, "vote": STR, "height": INT, "review_until": INT,
            "oppose": INT, "support": INT, "members": INT, "void": BOOL, "review_open": BOOL})
TALLY = {"nullable": True, **obj({"seats": INT, "yes": INT, "no": INT, "abstain": INT, "void": arr(STR), "counted": INT,
                                  "quorum_bps": INT, "threshold_bps": INT, "quorum_ok": BOOL, "accepted": BOOL,
                                  "final": BOOL})}
EVENT = obj({"height": INT, "idx": INT, "seq": INT, "law": STR, "name": STR, "tx_hash": STR, "data": ANY})
POST_ROW = obj({"id": INT, "title": STR, "author": STR, "height": INT})
RANKED = obj({"id": INT, "title": STR, "score": INT, "support": INT, "oppose": INT})
PERF = {"opened": INT, "responded": INT, "overdue": INT, "escalated": INT, "response_blocks": INT, "ratings": INT,
        "rating_sum": INT, "mean_response_blocks": NINT, "mean_rating_x100": NINT, "stats_known": BOOL}
ASSEMBLY = {"nullable": True, **obj({"id": INT, "status": STR, "members": arr(STR)})}

S_PROPOSALS = paged_with(PROPOSAL_ROW, {"status": STR, "statuses": arr(STR), **ERR})
S_PROPOSAL = obj({"proposal": obj({"id": INT, "class": STR, "title": STR, "status": STR, "proposer": STR,
                                   "proposed_at": INT, "payload": ANY}),
                  "tally": TALLY, "votes": arr(VOTE), "law": NSTR, "diff": NSTR,
                  "pilot": {"nullable": True, **obj({"ok": {"type": "boolean", "nullable": True}, "hash": NSTR,
                                                     "reason": STR, "accounts": arr(ANY), "values": arr(ANY)})},
                  "threads": arr(POST_ROW), "events": arr(EVENT), "void_rule": STR, **ERR})
S_DELEGATES = paged_with(obj({"address": STR, "name": STR, "constituency": STR, "sitting": BOOL, "votes": INT,
                                "suspended": BOOL}), {"constituencies": arr(ANY), **ERR})
RECORD = obj({"proposal": INT, "title": STR, "class": STR, "status": STR, "vote": STR, "height": INT, "tx_hash": STR,
              "oppose": NINT, "support": NINT, "members": NINT, "void": {"type": "boolean", "nullable": True}})
S_DELEGATE = obj({"delegate": obj({"address": STR, "name": STR, "sitting": BOOL, "constituency": STR,
                                   "constituency_name": STR, "members": NINT, "since": NINT, "until": NINT}),
                  "record": paged(RECORD), "reviews": arr(obj({"proposal": INT, "citizen": STR, "stance": STR,
                                                                "height": INT, "tx_hash": STR})),
                  "recall": {"nullable": True, "type": "object"}, "recall_events": arr(ANY), "elections": arr(ANY),
                  **ERR})
S_ELECTIONS = paged_with(obj({"id": INT, "constituency": STR, "kind": STR, "opened": INT, "status": STR,
                                "elected": arr(STR)}), {**ERR})
S_ELECTION = obj({"election": obj({"id": INT, "constituency": STR, "seats": INT, "kind": STR, "status": STR,
                                   "ballots": INT}),
                  "candidates": arr(obj({"address": STR, "name": STR, "votes": INT, "elected": BOOL})),
                  "elected": arr(obj({"address": STR, "name": STR})), **ERR})
S_FORUM = obj({"hot": arr(RANKED), "most_opposed": arr(RANKED), "recent": arr(POST_ROW),
               "assemblies": arr(obj({"id": INT, "topic": INT, "convened": INT, "status": STR, "members": arr(STR)})),
               **ERR})
S_POST = obj({"post": obj({"id": INT, "parent": INT, "author": STR, "title": STR, "text": STR, "height": INT,
                           "support": NINT, "oppose": NINT, "followers": NINT, "proposal": INT}),
              "replies": paged(obj({"id": INT, "author": STR, "text": STR, "height": INT})),
              "triggers_assembly": {"type": "boolean", "nullable": True}, "assembly": ASSEMBLY, **ERR})
S_AGENCIES = paged_with(obj({"address": STR, "name": STR, "work_orders": INT, **PERF}), {**ERR})
ORDER = obj({"id": INT, "event": STR, "height": INT, "tx_hash": STR, "kind": STR, "opener": STR, "status": STR,
             "responded_at": NINT, "response_blocks": NINT, "rating": NINT})
S_AGENCY = obj({"agency": obj({"address": STR, "name": STR, **PERF}), "work_orders": paged(ORDER), **ERR})

STATUS_PARAM = Param("status", kind="str", default="", max_len=16, doc="only proposals with this status")

ROUTES: list[Page] = [
    Page("/proposals", proposals, "gov_proposals.html", "Congress proposals, newest first (filter by status)",
         (STATUS_PARAM, PAGE, LIMIT), csv=_proposals_csv, schema=S_PROPOSALS),
    Page("/proposals/{pid:int}", proposal, "gov_proposal.html",
         "A proposal: text, law diff, pilot report, delegate votes with the constituents' reviews and voids, tally",
         (), (PathParam("pid", "int", "proposal number"),), csv=_proposal_csv, schema=S_PROPOSAL),
    Page("/delegates", delegates, "gov_delegates.html", "Delegates: sitting and former, constituency and seat",
         (PAGE, LIMIT), csv=_delegates_csv, schema=S_DELEGATES),
    Page("/delegates/{address}", delegate, "gov_delegate.html",
         "A delegate: voting record (voids included), reviews received, recall petitions", (PAGE, LIMIT),
         (PathParam("address", "address", "the delegate's address (esc1...)"),), csv=_delegate_csv,
         schema=S_DELEGATE),
    Page("/elections", elections, "gov_elections.html", "Congress elections, newest first", (PAGE, LIMIT),
         csv=_elections_csv, schema=S_ELECTIONS),
    Page("/elections/{eid:int}", election, "gov_election.html", "An election: candidates, votes, elected, turnout",
         (), (PathParam("eid", "int", "election number"),), schema=S_ELECTION),
    Page("/forum", forum, "gov_forum.html", "The forum: hot and most-opposed topics, recent posts, assemblies",
         csv=_forum_csv, schema=S_FORUM),
    Page("/forum/{post:int}", forum_post, "gov_post.html",
         "A forum post: replies, support and oppose, followers, the assembly it triggered", (PAGE, LIMIT),
         (PathParam("post", "int", "post number"),), schema=S_POST),
    Page("/agencies", agencies, "gov_agencies.html", "Agencies: work orders, response times and ratings",
         (PAGE, LIMIT), csv=_agencies_csv, schema=S_AGENCIES),
    Page("/agencies/{address}", agency, "gov_agency.html", "An agency's work orders with response times and ratings",
         (PAGE, LIMIT), (PathParam("address", "address", "the agency's address (esc1...)"),), csv=_agency_csv,
         schema=S_AGENCY),
]
