"""What each page shows, as plain data: one function per page, shared by the
HTML page and its JSON twin under ``/api/``.

A view takes the :class:`Ctx` and the already-checked parameters and returns
a dict, or raises :class:`NotFound` / :class:`BadRequest` with a reason.
Every list is bounded by the ``limit`` its parameter allows.
"""

from __future__ import annotations

import ast
import difflib
import json
import re

from ledger.constexpr import constant
from ledger.address import AddressError, decode_address, encode_address

from .index import Index

MAX_HEIGHT = 2**62
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
LAW_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class NotFound(Exception):
    pass


class BadRequest(Exception):
    pass


class Ctx:
    """What the views read: the index, and the node for live values (balances, validators)."""

    def __init__(self, index: Index, client=None, follower=None, pin=None):
        self.index = index
        self.client = client
        self.follower = follower
        self.pin = pin  # the operator's GenesisPin (explorer.verify), or None: the node's genesis trusted on first use


def page_of(items: list, page: int, limit: int, total: int | None = None) -> dict:
    out = {"items": items, "page": page, "limit": limit,
           "next_page": page + 1 if len(items) == limit and (total is None or page * limit < total) else None,
           "prev_page": page - 1 if page > 1 else None}
    if total is not None:
        out["total"] = total
    return out


# ---- home, blocks, transactions --------------------------------------------------------


def status(ctx: Ctx) -> dict:
    ix = ctx.index
    out = {"chain_id": ix.get_meta("chain_id"), "genesis_hash": ix.get_meta("genesis_hash"),
           "indexed_height": ix.height(), **ix.counts()}
    f = ctx.follower
    out["following"] = bool(f and f.connected)
    out["follow_error"] = f.error if f else None
    pin = ctx.pin if ctx.pin is not None else getattr(f, "pin", None)
    out["genesis_pinned"] = pin is not None
    out["genesis_pin"] = pin.describe() if pin is not None else None
    if pin is None:
        out["trust"] = ("genesis not pinned: the index trusts the genesis and first validator set of the node it "
                        "first followed (run with --genesis FILE to pin them)")
    elif pin.powers is None:
        out["trust"] = (f"genesis hash pinned ({pin.source}); the first validator set is the node's "
                        "(--genesis FILE pins it too)")
    else:
        out["trust"] = f"genesis pinned ({pin.source}): block 1 checked against its {len(pin.powers)} validator(s)"
    return out


def home(ctx: Ctx) -> dict:
    ix = ctx.index
    supply = ix.supply_by_month()
    return {"status": status(ctx), "blocks": ix.blocks(None, 10), "txs": ix.latest_txs(10),
            "supply": supply[-1]["supply"] if supply else 0,
            "tax_collected": sum(m["amount"] for m in ix.money_by_month("tax")),
            "welfare_paid": sum(m["amount"] for m in ix.money_by_month("welfare"))}


def blocks(ctx: Ctx, before: int | None, limit: int) -> dict:
    items = ctx.index.blocks(before, limit)
    nxt = items[-1]["height"] if len(items) == limit and items[-1]["height"] > 1 else None
    return {"items": items, "limit": limit, "before": before, "next_before": nxt}


def block(ctx: Ctx, height: int, page: int, limit: int) -> dict:
    if height < 1 or height > MAX_HEIGHT:
        raise NotFound(f"no block at height {height}")
    b = ctx.index.block(height)
    if b is None:
        raise NotFound(f"no block at height {height} in the index (indexed up to {ctx.index.height()})")
    txs = ctx.index.block_txs(height, (page - 1) * limit, limit)
    signers = ctx.index.r.query("SELECT validator FROM signatures WHERE height = ? ORDER BY validator", (height,))
    return {"block": b, "txs": page_of(txs, page, limit, b["tx_count"]),
            "signers": [r[0] for r in signers], "signers_known": ctx.index.height() > height}


def tx(ctx: Ctx, tx_hash: str) -> dict:
    if not HEX64.match(tx_hash):
        raise NotFound("a transaction hash is 64 hexadecimal digits")
    t = ctx.index.tx(tx_hash.lower())
    if t is None:
        raise NotFound(f"no transaction {tx_hash} in the index")
    laws = [e for e in t["events"] if isinstance(e, dict) and e.get("type") == "law"]
    taxes = [e["data"] for e in laws if e.get("name") == "tax_collected" and isinstance(e.get("data"), dict)]
    call = next((e for e in t["events"] if isinstance(e, dict) and e.get("type") == "call"), None)
    return {"tx": t, "summary": summary(t), "taxes": taxes, "call": call, "law_events": laws,
            "transfers": [e for e in t["events"] if isinstance(e, dict) and e.get("type") in ("transfer", "issue", "retire")]}


