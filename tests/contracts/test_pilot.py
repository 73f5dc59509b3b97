"""Pilot queries run in a limited worker process: a pilot that exhausts it costs the query, never the node.

The first tests drive :func:`run_pilot` directly against a ``MemoryHost``;
the last starts a real validator process (``tests/e2e/harness.py``) with
small worker limits and sends pilots over gRPC (``EvalLaw`` with a source).
"""

from __future__ import annotations

import threading

import grpc
import pytest

from contracts.runtime import CheckError, ErrorCode, MemoryHost
from contracts.runtime.pilot import PilotError, run_pilot
from ledger.codec import decode
from wallet.client import ClientError

SPIN = "ENTRIES = ('f',)\ndef f():\n    while True:\n        pass\n"
HOG = "ENTRIES = ('f',)\ndef f():\n    x = []\n    for i in range(15):\n        x.append('x' * 4_000_000)\n    return len(x)\n"
GOOD = (
    "ENTRIES = ('main',)\nVIEWS = ('v',)\n"
    "def main(x):\n    storage.set('k', x)\n    emit('e', {'a': x})\n    return [ctx.balance('alice'), call('o', 'main', {})]\n"
    "def v():\n    return storage.get('k', 3)\n"
)


def _host() -> MemoryHost:
    return MemoryHost(sender="alice", balances={"alice": 10},
                      contracts={"o": "ENTRIES = ('main',)\ndef main():\n    return 5\n"})


def test_pilot_reads_the_host_through_the_node_and_reports_effects():
    host = _host()
    res, effects, read_only = run_pilot("p", GOOD, "main", {"x": 4}, host, 10**6)
    assert res.code == 0 and res.value == [10, 5] and not read_only
    assert effects.writes == [("p", "k", b"\x04")] and [e.data for e in effects.events] == [{"a": 4}]
    assert host.applied == 0 and not host.store  # reported, never applied
    res, _, read_only = run_pilot("p", GOOD, "v", {}, host, 10**6)
    assert res.code == 0 and res.value == 3 and read_only
    res, _, _ = run_pilot("p", GOOD, "nope", {}, host, 10**6)
    assert res.code == ErrorCode.UNKNOWN_ENTRY


def test_refused_source_is_a_check_error():
    with pytest.raises(CheckError) as e:
        run_pilot("p", "import os\n", "f", {}, _host(), 10**6)
    assert "import" in str(e.value)


def test_cpu_exhaustion_fails_the_query():
    with pytest.raises(PilotError, match="CPU"):
        run_pilot("p", SPIN, "f", {}, _host(), 10**12, cpu_seconds=1)


def test_memory_exhaustion_fails_the_query():
    with pytest.raises(PilotError, match="MemoryError"):
        run_pilot("p", HOG, "f", {}, _host(), 10**9, memory_bytes=80 << 20)


def test_wall_time_bound_kills_the_worker():
    with pytest.raises(PilotError, match="wall-time"):
        run_pilot("p", SPIN, "f", {}, _host(), 10**12, cpu_seconds=30, wall_seconds=1.0)


@pytest.mark.slow
def test_node_keeps_answering_after_pilots_exhaust_their_worker(tmp_path, monkeypatch):
    from tests.e2e.harness import Devnet, wait_until

    monkeypatch.setenv("ESOC_PILOT_MEMORY_MB", "80")  # the worker's address space: HOG cannot fit
    net = Devnet(str(tmp_path / "solo"), validators=1).start()
    try:
        with net.nodes[0].client() as c:
            wait_until(lambda: c.status().height >= 2, 30, "two blocks")
            errors: list = []

            def hog():
                try:
                    c.eval_law("", "f", {}, source=HOG)
                except ClientError as e:
                    errors.append((e.status, str(e)))

            threads = [threading.Thread(target=hog) for _ in range(4)]  # more than the worker slots
            for t in threads:
                t.start()
            assert c.status().height >= 2  # answering while the workers die
            for t in threads:
                t.join()
            assert len(errors) == 4
            assert all(code == grpc.StatusCode.RESOURCE_EXHAUSTED and "MemoryError" in d for code, d in errors), errors
            spin = c.eval_law("", "f", {}, source=SPIN)  # gas bounds its CPU: a clean OUT_OF_GAS
            assert spin.code == 100 + ErrorCode.OUT_OF_GAS
            before = c.status().height
            ok = c.eval_law("", "main", {}, source="ENTRIES = ('main',)\ndef main():\n    return 6 * 7\n")
            assert ok.code == 0 and decode(ok.value) == 42
            wait_until(lambda: c.status().height > before, 30, "the chain to go on")
        assert net.nodes[0].proc.poll() is None  # the validator never died
    finally:
        net.stop()
