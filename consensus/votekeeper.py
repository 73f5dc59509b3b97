"""The vote keeper: the message log of one height, counted by voting power.

Theory of operation
-------------------
The paper's rules are guards over "the messages received so far"
(``2f+1 <PREVOTE, h, r, id(v)>`` and so on).  The vote keeper is that log
for the current height, kept in a form the guards can read in O(1):

* for every round and vote type, the first vote of each validator, the
  power per value id (``None`` is nil) and the total power that voted;
* for every round, the power of the distinct validators that sent *any*
  vote in it (the ``f+1`` of the round skip, L55);
* the rounds where some value reached a precommit quorum (candidates for
  the decision rule L49, which looks at every round, not only the current).

Counting follows the paper's guards literally.  "2f+1 <PREVOTE, h, r, id(v)>"
is a set of such messages from distinct validators, so a validator counts
towards every value it has signed a vote for -- including a second,
conflicting vote.  Counting only the first vote would let an equivocator
show different polkas to different nodes and keep them apart forever (a
livelock the Twins sweep finds within a few hundred scenarios; CometBFT
works around it with its ``peerMaj23`` tracking).  "2f+1 <PREVOTE, h, r, *>"
and the f+1 of the round skip count each validator once.  A validator's
second, different vote for ``(round, type)`` also yields
:class:`~consensus.types.Evidence` made of the two signed votes; further
votes beyond two are ignored -- unless they are for the value of a proposal
of this height (:meth:`VoteKeeper.want`) -- so an equivocator cannot grow
the log beyond two votes plus one per proposed value.  The exception
matters: a storm of junk values sent first must not hide the equivocator's
vote for a real value, which an honest node may have counted in a polka and
locked on; every honest node must be able to count it too, or the locked
and the unlocked stay apart forever (the Twins sweep with ``vote_storm``
found this livelock).  An identical copy is a duplicate and ignored.  Signatures are checked
by the caller before votes get here; the keeper trusts what it is given.

Bounds (what one Byzantine validator can make the keeper hold).  The keeper
knows the engine's current round (:meth:`VoteKeeper.set_round`).  Votes of
the current and the next round, and of past rounds, are always accepted
(past rounds are bounded by the current round, which no f validators can
push: a round starts on a timeout or on f+1 senders).  Rounds above the
next are *future* rounds: each sender keeps votes in at most
``FUTURE_ROUNDS_PER_SENDER`` of them -- its highest ones; a vote for a
higher round evicts that sender's votes of its lowest future round, and a
vote below all of them is refused, and so is an eviction beyond
``EVICTIONS_PER_ROUND`` per sender while our round stays the same (an
ascending flood is then neither verified nor logged).  So a flood of signed votes at 10,000
future rounds costs the keeper a handful of rounds, never refuses an honest
vote of another sender, and never refuses anyone's current or next round.
An honest validator votes in one round at a time, so its latest rounds are
the ones kept, which is all the round skip (L55) needs.
:meth:`VoteKeeper.admissible` answers, before any signature check or WAL
write, whether :meth:`add` would change anything.

Nothing here iterates a set or depends on ``hash()``: dicts iterate in
insertion order, which is the order events arrived in, which is what the
WAL replays.
"""

from __future__ import annotations

from .types import PRECOMMIT, PREVOTE, Commit, Evidence, ValidatorSet, Vote


class _Tally:
    """Votes of one type in one round."""

    __slots__ = ("votes", "power_by_value", "total")

    def __init__(self) -> None:
        self.votes: dict[bytes, list[Vote]] = {}
        self.power_by_value: dict[bytes | None, int] = {}
        self.total = 0

    def has(self, vote: Vote) -> bool:
        return any(v.value_id == vote.value_id for v in self.votes.get(vote.validator, ()))


class RoundVotes:
    __slots__ = ("prevotes", "precommits", "senders", "sender_power")

    def __init__(self) -> None:
        self.prevotes = _Tally()
        self.precommits = _Tally()
        self.senders: dict[bytes, None] = {}
        self.sender_power = 0

    def tally(self, vote_type: int) -> _Tally:
        return self.prevotes if vote_type == PREVOTE else self.precommits


