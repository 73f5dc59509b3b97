"""Fuzz targets for every consensus decoder and engine entry point (tests and ``make fuzz``).

Theory of operation
-------------------
Two kinds of target, each a function of one byte string, so that the same
target runs under hypothesis (``tests/consensus/test_fuzz.py``, a short
budget in ``make test``), under atheris (coverage-guided, ``python -m
consensus.fuzz --seconds N``, the long budget of ``make fuzz``), or from a
saved crash file.

* :func:`fuzz_decoders` -- the bytes go to every decoder of the room: the
  signed nouns, the validator set, every WAL event kind, a WAL file and the
  signer's state file.  The only exceptions allowed are the room's own
  (:class:`~ledger.codec.CodecError`, :class:`~consensus.wal.WalCorruptError`,
  :class:`~consensus.signer.SignerStateError`).
* :func:`fuzz_engine` -- the bytes are a *program*: each op feeds the engine
  one event built from the next bytes (proposals, votes, timeouts, validity
  answers, decisions and start-heights, at near, far and extreme heights and
  rounds, signed, unsigned or signed by a stranger).  The engine under test
  uses the real weighted round-robin election.  Nothing may raise, and
  every step stays inside its bounds: at most :data:`MAX_VERIFY_PER_STEP`
  signature checks, an election of at most ``ROUND_WINDOW + 2`` steps plus
  the rounds the engine really moved, and the vote table, the proposals and
  the next-height buffer within their caps.

The adversary model is the engine's: validator ``v3`` is Byzantine (signs
anything at any round or height), ``v1`` and ``v2`` are honest (sign only
near the current round), anyone may send unsigned junk in any name.  (With
f + 1 Byzantine keys a far round skip is possible; that is outside the model
and noted in docs/security.md.)
"""

from __future__ import annotations

import argparse
import sys

from ledger.codec import CodecError
from ledger.crypto import PrivateKey

from .engine import MAX_FUTURE_PER_SENDER, ROUND_WINDOW, Engine
from .events import (
    EVENT_KINDS,
    DecisionLearned,
    GetValue,
    ProposalReceived,
    ProposalSigned,
    SignProposal,
    SignVote,
    StartHeight,
    TimeoutFired,
    ValidateValue,
    ValueToPropose,
    ValueValidity,
    VoteReceived,
    VoteSigned,
)
from .signer import DoubleSignError, Signer, SignerStateError
from .sim.disk import MemFile, MemStorage
from .timeouts import SIM_TIMEOUTS
from .types import PRECOMMIT, PREVOTE, Commit, Evidence, Proposal, ValidatorSet, Vote, value_id_of
from .votekeeper import VoteKeeper
from .wal import WAL, EndHeight, WalCorruptError

CHAIN = "esoc-fuzz"
N = 4
KEYS = [PrivateKey.from_name(f"f{i}", salt="consensus-fuzz") for i in range(N + 1)]  # KEYS[N]: a stranger
VALSET = ValidatorSet.from_powers([(k.public, 1) for k in KEYS[:N]])
VALUES = [b"value-%d" % i for i in range(4)]
MAX_VERIFY_PER_STEP = N + 2  # one message, or one commit of N signatures (+ slack for own answers)
MAX_EFFECTS_PER_STEP = 64
MAX_OPS = 200

_ELECTIONS = [0]  # election steps run on VALSET (counted by a wrapper installed once)


def _count_elections(vs: ValidatorSet) -> None:
    step = vs._elect_step

    def counted(prio):
        _ELECTIONS[0] += 1
        return step(prio)

    object.__setattr__(vs, "_elect_step", counted)


_count_elections(VALSET)

DECODERS = (Vote, Proposal, Commit, Evidence, ValidatorSet, EndHeight, *EVENT_KINDS.values())


def fuzz_decoders(data: bytes) -> None:
    """Every decoder of the room on ``data``: only the room's own errors may escape."""
    for cls in DECODERS:
        try:
            cls.decode(data)
        except CodecError:
            pass
    try:
        WAL(_file(data))
    except WalCorruptError:
        pass
    storage = MemStorage()
    storage.data = data
    try:
        Signer(KEYS[0], CHAIN, storage)
    except SignerStateError:
        pass


def _file(data: bytes) -> MemFile:
    f = MemFile()
    f.durable = data
    return f


class _Bytes:
    def __init__(self, data: bytes):
        self.data, self.i = data, 0

    def more(self) -> bool:
        return self.i < len(self.data)

    def byte(self) -> int:
        b = self.data[self.i] if self.i < len(self.data) else 0
        self.i += 1
        return b

    def pick(self, seq):
        return seq[self.byte() % len(seq)]


