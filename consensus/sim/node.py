"""A simulated node: the engine in a minimal shell, with a toy application.

This module is also the reference for how a real node drives the engine:
``_process`` performs effects in order, answers requests by stepping the
engine again (depth first), writes the WAL before anything leaves, writes
``EndHeight`` after the block is stored, and rebuilds the engine from the WAL
on boot.  Differences from a real node: the network, clock and disk are the
simulator's, the "block" is a small canonical map, and sync is a one-message
exchange (status -> decisions).

Block format (canonical msgpack map): ``h`` height, ``r`` round, ``by``
proposer name, ``ev`` evidence records, ``upd`` validator updates
``[[pubkey, power], ...]`` (these take effect at ``h + 2``), ``x`` a salt
(incarnation, or a Byzantine marker).  A block is valid at height ``h`` when
``h`` matches, ``upd`` equals the scenario's updates for ``h``, and every
evidence verifies and is not already on chain.

Byzantine behaviours (``byz``; the node runs the honest engine and lies only
in what it sends or builds; the issue-14 class of faults): ``equivocate_proposal``,
``equivocate_vote``, ``bad_block``, ``flood_rounds`` (withholds its round-0
proposal and sends signed prevotes for ``world.flood_n`` future rounds),
``flood_heights`` (signed votes for the next heights and unsigned junk votes
in other validators' names for ``h + 1``), ``equivocate_all_rounds`` (three
signed proposals for every round of the window), ``vote_storm`` (conflicting
signed copies of each vote), ``extreme_time`` (blocks dated 2^64 - 1) and
``bad_updates`` (blocks with malformed validator updates).  A block is also
invalid when its time ``t`` is ahead of the simulated clock by more than
``TIME_DRIFT_MS``.

Crash points (``crash_at``): ``before_wal``, ``after_wal``, ``after_sign``,
``before_send``, ``after_save_block``, ``after_end_height``.  Reaching a
point for the configured time raises :class:`NodeCrash`; the world catches it
and the node loses everything but its disk (and the unsynced WAL tail).
"""

from __future__ import annotations

from ledger.codec import CodecError, decode, encode
from ledger.crypto import PrivateKey

from ..engine import COMMIT, Engine
from ..events import (
    BroadcastProposal,
    BroadcastVote,
    Decide,
    DecisionLearned,
    EvidenceFound,
    GetValue,
    ProposalReceived,
    ProposalSigned,
    ScheduleTimeout,
    SignProposal,
    SignVote,
    StartHeight,
    TimeoutFired,
    ValidateValue,
    ValueToPropose,
    ValueValidity,
    VoteReceived,
    VoteSigned,
    WalAppend,
)
from ..signer import DoubleSignError, Signer
from ..engine import ROUND_WINDOW
from ..types import PRECOMMIT, PREVOTE, Evidence, InvalidEvidence, Proposal, ValidatorSchedule, Vote, value_id_of, verify_evidence
from ..wal import WAL
from .disk import MemDisk

SYNC_BATCH = 20
TIME_DRIFT_MS = 1_000
BEHAVIOURS = (
    "equivocate_proposal", "equivocate_vote", "bad_block", "flood_rounds", "flood_heights",
    "equivocate_all_rounds", "vote_storm", "extreme_time", "bad_updates",
)


class NullWAL:
    """No WAL at all, for crash-free runs (Twins) where it only costs time."""

    truncated_bytes = 0

    def append(self, event, sync: bool = False) -> None:
        pass

    def end_height(self, height: int) -> None:
        pass

    def last_end_height(self) -> int | None:
        return None

    def events_to_replay(self) -> list:
        return []

    def checkpoint(self) -> None:
        pass


class NodeCrash(Exception):
    def __init__(self, node: "SimNode", point: str):
        super().__init__(f"{node.name} crashed at {point}")
        self.node = node
        self.point = point


