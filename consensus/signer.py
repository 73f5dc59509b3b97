"""The signer: the only code that signs proposals and votes.

Theory of operation
-------------------
Safety rules in the style of Diem's safety-rules and CometBFT's privval:
the signer holds the validator key and the *last-sign-state* -- the
``(height, round, step)`` it last signed, the sign bytes and the signature --
and refuses anything that could make this validator equivocate:

* a lower ``(height, round, step)`` than the last one signed is refused;
* the same ``(height, round, step)`` with different sign bytes is refused;
* the same ``(height, round, step)`` with the same sign bytes returns the
  stored signature (this is what makes WAL replay after a crash safe);
* a higher one is signed.

The new state is written to storage *before* the signature is returned:
temp file, ``fsync``, atomic ``rename``, ``fsync`` of the directory.  So
after any crash the stored state is at least as new as any signature that
ever left this process, and the rules hold across restarts.

Storage is pluggable (:class:`FileStorage` for real files; the simulator
passes an in-memory one with the same durability contract).  The state file
carries a BLAKE3 checksum; a corrupt or foreign state refuses to load
(:class:`SignerStateError`), because guessing would risk a double sign.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Protocol

from ledger.codec import Bytes, CodecError, Record, Str, UInt, decode, encode
from ledger.crypto import PrivateKey, consteq, tagged_hash

from .types import Proposal, Vote


class DoubleSignError(Exception):
    """The signer refused a message that conflicts with what it signed."""


class SignerStateError(Exception):
    """The last-sign-state cannot be read; refusing to sign anything."""


class SignerStorage(Protocol):
    def load(self) -> bytes | None: ...
    def save(self, data: bytes) -> None: ...


class FileStorage:
    """The last-sign-state in one file, replaced atomically and durably."""

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)

    def load(self) -> bytes | None:
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def save(self, data: bytes) -> None:
        d = os.path.dirname(os.path.abspath(self.path))
        tmp = f"{self.path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclasses.dataclass(frozen=True)
class LastSignState(Record):
    SCHEMA = {
        "chain_id": Str(),
        "pubkey": Bytes(32),
        "height": UInt(),
        "round": UInt(2**31),
        "step": UInt(3),
        "sign_bytes": Bytes(max_size=4096),
        "signature": Bytes(64),
    }
    chain_id: str
    pubkey: bytes
    height: int
    round: int
    step: int
    sign_bytes: bytes
    signature: bytes

    @property
    def hrs(self) -> tuple[int, int, int]:
        return (self.height, self.round, self.step)


def _checksum(body: bytes) -> bytes:
    return tagged_hash("signer state", body)


class Signer:
    """Signs proposals and votes for one key on one chain, never conflicting."""

    def __init__(self, key: PrivateKey, chain_id: str, storage: SignerStorage):
        self._key = key
        self.chain_id = chain_id
        self.pubkey = key.public
        self._storage = storage
        self.last: LastSignState | None = self._load()

    def _load(self) -> LastSignState | None:
        raw = self._storage.load()
        if raw is None:
            return None
        try:
            obj = decode(raw)
            if type(obj) is not dict or set(obj) != {"state", "check"}:
                raise CodecError("bad layout")
            body = obj["state"]
            if type(body) is not bytes or not consteq(_checksum(body), obj["check"]):
                raise CodecError("checksum mismatch")
            st = LastSignState.decode(body)
        except CodecError as e:
            raise SignerStateError(f"last-sign-state is corrupt ({e}); refusing to sign") from None
        if st.pubkey != self.pubkey or st.chain_id != self.chain_id:
            raise SignerStateError("last-sign-state belongs to another key or chain; refusing to sign")
        return st

    def _sign(self, domain: str, hrs: tuple[int, int, int], sign_bytes: bytes) -> bytes:
        last = self.last
        if last is not None:
            if hrs < last.hrs:
                raise DoubleSignError(f"height/round/step {hrs} is below the last signed {last.hrs}")
            if hrs == last.hrs:
                if sign_bytes == last.sign_bytes:
                    return last.signature
                raise DoubleSignError(f"conflicting data at height/round/step {hrs}")
        sig = self._key.sign(domain, self.chain_id, sign_bytes)
        st = LastSignState(self.chain_id, self.pubkey, hrs[0], hrs[1], hrs[2], sign_bytes, sig)
        body = st.encode()
        self._storage.save(encode({"state": body, "check": _checksum(body)}))
        self.last = st
        return sig

    def sign_vote(self, vote: Vote) -> Vote:
        """Return ``vote`` signed, or raise :class:`DoubleSignError`."""
        if vote.validator != self.pubkey:
            raise DoubleSignError("vote is for another validator's key")
        sig = self._sign("vote", (vote.height, vote.round, vote.type), vote.sign_bytes())
        return vote.with_signature(sig)

    def sign_proposal(self, proposal: Proposal) -> Proposal:
        """Return ``proposal`` signed, or raise :class:`DoubleSignError`."""
        if proposal.proposer != self.pubkey:
            raise DoubleSignError("proposal is for another validator's key")
        sig = self._sign("proposal", (proposal.height, proposal.round, 1), proposal.sign_bytes())
        return proposal.with_signature(sig)
