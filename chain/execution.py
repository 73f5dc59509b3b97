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
from typing import Callable, Protocol

from ledger import codes
from ledger.block import Receipt
from ledger.state import Account, State, Supply, SUPPLY
from ledger.tx import ACCOUNT_KINDS, ROLES, SignedTx, TxError, decode_tx

from consensus.valset import MAX_TOTAL_POWER

from .errors import InvalidBlock, TxFailed
from .roles import index_role

U64_MAX = 2**64 - 1


@dataclasses.dataclass(frozen=True)
class BlockContext:
    chain_id: str
    height: int
    time_ms: int
    proposer: bytes


def admission_error(state: State, tx: SignedTx, chain_id: str, height: int, verified: bool,
                    acct: Account | None = None, queued: int = 0) -> tuple[int, str] | None:
    """Return (code, reason) if ``tx`` may not enter a block at ``height``.

    ``acct``: the sender's account in ``state``, when the caller has read it already.
    ``queued``: the sender's transactions already pending ahead of this one (the mempool's),
    so the nonce expected is the account's plus that many.
    """
    b = tx.body
    if b.chain_id != chain_id:
        return codes.WRONG_CHAIN, f"transaction is for chain {b.chain_id!r}, this is {chain_id!r}"
    if b.expiry < height:
        return codes.EXPIRED, f"transaction expired at height {b.expiry}; next block is {height}"
    if not verified and not tx.verify_signature():
        return codes.BAD_SIGNATURE, "signature does not verify"
    if acct is None:
        acct = state.account(tx.sender)
    if not acct.registered:
        return codes.SENDER_NOT_REGISTERED, "sender is not a registered account"
    if b.nonce != acct.nonce + queued:
        return codes.BAD_NONCE, f"nonce {b.nonce} does not match the account's next nonce {acct.nonce + queued}"
    return None


class Handler(Protocol):
    """The rule of one transaction kind.

    Called with the executor, the working state, the admitted transaction,
    its decoded ``payload`` record, the block context and the receipt's
    ``events`` list to append to.  Returns the receipt's result, or
    ``(result, gas_used)``, or ``(result, gas_used, event_bytes)`` with the
    canonical bytes of each event it already has (None where it has not:
    ``Receipt.with_event_bytes``); raises :class:`TxFailed` to refuse, after which
    every write it made is reverted and only the sender's nonce moves.
    """

    def __call__(self, executor: "Executor", state: State, tx: SignedTx, payload, ctx: BlockContext,
                 events: list) -> object: ...


class Executor:
    """Applies transactions; knows each kind's handler."""

    def __init__(self, chain_id: str, contracts=None):
        self.chain_id = chain_id
        self.contracts = contracts  # chain.contract_host.ContractHost or None
        self.handlers: dict[str, Handler] = {
            "transfer": transfer,
            "issue": issue,
            "retire": retire,
            "register": register,
            "deregister": deregister,
            "set_role": set_role,
            "set_validator": set_validator,
            "call": call,
        }

    def apply_tx(self, state: State, tx: SignedTx, ctx: BlockContext, acct: Account | None = None) -> Receipt:
        """Apply an admitted transaction; always returns a receipt.

        ``acct``: the sender's account in ``state``, when the caller has just read it.
        """
        sender = tx.sender
        if acct is None:
            acct = state.account(sender)
        if tx.body.kind == "transfer" and self.handlers.get("transfer") is transfer:
            r = _apply_transfer(state, tx, sender, acct)
            if r is not None:
                return r
        state.set_account(sender, acct.with_nonce(acct.nonce + 1))
        mark = state.mark()
        events: list = []
        gas = 0
        result = None
        known = None  # the events' canonical bytes, where the handler has them
        try:
            payload = tx.payload_record()
            handler = self.handlers.get(tx.body.kind)
            if handler is None:
                raise TxFailed(codes.UNKNOWN_KIND)
            out = handler(self, state, tx, payload, ctx, events)
            if isinstance(out, tuple):
                if len(out) == 3:
                    result, gas, known = out
                else:
                    result, gas = out
            else:
                result = out
            code = codes.OK
        except TxFailed as e:
            state.revert(mark)
            events = []
            known = None
            code = e.code
            gas = e.gas
            result = e.result  # e.g. a law's own {"error", "detail"}: canonical data, the same on every node
        except TxError:
            state.revert(mark)
            events = []
            known = None
            code = codes.INVALID_ARGUMENT
        r = Receipt(tx_hash=tx.hash, code=code, gas_used=gas, events=tuple(events), result=result)
        return r if known is None else r.with_event_bytes(known)

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
            acct = state.account(tx.sender)
            err = admission_error(state, tx, self.chain_id, ctx.height, is_verified, acct)
            if err is not None:
                if skip_inadmissible:
                    continue
                raise InvalidBlock(f"transaction {i} ({tx.hash.hex()[:16]}): {err[1]}")
            receipts.append(self.apply_tx(state, tx, ctx, acct))
            included.append(tx)
        return receipts, included


