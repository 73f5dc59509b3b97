"""``esoc gov ...``: the congress from the command line.

* ``gov propose --from NAME (--amend LAW --source FILE | --params LAW --values FILE | --role ROLE --account WHO
  [--revoke] | --validator PUBKEY --power N | --text FILE | --cancel ID) --title TEXT`` prints the id;
* ``gov cosign``, ``gov vote``, ``gov review``: co-sign, vote, oppose or support a delegate's vote;
* ``gov show ID`` (with the diff for code), ``gov list``, ``gov pilot ID [--recompute]``;
* ``gov elect open|ballot|close|show``, ``gov recall sign|vote|close``;
* ``gov law LAW``: every version of a law, the height it holds from and the decision that enacted it;
* ``gov delegates``, ``gov constituencies``.

Every command takes ``--json``; every failure is one line ``esoc: error: ...``.
A transaction's signer is unlocked with ``ESOC_PASSWORD`` (or a prompt).
"""

from __future__ import annotations

import getpass
import json
import os
import sys

import click

from ledger import codes
from ledger.address import AddressError, encode_address
from ledger.block import Receipt
from ledger.codec import decode
from ledger.tx import Call

from .gov_source import SourceError, diff, with_values
from .output import Settings, UserError, emit, global_options, pass_settings, progress

CONGRESS = "congress"
GAS = 200_000_000


# ---------------------------------------------------------------- plumbing
def client(settings: Settings):
    from .output import client as tls_client

    return tls_client(settings)  # honours --tls-ca like every other command


def keystore(settings: Settings):
    from wallet.keystore import Keystore

    return Keystore(settings.keystore)


def password(name: str) -> str:
    pw = os.environ.get("ESOC_PASSWORD")
    if pw is not None:
        return pw
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {name}: ")
    raise UserError("no password: set ESOC_PASSWORD or run in a terminal")


def address(settings: Settings, who: str) -> str:
    """A keystore name or an address, as the address text laws use."""
    try:
        return encode_address(keystore(settings).resolve_address(who))
    except (AddressError, ValueError) as e:
        raise UserError(f"{who!r} is neither a key in {settings.keystore} nor a valid address: {e}") from None


def guard(fn):
    """Turn the client's and keystore's failures into one-line errors."""
    import functools

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        from wallet.client import ClientError
        from wallet.keystore import KeystoreError

        try:
            return fn(*a, **kw)
        except (ClientError, KeystoreError, SourceError) as e:
            raise UserError(str(e)) from None
        except OSError as e:
            raise UserError(f"{e.filename or ''}: {e.strerror or e}") from None

    return wrapper


def send(settings: Settings, sender: str, law: str, entry: str, args: dict, wait: bool = True):
    """Sign and submit a call; with ``wait`` return the law's result (or fail with its reason)."""
    key = keystore(settings).unlock(sender, password(sender))
    with client(settings) as c:
        tx = c.sign(key, "call", Call(contract=law, entry=entry, args=args, gas_limit=GAS))
        h = c.submit(tx)
        if not wait:
            return {"hash": h.hex()}
        r = c.wait_for_tx(h, timeout=60.0)
    rec = Receipt.decode(r.receipt) if r.receipt else None
    if r.code != 0:
        res = rec.result if rec is not None else None
        why = res.get("detail") if isinstance(res, dict) and res.get("detail") else codes.name(r.code)
        raise UserError(f"{law}.{entry} refused at height {r.height}: {why} (code {r.code})")
    return rec.result if rec is not None else None


def view(settings: Settings, law: str, fn: str, args: dict | None = None, height: int = 0):
    with client(settings) as c:
        r = c.eval_law(law, fn, args or {}, height=height)
    if r.code != 0:
        v = decode(r.value) if r.value else None
        why = v.get("detail") if isinstance(v, dict) and v.get("detail") else (r.error or f"code {r.code}")
        raise UserError(f"{law}.{fn}: {why}")
    return decode(r.value) if r.value else None


def state_value(settings: Settings, path: tuple, height: int = 0):
    with client(settings) as c:
        r = c.state(path, height=height)
    return decode(r.value) if r.exists else None


def read_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None


def read_json(path: str):
    try:
        return json.loads(read_file(path))
    except json.JSONDecodeError as e:
        raise UserError(f"{path} is not JSON: {e}") from None


