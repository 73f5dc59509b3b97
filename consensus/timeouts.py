"""Round timeouts: linear growth per round, reset per height, capped.

The paper requires ``timeoutX(r + 1) > timeoutX(r)`` so that after GST the
timeouts eventually exceed the message delay; it uses
``timeoutX(r) = initX + r * delta`` and resets at every height
(arXiv:1807.04938, section on timeouts).  We add a cap (``max_ms``) so a
long halt cannot push timeouts to hours (tendermint #1464); choose the cap
above your worst-case network delay, and alert on the round number.

Durations are integer milliseconds: no floats anywhere in consensus.
"""

from __future__ import annotations

import dataclasses

from .types import PRECOMMIT, PREVOTE, PROPOSE


@dataclasses.dataclass(frozen=True)
class TimeoutConfig:
    """Initial timeouts per step, the per-round increment, and the cap (ms)."""

    propose_ms: int = 3000
    prevote_ms: int = 1000
    precommit_ms: int = 1000
    delta_ms: int = 500
    max_ms: int = 60_000

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if type(v) is not int or v < 0:
                raise ValueError(f"TimeoutConfig.{f.name} must be a non-negative integer (ms)")

    def duration(self, step: int, round: int) -> int:
        """Milliseconds to wait for ``step``'s timeout in ``round``."""
        init = {PROPOSE: self.propose_ms, PREVOTE: self.prevote_ms, PRECOMMIT: self.precommit_ms}[step]
        return min(init + round * self.delta_ms, self.max_ms)


# Short timeouts for simulations and tests (CometBFT's test config is similar).
SIM_TIMEOUTS = TimeoutConfig(propose_ms=300, prevote_ms=100, precommit_ms=100, delta_ms=50, max_ms=3000)
