"""``esoc tx ...``: every transaction kind, plus ``show`` and ``broadcast``.

Each kind takes the shared transaction options (cli/txflow.py): ``--from``,
``--wait``, ``--dry-run``, ``--offline`` (+ ``--nonce``, ``--expiry``,
``--chain-id``, ``--out``).  Law calls (wages, tax declarations,
procurement, coupons, lottery, queues, welfare, and governance as it lands)
go through ``esoc tx call LAW ENTRY --args JSON``; the common ones also have
their own command (``tx wage``).
"""

from __future__ import annotations

import json

import click

from ledger import codes
from ledger.address import AddressError, decode_address, encode_address

from . import txflow
from .output import UserError, client, emit, global_options, keystore, pass_settings, progress, resolve_address

# argument names that name an account in the laws: a keystore name is accepted and must resolve
ACCOUNT_ARGS = frozenset({
    "employee", "employer", "enterprise", "recipient", "heir", "account", "address", "citizen", "supplier",
    "buyer", "holder", "owner", "member", "to", "payee", "who", "agency", "seller", "winner", "applicant",
    "delegate", "author", "assignee", "beneficiary",
})


class Group(click.Group):
    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=Group)
def tx():
    """Transactions: sign and send every kind; show a receipt; broadcast a signed file.

    \b
    Every kind takes --from KEY and:
      --wait       wait for the commit; print the receipt and its events
      --dry-run    execute against the latest state on the node; send nothing
      --offline    sign without a node (--nonce, --expiry, --chain-id) into --out FILE
    """


def amount_option(f):
    return click.option("--amount", type=click.IntRange(min=1), required=True, help="Amount in fen (integer > 0).")(f)


def memo_option(f):
    return click.option("--memo", default="", help="A note stored with the transaction.")(f)


@tx.command("send")
@click.option("--to", required=True, metavar="NAME_OR_ADDRESS", help="Recipient: an address or a keystore name.")
@amount_option
@memo_option
@txflow.tx_options
@global_options
@pass_settings
def tx_send(settings, to, amount, memo):
    """Transfer fen to another registered account."""
    from ledger.tx import Transfer

    txflow.send(settings, "transfer", Transfer(to=resolve_address(settings, to), amount=amount, memo=memo))


@tx.command("issue")
@click.option("--to", required=True, metavar="NAME_OR_ADDRESS", help="Recipient: an address or a keystore name.")
@amount_option
@memo_option
@txflow.tx_options
@global_options
@pass_settings
def tx_issue(settings, to, amount, memo):
    """Central bank: issue new money to an account."""
    from ledger.tx import Issue

    txflow.send(settings, "issue", Issue(to=resolve_address(settings, to), amount=amount, memo=memo))


@tx.command("retire")
@amount_option
@memo_option
@txflow.tx_options
@global_options
@pass_settings
def tx_retire(settings, amount, memo):
    """Central bank: retire money from its own account."""
    from ledger.tx import Retire

    txflow.send(settings, "retire", Retire(amount=amount, memo=memo))


@tx.command("register")
@click.option("--account", required=True, metavar="NAME_OR_ADDRESS", help="The account to register.")
@click.option("--kind", required=True, type=click.Choice(["citizen", "enterprise", "agency"]), help="The account's kind.")
@click.option("--name", default="", help="A display name.")
@txflow.tx_options
@global_options
@pass_settings
def tx_register(settings, account, kind, name):
    """Registrar: register an account so it may hold and move money."""
    from ledger.tx import Register

    txflow.send(settings, "register", Register(account=resolve_address(settings, account), kind=kind, name=name))


@tx.command("role")
@click.option("--account", required=True, metavar="NAME_OR_ADDRESS", help="The account.")
@click.option("--role", required=True, type=click.Choice(sorted(__import__("ledger.tx", fromlist=["ROLES"]).ROLES)),
              help="The role.")
@click.option("--revoke", is_flag=True, help="Revoke the role instead of granting it.")
@txflow.tx_options
@global_options
@pass_settings
def tx_role(settings, account, role, revoke):
    """Registrar: grant (or --revoke) a role."""
    from ledger.tx import SetRole

    txflow.send(settings, "set_role", SetRole(account=resolve_address(settings, account), role=role, grant=not revoke))


def parse_law_args(settings, text: str) -> dict:
    """``--args`` JSON; values of account arguments may be keystore names (resolved here)."""
    try:
        args = json.loads(text)
    except ValueError as e:
        raise UserError(f"--args is not valid JSON: {e}") from None
    if not isinstance(args, dict):
        raise UserError("--args must be a JSON object of keyword arguments")
    ks = keystore(settings)
    for k, v in list(args.items()):
        if k in ACCOUNT_ARGS and isinstance(v, str):
            try:
                args[k] = encode_address(decode_address(v))
                continue
            except AddressError:
                pass
            try:
                if ks.exists(v):
                    args[k] = ks.info(v)["address"]
                    progress(f"{k}: {v} -> {args[k]}")
                    continue
            except Exception:  # noqa: BLE001 - a name the keystore refuses is reported below
                pass
            raise UserError(f"--args {k}: {v!r} is neither a valid address nor a key in {ks.path}")
    return args


