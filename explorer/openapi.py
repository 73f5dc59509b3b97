"""The response shapes of the JSON API, for ``/openapi.json``.

Field names here are a promise: a page may add fields, never rename or drop
one listed as required.  The tests check every 200 answer against these.
"""

from __future__ import annotations


def obj(required: dict, optional: dict | None = None) -> dict:
    props = {**required, **(optional or {})}
    return {"type": "object", "required": sorted(required), "properties": props}


INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}
ANY: dict = {}
NINT = {"type": "integer", "nullable": True}
NSTR = {"type": "string", "nullable": True}


def arr(items: dict) -> dict:
    return {"type": "array", "items": items}


BLOCK = obj({"height": INT, "hash": STR, "time_ms": INT, "proposer": STR, "proposer_key": STR, "tx_count": INT,
             "state_root": STR, "validators_hash": STR, "next_validators_hash": STR, "validators": INT,
             "total_power": INT, "evidence": INT})
TX = obj({"hash": STR, "height": INT, "idx": INT, "kind": STR, "sender": STR, "signer": STR, "nonce": INT, "code": INT,
          "code_name": STR, "gas_used": INT, "tax": INT, "law_version": NINT, "time_ms": INT, "payload": ANY,
          "events": arr(ANY), "result": ANY})
HISTORY = obj({"height": INT, "idx": INT, "tx_hash": STR, "kind": STR, "counterparty": STR, "delta": INT, "code": INT,
               "time_ms": INT})


def paged(items: dict, total: bool = True) -> dict:
    req = {"items": arr(items), "page": INT, "limit": INT, "next_page": NINT, "prev_page": NINT}
    if total:
        req["total"] = INT
    return obj(req)


MONTHLY = arr(obj({"month": STR, "kind": STR, "amount": INT, "count": INT}))
STATUS = obj({"chain_id": NSTR, "genesis_hash": NSTR, "indexed_height": INT, "blocks": INT, "transactions": INT,
              "accounts_seen": INT, "following": BOOL, "follow_error": NSTR},
             {"genesis_pinned": BOOL, "trust": STR,
              "genesis_pin": {"type": "object", "nullable": True, "properties": {
                  "genesis_hash": STR, "chain_id": NSTR, "source": STR, "validators": NINT}}})
DECISION = {"type": "object", "nullable": True, "properties": {
    "proposal": NINT, "title": STR, "class": STR, "proposer": STR, "proposed_at": INT, "proposed_tx": NSTR,
    "status": STR, "enact_at": INT, "result": ANY, "url": STR, "proposed_tx_url": NSTR, "note": STR}}
LAW_INFO = obj({"version": INT, "code_hash": STR, "since_height": INT, "summary": STR, "seen_height": INT},
               {"decision": DECISION})
COUPONS = obj({"height": NINT, "items": arr(obj({"programme": STR, "id": STR, "good": NSTR, "price": NINT, "total": INT,
                                                 "used": INT, "left": INT, "expires": NINT, "expired": BOOL,
                                                 "law": STR})),
               "error": NSTR})

RESPONSES = {
    "/": obj({"status": STATUS, "blocks": arr(BLOCK), "txs": arr(TX), "supply": INT, "tax_collected": INT,
              "welfare_paid": INT}),
    "/status": STATUS,
    "/blocks": obj({"items": arr(BLOCK), "limit": INT, "before": NINT, "next_before": NINT}),
    "/block/{height:int}": obj({"block": BLOCK, "txs": paged(TX), "signers": arr(STR), "signers_known": BOOL}),
    "/tx/{tx_hash}": obj({"tx": TX, "summary": STR, "taxes": arr(ANY), "call": {"nullable": True},
                          "law_events": arr(ANY), "transfers": arr(ANY)}),
    "/account/{address}": obj({"address": STR, "account": {"nullable": True}, "registered_name": {"nullable": True},
                               "history": paged(HISTORY), "taxes_paid": arr(obj({"kind": STR, "amount": INT,
                                                                                  "count": INT})),
                               "benefits_used": arr(obj({"programme": STR, "kind": STR, "amount": INT, "count": INT}))},
                              {"coupons": COUPONS}),
    "/laws": obj({"items": arr(obj({"name": STR, "version": INT, "versions": INT, "summary": STR, "since_height": INT,
                                    "code_hash": STR}))}),
    "/laws/{name}": obj({"law": obj({"name": STR, "version": INT, "code_hash": STR, "since_height": INT,
                                     "summary": STR, "source": STR, "entries": arr(STR), "views": arr(STR)}),
                         "in_force": INT, "versions": arr(LAW_INFO), "diff": NSTR, "docstring": STR,
                         "params": arr(obj({"name": STR, "label": STR, "unit": STR, "reference": STR,
                                            "values": arr(obj({"since": STR, "value": STR}))}))},
                        {"decision": DECISION}),
    "/validators": obj({"items": arr(obj({"pubkey": STR, "name": STR, "power": INT, "address": STR, "proposed": INT,
                                          "signed": INT, "missed": INT, "evidence": INT})),
                        "height": NINT, "hash": NSTR, "heights_checked": INT, "evidence": arr(ANY)}),
    "/dashboards": obj({"supply": arr(obj({"month": STR, "issued": INT, "retired": INT, "supply": INT})),
                        "tax": MONTHLY, "welfare": MONTHLY, "procurement": MONTHLY, "allocation": MONTHLY}),
    "/search": obj({"q": STR, "items": arr(obj({"type": STR, "label": STR, "url": STR}))}),
}


def conforms(value, schema: dict, where: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema`` (the subset used above): types, nullability, required fields."""
    if value is None:
        return [] if schema.get("nullable") or not schema.get("type") else [f"{where}: null"]
    t = schema.get("type")
    ok = {"object": dict, "array": list, "string": str, "boolean": bool}.get(t)
    if t == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
        return [f"{where}: not an integer"]
    if ok is not None and not isinstance(value, ok):
        return [f"{where}: not a {t}"]
    out: list[str] = []
    if t == "object":
        for k in schema.get("required", []):
            if k not in value:
                out.append(f"{where}.{k}: missing")
        for k, s in schema.get("properties", {}).items():
            if k in value:
                out += conforms(value[k], s, f"{where}.{k}")
    elif t == "array":
        for i, x in enumerate(value[:50]):
            out += conforms(x, schema.get("items", {}), f"{where}[{i}]")
    return out
