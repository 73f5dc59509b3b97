"""Tests of the node: execution, mempool, the supply invariant.

Shared helpers: a small genesis with named deterministic keys, and a
:class:`World` wrapping an :class:`chain.app.Application` on a LevelDB store
in a temporary directory.
"""

from __future__ import annotations

import dataclasses
import os

from ledger import codes
from ledger.address import address_of
from ledger.block import Block, Header
from ledger.crypto import PrivateKey
from ledger.state import Account, Validator, acct_path
from ledger.store import ChainStore
from ledger.tx import sign_tx

from chain.mempool import Rejected

CHAIN = "node-test"
GENESIS_TIME = 1_000

KEYS = {n: PrivateKey.from_name(n, salt="node-test") for n in (
    "cb", "reg", "alice", "bob", "ent", "carol", "dave", "val", "val2",
)}
ADDR = {n: address_of(k.public) for n, k in KEYS.items()}

# name -> (balance, kind, roles); carol and dave are not in genesis
GENESIS_ACCOUNTS = {
    "cb": (0, "agency", ("central_bank", "treasury")),
    "reg": (0, "agency", ("registrar",)),
    "alice": (1_000, "citizen", ()),
    "bob": (0, "citizen", ()),
    "ent": (500, "enterprise", ()),
}


def make_genesis(chain_id: str = CHAIN, accounts: dict | None = None, params: dict | None = None):
    from ledger.genesis import Genesis, GenesisAccount

    accounts = GENESIS_ACCOUNTS if accounts is None else accounts
    return Genesis(
        chain_id=chain_id,
        genesis_time_ms=GENESIS_TIME,
        accounts=tuple(
            GenesisAccount(ADDR[n], bal, kind, roles, n) for n, (bal, kind, roles) in accounts.items()
        ),
        validators=(Validator(KEYS["val"].public, 10, "v0"),),
        params=params or {},
    )


class World:
    """One node's application over its own store."""

    def __init__(self, tmp_dir, name: str = "node", genesis=None):
        from chain.app import Application

        self.genesis = genesis or make_genesis()
        self.path = os.path.join(str(tmp_dir), name)
        self.store = ChainStore(self.path)
        self.app = Application(self.store, self.genesis)
        self.chain_id = self.genesis.chain_id
        self._next_nonce: dict[str, int] = {}
        self.time = GENESIS_TIME

    def close(self) -> None:
        self.store.close()

    # ---- reads ------------------------------------------------------------
    def acct(self, name_or_addr) -> Account:
        addr = ADDR[name_or_addr] if isinstance(name_or_addr, str) else name_or_addr
        return self.app.state().account(addr)

    def balances(self) -> dict[bytes, int]:
        return {p[1]: Account.decode(v).balance for p, v in self.store.iter_latest(("acct",))}

    def accounts(self) -> dict[bytes, Account]:
        return {p[1]: Account.decode(v) for p, v in self.store.iter_latest(("acct",))}

    def all_state(self) -> dict:
        return {p: v for p, v in self.store.iter_latest(())}

    # ---- writes -----------------------------------------------------------
    def tx(self, signer: str, kind: str, payload, nonce: int | None = None, expiry: int = 10_000, chain_id=None):
        """Sign a transaction; nonces are tracked per signer unless given."""
        if nonce is None:
            nonce = self._next_nonce.get(signer, self.acct(signer).nonce)
            self._next_nonce[signer] = nonce + 1
        return sign_tx(KEYS[signer], chain_id or self.chain_id, kind, payload, nonce, expiry)

    def submit(self, tx, verified: bool = False) -> bytes:
        if verified:
            assert tx.verify_signature()
        return self.app.mempool.add(tx, self.app.state(), self.app.height + 1, verified)

    def block(self, *txs, proposer: str = "val"):
        """Submit ``txs``, build the next block from the mempool and commit it.

        A transaction the mempool refuses for lack of funds goes in all the same, as
        another proposer's block may carry one (the block then holds exactly ``txs``):
        execution must refuse it with a receipt.
        """
        overdraft = False
        for t in txs:
            try:
                self.submit(t)
            except Rejected as e:
                if e.code != codes.INSUFFICIENT_FUNDS:
                    raise
                overdraft = True
        self.time += 1_000
        if overdraft:
            ex = self.build_exactly(txs, proposer)
        else:
            ex = self.app.build_block(self.time, KEYS[proposer], None)
        self.app.commit(ex, None)
        self._next_nonce.clear()
        return ex


    def build_exactly(self, txs, proposer: str = "val"):
        """A block holding exactly ``txs`` (in order), as a proposer whose mempool admitted them builds it."""
        pool = self.app.mempool
        self.app.mempool = _Listed(txs)
        try:
            return self.app.build_block(self.time, KEYS[proposer], None)
        finally:
            self.app.mempool = pool


class _Listed:
    """Stands in for the mempool while :meth:`World.build_exactly` builds: reaps ``txs``."""

    def __init__(self, txs):
        self.txs = list(txs)

    def reap(self, max_txs: int, max_bytes: int):
        return self.txs[:max_txs]

    def is_verified(self, h: bytes) -> bool:
        return False


def with_header(block: Block, **changes) -> Block:
    return Block(header=dataclasses.replace(block.header, **changes), txs=block.txs,
                 evidence=block.evidence, last_commit=block.last_commit)


def with_txs(block: Block, txs) -> Block:
    """The same header with other transactions (txs_root made to match)."""
    from ledger.block import txs_root

    txs = tuple(txs)
    hd: Header = dataclasses.replace(block.header, txs_root=txs_root(txs))
    return Block(header=hd, txs=txs, evidence=block.evidence, last_commit=block.last_commit)


__all__ = ["ADDR", "CHAIN", "KEYS", "World", "acct_path", "make_genesis", "with_header", "with_txs"]
