"""The host's governance powers and the pilot, run inside block execution.

The congress law (``contracts/laws/congress.py``) decides; this module is the
only code that acts on its decisions, and it acts on nothing else:

* **Enactment** (:func:`enact_due`), at the beginning of block ``H``: read
  the list ``due:H`` in the *congress* law's storage, and for each proposal
  named there whose record says ``accepted`` with ``enact_at == H``:
  install the law's new source as a version in force from ``H`` (recording
  ``enacted_by``), grant or revoke a role, or schedule a validator update
  (effective at ``H + 2``, as ``set_validator``).  Only the congress law's
  storage is read, and only a transaction that runs the congress law's code
  can write it: that is the check of the calling contract's name.  Every
  outcome is recorded in the ``pilot`` law's storage (``enacted:ID``) and
  at ``("enacted", ID)``.
* **Pilot** (:func:`pilot_step`), also at the beginning of block ``H``,
  before anything else writes, so it sees exactly the committed state of
  ``H - 1``: the first proposal in congress's ``pilot_wait`` without a
  report gets a job; each block replays at most :data:`CALLS_PER_BLOCK`
  recorded calls, each with the code in force and with the new code, each
  run with :data:`REPLAY_GAS` gas and never applied.  The finished report
  (canonical bytes, hash) is kept at ``("pilot_report", ID)`` and its
  verdict in the ``pilot`` law's storage, where the congress reads it.
* **Call log** (:func:`record_call`): the last :data:`CALL_LOG_CAP`
  successful calls of each law (arguments up to :data:`MAX_LOGGED_ARGS`
  bytes), the history a pilot replays.
* **Roles** are changed through :func:`chain.roles.apply_role`, which keeps
  the registry's index of role holders that laws read.

Nothing here reads a clock or the machine; all bounds are constants.
"""

from __future__ import annotations

import dataclasses

import msgpack

from contracts.runtime import CheckError, ErrorCode, compile_contract
from contracts.runtime import run as rt_run
from ledger.address import AddressError, decode_address, encode_address
from ledger.codec import U64_MAX, decode, encode
from ledger.crypto import tagged_hash

from .errors import TxFailed
from .execution import schedule_validator
from .roles import apply_role

CONGRESS = "congress"
PILOT = "pilot"
CALL_LOG_CAP = 32
MAX_LOGGED_ARGS = 4096
PILOT_WINDOW = 5000  # recorded calls older than this many blocks are not replayed
CALLS_PER_BLOCK = 4
REPLAY_GAS = 5_000_000
MAX_DUE = 16
MAX_VALUE_BYTES = 1024
MAX_ACCOUNT_ROWS = 200
NOT_LOGGED = (CONGRESS, PILOT)


class GovError(ValueError):
    pass


# ---------------------------------------------------------------- law storage, from the host
def law_value(state, law: str, key: str):
    raw = state.get_bytes(("cstore", law, key))
    return None if raw is None else decode(raw)


def host_write(state, law: str, key: str, value) -> None:
    """Write one key of a law's storage, keeping its usage count (as ChainHost.apply)."""
    path = ("cstore", law, key)
    raw = encode(value)
    old = state.get_bytes(path)
    delta = len(key.encode("utf-8")) + len(raw)
    if old is not None:
        delta -= len(key.encode("utf-8")) + len(old)
    state.put(path, raw)
    usage = state.get_value(("cusage", law))
    state.put_value(("cusage", law), (usage if isinstance(usage, int) else 0) + delta)


# ---------------------------------------------------------------- call log
def record_call(state, law: str, sender: bytes, entry: str, args, height: int, time_ms: int,
                args_raw: bytes | None = None) -> None:
    """Log one successful call; ``args_raw``: ``encode(args)`` when the caller has it (the runtime
    encoded the arguments to copy them in: the same canonical bytes), else encoded here."""
    if law in NOT_LOGGED:
        return
    raw = encode(args) if args_raw is None else args_raw
    if len(raw) > MAX_LOGGED_ARGS:
        return
    n = state.get_value(("calllog", law)) or 0
    state.put(("calllog", law, n % CALL_LOG_CAP), _log_entry(height, time_ms, sender, entry, args, raw))
    state.put_value(("calllog", law), n + 1)


