"""Signing and sending one transaction, the same way for every command group.

Every command that makes a transaction takes :func:`tx_options` and calls
:func:`send`.  The modes:

* default: sign with the node's idea of the next nonce, submit, print the hash;
* ``--wait``: and wait for the commit, print the receipt with decoded events
  (a law call's result, and a refused law call's own error name and detail);
* ``--dry-run``: ask the node to execute it against the latest state
  (``SimulateTx``), print the would-be receipt; nothing is signed (the key
  stays locked) and nothing is submitted;
* ``--offline``: sign without contacting a node (``--nonce``, ``--expiry`` and
  ``--chain-id`` given) and write the signed transaction to ``--out``;
  ``esoc tx broadcast FILE`` sends it later from any machine.

Whatever the mode, ``--json`` prints one shape (:func:`outcome`): every key
present, ``null`` where it does not apply.
"""

from __future__ import annotations

import dataclasses
import json

import click

from ledger import codes
from ledger.address import encode_address
from ledger.block import Receipt
from ledger.tx import SignedTx, sign_tx

from .output import Settings, UserError, client, emit, jsonable, keystore, password

META = "esoc.tx"
OFFLINE_FORMAT = "esoc-signed-tx/1"


@dataclasses.dataclass
class TxOptions:
    sender: str | None = None
    wait: bool = False
    dry_run: bool = False
    offline: bool = False
    out: str | None = None
    nonce: int | None = None
    expiry: int | None = None
    chain_id: str | None = None


def _store(field: str):
    def cb(ctx: click.Context, _p, value):
        if value is not None and value is not False:
            opts = ctx.meta.setdefault(META, TxOptions())
            setattr(opts, field, value)
        return value

    return cb


def tx_options(f):
    """``--from``, ``--wait``, ``--dry-run``, ``--offline`` and the offline fields."""
    options = [
        click.option("--from", "sender_", metavar="KEY", required=True, expose_value=False, callback=_store("sender"),
                     help="Keystore name of the signer."),
        click.option("--wait", is_flag=True, default=False, expose_value=False, callback=_store("wait"),
                     help="Wait for the commit and print the receipt with its decoded events."),
        click.option("--dry-run", is_flag=True, default=False, expose_value=False, callback=_store("dry_run"),
                     help="Execute on the node against the latest state and print the would-be receipt "
                          "(gas, effects, code); nothing is submitted."),
        click.option("--offline", is_flag=True, default=False, expose_value=False, callback=_store("offline"),
                     help="Sign without contacting a node (needs --nonce, --expiry, --chain-id); "
                          "write the signed transaction to --out for `esoc tx broadcast`."),
        click.option("--out", metavar="FILE", default=None, expose_value=False, callback=_store("out"),
                     help="With --offline: write the signed transaction here (default: stdout)."),
        click.option("--nonce", type=click.IntRange(min=0), default=None, expose_value=False, callback=_store("nonce"),
                     help="The signer's nonce (default: asked of the node)."),
        click.option("--expiry", type=click.IntRange(min=1), default=None, expose_value=False, callback=_store("expiry"),
                     help="The last height at which the transaction may be included (default: the node's height + 300)."),
        click.option("--chain-id", metavar="ID", default=None, expose_value=False, callback=_store("chain_id"),
                     help="With --offline: the chain id to sign for (default: the chain of the wallet's trusted genesis)."),
    ]
    for o in reversed(options):
        f = o(f)
    return f


def current_options() -> TxOptions:
    return click.get_current_context().meta.get(META) or TxOptions()


# --------------------------------------------------------------------------
# decoding receipts
# --------------------------------------------------------------------------


def law_error(code: int, result) -> dict | None:
    """A failed receipt's reason: the law's own ``{"error", "detail"}`` when it gave one."""
    if code == 0:
        return None
    err = {"name": codes.name(code), "detail": None}
    if isinstance(result, dict) and "error" in result:
        err["name"] = str(result.get("error"))
        err["detail"] = jsonable(result.get("detail"))
    return err


def receipt_fields(r: Receipt) -> dict:
    return {"code": r.code, "code_name": codes.name(r.code), "gas_used": r.gas_used,
            "result": jsonable(r.result), "events": jsonable(list(r.events)), "error": law_error(r.code, r.result)}


def outcome(tx: SignedTx | None, status: str, **kw) -> dict:
    """The one JSON shape of a transaction command."""
    out = {"status": status, "hash": None, "kind": None, "from": None, "nonce": None, "expiry": None,
           "height": None, "code": None, "code_name": None, "gas_used": None, "result": None, "events": None,
           "error": None, "file": None}
    if tx is not None:
        out.update({"hash": tx.hash.hex(), "kind": tx.body.kind, "from": encode_address(tx.sender),
                    "nonce": tx.body.nonce, "expiry": tx.body.expiry})
    out.update(kw)
    return out


