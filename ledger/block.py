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

import msgpack

from .codec import (I64_MIN, MAX_DEPTH, U64_MAX, Any_, Bytes, List, Nested, Opt, Record, Str, UInt, _canon, encode,
                    encode_array_of_encoded)
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


PRECOMMIT_TYPE = 3  # consensus/types.py: PRECOMMIT


def validator_set_hash(powers: dict[bytes, int]) -> bytes:
    """The hash of a validator set as headers carry it: keys and powers, by key."""
    return tagged_hash("valset", encode([[pk, powers[pk]] for pk in sorted(powers)]))


class InvalidCommit(ValueError):
    """A commit that does not prove a decision."""


def precommit_sign_bytes(height: int, round: int, value_id: bytes, validator: bytes) -> bytes:
    """What a validator signed (domain ``vote``) when it precommitted ``value_id``.

    The canonical encoding of the precommit vote without its signature; it is
    byte for byte ``consensus.types.Vote(PRECOMMIT, ...).sign_bytes()``.
    """
    return encode({"height": height, "round": round, "type": PRECOMMIT_TYPE, "validator": validator,
                   "value_id": value_id})


def verify_commit_powers(powers: dict[bytes, int], chain_id: str, height: int, block_id: bytes, commit: "Commit",
                         verifier=None) -> None:
    """Check that ``commit`` proves ``block_id`` was decided at ``height``.

    ``powers`` maps each validator key of that height to its voting power.
    Raises :class:`InvalidCommit` with a one-line reason.  Needs nothing but
    ``ledger``, so a light client can check a header's signatures.
    """
    if verifier is None:
        from .crypto import verify as verifier
    if commit.height != height:
        raise InvalidCommit(f"commit is for height {commit.height}, not {height}")
    if commit.value_id != block_id:
        raise InvalidCommit("commit is for another block")
    total = sum(powers.values())
    power = 0
    prev = b""
    for s in commit.signatures:
        if s.validator <= prev:
            raise InvalidCommit("commit signatures not sorted by validator or duplicated")
        prev = s.validator
        p = powers.get(s.validator, 0)
        if p == 0:
            raise InvalidCommit(f"signer {s.validator.hex()[:16]} is not a validator at height {height}")
        sb = precommit_sign_bytes(commit.height, commit.round, commit.value_id, s.validator)
        if len(s.signature) != 64 or not verifier(s.validator, "vote", chain_id, sb, s.signature):
            raise InvalidCommit(f"bad precommit signature from {s.validator.hex()[:16]}")
        power += p
    if not 3 * power > 2 * total:
        raise InvalidCommit(f"commit has power {power} of {total}, not more than 2/3")


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
        "beacon_proof": Bytes(max_size=80),
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
    beacon_proof: bytes = b""  # the proposer's VRF proof (consensus/beacon.py); the chain's randomness

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


# How deep a law's data may nest and still be read back.  Every reader decodes a block's receipts
# as one list (the store's ``r/`` record, which gRPC GetBlock serves and GetTx and block sync read),
# and ``codec.decode`` counts depth from that list: a law event's ``data`` sits at depth 4 (the list,
# a receipt map, its ``events`` list, the event map) and a call's ``result`` at depth 2 (the list, the
# receipt map).  A value at depth ``d`` decodes if it nests at most ``MAX_DEPTH - d`` levels of
# non-empty lists or maps, so the runtime refuses an event's data or a transaction's result nested
# deeper (NOT_ENCODABLE), and every receipt a law can produce decodes.
EVENT_DATA_AT = 4
RESULT_AT = 2
MAX_EVENT_DATA_NESTING = MAX_DEPTH - EVENT_DATA_AT  # 28
MAX_RESULT_NESTING = MAX_DEPTH - RESULT_AT  # 30


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
    # Each event's canonical bytes where its maker already has them (a law event: the runtime encoded
    # its data when it was emitted), else None; not part of the value (never compared, never copied by
    # ``dataclasses.replace``, None after decoding); set once by ``with_event_bytes``.
    event_bytes: tuple | None = dataclasses.field(default=None, init=False, compare=False, repr=False)

    def with_event_bytes(self, event_bytes: tuple | list) -> "Receipt":
        """This receipt, told the canonical bytes of its events (``event_bytes[i]``: ``encode(events[i])``
        or None); its maker vouches for them, and the events must not change afterwards."""
        if len(event_bytes) == len(self.events):
            object.__setattr__(self, "event_bytes", tuple(event_bytes))
        return self

    def encode(self) -> bytes:
        """The canonical bytes (as ``Record.encode``), without the general copy for plain receipts.

        A receipt whose events are flat maps already in key order (a transfer's
        are) is packed as it stands; anything else goes through the codec.  An
        event whose bytes are known (``event_bytes``) is not encoded again: the
        receipt's bytes are then assembled from its map's parts, in key order
        (``code``, ``events``, ``gas_used``, ``result``, ``tx_hash``).
        """
        code, gas, h, r = self.code, self.gas_used, self.tx_hash, self.result
        if type(code) is not int or type(gas) is not int or type(h) is not bytes or not 0 <= gas <= U64_MAX \
                or not 0 <= code <= U64_MAX:
            return super().encode()
        known = self.event_bytes
        if known is not None and len(known) == len(self.events):
            evs = [_pack(_event_canon(e)) if b is None else b for e, b in zip(self.events, known)]
            head = _pack({"code": code})  # a map of one: its header byte swapped for the five-entry one
            tail = _pack({"gas_used": gas, "result": None if r is None else _canon(r), "tx_hash": h})
            return b"\x85" + head[1:] + _EVENTS_KEY + encode_array_of_encoded(evs) + tail[1:]
        events = [_event_canon(e) for e in self.events]
        return msgpack.packb({"code": code, "events": events, "gas_used": gas,
                              "result": None if r is None else _canon(r), "tx_hash": h},
                             use_bin_type=True, strict_types=True)