def law_source(settings: Settings, law: str, height: int = 0) -> str | None:
    from wallet.client import ClientError

    try:
        with client(settings) as c:
            return c.get_law(law, height=height).source
    except ClientError:
        return None


# ---------------------------------------------------------------- the group
@click.group("gov", help="The congress: proposals, pilots, votes, constituent review, elections, recall.")
@global_options
def gov():
    pass


@gov.command("propose", help="Submit a proposal (a delegate's goes straight on; anyone else's gathers co-signatures).")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.option("--title", required=True, help="The proposal's title.")
@click.option("--amend", metavar="LAW", help="a law's new source (with --source FILE); a new name adds a law")
@click.option("--source", "source_file", metavar="FILE", help="The law's new source file.")
@click.option("--params", "params_law", metavar="LAW", help="new dated parameter values (with --values FILE)")
@click.option("--values", "values_file", metavar="FILE", help='JSON {"name": [[YYYYMMDD, value], ...]}')
@click.option("--role", metavar="ROLE", help="grant ROLE to --account (or --revoke it)")
@click.option("--account", metavar="WHO", help="The account concerned (keystore name or address).")
@click.option("--revoke", is_flag=True, help="Revoke the role instead of granting it.")
@click.option("--validator", metavar="PUBKEY", help="a validator's key (hex) with --power N (0 removes)")
@click.option("--power", type=int, help="The validator's voting power (0 removes it).")
@click.option("--name", "val_name", default="", help="The validator's moniker (a --validator proposal).")
@click.option("--text", "text_file", metavar="FILE", help="a signalling text (or the explanation of another class)")
@click.option("--cancel", type=int, metavar="ID", help="cancel an accepted decision before its activation")
@click.option("--scenario", metavar="FILE", help='JSON list of calls for the pilot: [{"sender", "entry", "args"}]')
@click.option("--wait", is_flag=True, help="accepted for symmetry: propose always waits for its id")
@global_options
@pass_settings
@guard
def propose(settings, sender, title, amend, source_file, params_law, values_file, role, account, revoke, validator,
            power, val_name, text_file, cancel, scenario, wait):
    chosen = [x for x in (amend, params_law, role, validator, cancel) if x not in (None, "")]
    if len(chosen) > 1:
        raise UserError("give one of --amend, --params, --role, --validator, --cancel (or only --text)")
    text = read_file(text_file) if text_file else ""
    if amend:
        if not source_file:
            raise UserError("--amend needs --source FILE")
        cls, payload = "amend", {"law": amend, "source": read_file(source_file)}
    elif params_law:
        if not values_file:
            raise UserError("--params needs --values FILE")
        current = law_source(settings, params_law)
        if current is None:
            raise UserError(f"no law named {params_law!r} on the node")
        cls, payload = "params", {"law": params_law, "source": with_values(current, read_json(values_file))}
    elif role:
        if not account:
            raise UserError("--role needs --account WHO")
        cls, payload = "role", {"account": address(settings, account), "role": role, "grant": not revoke}
    elif validator:
        if power is None:
            raise UserError("--validator needs --power N")
        cls, payload = "validator", {"pubkey": validator.lower(), "power": power, "name": val_name}
    elif cancel is not None:
        cls, payload = "cancel", {"target": cancel}
    elif text_file:
        cls, payload = "text", {}
    else:
        raise UserError("say what to propose: --amend, --params, --role, --validator, --cancel or --text")
    if scenario and cls in ("amend", "params"):
        sc = read_json(scenario)
        for item in sc if isinstance(sc, list) else []:
            if isinstance(item, dict) and item.get("sender"):
                item["sender"] = address(settings, item["sender"])
        payload["scenario"] = sc
    pid = send(settings, sender, CONGRESS, "propose", {"cls": cls, "title": title, "text": text, "payload": payload})
    p = view(settings, CONGRESS, "proposal", {"id": pid})
    emit(settings, {"id": pid, "class": cls, "status": p["status"]}, f"proposal {pid} ({cls}): {p['status']}")


