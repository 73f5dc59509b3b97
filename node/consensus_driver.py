"""The consensus driver: the Tendermint engine wired to the chain and the network.

Theory of operation
-------------------
The engine (``consensus/engine.py``) is a pure state machine; this module is
its shell.  One trio task owns the engine and the application: it takes
events from an inbox, steps the engine, and performs the effects in order:

* ``WalAppend`` -> the consensus WAL (fsync when asked, before anything the
  event causes leaves the node);
* ``SignVote`` / ``SignProposal`` -> the signer (persisted last-sign-state),
  whose answer is stepped at once;
* ``GetValue`` -> the application builds a block from the mempool;
* ``ValidateValue`` -> the application executes the proposal, checks its
  last commit and evidence, and answers valid or not;
* ``Broadcast*`` -> p2p; ``ScheduleTimeout`` -> a trio timer that puts
  ``TimeoutFired`` in the inbox;
* ``Decide`` -> the block, its receipts, state and commit are written in one
  batch, the WAL is marked, and after ``block_interval_ms`` the next height
  starts with the validator set the state names for it.

Block sync runs beside consensus, not instead of it: every node announces
its height (``StatusMsg``) every second and after each commit; a node that
sees a peer ahead asks for the missing blocks with their commits, and each
block for the height the engine is at is fed to it as ``DecisionLearned``.
The engine checks the commit against that height's validator set and
decides, exactly as if it had seen the precommits itself.  So a restarted,
lagging or new node catches up through the same decide path, then simply
carries on voting.

Gossip: own messages are broadcast once; when a height makes no progress
for a while, the engine's ``gossip()`` names the messages worth re-sending
(the paper assumes what one correct node receives, all receive).
Transactions admitted by the gRPC API or from a peer are relayed in batches
to peers not known to have them.

Compact blocks (``compact_blocks``, docs/p2p.md): a proposal goes out as the
block's shell (header, evidence, last commit) and its transactions' hashes.
A receiver rebuilds the block from its mempool (the transactions there were
decoded and checked once, on admission: they are not again) and asks the
peers that announced the proposal, then its proposer, for exactly the
transactions it lacks: at most ``FETCH_MAX_TXS`` a request, ``FETCH_MAX_BYTES``
an answer, one request in flight per proposal, at most ``MAX_PENDING_FETCHES``
proposals being fetched, each given up after the round's three timeouts.  An
answer holding a transaction not asked for (wrong, extra, or past the byte
bound) is refused whole and its peer not asked again for that proposal.  The
fetched transactions are decoded and batch-verified as gossiped ones are and
admitted to the mempool; the rebuilt block then goes to the engine exactly as
a full proposal's block would (its hash is the header's, which the proposal
signs; its transactions root is checked by execution before any vote).  The
engine, its WAL and block sync only ever see full blocks.  Compact proposals
are accepted whatever the switch says: it chooses what this node sends.
"""

from __future__ import annotations

import collections
import logging
import os
import time

import trio

from consensus.engine import STEP_LABELS, Engine
from consensus.events import (
    BroadcastProposal, BroadcastVote, Decide, DecisionLearned, EvidenceFound, GetValue, ProposalReceived,
    ProposalSigned, ScheduleTimeout, SignProposal, SignVote, StartHeight, TimeoutFired, ValidateValue,
    ValueToPropose, ValueValidity, VoteReceived, VoteSigned, WalAppend,
)
from consensus.signer import DoubleSignError, Signer
from consensus.slot_storage import SlotStorage
from consensus.timeouts import TimeoutConfig
from consensus.types import Commit as CCommit
from consensus.types import Evidence, InvalidCommit, InvalidEvidence, Proposal, Vote, verify_commit, verify_evidence
from consensus.wal import WAL, OsFile
from ledger.block import Block, Commit
from ledger.codec import CodecError
from ledger.crypto import tagged_hash
from ledger.tx import TxError, decode_tx, tx_hash
from .p2p.messages import SENT_TO_MAX
from .verifier import known_sender, verify_txs

from chain.errors import InvalidBlock
from chain.mempool import Rejected
from .p2p import (
    FETCH_MAX_BYTES, FETCH_MAX_TXS, AllowList, BlockRequest, BlockResponse, CompactProposalMsg, EvidenceMsg,
    P2PConfig, PeerAddress, PeerMisbehaved, ProposalMsg, StatusMsg, TxFetchRequest, TxFetchResponse, TxMsg, TxsMsg,
    TxsSentMsg,
    VoteMsg, decode_message, serve_p2p,
)

log = logging.getLogger("esoc.consensus")

SYNC_WINDOW = 32  # blocks requested ahead of the committed height
SYNC_RETRY_S = 2.0
STATUS_EVERY_S = 1.0
TX_RELAY_BATCH = 500
TX_GATHER_S = 0.03  # transactions relayed or received are gathered this long (at most) into one batch
TX_GATHER_TXS = 512  # ... or until this many wait
MAX_PENDING_FETCHES = 4  # compact proposals being completed at once (the oldest is given up for a newer)
FETCH_RETRY_S = 1.0  # a fetch unanswered this long is asked of the next peer
BLOCK_TXS_KEPT = 8  # recent blocks whose transactions this node serves to fetches
DECODED_KEPT = 4  # recent proposals kept decoded (and, if rebuilt here, their transactions as held)


class FatalError(Exception):
    """The node cannot go on without risking a wrong state (it halts)."""


def block_id(raw: bytes) -> bytes:
    """The value id consensus votes on: the block hash (hash of its header)."""
    return Block.decode(raw).hash


