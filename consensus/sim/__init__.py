"""Deterministic simulation of n consensus engines (tests and benchmarks only).

* :mod:`.world` -- the seeded clock/event queue, the nodes, the invariants;
* :mod:`.network` -- delays, drops, duplicates, reordering, partitions;
* :mod:`.disk` -- in-memory files with fsync semantics and torn writes;
* :mod:`.node` -- a node shell around the engine (the reference for how a
  real node performs effects) with a toy application and sync;
* :mod:`.scenarios` -- the named multi-node scenarios;
* :mod:`.twins` -- Twins generation and sweeps.

Replay one run: ``python -m consensus.sim --seed N --scenario NAME``.
"""
