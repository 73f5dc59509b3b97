"""The application: builds, checks, executes and commits blocks.

It owns the chain store and the mempool and knows nothing of sockets,
clocks or consensus: the caller (the solo producer, or the consensus driver)
passes the block time and the proposer, and hands over the commit that
decided a block.  Executing a block is a pure function of the committed
state and the block, so every node computes the same receipts and root.

A proposer executes the block it builds once; the result is cached by block
hash, so committing its own block does not execute it again.

Block time: each block's ``time_ms`` is above its predecessor's and at most
:data:`MAX_BLOCK_TIME_MS`.  Both checks are deterministic, so a block synced
years later is judged as it was when decided.  How far a *proposed* block
may run ahead of the wall clock is judged by the consensus driver, which has
a clock (``node/consensus_driver.py``); this module has none.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict

from ledger.block import (
    Block, Commit, Header, Receipt, commit_hash, evidence_root, receipts_root, txs_root, validator_set_hash,
)
from ledger.codec import decode, encode
from ledger.crypto import PrivateKey, tagged_hash
from ledger.smt import EMPTY_ROOT
from ledger.state import State, StateDiff, Validator, VALIDATORS
from ledger.store import ChainStore, StoreError
from ledger.tx import TxError, decode_tx, tx_hash

from consensus import beacon
from consensus.valset import ValidatorSet, ValidatorSetError

from .execution import BlockContext, Executor, InvalidBlock
from ledger.genesis import Genesis
from .mempool import Mempool

APP_VERSION = 1

# The last millisecond of the year 9999 (UTC): no block time is later.  Far beyond any
# honest clock, within what every encoder, JSON reader and law's arithmetic takes
# (< 2^53), so a byzantine proposer cannot stamp a time (2^64 - 1) past which no next
# block can be built or encoded.
MAX_BLOCK_TIME_MS = 253_402_300_799_999


VALSET = ("valset",)  # the consensus ValidatorSet (with proposer priorities) of the next block


def validators_hash(vals: list[Validator]) -> bytes:
    """The hash of a set of (pubkey, power), as headers carry it."""
    return validator_set_hash({v.pubkey: v.power for v in vals})


def _apply_updates(vals: ValidatorSet, updates) -> ValidatorSet:
    """``vals.with_updates(updates)``, never raising at the end of a block.

    ``set_validator`` refuses every update that could make this fail; should
    one reach here all the same (a state written by an older version), the
    removals of keys not in the set are dropped and, if the rest is still
    invalid, the set stays as it was.  A failure here would make every
    candidate block of the height invalid and halt the chain.
    """
    present = {v.pubkey for v in vals.validators}
    kept = [(pk, pw) for pk, pw in updates if pw != 0 or pk in present]
    try:
        return vals.with_updates(kept)
    except ValidatorSetError:
        return vals


def end_block_validators(state: State, height: int) -> ValidatorSet:
    """After block ``height``: the set that signs ``height + 1``, priorities advanced.

    Updates scheduled for ``height + 1`` (by ``set_validator`` in block
    ``height - 1``) are applied here, so a change made at H takes effect at H+2.
    """
    cur = ValidatorSet.from_obj(state.get_value(VALSET))
    nxt = cur.next_height()
    upd = state.get_value(("validator_updates", height + 1))
    if upd is not None:
        nxt = _apply_updates(nxt, upd)
        state.delete(("validator_updates", height + 1))
        names = {}
        for v in nxt.validators:
            n = state.get_value(("validator_name", v.pubkey))
            names[v.pubkey] = n if isinstance(n, str) else ""
        old = {v.pubkey: v.name for v in state.validators()}
        state.put_value(VALIDATORS, [Validator(v.pubkey, v.power, names[v.pubkey] or old.get(v.pubkey, "")).to_obj()
                                     for v in nxt.validators])
    state.put(VALSET, nxt)
    return nxt


@dataclasses.dataclass
class Executed:
    block: Block
    raw: bytes
    receipts: list[Receipt]
    diff: StateDiff
    receipts_encoded: list[bytes]
    tx_hashes: list[bytes] | None = None  # of block.txs, in order (kept from execution: not hashed again at commit)


class Application:
    def __init__(self, store: ChainStore, genesis: Genesis, contracts=None):
        self.store = store
        self.genesis = genesis
        self.chain_id = genesis.chain_id
        self.contracts = contracts
        self.executor = Executor(self.chain_id, contracts)
        self.max_block_txs = int(genesis.param("max_block_txs", 5000))
        self.max_block_bytes = int(genesis.param("max_block_bytes", 4 * 1024 * 1024))
        self.mempool = Mempool(self.chain_id)
        self._executed: OrderedDict[bytes, Executed] = OrderedDict()
        # checks the signatures of a batch of decoded transactions -> [bool]; the node sets its worker
        # pool here (node/verifier.py); None: execution checks them one by one on its own thread
        self.verify_batch = None
        self._init_genesis()
        self._height = self.store.height()
        self._last: tuple[int, bytes, int] | None = None  # (height, hash, time_ms) of the last committed block

    # ---- genesis ----------------------------------------------------------
    def _init_genesis(self) -> None:
        stored = self.store.genesis_bytes()
        if stored is not None:
            if stored != self.genesis.encode():
                raise StoreError("the database holds another chain's genesis; refusing to start")
            return
        state = State(lambda pb: None, EMPTY_ROOT, 0)
        self.genesis.apply(state)
        state.put(VALSET, ValidatorSet.from_powers([(v.pubkey, v.power) for v in self.genesis.validators]))
        if self.contracts is not None:
            self.contracts.install_genesis(state, self.genesis)
        diff = state.commit(self.store.smt)
        self.store.write_genesis(self.genesis.encode(), diff)

    # ---- views ------------------------------------------------------------
    @property
    def height(self) -> int:
        """The last committed height (cached; this object is the only writer)."""
        return self._height

    def _last_header(self) -> tuple[bytes, int]:
        """(hash, time_ms) of the last committed block: kept from commit, read once after a start
        (decoding a 5,000-transaction block to learn its hash cost ~2 µs a transaction, twice a block)."""
        h = self.height
        last = self._last
        if last is None or last[0] != h:
            if h == 0:
                last = (0, self.genesis.hash, self.genesis.genesis_time_ms)
            else:
                hd = self.store.block(h).header
                last = (h, hd.hash, hd.time_ms)
            self._last = last
        return last[1], last[2]

    def last_block_hash(self) -> bytes:
        return self._last_header()[0]

    def last_time_ms(self) -> int:
        return self._last_header()[1]

    def state(self) -> State:
        return self.store.state_at()

    def validators(self, height: int | None = None) -> list[Validator]:
        """The set that signs block ``height`` (default: the next block), with names."""
        h = self.store.height() + 1 if height is None else height
        vs = self.valset(h)
        raw = self.store.read_at(VALIDATORS, h - 1)
        names = {v["pubkey"]: v["name"] for v in decode(raw)} if raw else {}
        return [Validator(v.pubkey, v.power, names.get(v.pubkey, "")) for v in vs.validators]

    def valset(self, height: int | None = None) -> ValidatorSet:
        """The consensus validator set (with proposer priorities) of block ``height``."""
        # the store's height, not self.height: gRPC's threads ask too, and they see only the blocks on
        # disk, while this object is already at a block being written (ChainStore.stage_block)
        top = self.store.height()
        h = top + 1 if height is None else height
        if h < 1 or h > top + 1:
            raise ValueError(f"the validator set of height {h} is not known")
        return ValidatorSet.from_obj(decode(self.store.read_at(VALSET, h - 1)))

    # ---- building and executing ------------------------------------------
    def _execute(self, header_fields: dict, txs: list, verified, building: bool = False, evidence: tuple = (),
                 last_commit: Commit | None = None) -> tuple:
        state = self.state()
        height = header_fields["height"]
        vals = ValidatorSet.from_obj(state.get_value(VALSET))
        ctx = BlockContext(self.chain_id, height, header_fields["time_ms"], header_fields["proposer"])
        mix_beacon(state, self.chain_id, height, header_fields["beacon_proof"], header_fields["proposer"],
                   unproven_ok=building and not header_fields["beacon_proof"])
        if self.contracts is not None:
            self.contracts.begin_block(state, ctx, last_commit)
        for ev in evidence:  # checked by consensus before the block was accepted
            state.put_value(("evidence", tagged_hash("evidence", encode(ev))), ev)
        receipts, included = self.executor.apply_block(state, txs, ctx, verified, skip_inadmissible=building)
        if self.contracts is not None:
            self.contracts.end_block(state, ctx)
        encoded = [r.encode() for r in receipts]
        next_vals = end_block_validators(state, height)
        diff = state.commit(self.store.smt)
        return receipts, encoded, included, diff, vals, next_vals

    def build_block(self, time_ms: int, proposer: bytes | PrivateKey, last_commit: Commit | None,
                    evidence: tuple = ()) -> Executed:
        """Reap the mempool and build the next block (executed once, cached).

        ``proposer`` is the proposer's key (its VRF proof feeds the beacon,
        consensus/beacon.py); a bare public key builds a block without the
        proof, which other nodes refuse (tests that only build use it).
        Transactions that are no longer admissible (expired, or their nonce
        was taken) are left out rather than invalidating the block.
        """
        height = self.height + 1
        time_ms = max(time_ms, self.last_time_ms() + 1)
        if time_ms > MAX_BLOCK_TIME_MS:
            raise InvalidBlock(f"cannot build block {height}: time {time_ms} ms is past the last block time "
                               f"{MAX_BLOCK_TIME_MS} ms")
        candidates = self.mempool.reap(self.max_block_txs, self.max_block_bytes)
        key = proposer if isinstance(proposer, PrivateKey) else None
        proposer = key.public if key is not None else proposer
        proof = beacon.prove(key, beacon_alpha(self.state(), self.chain_id, height)) if key is not None else b""
        fields = {"height": height, "time_ms": time_ms, "proposer": proposer, "beacon_proof": proof}
        receipts, encoded, included, diff, vals, next_vals = self._execute(fields, candidates, self.mempool.is_verified, building=True, evidence=tuple(evidence),
                                                                              last_commit=last_commit)
        raw_txs = tuple(t.raw for t in included)
        header = Header(
            chain_id=self.chain_id,
            height=height,
            time_ms=time_ms,
            prev_hash=self.last_block_hash(),
            txs_root=txs_root(raw_txs),
            state_root=diff.root,
            receipts_root=receipts_root(receipts, encoded),
            evidence_root=evidence_root(evidence),
            last_commit_hash=commit_hash(last_commit),
            proposer=proposer,
            validators_hash=vals.hash(),
            next_validators_hash=next_vals.hash(),
            app_version=APP_VERSION,
            beacon_proof=proof,
        )
        block = Block(header=header, txs=raw_txs, evidence=tuple(evidence), last_commit=last_commit)
        ex = Executed(block, block.encode(), receipts, diff, encoded, [t.hash for t in included])
        self._remember(ex)
        return ex

    def execute_block(self, block: Block, txs: list | None = None) -> Executed:
        """Validate a proposed or synced block by executing it; raise InvalidBlock.

        ``txs``: the block's transactions as the caller holds them, in block order (a compact block
        rebuilt from the mempool: decoded and checked once, on admission); an entry is used where it is
        a decoded transaction whose bytes equal the block's at its place, else looked up as without."""
        cached = self._executed.get(block.hash)
        if cached is not None:
            return cached
        hd = block.header
        if hd.chain_id != self.chain_id:
            raise InvalidBlock("block is for another chain")
        if hd.height != self.height + 1:
            raise InvalidBlock(f"block height {hd.height} does not follow {self.height}")
        if hd.prev_hash != self.last_block_hash():
            raise InvalidBlock("block does not extend the last committed block")
        if hd.time_ms <= self.last_time_ms():
            raise InvalidBlock("block time does not increase")
        if hd.time_ms > MAX_BLOCK_TIME_MS:
            raise InvalidBlock(f"block time {hd.time_ms} ms is past the last block time {MAX_BLOCK_TIME_MS} ms")
        if hd.txs_root != txs_root(block.txs):
            raise InvalidBlock("transactions root does not match")
        if hd.last_commit_hash != commit_hash(block.last_commit):
            raise InvalidBlock("last commit hash does not match")
        if hd.evidence_root != evidence_root(block.evidence):
            raise InvalidBlock("evidence root does not match")
        if self.valset(hd.height).power_of(hd.proposer) == 0:
            raise InvalidBlock("block proposer is not a validator")
        if hd.app_version != APP_VERSION:
            raise InvalidBlock(f"app version {hd.app_version} is not {APP_VERSION}")
        fields = {"height": hd.height, "time_ms": hd.time_ms, "proposer": hd.proposer, "beacon_proof": hd.beacon_proof}
        # transactions this node already holds decoded and checked are not decoded again
        mp = self.mempool
        if txs is not None and len(txs) == len(block.txs):
            txs = [t if type(t) is not bytes and t.raw == r else (mp.get(tx_hash(r)) or r)
                   for t, r in zip(txs, block.txs)]
        else:
            txs = [mp.get(tx_hash(r)) or r for r in block.txs]
        if self.verify_batch is not None:
            self._verify_unseen(txs)
        receipts, encoded, included, diff, vals, next_vals = self._execute(fields, txs, self.mempool.is_verified,
                                                                         evidence=block.evidence,
                                                                         last_commit=block.last_commit)
        if hd.validators_hash != vals.hash():
            raise InvalidBlock("validators hash does not match")
        if hd.next_validators_hash != next_vals.hash():
            raise InvalidBlock("next validators hash does not match")
        if hd.receipts_root != receipts_root(receipts, encoded):
            raise InvalidBlock("receipts root does not match")
        if hd.state_root != diff.root:
            raise InvalidBlock("state root does not match")
        ex = Executed(block, block.encode(), receipts, diff, encoded, [t.hash for t in included])
        self._remember(ex)
        return ex

    def _verify_unseen(self, txs: list) -> None:
        """Decode the block's transactions this node has not seen (in place) and check their signatures
        in one batch with ``verify_batch`` (the node's worker processes); the good ones are marked
        verified, so execution does not check them again on this thread.  A malformed one is left as
        bytes and a wrongly signed one unmarked: execution refuses the block for it, with its reason."""
        fresh = []
        for i, t in enumerate(txs):
            if isinstance(t, bytes):
                try:
                    txs[i] = t = decode_tx(t)
                except TxError:
                    continue
                if not self.mempool.is_verified(t.hash):
                    fresh.append(t)
        if fresh:
            for t, good in zip(fresh, self.verify_batch(fresh)):
                if good:
                    self.mempool.mark_verified(t.hash)

    def _remember(self, ex: Executed) -> None:
        self._executed[ex.block.hash] = ex
        while len(self._executed) > 8:
            self._executed.popitem(last=False)

    def commit(self, ex: Executed, commit: Commit | None) -> None:
        """Write a decided block, its receipts and state in one atomic batch."""
        self.stage(ex, commit)
        self.store.write_staged()
        self.store.unstage()

    def stage(self, ex: Executed, commit: Commit | None) -> None:
        """Commit a decided block in memory: the store holds its batch staged (ChainStore.stage_block)
        and every view, the mempool included, moves to its height; the caller then writes it with
        ``store.write_staged`` (on another thread, the node does: see node/consensus_driver.py) and
        calls ``store.unstage``.  Until the write is done the block is not durable."""
        if ex.block.header.height != self.height + 1:
            raise StoreError("block does not follow the committed height")
        self.store.stage_block(ex.block, ex.raw, commit, ex.receipts, ex.diff, ex.receipts_encoded, ex.tx_hashes)
        hd = ex.block.header
        self._height = hd.height
        self._last = (hd.height, hd.hash, hd.time_ms)
        self._executed.clear()
        hashes = ex.tx_hashes if ex.tx_hashes is not None else [tx_hash(t) for t in ex.block.txs]
        self.mempool.update(hashes, self.state(), self.height + 1, ex.diff.changes)  # the accounts it wrote