def render_event(e) -> str:
    if isinstance(e, dict):
        e = jsonable(e)
        if e.get("type") == "law":  # a law's own event: contract.name and its data
            name = f"{e.get('name')} ({e.get('contract')})"
            rest = e.get("data") if isinstance(e.get("data"), dict) else {"data": e.get("data")}
        else:
            name = e.get("type") or e.get("name") or "event"
            rest = {k: v for k, v in e.items() if k not in ("type", "name")}
        return f"{name} " + " ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in rest.items())
    return json.dumps(jsonable(e))


def human(o: dict) -> str:
    what = f"{o['kind']} {o['hash']}" if o["hash"] else "transaction"
    st = o["status"]
    if st == "signed":
        return f"signed {what} (nonce {o['nonce']}, valid until height {o['expiry']})" + (
            f"; written to {o['file']}\nsend it with: esoc tx broadcast {o['file']}" if o["file"] else "")
    if st == "submitted":
        return f"submitted {what}\n(esoc tx show {o['hash']} for its receipt once committed)"
    head = {"committed": f"committed {what} at height {o['height']}",
            "failed": f"FAILED {what}" + (f" at height {o['height']}" if o["height"] else ""),
            "simulated": f"dry run of {what} (nothing was submitted): "
                         + ("would succeed" if o["code"] == 0 else "would FAIL")}.get(st, f"{st} {what}")
    lines = [head]
    if o["error"]:
        detail = o["error"]["detail"]
        lines.append(f"  error   {o['error']['name']} (code {o['code']} {o['code_name']})"
                     + (f": {detail if isinstance(detail, str) else json.dumps(detail)}" if detail is not None else ""))
    if o["gas_used"] is not None:
        lines.append(f"  gas     {o['gas_used']}")
    if o["result"] is not None and o["code"] == 0:
        r = o["result"]
        if isinstance(r, dict):
            lines.append("  result")
            lines.extend(f"    {k:<18} {json.dumps(v) if not isinstance(v, str) else v}" for k, v in r.items())
        else:
            lines.append(f"  result  {json.dumps(r)}")
    for e in o["events"] or []:
        lines.append(f"  event   {render_event(e)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------
# signing and sending
# --------------------------------------------------------------------------


def write_signed(tx: SignedTx, path: str | None) -> str | None:
    doc = {"format": OFFLINE_FORMAT, "chain_id": tx.body.chain_id, "hash": tx.hash.hex(), "kind": tx.body.kind,
           "from": encode_address(tx.sender), "nonce": tx.body.nonce, "expiry": tx.body.expiry,
           "payload": jsonable(tx.body.payload), "tx": tx.raw.hex()}
    text = json.dumps(doc, indent=2) + "\n"
    if path is None or path == "-":
        click.echo(text, nl=False)
        return None
    try:
        with open(path, "x") as f:
            f.write(text)
    except FileExistsError:
        raise UserError(f"{path} exists; choose another --out (a signed transaction is never overwritten)") from None
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror}") from None
    return path