def _log_entry(height: int, time_ms: int, sender: bytes, entry: str, args, raw_args: bytes) -> bytes:
    """``encode([height, time_ms, sender, entry, args])`` with the arguments' bytes already made.

    A list's canonical bytes are its header and its items' bytes in a row, so
    the four head items are packed together (their header swapped for the
    five-item one) and ``raw_args`` appended; unusual types take the codec.
    """
    if type(height) is int and type(time_ms) is int and type(sender) is bytes and type(entry) is str \
            and 0 <= height <= U64_MAX and 0 <= time_ms <= U64_MAX:
        head = msgpack.packb([height, time_ms, sender, entry], use_bin_type=True, strict_types=True)
        return b"\x95" + head[1:] + raw_args
    return encode([height, time_ms, sender, entry, args])


def recent_calls(state, law: str, height: int) -> list[dict]:
    """The logged calls of ``law`` (oldest first) made within PILOT_WINDOW blocks."""
    n = state.get_value(("calllog", law)) or 0
    out = []
    for i in range(max(0, n - CALL_LOG_CAP), n):
        rec = state.get_value(("calllog", law, i % CALL_LOG_CAP))
        if rec is None or rec[0] < height - PILOT_WINDOW:
            continue
        out.append({"from": "log", "height": rec[0], "time_ms": rec[1], "sender": encode_address(rec[2]),
                    "entry": rec[3], "args": rec[4]})
    return out


# ---------------------------------------------------------------- enactment
def enact_due(laws, state, height: int) -> list[dict]:
    """Enact the congress decisions due at ``height`` (beginning of the block)."""
    ids = law_value(state, CONGRESS, f"due:{height}")
    if not isinstance(ids, list) or not laws.versions(state, CONGRESS):
        return []
    out = []
    for pid in ids[:MAX_DUE]:
        if not isinstance(pid, int):
            continue
        prop = law_value(state, CONGRESS, f"prop:{pid}")
        mark = state.mark()
        try:
            detail = enact_one(laws, state, prop, pid, height)
            outcome = {"ok": True, "height": height, "error": "", **detail}
        except (GovError, TxFailed, KeyError, TypeError, ValueError, AddressError) as e:
            state.revert(mark)
            why = str(e) or type(e).__name__
            outcome = {"ok": False, "height": height, "error": why[:200]}
        host_write(state, PILOT, f"enacted:{pid}", outcome)
        state.put_value(("enacted", pid), outcome)
        out.append(outcome)
    return out


def enact_one(laws, state, prop, pid: int, height: int) -> dict:
    if not isinstance(prop, dict) or prop.get("status") != "accepted" or prop.get("enact_at") != height:
        raise GovError("the decision is not accepted for this height")
    cls = prop["class"]
    pl = prop["payload"]
    if cls in ("amend", "params"):
        if pl["law"] == PILOT:
            raise GovError("the pilot record is not amended")
        source = law_value(state, CONGRESS, f"src:{pid}")
        if not isinstance(source, str):
            raise GovError("the decision's source is missing")
        entry = laws.install(state, pl["law"], source, since=height, enacted_by=pid)  # LawError is a ValueError
        return {"class": cls, "law": pl["law"], "version": entry["version"]}
    if cls == "role":
        apply_role(state, decode_address(pl["account"]), pl["role"], bool(pl["grant"]))
        return {"class": cls, "account": pl["account"], "role": pl["role"], "grant": bool(pl["grant"])}
    if cls == "validator":
        pubkey = bytes.fromhex(pl["pubkey"])
        effective = schedule_validator(state, height, pubkey, int(pl["power"]), str(pl.get("name", ""))[:64])
        return {"class": cls, "pubkey": pl["pubkey"], "power": int(pl["power"]), "effective": effective}
    raise GovError(f"class {cls!r} has nothing to enact")


# ---------------------------------------------------------------- pilot
def _pilot_host(laws, state, law: str, source: str, sender: str, height: int, time_ms: int):
    try:
        s = decode_address(sender) if sender else None
    except AddressError:
        s = None
    return laws.pilot_host(state, law, source, s, height, time_ms)


