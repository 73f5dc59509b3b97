"""Executing transactions and blocks against the state.

Two kinds of check, kept apart on purpose:

* **Admission** (:func:`admission_error`): chain id, expiry, signature,
  nonce, sender registered.  A transaction failing one of these is never put
  in a block; a proposed block containing one is invalid as a whole
  (:class:`InvalidBlock`).  The mempool runs the same function, so what it
  admits a block may hold.
* **Execution** (:meth:`Executor.apply_tx`): what the transaction does.  A
  transaction that fails here is still in the block, gets a receipt with a
  stable code from ``ledger/codes.py``, and changes nothing but its sender's
  nonce (its writes are reverted through the state's journal).

Nothing here reads a clock, a random source or the machine: the block
context (height, time, proposer) comes from the header.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from ledger import codes
from ledger.block import Receipt
from ledger.state import Account, State, Supply, SUPPLY
from ledger.tx import ACCOUNT_KINDS, ROLES, SignedTx, TxError, decode_tx

from .errors import InvalidBlock, TxFailed

U64_MAX = 2**64 - 1


@dataclasses.dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes


def admission_error(state: State, tx: SignedTx, chain_id: str, height: int, verified: bool) -> tuple[int, str] | None:
    """Return (code, reason) if ``tx`` may not enter a block at ``height``."""
    b = tx.body
    if b.chain_id != chain_id:
        return codes.WRONG_CHAIN, f"transaction is for chain {b.chain_id!r}, this is {chain_id!r}"
    if b.expiry < height:
        return codes.EXPIRED, f"transaction expired at height {b.expiry}; next block is {height}"
    if not verified and not tx.verify_signature():
        return codes.BAD_SIGNATURE, "signature does not verify"
    acct = state.account(tx.sender)
    if not acct.registered:
        return codes.SENDER_NOT_REGISTERED, "sender is not a registered account"
    if b.nonce != acct.nonce:
        return codes.BAD_NONCE, f"nonce {b.nonce} does not match the account's next nonce {acct.nonce}"
    return None


Handler = Callable[["Executor", State, SignedTx, object, BlockContext, list], object]


class Executor:
    """Applies transactions; knows each kind's handler."""

    def __init__(self, chain_id: str, contracts=None):
        self.chain_id = chain_id
        self.contracts = contracts  # chain.contract_host.ContractHost or None
        self.handlers: dict[str, Handler] = {
            "transfer": _transfer,
            "issue": _issue,
            "retire": _retire,
            "register": _register,
            "deregister": _deregister,
            "set_role": _set_role,
            "set_validator": _set_validator,
            "call": _call,
        }

    def apply_tx(self, state: State, tx: SignedTx, ctx: BlockContext) -> Receipt:
        """Apply an admitted transaction; always returns a receipt."""
        sender = tx.sender
        acct = state.account(sender)
        state.set_account(sender, acct.with_nonce(acct.nonce + 1))
        mark = state.mark()
        events: list = []
        gas = 0
        result = None
        try:
            payload = tx.payload_record()
            handler = self.handlers.get(tx.body.kind)
            if handler is None:
                raise TxFailed(codes.UNKNOWN_KIND)
            out = handler(self, state, tx, payload, ctx, events)
            if isinstance(out, tuple):
                result, gas = out
            else:
                result = out
            code = codes.OK
        except TxFailed as e:
            state.revert(mark)
            events = []
            code = e.code
            gas = e.gas
            result = e.result  # e.g. a law's own {"error", "detail"}: canonical data, the same on every node
        except TxError:
            state.revert(mark)
            events = []
            code = codes.INVALID_ARGUMENT
        return Receipt(tx_hash=tx.hash, code=code, gas_used=gas, events=tuple(events), result=result)

    def apply_block(
        self, state: State, raw_txs, ctx: BlockContext, verified: Callable[[bytes], bool] | None = None,
        skip_inadmissible: bool = False,
    ) -> tuple[list[Receipt], list[SignedTx]]:
        """Execute a block's transactions in order.

        An inadmissible transaction makes the block invalid (InvalidBlock), or,
        when building a block (``skip_inadmissible``), is left out.  Returns the
        receipts and the transactions included.
        """
        receipts = []
        included = []
        for i, raw in enumerate(raw_txs):
            try:
                tx = raw if isinstance(raw, SignedTx) else decode_tx(raw)
            except TxError as e:
                if skip_inadmissible:
                    continue
                raise InvalidBlock(f"transaction {i}: {e}") from None
            is_verified = verified(tx.hash) if verified else False
            err = admission_error(state, tx, self.chain_id, ctx.height, is_verified)
            if err is not None:
                if skip_inadmissible:
                    continue
                raise InvalidBlock(f"transaction {i} ({tx.hash.hex()[:16]}): {err[1]}")
            receipts.append(self.apply_tx(state, tx, ctx))
            included.append(tx)
        return receipts, included


# --------------------------------------------------------------------------
# Native kinds.  Each raises TxFailed(code) on failure; writes are reverted.
# --------------------------------------------------------------------------


def _require_role(acct: Account, role: str) -> None:
    if role not in acct.roles:
        raise TxFailed(codes.NOT_AUTHORIZED, f"sender lacks the {role} role")