@tx.command("call")
@click.argument("law")
@click.argument("entry")
@click.option("--args", "args_", default="{}", show_default=True, metavar="JSON",
              help="Keyword arguments as a JSON object; accounts as addresses or keystore names.")
@click.option("--gas", type=click.IntRange(min=1), default=1_000_000, show_default=True, help="Gas limit.")
@txflow.tx_options
@global_options
@pass_settings
def tx_call(settings, law, entry, args_, gas):
    """Call a law's entry (wages, declarations, procurement, coupons, lottery, queues, welfare, ...).

    \b
    Examples:
      esoc tx call tax pay_wage --from steelworks --args '{"employee": "alice", "gross": 3000000}' --wait
      esoc tx call tax declare_profit --from bakery --args '{"year": 2026, "cumulative_profit": 500000}' --dry-run
    A committed call prints its result and events; a refused one the law's own error and detail.
    """
    from ledger.tx import Call

    txflow.send(settings, "call", Call(contract=law, entry=entry, args=parse_law_args(settings, args_), gas_limit=gas))


@tx.command("wage")
@click.option("--employee", required=True, metavar="NAME_OR_ADDRESS", help="The employee.")
@click.option("--gross", type=click.IntRange(min=1), required=True, help="Gross wage in fen.")
@click.option("--social-insurance", type=click.IntRange(min=0), default=0, help="Employee's social insurance share (fen).")
@click.option("--special-additional", type=click.IntRange(min=0), default=0, help="Special additional deductions (fen).")
@click.option("--other-deductions", type=click.IntRange(min=0), default=0, help="Other deductions allowed by law (fen).")
@txflow.tx_options
@global_options
@pass_settings
def tx_wage(settings, employee, gross, social_insurance, special_additional, other_deductions):
    """Pay a wage through the tax law; the net pay and the tax withheld are shown before signing."""
    from ledger.tx import Call

    args = {"employee": encode_address(resolve_address(settings, employee)), "gross": gross,
            "social_insurance": social_insurance, "special_additional": special_additional,
            "other_deductions": other_deductions}
    payload = Call(contract="tax", entry="pay_wage", args=args, gas_limit=1_000_000)
    opts = txflow.current_options()

    def preview(c):
        if opts.dry_run:
            return
        import dataclasses

        o = txflow.simulate(c, txflow.sign(settings, "call", payload, dataclasses.replace(opts, dry_run=True), c))
        r = o["result"] if o["code"] == 0 and isinstance(o["result"], dict) else None
        if r is None:
            err = o["error"] or {}
            raise UserError(f"the tax law would refuse this wage: {err.get('name')} {err.get('detail') or ''}".strip())
        progress(f"preview: gross {gross}, tax withheld {r['tax']}, social insurance {r['social_insurance']}, "
                 f"net pay {r['net']} fen")

    txflow.send(settings, "call", payload, preview=preview)


@tx.command("show")
@click.argument("tx_hash", metavar="HASH")
@global_options
@pass_settings
def tx_show(settings, tx_hash):
    """A transaction and its receipt: code, the law's error, result and decoded events."""
    from ledger.block import Receipt
    from ledger.tx import SignedTx

    try:
        h = bytes.fromhex(tx_hash)
        if len(h) != 32:
            raise ValueError
    except ValueError:
        raise UserError("a transaction hash is 64 hex characters") from None
    with client(settings) as c:
        r = c.tx(h)
        if not r.found:
            raise UserError(f"no transaction {tx_hash} (neither committed nor pending on this node)")
        t = SignedTx.decode(r.tx)
        if r.pending:
            o = txflow.outcome(t, "pending")
        else:
            rc = Receipt.decode(r.receipt)
            o = txflow.outcome(t, "committed" if rc.code == 0 else "failed", height=r.height,
                               **txflow.receipt_fields(rc))
            txflow.name_law_error(c, t, o)
    o["payload"] = txflow.jsonable(t.body.payload)
    human = txflow.human(o) + "\n  payload " + json.dumps(o["payload"])
    emit(settings, o, human)


@tx.command("broadcast")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--wait", is_flag=True, help="Wait for the commit and print the receipt.")
@global_options
@pass_settings
def tx_broadcast(settings, file, wait):
    """Send a transaction signed earlier with --offline (from any machine)."""
    txflow.broadcast(settings, file, wait)


__all__ = ["tx", "parse_law_args", "codes"]
