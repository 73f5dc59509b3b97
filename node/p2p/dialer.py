"""Which addresses a node keeps dialing, and when it dials them again.

One task per configured address (:meth:`Dialer.add`) dials it, runs the
connection to its end, and dials again after a backoff that doubles from
``backoff_base`` to ``backoff_cap`` (jittered, :func:`.config.backoff_delay`).
Only a link that lasted ``stable_after`` seconds resets the schedule, so a
peer that completes the handshake and then refuses this node (it is not on
that peer's allow-list) is redialed ever more slowly, not twice a second.
While the peer is linked (it dialed us, or a duplicate was resolved the
other way) the task waits for that link to go instead of dialing.

:meth:`Dialer.remove` stops an address's task (closing the link it made);
:meth:`Dialer.redial_now` cuts every backoff short, for a config reload that
may have changed who allows whom.  The connection itself is the caller's:
``connect(address, expected_key) -> Outcome``.
"""

from __future__ import annotations

import logging
import random
from typing import Awaitable, Callable

import trio

from .config import P2PConfig, PeerAddress, backoff_delay
from .connection import Outcome

__all__ = ["Dialer"]

log = logging.getLogger("esoc.p2p")


class Dialer:
    def __init__(
        self,
        config: P2PConfig,
        rng: random.Random,
        connect: Callable[[PeerAddress, bytes | None], Awaitable[Outcome]],
        linked: Callable[[bytes], bool],
        wait_gone: Callable[[bytes], Awaitable[None]],
    ):
        self.config = config
        self.nursery: trio.Nursery | None = None  # set by serve_p2p
        self._rng = rng
        self._connect = connect
        self._linked = linked
        self._wait_gone = wait_gone
        self._tasks: dict[PeerAddress, trio.CancelScope] = {}
        self._redial = trio.Event()  # set: every task waiting out its backoff dials now

    def add(self, address: PeerAddress | str) -> None:
        if isinstance(address, str):
            address = PeerAddress.parse(address)
        if address in self._tasks:
            return
        if self.nursery is None:
            raise RuntimeError("the dialer is not running (see serve_p2p)")
        scope = self._tasks[address] = trio.CancelScope()
        self.nursery.start_soon(self._run, address, scope)

    def remove(self, address: PeerAddress | str) -> bool:
        if isinstance(address, str):
            address = PeerAddress.parse(address)
        scope = self._tasks.pop(address, None)
        if scope is None:
            return False
        scope.cancel()
        return True

    def addresses(self) -> list[PeerAddress]:
        return list(self._tasks)

    def redial_now(self) -> None:
        self._redial.set()
        self._redial = trio.Event()

    async def _run(self, address: PeerAddress, scope: trio.CancelScope) -> None:
        try:
            with scope:
                await self._dial_forever(address)
        finally:
            if self._tasks.get(address) is scope:
                del self._tasks[address]

    async def _dial_forever(self, address: PeerAddress) -> None:
        cfg = self.config
        attempt = 0
        known_key = address.pubkey  # configured, or learned from the first handshake
        while True:
            if known_key is not None and self._linked(known_key):
                # Already linked (it dialed us, or a duplicate was resolved the
                # other way): dial again only once that link is gone.
                await self._wait_gone(known_key)
                attempt = 0
            started = trio.current_time()
            outcome = await self._connect(address, address.pubkey)
            if outcome.to_self:
                log.warning("p2p: %s is this node's own address; not dialing it again", address)
                return
            if outcome.peer is not None:
                known_key = known_key or outcome.peer
            if outcome.opened and trio.current_time() - started >= cfg.stable_after:
                attempt = 0  # only a link that lasted resets the schedule
            if known_key is not None and self._linked(known_key):
                continue  # wait for that link to go instead of sleeping
            redial = self._redial
            with trio.move_on_after(backoff_delay(attempt, cfg.backoff_base, cfg.backoff_cap, self._rng)):
                await redial.wait()
            attempt += 1