def summary(t: dict) -> str:
    """One plain sentence for a transaction (amounts in yuan)."""
    from .render import fen

    p = t["payload"] if isinstance(t["payload"], dict) else {}
    k = t["kind"]
    if k == "transfer":
        s = f"Transfer of {fen(p.get('amount'))} to {p.get('to')}" + (f" ({p['memo']})" if p.get("memo") else "")
    elif k == "issue":
        s = f"The central bank issues {fen(p.get('amount'))} to {p.get('to')}"
    elif k == "retire":
        s = f"The central bank retires {fen(p.get('amount'))}"
    elif k == "register":
        s = f"Registration of {p.get('account')} as {p.get('kind')}" + (f" named {p['name']}" if p.get("name") else "")
    elif k == "deregister":
        s = f"Deregistration of {p.get('account')}"
    elif k == "set_role":
        s = f"{'Grant' if p.get('grant') else 'Revocation'} of the {p.get('role')} role for {p.get('account')}"
    elif k == "set_validator":
        s = f"Validator {str(p.get('pubkey'))[:16]}… set to power {p.get('power')}"
    elif k == "call":
        s = f"Call of {p.get('contract')}.{p.get('entry')}"
    else:
        s = f"A {k} transaction"
    return s + ("" if t["code"] == 0 else f"; refused with {t['code_name']}, nothing but the nonce changed")


# ---- accounts -------------------------------------------------------------------------


def check_address(address: str) -> str:
    try:
        return encode_address(decode_address(address))
    except (AddressError, TypeError):
        raise NotFound(f"{address[:80]!r} is not an address") from None


def account(ctx: Ctx, address: str, page: int, limit: int) -> dict:
    addr = check_address(address)
    total = ctx.index.history_count(addr)
    live = None
    if ctx.client is not None:
        try:
            a = ctx.client.account(addr)
            live = {"exists": a.exists, "balance": a.balance, "nonce": a.nonce, "kind": a.kind,
                    "roles": list(a.roles), "name": a.name, "height": a.height}
        except Exception as e:  # the node is down: the indexed history still shows
            live = {"error": str(e)[:200]}
    if total == 0 and (live is None or not live.get("exists")):
        raise NotFound(f"no account {addr} on this chain")
    return {"address": addr, "account": live, "registered_name": ctx.index.name_of(addr),
            "history": page_of(ctx.index.history(addr, (page - 1) * limit, limit), page, limit, total),
            "taxes_paid": ctx.index.taxes_paid(addr), "benefits_used": ctx.index.benefits_used(addr),
            "coupons": coupons(ctx, addr)}


# ---- coupons and vouchers held ------------------------------------------------------------

ALLOCATION, WELFARE, AGENCY_ROLE = "allocation", "welfare", "planning_agency"
MAX_SCHEMES = 24  # allocation schemes asked about per account page (newest first)
AGENCY_SCAN = 500  # transactions of each planning-agency holder looked at for scheme openings
MAX_AGENCIES = 8


class _NodeError(Exception):
    pass


def _eval(ctx: Ctx, law: str, fn: str, args: dict, height: int):
    from ledger.codec import decode

    from .verify import plain

    r = ctx.client.eval_law(law, fn, args, height=height)
    if r.code != 0:
        raise _NodeError(f"{law}.{fn}: {r.error or r.code}")
    return plain(decode(r.value)) if r.value else None