class EngineFuzz:
    """One engine (validator v0) and the counters the bounds are checked with."""

    def __init__(self) -> None:
        self.verified = 0
        self.engine = Engine(CHAIN, KEYS[0].public, SIM_TIMEOUTS, verifier=self._verify)
        self.signer = Signer(KEYS[0], CHAIN, MemStorage())

    def _verify(self, pubkey, domain, chain_id, payload, sig) -> bool:
        from ledger.crypto import verify

        self.verified += 1
        return verify(pubkey, domain, chain_id, payload, sig)

    @property
    def elections(self) -> int:
        return _ELECTIONS[0]

    # -- building inputs -------------------------------------------------

    def _height(self, b: _Bytes) -> int:
        h = self.engine.height
        return b.pick([h, h, h, h + 1, h + 2, max(0, h - 1), 2**63, 2**64 - 1])

    def _round(self, b: _Bytes, who: int) -> int:
        r = self.engine.round
        near = [r, r, r + 1, max(0, r - 1), r + 2]
        if who in (N - 1, N):  # the Byzantine validator and the stranger: anything
            near += [r + ROUND_WINDOW + 1, r + 1000 + b.byte(), 2**31 - 1, 2**31]
        return b.pick(near)

    def _sign(self, m, who: int, how: int):
        if how == 0:
            return m  # unsigned
        if how == 1:
            return m.with_signature(bytes(64))
        kind = "vote" if isinstance(m, Vote) else "proposal"
        return m.with_signature(KEYS[who].sign(kind, CHAIN, m.sign_bytes()))

    def event(self, b: _Bytes):
        op = b.byte() % 8
        who = b.pick([1, 2, 3, 3, N])
        how = b.byte() % 3
        if op <= 2:
            t = PREVOTE if b.byte() % 2 else PRECOMMIT
            vid = b.pick([*map(value_id_of, VALUES), None])
            return _maybe(lambda: VoteReceived(self._sign(Vote(t, self._height(b), self._round(b, who), vid, KEYS[who].public), who, how)))
        if op <= 4:
            r = self._round(b, who)
            vr = b.pick([-1, -1, r - 1, 0])
            value = b.pick(VALUES + [b"junk"])
            vid = value_id_of(b.pick(VALUES))
            return _maybe(lambda: ProposalReceived(self._sign(Proposal(self._height(b), r, vid, vr, KEYS[who].public), who, how), value))
        if op == 5:
            return TimeoutFired(self._height(b), self._round(b, 0) % 2**31, b.pick([1, 2, 3]))
        if op == 6:
            return ValueValidity(self._height(b), value_id_of(b.pick(VALUES)), bool(b.byte() % 2))
        if b.byte() % 4 == 0:
            return StartHeight(self.engine.height + 1, VALSET)
        signers = [k for k in KEYS[: N] if b.byte() % 2]
        value = b.pick(VALUES)
        h, r = self._height(b), b.byte()
        votes = [self._sign(Vote(PRECOMMIT, h, r, value_id_of(value), k.public), KEYS.index(k), 2) for k in signers]
        return _maybe(lambda: DecisionLearned(h, value, Commit.from_votes(votes))) if votes else None

    # -- stepping with bounds --------------------------------------------

    def step(self, ev) -> None:
        e = self.engine
        h0, r0, v0, el0 = e.height, e.round, self.verified, self.elections
        queue = list(e.step(ev))
        assert len(queue) <= MAX_EFFECTS_PER_STEP, f"{len(queue)} effects for one event"
        n = 0
        while queue and n < MAX_EFFECTS_PER_STEP:
            n += 1
            queue.extend(self._answer(queue.pop(0)))
        assert self.verified - v0 <= MAX_VERIFY_PER_STEP, f"{self.verified - v0} signature checks for one event"
        moved = e.round + 1 if e.height != h0 else max(0, e.round - r0)
        assert self.elections - el0 <= ROUND_WINDOW + 2 + moved, f"{self.elections - el0} election steps"
        self.check_bounds()

    def _answer(self, eff) -> list:
        e, t = self.engine, type(eff)
        try:
            if t is SignVote:
                return e.step(VoteSigned(self.signer.sign_vote(eff.vote)))
            if t is SignProposal:
                return e.step(ProposalSigned(self.signer.sign_proposal(eff.proposal)))
        except DoubleSignError:
            raise AssertionError("the engine asked for a conflicting signature") from None
        if t is GetValue:
            return e.step(ValueToPropose(eff.height, eff.round, VALUES[eff.round % len(VALUES)]))
        if t is ValidateValue:
            return e.step(ValueValidity(eff.height, eff.value_id, eff.value != VALUES[3]))
        return []

    def check_bounds(self) -> None:
        e = self.engine
        k = e.keeper
        if k is not None:
            assert len(k.rounds) <= e.round + 2 + N * VoteKeeper.FUTURE_ROUNDS_PER_SENDER, "vote table over its bound"
        assert len(e._future) <= N * MAX_FUTURE_PER_SENDER, "next-height buffer over its bound"
        assert all(len(ps) <= len(VALUES) for ps in e.proposals.values())
        assert all(r <= e.round + ROUND_WINDOW for r in e.proposals), "a proposal beyond the window was kept"


def _maybe(build):
    """Build an input; a combination the types refuse (e.g. pol_round >= round) is no input."""
    try:
        return build()
    except (CodecError, ValueError):
        return None


def fuzz_engine(data: bytes) -> None:
    """Feed the program in ``data`` to a fresh engine; raise AssertionError on a broken bound."""
    f = EngineFuzz()
    b = _Bytes(data)
    f.step(StartHeight(1, VALSET))
    ops = 0
    while b.more() and ops < MAX_OPS:
        ops += 1
        ev = f.event(b)
        if ev is not None:
            f.step(ev)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m consensus.fuzz", description="coverage-guided fuzzing (atheris)")
    ap.add_argument("target", choices=["decoders", "engine"])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("corpus", nargs="*")
    args = ap.parse_args(argv)
    import atheris  # optional: pip install atheris (``make fuzz`` does)

    target = fuzz_decoders if args.target == "decoders" else fuzz_engine
    atheris.instrument_all()  # coverage of every loaded module (consensus, ledger.codec, ...)
    atheris.Setup([sys.argv[0], f"-max_total_time={args.seconds}", "-max_len=4096", *args.corpus], target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