class VoteKeeper:
    """All votes of one height."""

    MAX_VOTES_PER_VALIDATOR = 2  # per (round, type): one vote, or one equivocation
    FUTURE_ROUNDS_PER_SENDER = 4  # rounds above current + 1 kept per sender
    EVICTIONS_PER_ROUND = 8  # per sender, while the current round stays the same

    def __init__(self, height: int, valset: ValidatorSet):
        self.height = height
        self.valset = valset
        self.current_round = 0
        self.rounds: dict[int, RoundVotes] = {}
        self.evidence_seen: dict[tuple[bytes, int, int], None] = {}
        # value ids of the height's proposals: a vote for one is admitted beyond the cap
        self.wanted: dict[bytes, None] = {}
        # rounds in which some value id has a precommit quorum, in order found
        self.precommit_quorum_rounds: dict[int, bytes] = {}
        # rounds whose senders hold more than 1/3 of the power (L55 candidates)
        self._one_third: dict[int, None] = {}
        # per sender, its future rounds (above current + 1 when admitted), ascending
        self._future: dict[bytes, list[int]] = {}
        self._evictions: dict[bytes, int] = {}
        self.evicted_rounds = 0

    def want(self, value_id: bytes) -> None:
        """``value_id`` is proposed at this height: votes for it pass the equivocation cap."""
        self.wanted[value_id] = None

    def set_round(self, r: int) -> None:
        """The engine's current round (it only grows within a height)."""
        if r > self.current_round:
            self.current_round = r
            self._evictions = {}

    def round(self, r: int) -> RoundVotes:
        rv = self.rounds.get(r)
        if rv is None:
            rv = self.rounds[r] = RoundVotes()
        return rv

    def _future_of(self, validator: bytes) -> list[int]:
        """The sender's rounds that are still future rounds (pruned as the round moves)."""
        mine = self._future.get(validator)
        if mine is None:
            return []
        horizon = self.current_round + 1
        if mine and mine[0] <= horizon:
            mine[:] = [r for r in mine if r > horizon]
        return mine

    def admissible(self, vote: Vote) -> bool:
        """Would :meth:`add` count ``vote``?  (Cheap: no signature, no state change.)"""
        if vote.height != self.height or self.valset.power_of(vote.validator) == 0:
            return False
        rv = self.rounds.get(vote.round)
        if rv is not None:
            mine = rv.tally(vote.type).votes.get(vote.validator)
            if mine is not None and (
                any(v.value_id == vote.value_id for v in mine)
                or (len(mine) >= self.MAX_VOTES_PER_VALIDATOR and vote.value_id not in self.wanted)
            ):
                return False
        if vote.round <= self.current_round + 1:
            return True
        fut = self._future_of(vote.validator)
        if vote.round in fut or len(fut) < self.FUTURE_ROUNDS_PER_SENDER:
            return True
        return vote.round > fut[0] and self._evictions.get(vote.validator, 0) < self.EVICTIONS_PER_ROUND

    def add(self, vote: Vote) -> tuple[bool, Evidence | None]:
        """Count ``vote``; return (counted, evidence if it is a new equivocation)."""
        if not self.admissible(vote):
            return False, None
        if vote.round > self.current_round + 1:
            self._admit_future(vote.validator, vote.round)
        power = self.valset.power_of(vote.validator)
        rv = self.round(vote.round)
        t = rv.tally(vote.type)
        mine = t.votes.get(vote.validator)
        evidence = None
        if mine is None:
            t.votes[vote.validator] = [vote]
            t.total += power
        else:
            mine.append(vote)
            key = (vote.validator, vote.round, vote.type)
            if key not in self.evidence_seen:
                self.evidence_seen[key] = None
                evidence = Evidence.from_votes(mine[0], vote)
        t.power_by_value[vote.value_id] = t.power_by_value.get(vote.value_id, 0) + power
        if vote.validator not in rv.senders:
            rv.senders[vote.validator] = None
            rv.sender_power += power
            if self.valset.is_one_third(rv.sender_power):
                self._one_third[vote.round] = None
        if (
            vote.type == PRECOMMIT
            and vote.value_id is not None
            and vote.round not in self.precommit_quorum_rounds
            and self.valset.is_quorum(t.power_by_value[vote.value_id])
        ):
            self.precommit_quorum_rounds[vote.round] = vote.value_id
        return True, evidence

    def _admit_future(self, validator: bytes, r: int) -> None:
        fut = self._future_of(validator)
        if r in fut:
            return
        if len(fut) >= self.FUTURE_ROUNDS_PER_SENDER:
            self._evictions[validator] = self._evictions.get(validator, 0) + 1
            self._evict(validator, fut.pop(0))
        fut.append(r)
        fut.sort()
        self._future[validator] = fut

    def _evict(self, validator: bytes, r: int) -> None:
        """Forget every vote of ``validator`` in round ``r`` (a future round)."""
        rv = self.rounds.get(r)
        if rv is None or validator not in rv.senders:
            return
        power = self.valset.power_of(validator)
        for t in (rv.prevotes, rv.precommits):
            for v in t.votes.pop(validator, ()):
                left = t.power_by_value[v.value_id] - power
                if left:
                    t.power_by_value[v.value_id] = left
                else:
                    del t.power_by_value[v.value_id]
        rv.prevotes.total = sum(self.valset.power_of(k) for k in rv.prevotes.votes)
        rv.precommits.total = sum(self.valset.power_of(k) for k in rv.precommits.votes)
        del rv.senders[validator]
        rv.sender_power -= power
        self.evicted_rounds += 1
        if not self.valset.is_one_third(rv.sender_power):
            self._one_third.pop(r, None)
        vid = self.precommit_quorum_rounds.get(r)
        if vid is not None and not self.valset.is_quorum(rv.precommits.power_by_value.get(vid, 0)):
            del self.precommit_quorum_rounds[r]
        if not rv.senders:
            del self.rounds[r]

    # -- guards ----------------------------------------------------------

    def _tally(self, r: int, vote_type: int) -> _Tally | None:
        rv = self.rounds.get(r)
        return None if rv is None else rv.tally(vote_type)

    def has_quorum_for(self, r: int, vote_type: int, value_id: bytes | None) -> bool:
        """2f+1 votes of ``vote_type`` at round ``r`` for ``value_id`` (None = nil)."""
        t = self._tally(r, vote_type)
        return t is not None and self.valset.is_quorum(t.power_by_value.get(value_id, 0))

    def has_quorum_any(self, r: int, vote_type: int) -> bool:
        """2f+1 votes of ``vote_type`` at round ``r`` for anything (``*``)."""
        t = self._tally(r, vote_type)
        return t is not None and self.valset.is_quorum(t.total)

    def quorum_value(self, r: int, vote_type: int) -> bytes | None:
        """The value id (not nil) with 2f+1 votes at ``r``, if any."""
        t = self._tally(r, vote_type)
        if t is None:
            return None
        for vid, p in t.power_by_value.items():
            if vid is not None and self.valset.is_quorum(p):
                return vid
        return None

    def skip_round(self, above: int) -> int | None:
        """The highest round > ``above`` with f+1 power of senders (L55)."""
        best = None
        for r in self._one_third:
            if r > above and (best is None or r > best):
                best = r
        return best

    def commit_for(self, r: int, value_id: bytes) -> Commit:
        """The commit made of every precommit for ``value_id`` at ``r``."""
        t = self._tally(r, PRECOMMIT)
        assert t is not None
        votes = [v for vs in t.votes.values() for v in vs if v.value_id == value_id]
        return Commit.from_votes(votes)

    def votes_of_round(self, r: int) -> list[Vote]:
        rv = self.rounds.get(r)
        if rv is None:
            return []
        return [v for t in (rv.prevotes, rv.precommits) for vs in t.votes.values() for v in vs]