def coupons(ctx: Ctx, addr: str) -> dict:
    """What ``addr`` holds of the allocation law's schemes (rations, queues, lotteries, priority
    grants, promotions) and of the welfare law's monthly vouchers, and what it used of each, as
    the laws' own views say at the indexed height.  The schemes are those opened in the planning
    agency's last :data:`AGENCY_SCAN` transactions (newest :data:`MAX_SCHEMES`)."""
    h = ctx.index.height()
    out: dict = {"height": h or None, "items": [], "error": None}
    has_alloc, has_welfare = bool(ctx.index.law_versions(ALLOCATION)), bool(ctx.index.law_versions(WELFARE))
    if h < 1 or not (has_alloc or has_welfare):
        return out
    if ctx.client is None:
        out["error"] = "no node to ask (the explorer serves its index only)"
        return out
    items = out["items"]
    try:
        citizen = None
        if has_welfare:
            citizen = _eval(ctx, WELFARE, "citizen", {"who": addr}, h)
            for kind, v in sorted((_eval(ctx, WELFARE, "vouchers", {"who": addr}, h) or {}).items()):
                if isinstance(v, dict) and (v.get("entitled") or v.get("used")):
                    items.append({"programme": "voucher", "id": kind, "good": kind, "price": None,
                                  "total": v.get("entitled", 0), "used": v.get("used", 0), "left": v.get("left", 0),
                                  "expires": None, "expired": False, "law": WELFARE})
        if has_alloc:
            for kind, sid in allocation_schemes(ctx, h)[:MAX_SCHEMES]:
                if kind == "promotion":
                    p = _eval(ctx, ALLOCATION, "promotion", {"promo_id": sid}, h)
                    if not isinstance(p, dict):
                        continue
                    used = _promotion_used(ctx, sid, addr, h)
                    active = isinstance(citizen, dict) and bool(citizen.get("active")) and bool(p.get("open"))
                    total = p.get("discount", 0) if active or used else 0
                    if not total and not used:
                        continue
                    items.append({"programme": "promotion", "id": sid, "good": p.get("good"), "price": None,
                                  "total": total, "used": used, "left": max(0, total - used) if active else 0,
                                  "expires": p.get("expires"), "expired": h > (p.get("expires") or 0),
                                  "law": ALLOCATION})
                    continue
                e = _eval(ctx, ALLOCATION, "entitlement", {"kind": kind, "sid": sid, "who": addr}, h)
                if not isinstance(e, dict) or not (e.get("total") or e.get("used")):
                    continue
                items.append({"programme": kind, "id": sid, "good": e.get("good"), "price": e.get("price"),
                              "total": e.get("total", 0), "used": e.get("used", 0), "left": e.get("left", 0),
                              "expires": e.get("expires"), "expired": h > (e.get("expires") or 0), "law": ALLOCATION})
    except Exception as e:  # the node is down or refuses: the rest of the page still shows
        out["error"] = str(e)[:200]
    return out


def _promotion_used(ctx: Ctx, sid: str, addr: str, height: int) -> int:
    from ledger.codec import decode

    r = ctx.client.state(("cstore", ALLOCATION, f"pu/{sid}/{addr}"), height=height)
    v = decode(r.value) if r.exists else 0
    return v if isinstance(v, int) and not isinstance(v, bool) else 0