# --------------------------------------------------------------------------
# Native kinds.  Each raises TxFailed(code) on failure; writes are reverted.
# --------------------------------------------------------------------------


def _require_role(acct: Account, role: str) -> None:
    if role not in acct.roles:
        raise TxFailed(codes.NOT_AUTHORIZED, f"sender lacks the {role} role")


def move(state: State, frm: bytes, to: bytes, amount: int, events: list, kind: str = "transfer") -> None:
    """Move ``amount`` fen between accounts under the currency's rules.

    The amount is positive, the sender holds it (``INSUFFICIENT_FUNDS``)
    and the recipient is registered (``RECIPIENT_NOT_REGISTERED``): money
    never lands in an account the registrar does not know.
    """
    if amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    a = state.account(frm)
    if a.balance < amount:
        raise TxFailed(codes.INSUFFICIENT_FUNDS)
    b = state.account(to)
    if not b.registered:
        raise TxFailed(codes.RECIPIENT_NOT_REGISTERED)
    if frm != to:  # (b is read before a is written: they are different accounts)
        state.set_account(frm, a.with_balance(a.balance - amount))
        state.set_account(to, b.with_balance(b.balance + amount))
    events.append({"amount": amount, "from": frm, "to": to, "type": kind})  # keys in canonical order


def _apply_transfer(state: State, tx: SignedTx, sender: bytes, acct: Account) -> Receipt | None:
    """A transfer applied in one step: the same writes and receipt as the general path of
    :meth:`Executor.apply_tx` with :func:`transfer` (nonce bump, then :func:`move`, reverted
    on failure), with the sender's account written once instead of twice and no journal mark
    (nothing is written before a check fails).  None: the general path must decide."""
    try:
        p = tx.payload_record()
    except TxError:
        return None
    amount, to = p.amount, p.to
    if type(amount) is not int:
        return None
    code = codes.OK
    b = None
    if amount <= 0:
        code = codes.INVALID_ARGUMENT
    elif acct.balance < amount:
        code = codes.INSUFFICIENT_FUNDS
    else:
        b = state.account(to)  # for to == sender: the sender before its nonce bump; only `registered` is read
        if not b.registered:
            code = codes.RECIPIENT_NOT_REGISTERED
    events: tuple = ()
    if code != codes.OK or to == sender:
        state.set_account(sender, acct.with_nonce(acct.nonce + 1))
    else:
        state.set_account(sender, Account(acct.balance - amount, acct.nonce + 1, acct.kind, acct.roles, acct.name))
        state.set_account(to, b.with_balance(b.balance + amount))
    if code == codes.OK:
        events = ({"amount": amount, "from": sender, "to": to, "type": "transfer"},)
    return Receipt(tx_hash=tx.hash, code=code, gas_used=0, events=events, result=None)