RANDOMNESS = ("randomness",)  # R_H of the last executed block (consensus/beacon.py)


def beacon_alpha(state: State, chain_id: str, height: int) -> bytes:
    """What the proposer of block ``height`` proves over: the chain id, the height, R_{height-1}."""
    prev = state.get_value(RANDOMNESS) or beacon.genesis_randomness(chain_id)
    return beacon.beacon_input(chain_id, height, prev)


def mix_beacon(state: State, chain_id: str, height: int, proof: bytes, proposer: bytes,
               unproven_ok: bool = False) -> None:
    """Verify the proposer's beacon proof and store R_H; R_H is the beacon of height H - 1 for laws.

    ``unproven_ok``: building a block without the proposer's key (tests); no other node accepts it.
    """
    alpha = beacon_alpha(state, chain_id, height)
    try:
        out = beacon.verify(proposer, alpha, proof) if not unproven_ok else bytes(32)
    except beacon.BeaconError as e:
        raise InvalidBlock(f"beacon proof: {e}") from None
    r = beacon.next_randomness(state.get_value(RANDOMNESS) or beacon.genesis_randomness(chain_id), out)
    state.put_value(RANDOMNESS, r)
    if height >= 2:
        state.put_value(("beacon", height - 1), r)


def open_application(store: ChainStore, genesis: Genesis) -> Application:
    """The application as every node runs it: with the genesis laws installed."""
    from .contract_host import Laws

    return Application(store, genesis, Laws({law.name: law.source for law in genesis.laws}))


__all__ = ["Application", "Executed", "InvalidBlock", "MAX_BLOCK_TIME_MS", "open_application", "validators_hash"]
