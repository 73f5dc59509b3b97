"""The rules of Algorithm 1 (L22-L56): one method per line of the paper.

Theory of operation
-------------------
:class:`Rules` is the half of :class:`consensus.engine.Engine` that reads the
state and the message log and fires the paper's guards; the other half
(``engine.py``) admits inputs and keeps the state.  Each ``_rule_Lnn`` checks
its guard and, if it holds, performs the rule's body; it returns True when the
body moved (round, step) or decided, and evaluation then starts again from
the top of ``RULES`` (as Malachite's ``apply`` has one arm per rule).  A rule
that only schedules a timeout or records the valid value returns False and
evaluation goes on.  When no rule returns True the state is a fixpoint.  L49
and L55 look at every round; the others at the current round only.  Rules
that need valid(v) ask for it lazily (``_validity``): only a proposal some rule
could act on is executed.  Each rule can be called alone in a test.
"""

from __future__ import annotations

from typing import Callable

from .events import Decide
from .types import PRECOMMIT, PREVOTE, PROPOSE, Commit

COMMIT = 4  # the engine's step after the decision of the height (re-exported by consensus.engine)


class Rules:
    """The rule methods of the engine (mixed into :class:`~consensus.engine.Engine`)."""

    def _run_rules(self) -> None:
        while self.round_step in (PROPOSE, PREVOTE, PRECOMMIT):
            for rule in self.RULES:
                if rule(self):
                    break
            else:
                return

    def _validity(self, round: int, vid: bytes) -> bool | None:
        """valid(v) if known; otherwise ask the node once and return None."""
        ok = self.validity.get(vid)
        if ok is None:
            self._request_validation(round, vid)
        return ok

    def _rule_L49(self) -> bool:
        # L49: upon PROPOSAL(h, r, v, *) from proposer(h, r) AND 2f+1 PRECOMMIT(h, r, id(v))
        #      while decision[h] = nil
        assert self.keeper is not None
        for r, vid in self.keeper.precommit_quorum_rounds.items():
            if vid not in self.proposals.get(r, {}):
                continue
            if self._validity(r, vid) is True:  # L50
                self._decide(r, vid, self.values[vid], self.keeper.commit_for(r, vid))  # L51
                return True
        return False

    def _decide(self, r: int, vid: bytes, value: bytes, commit: Commit) -> None:
        self.decision = Decide(self.height, r, vid, value, commit)  # L51
        self._set_hrs(self.round, COMMIT)
        self._emit(self.decision)  # L52-54 happen when the node sends StartHeight(h + 1)

    def _rule_L55(self) -> bool:
        # L55: upon f+1 <*, h, round, *, *> with round > round_p
        assert self.keeper is not None
        r = self.keeper.skip_round(self.round)
        if r is None:
            return False
        self._start_round(r)  # L56
        return True

    def _rule_L22(self) -> bool:
        # L22: upon PROPOSAL(h, r, v, -1) from proposer(h, r) while step = propose
        if self.round_step != PROPOSE:
            return False
        r = self.round
        for vid, p in self.proposals.get(r, {}).items():
            if p.pol_round != -1:
                continue
            if self.locked_round == -1 or self.locked_value == vid:  # L23
                ok = self._validity(r, vid)
                if ok is None:
                    continue  # valid(v) not known yet: wait for ValueValidity
                self._vote(PREVOTE, vid if ok else None)  # L24 / L26
            else:
                self._vote(PREVOTE, None)  # L26
            self._set_hrs(r, PREVOTE)  # L27
            return True
        return False

    def _rule_L28(self) -> bool:
        # L28: upon PROPOSAL(h, r, v, vr) AND 2f+1 PREVOTE(h, vr, id(v))
        #      while step = propose and 0 <= vr < r
        if self.round_step != PROPOSE:
            return False
        assert self.keeper is not None
        r = self.round
        for vid, p in self.proposals.get(r, {}).items():
            vr = p.pol_round
            if vr == -1 or not self.keeper.has_quorum_for(vr, PREVOTE, vid):
                continue
            if self.locked_round <= vr or self.locked_value == vid:  # L29
                ok = self._validity(r, vid)
                if ok is None:
                    continue
                self._vote(PREVOTE, vid if ok else None)  # L30 / L32
            else:
                self._vote(PREVOTE, None)  # L32
            self._set_hrs(r, PREVOTE)  # L33
            return True
        return False

    def _rule_L34(self) -> bool:
        # L34-35: upon 2f+1 PREVOTE(h, r, *) while step = prevote for the first time
        assert self.keeper is not None
        r = self.round
        if self.round_step == PREVOTE and ("L34", r) not in self._fired and self.keeper.has_quorum_any(r, PREVOTE):
            self._fired[("L34", r)] = None
            self._schedule(PREVOTE)
        return False

    def _rule_L36(self) -> bool:
        # L36: upon PROPOSAL(h, r, v, *) AND 2f+1 PREVOTE(h, r, id(v))
        #      while valid(v) and step >= prevote for the first time
        assert self.keeper is not None
        r = self.round
        if self.round_step < PREVOTE or ("L36", r) in self._fired:
            return False
        vid = self.keeper.quorum_value(r, PREVOTE)
        if vid is None or vid not in self.proposals.get(r, {}) or self._validity(r, vid) is not True:
            return False
        self._fired[("L36", r)] = None
        changed = False
        if self.round_step == PREVOTE:  # L37
            self.locked_value, self.locked_round = vid, r  # L38-39
            self._vote(PRECOMMIT, vid)  # L40
            self._set_hrs(r, PRECOMMIT)  # L41
            changed = True
        self.valid_value, self.valid_round = vid, r  # L42-43
        assert self.locked_round <= self.valid_round
        return changed

    def _rule_L44(self) -> bool:
        # L44-46: upon 2f+1 PREVOTE(h, r, nil) while step = prevote
        assert self.keeper is not None
        r = self.round
        if self.round_step != PREVOTE or not self.keeper.has_quorum_for(r, PREVOTE, None):
            return False
        self._vote(PRECOMMIT, None)  # L45
        self._set_hrs(r, PRECOMMIT)  # L46
        return True

    def _rule_L47(self) -> bool:
        # L47-48: upon 2f+1 PRECOMMIT(h, r, *) for the first time
        assert self.keeper is not None
        r = self.round
        if ("L47", r) not in self._fired and self.keeper.has_quorum_any(r, PRECOMMIT):
            self._fired[("L47", r)] = None
            self._schedule(PRECOMMIT)
        return False

    # The order of evaluation: decision first (L49), then the round skip
    # (L55), then the current round's rules in the paper's order.
    RULES: tuple[Callable[..., bool], ...] = (
        _rule_L49, _rule_L55, _rule_L22, _rule_L28, _rule_L34, _rule_L36, _rule_L44, _rule_L47,
    )
