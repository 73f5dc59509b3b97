"""kill -9 a node under load: it restarts at its last committed height, serves
exactly its committed blocks, and its state equals a fresh replay of them."""

from __future__ import annotations

from ledger.block import Block
from ledger.store import ChainStore
from chain.app import open_application
from ledger.genesis import Genesis

from .harness import Devnet, Load, wait_until


def replay_and_compare(home: str, genesis_path: str, tmp: str) -> int:
    src = ChainStore(home)
    with open(genesis_path) as f:
        genesis = Genesis.from_json(f.read())
    fresh = ChainStore(tmp)
    app = open_application(fresh, genesis)
    top = src.height()
    assert src.state_root(0) == fresh.state_root(0)
    for h in range(1, top + 1):
        raw = src.block_bytes(h)
        assert raw is not None, f"block {h} missing below the committed height {top}"
        blk = Block.decode(raw)
        assert blk.header.height == h
        commit = src.commit(h)
        assert commit is not None and commit.value_id == blk.hash
        ex = app.execute_block(blk)
        app.commit(ex, commit)
        assert fresh.state_root(h) == src.state_root(h) == blk.header.state_root, f"root differs at {h}"
        assert [r.encode() for r in fresh.receipts(h)] == [r.encode() for r in src.receipts(h)]
    assert src.block_bytes(top + 1) is None
    src.close()
    fresh.close()
    return top


def test_sigkill_under_load_then_restart(tmp_path):
    net = Devnet(str(tmp_path / "net"), validators=1, block_interval_ms=30).start()
    node = net.nodes[0]
    load = Load(net, batch=50)
    load.start()
    try:
        for round_ in range(3):
            with node.client() as c:
                h0 = c.status().height
                wait_until(lambda: c.status().height >= h0 + 8 and len(load.acked) > round_, 60, "progress under load")
                before_kill = c.status().height
            node.kill()
            node.start()
            node.wait_ready()
            with node.client() as c:
                after = c.status().height
                assert after >= before_kill  # nothing committed was lost
                for h in load.acked:
                    r = c.tx(h)
                    assert r.found and not r.pending, "an acknowledged transaction was lost"
    finally:
        load.stop()
        net.stop()
    assert load.sent > 0
    top = replay_and_compare(node.home + "/data", node.home + "/genesis.json", str(tmp_path / "replay"))
    assert top >= 24


def test_unpipelined_commit_commits_and_restarts_at_its_height(tmp_path):
    """``pipelined_commit = false``: each block written on the consensus thread before the next height;
    blocks commit under load, and after a kill -9 the node resumes with every block it reported."""
    net = Devnet(str(tmp_path / "net"), validators=1, block_interval_ms=30, pipelined_commit=False).start()
    node = net.nodes[0]
    load = Load(net, batch=20)
    load.start()
    try:
        with node.client() as c:
            h0 = c.status().height
            wait_until(lambda: c.status().height >= h0 + 5 and len(load.acked) > 0, 60, "progress without the pipeline")
            before_kill = c.status().height
        node.kill()
        node.start()
        node.wait_ready()
        with node.client() as c:
            assert c.status().height >= before_kill
    finally:
        load.stop()
        net.stop()
    assert replay_and_compare(node.home + "/data", node.home + "/genesis.json", str(tmp_path / "replay")) >= before_kill
