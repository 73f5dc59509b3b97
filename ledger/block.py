"""Blocks, headers, commits and receipts.

A block at height ``h`` holds its header, its transactions (as the signed
bytes clients sent), the evidence of misbehaviour it commits, and the commit
that decided block ``h - 1`` (its ``last_commit``).  The header's
``state_root`` is the root of the state *after* this block's transactions,
so a client holding header ``h`` and a commit for it can check any account or
contract value at ``h`` with a proof.

The commit for the latest block travels in the next block; each node also
keeps the commit it saw for every block, so block ``h`` and its commit can be
served together.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .codec import Any_, Bytes, List, Nested, Opt, Record, Str, UInt, encode
from .crypto import tagged_hash
from .merkle import merkle_root

MAX_BLOCK_TXS = 20_000
MAX_BLOCK_BYTES = 6 * 1024 * 1024
ZERO_HASH = bytes(32)


@dataclasses.dataclass(frozen=True)
class CommitSig(Record):
    SCHEMA = {"validator": Bytes(32), "signature": Bytes(64)}
    validator: bytes  # Ed25519 public key
    signature: bytes  # its precommit signature


@dataclasses.dataclass(frozen=True)
class Commit(Record):
    """More than 2/3 of the power's precommit signatures for ``value_id`` at (height, round).

    ``value_id`` is the block hash.  Each signature is over the canonical
    bytes of the precommit vote ``{"height", "round", "type": 3,
    "validator", "value_id"}`` in the ``vote`` domain with the chain id
    (``consensus/types.py: Vote``), so anyone holding the validator set of
    the height can check a commit with nothing but ``ledger``.  Signatures
    are sorted by validator key.
    """

    SCHEMA = {
        "height": UInt(),
        "round": UInt(2**31),
        "value_id": Bytes(32),
        "signatures": List(Nested(CommitSig), 10_000),
    }
    height: int
    round: int
    value_id: bytes
    signatures: tuple


@dataclasses.dataclass(frozen=True)
class Header(Record):
    SCHEMA = {
        "chain_id": Str(64),
        "height": UInt(),
        "time_ms": UInt(),
        "prev_hash": Bytes(32),
        "txs_root": Bytes(32),
        "state_root": Bytes(32),
        "receipts_root": Bytes(32),
        "evidence_root": Bytes(32),
        "last_commit_hash": Bytes(32),
        "proposer": Bytes(32),
        "validators_hash": Bytes(32),
        "next_validators_hash": Bytes(32),
        "app_version": UInt(1 << 32),
    }
    chain_id: str
    height: int
    time_ms: int  # block time, milliseconds since the Unix epoch (UTC)
    prev_hash: bytes
    txs_root: bytes
    state_root: bytes
    receipts_root: bytes
    evidence_root: bytes
    last_commit_hash: bytes
    proposer: bytes  # the proposer's public key
    validators_hash: bytes  # the set that signs this block
    next_validators_hash: bytes  # the set that signs the next block
    app_version: int

    @property
    def hash(self) -> bytes:
        return tagged_hash("block hash", self.encode())


@dataclasses.dataclass(frozen=True)
class Block(Record):
    SCHEMA = {
        "header": Nested(Header),
        "txs": List(Bytes(max_size=64 * 1024), MAX_BLOCK_TXS),
        "evidence": List(Any_(), 1000),
        "last_commit": Opt(Nested(Commit)),
    }
    header: Header
    txs: tuple
    evidence: tuple
    last_commit: Commit | None

    @property
    def hash(self) -> bytes:
        return self.header.hash

    @property
    def height(self) -> int:
        return self.header.height


@dataclasses.dataclass(frozen=True)
class Receipt(Record):
    """The outcome of one transaction: ``code`` 0 is success."""

    SCHEMA = {
        "tx_hash": Bytes(32),
        "code": UInt(1 << 16),
        "gas_used": UInt(),
        "events": List(Any_(), 1000),
        "result": Any_(),
    }
    tx_hash: bytes
    code: int
    gas_used: int
    events: tuple
    result: Any


def commit_hash(commit: Commit | None) -> bytes:
    return ZERO_HASH if commit is None else tagged_hash("commit", commit.encode())


def txs_root(txs: list[bytes] | tuple) -> bytes:
    return merkle_root(list(txs))


def receipts_root(receipts: list[Receipt], encoded: list[bytes] | None = None) -> bytes:
    return merkle_root(encoded if encoded is not None else [r.encode() for r in receipts])


def evidence_root(evidence: list[Any] | tuple) -> bytes:
    return merkle_root([encode(e) for e in evidence])


__all__ = [
    "Block", "Commit", "CommitSig", "Header", "Receipt", "ZERO_HASH",
    "commit_hash", "txs_root", "receipts_root", "evidence_root",
]