def run_one(laws, state, law: str, source: str | None, call: dict, height: int) -> dict | None:
    """One call with one version of the code, never applied: code, money moved, view value."""
    if source is None:
        return None
    c = compile_contract(law, source)
    entry = call["entry"]
    if not c.is_public(entry):
        return {"code": int(ErrorCode.UNKNOWN_ENTRY), "gas": 0, "money": {}, "value": None}
    host = _pilot_host(laws, state, law, source, call["sender"], height, call["time_ms"])
    args = call["args"] if isinstance(call["args"], dict) else {}
    res, effects = rt_run(c, entry, args, host, REPLAY_GAS, read_only=entry in c.views)
    money: dict[str, int] = {}
    if effects is not None:
        for frm, to, amount in effects.transfers:
            money[frm] = money.get(frm, 0) - amount
            money[to] = money.get(to, 0) + amount
    value = res.value
    try:
        if len(encode(value)) > MAX_VALUE_BYTES:
            value = {"digest": tagged_hash("pilot value", encode(value)).hex()}
    except Exception:  # noqa: BLE001 - a value the codec refuses is reported by its type only
        value = {"unencodable": type(value).__name__}
    return {"code": int(res.code), "gas": res.gas_used, "money": dict(sorted(money.items())), "value": value}


def replay_row(laws, state, job: dict, i: int, height: int) -> dict:
    call = job["calls"][i]
    base = laws.source(state, job["base_hash"]) if job["base_hash"] else None
    new = job["source"]
    return {"i": i, "entry": call["entry"], "sender": call["sender"],
            "old": run_one(laws, state, job["law"], base, call, height),
            "new": run_one(laws, state, job["law"], new, call, height)}


FAILED_OK = (0, int(ErrorCode.CONTRACT_ERROR))


# Long by design: the pilot report's fields in the order docs/governance.md lists them, each computed in a few lines from the replayed calls.
def build_report(job: dict, rows: list[dict]) -> dict:
    """The report from the rows: per account and per kind, old vs new, and the verdict."""
    failures = []
    accounts: dict[str, dict] = {}
    kinds: dict[str, dict] = {}
    values = []
    differ = 0
    for r in rows:
        old, new = r["old"], r["new"]
        k = kinds.setdefault(r["entry"], {"calls": 0, "moved_old": 0, "moved_new": 0, "refused_old": 0,
                                          "refused_new": 0, "failed_new": 0, "differ": 0})
        k["calls"] += 1
        oc = old["code"] if old else None
        nc = new["code"]
        if nc not in FAILED_OK and (old is None or oc in FAILED_OK):
            failures.append(f"call {r['i']} ({r['entry']}): the new code ends with {ErrorCode(nc).name if nc in ErrorCode._value2member_map_ else nc}")
            k["failed_new"] += 1
        if oc == int(ErrorCode.CONTRACT_ERROR):
            k["refused_old"] += 1
        if nc == int(ErrorCode.CONTRACT_ERROR):
            k["refused_new"] += 1
        om = old["money"] if old else {}
        nm = new["money"]
        k["moved_old"] += sum(v for v in om.values() if v > 0)
        k["moved_new"] += sum(v for v in nm.values() if v > 0)
        changed = (oc != nc) or om != nm or (old is not None and old["value"] != new["value"])
        if changed:
            differ += 1
            k["differ"] += 1
        for a in sorted(set(om) | set(nm)):
            d = nm.get(a, 0) - om.get(a, 0)
            if d:
                row = accounts.setdefault(a, {"old": 0, "new": 0, "diff": 0, "by_kind": {}})
                row["old"] += om.get(a, 0)
                row["new"] += nm.get(a, 0)
                row["diff"] += d
                row["by_kind"][r["entry"]] = row["by_kind"].get(r["entry"], 0) + d
        if old is not None and old["value"] != new["value"] and len(values) < 32:
            values.append({"i": r["i"], "entry": r["entry"], "args": job["calls"][r["i"]]["args"],
                           "old": old["value"], "new": new["value"]})
    accounts = {a: accounts[a] for a in sorted(accounts)[:MAX_ACCOUNT_ROWS]}
    # the accounts the law applied to in the replayed history: callers, and every account its
    # code in force moved money for (what the forum's recommendation calls "subject to the law")
    subjects = set()
    for r in rows:
        call = job["calls"][r["i"]]
        if call.get("from") == "log" and call["sender"]:
            subjects.add(call["sender"])
        if r["old"] is not None:
            subjects.update(a for a in r["old"]["money"])
    subjects = sorted(subjects)[:MAX_ACCOUNT_ROWS]
    reason = job["check"] or ("; ".join(failures[:5]))
    report = {
        "id": job["id"], "law": job["law"], "base_hash": job["base_hash"], "new_hash": job["new_hash"],
        "started": job["started"], "check": job["check"], "calls": job["calls"], "chunks": job["chunks"],
        "rows": rows, "ok": reason == "", "reason": reason[:400], "accounts": accounts,
        "kinds": {k: kinds[k] for k in sorted(kinds)}, "values": values, "subjects": subjects,
        "totals": {"calls": len(rows), "differ": differ,
                   "pay_more": sum(1 for a in accounts.values() if a["diff"] < 0),
                   "pay_less": sum(1 for a in accounts.values() if a["diff"] > 0),
                   "moved_old": sum(k["moved_old"] for k in kinds.values()),
                   "moved_new": sum(k["moved_new"] for k in kinds.values())},
    }
    return report


