"""Block time (issue 14 fault 3): bounded deterministically by the application, and
against the clock by the consensus driver for proposals only; a build error never
stops the driver.

Before the fix a byzantine proposer's block stamped 2^64 - 1 (or a year ahead) was
accepted, and each next proposer crashed in ``_build`` (the next time does not encode).
"""

from __future__ import annotations

import pytest

import chain.app
from chain.app import MAX_BLOCK_TIME_MS
from chain.errors import InvalidBlock
from consensus.types import PRECOMMIT, Vote
from consensus.types import Commit as CCommit
from ledger.block import Block, Commit
from node.consensus_driver import ConsensusDriver

from .conftest import make_home

YEAR_MS = 365 * 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000
NOW = 1_900_000_000_000  # the driver's clock in these tests


def driver_of(node, now: int = NOW) -> ConsensusDriver:
    d = ConsensusDriver(node)
    d.clock_ms = lambda: now
    return d


def byzantine_block(node, time_ms: int) -> bytes:
    """A block stamped ``time_ms`` as a proposer with no bound of its own would build it."""
    mp = pytest.MonkeyPatch()
    mp.setattr(chain.app, "MAX_BLOCK_TIME_MS", 2**64 - 1, raising=False)
    try:
        raw = node.app.build_block(time_ms, node.key, None).raw  # the key proves the beacon
    finally:
        mp.undo()
    node.app._executed.clear()  # judged afresh, as a block from another node is
    return raw


def commit_of(node, blk: Block) -> Commit:
    """The one validator's precommit for ``blk``, as a commit."""
    v = Vote(PRECOMMIT, blk.height, 0, blk.hash, node.pubkey)
    v = v.with_signature(node.key.sign("vote", node.chain_id, v.sign_bytes()))
    return Commit.decode(CCommit.from_votes([v]).encode())


def test_block_time_past_the_hard_maximum_is_invalid_on_replay_too(node):
    raw = byzantine_block(node, 2**64 - 1)
    with pytest.raises(InvalidBlock, match="past the last block time"):
        node.app.execute_block(Block.decode(raw))  # the deterministic check: no clock involved
    assert driver_of(node, now=2**64)._validate(1, raw) is False  # whatever the clock says
    with pytest.raises(InvalidBlock, match="cannot build"):
        node.app.build_block(MAX_BLOCK_TIME_MS + 1, node.pubkey, None)


def test_proposal_far_ahead_of_the_local_clock_is_refused(node):
    d = driver_of(node)
    assert d._validate(1, byzantine_block(node, NOW + YEAR_MS)) is False
    assert d._validate(1, byzantine_block(node, NOW + node.config.block_time_drift_ms + 1)) is False
    # within the drift allowance, or behind the clock: valid
    assert d._validate(1, byzantine_block(node, NOW + node.config.block_time_drift_ms)) is True
    assert d._validate(1, byzantine_block(node, NOW - 60_000)) is True


def test_a_decided_block_is_not_judged_by_the_clock(node):
    """Sync and WAL replay commit a decided block whatever this node's clock says now."""
    raw = byzantine_block(node, NOW + YEAR_MS)
    ex = node.app.execute_block(Block.decode(raw))  # what _commit runs for a decided block
    node.app.commit(ex, None)
    assert node.app.last_time_ms() == NOW + YEAR_MS


def test_build_never_raises_and_proposes_nothing_when_it_cannot(node):
    ex = node.app.execute_block(Block.decode(byzantine_block(node, MAX_BLOCK_TIME_MS)))
    node.app.commit(ex, None)  # the last possible block time: no block can follow
    d = driver_of(node)
    assert d._build(2) is None  # logged, no exception: the round's timeout moves on


def test_build_stamps_the_clock_and_its_block_is_valid(node):
    d = driver_of(node)
    raw = d._build(1)
    assert Block.decode(raw).header.time_ms == NOW
    node.app._executed.clear()
    assert driver_of(node, now=NOW - 1000)._validate(1, raw) is True  # a peer 1 s behind accepts it


def test_simulated_clock_devnet_still_runs(tmp_path):
    """``block_time_step_ms``: blocks a day apart, far ahead of the wall clock, are valid."""
    from node.service import Node

    node = Node(make_home(tmp_path, block_time_step_ms=DAY_MS))
    try:
        d = driver_of(node, now=node.app.last_time_ms())
        for h in (1, 2, 3):
            raw = d._build(h)
            blk = Block.decode(raw)
            assert blk.header.time_ms == node.genesis.genesis_time_ms + h * DAY_MS
            node.app._executed.clear()
            assert d._validate(h, raw) is True
            node.app.commit(node.app.execute_block(blk), commit_of(node, blk))
        # a proposer jumping further than the step plus the drift is refused
        too_far = node.app.last_time_ms() + DAY_MS + node.config.block_time_drift_ms + 1
        assert d._validate(4, byzantine_block(node, too_far)) is False
    finally:
        node.store.close()
