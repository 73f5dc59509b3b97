"""The signature workers (node/verifier.py): right verdicts in order, a bounded queue, survival of a killed worker."""

from __future__ import annotations

import os
import signal

import pytest

from ledger.crypto import PrivateKey
from ledger.tx import Transfer, decode_tx, sign_tx
from node.consensus_driver import _decode_verify_batch
from node.verifier import MAX_CHUNK, VerifyPool, verify_txs

KEY = PrivateKey.from_name("verifier", salt="test")
OTHER = PrivateKey.from_name("other", salt="test")


def _txs(n: int, bad: set[int]) -> list:
    out = []
    for i in range(n):
        tx = sign_tx(KEY, "esoc", "transfer", Transfer(to=b"\x01" * 20, amount=i + 1), i, 100)
        raw = tx.raw
        if i in bad:  # a signature by another key over the same body
            raw = raw[:-64] + OTHER.sign("tx", "esoc", tx.body_bytes)
        out.append(decode_tx(raw))
    return out


@pytest.fixture
def pool():
    p = VerifyPool(workers=2, max_in_flight=2)
    yield p
    p.close()


def test_verdicts_come_back_in_order_across_chunks(pool):
    n = MAX_CHUNK + 40
    bad = {0, 3, MAX_CHUNK - 1, MAX_CHUNK, n - 1}
    txs = _txs(n, bad)
    assert pool.verify(txs) == [i not in bad for i in range(n)]
    assert verify_txs(pool, txs[:5]) == [i not in bad for i in range(5)]  # a few: checked inline


def test_the_queue_is_bounded():
    pool = VerifyPool(workers=1, max_in_flight=1)
    try:
        pool.start()
        pids = pool.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)  # the worker holds still: the one slot stays taken
        try:
            txs = _txs(3, {1})
            first = pool.submit(txs, block=False)
            assert first is not None
            assert pool.submit(txs, block=False) is None  # full: refused, not queued
            assert pool.submit(txs, block=False) is None
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        assert first.result() == [True, False, True]
        assert pool.verify(txs) == [True, False, True]  # the slot is free again
    finally:
        pool.close()


def test_a_killed_worker_costs_no_verdict(pool):
    txs = _txs(100, {7})
    pool.start()
    for pid in pool.pids():
        os.kill(pid, signal.SIGKILL)
    assert pool.verify(txs) == [i != 7 for i in range(100)]  # inline, the pool marked broken
    assert pool.verify(txs) == [i != 7 for i in range(100)]  # and a fresh pool the next time


def test_relayed_batches_drop_malformed_and_wrongly_signed(pool):
    txs = _txs(40, {5})
    raws = [t.raw for t in txs]
    raws[9] = b"\x82garbage"
    out = _decode_verify_batch(raws, pool)
    assert [i for i, t in enumerate(out) if t is None] == [5, 9]
    assert out[0].hash == txs[0].hash


CHILD = """
import sys
from node.verifier import VerifyPool
p = VerifyPool(workers=2)
p.start()
print(" ".join(str(x) for x in p.pids()), flush=True)
sys.stdin.read()
"""


def test_workers_end_when_the_node_is_killed():
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd=os.getcwd())
    pids = [int(x) for x in proc.stdout.readline().split()]
    assert len(pids) == 2
    proc.kill()  # kill -9: no cleanup runs in the node
    proc.wait()
    deadline = time.monotonic() + 30
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.1)
    assert alive == [], f"workers {alive} outlived the node"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped by init) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


def test_a_worker_killed_mid_batch_costs_no_verdict_to_any_caller(monkeypatch):
    """Several callers with batches owed by one worker, which is killed while it checks them: every
    caller still gets the right verdicts (inline), and the next batch goes to a new worker."""
    import threading

    pool = VerifyPool(workers=1, max_in_flight=8)
    try:
        pool.start()
        [pid] = pool.pids()
        batches = [_txs(64, {3 * k}) for k in range(4)]  # small frames: they fit in the pipe while it is stopped
        os.kill(pid, signal.SIGSTOP)  # it holds still, so the batches are all owed when it dies
        pendings = [pool.submit(b) for b in batches]
        assert all(p is not None and not p.done() for p in pendings)
        results: dict[int, list] = {}
        threads = [threading.Thread(target=lambda k=k: results.__setitem__(k, pendings[k].result())) for k in range(4)]
        for t in threads:
            t.start()
        os.kill(pid, signal.SIGKILL)
        for t in threads:
            t.join(timeout=60)
        for k in range(4):
            assert results[k] == [i != 3 * k for i in range(64)]
        txs = _txs(40, {1})
        assert pool.verify(txs) == [i != 1 for i in range(40)]
        assert pool.pids() and pool.pids() != [pid]  # started again
    finally:
        pool.close()


def test_a_hung_worker_is_given_up_after_the_wait(monkeypatch):
    import node.verifier as verifier

    monkeypatch.setattr(verifier, "WAIT_S", 0.5)  # a hang is declared after half a second here
    pool = VerifyPool(workers=1, max_in_flight=2)
    try:
        pool.start()
        [pid] = pool.pids()
        os.kill(pid, signal.SIGSTOP)  # hung: it never answers
        txs = _txs(50, {2})
        assert pool.verify(txs) == [i != 2 for i in range(50)]  # checked inline once the wait ran out
        assert _gone_within(pid, 30)  # the hung worker was killed (SIGKILL lands asynchronously), not left behind
        assert pool.verify(txs) == [i != 2 for i in range(50)]  # by a new worker
        assert pool.pids() != [pid]
    finally:
        pool.close()


def test_a_garbled_answer_is_not_taken_for_verdicts(pool):
    """A worker that answers fewer bytes than the batch holds (it failed to read the frame): the batch is
    checked inline, never read short."""
    import node.verifier as verifier

    txs = _txs(40, {4})
    p = pool.submit(txs)
    assert p.result() == [i != 4 for i in range(40)]
    c = verifier._Chunk(txs, lambda: None)
    c.settle(b"\x01" * 39)
    assert c.verdicts is None and c.settled


def test_close_ends_the_workers():
    pool = VerifyPool(workers=2)
    pool.start()
    pids = pool.pids()
    assert len(pids) == 2
    pool.close()
    assert not any(_alive(p) for p in pids)
    with pytest.raises(RuntimeError):
        pool._live()


def _gone_within(pid: int, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