@gov.command("cosign", help="Co-sign a proposal gathering co-signatures.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("pid", type=int, metavar="ID")
@global_options
@pass_settings
@guard
def cosign(settings, sender, pid):
    n = send(settings, sender, CONGRESS, "cosign", {"id": pid})
    p = view(settings, CONGRESS, "proposal", {"id": pid})
    emit(settings, {"id": pid, "cosigns": n, "need": p["cosign_need"], "status": p["status"]},
         f"proposal {pid}: {n} of {p['cosign_need']} co-signatures; {p['status']}")


@gov.command("vote", help="A delegate votes yes, no or abstain (once, in public).")
@click.option("--from", "sender", required=True, metavar="DELEGATE", help="The signing account (a keystore name or an address).")
@click.argument("pid", type=int, metavar="ID")
@click.argument("choice", type=click.Choice(["yes", "no", "abstain"]))
@global_options
@pass_settings
@guard
def vote(settings, sender, pid, choice):
    send(settings, sender, CONGRESS, "vote", {"id": pid, "choice": choice})
    t = view(settings, CONGRESS, "tally", {"id": pid})
    emit(settings, {"id": pid, "vote": choice, "tally": t},
         f"{sender} voted {choice} on {pid}; provisional tally yes {t['yes']} no {t['no']} abstain {t['abstain']}")


@gov.command("review", help="A constituent opposes or supports their delegate's vote within its window.")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.option("--delegate", required=True, metavar="NAME", help="The delegate whose vote is reviewed.")
@click.argument("pid", type=int, metavar="ID")
@click.argument("stance", type=click.Choice(["oppose", "support"]))
@global_options
@pass_settings
@guard
def review(settings, sender, delegate, pid, stance):
    r = send(settings, sender, CONGRESS, "review", {"id": pid, "delegate": address(settings, delegate), "stance": stance})
    emit(settings, {"id": pid, "delegate": delegate, **r},
         f"{stance} recorded: {r['oppose']} of {r['members']} oppose {delegate}'s vote"
         + (" -> VOID" if r["void"] else f" (void from {r['members'] // 2 + 1}: more than half)"))


def _status_line(p: dict) -> str:
    extra = ""
    if p["status"] == "voting":
        extra = f" votes until {p['vote_end']}, final at {p['closes']}"
    if p["status"] == "accepted":
        extra = f" enacted at height {p['enact_at']}"
    return f"#{p['id']} [{p['class']}] {p['status']}{extra}: {p['title']}"


@gov.command("show", help="A proposal: status, payload, tally, and for code the diff against the version in force.")
@click.argument("pid", type=int, metavar="ID")
@global_options
@pass_settings
@guard
def show(settings, pid):
    p = view(settings, CONGRESS, "proposal", {"id": pid})
    d = ""
    if p["class"] in ("amend", "params"):
        src = view(settings, CONGRESS, "source", {"id": pid})
        p["payload"].pop("source", None)
        old = law_source(settings, p["payload"]["law"], height=p["proposed_at"])
        d = diff(old, src, p["payload"]["law"])
        p["diff"] = d
    if settings.json:
        emit(settings, p)
        return
    lines = [_status_line(p), f"proposer {p['proposer']} at height {p['proposed_at']}"]
    if p["text"]:
        lines.append(p["text"])
    if p.get("pilot"):
        lines.append(f"pilot: {'ok' if p['pilot']['ok'] else 'FAILED: ' + p['pilot'].get('reason', '')} "
                     f"(report {p['pilot']['hash'].hex()[:16]})")
    r = p.get("result") or {}
    if r:
        lines.append(f"tally ({'final' if r['final'] else 'provisional'}): yes {r['yes']} no {r['no']} "
                     f"abstain {r['abstain']} void {len(r['void'])} of {r['seats']} seats; quorum "
                     f"{'met' if r['quorum_ok'] else 'not met'}; {'accepted' if r['accepted'] else 'not accepted'}")
    for dlg, v in sorted(p["votes"].items()):
        opp, sup = p["reviews"].get(dlg, [0, 0])
        lines.append(f"  {dlg} voted {v['v']} at {v['h']} (review until {v['review_until']}): {opp} oppose, {sup} support"
                     + (" VOID" if dlg in r.get("void", []) else ""))
    if d:
        lines.append(d)
    emit(settings, p, "\n".join(lines))


@gov.command("list", help="Proposals, newest first.")
@click.option("--status", default="", help="Only items with this status.")
@global_options
@pass_settings
@guard
def list_(settings, status):
    ps = view(settings, CONGRESS, "proposals", {"status": status})
    emit(settings, ps, "\n".join(_status_line({**p, "vote_end": p["closes"]}) for p in ps) or "no proposals")


@gov.command("pilot", help="The pilot report fixed on chain (--recompute: run it again here and compare hashes).")
@click.argument("pid", type=int, metavar="ID")
@click.option("--recompute", is_flag=True, help="Recompute the report locally from the chain and compare its hash.")
@global_options
@pass_settings
@guard
def pilot(settings, pid, recompute):
    from chain.governance import report_hash

    report = state_value(settings, ("pilot_report", pid))
    if report is None:
        raise UserError(f"no pilot report for proposal {pid} (yet)")
    h = report_hash(report)
    out = {"id": pid, "hash": h.hex(), "ok": report["ok"], "reason": report["reason"], "law": report["law"],
           "totals": report["totals"], "accounts": report["accounts"], "kinds": report["kinds"],
           "values": report["values"], "chunks": report["chunks"]}
    if recompute:
        from chain.contract_host import Laws
        from chain.governance import recompute as redo

        with client(settings) as c:
            src = view(settings, CONGRESS, "source", {"id": pid})
            _, h2 = redo(Laws(), lambda height: RemoteState(c, height), report, src)
        out["recomputed"] = h2.hex()
        out["agrees"] = h2 == h
    names = _names(settings)
    lines = [f"pilot of proposal {pid} on law {report['law']}: {'ok' if report['ok'] else 'FAILED'} hash {h.hex()}"]
    if report["reason"]:
        lines.append(f"  reason: {report['reason']}")
    t = report["totals"]
    lines.append(f"  {t['calls']} calls replayed, {t['differ']} differ; {t['pay_more']} accounts pay more, "
                 f"{t['pay_less']} less; moved {t['moved_old']} -> {t['moved_new']} fen")
    for a, row in report["accounts"].items():
        lines.append(f"  {names.get(a, a):<16} {row['old']:>+14} -> {row['new']:>+14}  ({row['diff']:+} fen) "
                     + ", ".join(f"{k} {v:+}" for k, v in row["by_kind"].items()))
    for k, row in report["kinds"].items():
        lines.append(f"  kind {k}: {row['calls']} calls, {row['differ']} differ, refused {row['refused_old']} -> "
                     f"{row['refused_new']}, failed {row['failed_new']}")
    for v in report["values"]:
        lines.append(f"  {v['entry']}({json.dumps(v['args'])}): {v['old']} -> {v['new']}")
    if recompute:
        lines.append(f"  recomputed here: {out['recomputed']} ({'AGREES' if out['agrees'] else 'DIFFERS'})")
    emit(settings, out, "\n".join(lines))
    if recompute and not out["agrees"]:
        raise UserError("the recomputed report differs from the one on chain")


def _names(settings) -> dict:
    try:
        return {k["address"]: k["name"] for k in keystore(settings).list()}
    except Exception:  # noqa: BLE001 - names are a courtesy
        return {}


class RemoteState:
    """Committed state of one height, read from a node (for recomputing a pilot)."""

    def __init__(self, c, height: int):
        self.c = c
        self.height = height
        self.cache: dict = {}

    def get_bytes(self, path: tuple):
        if path not in self.cache:
            r = self.c.state(path, height=self.height)
            self.cache[path] = r.value if r.exists else None
        return self.cache[path]

    def get_value(self, path: tuple):
        b = self.get_bytes(path)
        return None if b is None else decode(b)

    def account(self, addr: bytes):
        from ledger.state import Account, acct_path

        b = self.get_bytes(acct_path(addr))
        return Account() if b is None else Account.decode(b)


@gov.command("law", help="Every version of a law: the height it holds from and the decision that enacted it.")
@click.argument("name")
@global_options
@pass_settings
@guard
def law(settings, name):
    v = state_value(settings, ("contract", name))
    if v is None:
        raise UserError(f"no law named {name!r}")
    vs = [{"version": x["version"], "since_height": x["since"], "code_hash": x["code_hash"].hex(),
           "enacted_by": x.get("enacted_by", 0)} for x in v["versions"]]
    emit(settings, {"name": name, "versions": vs}, "\n".join(
        f"{name} v{x['version']} from height {x['since_height']} "
        + (f"enacted by decision {x['enacted_by']}" if x["enacted_by"] else "(genesis)") for x in vs))


@gov.command("delegates", help="Sitting delegates and their constituencies.")
@global_options
@pass_settings
@guard
def delegates(settings):
    d = view(settings, CONGRESS, "delegates")
    names = _names(settings)
    emit(settings, d, "\n".join(f"{names.get(a, a):<14} {r['c']:<8} term until {r['until']}" for a, r in sorted(d.items())))


@gov.command("constituencies", help="Constituencies, members and apportioned seats (Sainte-Lague).")
@global_options
@pass_settings
@guard
def constituencies(settings):
    c = view(settings, CONGRESS, "constituencies")
    seats = view(settings, CONGRESS, "apportion")
    out = {k: {**v, "seats": seats.get(k, 0)} for k, v in c.items()}
    emit(settings, out, "\n".join(f"{k:<8} {v['name']:<12} {v['members']} members, {v['seats']} seats" for k, v in out.items()))


# ---------------------------------------------------------------- elections
@gov.group("elect", help="Elections without lists: open, ballot, close, show.")
def elect():
    pass


@elect.command("open", help="Open an election for a constituency's free seats.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("constituency")
@global_options
@pass_settings
@guard
def elect_open(settings, sender, constituency):
    eid = send(settings, sender, CONGRESS, "elect_open", {"constituency": constituency})
    e = view(settings, CONGRESS, "election", {"id": eid})
    emit(settings, e, f"election {eid} in {constituency}: {e['seats']} seat(s), ballots until height {e['closes']}")


@elect.command("ballot", help="Vote for any member of your constituency.")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.argument("eid", type=int, metavar="ELECTION")
@click.argument("candidate")
@global_options
@pass_settings
@guard
def elect_ballot(settings, sender, eid, candidate):
    r = send(settings, sender, CONGRESS, "ballot", {"election": eid, "candidate": address(settings, candidate)})
    emit(settings, r, f"ballot cast: {candidate} now has {r['votes']} vote(s)")


@elect.command("close", help="Seat the most voted (ties by the beacon) once the election has closed.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("eid", type=int, metavar="ELECTION")
@global_options
@pass_settings
@guard
def elect_close(settings, sender, eid):
    elected = send(settings, sender, CONGRESS, "elect_close", {"election": eid})
    names = _names(settings)
    emit(settings, {"election": eid, "elected": elected}, "elected: " + ", ".join(names.get(a, a) for a in elected))


@elect.command("show", help="An election: tally, turnout, result.")
@click.argument("eid", type=int, metavar="ELECTION")
@global_options
@pass_settings
@guard
def elect_show(settings, eid):
    e = view(settings, CONGRESS, "election", {"id": eid})
    names = _names(settings)
    emit(settings, e, "\n".join([f"election {eid} ({e['kind']}) in {e['constituency']}: {e['status']}, "
                                 f"{e['ballots']} ballots of {e['members']} members"]
                                + [f"  {names.get(a, a):<14} {n}" for a, n in sorted(e["tally"].items(), key=lambda x: -x[1])]
                                + ([f"  elected: {', '.join(names.get(a, a) for a in e['elected'])}"] if e["elected"] else [])))


# ---------------------------------------------------------------- recall
@gov.group("recall", help="Recall a delegate: petition, vote, close (a by-election follows).")
def recall():
    pass


@recall.command("sign", help="Sign the petition to recall your delegate.")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.argument("delegate")
@global_options
@pass_settings
@guard
def recall_sign(settings, sender, delegate):
    r = send(settings, sender, CONGRESS, "recall_sign", {"delegate": address(settings, delegate)})
    emit(settings, r, f"petition: {r['signatures']} of {r['need']} signatures; {r['status']}")


@recall.command("vote", help="Vote in a recall (yes recalls).")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.argument("delegate")
@click.argument("choice", type=click.Choice(["yes", "no"]))
@global_options
@pass_settings
@guard
def recall_vote(settings, sender, delegate, choice):
    r = send(settings, sender, CONGRESS, "recall_vote", {"delegate": address(settings, delegate), "yes": choice == "yes"})
    emit(settings, r, f"recall of {delegate}: yes {r['yes']} no {r['no']}")


@recall.command("close", help="Close a finished recall vote.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("delegate")
@global_options
@pass_settings
@guard
def recall_close(settings, sender, delegate):
    r = send(settings, sender, CONGRESS, "recall_close", {"delegate": address(settings, delegate)})
    emit(settings, r, f"recall of {delegate}: {r['status']}"
         + (f"; by-election {r['by_election']} opened" if r.get("by_election") else ""))


# ---------------------------------------------------------------- reform assembly
@gov.group("assembly", help="Reform assemblies: convene (by forum follows), ballot, seat, resolve, decide, show.")
def assembly():
    pass


@assembly.command("convene", help="Convene an assembly for a forum topic followed by enough citizens.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("topic", type=int)
@global_options
@pass_settings
@guard
def assembly_convene(settings, sender, topic):
    aid = send(settings, sender, "assembly", "convene", {"topic": topic})
    a = view(settings, "assembly", "get", {"id": aid})
    emit(settings, a, f"assembly {aid} for topic {topic}: ballots until height {a['closes']}")


@assembly.command("ballot", help="Vote for any citizen to sit in the assembly.")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.argument("aid", type=int, metavar="ASSEMBLY")
@click.argument("candidate")
@global_options
@pass_settings
@guard
def assembly_ballot(settings, sender, aid, candidate):
    n = send(settings, sender, "assembly", "ballot", {"assembly": aid, "candidate": address(settings, candidate)})
    emit(settings, {"assembly": aid, "candidate": candidate, "votes": n}, f"{candidate} now has {n} vote(s)")


@assembly.command("seat", help="Seat the most voted once the election has closed.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("aid", type=int, metavar="ASSEMBLY")
@global_options
@pass_settings
@guard
def assembly_seat(settings, sender, aid):
    members = send(settings, sender, "assembly", "seat", {"assembly": aid})
    names = _names(settings)
    emit(settings, {"assembly": aid, "members": members}, "members: " + ", ".join(names.get(a, a) for a in members))


@assembly.command("resolve", help="Move a resolution: KIND and a JSON payload (urgent kinds act when passed).")
@click.option("--from", "sender", required=True, metavar="MEMBER", help="The signing account (a keystore name or an address).")
@click.option("--text", default="", help="A text file: the message or explanation.")
@click.argument("aid", type=int, metavar="ASSEMBLY")
@click.argument("kind", type=click.Choice(["suspend_delegate", "suspend_role", "reorganise", "recall", "investigate",
                                           "propose"]))
@click.argument("payload")
@global_options
@pass_settings
@guard
def assembly_resolve(settings, sender, text, aid, kind, payload):
    try:
        pl = json.loads(payload)
    except json.JSONDecodeError as e:
        raise UserError(f"payload is not JSON: {e}") from None
    if not isinstance(pl, dict):
        raise UserError("payload must be a JSON object")
    for k in ("account", "delegate"):
        if isinstance(pl.get(k), str):
            pl[k] = address(settings, pl[k])
    rid = send(settings, sender, "assembly", "resolve", {"assembly": aid, "kind": kind, "payload": pl, "text": text})
    emit(settings, {"assembly": aid, "resolution": rid}, f"resolution {rid} of assembly {aid}")


@assembly.command("decide", help="A member votes yes or no on a resolution.")
@click.option("--from", "sender", required=True, metavar="MEMBER", help="The signing account (a keystore name or an address).")
@click.argument("aid", type=int, metavar="ASSEMBLY")
@click.argument("rid", type=int, metavar="RESOLUTION")
@click.argument("choice", type=click.Choice(["yes", "no"]))
@global_options
@pass_settings
@guard
def assembly_decide(settings, sender, aid, rid, choice):
    r = send(settings, sender, "assembly", "decide", {"assembly": aid, "id": rid, "yes": choice == "yes"})
    emit(settings, r, f"resolution {rid}: {r['status']}" + (f" -> {r['outcome']}" if r["outcome"] else ""))


@assembly.command("show", help="An assembly: topic, election, members, term.")
@click.argument("aid", type=int, metavar="ASSEMBLY")
@global_options
@pass_settings
@guard
def assembly_show(settings, aid):
    a = view(settings, "assembly", "get", {"id": aid})
    names = _names(settings)
    emit(settings, a, f"assembly {aid} (topic {a['topic']}): {a['status']}; members "
                      + (", ".join(names.get(m, m) for m in a["members"]) or "-") + f"; term until {a['until']}")


def main() -> None:  # python -m cli.gov
    gov(prog_name="esoc gov")


if __name__ == "__main__":
    main()
