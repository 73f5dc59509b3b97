"""The deterministic world: clock, event queue, nodes, invariants.

Theory of operation
-------------------
A :class:`World` is built from a seed.  Everything random (network delays,
drops, torn writes, Twins schedules) comes from one ``random.Random(seed)``;
keys come from names; time is an integer count of simulated milliseconds in
an event heap ordered by ``(time, sequence number)``.  Nothing reads the
wall clock, iterates a set or depends on ``hash()``, so a seed replays the
same run event by event (``python -m consensus.sim --seed N --scenario S``).

Invariants (:class:`Checker`), checked as the run goes:

* **agreement** -- no two counted nodes decide different values at a height
  (counted: honest nodes; for Twins, every node);
* **validity** -- every decided value is a well-formed block of its height
  and its commit verifies against that height's validator set;
* **no double signing** -- an honest node never sends two different signed
  messages for one ``(key, height, round, step)``, across restarts too;
* **(h, r, step) never goes back** within one life of a node;
* **termination** -- scenarios assert that, once the network is stable, all
  live honest nodes reach the target height before a deadline.
"""

from __future__ import annotations

import heapq
import random
from typing import Callable

from ledger.codec import CodecError, decode
from ledger.crypto import PrivateKey, verify as real_verify

from ..timeouts import SIM_TIMEOUTS, TimeoutConfig
from ..events import Decide
from ..types import InvalidCommit, ValidatorSet, verify_commit
from .network import NetConfig, Network
from .node import NodeCrash, SimNode


class Checker:
    def __init__(self, world: "World"):
        self.world = world
        self.decisions: dict[int, bytes] = {}
        self.decided_by: dict[int, str] = {}
        self.decide_round: dict[int, int] = {}
        self.decide_time: dict[int, int] = {}
        self.node_decisions: dict[str, dict[int, bytes]] = {}
        self.signed: dict[tuple[bytes, int, int, int], bytes] = {}
        self.violations: list[str] = []
        self.forks: list[tuple[int, str, str]] = []
        self.evidence: dict[bytes, object] = {}

    def counted(self, node: SimNode) -> bool:
        return node.honest or self.world.scope == "all"

    def on_signed(self, node: SimNode, msg) -> None:
        if not node.honest:
            return
        key = (msg.signer_key(), msg.height, msg.round, msg.step)
        sb = msg.sign_bytes()
        prev = self.signed.setdefault(key, sb)
        if prev != sb:
            self.world.violation(f"double sign by honest {node.name} at {key[1:]}")

    def on_evidence(self, node: SimNode, ev) -> None:
        self.evidence.setdefault(ev.hash(), ev)

    def on_decide(self, node: SimNode, d: Decide) -> None:
        w = self.world
        h = d.height
        mine = self.node_decisions.setdefault(node.name, {})
        if mine.setdefault(h, d.value_id) != d.value_id:
            w.violation(f"{node.name} decided twice at height {h}")
        try:
            verify_commit(node.schedule.set_for(h), w.chain_id, h, d.value_id, d.commit, w.verify)
        except InvalidCommit as e:
            w.violation(f"{node.name}: decided commit at {h} does not verify: {e}")
        try:
            obj = decode(d.value)
            if obj["h"] != h or obj["upd"] != [[pk, p] for pk, p in w.updates.get(h, [])]:
                w.violation(f"{node.name}: invalid block decided at height {h}")
        except (CodecError, KeyError, TypeError):
            w.violation(f"{node.name}: undecodable block decided at height {h}")
        if not self.counted(node):
            return
        first = self.decisions.setdefault(h, d.value_id)
        if first == d.value_id:
            if h not in self.decide_time:
                self.decide_time[h] = w.now
                self.decide_round[h] = d.round
                self.decided_by[h] = node.name
        else:
            self.forks.append((h, self.decided_by[h], node.name))
            w.violation(f"agreement violated at height {h}: {self.decided_by[h]} and {node.name} differ")