def move(state: State, frm: bytes, to: bytes, amount: int, events: list, kind: str = "transfer") -> None:
    """Move ``amount`` fen between accounts under the currency's rules."""
    if amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    a = state.account(frm)
    if a.balance < amount:
        raise TxFailed(codes.INSUFFICIENT_FUNDS)
    b = state.account(to)
    if not b.registered:
        raise TxFailed(codes.RECIPIENT_NOT_REGISTERED)
    if frm == to:
        events.append({"type": kind, "from": frm, "to": to, "amount": amount})
        return
    state.set_account(frm, a.with_balance(a.balance - amount))
    b = state.account(to)
    state.set_account(to, b.with_balance(b.balance + amount))
    events.append({"type": kind, "from": frm, "to": to, "amount": amount})


def _transfer(ex, state, tx, p, ctx, events):
    move(state, tx.sender, p.to, p.amount, events)


def _issue(ex, state, tx, p, ctx, events):
    _require_role(state.account(tx.sender), "central_bank")
    if p.amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    to = state.account(p.to)
    if not to.registered:
        raise TxFailed(codes.RECIPIENT_NOT_REGISTERED)
    s = state.supply()
    if s.issued + p.amount > U64_MAX or to.balance + p.amount > U64_MAX:
        raise TxFailed(codes.SUPPLY_OVERFLOW)
    state.put(SUPPLY, Supply(issued=s.issued + p.amount, retired=s.retired))
    state.set_account(p.to, to.with_balance(to.balance + p.amount))
    events.append({"type": "issue", "to": p.to, "amount": p.amount})


def _retire(ex, state, tx, p, ctx, events):
    me = state.account(tx.sender)
    _require_role(me, "central_bank")
    if p.amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    if me.balance < p.amount:
        raise TxFailed(codes.INSUFFICIENT_FUNDS)
    s = state.supply()
    state.put(SUPPLY, Supply(issued=s.issued, retired=s.retired + p.amount))
    state.set_account(tx.sender, me.with_balance(me.balance - p.amount))
    events.append({"type": "retire", "from": tx.sender, "amount": p.amount})


def _register(ex, state, tx, p, ctx, events):
    _require_role(state.account(tx.sender), "registrar")
    if p.kind not in ACCOUNT_KINDS:
        raise TxFailed(codes.INVALID_ARGUMENT, f"kind must be one of {ACCOUNT_KINDS}")
    a = state.account(p.account)
    if a.registered:
        raise TxFailed(codes.ALREADY_REGISTERED)
    state.set_account(p.account, dataclasses.replace(a, kind=p.kind, name=p.name))
    events.append({"type": "register", "account": p.account, "kind": p.kind})


def _deregister(ex, state, tx, p, ctx, events):
    _require_role(state.account(tx.sender), "registrar")
    a = state.account(p.account)
    if not a.registered:
        raise TxFailed(codes.NOT_REGISTERED)
    state.set_account(p.account, dataclasses.replace(a, kind="", roles=()))
    events.append({"type": "deregister", "account": p.account})


def _set_role(ex, state, tx, p, ctx, events):
    _require_role(state.account(tx.sender), "registrar")
    if p.role not in ROLES:
        raise TxFailed(codes.UNKNOWN_ROLE)
    a = state.account(p.account)
    if not a.registered:
        raise TxFailed(codes.NOT_REGISTERED)
    roles = set(a.roles)
    if p.grant:
        roles.add(p.role)
    else:
        roles.discard(p.role)
    state.set_account(p.account, dataclasses.replace(a, roles=tuple(sorted(roles))))
    events.append({"type": "set_role", "account": p.account, "role": p.role, "grant": p.grant})


def _set_validator(ex, state, tx, p, ctx, events):
    """Schedule a change to the validator set; it takes effect at height + 2."""
    _require_role(state.account(tx.sender), "validator_operator")
    effective = ctx.height + 2
    # the set as it will stand just before `effective`: current, plus what is already scheduled
    powers = {v.pubkey: v.power for v in state.validators()}
    for h in (ctx.height + 1, effective):
        for pk, pw in state.get_value(("validator_updates", h)) or []:
            powers[pk] = pw
    if p.power == 0 and powers.get(p.pubkey, 0) == 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "no such validator")
    powers[p.pubkey] = p.power
    if not any(pw > 0 for pw in powers.values()):
        raise TxFailed(codes.INVALID_ARGUMENT, "cannot remove the last validator")
    pending = {pk: pw for pk, pw in state.get_value(("validator_updates", effective)) or []}
    pending[p.pubkey] = p.power
    state.put_value(("validator_updates", effective), [[pk, pending[pk]] for pk in sorted(pending)])
    if p.name:
        state.put_value(("validator_name", p.pubkey), p.name)
    events.append({"type": "set_validator", "pubkey": p.pubkey, "power": p.power, "effective": effective})


def _call(ex, state, tx, p, ctx, events):
    if ex.contracts is None:
        raise TxFailed(codes.UNKNOWN_CONTRACT)
    return ex.contracts.call_tx(state, tx, p, ctx, events)


