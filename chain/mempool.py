"""The mempool: admitted transactions waiting for a block.

Sans-IO: no threads, no clock.  Signature checking is done *before* a
transaction reaches :meth:`Mempool.add` (by the node's signature worker
processes, node/verifier.py, or its gRPC threads for a few); the mempool records the
hash of every transaction whose signature it has seen verified, so executing
a block does not verify it again.

Admission against state uses the same :func:`chain.execution.admission_error`
a block is judged by, with one difference: a sender may queue several
transactions, so the expected nonce is the account's nonce plus the number
of its transactions already pending.  Bounds: total count, total bytes, and
per-sender count; a full mempool refuses with MEMPOOL_FULL rather than grow.

Funds: a transfer or a retirement is admitted only if the sender's balance
covers it net of the sender's pending transfers and retirements
(``INSUFFICIENT_FUNDS`` otherwise), so a payment that would fail in the
block does not take a nonce.  Money a pending transaction would bring in is
not counted, and what a law call would move cannot be predicted: a block
may still meet an overdraft, which execution refuses with the same code.
"""

from __future__ import annotations

from ledger import codes
from ledger.state import State, acct_path_bytes
from ledger.tx import SignedTx, TxError

from .execution import admission_error


class Rejected(Exception):
    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


class Mempool:
    def __init__(self, chain_id: str, max_txs: int = 50_000, max_bytes: int = 64 * 1024 * 1024, max_per_sender: int = 5_000):
        self.chain_id = chain_id
        self.max_txs = max_txs
        self.max_bytes = max_bytes
        self.max_per_sender = max_per_sender
        self._txs: dict[bytes, SignedTx] = {}  # by hash, in arrival order (dicts keep it)
        self._by_sender: dict[bytes, list[bytes]] = {}  # sender -> tx hashes in nonce order
        self._bytes = 0
        self._spend: dict[bytes, int] = {}  # sender -> fen its pending transfers and retirements move out
        self._verified: dict[bytes, None] = {}  # oldest first

    def __len__(self) -> int:
        return len(self._txs)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def has(self, h: bytes) -> bool:
        return h in self._txs

    def get(self, h: bytes) -> SignedTx | None:
        """The decoded, signature-checked transaction with hash ``h``, if pending."""
        return self._txs.get(h)

    def mark_verified(self, h: bytes) -> None:
        v = self._verified
        v[h] = None
        if len(v) > 4 * self.max_txs:
            del v[next(iter(v))]

    def is_verified(self, h: bytes) -> bool:
        return h in self._verified

    def add(self, tx: SignedTx, state: State, next_height: int, verified: bool) -> bytes:
        """Admit ``tx`` or raise :class:`Rejected`.  Returns the tx hash."""
        h = tx.hash
        if h in self._txs:
            raise Rejected(codes.DUPLICATE, "transaction already in the mempool")
        if len(self._txs) >= self.max_txs or self._bytes + len(tx.raw) > self.max_bytes:
            raise Rejected(codes.MEMPOOL_FULL, "mempool is full, try again later")
        sender = tx.sender
        pending = self._by_sender.get(sender, ())
        if len(pending) >= self.max_per_sender:
            raise Rejected(codes.MEMPOOL_FULL, "too many pending transactions from this sender")
        verified = verified or h in self._verified
        acct = state.account(sender)
        # the nonce must follow the sender's pending ones -- also when it equals the account's
        # nonce and others are pending (a second transaction with a nonce already queued)
        err = admission_error(state, tx, self.chain_id, next_height, verified, acct, len(pending))
        if err is not None:
            raise Rejected(*err)
        spend = spend_of(tx)
        if spend:
            held = self._spend.get(sender, 0)
            balance = acct.balance
            if held + spend > balance:
                promised = f", {held} fen of it promised to its pending transactions" if held else ""
                raise Rejected(codes.INSUFFICIENT_FUNDS,
                               f"insufficient funds: this transaction moves {spend} fen and the account holds "
                               f"{balance} fen{promised}")
        self.mark_verified(h)
        self._txs[h] = tx
        self._by_sender.setdefault(sender, []).append(h)
        self._bytes += len(tx.raw)
        if spend:
            self._spend[sender] = self._spend.get(sender, 0) + spend
        return h

    def refusals_before_signatures(self, txs: list[SignedTx], state: State, next_height: int) -> list:
        """For a batch about to have its signatures checked: a :class:`Rejected` for each transaction
        that :meth:`add` would refuse whatever its signature (already pending; wrong chain; expired;
        sender not registered; a nonce that does not follow the sender's pending ones, counting the
        batch's earlier transactions that pass), else None.  A signature costs ~40 µs; under overload a
        client's later transactions behind a refused one all fail on their nonce, and this spares their
        checks (the answer names the nonce, not the signature: both are refusals, and a nonce is public).
        What passes is still judged in full by :meth:`add`."""
        out: list = []
        expect: dict[bytes, int] = {}  # sender -> its next nonce, this batch's earlier passes counted
        for tx in txs:
            if tx.hash in self._txs:
                out.append(Rejected(codes.DUPLICATE, "transaction already in the mempool"))
                continue
            sender = tx.sender
            acct = state.account(sender)
            queued = expect.get(sender)
            queued = len(self._by_sender.get(sender, ())) if queued is None else queued - acct.nonce
            err = admission_error(state, tx, self.chain_id, next_height, True, acct, queued)
            if err is not None:
                out.append(Rejected(*err))
                continue
            expect[sender] = tx.body.nonce + 1
            out.append(None)
        return out

    def reap(self, max_txs: int, max_bytes: int) -> list[SignedTx]:
        """Transactions for the next block, in arrival order, nonces in sequence."""
        out = []
        size = 0
        for tx in self._txs.values():
            if len(out) >= max_txs or size + len(tx.raw) > max_bytes:
                break
            out.append(tx)
            size += len(tx.raw)
        return out

    def update(self, committed_hashes, state: State, next_height: int, changed=None) -> None:
        """After a commit: drop what was included, and what can no longer be.

        ``changed``: the state paths the block wrote (its ``StateDiff.changes``), when the caller has
        them.  A sender whose account the block did not write is then judged by expiry alone, without
        reading its account: its pending nonces followed that same account before the block (as
        :meth:`add` and the last update left them) and still do, and it is still registered."""
        txs = self._txs
        touched = set()  # senders with a transaction included
        for h in committed_hashes:
            tx = txs.pop(h, None)
            if tx is not None:
                self._bytes -= len(tx.raw)
                self._release(tx)
                touched.add(tx.sender)
        # re-check the rest cheaply: sender still registered (a block may have
        # deregistered it), expiry and nonce order per sender; the included ones
        # leave their senders' lists here, in the same pass (not one list.remove each)
        by_sender = self._by_sender
        for sender, hashes in list(by_sender.items()):
            pending = [h for h in hashes if h in txs] if sender in touched else hashes
            if not pending:
                del by_sender[sender]
                continue
            if changed is not None and sender not in touched and acct_path_bytes(sender) not in changed:
                registered, nonce = True, txs[pending[0]].body.nonce  # the account as it was: unwritten
            else:
                acct = state.account(sender)
                registered, nonce = acct.registered, acct.nonce
            keep = []
            for h in pending:
                tx = txs[h]
                if registered and tx.body.nonce == nonce + len(keep) and tx.body.expiry >= next_height:
                    keep.append(h)
                else:
                    self._drop(h)
            if keep:
                by_sender[sender] = keep
            else:
                del by_sender[sender]

    def _drop(self, h: bytes) -> None:
        tx = self._txs.pop(h, None)
        if tx is not None:
            self._bytes -= len(tx.raw)
            self._release(tx)

    def _remove(self, h: bytes) -> None:
        tx = self._txs.pop(h, None)
        if tx is None:
            return
        self._bytes -= len(tx.raw)
        self._release(tx)
        lst = self._by_sender.get(tx.sender)
        if lst is not None:
            try:
                lst.remove(h)
            except ValueError:
                pass
            if not lst:
                del self._by_sender[tx.sender]

    def _release(self, tx: SignedTx) -> None:
        spend = spend_of(tx)
        if spend:
            left = self._spend.get(tx.sender, 0) - spend
            if left > 0:
                self._spend[tx.sender] = left
            else:
                self._spend.pop(tx.sender, None)


def spend_of(tx: SignedTx) -> int:
    """The fen a transfer or a retirement moves out of its sender's account (0 for other kinds)."""
    if tx.body.kind not in ("transfer", "retire"):
        return 0
    try:
        amount = tx.payload_record().amount
    except TxError:
        return 0
    return amount if isinstance(amount, int) and amount > 0 else 0
