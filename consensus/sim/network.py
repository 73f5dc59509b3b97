"""The simulated network: per-link delay, drop, duplication, partitions.

Every message is scheduled on the world's clock with a delay drawn from the
seeded RNG, so messages on one link can overtake each other (reordering).
Before ``gst`` (global stabilisation time) links drop and duplicate with the
configured per-mille rates and delays go up to ``max_delay``; from ``gst`` on
nothing is dropped and delays are at most ``stable_max_delay`` -- the partial
synchrony model of the paper.  Partitions are time windows during which
messages between groups are lost; a scenario may also install an arbitrary
``link_filter(src, dst, msg)`` (Twins partitions by the message's round).
Probabilities are integers per mille: no floats.
"""

from __future__ import annotations

import dataclasses
from typing import Callable


@dataclasses.dataclass
class NetConfig:
    min_delay: int = 1  # ms
    max_delay: int = 10  # ms, before GST
    drop_pm: int = 0  # per mille, before GST
    dup_pm: int = 0  # per mille, before GST
    gst: int = 0  # ms
    stable_max_delay: int = 10  # ms, from GST on


@dataclasses.dataclass
class Partition:
    start: int
    end: int
    groups: list[list[int]]

    def separates(self, now: int, a: int, b: int) -> bool:
        if not (self.start <= now < self.end):
            return False
        for g in self.groups:
            if a in g:
                return b not in g
        return True  # a node in no group is isolated


class Network:
    def __init__(self, world, cfg: NetConfig):
        self.world = world
        self.cfg = cfg
        self.partitions: list[Partition] = []
        self.link_filter: Callable[[int, int, tuple], bool] | None = None
        self.sent = 0
        self.dropped = 0

    def blocked(self, a: int, b: int) -> bool:
        now = self.world.now
        return any(p.separates(now, a, b) for p in self.partitions)

    def send(self, src: int, dst: int, msg: tuple) -> None:
        if src == dst:
            return
        self.sent += 1
        w = self.world
        if self.blocked(src, dst) or (self.link_filter is not None and not self.link_filter(src, dst, msg)):
            self.dropped += 1
            return
        cfg, rng = self.cfg, w.rng
        stable = w.now >= cfg.gst
        copies = 1
        if not stable:
            if cfg.drop_pm and rng.randrange(1000) < cfg.drop_pm:
                self.dropped += 1
                return
            if cfg.dup_pm and rng.randrange(1000) < cfg.dup_pm:
                copies = 2
        hi = cfg.stable_max_delay if stable else cfg.max_delay
        for _ in range(copies):
            delay = rng.randint(min(cfg.min_delay, hi), hi)
            w.schedule(delay, w.deliver, dst, src, msg)

    def broadcast(self, src: int, msg: tuple, only: list[int] | None = None) -> None:
        targets = range(len(self.world.nodes)) if only is None else only
        for dst in targets:
            self.send(src, dst, msg)