class SimNode:
    def __init__(self, world, idx: int, key: PrivateKey, name: str, role: str = "honest", byz: str | None = None):
        self.world = world
        self.idx = idx
        self.key = key
        self.name = name
        self.role = role  # "honest", "byzantine", "twin"
        self.byz = byz  # None, "equivocate_proposal", "equivocate_vote", "bad_block"
        self.disk = MemDisk()
        self.alive = False
        self.incarnation = 0
        self.crash_at: dict[str, int] = {}  # point -> crash on the n-th hit from now
        self.evidence_pool: dict[bytes, Evidence] = {}
        self.committed_evidence: dict[bytes, None] = {}
        self.sync_decisions = 0
        self.max_seen_height = 0
        self.behind = False  # decided through sync: skip the commit delay
        self.refused_signatures = 0
        self.boot_error: Exception | None = None
        self._tick_height = -1
        self.engine: Engine | None = None

    @property
    def honest(self) -> bool:
        return self.role == "honest"

    # -- life cycle ------------------------------------------------------

    def boot(self) -> None:
        """Start, or restart from disk: block store, signer state, WAL."""
        w = self.world
        self.incarnation += 1
        self.boot_error = None
        try:
            self.wal = WAL(self.disk.wal) if w.use_wal else NullWAL()
            self.signer = Signer(self.key, w.chain_id, self.disk.signer)
        except Exception as e:  # WalCorruptError, SignerStateError: refuse to start
            self.boot_error = e
            self.alive = False
            return
        self.alive = True
        self.schedule = ValidatorSchedule(w.genesis)
        self.committed_evidence = {}
        self.evidence_pool = {}
        self.applied = 0
        for h in sorted(self.disk.blocks):
            self._apply(h, self.disk.blocks[h][0])
        self.engine = Engine(
            w.chain_id,
            self.key.public,
            w.timeouts,
            verifier=w.verify,
            proposer_fn=w.proposer_fn,
        )
        self._last_hrs = (0, 0, 0)
        self._process(self.engine.restore(self.wal.events_to_replay()))
        nxt = self.next_height()
        if self.alive and self.engine.height < nxt:
            if self.wal.last_end_height() != nxt - 1 and nxt > 1:
                self.wal.end_height(nxt - 1)
            self._start_height(nxt)
        w.schedule(w.gossip_ms, self._tick, self.incarnation)

    def crash(self) -> None:
        self.alive = False
        self.engine = None
        self.disk.crash(self.world.rng, tear=self.world.tear_wal)

    def next_height(self) -> int:
        return max(self.disk.blocks, default=0) + 1

    def _point(self, name: str) -> None:
        n = self.crash_at.get(name)
        if n is None:
            return
        if n <= 1:
            del self.crash_at[name]
            raise NodeCrash(self, name)
        self.crash_at[name] = n - 1

    # -- driving the engine ----------------------------------------------

    def _step(self, event) -> None:
        if not self.alive or self.engine is None:
            return
        effects = self.engine.step(event)
        hrs = self.engine.hrs
        if hrs < self._last_hrs:
            self.world.violation(f"{self.name}: (h, r, step) went back from {self._last_hrs} to {hrs}")
        self._last_hrs = hrs
        self._process(effects)

    def _start_height(self, h: int) -> None:
        self._step(StartHeight(h, self.schedule.set_for(h)))

    def _process(self, effects: list) -> None:
        w = self.world
        for eff in effects:
            if not self.alive:
                return
            t = type(eff)
            if t is WalAppend:
                self._point("before_wal")
                self.wal.append(eff.event, eff.sync)
                self._point("after_wal")
            elif t is SignVote:
                try:
                    signed = self.signer.sign_vote(eff.vote)
                except DoubleSignError:
                    self.refused_signatures += 1
                    continue
                self._point("after_sign")
                self._step(VoteSigned(signed))
            elif t is SignProposal:
                try:
                    signed = self.signer.sign_proposal(eff.proposal)
                except DoubleSignError:
                    self.refused_signatures += 1
                    continue
                self._point("after_sign")
                self._step(ProposalSigned(signed))
            elif t is BroadcastVote:
                self._point("before_send")
                self._send_vote(eff.vote)
            elif t is BroadcastProposal:
                self._point("before_send")
                self._send_proposal(eff.proposal, eff.value)
            elif t is ScheduleTimeout:
                w.schedule(eff.duration_ms, self._timeout, self.incarnation, eff)
                w.max_timeout_seen = max(w.max_timeout_seen, eff.duration_ms)
            elif t is GetValue:
                self._step(ValueToPropose(eff.height, eff.round, self.make_block(eff.height, eff.round)))
            elif t is ValidateValue:
                ok = self.block_valid(eff.height, eff.value)
                if w.validate_delay:
                    w.schedule(w.validate_delay, self._answer, self.incarnation, ValueValidity(eff.height, eff.value_id, ok))
                else:
                    self._step(ValueValidity(eff.height, eff.value_id, ok))
            elif t is Decide:
                self._on_decide(eff)
            elif t is EvidenceFound:
                self._add_evidence(eff.evidence)
            else:  # pragma: no cover
                raise TypeError(t)

    def _timeout(self, inc: int, eff: ScheduleTimeout) -> None:
        if inc == self.incarnation:
            self._step(TimeoutFired(eff.height, eff.round, eff.step))

    def _answer(self, inc: int, event) -> None:
        if inc == self.incarnation:
            self._step(event)

    # -- sending (with Byzantine variants) -------------------------------

    def _halves(self) -> tuple[list[int], list[int]]:
        others = [i for i in range(len(self.world.nodes)) if i != self.idx]
        k = (len(others) + 1) // 2
        return others[:k], others[k:]

    def _sign(self, m):
        kind = "vote" if isinstance(m, Vote) else "proposal"
        return m.with_signature(self.key.sign(kind, self.world.chain_id, m.sign_bytes()))

    def _send_vote(self, vote: Vote) -> None:
        w = self.world
        w.checker.on_signed(self, vote)
        if self.byz == "equivocate_vote" and vote.type == PREVOTE:
            # the real vote to everyone, a conflicting one to the second half
            # (which sees both, in random order, and reports the evidence)
            _, b = self._halves()
            other = None if vote.value_id is not None else value_id_of(b"byzantine" + self.name.encode())
            fake = self._sign(Vote(vote.type, vote.height, vote.round, other, vote.validator))
            w.net.broadcast(self.idx, ("vote", fake), b)
        elif self.byz is not None and vote.type == PREVOTE:
            for m in self._byz_votes(vote):
                w.net.broadcast(self.idx, ("vote", m))
        w.net.broadcast(self.idx, ("vote", vote))

    def _byz_votes(self, vote: Vote) -> list[Vote]:
        """The extra votes a flooding or storming validator sends beside ``vote``."""
        h, r, me = vote.height, vote.round, vote.validator
        if self.byz == "flood_rounds":
            return [self._sign(Vote(PREVOTE, h, r + 2 + i, None, me)) for i in range(self.world.flood_n)]
        if self.byz == "flood_heights":
            out = [self._sign(Vote(t, h + k, 0, None, me)) for k in range(1, 6) for t in (PREVOTE, PRECOMMIT)]
            keys = [k.public for k in self.world.keys]
            # unsigned junk in every validator's name for the next height (fault 7)
            out += [Vote(PREVOTE, h + 1, i % 8, value_id_of(bytes([i % 256, i // 256])), keys[i % len(keys)])
                    for i in range(self.world.flood_n)]
            return out
        if self.byz == "vote_storm":
            return [self._sign(Vote(t, h, r, value_id_of(b"storm%d" % i), me)) for t in (PREVOTE, PRECOMMIT)
                    for i in range(3)]
        return []

    def _send_proposal(self, p: Proposal, value: bytes) -> None:
        w = self.world
        w.checker.on_signed(self, p)
        if self.byz == "equivocate_proposal" and p.pol_round == -1:
            a, b = self._halves()
            other = self.make_block(p.height, p.round, salt=b"twin")
            q = self._sign(Proposal(p.height, p.round, value_id_of(other), -1, p.proposer))
            w.net.broadcast(self.idx, ("proposal", p, value), a)
            w.net.broadcast(self.idx, ("proposal", q, other), b)
            return
        if self.byz == "flood_rounds" and p.round == 0:
            return  # withheld: the height must go on in round 1 or later
        if self.byz == "equivocate_all_rounds":
            for r in range(p.round, p.round + ROUND_WINDOW + 4):
                for i in range(3):
                    other = self.make_block(p.height, r, salt=b"eq%d" % i)
                    q = self._sign(Proposal(p.height, r, value_id_of(other), -1, p.proposer))
                    w.net.broadcast(self.idx, ("proposal", q, other))
        w.net.broadcast(self.idx, ("proposal", p, value))

    # -- receiving -------------------------------------------------------

    def receive(self, src: int, msg: tuple) -> None:
        if not self.alive or self.engine is None:
            return
        kind = msg[0]
        if kind == "vote" or kind == "proposal":
            self.max_seen_height = max(self.max_seen_height, msg[1].height)
        if kind == "vote":
            self._step(VoteReceived(msg[1]))
        elif kind == "proposal":
            self._step(ProposalReceived(msg[1], msg[2]))
        elif kind == "status":
            self._on_status(src, msg[1])
        elif kind == "decisions":
            for h, value, commit in msg[1]:
                if self.engine is not None and h == self.engine.height and self.engine.round_step != COMMIT:
                    self.sync_decisions += 1
                    self.behind = True
                    self._step(DecisionLearned(h, value, commit))
                    self.behind = False
        elif kind == "evidence":
            self._add_evidence(msg[1])

    def _on_status(self, src: int, peer_height: int) -> None:
        mine = self.next_height()
        if peer_height < mine:
            batch = []
            for h in range(peer_height, min(mine, peer_height + SYNC_BATCH)):
                value, commit = self.disk.blocks[h]
                batch.append((h, value, commit))
            self.world.net.send(self.idx, src, ("decisions", batch))

    def _tick(self, inc: int) -> None:
        """Gossip timer: status for sync; relay messages when stuck."""
        if inc != self.incarnation or not self.alive or self.engine is None:
            return
        w = self.world
        h = self.engine.height
        w.net.broadcast(self.idx, ("status", h))
        if h == self._tick_height:
            for eff in self.engine.gossip():
                if isinstance(eff, BroadcastVote):
                    w.net.broadcast(self.idx, ("vote", eff.vote))
                else:
                    w.net.broadcast(self.idx, ("proposal", eff.proposal, eff.value))
            for ev in self.evidence_pool.values():
                w.net.broadcast(self.idx, ("evidence", ev))
        self._tick_height = h
        w.schedule(w.gossip_ms, self._tick, inc)

    # -- the application -------------------------------------------------

    def make_block(self, h: int, r: int, salt: bytes | None = None) -> bytes:
        ev = [e.to_obj() for e in self.evidence_pool.values() if e.height < h][:8]
        upd = [[pk, p] for pk, p in self.world.updates.get(h, [])]
        height = h + 1000 if self.byz == "bad_block" else h
        x = salt if salt is not None else self.incarnation.to_bytes(4, "big")
        t = 2**64 - 1 if self.byz == "extreme_time" else self.world.now
        if self.byz == "bad_updates":
            upd = [[b"\x00" * 31, -5], [self.world.keys[-1].public, 0]]
        return encode({"h": height, "r": r, "by": self.name, "ev": ev, "upd": upd, "x": x, "t": t})

    def block_valid(self, h: int, value: bytes) -> bool:
        try:
            obj = decode(value)
            if type(obj) is not dict or obj.get("h") != h:
                return False
            t = obj.get("t")
            if type(t) is not int or not 0 <= t <= self.world.now + TIME_DRIFT_MS:
                return False
            if obj.get("upd") != [[pk, p] for pk, p in self.world.updates.get(h, [])]:
                return False
            for eo in obj.get("ev", []):
                ev = Evidence.from_obj(eo)
                if ev.hash() in self.committed_evidence or ev.height >= h:
                    return False
                verify_evidence(self.schedule.set_for(ev.height), self.world.chain_id, ev, self.world.verify)
        except (CodecError, InvalidEvidence, ValueError, KeyError):
            return False
        return True

    def _apply(self, h: int, value: bytes) -> None:
        if h <= self.applied:
            return
        self.applied = h
        obj = decode(value)
        self.schedule.record_updates(h, [(pk, p) for pk, p in obj["upd"]])
        for eo in obj["ev"]:
            ev = Evidence.from_obj(eo)
            hsh = ev.hash()
            self.committed_evidence[hsh] = None
            self.evidence_pool.pop(hsh, None)

    def _add_evidence(self, ev: Evidence) -> None:
        hsh = ev.hash()
        if hsh in self.committed_evidence or hsh in self.evidence_pool:
            return
        if self.engine is None or ev.height > self.engine.height:
            return
        try:
            verify_evidence(self.schedule.set_for(ev.height), self.world.chain_id, ev, self.world.verify)
        except (InvalidEvidence, ValueError):
            return
        self.evidence_pool[hsh] = ev
        self.world.checker.on_evidence(self, ev)
        self.world.net.broadcast(self.idx, ("evidence", ev))

    def _on_decide(self, d: Decide) -> None:
        h = d.height
        if h not in self.disk.blocks:
            self.disk.blocks[h] = (d.value, d.commit)  # block store: atomic and durable
        self._point("after_save_block")
        self.wal.end_height(h)
        self._point("after_end_height")
        self._apply(h, d.value)
        self.world.checker.on_decide(self, d)
        if self.world.wal_checkpoint_every and h % self.world.wal_checkpoint_every == 0:
            self.wal.checkpoint()
        if self.world.commit_delay and self.max_seen_height <= h and not self.behind:
            self.world.schedule(self.world.commit_delay, self._answer_start, self.incarnation, h + 1)
        else:
            self._start_height(h + 1)

    def _answer_start(self, inc: int, h: int) -> None:
        if inc == self.incarnation and self.alive and self.engine is not None and self.engine.height < h:
            self._start_height(h)
