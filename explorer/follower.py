"""Following a node: StreamBlocks in, verified rows into the index.

The follower is a plain blocking loop (the node's gRPC client is
synchronous) that the trio side runs in a worker thread.  Each connection:

1. ``Status``: the chain id and genesis hash must be the ones the index was
   built from (kept in ``meta``); an index never mixes two chains.  With a
   genesis pin (:class:`~explorer.verify.GenesisPin`, ``--genesis FILE`` or
   ``--genesis-hash HEX``) they must also be the pinned ones, block 1 must
   follow from the pinned hash, and (with the file) block 1's commit is
   checked against the genesis file's validators, not the node's word; a
   node on another genesis is refused before anything is indexed.
2. ``StreamBlocks`` from ``index.height() + 1``.  Each block is checked
   (``explorer.verify``) with the commit the node stored for it, or with the
   next block's ``last_commit`` when the node has none yet, then written in
   one transaction with its law records.  The validator set is fetched
   only when the header names a new one.  Law versions are looked for at
   block 1, in a block with a transaction that is not money or a law call,
   in a block where the congress's end-of-block record says a decision was
   enacted, and every 64 blocks; the decision that enacted a version (its
   proposal, read with a proof, and the transaction that proposed it) is
   kept in ``meta`` under ``law_decision/NAME/VERSION``, written before the
   block (idempotent, so a crash in between loses nothing).
3. When the node goes away the loop reconnects after ``retry`` seconds and
   resumes from the index's height; a rejected block stops the follower
   with its reason (the index keeps everything verified before it).
"""

from __future__ import annotations

import logging
import threading

from ledger.address import decode_address
from ledger.block import validator_set_hash
from ledger.codec import decode
from ledger.smt import verify_proof
from ledger.state import key_hash, path_bytes, value_hash
from wallet.client import Client, ClientError

from .index import Index, dumps
from .verify import GenesisPin, Rejected, Verified, decode_block, hook_money, month_of, parse_commit, \
    plain as plain_value, proposer_address, tx_rows, verify_block

log = logging.getLogger("esoc.explorer")

HOOK_ENTRY = "on_block"
CONGRESS = "congress"
LAW_SCAN_EVERY = 64


