"""Following a node: StreamBlocks in, verified rows into the index.

The follower is a plain blocking loop (the node's gRPC client is
synchronous) that the trio side runs in a worker thread.  Each connection:

1. ``Status``: the chain id and genesis hash must be the ones the index was
   built from (kept in ``meta``); an index never mixes two chains.
2. ``StreamBlocks`` from ``index.height() + 1``.  Each block is checked
   (``explorer.verify``) with the commit the node stored for it, or with the
   next block's ``last_commit`` when the node has none yet, then written in
   one transaction with its law records.  The validator set is fetched
   only when the header names a new one.
3. When the node goes away the loop reconnects after ``retry`` seconds and
   resumes from the index's height; a rejected block stops the follower
   with its reason (the index keeps everything verified before it).
"""

from __future__ import annotations

import logging
import threading

from ledger.address import decode_address
from ledger.codec import decode
from ledger.smt import verify_proof
from ledger.state import key_hash, path_bytes, value_hash
from wallet.client import Client, ClientError

from .index import Index
from .verify import Rejected, Verified, decode_block, hook_money, month_of, parse_commit, plain as plain_value, proposer_address, tx_rows, \
    verify_block

log = logging.getLogger("esoc.explorer")

HOOK_ENTRY = "on_block"


class Follower:
    def __init__(self, index: Index, target: str, notify=None, retry: float = 1.0, until: int | None = None):
        self.index = index
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

    def _check_chain(self, chain_id: str, genesis: str) -> None:
        have = self.index.get_meta("chain_id"), self.index.get_meta("genesis_hash")
        if have == (None, None):
            self.index.set_meta("chain_id", chain_id)
            self.index.set_meta("genesis_hash", genesis)
        elif have != (chain_id, genesis):
            raise Rejected(f"the node is on chain {chain_id} (genesis {genesis[:16]}), the index holds "
                           f"{have[0]} (genesis {(have[1] or '')[:16]})")

    # ---- one block ----------------------------------------------------------------
    def powers_for(self, client: Client, height: int, vh: bytes) -> dict[bytes, int]:
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
        v = verify_block(resp.block, resp.receipts, commit, powers, prev, self.index.get_meta("chain_id"))
        self.write(client, v, powers)
        self.notify(blk.height)
        return v

    def write(self, client: Client, v: Verified, powers: dict[bytes, int]) -> None:
        hd = v.block.header
        txs, hist, money = tx_rows(v)
        for law in self._hooks:
            money += hook_money(hd.height, hd.time_ms, law, self.read_hook(client, law, hd.height, hd.state_root),
                                len(money))
        if hd.height == 1:  # the genesis allocation, as the supply record after block 1 proves it
            sup = self.read_state(client, ("supply",), 1, hd.state_root)
            if isinstance(sup, dict) and isinstance(sup.get("issued"), int):
                in_block = sum(m["amount"] for m in money if m["kind"] == "issue")
                if sup["issued"] > in_block:
                    money.append({"height": 1, "idx": -2, "seq": 0, "month": month_of(hd.time_ms), "kind": "issue",
                                  "sub": "genesis", "party": "", "amount": sup["issued"] - in_block})
        names = self.new_names(client, hd.height, hd.state_root, txs, hist)
        laws = self.new_law_versions(client, hd.height, hd.state_root, txs)
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

    def new_law_versions(self, client: Client, height: int, state_root: bytes, txs: list[dict]) -> list[dict]:
        """Law versions in force at ``height`` that the index has not recorded, read with proofs.

        Laws change only by a transaction that is not money or a law call; the
        follower looks at height 1, at such a transaction, and every 64 blocks.
        """
        if height != 1 and height % 64 and all(t["kind"] in ("transfer", "issue", "retire", "call") for t in txs):
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
                            "entries": entries, "views": views})
                if HOOK_ENTRY in entries and name not in self._hooks:
                    self._hooks = sorted([*self._hooks, name])
        return out


def summary_of(source: str) -> str:
    import ast

    try:
        doc = ast.get_docstring(ast.parse(source)) or ""
    except (SyntaxError, ValueError, RecursionError):
        return ""
    lines = doc.strip().splitlines()
    return lines[0] if lines else ""


__all__ = ["Follower", "summary_of"]