class ConsensusDriver:
    def __init__(self, node):
        self.node = node
        self.app = node.app
        self.store = node.store
        self.chain_id = node.chain_id
        cfg = node.config
        os.makedirs(node.home.data_dir, exist_ok=True)
        self.timeouts = TimeoutConfig(
            propose_ms=cfg.timeout_propose_ms, prevote_ms=cfg.timeout_prevote_ms,
            precommit_ms=cfg.timeout_precommit_ms, delta_ms=cfg.timeout_delta_ms, max_ms=cfg.timeout_max_ms,
        )
        self._ids: collections.OrderedDict[bytes, bytes] = collections.OrderedDict()
        self.engine = Engine(self.chain_id, node.pubkey, self.timeouts, value_id=self._value_id)
        data = node.home.data_dir  # two fixed slots, one fdatasync a signature; reads an older node's file once
        self.signer = Signer(node.key, self.chain_id, SlotStorage(os.path.join(data, "priv_validator_state.slots"),
                                                                  legacy=os.path.join(data, "priv_validator_state")))
        self.wal = WAL(OsFile(os.path.join(node.home.data_dir, "cs.wal")))
        if self.wal.truncated_bytes:
            log.warning("consensus WAL: truncated a torn tail of %d bytes", self.wal.truncated_bytes)
        self.send_inbox, self.inbox = trio.open_memory_channel(100_000)
        self.evidence_pool: dict[bytes, Evidence] = {}
        self.peer_heights: dict[bytes, int] = {}
        self.sync_blocks: dict[int, tuple[bytes, bytes, bytes]] = {}  # height -> (block, commit, peer)
        self.sync_requested: dict[int, tuple[bytes, float]] = {}  # height -> (peer asked, when)
        self.sync_wakeup = trio.Event()
        self.tx_relay: list[tuple[frozenset, bytes]] = []  # (nodes known to have it: none for our API's; tx)
        self.tx_inbox: list[tuple[frozenset, bytes, bytes]] = []  # (nodes known to have it, tx, its hash)
        self._tx_seen: collections.OrderedDict[bytes, None] = collections.OrderedDict()
        self._last_hrs = (0, 0, 0)
        self._step_since = time.monotonic()
        self.tx_wakeup = trio.Event()
        self.last_progress = time.monotonic()
        self.height_started = time.monotonic()
        self.p2p = None
        self.authorize: AllowList | None = None
        self.nursery = None
        self.metrics = getattr(node, "metrics", None)
        self.clock_ms = lambda: int(time.time() * 1000)  # the wall clock (tests put their own)
        # compact blocks
        self.compact = bool(getattr(cfg, "compact_blocks", False))
        self._compact: collections.OrderedDict[bytes, tuple[bytes, tuple]] = collections.OrderedDict()  # raw key ->
        self._block_txs: collections.OrderedDict[bytes, dict] = collections.OrderedDict()  # value id -> {hash: raw}
        self._fetches: dict[bytes, _Fetch] = {}  # value id -> the compact proposal being completed
        self._built: tuple = (None, 0)  # the block this node last built, and its transaction count
        self._decoded: collections.OrderedDict[bytes, Block] = collections.OrderedDict()  # raw key -> the block
        self._rebuilt: collections.OrderedDict[bytes, list] = collections.OrderedDict()  # raw key -> its txs as held
        # the commit pipeline (_commit): the event set when the block being written is on disk
        self.pipelined = bool(getattr(cfg, "pipelined_commit", True))
        self._written: trio.Event | None = None

    # ------------------------------------------------------------------
    def _block_id(self, raw: bytes) -> bytes:
        """The id of a block's bytes, decoded once and cached (raises CodecError on junk)."""
        key = tagged_hash("raw block", raw)
        vid = self._ids.get(key)
        if vid is None:
            vid = self._decode_block(raw, key)[0].hash  # remembered there; the block kept for _validate
        return vid

    def _decode_block(self, raw: bytes, key: bytes | None = None) -> tuple[Block, list | None]:
        """A proposed or decided block's bytes decoded (strictly, once: kept for the next asks -- the value id,
        ``_validate``, ``_commit``), and the transactions this node rebuilt it from, if it did (``_feed_compact``:
        decoded and checked on admission, handed to execution so it does not look them up again), else None.
        Raises CodecError (or ValueError, TypeError) on bytes that are no block."""
        if key is None:
            key = tagged_hash("raw block", raw)
        blk = self._decoded.get(key)
        if blk is None:
            blk = Block.decode(raw)
            self._remember_id(key, blk.hash)
            self._decoded[key] = blk
            if len(self._decoded) > DECODED_KEPT:
                self._decoded.popitem(last=False)
        return blk, self._rebuilt.get(key)

    def _remember_id(self, key: bytes, vid: bytes) -> bytes:
        self._ids[key] = vid
        if len(self._ids) > 64:
            self._ids.popitem(last=False)
        return vid

    def _value_id(self, raw: bytes) -> bytes:
        try:
            return self._block_id(raw)
        except (CodecError, ValueError, TypeError):
            # bytes that are no block get an id no valid block can have: the engine
            # then drops the proposal or decision as not matching; the node goes on
            return tagged_hash("undecodable block", raw)

    def _gossip_messages(self) -> list[bytes]:
        """The engine's messages worth re-sending, as p2p messages."""
        out = []
        for eff in self.engine.gossip():
            if isinstance(eff, BroadcastVote):
                out.append(VoteMsg(eff.vote.encode()).encode())
            elif isinstance(eff, BroadcastProposal):
                out.append(self._proposal_msg(eff.proposal, eff.value)[0])
        return out

    # ---- compact blocks -----------------------------------------------------
    def _proposal_msg(self, proposal: Proposal, value: bytes) -> tuple[bytes, int]:
        """The p2p message for a proposal: compact (shell and hashes) when the switch is on; and its tx count."""
        if self.compact:
            parts = self._compact_parts(value)
            if parts is not None:
                shell, hashes = parts
                return CompactProposalMsg(proposal.encode(), shell, hashes).encode(), len(hashes)
        return ProposalMsg(proposal.encode(), value).encode(), -1

    def _compact_parts(self, value: bytes, blk: Block | None = None,
                       hashes: list | None = None) -> tuple[bytes, tuple] | None:
        """(shell, tx hashes) of a block's bytes, cached; None for bytes that are no block.  ``blk`` and
        ``hashes``: the block decoded and its transactions' hashes, where the caller has them (the
        proposer: from building it), not computed again."""
        key = tagged_hash("raw block", value)
        got = self._compact.get(key)
        if got is not None:
            return got
        try:
            if blk is None:
                blk = Block.decode(value)
        except (CodecError, ValueError, TypeError):
            return None
        self._remember_id(key, blk.hash)
        hashes = tuple(tx_hash(r) for r in blk.txs) if hashes is None or len(hashes) != len(blk.txs) else tuple(hashes)
        got = self._compact[key] = (Block(blk.header, (), blk.evidence, blk.last_commit).encode(), hashes)
        if len(self._compact) > BLOCK_TXS_KEPT:
            self._compact.popitem(last=False)
        self._remember_block(blk.hash, dict(zip(hashes, blk.txs)))
        return got

    def _remember_block(self, vid: bytes, txs: dict) -> None:
        self._block_txs[vid] = txs
        self._block_txs.move_to_end(vid)
        if len(self._block_txs) > BLOCK_TXS_KEPT:
            self._block_txs.popitem(last=False)

    def _send_proposal(self, proposal: Proposal, value: bytes) -> None:
        if self.p2p is None:
            return
        data, ntx = self._proposal_msg(proposal, value)
        n = self.p2p.broadcast(data)
        if self.metrics is not None and n:
            full = len(data) if ntx < 0 else len(ProposalMsg(proposal.encode(), value).encode())
            if ntx < 0:
                ntx = self._built[1] if self._built[0] is value else 0
            self.metrics.proposal_bytes.inc(len(data) * n)
            self.metrics.proposal_full_bytes.inc(full * n)
            self.metrics.proposal_txs.inc(ntx * n)

    def _holding(self, h: bytes):
        """A transaction as this node holds it: decoded (and checked) from the mempool, else its bytes from a
        recent block; or None."""
        tx = self.app.mempool.get(h)
        if tx is not None:
            return tx
        for txs in reversed(self._block_txs.values()):
            raw = txs.get(h)
            if raw is not None:
                return raw
        return None

    def _lookup_tx(self, h: bytes) -> bytes | None:
        """A transaction's bytes from the mempool or a recent block, or None."""
        t = self._holding(h)
        return t if t is None or type(t) is bytes else t.raw

    async def _on_compact(self, peer: bytes, msg: CompactProposalMsg) -> None:
        proposal = Proposal.decode(msg.proposal)
        shell = Block.decode(msg.shell)
        if shell.txs:
            raise PeerMisbehaved("compact proposal: the shell carries transactions")
        vid = shell.hash
        if proposal.value_id != vid:
            log.warning("compact proposal from %s: the proposal signs another block than the shell's; refused",
                        peer.hex()[:16])
            if self.metrics is not None:
                self.metrics.compact_refused.inc()
            return
        if not self.app.height < shell.height <= self.app.height + 2:
            return  # decided already, or far ahead: block sync brings it
        f = self._fetches.get(vid)
        if f is not None:  # being completed: one more peer that can answer, maybe one more round
            if peer not in f.announcers:
                f.announcers.append(peer)
            if len(f.proposals) < 8 and all(p.round != proposal.round for p in f.proposals):
                f.proposals.append(proposal)
            if f.asked is None:  # no request in flight (no peer could be asked): ask this one now
                f.answered.set()
            return
        hashes = tuple(msg.tx_hashes)
        missing = {}
        held = []
        holding = self._holding
        for h in hashes:
            t = holding(h)
            if t is None:
                missing[h] = None
            else:
                held.append(t)
        if not missing:
            await self._feed_compact([proposal], shell, hashes, {}, held)
            return
        if len(self._fetches) >= MAX_PENDING_FETCHES:
            old = next(iter(self._fetches.values()))
            old.scope.cancel()
            del self._fetches[old.vid]
        f = self._fetches[vid] = _Fetch(vid, proposal, shell, hashes, missing, peer)
        if self.nursery is not None:
            self.nursery.start_soon(self._fetch, f)

    async def _feed_compact(self, proposals: list, shell: Block, hashes: tuple, fetched: dict,
                            held: list | None = None) -> None:
        """Rebuild the block from the transactions held (``held``: looked up already, in block order) or
        fetched, and hand it to the engine as a full proposal's block."""
        if held is None:
            held = []
            for h in hashes:
                t = self._holding(h) or fetched.get(h)
                if t is None:  # left the mempool meanwhile (a commit): the round goes on without it
                    log.info("compact proposal for height %d: a transaction left the mempool before the rebuild",
                             shell.height)
                    return
                held.append(t)
        raws = tuple(t if type(t) is bytes else t.raw for t in held)
        raw = Block(shell.header, raws, shell.evidence, shell.last_commit).encode()
        key = tagged_hash("raw block", raw)
        self._remember_id(key, shell.hash)
        self._rebuilt[key] = held  # execution takes them decoded (chain/app.py execute_block)
        if len(self._rebuilt) > DECODED_KEPT:
            self._rebuilt.popitem(last=False)
        # its compact form, for this node's re-sends of the proposal (gossip): not decoded and hashed again
        self._compact[key] = (Block(shell.header, (), shell.evidence, shell.last_commit).encode(), hashes)
        if len(self._compact) > BLOCK_TXS_KEPT:
            self._compact.popitem(last=False)
        self._remember_block(shell.hash, dict(zip(hashes, raws)))
        if self.metrics is not None:
            self.metrics.compact_rebuilt.inc()
        for p in proposals:
            await self.send_inbox.send(ProposalReceived(p, raw))

    def _fetch_peer(self, f: "_Fetch") -> bytes | None:
        connected = set(self.p2p.peers()) if self.p2p is not None else set()
        cands = []
        for x in f.announcers + [f.proposals[0].proposer]:
            if x in connected and x not in f.refused and x not in cands:
                cands.append(x)
        if not cands:
            return None
        f.turn += 1
        return cands[(f.turn - 1) % len(cands)]

    async def _fetch(self, f: "_Fetch") -> None:
        cfg = self.node.config
        give_up_s = (cfg.timeout_propose_ms + cfg.timeout_prevote_ms + cfg.timeout_precommit_ms) / 1000
        with f.scope:
            f.scope.deadline = trio.current_time() + give_up_s
            while f.missing:
                f.answered = trio.Event()
                peer = self._fetch_peer(f)
                if peer is not None:
                    ask = tuple(h for h, _ in zip(f.missing, range(FETCH_MAX_TXS)))
                    f.asked = (peer, frozenset(ask))
                    self.p2p.send(peer, TxFetchRequest(f.vid, ask).encode())
                with trio.move_on_after(FETCH_RETRY_S):
                    await f.answered.wait()
                f.asked = None  # unanswered in time: the next peer is asked
        if self._fetches.get(f.vid) is f:
            del self._fetches[f.vid]
        if f.missing:
            log.warning("compact proposal for height %d: %d transactions not fetched in time; the round goes on",
                        f.shell.height, len(f.missing))
            return
        try:
            await self._complete(f)
        except Exception as e:  # noqa: BLE001 - a proposal that cannot be completed is dropped, the node goes on
            log.error("compact proposal for height %d could not be completed: %s: %s", f.shell.height,
                      type(e).__name__, e)

    async def _complete(self, f: "_Fetch") -> None:
        order = [f.got[h] for h in f.hashes if h in f.got]
        checked = await trio.to_thread.run_sync(_decode_verify_batch, order, getattr(self.node, "verifier", None))
        mp = self.app.mempool
        state, nh = self.app.state(), self.app.height + 1
        for tx in checked:
            if tx is None:
                continue  # malformed or wrongly signed: execution refuses the block for it
            mp.mark_verified(tx.hash)
            self._tx_seen[tx.hash] = None  # a relay echo of it is not decoded again
            try:
                mp.add(tx, state, nh, verified=True)
            except Rejected:
                pass
        if self.metrics is not None:
            self.metrics.compact_fetched.inc(len(order))
        if f.shell.height == self.app.height + 1 or f.shell.height == self.app.height + 2:
            await self._feed_compact(f.proposals, f.shell, f.hashes, f.got)

    def _on_fetched(self, peer: bytes, msg: TxFetchResponse) -> None:
        f = self._fetches.get(msg.value_id)
        if f is None or f.asked is None or f.asked[0] != peer:
            return  # not asked of this peer now (late, or never): ignored, nothing kept
        asked = f.asked[1]
        got: dict[bytes, bytes] = {}
        size = 0
        for raw in msg.txs:
            size += len(raw)
            h = tx_hash(raw)
            if h not in asked or h in got or size > FETCH_MAX_BYTES:
                log.warning("peer %s answered a transaction fetch for height %d with %s; answer refused",
                            peer.hex()[:16], f.shell.height,
                            f"more than {FETCH_MAX_BYTES} bytes" if size > FETCH_MAX_BYTES else "a transaction not asked")
                if self.metrics is not None:
                    self.metrics.compact_refused.inc()
                f.refused.add(peer)
                f.asked = None
                f.answered.set()
                return
            got[h] = raw
        f.asked = None
        for h, raw in got.items():
            if f.missing.pop(h, 0) is None:
                f.got[h] = raw
        f.answered.set()

    def _serve_fetch(self, peer: bytes, msg: TxFetchRequest) -> None:
        txs, size = [], 0
        block = self._block_txs.get(msg.value_id, {})
        for h in msg.tx_hashes:
            raw = block.get(h) or self._lookup_tx(h)
            if raw is None:
                continue
            if size + len(raw) > FETCH_MAX_BYTES:
                break
            txs.append(raw)
            size += len(raw)
        if self.p2p is not None:
            self.p2p.send(peer, TxFetchResponse(msg.value_id, tuple(txs)).encode())

    async def run(self, task_status=trio.TASK_STATUS_IGNORED) -> None:
        cfg = self.node.config
        host, _, port = cfg.p2p_listen.rpartition(":")
        extra = [bytes.fromhex(k) for k in cfg.allow_peers]
        authorize = self.authorize = AllowList(lambda: [v.pubkey for v in self.app.valset().validators], extra=extra)
        peers = [PeerAddress.parse(p) for p in cfg.peers]
        async with trio.open_nursery() as nursery:
            self.nursery = nursery
            self.p2p = await nursery.start(
                lambda task_status: serve_p2p(
                    host.strip("[]"), int(port), self.node.key, self.chain_id, authorize, self._on_message,
                    peers=peers, config=P2PConfig(inbound_rate=20_000.0, inbound_burst=40_000.0),
                    on_peer_connected=self._on_peer_connected, on_peer_disconnected=self._on_peer_disconnected,
                    task_status=task_status,
                )
            )
            self.node.p2p = self.p2p
            log.info("p2p listening on %s with %d configured peers", cfg.p2p_listen, len(peers))
            await self._restore()
            nursery.start_soon(self._status_loop)
            nursery.start_soon(self._sync_loop)
            nursery.start_soon(self._gossip_loop)
            nursery.start_soon(self._tx_loop)
            task_status.started()
            async for event in self.inbox:
                await self._step(event)

    def apply_peer_config(self, cfg) -> None:
        """Apply a reloaded config's ``allow_peers`` and ``peers`` (SIGHUP; see docs/operations.md).

        Peers no longer allowed are disconnected; addresses added are dialed and
        addresses removed no longer are; every configured peer not connected is
        redialed at once rather than at the end of its backoff (a peer that refused
        this node may have just added it to its own allow-list).
        """
        if self.p2p is None or self.authorize is None:
            return
        self.authorize.extra = frozenset(bytes.fromhex(k) for k in cfg.allow_peers)
        dropped = self.p2p.reauthorize()
        want = [PeerAddress.parse(p) for p in cfg.peers]
        have = self.p2p.dialed()
        removed = [a for a in have if a not in want]
        added = [a for a in want if a not in have]
        for a in removed:
            self.p2p.remove_peer(a)
        for a in added:
            self.p2p.add_peer(a)
        self.p2p.redial_now()
        log.info("config reload: %d keys in allow_peers (%d peers dropped), peers: %d added, %d removed",
                 len(self.authorize.extra), len(dropped), len(added), len(removed))

    async def _restore(self) -> None:
        events = self.wal.events_to_replay()
        effects = []
        if events:
            try:
                effects = self.engine.restore(events)
            except Exception as e:  # a WAL that does not replay is corruption
                raise FatalError(f"consensus WAL does not replay: {type(e).__name__}: {e}") from None
            log.info("replayed %d WAL events; engine at height %d round %d", len(events), self.engine.height, self.engine.round)
        await self._perform(effects)
        if self.engine.height <= self.app.height:
            await self._start_height(self.app.height + 1)

    async def _start_height(self, h: int) -> None:
        if h != self.app.height + 1 or self.engine.height >= h:
            return
        self.height_started = time.monotonic()
        self.last_progress = time.monotonic()
        await self._perform(self.engine.step(StartHeight(h, self.app.valset(h))))
        await self._feed_sync()

    async def _step(self, event) -> None:
        if isinstance(event, _StartHeight):
            await self._start_height(event.height)
        else:
            await self._perform(self.engine.step(event))
        self._observe_step()

    def _observe_step(self) -> None:
        """Step timings for /metrics: how long the engine stayed in each (h, r, step)."""
        hrs = self.engine.hrs
        if hrs == self._last_hrs:
            return
        now = time.monotonic()
        h, r, st = self._last_hrs
        if self.metrics is not None:
            if h:
                self.metrics.on_step(STEP_LABELS.get(st, str(st)), now - self._step_since)
            if hrs[1] != r or hrs[0] != h:
                self.metrics.rounds.inc()
            self.metrics.round.set(hrs[1])
        self._last_hrs = hrs
        self._step_since = now

    # ------------------------------------------------------------------
    # effects
    # ------------------------------------------------------------------
    async def _perform(self, effects) -> None:
        queue = collections.deque(effects)
        while queue:
            eff = queue.popleft()
            t = type(eff)
            if t is WalAppend:
                if eff.sync:  # fsync off the event loop; _perform waits, so the order of effects holds
                    await trio.to_thread.run_sync(self.wal.append, eff.event, True)
                else:
                    self.wal.append(eff.event, False)
            elif t is BroadcastVote:
                self._broadcast(VoteMsg(eff.vote.encode()).encode())
            elif t is BroadcastProposal:
                self._send_proposal(eff.proposal, eff.value)
            elif t is ScheduleTimeout:
                self.nursery.start_soon(self._timer, eff)
            elif t is SignVote:
                try:
                    v = await trio.to_thread.run_sync(self.signer.sign_vote, eff.vote)
                except DoubleSignError as e:
                    log.error("signer refused a vote: %s", e)
                    continue
                queue.extend(self.engine.step(VoteSigned(v)))
            elif t is SignProposal:
                try:
                    p = await trio.to_thread.run_sync(self.signer.sign_proposal, eff.proposal)
                except DoubleSignError as e:
                    log.error("signer refused a proposal: %s", e)
                    continue
                queue.extend(self.engine.step(ProposalSigned(p)))
            elif t is GetValue:
                raw = self._build(eff.height)
                if raw is not None:
                    queue.extend(self.engine.step(ValueToPropose(eff.height, eff.round, raw)))
            elif t is ValidateValue:
                ok = self._validate(eff.height, eff.value)
                queue.extend(self.engine.step(ValueValidity(eff.height, eff.value_id, ok)))
            elif t is Decide:
                await self._commit(eff)
            elif t is EvidenceFound:
                self._add_evidence(eff.evidence, gossip=True)
            else:  # pragma: no cover - a new effect type nobody handles
                raise FatalError(f"unhandled consensus effect {t.__name__}")
            self._observe_step()
            await trio.sleep(0)

    def _broadcast(self, data: bytes) -> None:
        if self.p2p is not None:
            self.p2p.broadcast(data)

    async def _timer(self, eff: ScheduleTimeout) -> None:
        # a timer is never cancelled: the engine ignores a timeout whose (h, r, step) has passed
        await trio.sleep(eff.duration_ms / 1000)
        await self.send_inbox.send(TimeoutFired(eff.height, eff.round, eff.step))

    def _last_commit(self) -> Commit | None:
        h = self.app.height
        return self.store.commit(h) if h else None

    def _build(self, height: int) -> bytes | None:
        """The block this node proposes at ``height``, or None: never raises.

        A block that cannot be built (whatever the reason) is logged and nothing is
        proposed: the round's propose timeout passes and the next proposer tries.
        """
        if height != self.app.height + 1:
            return None
        try:
            evidence = tuple(ev.to_obj() for ev in self._pending_evidence())
            t0 = time.monotonic()
            step = self.node.config.block_time_step_ms
            now_ms = self.app.last_time_ms() + step if step > 0 else self.clock_ms()
            ex = self.app.build_block(now_ms, self.node.key, self._last_commit(), evidence)  # the key proves the beacon
        except Exception as e:  # noqa: BLE001 - a proposer that cannot build proposes nothing, it does not stop
            log.error("cannot build block %d: %s: %s; proposing nothing this round", height, type(e).__name__, e,
                      exc_info=not isinstance(e, InvalidBlock))
            return None
        log.debug("built block %d with %d txs in %.3fs", height, len(ex.block.txs), time.monotonic() - t0)
        if self.compact:
            # decoded and hashed already: the compact message needs no second decode, nor its hashes again
            self._compact_parts(ex.raw, ex.block, ex.tx_hashes)
        self._built = (ex.raw, len(ex.block.txs))
        return ex.raw

    def latest_block_time_ms(self) -> int:
        """The latest time a proposed block may carry: this node's clock plus the drift allowance.

        As CometBFT's proposer-based timestamps bound a proposal by ``localtime +
        PRECISION``: a proposer more than ``block_time_drift_ms`` ahead of this node's
        clock is refused (prevote nil).  With a simulated clock (``block_time_step_ms``)
        the bound is the last block time plus the step, or the clock if later.  Only
        proposals are judged so; a decided block (sync, WAL replay) is not.
        """
        cfg = self.node.config
        now = self.clock_ms()
        if cfg.block_time_step_ms > 0:
            now = max(now, self.app.last_time_ms() + cfg.block_time_step_ms)
        return now + cfg.block_time_drift_ms

    def _validate(self, height: int, raw: bytes) -> bool:
        try:
            blk, held = self._decode_block(raw)
            if height != self.app.height + 1 or blk.height != height:
                raise InvalidBlock(f"block for height {blk.height}, expected {self.app.height + 1}")
            t, drift, latest = blk.header.time_ms, self.node.config.block_time_drift_ms, self.latest_block_time_ms()
            if t > latest:
                raise InvalidBlock(f"block time {t} ms is {t - (latest - drift)} ms ahead of this node's clock, more than "
                                   f"the {drift} ms allowed (block_time_drift_ms); check the proposer's clock and this one's")
            self._check_last_commit(blk)
            seen = set()
            for ev in blk.evidence:
                e = Evidence.from_obj(ev)
                if not 1 <= e.height <= self.app.height + 1:
                    raise InvalidBlock(f"evidence for height {e.height} cannot be judged at {height}")
                verify_evidence(self.app.valset(e.height), self.chain_id, e)
                if e.hash() in seen or self.store.read_at(("evidence", e.hash()), self.app.height) is not None:
                    raise InvalidBlock("evidence already committed")
                seen.add(e.hash())
            t0 = time.monotonic()
            self.app.execute_block(blk, held)
            if self.metrics:
                self.metrics.block_execution.observe(time.monotonic() - t0)
            return True
        except (CodecError, InvalidBlock, InvalidCommit, InvalidEvidence, ValueError, TypeError, AttributeError) as e:
            log.warning("proposal for height %d is invalid: %s", height, e)
            return False

    def _check_last_commit(self, blk: Block) -> None:
        h = blk.height
        if h == 1:
            if blk.last_commit is not None:
                raise InvalidBlock("block 1 carries a last commit")
            return
        if blk.last_commit is None:
            raise InvalidBlock("block carries no commit for the previous block")
        cc = CCommit.decode(blk.last_commit.encode())
        verify_commit(self.app.valset(h - 1), self.chain_id, h - 1, blk.header.prev_hash, cc)

    async def _commit(self, d: Decide) -> None:
        """Commit a decided block: staged in memory at once, written to LevelDB on a worker thread.

        The pipeline (issue 13): ``app.stage`` moves the application, its mempool and every read of
        the store on this thread to the new height (other threads read the disk), and the next height starts after ``block_interval_ms`` while
        the block's batch is written (``_write``): its proposal is built or executed meanwhile.
        Durability keeps its order: the consensus WAL's ``EndHeight`` is written only after the
        block is on disk, and a block is staged only after the one before it is written.  A crash
        in between loses the staged block, whose decision the WAL replays (docs/consensus.md).
        Peers hear the new height (status), subscribers see the block and snapshots are taken once
        it is written.  ``pipelined_commit = false`` writes on this thread before going on.
        """
        if d.height <= self.app.height:
            # replayed from the WAL after the block was already stored: mark it, as docs/consensus.md says
            await self._wait_written()
            if (self.wal.last_end_height() or 0) < d.height:
                self.wal.end_height(d.height)
            return
        if d.height != self.app.height + 1:
            raise FatalError(f"decided height {d.height} does not follow committed height {self.app.height}")
        blk, held = self._decode_block(d.value)
        try:
            if blk.height > 1:
                self._check_last_commit(blk)
            ex = self.app.execute_block(blk, held)
        except (InvalidBlock, InvalidCommit) as e:
            raise FatalError(f"a decided block ({d.height}) does not execute here: {e}; this node's state "
                             "differs from the network's: stopping rather than committing") from None
        commit = Commit.decode(d.commit.encode())
        await self._wait_written()  # executed while the block before it was written; staged after it is
        t_write = time.monotonic()
        self.app.stage(ex, commit)
        for ev in blk.evidence:
            self.evidence_pool.pop(Evidence.from_obj(ev).hash(), None)
        for h in [h for h in self.sync_blocks if h <= d.height]:
            del self.sync_blocks[h]
        for vid in [v for v, f in self._fetches.items() if f.shell.height <= d.height]:
            self._fetches.pop(vid).scope.cancel()
        self.last_progress = time.monotonic()
        height_s = self.last_progress - self.height_started
        delay = 0 if (d.height + 1) in self.sync_blocks or self._behind() else self.node.config.block_interval_ms / 1000
        if self.pipelined:
            self._written = trio.Event()
            self.nursery.start_soon(self._write, blk, ex, t_write, height_s, self._written)
        else:
            await self._write(blk, ex, t_write, height_s, None)
        self.nursery.start_soon(self._next_height_after, d.height + 1, delay)

    async def _write(self, blk: Block, ex, t_write: float, height_s: float, done: trio.Event | None) -> None:
        """Write the staged block, then what follows its durability (EndHeight, status, subscribers).
        ``done``: the pipeline's event, set once the block is on disk; None writes on this thread."""
        h = blk.height
        try:
            if done is not None:
                await trio.to_thread.run_sync(self.store.write_staged)
            else:
                self.store.write_staged()
        except Exception as e:  # noqa: BLE001 - a block that cannot be written stops the node
            raise FatalError(f"cannot write block {h} to the store: {type(e).__name__}: {e}; stopping "
                             "(the block is not durable; a restart replays its decision from the WAL)") from None
        self.store.unstage()
        self.wal.end_height(h)
        now = time.monotonic()
        if self.metrics:
            self.metrics.block_commit.observe(now - t_write)
        if h % 100 == 0:
            self.wal.checkpoint()
        if done is not None:
            done.set()
        if self.metrics:
            self.metrics.on_commit(blk, ex, height_s)
        self.node.on_committed(blk, ex)
        self._broadcast(StatusMsg(h, blk.hash).encode())

    async def _wait_written(self) -> None:
        """Wait until the block being written (if any) is on disk."""
        if self._written is not None:
            await self._written.wait()

    def _behind(self) -> bool:
        return any(h > self.app.height for h in self.peer_heights.values())

    async def _next_height_after(self, h: int, delay: float) -> None:
        if delay:
            await trio.sleep(delay)
        await self.send_inbox.send(_StartHeight(h))

    # ------------------------------------------------------------------
    # evidence
    # ------------------------------------------------------------------
    def _pending_evidence(self) -> list[Evidence]:
        out = []
        for h, ev in sorted(self.evidence_pool.items()):
            if self.store.read_at(("evidence", h), self.app.height) is None:
                out.append(ev)
        return out[:50]

    def _add_evidence(self, ev: Evidence, gossip: bool) -> None:
        h = ev.hash()
        if h in self.evidence_pool:
            return
        self.evidence_pool[h] = ev
        log.warning("evidence: validator %s signed conflicting votes at height %d", ev.validator.hex()[:16], ev.height)
        if gossip:
            self._broadcast(EvidenceMsg(ev.encode()).encode())

    # ------------------------------------------------------------------
    # network input
    # ------------------------------------------------------------------
    def _on_peer_connected(self, peer: bytes) -> None:
        self.node._peers = len(self.p2p.peers()) if self.p2p else 0
        if self.metrics:
            self.metrics.peers.set(self.node._peers)
        h = self.app.height
        if self.p2p is not None:
            self.p2p.send(peer, StatusMsg(h, self.app.last_block_hash() if h else bytes(32)).encode())
            for data in self._gossip_messages():
                self.p2p.send(peer, data)

    def _on_peer_disconnected(self, peer: bytes, reason: str) -> None:
        self.node._peers = len(self.p2p.peers()) if self.p2p else 0
        if self.metrics:
            self.metrics.peers.set(self.node._peers)
        self.peer_heights.pop(peer, None)
        log.info("peer %s disconnected: %s", peer.hex()[:16], reason)

    async def _on_message(self, peer: bytes, data: bytes) -> None:
        try:
            msg = decode_message(data)
        except CodecError as e:
            raise PeerMisbehaved(f"undecodable message: {e}") from None
        t = type(msg)
        try:
            if t is VoteMsg:
                await self.send_inbox.send(VoteReceived(Vote.decode(msg.vote)))
            elif t is ProposalMsg:
                self._block_id(msg.block)  # refuse bytes that are no block before they reach consensus
                await self.send_inbox.send(ProposalReceived(Proposal.decode(msg.proposal), msg.block))
            elif t is CompactProposalMsg:
                await self._on_compact(peer, msg)
            elif t is TxFetchRequest:
                self._serve_fetch(peer, msg)
            elif t is TxFetchResponse:
                self._on_fetched(peer, msg)
            elif t is TxMsg:
                self._queue_txs(peer, [msg.tx])
            elif t is TxsMsg:
                self._queue_txs(peer, list(msg.txs))
            elif t is TxsSentMsg:
                self._queue_txs(peer, list(msg.txs), msg.sent_to)
            elif t is StatusMsg:
                self.peer_heights[peer] = msg.height
                if msg.height > self.app.height:
                    self.sync_wakeup.set()
            elif t is BlockRequest:
                self._serve_block(peer, msg.height)
            elif t is BlockResponse:
                self._on_block_response(peer, msg)
            elif t is EvidenceMsg:
                ev = Evidence.decode(msg.evidence)
                if 1 <= ev.height <= self.app.height + 1:
                    verify_evidence(self.app.valset(ev.height), self.chain_id, ev)
                    self._add_evidence(ev, gossip=True)
        except (CodecError, InvalidEvidence) as e:
            raise PeerMisbehaved(f"bad {msg.TYPE} message: {e}") from None

    # ---- transactions -----------------------------------------------------
    def _queue_txs(self, peer: bytes, raws: list[bytes], sent_to: tuple = ()) -> None:
        if len(self.tx_inbox) > 50_000:
            return  # overloaded: drop, the sender will resend or the tx expires
        have = frozenset((peer, *sent_to))  # the nodes known to have these: not relayed to again
        mp = self.app.mempool
        for r in raws:
            h = tx_hash(r)
            if h in self._tx_seen or mp.has(h):
                continue  # a relay echo: never decode or verify the same transaction twice
            self._tx_seen[h] = None
            self.tx_inbox.append((have, r, h))
        while len(self._tx_seen) > 100_000:
            self._tx_seen.popitem(last=False)
        self.tx_wakeup.set()

    def relay_txs(self, raws: list[bytes], hashes: list[bytes] | None = None) -> None:
        """Called for transactions admitted through the gRPC API; ``hashes``: theirs, where the caller has
        them (admission computed them: not hashed again here)."""
        self.tx_relay.extend((_NOBODY, r) for r in raws)
        seen = self._tx_seen
        for h in (hashes if hashes is not None else map(tx_hash, raws)):
            seen[h] = None
        self.tx_wakeup.set()

    async def _tx_loop(self) -> None:
        while True:
            await self.tx_wakeup.wait()
            self.tx_wakeup = trio.Event()
            # transactions of this node's own API go out at once (the other validators want them before the
            # next proposal names them)
            self._flush_relay()
            if not self.tx_inbox:
                continue
            # gather a batch of received transactions: from the first one waiting, until TX_GATHER_TXS wait
            # or TX_GATHER_S passed -- fewer and larger batches to the signature workers (each costs a thread
            # hop and a worker round trip).  This node's own API's transactions are relayed meanwhile, without
            # ending the gather (until 2026-12-05 they ended it: under load the API admits a batch every few
            # ms, and the received ones went to the workers in batches of a single peer message)
            with trio.move_on_after(TX_GATHER_S):
                while len(self.tx_inbox) < TX_GATHER_TXS:
                    await self.tx_wakeup.wait()
                    self.tx_wakeup = trio.Event()
                    self._flush_relay()
            batch, self.tx_inbox = self.tx_inbox, []
            await self._admit_relayed(batch)
            self._flush_relay()

    async def _admit_relayed(self, batch: list) -> None:
        """A gathered batch of received transactions [(nodes known to have it, tx, its hash)]: decoded and
        their signatures checked (in the worker processes) on a thread, then admitted and queued for relay."""
        if not batch:
            return
        checked = await trio.to_thread.run_sync(_decode_verify_batch, [r for _, r, _ in batch],
                                                getattr(self.node, "verifier", None), [h for _, _, h in batch])
        state = self.app.state()
        nh = self.app.height + 1
        add = self.app.mempool.add
        relay = self.tx_relay
        for (have, _, _), tx in zip(batch, checked):
            if tx is None:
                continue
            try:
                add(tx, state, nh, verified=True)
            except Rejected:
                continue
            relay.append((have, tx.raw))

    def _flush_relay(self) -> None:
        """Send the transactions waiting for relay: to the peers not known to have them, in batches."""
        if not self.tx_relay or self.p2p is None:
            return
        relay, self.tx_relay = self.tx_relay, []
        by_have: dict = {}
        for have, raw in relay:  # not to the peers known to have them (the one they came from)
            by_have.setdefault(have, []).append(raw)
        peers = self.p2p.peers()
        for have, raws in by_have.items():
            targets = [p for p in peers if p not in have]
            if not targets:
                continue  # all this node's peers have them already (a full mesh: the origin sent them)
            # name who has them now, so the receivers relay them only to nodes not named
            sent_to = tuple(sorted(have.union(targets, (self.node.pubkey,))))[:SENT_TO_MAX]
            for i in range(0, len(raws), TX_RELAY_BATCH):
                self.p2p.broadcast(TxsSentMsg(tuple(raws[i:i + TX_RELAY_BATCH]), sent_to).encode(),
                                   exclude=have)

    # ---- block sync ---------------------------------------------------------
    def _serve_block(self, peer: bytes, height: int) -> None:
        raw = self.store.block_bytes(height) if 1 <= height <= self.app.height else None
        commit = self.store.commit(height) if raw is not None else None
        self.p2p.send(peer, BlockResponse(height, raw, commit.encode() if commit else None).encode())

    def _on_block_response(self, peer: bytes, msg: BlockResponse) -> None:
        asked = self.sync_requested.get(msg.height)
        if asked is None or asked[0] != peer:
            return  # not asked of this peer: ignore (no unrequested block enters the sync buffer)
        del self.sync_requested[msg.height]
        if msg.block is None or msg.commit is None or msg.height <= self.app.height:
            return
        try:
            blk = Block.decode(msg.block)
            commit = CCommit.decode(msg.commit)
        except CodecError as e:
            raise PeerMisbehaved(f"block_response {msg.height} does not decode: {e}") from None
        self._remember_id(tagged_hash("raw block", msg.block), blk.hash)  # decoded once: feeding it reuses the id
        if blk.height != msg.height or commit.height != msg.height or commit.value_id != blk.hash:
            raise PeerMisbehaved(f"block_response {msg.height} holds another height's block or commit")
        self.sync_blocks[msg.height] = (msg.block, msg.commit, peer)
        self.nursery.start_soon(self._feed_sync)

    async def _feed_sync(self) -> None:
        h = self.app.height + 1
        item = self.sync_blocks.get(h)
        if item is None or self.engine.height != h:
            return
        raw, commit_raw, peer = item
        commit = CCommit.decode(commit_raw)
        try:  # the engine checks it too; checking here lets a bad peer's block be dropped and re-asked
            verify_commit(self.app.valset(h), self.chain_id, h, self._value_id(raw), commit)
        except InvalidCommit as e:
            del self.sync_blocks[h]
            log.warning("block %d from peer %s has an invalid commit (%s); dropping the peer", h, peer.hex()[:16], e)
            if self.p2p is not None:
                self.p2p.disconnect(peer, f"served an invalid commit for block {h}")
            self.sync_wakeup.set()
            return
        await self.send_inbox.send(DecisionLearned(h, raw, commit))

    async def _sync_loop(self) -> None:
        while True:
            with trio.move_on_after(SYNC_RETRY_S):
                await self.sync_wakeup.wait()
            self.sync_wakeup = trio.Event()
            top = max(self.peer_heights.values(), default=0)
            base = self.app.height
            if top <= base or self.p2p is None:
                continue
            self.node._catching_up = top > base + 1
            now = time.monotonic()
            ahead = [p for p, ph in self.peer_heights.items() if ph > base]
            for i, h in enumerate(range(base + 1, min(top, base + SYNC_WINDOW) + 1)):
                if h in self.sync_blocks:
                    continue
                asked = self.sync_requested.get(h)
                if asked is not None and now - asked[1] < SYNC_RETRY_S:
                    continue
                peers = [p for p in ahead if self.peer_heights.get(p, 0) >= h]
                if not peers:
                    continue
                # a retry goes to another peer than the last one asked
                pick = peers[(h + i + (1 if asked else 0)) % len(peers)]
                self.p2p.send(pick, BlockRequest(h).encode())
                self.sync_requested[h] = (pick, now)
            await self._feed_sync()

    # ---- liveness -----------------------------------------------------------
    async def _status_loop(self) -> None:
        while True:
            await trio.sleep(STATUS_EVERY_S)
            h = self.app.height
            self._broadcast(StatusMsg(h, self.app.last_block_hash() if h else bytes(32)).encode())
            if not self._behind():
                self.node._catching_up = False
            self.node._round = self.engine.round

    async def _gossip_loop(self) -> None:
        while True:
            await trio.sleep(1.0)
            if time.monotonic() - self.last_progress < 2.0:
                continue
            for data in self._gossip_messages():
                self._broadcast(data)
            self.last_progress = time.monotonic() - 1.0


