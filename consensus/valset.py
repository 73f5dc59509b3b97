"""Validator sets, weighted round-robin proposers, and the H+2 schedule.

Theory of operation
-------------------
A :class:`ValidatorSet` is the list of validators (Ed25519 public key and an
integer voting power) that runs consensus at one height, together with the
*proposer priorities* that CometBFT's weighted round-robin needs (cometbft
``spec/consensus/proposer-selection.md``).  Validators are kept sorted by
public key, so the set has one canonical encoding and one hash; the hash
covers keys and powers only, never priorities (priorities are derived state).

Thresholds are by voting power, computed with integers only:

* a *quorum* ("2f+1") is power ``p`` with ``3 * p > 2 * total``;
* "f+1" (used by the round skip, L55) is ``3 * p > total``.

Proposer selection.  The set carries the priorities ``A`` as they stand
*before* the first election of its height.  One election is::

    rescale A so that max(A) - min(A) <= 2 * P      (once per call)
    centre A around 0                               (once per call)
    repeat k times:  A(i) += VP(i);  prop = argmax A;  A(prop) -= P

with ties broken by the smaller public key and every value clamped to int64,
as the spec says.  The proposer of ``(height, round)`` is the last proposer of
an election of ``round + 1`` steps on the set of that height, and the set of
the next height is this height's set after an election of one step (with any
validator changes applied first).  So across heights the queue moves one step
per height whatever the number of rounds, and inside a height it moves one
step per round, exactly like CometBFT's ``IncrementProposerPriority``.

Validator-set changes (:class:`ValidatorSchedule`).  Updates returned by the
execution of block ``H`` take effect at height ``H + 2`` (the set of ``H + 1``
is already fixed when ``H`` is decided, and goes into ``H``'s header as the
next validators' hash).  Power 0 removes a validator; a new validator starts
with priority ``-(P + P // 8)`` (``-1.125 * P`` in integers), ``P`` being the
new total power.
"""

from __future__ import annotations

import dataclasses

from ledger.block import validator_set_hash
from ledger.codec import Bytes, CodecError, Int, List, Nested, Record, UInt
from ledger.crypto import PUBKEY_SIZE

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
# Total power must stay below MaxInt64/8 so that 1.125 * P never overflows.
MAX_TOTAL_POWER = INT64_MAX // 8
PRIORITY_WINDOW_FACTOR = 2
PROPOSER_CACHE = 1024  # proposers of the last rounds computed, per set


def _clamp(x: int) -> int:
    return INT64_MAX if x > INT64_MAX else INT64_MIN if x < INT64_MIN else x