def _pack(v) -> bytes:
    """msgpack's bytes of a value already in canonical shape (``_canon``'s output)."""
    return msgpack.packb(v, use_bin_type=True, strict_types=True)


_EVENTS_KEY = _pack("events")


_SORTED_KEYS: set = set()  # key tuples seen to be str and in canonical order (a handful of event shapes)


def _flat_sorted(e) -> bool:
    """True for a map of str keys in canonical order whose values are ints in range, bytes, str, bools or None."""
    if type(e) is not dict:
        return False
    keys = tuple(e)
    if keys not in _SORTED_KEYS:
        if not all(type(k) is str for k in keys) or list(keys) != sorted(keys) or len(_SORTED_KEYS) > 1024:
            return False
        _SORTED_KEYS.add(keys)
    for v in e.values():
        t = type(v)
        if t is int:
            if not I64_MIN <= v <= U64_MAX:
                return False
        elif not (t is bytes or t is str or t is bool or v is None):
            return False
    return True


_KEY_ORDER: dict = {}  # a str-keyed event shape (its keys in insertion order) -> positions in canonical order
_UNSEEN = object()


def _event_canon(e):
    """``_canon(e)`` for one receipt event, the key order of each event shape sorted once.

    A law's or a call's event is a str-keyed map built in a fixed, unsorted
    order (``{"type": "transfer", "from": ..., "to": ..., "amount": ...}``):
    its keys' canonical order is looked up by shape instead of sorted again,
    scalar values are taken as they are and nested ones (a law event's data)
    go through ``_canon`` at the depth ``_canon(e)`` would give them.  An
    event already canonical and flat is used as it stands (``_flat_sorted``).
    Anything else, or a value ``_canon`` would refuse, is ``_canon(e)`` itself
    (the same value or the same error).
    """
    if type(e) is not dict:
        return _canon(e)
    keys = tuple(e)
    order = _KEY_ORDER.get(keys, _UNSEEN)
    if order is _UNSEEN:
        if not all(type(k) is str for k in keys) or len(_KEY_ORDER) >= 1024:
            return _canon(e)
        srt = sorted(keys)
        order = None if list(keys) == srt else tuple(keys.index(k) for k in srt)  # None: already in order
        _KEY_ORDER[keys] = order
    if order is None:
        if _flat_sorted(e):
            return e
        return _canon(e)
    out = {}
    for j in order:
        k = keys[j]
        v = e[k]
        t = type(v)
        if t is int:
            if not I64_MIN <= v <= U64_MAX:
                return _canon(e)
            out[k] = v
        elif t is bytes or t is str or t is bool or v is None:
            out[k] = v
        else:
            out[k] = _canon(v, 1)
    return out


def commit_hash(commit: Commit | None) -> bytes:
    return ZERO_HASH if commit is None else tagged_hash("commit", commit.encode())


def txs_root(txs: list[bytes] | tuple) -> bytes:
    return merkle_root(list(txs))


def receipts_root(receipts: list[Receipt], encoded: list[bytes] | None = None) -> bytes:
    return merkle_root(encoded if encoded is not None else [r.encode() for r in receipts])


def evidence_root(evidence: list[Any] | tuple) -> bytes:
    return merkle_root([encode(e) for e in evidence])


__all__ = [
    "EVENT_DATA_AT", "MAX_EVENT_DATA_NESTING", "MAX_RESULT_NESTING", "RESULT_AT", "Block", "Commit", "CommitSig", "Header", "Receipt", "ZERO_HASH",
    "commit_hash", "txs_root", "receipts_root", "evidence_root", "InvalidCommit", "precommit_sign_bytes", "validator_set_hash",
    "verify_commit_powers",
]
