"""Transactions: one signed envelope, many kinds.

The envelope never changes when a kind is added: ``kind`` names what the
transaction does and ``payload`` carries its arguments as a canonical value
whose schema belongs to that kind (see :data:`PAYLOADS`).  Later issues add
kinds (wage payment, procurement order, vote, contract call ...) by adding a
payload schema here and a handler in the application.

The signature covers the canonical bytes of every field but ``sig``, in the
``tx`` signing domain with the chain id, so a transaction cannot be replayed
on another chain nor passed off as another kind of signed object.  The
transaction hash is the tagged BLAKE3 hash of the complete signed bytes.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import msgpack

from . import codec
from .address import address_of
from .codec import Any_, Bytes, CodecError, Record, Str, UInt
from .crypto import PrivateKey, tagged_hash, verify

MAX_TX_SIZE = 64 * 1024  # bytes of one signed transaction
KIND_RE_MAX = 32

ROLES = ("registrar", "central_bank", "treasury", "planning_agency", "validator_operator")
ACCOUNT_KINDS = ("citizen", "enterprise", "agency")


class TxError(ValueError):
    """A transaction that is malformed or wrongly signed."""


# --------------------------------------------------------------------------
# Payloads, one schema per kind
# --------------------------------------------------------------------------

ADDR = Bytes(20)


@dataclasses.dataclass(frozen=True)
class Transfer(Record):
    SCHEMA = {"to": ADDR, "amount": UInt(), "memo": Str(256)}
    to: bytes
    amount: int
    memo: str = ""


@dataclasses.dataclass(frozen=True)
class Issue(Record):
    """Central bank creates money into an account."""

    SCHEMA = {"to": ADDR, "amount": UInt(), "memo": Str(256)}
    to: bytes
    amount: int
    memo: str = ""


@dataclasses.dataclass(frozen=True)
class Retire(Record):
    """Central bank destroys money from its own balance."""

    SCHEMA = {"amount": UInt(), "memo": Str(256)}
    amount: int
    memo: str = ""


@dataclasses.dataclass(frozen=True)
class Register(Record):
    """Registrar registers an account as a citizen, enterprise or agency."""

    SCHEMA = {"account": ADDR, "kind": Str(16), "name": Str(128)}
    account: bytes
    kind: str
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Deregister(Record):
    SCHEMA = {"account": ADDR}
    account: bytes


@dataclasses.dataclass(frozen=True)
class SetRole(Record):
    """Registrar grants (``grant`` true) or revokes a role."""

    SCHEMA = {"account": ADDR, "role": Str(32), "grant": codec.Bool()}
    account: bytes
    role: str
    grant: bool


@dataclasses.dataclass(frozen=True)
class SetValidator(Record):
    """Validator operator adds, re-weights (power > 0) or removes (power 0) a validator."""

    SCHEMA = {"pubkey": Bytes(32), "power": UInt(1 << 40), "name": Str(64)}
    pubkey: bytes
    power: int
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Call(Record):
    """Call an entry of a policy contract (a law)."""

    SCHEMA = {"contract": Str(64), "entry": Str(64), "args": Any_(), "gas_limit": UInt(10**9)}
    contract: str
    entry: str
    args: Any
    gas_limit: int


PAYLOADS: dict[str, type[Record]] = {
    "transfer": Transfer,
    "issue": Issue,
    "retire": Retire,
    "register": Register,
    "deregister": Deregister,
    "set_role": SetRole,
    "set_validator": SetValidator,
    "call": Call,
}


def register_kind(kind: str, payload_cls: type[Record]) -> None:
    """Add a transaction kind (used by later modules, never at run time)."""
    if kind in PAYLOADS and PAYLOADS[kind] is not payload_cls:
        raise ValueError(f"transaction kind {kind!r} already defined")
    PAYLOADS[kind] = payload_cls


# --------------------------------------------------------------------------
# The envelope
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TxBody(Record):
    SCHEMA = {
        "chain_id": Str(64),
        "kind": Str(KIND_RE_MAX),
        "payload": Any_(),
        "signer": Bytes(32),
        "nonce": UInt(),
        "expiry": UInt(),
    }
    chain_id: str
    kind: str
    payload: Any
    signer: bytes
    nonce: int
    expiry: int  # last height at which the transaction may be included


class SignedTx:
    """A body and its signature.  On the wire: ``{"body": <body bytes>, "sig": ...}``.

    The body travels as its canonical bytes, so the signature is checked on
    exactly the bytes received, without encoding the body again (the layout
    of Cosmos' ``TxRaw``).  Both layers are decoded strictly.
    """

    __slots__ = ("body", "sig", "body_bytes", "_raw", "_hash", "_sender", "_payload")

    def __init__(self, body: TxBody, sig: bytes, body_bytes: bytes | None = None):
        self.body = body
        self.sig = sig
        self.body_bytes = body.encode() if body_bytes is None else body_bytes
        self._raw: bytes | None = None
        self._hash: bytes | None = None
        self._sender: bytes | None = None
        self._payload: Record | None = None  # the decoded payload record, once asked for

    def __eq__(self, other) -> bool:
        return isinstance(other, SignedTx) and self.raw == other.raw

    def __hash__(self) -> int:  # pragma: no cover - not used in consensus paths
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"SignedTx(kind={self.body.kind!r}, nonce={self.body.nonce}, hash={self.hash.hex()[:16]})"

    def to_obj(self) -> dict:
        return {"body": self.body_bytes, "sig": self.sig}

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def from_obj(cls, obj, where: str = "transaction") -> "SignedTx":
        if type(obj) is not dict:
            raise CodecError(f"{where}: expected a map")
        if set(obj) != {"body", "sig"}:
            extra = sorted(set(obj) - {"body", "sig"})
            missing = sorted({"body", "sig"} - set(obj))
            raise CodecError(f"{where}: unknown field {extra[0]!r}" if extra else f"{where}: missing field {missing[0]!r}")
        bb = Bytes(max_size=MAX_TX_SIZE).load(obj["body"], f"{where}.body")
        sig = Bytes(64).load(obj["sig"], f"{where}.sig")
        body = TxBody.decode(bb, max_size=MAX_TX_SIZE)
        return cls(body, sig, bb)

    @classmethod
    def decode(cls, data: bytes, max_size: int = MAX_TX_SIZE) -> "SignedTx":
        tx = cls.from_obj(codec.decode(data, max_size))
        tx._raw = bytes(data)
        return tx

    @property
    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = codec.encode(self.to_obj())
        return self._raw

    @property
    def hash(self) -> bytes:
        if self._hash is None:
            self._hash = tx_hash(self.raw)
        return self._hash

    @property
    def sender(self) -> bytes:
        if self._sender is None:
            self._sender = address_of(self.body.signer)
        return self._sender

    def payload_record(self) -> Record:
        """The payload as its kind's record (decoded once, then kept: mempool and execution both ask)."""
        p = self._payload
        if p is None:
            p = self._payload = decode_payload(self.body.kind, self.body.payload)
        return p

    def verify_signature(self) -> bool:
        b = self.body
        return verify(b.signer, "tx", b.chain_id, self.body_bytes, self.sig)


def tx_hash(raw: bytes) -> bytes:
    return tagged_hash("tx hash", raw)


def decode_payload(kind: str, payload: Any) -> Record:
    cls = PAYLOADS.get(kind)
    if cls is None:
        raise TxError(f"unknown transaction kind {kind!r}")
    try:
        return cls.from_obj(payload, f"{kind} payload")
    except CodecError as e:
        raise TxError(str(e)) from None


def decode_tx(raw: bytes) -> SignedTx:
    """Strictly decode a signed transaction (signature not checked here)."""
    if len(raw) > MAX_TX_SIZE:
        raise TxError(f"transaction is {len(raw)} bytes, over the limit of {MAX_TX_SIZE}")
    if type(raw) is bytes:
        tx = _decode_transfer(raw)
        if tx is not None:
            return tx
        tx = _decode_call(raw)
        if tx is not None:
            return tx
    return decode_tx_general(raw)


def decode_tx_general(raw: bytes) -> SignedTx:
    """:func:`decode_tx` by the general strict codec (every kind; the reference the fast path is tested against)."""
    if len(raw) > MAX_TX_SIZE:
        raise TxError(f"transaction is {len(raw)} bytes, over the limit of {MAX_TX_SIZE}")
    try:
        tx = SignedTx.decode(raw, max_size=MAX_TX_SIZE)
    except CodecError as e:
        raise TxError(f"malformed transaction: {e}") from None
    tx.payload_record()  # refuses a payload that does not fit its kind's schema
    return tx


# --------------------------------------------------------------------------
# The fast path: a transfer in its one canonical layout
# --------------------------------------------------------------------------
# Most transactions are transfers, and a canonical transfer has exactly one byte
# layout (ledger/codec.py's rules: sorted keys, smallest forms).  _decode_transfer
# reads that layout field by field with slices; at the first byte that differs
# from it, it gives up (None) and the general codec decides, with its error.  It
# accepts only what the general decoder accepts, with the same values (a property
# test in tests/ledger/test_tx_fast.py holds the two to it), at a fifth of the cost.

_ENV_HEAD = b"\x82\xa4body\xc4"  # {"body": <bin8 ...>, "sig": <bin8 64>}
_ENV_SIG = b"\xa3sig\xc4\x40"
_BODY_HEAD = b"\x86\xa8chain_id"
_K_EXPIRY = b"\xa6expiry"
_K_KIND_TRANSFER = b"\xa4kind\xa8transfer\xa5nonce"
_K_PAYLOAD = b"\xa7payload\x83\xa6amount"
_K_MEMO = b"\xa4memo"
_K_TO = b"\xa2to\xc4\x14"
_K_SIGNER = b"\xa6signer\xc4\x20"


def _uint_at(b: bytes, i: int) -> tuple[int, int]:
    """The canonical (smallest-form) unsigned integer at ``b[i]`` and the offset after it; -1 if not one."""
    t = b[i]
    if t < 0x80:
        return t, i + 1
    if t == 0xCC:
        v = b[i + 1]
        return (v, i + 2) if v >= 0x80 else (-1, i)
    if t == 0xCD:
        v = int.from_bytes(b[i + 1:i + 3], "big")
        return (v, i + 3) if v > 0xFF else (-1, i)
    if t == 0xCE:
        v = int.from_bytes(b[i + 1:i + 5], "big")
        return (v, i + 5) if v > 0xFFFF else (-1, i)
    if t == 0xCF:
        v = int.from_bytes(b[i + 1:i + 9], "big")
        return (v, i + 9) if v > 0xFFFFFFFF else (-1, i)
    return -1, i


def _str_at(b: bytes, i: int, max_len: int) -> tuple[str | None, int]:
    """The canonical str at ``b[i]`` (fixstr or str8) of at most ``max_len`` characters."""
    t = b[i]
    if 0xA0 <= t <= 0xBF:
        n = t - 0xA0
        i += 1
    elif t == 0xD9:
        n = b[i + 1]
        if n < 32:
            return None, i
        i += 2
    else:
        return None, i
    chunk = b[i:i + n]
    if len(chunk) != n:
        return None, i
    try:
        s = chunk.decode("utf-8")
    except UnicodeDecodeError:
        return None, i
    return (s, i + n) if len(s) <= max_len else (None, i)


def _body_head(bb: bytes, kind_key: bytes) -> tuple[str, int, int] | None:
    """The fixed head of a canonical body: its chain id, its expiry, then ``kind_key`` (the kind and the
    next key's name): ``(chain_id, expiry, the index after kind_key)``, or None when any of it differs."""
    if bb[:10] != _BODY_HEAD:
        return None
    chain_id, i = _str_at(bb, 10, 64)
    if chain_id is None or bb[i:i + 7] != _K_EXPIRY:
        return None
    expiry, i = _uint_at(bb, i + 7)
    if expiry < 0 or bb[i:i + len(kind_key)] != kind_key:
        return None
    return chain_id, expiry, i + len(kind_key)


def _decode_transfer(raw: bytes) -> SignedTx | None:
    """A canonical transfer decoded straight from its layout, or None (then the general codec decides)."""
    try:
        if raw[:7] != _ENV_HEAD:
            return None
        nb = raw[7]
        end_body = 8 + nb
        if nb < 32 or raw[end_body:end_body + 6] != _ENV_SIG or len(raw) != end_body + 6 + 64:
            return None
        bb = raw[8:end_body]
        head = _body_head(bb, _K_KIND_TRANSFER)
        if head is None:
            return None
        chain_id, expiry, i = head
        nonce = bb[i]  # a positive fixint read here, any other form by _uint_at
        if nonce < 0x80:
            i += 1
        else:
            nonce, i = _uint_at(bb, i)
        if nonce < 0 or bb[i:i + 16] != _K_PAYLOAD:
            return None
        i += 16
        amount = bb[i]
        if amount < 0x80:
            i += 1
        else:
            amount, i = _uint_at(bb, i)
        if amount < 0 or bb[i:i + 5] != _K_MEMO:
            return None
        if bb[i + 5] == 0xA0:  # the empty memo
            memo, i = "", i + 6
        else:
            memo, i = _str_at(bb, i + 5, 256)
        if memo is None or bb[i:i + 5] != _K_TO:
            return None
        to = bb[i + 5:i + 25]
        i += 25
        if bb[i:i + 9] != _K_SIGNER:
            return None
        signer = bb[i + 9:i + 41]
        if len(signer) != 32 or len(bb) != i + 41:
            return None
    except IndexError:
        return None
    body = TxBody(chain_id=chain_id, kind="transfer", payload={"amount": amount, "memo": memo, "to": to},
                  signer=signer, nonce=nonce, expiry=expiry)
    tx = SignedTx(body, raw[end_body + 6:], bb)
    tx._raw = raw
    tx._payload = Transfer(to=to, amount=amount, memo=memo)
    return tx


# A call's payload holds arbitrary arguments, so it is not read field by field:
# the envelope and the body's fixed keys are read from their layout as above, and
# the payload (everything between ``payload`` and the signer, which is the body's
# last key and fixed in size) is decoded by msgpack and held to the codec's rules
# in one walk (str keys strictly ascending, plain types, depth counted from the
# body's, the bytes packed again and compared), as ``codec._decode_fast`` does.
# tests/ledger/test_tx_fast.py holds it to the general decoder too.
_ENV_HEAD16 = b"\x82\xa4body\xc5"
_K_KIND_CALL = b"\xa4kind\xa4call\xa5nonce"
_K_PAYLOAD_KEY = b"\xa7payload"


def _decode_call(raw: bytes) -> SignedTx | None:
    """A canonical call decoded with the payload as its only msgpack value, or None (the general codec decides)."""
    try:
        head = raw[:7]
        if head == _ENV_HEAD:
            nb = raw[7]
            start = 8
            if nb < 32:
                return None
        elif head == _ENV_HEAD16:
            nb = int.from_bytes(raw[7:9], "big")
            start = 9
            if nb < 256:
                return None
        else:
            return None
        end_body = start + nb
        if raw[end_body:end_body + 6] != _ENV_SIG or len(raw) != end_body + 6 + 64:
            return None
        bb = raw[start:end_body]
        head = _body_head(bb, _K_KIND_CALL)
        if head is None:
            return None
        chain_id, expiry, i = head
        nonce, i = _uint_at(bb, i)
        if nonce < 0 or bb[i:i + 8] != _K_PAYLOAD_KEY:
            return None
        i += 8
        end_payload = len(bb) - 41
        if end_payload <= i or bb[end_payload:end_payload + 9] != _K_SIGNER:
            return None
        signer = bb[end_payload + 9:]
        pb = bb[i:end_payload]
        if len(signer) != 32 or pb[0] != 0x84:  # the payload: a map of Call's four fields
            return None
        payload = msgpack.unpackb(pb, raw=False, use_list=True, strict_map_key=True, max_bin_len=MAX_TX_SIZE,
                                  max_str_len=MAX_TX_SIZE, max_array_len=MAX_TX_SIZE, max_map_len=MAX_TX_SIZE,
                                  max_ext_len=0)
        if type(payload) is not dict or not codec._plain_sorted(payload, 1):  # depth 1: the payload sits in the body
            return None
        if msgpack.packb(payload, use_bin_type=True, strict_types=True) != pb:
            return None
        rec = Call.from_obj(payload, "call payload")
    except Exception:  # noqa: BLE001 - any doubt: the general decoder judges, with its own error
        return None
    body = TxBody(chain_id=chain_id, kind="call", payload=payload, signer=signer, nonce=nonce, expiry=expiry)
    tx = SignedTx(body, raw[end_body + 6:], bb)
    tx._raw = raw
    tx._payload = rec
    return tx


def sign_tx(key: PrivateKey, chain_id: str, kind: str, payload: Record | dict, nonce: int, expiry: int) -> SignedTx:
    obj = payload.to_obj() if isinstance(payload, Record) else payload
    decode_payload(kind, obj)  # refuse to sign what no node would accept
    body = TxBody(chain_id=chain_id, kind=kind, payload=obj, signer=key.public, nonce=nonce, expiry=expiry)
    bb = body.encode()
    return SignedTx(body=body, sig=key.sign("tx", chain_id, bb), body_bytes=bb)