def _div_trunc(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class ValidatorSetError(CodecError):
    """A malformed validator set or update."""


@dataclasses.dataclass(frozen=True)
class Validator(Record):
    SCHEMA = {"pubkey": Bytes(PUBKEY_SIZE), "power": UInt(MAX_TOTAL_POWER), "priority": Int()}
    pubkey: bytes
    power: int
    priority: int = 0


@dataclasses.dataclass(frozen=True)
class ValidatorSet(Record):
    """The validators of one height, sorted by public key."""

    SCHEMA = {"validators": List(Nested(Validator), max_len=10_000)}
    validators: tuple[Validator, ...]

    def __post_init__(self) -> None:
        vals = tuple(self.validators)
        if not vals:
            raise ValidatorSetError("a validator set cannot be empty")
        keys = [v.pubkey for v in vals]
        if keys != sorted(keys):
            raise ValidatorSetError("validators must be sorted by public key")
        for a, b in zip(keys, keys[1:]):
            if a == b:
                raise ValidatorSetError("duplicate validator public key")
        total = 0
        for v in vals:
            if v.power <= 0:
                raise ValidatorSetError("a validator in a set has positive power")
            total += v.power
        if total > MAX_TOTAL_POWER:
            raise ValidatorSetError("total voting power too large")
        object.__setattr__(self, "validators", vals)
        object.__setattr__(self, "_index", {v.pubkey: i for i, v in enumerate(vals)})
        object.__setattr__(self, "_total", total)
        object.__setattr__(self, "_proposer_cache", {})

    # -- construction ----------------------------------------------------

    @classmethod
    def from_powers(cls, powers: list[tuple[bytes, int]] | dict[bytes, int]) -> "ValidatorSet":
        """A fresh set (all priorities 0) from ``(pubkey, power)`` pairs."""
        items = list(powers.items()) if isinstance(powers, dict) else list(powers)
        items.sort(key=lambda kv: kv[0])
        return cls(tuple(Validator(pk, p, 0) for pk, p in items))

    # -- queries ---------------------------------------------------------

    @property
    def total_power(self) -> int:
        return self._total  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.validators)

    def __contains__(self, pubkey: object) -> bool:
        return pubkey in self._index  # type: ignore[attr-defined]

    def power_of(self, pubkey: bytes) -> int:
        i = self._index.get(pubkey)  # type: ignore[attr-defined]
        return 0 if i is None else self.validators[i].power

    def pubkeys(self) -> list[bytes]:
        return [v.pubkey for v in self.validators]

    def is_quorum(self, power: int) -> bool:
        """More than 2/3 of the total power ("2f+1")."""
        return 3 * power > 2 * self.total_power

    def is_one_third(self, power: int) -> bool:
        """More than 1/3 of the total power ("f+1")."""
        return 3 * power > self.total_power

    def quorum_power(self) -> int:
        """The least power that is a quorum."""
        return (2 * self.total_power) // 3 + 1

    def hash(self) -> bytes:
        """Hash of keys and powers (priorities excluded)."""
        return validator_set_hash({v.pubkey: v.power for v in self.validators})

    # -- proposer selection ----------------------------------------------

    def _start_priorities(self) -> list[int]:
        """The priorities after the once-per-call rescale and centring."""
        total = self.total_power
        prio = [v.priority for v in self.validators]
        # rescale so that max - min <= 2 * P
        diff_max = PRIORITY_WINDOW_FACTOR * total
        diff = max(prio) - min(prio)
        if diff > diff_max:
            ratio = (diff + diff_max - 1) // diff_max
            prio = [_div_trunc(p, ratio) for p in prio]
        # centre around 0 (big.Int Div is Euclidean: floor for positive n)
        avg = sum(prio) // len(prio)
        return [_clamp(p - avg) for p in prio]

    def _elect_step(self, prio: list[int]) -> int:
        """One election step on ``prio`` (in place); returns the proposer's index."""
        vals = self.validators
        for i, v in enumerate(vals):
            prio[i] = _clamp(prio[i] + v.power)
        best = 0
        for i in range(1, len(vals)):
            # strict >: among equal priorities the first (smallest key) wins
            if prio[i] > prio[best]:
                best = i
        prio[best] = _clamp(prio[best] - self.total_power)
        return best

    def _elect(self, times: int) -> tuple[list[int], bytes]:
        """Run ``times`` elections from scratch; return the new priorities and last proposer."""
        if times < 1:
            raise ValueError("times must be >= 1")
        prio = self._start_priorities()
        proposer = 0
        for _ in range(times):
            proposer = self._elect_step(prio)
        return prio, self.validators[proposer].pubkey

    def proposer(self, height: int, round: int) -> bytes:
        """Public key of the proposer of ``round`` at the height of this set.

        Incremental: the set keeps a cursor (the priorities after the last
        election step it ran) and the proposers of the last
        ``PROPOSER_CACHE`` rounds, so asking rounds in increasing order costs
        O(n) per round, and asking round ``r`` costs O((r - cursor) * n) at
        most once.  Nothing here bounds ``round``: the engine only asks for
        rounds inside its window (``consensus.engine.ROUND_WINDOW`` above
        its current round), which is what keeps a peer's round 2^31 from
        costing 2^31 steps.  A round below the cursor that fell out of the
        cache is recomputed from scratch (rare: the engine's rounds only
        grow within a height).

        ``height`` is part of the signature for readability and future use;
        the priorities stored in the set already belong to its height.
        """
        if round < 0:
            raise ValueError("round must be >= 0")
        cache = self._proposer_cache  # type: ignore[attr-defined]
        got = cache.get(round)
        if got is not None:
            return got
        cursor = self.__dict__.get("_cursor")
        if cursor is None or cursor[0] >= round:
            cursor = (-1, self._start_priorities())
        steps, prio = cursor[0], list(cursor[1])
        while steps < round:
            steps += 1
            best = self._elect_step(prio)
            cache[steps] = self.validators[best].pubkey
            if len(cache) > PROPOSER_CACHE:
                del cache[next(iter(cache))]
        object.__setattr__(self, "_cursor", (steps, prio))
        return self.validators[best].pubkey

    def next_height(self) -> "ValidatorSet":
        """The set for the next height when no validator changes apply."""
        prio, _ = self._elect(1)
        return ValidatorSet(tuple(dataclasses.replace(v, priority=p) for v, p in zip(self.validators, prio)))

    def with_updates(self, updates: list[tuple[bytes, int]]) -> "ValidatorSet":
        """Apply ``(pubkey, power)`` updates; power 0 removes.  Priorities kept."""
        cur = {v.pubkey: v for v in self.validators}
        seen: list[bytes] = []
        for pk, power in updates:
            if len(pk) != PUBKEY_SIZE or type(power) is not int or power < 0:
                raise ValidatorSetError("malformed validator update")
            if pk in seen:
                raise ValidatorSetError("duplicate key in one validator update")
            seen.append(pk)
        new_total = 0
        for pk, v in cur.items():
            new_total += v.power
        for pk, power in updates:
            new_total += power - (cur[pk].power if pk in cur else 0)
        if new_total <= 0:
            raise ValidatorSetError("an update may not remove every validator")
        if new_total > MAX_TOTAL_POWER:
            raise ValidatorSetError("total voting power too large")
        for pk, power in updates:
            if power == 0:
                if pk not in cur:
                    raise ValidatorSetError("cannot remove a validator that is not in the set")
                del cur[pk]
            elif pk in cur:
                cur[pk] = dataclasses.replace(cur[pk], power=power)
            else:
                cur[pk] = Validator(pk, power, _clamp(-(new_total + (new_total >> 3))))
        vals = sorted(cur.values(), key=lambda v: v.pubkey)
        # centre so that the priority sum stays near 0 (the spec's new step)
        prio = [v.priority for v in vals]
        avg = sum(prio) // len(prio)
        return ValidatorSet(tuple(dataclasses.replace(v, priority=_clamp(v.priority - avg)) for v in vals))