class Follower:
    def __init__(self, index: Index, target: str, notify=None, retry: float = 1.0, until: int | None = None,
                 pin: GenesisPin | None = None):
        self.index = index
        self.pin = pin  # the genesis the operator trusts (None: trust the node's on first use)
        self.until = until  # stop once this height is indexed (tests, one-off re-indexing)
        self.target = target
        self.notify = notify or (lambda height: None)
        self.retry = retry
        self.stop_flag = threading.Event()
        self.finished = threading.Event()  # set when run() has returned
        self.error: str | None = None  # why following stopped for good
        self.connected = False
        self._client: Client | None = None
        self._powers: dict[str, dict[bytes, int]] = {}  # validators_hash hex -> powers
        self._hooks: list[str] = []  # laws with an on_block entry

    # ---- the loop ---------------------------------------------------------------
    def run(self) -> None:
        """Follow until :meth:`stop` (or a rejected block)."""
        try:
            while not self.stop_flag.is_set() and not self.done():
                try:
                    self.follow_once()
                except Rejected as e:
                    self.error = str(e)
                    log.error("explorer: refusing block: %s", e)
                    return
                except ClientError as e:
                    log.info("explorer: node unavailable (%s); retrying", e)
                finally:
                    self.connected = False
                self.stop_flag.wait(self.retry)
        finally:
            self.finished.set()

    def done(self) -> bool:
        return self.until is not None and self.index.height() >= self.until

    def stop(self) -> None:
        self.stop_flag.set()
        c = self._client
        if c is not None:
            c.close()  # ends a blocked stream read

    def follow_once(self) -> None:
        self._check_pin_against_index()
        with Client(self.target, timeout=15) as client:
            self._client = client
            try:
                st = client.status()
                self._check_chain(st.chain_id, st.genesis_hash.hex())
                self.connected = True
                self._refresh_hooks(client, 0)
                pending = None
                for resp in client.stream_blocks(self.index.height() + 1):
                    if self.stop_flag.is_set() or self.done():
                        return
                    if resp.height != self.index.height() + 1 + (1 if pending is not None else 0):
                        raise Rejected(f"the node streamed height {resp.height} out of order")
                    if pending is not None:
                        commit = decode_block(resp.block).last_commit
                        if commit is None:
                            raise Rejected(f"block {resp.height} carries no commit for block {pending.height}")
                        self.add(client, pending, commit)
                        pending = None
                    c = parse_commit(resp.commit)
                    if c is not None:
                        self.add(client, resp, c)
                    else:
                        pending = resp
                    if self.done():
                        return
            finally:
                self._client = None

    def _check_pin_against_index(self) -> None:
        """An index built from another genesis, or whose block 1 another validator set signed, is not reused."""
        pin = self.pin
        if pin is None:
            return
        have = self.index.get_meta("genesis_hash")
        if have is not None and have != pin.genesis_hash.hex():
            raise Rejected(f"the index holds the chain of genesis {have[:16]}, not the pinned genesis "
                           f"{pin.genesis_hash.hex()[:16]} ({pin.source}); index it into another --db")
        b1 = self.index.block(1)
        if b1 is not None and pin.powers is not None and b1["validators_hash"] != validator_set_hash(pin.powers).hex():
            raise Rejected(f"the index's block 1 was signed by another validator set than the pinned genesis's "
                           f"({pin.source}); index it into another --db")

    def _check_chain(self, chain_id: str, genesis: str) -> None:
        pin = self.pin
        if pin is not None and (genesis != pin.genesis_hash.hex() or (pin.chain_id is not None and chain_id != pin.chain_id)):
            raise Rejected(f"the node {self.target} is on chain {chain_id!r} of genesis {genesis[:16]}, not the pinned "
                           f"genesis {pin.genesis_hash.hex()[:16]}" + (f" of chain {pin.chain_id!r}" if pin.chain_id else "")
                           + f" ({pin.source}): nothing from it is indexed")
        have = self.index.get_meta("chain_id"), self.index.get_meta("genesis_hash")
        if have == (None, None):
            self.index.set_meta("chain_id", chain_id)
            self.index.set_meta("genesis_hash", genesis)
        elif have != (chain_id, genesis):
            raise Rejected(f"the node is on chain {chain_id} (genesis {genesis[:16]}), the index holds "
                           f"{have[0]} (genesis {(have[1] or '')[:16]})")

    # ---- one block ----------------------------------------------------------------
    def powers_for(self, client: Client, height: int, vh: bytes) -> dict[bytes, int]:
        if height == 1 and self.pin is not None and self.pin.powers is not None:
            if validator_set_hash(self.pin.powers) != vh:  # the node's block 1 is signed by keys of its own
                raise Rejected(f"block 1 names a validator set that is not the pinned genesis's ({self.pin.source}): "
                               "the node's chain was not started from the genesis you trust")
            return dict(self.pin.powers)
        key = vh.hex()
        if key not in self._powers:
            vals = client.validators(height)
            self._powers = {key: {v.pubkey: v.power for v in vals.validators}}  # one set cached: bounded
        return self._powers[key]

    def add(self, client: Client, resp, commit) -> Verified:
        blk = decode_block(resp.block)
        prev = self.index.block(blk.height - 1) if blk.height > 1 else None
        if blk.height > 1 and prev is None:
            raise Rejected(f"block {blk.height - 1} is missing from the index")
        powers = self.powers_for(client, blk.height, blk.header.validators_hash)
        gh = self.pin.genesis_hash if self.pin is not None else bytes.fromhex(self.index.get_meta("genesis_hash") or "")
        v = verify_block(resp.block, resp.receipts, commit, powers, prev, self.index.get_meta("chain_id"), gh or None)
        self.write(client, v, powers)
        self.notify(blk.height)
        return v

    def write(self, client: Client, v: Verified, powers: dict[bytes, int]) -> None:
        hd = v.block.header
        txs, hist, money = tx_rows(v)
        hooks = {law: self.read_hook(client, law, hd.height, hd.state_root) for law in self._hooks}
        for law in self._hooks:
            money += hook_money(hd.height, hd.time_ms, law, hooks[law], len(money))
        if hd.height == 1:  # the genesis allocation, as the supply record after block 1 proves it
            sup = self.read_state(client, ("supply",), 1, hd.state_root)
            if isinstance(sup, dict) and isinstance(sup.get("issued"), int):
                in_block = sum(m["amount"] for m in money if m["kind"] == "issue")
                if sup["issued"] > in_block:
                    money.append({"height": 1, "idx": -2, "seq": 0, "month": month_of(hd.time_ms), "kind": "issue",
                                  "sub": "genesis", "party": "", "amount": sup["issued"] - in_block})
        names = self.new_names(client, hd.height, hd.state_root, txs, hist)
        laws = self.new_law_versions(client, hd.height, hd.state_root, txs, enacted_in(hooks.get(CONGRESS), hd.height))
        for lv in laws:
            if lv.get("enacted_by"):
                self.index.set_meta(f"law_decision/{lv['name']}/{lv['version']}",
                                    dumps(self.decision(client, lv["enacted_by"], hd.height, hd.state_root)))
        signers = [s.validator.hex() for s in v.block.last_commit.signatures] if v.block.last_commit else []
        block = {"height": hd.height, "hash": hd.hash.hex(), "time_ms": hd.time_ms,
                 "proposer": proposer_address(hd.proposer), "proposer_key": hd.proposer.hex(),
                 "tx_count": len(v.block.txs), "state_root": hd.state_root.hex(),
                 "validators_hash": hd.validators_hash.hex(), "next_validators_hash": hd.next_validators_hash.hex(),
                 "validators": len(powers), "total_power": v.total_power, "evidence": len(v.block.evidence)}
        evidence = []
        for e in v.block.evidence:
            a = e.get("vote_a") if isinstance(e, dict) else None
            val = a.get("validator") if isinstance(a, dict) else None
            evidence.append({"validator": val.hex() if isinstance(val, bytes) else "",
                             "vote_height": a.get("height", 0) if isinstance(a, dict) and isinstance(a.get("height"), int)
                             else 0, "data": plain_value(e)})
        self.index.add_block(block, txs, hist, money, signers, names, laws, evidence)

    def read_state(self, client: Client, path: tuple, height: int, state_root: bytes):
        """A state value at ``height``, checked by its proof against the verified header (None if absent)."""
        r = client.state(path, height=height, prove=True)
        if r.state_root != state_root:
            raise Rejected(f"the node's state root at {height} is not the verified header's")
        ok = verify_proof(state_root, key_hash(path_bytes(path)), value_hash(r.value) if r.exists else None, r.proof)
        if not ok:
            raise Rejected(f"the proof of state {path!r} at {height} does not verify")
        return decode(r.value) if r.exists else None

    def new_names(self, client: Client, height: int, state_root: bytes, txs: list[dict], hist: list[dict]) -> list[dict]:
        """Public names of accounts: set by a registration in this block, or read (with a proof) the
        first time an address appears in the index (genesis accounts carry their names)."""
        out: dict[str, dict] = {}
        for t in txs:
            p = t["payload"]
            if t["kind"] == "register" and t["code"] == 0 and isinstance(p, dict) and isinstance(p.get("account"), str):
                out[p["account"]] = {"address": p["account"], "name": str(p.get("name", ""))[:128],
                                     "kind": str(p.get("kind", ""))[:16]}
        for addr in sorted({h["address"] for h in hist} - set(out)):
            if self.index.name_of(addr) is not None:
                continue
            acct = self.read_state(client, ("acct", decode_address(addr)), height, state_root)
            if isinstance(acct, dict) and isinstance(acct.get("name"), str) and acct["name"]:
                out[addr] = {"address": addr, "name": acct["name"][:128], "kind": str(acct.get("kind", ""))[:16]}
        return [out[a] for a in sorted(out)]

    def read_hook(self, client: Client, law: str, height: int, state_root: bytes):
        return self.read_state(client, ("hook", law), height, state_root)

    def _refresh_hooks(self, client: Client, height: int) -> None:
        try:
            laws = client.list_laws(height).laws
        except ClientError as e:
            if "no policy contracts" in str(e):
                self._hooks = []
                return
            raise
        self._hooks = sorted(i.name for i in laws if HOOK_ENTRY in i.entries)

    def new_law_versions(self, client: Client, height: int, state_root: bytes, txs: list[dict],
                         enacted: bool = False) -> list[dict]:
        """Law versions in force at ``height`` that the index has not recorded, read with proofs.

        A law gets a version at genesis, or at the beginning of a block by an
        enacted congress decision (which the congress's end-of-block record of
        that block reports: ``enacted``); the follower looks at height 1, at
        such a block, at a transaction that is not money or a law call, and
        every 64 blocks (in case a decision's record was missed).
        """
        if (height != 1 and height % LAW_SCAN_EVERY and not enacted
                and all(t["kind"] in ("transfer", "issue", "retire", "call") for t in txs)):
            return []
        names = self.read_state(client, ("contract_names",), height, state_root) or []
        known = self.index.known_law_versions()
        out = []
        for name in names if isinstance(names, list) else []:
            rec = self.read_state(client, ("contract", name), height, state_root) or {}
            for v in rec.get("versions", []) if isinstance(rec, dict) else []:
                if (name, v["version"]) in known or v["since"] > height:
                    continue
                src = self.read_state(client, ("code", v["code_hash"]), height, state_root)
                src = src if isinstance(src, str) else ""
                entries, views = [], []
                try:
                    info = client.get_law(name, v["version"], height).info
                    entries, views = list(info.entries), list(info.views)
                except ClientError:
                    pass  # decoration only: the source above is what was proved
                out.append({"name": name, "version": v["version"], "code_hash": v["code_hash"].hex(),
                            "since_height": v["since"], "summary": summary_of(src), "source": src,
                            "entries": entries, "views": views,
                            "enacted_by": v.get("enacted_by", 0) if isinstance(v.get("enacted_by", 0), int) else 0})
                if HOOK_ENTRY in entries and name not in self._hooks:
                    self._hooks = sorted([*self._hooks, name])
        return out

    def decision(self, client: Client, pid: int, height: int, state_root: bytes) -> dict:
        """The congress decision ``pid`` as it stood at ``height`` (read with a proof), and the
        indexed transaction that proposed it."""
        prop = self.read_state(client, ("cstore", CONGRESS, f"prop:{pid}"), height, state_root)
        out: dict = {"proposal": pid}
        if not isinstance(prop, dict):
            return out
        p = plain_value(prop)
        for k in ("class", "title", "proposer", "proposed_at", "status", "enact_at", "opened", "closes"):
            if k in p:
                out[k] = p[k]
        r = p.get("result")
        if isinstance(r, dict):
            out["result"] = {k: r[k] for k in ("yes", "no", "abstain", "accepted", "final", "void") if k in r}
        at = p.get("proposed_at")
        if isinstance(at, int) and 1 <= at <= height:
            out["proposed_tx"] = proposing_tx(self.index.block_txs(at, 0, 5000), pid)
        return out


def enacted_in(hook, height: int) -> bool:
    """Whether a congress end-of-block record says a decision was enacted in block ``height``."""
    if not isinstance(hook, dict) or hook.get("height") != height:
        return False
    return any(isinstance(ev, dict) and ev.get("name") == "enacted" for ev in hook.get("events") or [])


def proposing_tx(txs: list[dict], pid: int) -> str | None:
    """The hash of the transaction among ``txs`` whose congress event created proposal ``pid``."""
    for t in txs:
        for e in t["events"]:
            if (isinstance(e, dict) and e.get("type") == "law" and e.get("name") in ("proposed", "urgent")
                    and isinstance(e.get("data"), dict) and e["data"].get("id") == pid):
                return t["hash"]
    return None


def summary_of(source: str) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(source)) or ""
    except (SyntaxError, ValueError, RecursionError):
        return ""
    lines = doc.strip().splitlines()
    return lines[0] if lines else ""


__all__ = ["Follower", "enacted_in", "proposing_tx", "summary_of"]
