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
        pids = list(pool._pool._processes)
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
    for pid in list(pool._pool._processes):
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
print(" ".join(str(x) for x in p._pool._processes), flush=True)
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