def read_signed(path: str) -> SignedTx:
    from ledger.codec import CodecError
    from ledger.tx import TxError, decode_tx

    try:
        with open(path) as f:
            doc = json.load(f)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    except ValueError:
        raise UserError(f"{path} is not a signed transaction file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != OFFLINE_FORMAT or not isinstance(doc.get("tx"), str):
        raise UserError(f"{path} is not a signed transaction file ({OFFLINE_FORMAT})")
    try:
        tx = decode_tx(bytes.fromhex(doc["tx"]))
    except (ValueError, TxError, CodecError) as e:
        raise UserError(f"{path}: the signed transaction does not decode: {e}") from None
    if not tx.verify_signature():
        raise UserError(f"{path}: the signature does not verify (the file was altered)")
    return tx


def trust_store(settings: Settings):
    from wallet.light import TrustStore

    return TrustStore.for_keystore(settings.keystore)


def trusted_chain_id(settings: Settings) -> str | None:
    return trust_store(settings).chain_id()


def sign(settings: Settings, kind: str, payload, opts: TxOptions | None = None, c=None) -> SignedTx:
    """Unlock the sender and sign; the nonce/expiry/chain from the options or the node."""
    opts = opts or current_options()
    if not opts.sender:
        raise UserError("--from KEY is required")
    if opts.dry_run and c is not None:  # nothing is signed for a dry run: the key stays locked
        key = None
        signer = bytes.fromhex(keystore(settings).info(opts.sender)["pubkey"])
    else:
        key = keystore(settings).unlock(opts.sender, password(opts.sender))
        signer = key.public
    if opts.offline:
        missing = [n for n, v in (("--nonce", opts.nonce), ("--expiry", opts.expiry)) if v is None]
        if missing:
            raise UserError(f"--offline needs {' and '.join(missing)} (look them up earlier with `esoc account` and `esoc status`)")
        chain_id = opts.chain_id or trusted_chain_id(settings)
        if not chain_id:
            raise UserError("--offline needs --chain-id (or a wallet that trusts a genesis: `esoc wallet trust`)")
        return sign_tx(key, chain_id, kind, payload, opts.nonce, opts.expiry)
    st = c.status()
    if opts.chain_id and opts.chain_id != st.chain_id:
        raise UserError(f"the node at {settings.node} serves chain {st.chain_id!r}, not {opts.chain_id!r}")
    want = trusted_chain_id(settings)
    if want and want != st.chain_id:
        raise UserError(f"the node at {settings.node} serves chain {st.chain_id!r}; this wallet trusts {want!r}")
    nonce = opts.nonce
    if nonce is None:
        from ledger.address import address_of

        nonce = c.account(encode_address(address_of(signer))).nonce
    expiry = opts.expiry if opts.expiry is not None else st.height + 300
    if key is None:
        return unsigned_tx(signer, st.chain_id, kind, payload, nonce, expiry)
    return sign_tx(key, st.chain_id, kind, payload, nonce, expiry)


def unsigned_tx(signer: bytes, chain_id: str, kind: str, payload, nonce: int, expiry: int) -> SignedTx:
    """A transaction with an empty signature, for SimulateTx (which does not check signatures)."""
    from ledger.codec import Record
    from ledger.tx import TxBody, decode_payload

    obj = payload.to_obj() if isinstance(payload, Record) else payload
    decode_payload(kind, obj)
    body = TxBody(chain_id=chain_id, kind=kind, payload=obj, signer=signer, nonce=nonce, expiry=expiry)
    return SignedTx(body=body, sig=bytes(64), body_bytes=body.encode())


_ERROR_NAMES: dict[str, dict[int, str]] = {}


def law_error_names(c, law: str) -> dict[int, str]:
    """``E_NAME = N`` constants of a law's source: its error codes by number."""
    import re

    if law not in _ERROR_NAMES:
        try:
            src = c.get_law(law).source
        except Exception:  # noqa: BLE001 - the names are a courtesy; the number stays
            src = ""
        _ERROR_NAMES[law] = {int(n): name for name, n in re.findall(r"^(E_[A-Z0-9_]+)\s*=\s*(\d+)", src, re.M)}
    return _ERROR_NAMES[law]


def name_law_error(c, tx: SignedTx, o: dict) -> dict:
    """Replace a law's numeric error with its name from the law's source (``E_BAD_ARGUMENT (2)``)."""
    err = o.get("error")
    if err and tx.body.kind == "call" and isinstance(tx.body.payload, dict):
        try:
            n = int(err["name"])
        except (TypeError, ValueError):
            return o
        law = tx.body.payload.get("contract")
        name = law_error_names(c, law).get(n) if isinstance(law, str) else None
        err["name"] = f"{law}.{name}" if name else f"{law} error {n}"
        err["code"] = n
    return o


def simulated(c, tx: SignedTx, r, height: int) -> dict:
    """One result of ``SimulateTx`` in the command's shape."""
    if not r.receipt:  # refused before execution (admission): no receipt
        return outcome(tx, "simulated", code=r.code, code_name=codes.name(r.code),
                       error={"name": codes.name(r.code), "detail": r.reason})
    rc = Receipt.decode(r.receipt)
    return name_law_error(c, tx, outcome(tx, "simulated", height=height, **receipt_fields(rc)))


def simulate(c, tx: SignedTx) -> dict:
    r = c.simulate([tx])
    return simulated(c, tx, r.results[0], r.height)


def wait_receipt(c, tx: SignedTx, timeout: float = 60.0) -> dict:
    r = c.wait_for_tx(tx.hash, timeout=timeout)
    rc = Receipt.decode(r.receipt)
    return name_law_error(c, tx, outcome(tx, "committed" if rc.code == 0 else "failed", height=r.height,
                                         **receipt_fields(rc)))


def finish(settings: Settings, o: dict) -> None:
    emit(settings, o, human(o))
    if o["status"] == "failed" or (o["status"] == "simulated" and o["code"]):
        raise SystemExit(1)


def send(settings: Settings, kind: str, payload, preview=None) -> dict:
    """Sign and send (or dry-run, or sign offline) one transaction; print the outcome."""
    opts = current_options()
    if opts.offline:
        if opts.dry_run or opts.wait:
            raise UserError("--offline signs without a node: it cannot be combined with --dry-run or --wait")
        tx = sign(settings, kind, payload, opts)
        path = write_signed(tx, opts.out)
        o = outcome(tx, "signed", file=path)
        if path is not None:
            emit(settings, o, human(o))
        return o
    if opts.out:
        raise UserError("--out is for --offline signing")
    with client(settings) as c:
        if preview is not None:
            preview(c)
        tx = sign(settings, kind, payload, opts, c)
        if opts.dry_run:
            o = simulate(c, tx)
        else:
            c.submit(tx)
            o = wait_receipt(c, tx) if opts.wait else outcome(tx, "submitted")
    finish(settings, o)
    return o


def broadcast(settings: Settings, path: str, wait: bool) -> dict:
    tx = read_signed(path)
    with client(settings) as c:
        st = c.status()
        if st.chain_id != tx.body.chain_id:
            raise UserError(f"{path} is signed for chain {tx.body.chain_id!r}; the node serves {st.chain_id!r}")
        c.submit(tx)
        o = wait_receipt(c, tx) if wait else outcome(tx, "submitted")
    o["file"] = path
    finish(settings, o)
    return o
