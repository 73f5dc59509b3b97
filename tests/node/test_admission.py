"""Admission bounded by time (node/admission.py), on a simulated clock."""

from ledger import codes
from node.admission import Admission, retry_after_ms


def _run_blocks(a: Admission, t0: float, n_blocks: int, per_block: int, interval: float) -> float:
    t = t0
    for _ in range(n_blocks):
        t += interval
        a.on_commit(t, per_block)
    return t


def test_before_any_measure_one_block_is_admitted():
    a = Admission(latency_bound_s=2.0, floor=5000)
    assert a.capacity(0.0) == 0.0
    assert a.room(0.0, 0) == 5000
    assert a.room(0.0, 4000) == 1000
    assert a.room(0.0, 6000) == 0


def test_room_is_rate_times_bound_minus_queue():
    a = Admission(latency_bound_s=2.0, floor=100)
    t = _run_blocks(a, 0.0, 11, 500, 0.5)  # 1000 tx/s
    assert abs(a.rate(t) - 1000.0) < 1e-6
    assert a.room(t, 0) == 2000
    assert a.room(t, 1500) == 500
    assert a.room(t, 2500) == 0


def test_capacity_remembers_the_peak_when_the_load_drops():
    a = Admission(latency_bound_s=2.0, floor=100, window_s=10.0, peak_window_s=60.0)
    t = _run_blocks(a, 0.0, 21, 1000, 0.5)  # 2000 tx/s under overload
    t = _run_blocks(a, t, 30, 50, 0.5)  # then a quiet spell: 100 tx/s
    assert a.rate(t) < 200
    assert a.capacity(t) >= 1999  # still the measured capacity
    t = _run_blocks(a, t, 200, 50, 0.5)  # 100 s later the peak has aged out
    assert a.capacity(t) < 200


def test_refusal_carries_a_retry_hint_sized_from_the_rate():
    a = Admission(latency_bound_s=2.0, floor=100)
    t = _run_blocks(a, 0.0, 11, 500, 0.5)  # 1000 tx/s: the bound is 2000 queued
    code, reason = a.refusal(t, 4000)  # 2000 over the bound: ~2 s to drain
    assert code == codes.MEMPOOL_FULL
    ms = retry_after_ms(reason)
    assert ms is not None and 2000 <= ms <= 3000
    assert retry_after_ms(a.refusal(t, 2100)[1]) < ms  # closer to the bound: a shorter wait
    assert a.refused == 2
    assert retry_after_ms("mempool is full") is None


def test_window_is_bounded():
    a = Admission(max_blocks=16)
    _run_blocks(a, 0.0, 1000, 1, 0.001)
    assert len(a._blocks) <= 16 and len(a._peaks) <= 16


def test_the_wallet_waits_what_the_node_hints():
    from wallet.client import backoff_s

    a = Admission(latency_bound_s=2.0, floor=100)
    t = _run_blocks(a, 0.0, 11, 500, 0.5)
    reason = a.refusal(t, 4000)[1]
    hint = retry_after_ms(reason) / 1000
    for attempt in range(3):
        w = backoff_s(reason, attempt)
        assert hint <= w <= hint * 1.25
    assert 2.0 <= backoff_s("mempool is full", 3) <= 2.5  # no hint: exponential