class _Fetch:
    """A compact proposal whose missing transactions are being fetched (bounded: see the module doc)."""

    def __init__(self, vid: bytes, proposal: Proposal, shell: Block, hashes: tuple, missing: dict, peer: bytes):
        self.vid = vid
        self.proposals = [proposal]
        self.shell = shell
        self.hashes = hashes
        self.missing = missing  # hash -> None, block order
        self.got: dict[bytes, bytes] = {}
        self.announcers = [peer]
        self.refused: set[bytes] = set()
        self.asked: tuple[bytes, frozenset] | None = None
        self.answered = trio.Event()
        self.scope = trio.CancelScope()
        self.turn = 0


_NOBODY: frozenset = frozenset()  # transactions from this node's API: no peer has them yet


class _StartHeight:
    """Internal inbox item: start consensus for ``height`` (after the commit pause)."""

    __slots__ = ("height",)

    def __init__(self, height: int):
        self.height = height


def _decode_verify_batch(raws: list[bytes], verifier=None, hashes: list | None = None) -> list:
    """Each transaction decoded (once, here) and its signature checked (in the worker processes
    for a batch): the decoded transaction, or None if it is malformed or wrongly signed.  ``hashes``:
    the transactions' hashes where the caller computed them already (not computed again).  A sender's
    address (a hash of its key, which admission asks first) is taken from a table of the signers seen
    (``known_sender``)."""
    txs = []
    for i, raw in enumerate(raws):
        try:
            tx = decode_tx(raw)
        except TxError:
            txs.append(None)
            continue
        if hashes is not None:
            tx._hash = hashes[i]
        known_sender(tx)
        txs.append(tx)
    good = [t for t in txs if t is not None]
    verdicts = iter(verify_txs(verifier, good))
    return [t if t is not None and next(verdicts) else None for t in txs]


async def run_consensus(node, task_status=trio.TASK_STATUS_IGNORED) -> None:
    driver = ConsensusDriver(node)
    node.driver = driver
    await driver.run(task_status=task_status)


__all__ = ["ConsensusDriver", "FatalError", "run_consensus", "block_id"]