def transfer(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """Move ``payload.amount`` fen from the sender to ``payload.to`` (see :func:`move`)."""
    move(state, tx.sender, payload.to, payload.amount, events)


def issue(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """Create money: only the ``central_bank`` role, only to a registered account.

    Refused: a sender without the role (``NOT_AUTHORIZED``), an amount not
    positive (``INVALID_ARGUMENT``), an unregistered recipient, and anything
    that would take the supply or the balance past 2^64 - 1
    (``SUPPLY_OVERFLOW``).  The supply's ``issued`` grows by the amount.
    """
    _require_role(state.account(tx.sender), "central_bank")
    if payload.amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    recipient = state.account(payload.to)
    if not recipient.registered:
        raise TxFailed(codes.RECIPIENT_NOT_REGISTERED)
    supply = state.supply()
    if supply.issued + payload.amount > U64_MAX or recipient.balance + payload.amount > U64_MAX:
        raise TxFailed(codes.SUPPLY_OVERFLOW)
    state.put(SUPPLY, Supply(issued=supply.issued + payload.amount, retired=supply.retired))
    state.set_account(payload.to, recipient.with_balance(recipient.balance + payload.amount))
    events.append({"type": "issue", "to": payload.to, "amount": payload.amount})


def retire(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """Destroy money from the central bank's own balance; the supply's ``retired`` grows."""
    sender = state.account(tx.sender)
    _require_role(sender, "central_bank")
    if payload.amount <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "amount must be positive")
    if sender.balance < payload.amount:
        raise TxFailed(codes.INSUFFICIENT_FUNDS)
    supply = state.supply()
    state.put(SUPPLY, Supply(issued=supply.issued, retired=supply.retired + payload.amount))
    state.set_account(tx.sender, sender.with_balance(sender.balance - payload.amount))
    events.append({"type": "retire", "from": tx.sender, "amount": payload.amount})


def register(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """The registrar registers an account as one of ``ACCOUNT_KINDS``; once only."""
    _require_role(state.account(tx.sender), "registrar")
    if payload.kind not in ACCOUNT_KINDS:
        raise TxFailed(codes.INVALID_ARGUMENT, f"kind must be one of {ACCOUNT_KINDS}")
    account = state.account(payload.account)
    if account.registered:
        raise TxFailed(codes.ALREADY_REGISTERED)
    state.set_account(payload.account, dataclasses.replace(account, kind=payload.kind, name=payload.name))
    events.append({"type": "register", "account": payload.account, "kind": payload.kind})


def deregister(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """The registrar closes a registered account; its roles go with it (its balance stays)."""
    _require_role(state.account(tx.sender), "registrar")
    account = state.account(payload.account)
    if not account.registered:
        raise TxFailed(codes.NOT_REGISTERED)
    state.set_account(payload.account, dataclasses.replace(account, kind="", roles=()))
    for role in account.roles:
        index_role(state, payload.account, role, False)
    events.append({"type": "deregister", "account": payload.account})


def set_role(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """The registrar grants (``grant``) or revokes a role of ``ROLES`` on a registered account.

    Only on a chain without a congress: where the ``congress`` law is
    installed, roles change only by an enacted decision (``NOT_AUTHORIZED``).
    """
    _require_role(state.account(tx.sender), "registrar")
    if state.get_value(("contract", "congress")) is not None:
        raise TxFailed(codes.NOT_AUTHORIZED, "roles change only by an enacted decision of the congress")
    if payload.role not in ROLES:
        raise TxFailed(codes.UNKNOWN_ROLE)
    account = state.account(payload.account)
    if not account.registered:
        raise TxFailed(codes.NOT_REGISTERED)
    roles = set(account.roles)
    if payload.grant:
        roles.add(payload.role)
    else:
        roles.discard(payload.role)
    state.set_account(payload.account, dataclasses.replace(account, roles=tuple(sorted(roles))))
    index_role(state, payload.account, payload.role, payload.grant)
    events.append({"type": "set_role", "account": payload.account, "role": payload.role, "grant": payload.grant})


def _set_before(state: State, effective: int) -> dict[bytes, int]:
    """Voting power by key of the set just before ``effective``: the current set plus the updates due at ``effective - 1``."""
    powers = {v.pubkey: v.power for v in state.validators()}
    for pubkey, power in state.get_value(("validator_updates", effective - 1)) or []:
        powers[pubkey] = power
    return {pk: pw for pk, pw in powers.items() if pw > 0}


def schedule_validator(state: State, height: int, pubkey: bytes, power: int, name: str = "") -> int:
    """Schedule ``pubkey`` at ``power`` (0 removes) for ``height + 2``; the rules of :func:`set_validator`.

    Raises :class:`TxFailed`; returns the effective height.  Also the
    congress's host power (a ``validator`` decision, enacted at ``height``).
    """
    effective = height + 2
    before = _set_before(state, effective)
    pending = {pk: pw for pk, pw in state.get_value(("validator_updates", effective)) or []}
    if power == 0 and pubkey not in before:
        if pubkey not in pending:
            raise TxFailed(codes.INVALID_ARGUMENT, "no such validator")
        del pending[pubkey]  # an addition earlier in this block, now withdrawn
    else:
        pending[pubkey] = power
    after = {**before, **pending}
    total = sum(pw for pw in after.values() if pw > 0)
    if total <= 0:
        raise TxFailed(codes.INVALID_ARGUMENT, "cannot remove the last validator")
    if total > MAX_TOTAL_POWER:
        raise TxFailed(codes.INVALID_ARGUMENT, "total voting power too large")
    if pending:
        state.put_value(("validator_updates", effective), [[pk, pending[pk]] for pk in sorted(pending)])
    else:
        state.delete(("validator_updates", effective))
    if name:
        state.put_value(("validator_name", pubkey), name)
    return effective


def set_validator(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list) -> None:
    """Schedule a change to the validator set; it takes effect at ``height + 2``.

    Several changes to one key in a block net out: the pending update holds
    the last power asked for, and a removal of a key that is not in the set
    due just before ``height + 2`` cancels that key's pending addition instead
    of scheduling a removal (adding then removing a key in one block leaves no
    update at all).  Refused: a sender without ``validator_operator``, the
    removal of a key in neither the set nor the pending updates, the removal
    of the last validator, and a total power past the set's limit; so the
    update applied at the end of the block cannot fail.
    """
    _require_role(state.account(tx.sender), "validator_operator")
    effective = schedule_validator(state, ctx.height, payload.pubkey, payload.power, payload.name)
    events.append({"type": "set_validator", "pubkey": payload.pubkey, "power": payload.power, "effective": effective})


def call(executor: Executor, state: State, tx: SignedTx, payload, ctx: BlockContext, events: list):
    """Call a law's entry point (``payload.contract``, ``payload.function``, ``payload.args``).

    The contract host runs the version in force at this height in the
    sandbox; its receipt code is ``CONTRACT_BASE`` + the runtime's code, with
    the law's own error value as the result when the law refuses.
    """
    if executor.contracts is None:
        raise TxFailed(codes.UNKNOWN_CONTRACT)
    return executor.contracts.call_tx(state, tx, payload, ctx, events)
