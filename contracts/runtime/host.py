"""What the runtime needs from the chain: the ``Host`` protocol.

The runtime imports nothing of the node.  The node's application implements
:class:`Host` over its authenticated state for one transaction (or one
query); tests and ``law eval --source`` use :class:`MemoryHost`.

Writes are **buffered in the runtime**, not in the host.  During a call the
runtime keeps an overlay of storage writes, balance changes, transfers and
events; reads see the overlay first.  Only when the whole call (including
every nested ``call()``) succeeds and is not read-only does the runtime hand
the complete :class:`Effects` to :meth:`Host.apply`, once.  A failed or
read-only call never reaches ``apply``, so a host needs no journal or
rollback for contract effects.  ``apply`` must apply the effects in order
and atomically with the rest of the transaction.

All host methods must be deterministic functions of the chain state at the
transaction's position (never of the wall clock, the node, or the process).
"""

from __future__ import annotations

import abc
from typing import Any

from ledger import codec


class Event:
    """One event of a successful call: the emitting contract's name, the event's name, its data.

    ``raw`` is the canonical bytes of ``data`` when the runtime made them (emit encodes it to copy
    it): a host may use them instead of encoding ``data`` again; it is not part of the event's
    value (equality and hash ignore it).  Read-only by convention: a plain class with slots, since
    a frozen dataclass's ``__init__`` (one ``object.__setattr__`` a field) cost four times as much
    on every ``emit``.
    """

    __slots__ = ("contract", "name", "data", "raw")

    def __init__(self, contract: str, name: str, data: Any, raw: bytes | None = None) -> None:
        self.contract = contract  # the contract's name
        self.name = name
        self.data = data  # canonical-encodable
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        if type(other) is not Event:
            return NotImplemented
        return (self.contract, self.name, self.data) == (other.contract, other.name, other.data)

    def __hash__(self) -> int:
        return hash((self.contract, self.name, self.data))

    def __repr__(self) -> str:
        return f"Event(contract={self.contract!r}, name={self.name!r}, data={self.data!r})"

    def to_obj(self) -> dict:
        return {"contract": self.contract, "name": self.name, "data": self.data}


class Effects:
    """Everything a successful call changes, in the order it happened.

    ``writes``: (contract name, key, encoded value or None for delete); last write per key wins,
    the list holds only the final value of each (contract, key), in first-write order.
    ``usage``: contract -> (bytes of storage in use before the call, after it), as the runtime
    counted them for the storage limit; a host may use it instead of re-reading every old value
    (None: not given).  (A plain class with slots: one is made per successful call.)
    """

    __slots__ = ("writes", "transfers", "events", "usage")

    def __init__(self, writes: list | None = None, transfers: list | None = None, events: list | None = None,
                 usage: dict | None = None) -> None:
        self.writes: list[tuple[str, str, bytes | None]] = [] if writes is None else writes
        self.transfers: list[tuple[str, str, int]] = [] if transfers is None else transfers
        self.events: list[Event] = [] if events is None else events
        self.usage: dict[str, tuple[int, int]] | None = usage

    def __eq__(self, other: object) -> bool:
        if type(other) is not Effects:
            return NotImplemented
        return (self.writes, self.transfers, self.events, self.usage) == (other.writes, other.transfers, other.events,
                                                                          other.usage)

    __hash__ = None  # type: ignore[assignment]  (mutable, as the dataclass it replaces)

    def __repr__(self) -> str:
        return (f"Effects(writes={self.writes!r}, transfers={self.transfers!r}, events={self.events!r}, "
                f"usage={self.usage!r})")