class ValidatorSchedule:
    """The validator set for every height, given the updates of each block.

    ``record_updates(H, updates)`` says that executing block ``H`` returned
    ``updates``; they take effect at ``H + 2``.  ``set_for(h)`` returns the
    set of height ``h`` (``h >= initial_height``), computed from the genesis
    set by one election step per height.  Updates must be recorded for a
    height before ``set_for`` is asked for a height that depends on them.
    """

    DELAY = 2

    def __init__(self, genesis: ValidatorSet, initial_height: int = 1):
        self.initial_height = initial_height
        self._sets: dict[int, ValidatorSet] = {initial_height: genesis}
        self._updates: dict[int, list[tuple[bytes, int]]] = {}
        self._last = initial_height

    def record_updates(self, height: int, updates: list[tuple[bytes, int]]) -> None:
        if height + self.DELAY <= self._last:
            raise ValidatorSetError(f"updates of block {height} come after the set of {height + self.DELAY} was fixed")
        if updates:
            self._updates[height] = list(updates)

    def set_for(self, height: int) -> ValidatorSet:
        if height < self.initial_height:
            raise ValueError(f"no validator set before height {self.initial_height}")
        while self._last < height:
            h = self._last + 1
            prev = self._sets[self._last]
            upd = self._updates.get(h - self.DELAY)
            base = prev.with_updates(upd) if upd else prev
            self._sets[h] = base.next_height()
            self._last = h
            # keep memory bounded: old sets are rarely needed
            old = h - 256
            if old > self.initial_height and old in self._sets:
                del self._sets[old]
        if height not in self._sets:
            raise ValueError(f"validator set of height {height} is no longer cached")
        return self._sets[height]
