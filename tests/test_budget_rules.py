"""bench_budget's rules charge py-spy frames (``function (path:line)``, qualified names) to the right line."""

from bench.bench_budget import classify


def test_state_commit_under_consensus_is_charged_to_the_state_tree():
    # State.commit called from the driver's _validate: the tree's work, not consensus messages
    stack = ("run (trio/_core/_run.py:1);ConsensusDriver._validate (node/consensus_driver.py:630);"
             "Application.execute_block (chain/app.py:250);State.commit (ledger/state.py:341);"
             "value_hash (ledger/state.py:80)")
    assert classify(stack) == "state tree"
    assert classify(stack.replace("State.commit (ledger/state.py:341);", "")) == "consensus messages"


def test_store_writes_and_waits():
    assert classify("x (a.py:1);ChainStore.write_staged (ledger/store.py:300);put (plyvel:1)") == "LevelDB commit"
    assert classify("x (a.py:1);EpollIOManager.get_events (trio/_core/_io_epoll.py:225)") == "idle"