def report_hash(report: dict) -> bytes:
    return tagged_hash("pilot report", encode(report))


def _new_job(laws, state, pid: int, prop, height: int, time_ms: int) -> dict:
    pl = prop["payload"] if isinstance(prop, dict) else {}
    law, source = str(pl.get("law", "")), law_value(state, CONGRESS, f"src:{pid}")
    job = {"id": pid, "law": law, "source": source if isinstance(source, str) else "", "base_hash": b"",
           "new_hash": b"", "started": height, "check": "", "calls": [], "chunks": [], "rows": []}
    base = laws.version_at(state, law, height)
    if base is not None:
        job["base_hash"] = base["code_hash"]
    try:
        c = compile_contract(law or "pilot-candidate", job["source"])
        job["new_hash"] = c.code_hash
    except CheckError as e:
        job["check"] = f"check: {e}"[:400]
        return job
    if "check_params" in c.views:  # the law's own schema check of its parameter table
        out = run_one(laws, state, law, job["source"], {"entry": "check_params", "args": {}, "sender": "",
                                                        "time_ms": time_ms}, height)
        if out["code"] != 0 or out["value"] != []:
            job["check"] = f"check_params: {out['value'] if out['code'] == 0 else 'code ' + str(out['code'])}"[:400]
            return job
    calls = recent_calls(state, law, height)
    for item in pl.get("scenario", []) or []:
        if isinstance(item, dict):
            calls.append({"from": "scenario", "height": height, "time_ms": time_ms,
                          "sender": str(item.get("sender", "")), "entry": str(item.get("entry", "")),
                          "args": item.get("args", {}) if isinstance(item.get("args", {}), dict) else {}})
    job["calls"] = calls
    return job


def pilot_step(laws, state, height: int, time_ms: int) -> dict | None:
    """One bounded chunk of the current pilot; returns a finished report, if any."""
    if not laws.versions(state, CONGRESS):
        return None
    wait = law_value(state, CONGRESS, "pilot_wait")
    if not isinstance(wait, list):
        return None
    pid = next((p for p in wait if isinstance(p, int) and law_value(state, PILOT, f"report:{p}") is None), None)
    if pid is None:
        return None
    job = state.get_value(("pilot_job", pid))
    if job is None:
        job = _new_job(laws, state, pid, law_value(state, CONGRESS, f"prop:{pid}"), height, time_ms)
    if not job["check"]:
        start = len(job["rows"])
        end = min(len(job["calls"]), start + CALLS_PER_BLOCK)
        for i in range(start, end):
            job["rows"].append(replay_row(laws, state, job, i, height))
        if end > start:
            job["chunks"].append([height, start, end])
        if end < len(job["calls"]):
            state.put_value(("pilot_job", pid), job)
            return None
    rows = job.pop("rows")
    report = build_report(job, rows)
    h = report_hash(report)
    state.put_value(("pilot_report", pid), report)
    state.delete(("pilot_job", pid))
    host_write(state, PILOT, f"report:{pid}", {
        "ok": report["ok"], "reason": report["reason"], "hash": h, "law": report["law"], "height": height,
        "totals": report["totals"], "accounts": {a: r["diff"] for a, r in report["accounts"].items()},
        "subjects": report["subjects"],
    })
    return report


def recompute(laws, state_at, report: dict, new_source: str) -> tuple[dict, bytes]:
    """Recompute a report from its calls and chunks, over ``state_at(height - 1)`` for each chunk.

    ``new_source`` is the proposal's source (in the congress law's storage).
    """
    job = {k: report[k] for k in ("id", "law", "base_hash", "new_hash", "started", "check", "calls", "chunks")}
    job["source"] = new_source
    rows = []
    if not job["check"]:
        for height, start, end in report["chunks"]:
            st = state_at(height - 1)
            for i in range(start, end):
                rows.append(replay_row(laws, st, job, i, height))
    rebuilt = build_report(job, rows)
    return rebuilt, report_hash(rebuilt)