class Host(abc.ABC):
    """The chain as one contract call sees it."""

    # -- transaction and block context
    @abc.abstractmethod
    def sender(self) -> str:
        """Address that signed the transaction ("" for an anonymous query)."""

    @abc.abstractmethod
    def height(self) -> int:
        """Height of the block being executed (or queried)."""

    @abc.abstractmethod
    def time(self) -> int:
        """Block time, UTC seconds (the block header's, never the clock)."""

    @abc.abstractmethod
    def beacon(self, height: int) -> bytes | None:
        """The chain's randomness beacon value at ``height`` (<= current), if any."""

    # -- identities and money
    @abc.abstractmethod
    def has_role(self, address: str, role: str) -> bool:
        """Whether ``address`` holds ``role`` in the registry."""

    def role_holders(self, role: str) -> list[str]:
        """The addresses holding ``role`` in the registry, sorted (empty if none)."""
        return []

    @abc.abstractmethod
    def account_kind(self, address: str) -> str:
        """The registry's kind of the account ("citizen", "enterprise", "agency",
        "contract"), or "" if it is not registered (a transfer to it is refused)."""

    @abc.abstractmethod
    def balance(self, address: str) -> int:
        """Committed balance in fen (the runtime adds its own pending changes)."""

    @abc.abstractmethod
    def check_transfer(self, frm: str, to: str, amount: int) -> int:
        """0 if the currency's rules allow the transfer, else a runtime ErrorCode.

        The runtime has already checked the amount is a positive int, the
        sender is allowed to move ``frm``'s money and the (pending) balance
        suffices; the host adds its own rules (registered recipients, frozen
        accounts, limits) and answers e.g. ``TRANSFER_REFUSED``.
        """

    # -- contracts
    @abc.abstractmethod
    def contract_source(self, name: str) -> str | None:
        """Source of the version of contract ``name`` installed at this height."""

    @abc.abstractmethod
    def contract_address(self, name: str) -> str:
        """The account address that holds contract ``name``'s funds."""

    # -- storage (reads only: writes arrive through apply)
    @abc.abstractmethod
    def storage_get(self, contract: str, key: str) -> bytes | None:
        """Committed encoded value of ``key`` in ``contract``'s storage."""

    @abc.abstractmethod
    def storage_usage(self, contract: str) -> int:
        """Committed bytes (sum of UTF-8 key length + value length) of ``contract``."""

    # -- commit
    @abc.abstractmethod
    def apply(self, effects: Effects) -> None:
        """Apply a successful call's effects (writes, transfers, events), in order."""


class MemoryHost(Host):
    """A host in memory, for tests and dry runs (``law eval --source``)."""

    def __init__(
        self,
        *,
        sender: str = "alice",
        height: int = 1,
        time: int = 1_700_000_000,
        contracts: dict[str, str] | None = None,
        balances: dict[str, int] | None = None,
        roles: dict[str, set[str]] | None = None,
        beacons: dict[int, bytes] | None = None,
        refuse_to: set[str] | None = None,
        kinds: dict[str, str] | None = None,
    ):
        self._sender = sender
        self._height = height
        self._time = time
        self.contracts: dict[str, str] = dict(contracts or {})
        self.balances: dict[str, int] = dict(balances or {})
        self.roles: dict[str, set[str]] = {k: set(v) for k, v in (roles or {}).items()}
        self.beacons: dict[int, bytes] = dict(beacons or {})
        self.refuse_to = set(refuse_to or ())
        self.kinds = dict(kinds) if kinds is not None else None  # None: everyone is a citizen
        self.store: dict[tuple[str, str], bytes] = {}
        self.events: list[Event] = []
        self.applied = 0

    # context
    def sender(self) -> str:
        return self._sender

    def height(self) -> int:
        return self._height

    def time(self) -> int:
        return self._time

    def beacon(self, height: int) -> bytes | None:
        return self.beacons.get(height)

    def has_role(self, address: str, role: str) -> bool:
        return role in self.roles.get(address, ())

    def role_holders(self, role: str) -> list[str]:
        return sorted(a for a, rs in self.roles.items() if role in rs)

    def account_kind(self, address: str) -> str:
        if address in self.refuse_to:
            return ""
        if self.kinds is None:
            return "contract" if address.startswith("contract:") else "citizen"
        return self.kinds.get(address, "")

    def balance(self, address: str) -> int:
        return self.balances.get(address, 0)

    def check_transfer(self, frm: str, to: str, amount: int) -> int:
        from .errors import ErrorCode

        refused = to in self.refuse_to or (self.kinds is not None and self.kinds.get(to, "") == "")
        return int(ErrorCode.TRANSFER_REFUSED) if refused else 0

    def contract_source(self, name: str) -> str | None:
        return self.contracts.get(name)

    def contract_address(self, name: str) -> str:
        return "contract:" + name

    def storage_get(self, contract: str, key: str) -> bytes | None:
        return self.store.get((contract, key))

    def storage_usage(self, contract: str) -> int:
        return sum(len(k.encode("utf-8")) + len(v) for (c, k), v in self.store.items() if c == contract)

    def apply(self, effects: Effects) -> None:
        for contract, key, value in effects.writes:
            if value is None:
                self.store.pop((contract, key), None)
            else:
                self.store[(contract, key)] = value
        for frm, to, amount in effects.transfers:
            self.balances[frm] = self.balances.get(frm, 0) - amount
            self.balances[to] = self.balances.get(to, 0) + amount
        self.events.extend(effects.events)
        self.applied += 1

    # conveniences for tests
    def value(self, contract: str, key: str) -> Any:
        raw = self.store.get((contract, key))
        return None if raw is None else codec.decode(raw)

    def snapshot(self) -> dict:
        """Everything a call can change, as plain data (for comparisons)."""
        return {
            "store": {f"{c}/{k}": v.hex() for (c, k), v in sorted(self.store.items())},
            "balances": dict(sorted(self.balances.items())),
            "events": [e.to_obj() for e in self.events],
        }