def allocation_schemes(ctx: Ctx, height: int) -> list[tuple[str, str]]:
    """(kind, id) of the allocation schemes and promotions the planning agency opened, newest
    first: read from the index (each holder's last AGENCY_SCAN transactions), cached until a
    holder has a newer transaction."""
    from ledger.codec import decode

    r = ctx.client.state(("role_holders", AGENCY_ROLE), height=height)
    holders = decode(r.value) if r.exists else []
    agencies = sorted(encode_address(a) for a in holders if isinstance(a, bytes) and len(a) == 20)[:MAX_AGENCIES]
    ix = ctx.index
    key = tuple((a, ix.r.query("SELECT MAX(height) FROM history WHERE address = ?", (a,))[0][0]) for a in agencies)
    cached = getattr(ctx, "_schemes", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    found: list[tuple[int, int, int, str, str]] = []
    for a in agencies:
        rows = ix.r.query("SELECT t.height, t.idx, t.events FROM (SELECT tx_hash FROM history WHERE address = ? "
                          "ORDER BY height DESC, idx DESC LIMIT ?) h JOIN txs t ON t.hash = h.tx_hash "
                          "WHERE t.code = 0", (a, AGENCY_SCAN))
        for height_, idx, events in rows:
            try:
                evs = json.loads(events)
            except ValueError:
                continue
            for n, e in enumerate(evs if isinstance(evs, list) else []):
                if not (isinstance(e, dict) and e.get("type") == "law" and isinstance(e.get("data"), dict)):
                    continue
                d = e["data"]
                if d.get("law", ALLOCATION) != ALLOCATION:
                    continue
                if e.get("name") == "scheme_opened" and isinstance(d.get("scheme"), dict):
                    k, sid = d["scheme"].get("kind"), d["scheme"].get("id")
                elif e.get("name") == "promotion_opened" and isinstance(d.get("promotion"), dict):
                    k, sid = "promotion", d["promotion"].get("id")
                else:
                    continue
                if isinstance(k, str) and isinstance(sid, str):
                    found.append((int(height_), int(idx), n, k, sid))
    seen: set = set()
    out = []
    for *_, k, sid in sorted(found, reverse=True):
        if (k, sid) not in seen:
            seen.add((k, sid))
            out.append((k, sid))
    ctx._schemes = (key, out)
    return out


def account_csv_rows(ctx: Ctx, address: str, limit: int):
    addr = check_address(address)
    yield ["height", "index", "time_ms", "tx_hash", "kind", "counterparty", "delta_fen", "code"]
    done = 0
    while done < limit:
        rows = ctx.index.history(addr, done, min(500, limit - done))
        if not rows:
            return
        for r in rows:
            yield [r["height"], r["idx"], r["time_ms"], r["tx_hash"], r["kind"], r["counterparty"], r["delta"], r["code"]]
        done += len(rows)


# ---- laws -------------------------------------------------------------------------------


def laws(ctx: Ctx) -> dict:
    return {"items": ctx.index.laws()}


def params_table(source: str) -> list[dict]:
    """The law's ``PARAMS`` table (dated values with units and references), if it has one."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return []
    names: dict = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)):
            continue
        try:
            names[node.targets[0].id] = constant(node.value, names)
        except (ValueError, RecursionError, TypeError):
            continue
        if node.targets[0].id == "PARAMS":
            params = names["PARAMS"]
            out = []
            for name, p in params.items() if isinstance(params, dict) else []:
                if not isinstance(p, dict):
                    continue
                values = []
                for v in p.get("values", ()):
                    if isinstance(v, (tuple, list)) and len(v) == 2:
                        d = str(v[0])
                        since = f"{d[:4]}-{d[4:6]}-{d[6:]}" if len(d) == 8 else d
                        values.append({"since": since, "value": repr(v[1])})
                out.append({"name": str(name), "label": str(p.get("label", "")), "unit": str(p.get("unit", "")),
                            "reference": str(p.get("reference", "")), "values": values})
            return out
    return []


def docstring(source: str) -> str:
    try:
        return ast.get_docstring(ast.parse(source)) or ""
    except (SyntaxError, ValueError, RecursionError):
        return ""


def law(ctx: Ctx, name: str, version: int | None) -> dict:
    if not LAW_NAME.match(name):
        raise NotFound(f"no law named {name[:80]!r}")
    versions = ctx.index.law_versions(name)
    if not versions:
        raise NotFound(f"no law named {name!r}")
    v = versions[-1]["version"] if version is None else version
    cur = ctx.index.law_version(name, v)
    if cur is None:
        raise NotFound(f"law {name} has no version {v}")
    diff = None
    if v > 1:
        prev = ctx.index.law_version(name, v - 1)
        if prev is not None:
            diff = "".join(difflib.unified_diff(prev["source"].splitlines(keepends=True),
                                                cur["source"].splitlines(keepends=True),
                                                f"{name} v{v - 1}", f"{name} v{v}", n=3))
    for x in versions:
        x["decision"] = decision_of(ctx, name, x)
    return {"law": cur, "in_force": versions[-1]["version"], "versions": versions, "diff": diff,
            "docstring": docstring(cur["source"]), "params": params_table(cur["source"]),
            "decision": next((x["decision"] for x in versions if x["version"] == v), None)}


def decision_of(ctx: Ctx, name: str, version: dict) -> dict | None:
    """What enacted a law version: None for a genesis version, else the congress decision the
    follower recorded (proposal, title, tally, proposing transaction), with links."""
    if version["since_height"] <= 1:
        return None
    raw = ctx.index.get_meta(f"law_decision/{name}/{version['version']}")
    try:
        d = json.loads(raw) if raw else None
    except ValueError:
        d = None
    if not isinstance(d, dict) or not isinstance(d.get("proposal"), int):
        return {"proposal": None, "note": "the decision that enacted this version was not recorded by this index"}
    d["url"] = f"/proposals/{d['proposal']}"
    tx_hash = d.get("proposed_tx")
    d["proposed_tx_url"] = f"/tx/{tx_hash}" if isinstance(tx_hash, str) and HEX64.match(tx_hash) else None
    return d


# ---- validators, dashboards, search -----------------------------------------------------------


def validators(ctx: Ctx) -> dict:
    proposed = ctx.index.proposer_stats()
    evidence = ctx.index.evidence(50)
    accused = ctx.index.evidence_counts()
    signed = ctx.index.signature_stats()
    heights = ctx.index.signed_heights()
    items, height, vhash = [], None, None
    if ctx.client is not None:
        try:
            r = ctx.client.validators(0)
            height, vhash = r.height, r.hash.hex()
            for v in r.validators:
                k = v.pubkey.hex()
                items.append({"pubkey": k, "name": v.name, "power": v.power, "address": encode_address_of(v.pubkey),
                              "proposed": proposed.get(k, 0), "signed": signed.get(k, 0),
                              "missed": max(0, heights - signed.get(k, 0)), "evidence": accused.get(k, 0)})
        except Exception as e:
            return {"items": [], "error": str(e)[:200], "height": None, "hash": None, "heights_checked": heights,
                    "evidence": evidence}
    return {"items": items, "height": height, "hash": vhash, "heights_checked": heights, "evidence": evidence}


def encode_address_of(pubkey: bytes) -> str:
    from ledger.address import address_of

    return encode_address(address_of(pubkey))


def dashboards(ctx: Ctx) -> dict:
    ix = ctx.index
    return {"supply": ix.supply_by_month(), "tax": ix.money_by_month("tax"), "welfare": ix.money_by_month("welfare"),
            "procurement": ix.money_by_month("procurement"), "allocation": ix.money_by_month("allocation")}


SEARCH_MORE: list = []  # more finders for the search box, ``(ctx, q) -> results``, added by the pages' modules


def search(ctx: Ctx, q: str, limit: int) -> dict:
    """Height, block or transaction hash, address, registered name, law name, proposal number, delegate or
    agency address -> results (bounded)."""
    q = q.strip()
    out: list[dict] = []
    if not q:
        return {"q": q, "items": out}
    ix = ctx.index
    if q.isdigit() and len(q) <= 19:
        h = int(q)
        if 1 <= h <= MAX_HEIGHT and ix.block(h):
            out.append({"type": "block", "label": f"block {h}", "url": f"/block/{h}"})
    if HEX64.match(q):
        hl = q.lower()
        if ix.tx(hl):
            out.append({"type": "tx", "label": f"transaction {hl[:16]}…", "url": f"/tx/{hl}"})
        b = ix.block_by_hash(hl)
        if b:
            out.append({"type": "block", "label": f"block {b['height']}", "url": f"/block/{b['height']}"})
    try:
        addr = encode_address(decode_address(q))
        out.append({"type": "account", "label": addr, "url": f"/account/{addr}"})
    except (AddressError, TypeError):
        pass
    if len(q) <= 128:
        for n in ix.find_names(q, limit):
            out.append({"type": "account", "label": f"{n['name']} ({n['kind']})", "url": f"/account/{n['address']}"})
        if LAW_NAME.match(q) and ix.law_versions(q):
            out.append({"type": "law", "label": f"law {q}", "url": f"/laws/{q}"})
        for find in SEARCH_MORE:  # e.g. a product code of the planning law (explorer/plan.py)
            out += find(ctx, q)
        out += governance_hits(ix, q)
    return {"q": q, "items": out[:limit]}


PROPOSAL_RE = re.compile(r"^\s*(?:(?:proposal|prop\.?)\s*#?\s*|#)\s*(\d{1,18})\s*$", re.IGNORECASE)


def governance_hits(ix: Index, q: str) -> list[dict]:
    """A proposal number ("proposal 3", "#3"), a delegate's or an agency's address, from the law events."""
    out = []
    m = PROPOSAL_RE.match(q)
    if m:
        pid = int(m.group(1))
        if 1 <= pid <= MAX_HEIGHT and ix.law_events_count("congress", ("proposed", "urgent"), kind="proposal",
                                                          ref=str(pid)):
            out.append({"type": "proposal", "label": f"proposal {pid}", "url": f"/proposals/{pid}"})
        return out
    try:
        addr = encode_address(decode_address(q))
    except (AddressError, TypeError):
        return out
    if ix.law_events_count("congress", (), kind="delegate", ref=addr):
        out.append({"type": "delegate", "label": f"delegate {addr}", "url": f"/delegates/{addr}"})
    if ix.law_events_count("tickets", ("ticket_opened", "ticket_escalated"), kind="agency", ref=addr):
        out.append({"type": "agency", "label": f"agency {addr}", "url": f"/agencies/{addr}"})
    return out
