"""esoc consensus: Tendermint (arXiv:1807.04938, Algorithm 1) as a sans-IO engine.

Public API (see docs/consensus.md for how a node drives it):

* :class:`consensus.engine.Engine` -- ``step(event) -> list[effect]``,
  ``restore(wal_events)``, ``resume()``, ``gossip()``;
* events and effects in :mod:`consensus.events`;
* :mod:`consensus.types` -- ``Vote``, ``Proposal``, ``Commit``,
  ``verify_commit``, ``Evidence``, ``verify_evidence``, ``ValidatorSet``,
  ``ValidatorSchedule``;
* :class:`consensus.signer.Signer` (the only code that signs consensus
  messages) and :class:`consensus.wal.WAL`;
* :class:`consensus.timeouts.TimeoutConfig`;
* :mod:`consensus.rules` -- one method per rule of Algorithm 1 (mixed into the engine);
* :mod:`consensus.beacon` -- the proposer's VRF proof and the chained randomness beacon;
* :mod:`consensus.fuzz` -- fuzz targets for the decoders and the engine (tests and ``make fuzz``);
* :mod:`consensus.sim` -- the deterministic simulator and Twins (tests only).

May import ``ledger`` only.  The engine never touches a socket, a clock or
the disk: time arrives as timeout events and persistence is an effect the
driver (``node.consensus_driver``) performs; only ``signer`` and ``wal``
write files, and only where the driver tells them.
"""

from .engine import COMMIT, STOPPED, Engine
from .signer import DoubleSignError, FileStorage, Signer, SignerStateError
from .timeouts import TimeoutConfig
from .types import (
    PRECOMMIT,
    PREVOTE,
    PROPOSE,
    Commit,
    Evidence,
    InvalidCommit,
    InvalidEvidence,
    Proposal,
    ValidatorSchedule,
    ValidatorSet,
    Vote,
    value_id_of,
    verify_commit,
    verify_evidence,
)
from .wal import WAL, OsFile, WalCorruptError

__all__ = [
    "COMMIT", "STOPPED", "Engine", "DoubleSignError", "FileStorage", "Signer", "SignerStateError",
    "TimeoutConfig", "PRECOMMIT", "PREVOTE", "PROPOSE", "Commit", "Evidence", "InvalidCommit",
    "InvalidEvidence", "Proposal", "ValidatorSchedule", "ValidatorSet", "Vote", "value_id_of",
    "verify_commit", "verify_evidence", "WAL", "OsFile", "WalCorruptError",
]