class World:
    """n validators (plus twins and extra nodes) over a simulated network."""

    # Over 60 lines on purpose: one keyword parameter per line, each a knob a scenario sets.
    def __init__(
        self,
        seed: int,
        n: int = 4,
        *,
        powers: list[int] | None = None,
        timeouts: TimeoutConfig = SIM_TIMEOUTS,
        net: NetConfig | None = None,
        byz: dict[int, str] | None = None,
        twins: list[int] | None = None,
        extra_nodes: int = 0,
        updates: dict[int, list[tuple[int, int]]] | None = None,
        gossip_ms: int = 200,
        commit_delay: int = 0,
        use_wal: bool = True,
        validate_delay: int = 0,
        tear_wal: bool = True,
        restart_after: int | None = None,
        chain_id: str = "esoc-sim",
        proposer_fn: Callable[[int, int], bytes] | None = None,
        scope: str = "honest",
        wal_checkpoint_every: int = 0,
        raise_on_violation: bool = False,
        flood_n: int = 200,
    ):
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0
        self._queue: list = []
        self._seq = 0
        self.chain_id = chain_id
        self.timeouts = timeouts
        self.gossip_ms = gossip_ms
        self.commit_delay = commit_delay
        self.use_wal = use_wal
        self.validate_delay = validate_delay
        self.tear_wal = tear_wal
        self.restart_after = restart_after
        self.proposer_fn = proposer_fn
        self.scope = scope
        self.wal_checkpoint_every = wal_checkpoint_every
        self.raise_on_violation = raise_on_violation
        self.flood_n = flood_n  # messages per flood of a Byzantine behaviour
        self.max_timeout_seen = 0
        self.crashes: list[tuple[int, str, str]] = []
        self._vcache: dict = {}
        powers = powers or [1] * n
        self.keys = [PrivateKey.from_name(f"v{i}", salt="esoc-sim") for i in range(n + extra_nodes)]
        self.genesis = ValidatorSet.from_powers([(self.keys[i].public, powers[i]) for i in range(n)])
        # updates given by key index, stored by public key
        self.updates: dict[int, list[tuple[bytes, int]]] = {
            h: [(self.keys[i].public, p) for i, p in ups] for h, ups in (updates or {}).items()
        }
        byz = byz or {}
        self.nodes: list[SimNode] = []
        for i in range(n + extra_nodes):
            role = "byzantine" if i in byz else "honest"
            self.nodes.append(SimNode(self, i, self.keys[i], f"v{i}", role, byz.get(i)))
        for j, of in enumerate(twins or []):
            self.nodes[of].role = "twin"
            self.nodes.append(SimNode(self, len(self.nodes), self.keys[of], f"v{of}'", "twin"))
        self.checker = Checker(self)
        self.net = Network(self, net or NetConfig())
        self.violations = self.checker.violations

    # -- clock -----------------------------------------------------------

    def schedule(self, delay: int, fn, *args) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (self.now + delay, self._seq, fn, args))

    def at(self, time: int, fn, *args) -> None:
        self.schedule(max(0, time - self.now), fn, *args)

    def deliver(self, dst: int, src: int, msg: tuple) -> None:
        self.nodes[dst].receive(src, msg)

    def verify(self, pubkey: bytes, domain: str, chain_id: str, payload: bytes, sig: bytes) -> bool:
        """Ed25519 verification, memoised: every node checks the same messages."""
        k = (pubkey, domain, chain_id, payload, sig)
        r = self._vcache.get(k)
        if r is None:
            if len(self._vcache) > 100_000:
                self._vcache.clear()
            r = self._vcache[k] = real_verify(pubkey, domain, chain_id, payload, sig)
        return r

    def violation(self, msg: str) -> None:
        self.violations.append(f"t={self.now} {msg}")
        if self.raise_on_violation:
            raise AssertionError(msg)

    def start(self, only: list[int] | None = None) -> None:
        for i, node in enumerate(self.nodes):
            if only is None or i in only:
                self.schedule(0, node.boot)

    def run(self, until: int, stop: Callable[[], bool] | None = None) -> bool:
        """Run events up to time ``until``; True if ``stop()`` became true."""
        q = self._queue
        while q and q[0][0] <= until:
            t, _, fn, args = heapq.heappop(q)
            self.now = t
            try:
                fn(*args)
            except NodeCrash as c:
                node = c.node
                node.crash()
                self.crashes.append((self.now, node.name, c.point))
                if self.restart_after is not None:
                    self.schedule(self.restart_after, node.boot)
            if stop is not None and stop():
                return True
        self.now = max(self.now, until)
        return stop is not None and stop()

    # -- queries ---------------------------------------------------------

    def heights(self, which: list[int] | None = None) -> list[int]:
        idx = range(len(self.nodes)) if which is None else which
        return [len(self.nodes[i].disk.blocks) for i in idx]

    def honest_idx(self) -> list[int]:
        return [i for i, n in enumerate(self.nodes) if n.honest]

    def all_reached(self, height: int, which: list[int] | None = None) -> Callable[[], bool]:
        nodes = [self.nodes[i] for i in (self.honest_idx() if which is None else which)]
        return lambda: all(len(n.disk.blocks) >= height for n in nodes)
