"""Checking a block before it is indexed, and turning it into plain rows.

The explorer trusts no node.  A block ``h`` enters the index only when:

1. its header links to the block before it (``prev_hash``; block 1 to the
   genesis hash), and names the validator set the block before announced
   (``next_validators_hash``), so the chain of sets runs back to the set
   that signed block 1: the anchor.  With a :class:`GenesisPin` (``esoc
   explorer --genesis FILE``) the anchor is the operator's copy of the
   genesis: its hash, chain id and first validator set.  Without one it is
   whatever the node first said (trust on first use, kept in the index);
2. the validator powers the node reports hash to the header's
   ``validators_hash`` (``ledger.block.validator_set_hash``);
3. a commit for the block (the node's own, or block ``h+1``'s
   ``last_commit``) carries precommits of more than 2/3 of that power
   (``ledger.block.verify_commit_powers``, the ledger's commit check);
4. its transactions and receipts match the header's ``txs_root`` and
   ``receipts_root``, so no event can be slipped in beside a real header.

This module does no I/O: bytes in, a :class:`Verified` block out, or
:class:`Rejected` with a one-line reason.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
from typing import Any

from ledger.address import ADDRESS_SIZE, AddressError, address_of, decode_address, encode_address
from ledger.block import Block, Commit, InvalidCommit, Receipt, receipts_root, txs_root, validator_set_hash, \
    verify_commit_powers
from ledger.codec import CodecError, decode
from ledger.codes import name as code_name
from ledger.tx import TxError, decode_tx


class Rejected(ValueError):
    """A block the explorer refuses to index (the reason says why)."""


@dataclasses.dataclass(frozen=True)
class GenesisPin:
    """The genesis the operator trusts, given out of band (as a wallet's light client anchors).

    From a genesis file: its hash, chain id and first validator set, so block
    1 must be signed by those keys.  From ``--genesis-hash`` alone: the hash
    (block 1 must follow from it), but the first validator set still comes
    from the node, so only the file stops a node that forges a whole chain.
    """

    genesis_hash: bytes
    chain_id: str | None = None
    powers: dict | None = None  # pubkey -> power of the validators that sign block 1
    source: str = ""

    def describe(self) -> dict:
        return {"genesis_hash": self.genesis_hash.hex(), "chain_id": self.chain_id, "source": self.source,
                "validators": None if self.powers is None else len(self.powers)}


def pin_from_genesis(text: str, source: str = "genesis file") -> GenesisPin:
    """The pin a genesis document gives (``ledger.genesis``); ValueError with the reason."""
    from ledger.genesis import Genesis, GenesisError

    try:
        g = Genesis.from_json(text)
        g.validate()
    except (GenesisError, ValueError, TypeError, KeyError) as e:
        raise ValueError(f"not a genesis document: {e}") from None
    powers = {v.pubkey: v.power for v in g.validators}
    return GenesisPin(g.hash, g.chain_id, powers, source)


def pin_from_hash(text: str, source: str = "--genesis-hash") -> GenesisPin:
    t = text.strip().lower()
    if len(t) != 64 or any(c not in "0123456789abcdef" for c in t):
        raise ValueError("a genesis hash is 64 hexadecimal digits")
    return GenesisPin(bytes.fromhex(t), None, None, source)


def join_pins(a: GenesisPin | None, b: GenesisPin | None) -> GenesisPin | None:
    """``--genesis`` and ``--genesis-hash`` together must name the same genesis."""
    if a is None or b is None:
        return a or b
    if a.genesis_hash != b.genesis_hash:
        raise ValueError(f"the genesis file hashes to {a.genesis_hash.hex()}, not the --genesis-hash "
                         f"{b.genesis_hash.hex()}")
    return dataclasses.replace(a, source=f"{a.source} and {b.source}")


@dataclasses.dataclass
class Verified:
    block: Block
    raw: bytes
    receipts: list
    commit: Commit
    signed_power: int
    total_power: int


def parse_commit(raw: bytes) -> Commit | None:
    if not raw:
        return None
    try:
        return Commit.decode(raw)
    except (CodecError, ValueError) as e:
        raise Rejected(f"malformed commit: {e}") from None


def decode_block(raw: bytes) -> Block:
    try:
        return Block.decode(raw)
    except (CodecError, ValueError) as e:
        raise Rejected(f"malformed block: {e}") from None


def verify_block(raw_block: bytes, raw_receipts: bytes, commit: Commit, powers: dict[bytes, int],
                 prev: dict | None, chain_id: str | None, genesis_hash: bytes | None = None) -> Verified:
    """Check one block (see the module's rules); ``prev`` is the indexed block before it,
    ``genesis_hash`` the genesis block 1 must follow from."""
    blk = decode_block(raw_block)
    hd = blk.header
    if chain_id is not None and hd.chain_id != chain_id:
        raise Rejected(f"block is for chain {hd.chain_id!r}, not {chain_id!r}")
    if hd.height == 1 and genesis_hash is not None and hd.prev_hash != genesis_hash:
        raise Rejected(f"block 1 does not follow from the genesis {genesis_hash.hex()[:16]} (its prev_hash is "
                       f"{hd.prev_hash.hex()[:16]})")
    if prev is not None:
        if hd.height != prev["height"] + 1:
            raise Rejected(f"expected height {prev['height'] + 1}, got {hd.height}")
        if hd.prev_hash.hex() != prev["hash"]:
            raise Rejected(f"block {hd.height} does not link to the indexed block {prev['height']}")
        if hd.validators_hash.hex() != prev["next_validators_hash"]:
            raise Rejected(f"block {hd.height} names a validator set its predecessor did not announce")
    if validator_set_hash(powers) != hd.validators_hash:
        raise Rejected(f"the validator set reported for height {hd.height} is not the one its header names")
    try:
        verify_commit_powers(powers, hd.chain_id, hd.height, hd.hash, commit)
    except InvalidCommit as e:
        raise Rejected(f"block {hd.height}: {e}") from None
    if txs_root(blk.txs) != hd.txs_root:
        raise Rejected(f"block {hd.height}: transactions do not match the header")
    try:
        objs = decode(raw_receipts) if raw_receipts else []
        if not isinstance(objs, list):
            raise CodecError("receipts are not a list")
        receipts = [Receipt.from_obj(o) for o in objs]
    except (CodecError, ValueError) as e:
        raise Rejected(f"block {hd.height}: malformed receipts: {e}") from None
    if receipts_root(receipts) != hd.receipts_root or len(receipts) != len(blk.txs):
        raise Rejected(f"block {hd.height}: receipts do not match the header")
    signed = sum(powers.get(s.validator, 0) for s in commit.signatures)
    return Verified(blk, raw_block, receipts, commit, signed, sum(powers.values()))


# --------------------------------------------------------------------------
# Plain values for pages, JSON and the index
# --------------------------------------------------------------------------


def plain(v: Any, depth: int = 0) -> Any:
    """A JSON-able copy: 20-byte values become addresses, other bytes hex."""
    if depth > 40:
        return "…"
    if isinstance(v, (bytes, bytearray)):
        return encode_address(bytes(v)) if len(v) == ADDRESS_SIZE else bytes(v).hex()
    if isinstance(v, dict):
        return {str(plain(k, depth + 1)): plain(x, depth + 1) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x, depth + 1) for x in v]
    if isinstance(v, bool) or v is None or isinstance(v, (int, str)):
        return v
    if hasattr(v, "to_obj"):
        return plain(v.to_obj(), depth + 1)
    return str(v)


# law event -> (money kind, sub-kind or "" to take it from the event, the amount field)
LAW_MONEY = {
    "redeemed": ("allocation", "", "paid"),  # a ration, queue or lottery entitlement used (sub: the scheme)
    "promotion_redeemed": ("allocation", "promotion", "discount"),  # the state's part of a promotional price
    "voucher_redeemed": ("welfare", "", "amount"),  # a welfare voucher spent at a provider (sub: voucher_KIND)
}


def month_of(time_ms: int) -> str:
    d = _dt.datetime.fromtimestamp(time_ms / 1000, tz=_dt.timezone.utc)
    return f"{d.year:04d}-{d.month:02d}"


# Long by design: one row builder per transaction kind in a single pass over a verified block, each arm a few lines; split per kind it would repeat the shared receipt and event decoding.
def tx_rows(v: Verified) -> tuple[list[dict], list[dict], list[dict]]:
    """(transactions, account-history rows, money rows) of a verified block."""
    hd = v.block.header
    month = month_of(hd.time_ms)
    txs, hist, money = [], [], []
    for i, (raw, rc) in enumerate(zip(v.block.txs, v.receipts)):
        try:
            tx = decode_tx(raw)
            kind, payload = tx.body.kind, plain(tx.body.payload)
            sender, nonce, signer = encode_address(tx.sender), tx.body.nonce, tx.body.signer.hex()
        except TxError:  # a block's txs passed admission; kept whole if a later kind is unknown here
            from ledger.tx import tx_hash

            kind, payload, sender, nonce, signer = "unknown", None, "", 0, ""
            h = tx_hash(raw)
        else:
            h = tx.hash
        events = plain(list(rc.events))
        taxes = [e["data"] for e in events if isinstance(e, dict) and e.get("type") == "law"
                 and e.get("name") == "tax_collected" and isinstance(e.get("data"), dict)]
        law_version = next((e.get("version") for e in events if isinstance(e, dict) and e.get("type") == "call"), None)
        txs.append({"hash": h.hex(), "height": hd.height, "idx": i, "kind": kind, "sender": sender, "signer": signer,
                    "nonce": nonce, "code": rc.code, "code_name": code_name(rc.code), "gas_used": rc.gas_used,
                    "payload": payload, "events": events, "result": plain(rc.result),
                    "tax": sum(int(t.get("amount", 0)) for t in taxes if isinstance(t.get("amount"), int)),
                    "law_version": law_version if isinstance(law_version, int) else None,
                    "time_ms": hd.time_ms})
        # account history: net money moved per address by this tx, the sender always listed
        delta: dict[str, int] = {}
        other: dict[str, str] = {}
        if sender:
            delta[sender] = 0
        for e in events:
            if not isinstance(e, dict):
                continue
            t, amt = e.get("type"), e.get("amount")
            if not isinstance(amt, int):
                continue
            if t == "transfer" and isinstance(e.get("from"), str) and isinstance(e.get("to"), str):
                delta[e["from"]] = delta.get(e["from"], 0) - amt
                delta[e["to"]] = delta.get(e["to"], 0) + amt
                other.setdefault(e["from"], e["to"])
                other.setdefault(e["to"], e["from"])
            elif t == "issue" and isinstance(e.get("to"), str):
                delta[e["to"]] = delta.get(e["to"], 0) + amt
                money.append({"height": hd.height, "idx": i, "seq": len(money), "month": month, "kind": "issue",
                              "sub": "", "party": e["to"], "amount": amt})
            elif t == "retire" and isinstance(e.get("from"), str):
                delta[e["from"]] = delta.get(e["from"], 0) - amt
                money.append({"height": hd.height, "idx": i, "seq": len(money), "month": month, "kind": "retire",
                              "sub": "", "party": e["from"], "amount": amt})
        if isinstance(payload, dict):
            for k in ("to", "account"):
                if is_address(payload.get(k)):
                    delta.setdefault(payload[k], 0)
        for addr in sorted(delta):
            hist.append({"address": addr, "height": hd.height, "idx": i, "tx_hash": h.hex(), "kind": kind,
                         "counterparty": other.get(addr, sender if addr != sender else ""), "delta": delta[addr],
                         "code": rc.code, "time_ms": hd.time_ms})
        for e in events:
            if not (isinstance(e, dict) and e.get("type") == "law" and isinstance(e.get("data"), dict)):
                continue
            d = e["data"]
            if e.get("name") == "tax_collected" and isinstance(d.get("amount"), int):
                money.append({"height": hd.height, "idx": i, "seq": len(money), "month": month, "kind": "tax",
                              "sub": str(d.get("kind", "")), "party": str(d.get("payer", "")), "amount": d["amount"]})
            elif e.get("name") == "order_settled" and isinstance(d.get("amount"), int):
                money.append({"height": hd.height, "idx": i, "seq": len(money), "month": month,
                              "kind": "procurement", "sub": str(d.get("kind", "")), "party": str(d.get("id", "")),
                              "amount": d["amount"]})
            elif e.get("name") in LAW_MONEY:
                kind, sub, field = LAW_MONEY[e["name"]]
                amt = d.get(field)
                if isinstance(amt, int) and not isinstance(amt, bool):
                    money.append({"height": hd.height, "idx": i, "seq": len(money), "month": month, "kind": kind,
                                  "sub": sub if sub else f"voucher_{d.get('kind', '')}" if kind == "welfare"
                                  else str(d.get("scheme", "")),
                                  "party": str(d.get("citizen", "")), "amount": amt})
    return txs, hist, money


def hook_money(height: int, time_ms: int, law: str, hook: Any, start_seq: int) -> list[dict]:
    """Money rows from a law's ``on_block`` record (welfare payouts)."""
    out: list[dict] = []
    if not isinstance(hook, dict) or hook.get("height") != height:
        return out
    for ev in hook.get("events") or []:
        if isinstance(ev, dict) and ev.get("name") == "payout_batch" and isinstance(ev.get("data"), dict):
            total = ev["data"].get("total")
            if isinstance(total, int) and total > 0:
                out.append({"height": height, "idx": -1, "seq": start_seq + len(out), "month": month_of(time_ms),
                            "kind": "welfare", "sub": law, "party": str(ev["data"].get("period", "")),
                            "amount": total})
    return out


def is_address(s: Any) -> bool:
    try:
        decode_address(s)
        return True
    except (AddressError, TypeError):
        return False


def proposer_address(pubkey: bytes) -> str:
    return encode_address(address_of(pubkey)) if len(pubkey) == 32 else pubkey.hex()
