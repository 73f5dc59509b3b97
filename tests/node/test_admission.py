"""Admission bounded by time (node/admission.py), on a simulated clock.

The unit tests pin the cost model, the limit it gives, the refusal and its hint; the
simulation tests (tests/node/admission_sim.py: four validators, relay lag, jittered
blocks, clients that retry after the hint) check the whole loop under twice the
chain's capacity: what is admitted commits within the bound, the chain commits near
the capacity the bound allows, and a rule fed by its own commit rate -- the one this
module replaced -- starves in the same simulation (the negative control)."""

import math
import threading

import pytest

from ledger import codes
from node.admission import MAX_PRESSURE, TRUST, Admission, fit_cycle, retry_after_ms

from .admission_sim import simulate

A, B = 0.3, 1 / 3000  # the simulated chain: 300 ms a block, 333 us a transaction


def _blocks(adm: Admission, t: float, sizes, a: float = A, b: float = B, work: float = 0.6) -> float:
    for n in sizes:
        t += a + b * n
        adm.on_commit(t, n, work * b * n)
    return t


def test_fit_recovers_the_cost_of_a_block_and_of_a_transaction():
    sizes = [0, 500, 1000, 200, 1500, 800, 0, 1200] * 4
    fit = fit_cycle([(n, A + B * n, 0.6 * B * n) for n in sizes])
    assert fit is not None
    a, b = fit
    assert abs(a - A) < 1e-9 and abs(b - B) < 1e-12


def test_one_block_size_only_falls_back_to_the_measured_work():
    # every block the same size: no slope; the work measured per transaction is the floor of b
    a, b = fit_cycle([(500, A + B * 500, B * 500)] * 10)
    assert abs(b - B) < 1e-12 and abs(a - A) < 1e-9
    # a noisy slope below the node's own work per transaction is not believed
    a, b = fit_cycle([(n, 0.5 + 1e-6 * n, 2 * B * n) for n in (100, 900, 100, 900, 500)])
    assert abs(b - 2 * B) < 1e-12
    assert fit_cycle([(0, 0.3, 0.0)] * 10) is None  # no transactions: nothing to fit


def test_before_any_measure_the_floor_is_admitted():
    adm = Admission(latency_bound_s=2.0, floor=500)
    assert adm.model() is None and adm.capacity() == 0.0
    assert adm.room(0.0, 0) == 500 and adm.room(0.0, 400) == 100 and adm.room(0.0, 600) == 0
    code, reason = adm.refusal(0.0, 600)
    assert code == codes.MEMPOOL_FULL and 200 <= retry_after_ms(reason) <= 10_000


def test_the_limit_is_the_longest_queue_that_drains_within_the_bound():
    adm = Admission(latency_bound_s=2.0, floor=100)
    _blocks(adm, 0.0, [0, 400, 1800, 100, 600, 300])
    a, b = adm.model()
    lim = adm.limit()
    # the block in flight and the one after it, which together hold at most the limit: 2a + b x limit <= bound
    assert lim == int((2.0 - 2 * a) / b)
    assert adm.drain_s(lim) <= 2.0 + 1e-9 < adm.drain_s(lim + 2)
    assert adm.room(100.0, 0) == lim and adm.room(100.0, lim) == 0


def test_a_long_bound_counts_the_blocks_a_queue_fills():
    adm = Admission(latency_bound_s=10.0, floor=100, max_block_txs=2000)
    _blocks(adm, 0.0, [0, 400, 2000, 100, 600, 300])
    a, b = adm.model()
    q = adm._limit(a, b)  # the line alone, before the cap on how far it is trusted
    assert q > 2000  # more than one block waits
    assert adm.drain_s(q) <= 10.0 + 1e-9 < adm.drain_s(q + 2)
    assert adm.limit() == min(q, TRUST * 2000)


def test_a_chain_slower_than_the_bound_still_gets_the_floor():
    adm = Admission(latency_bound_s=0.5, floor=300)
    _blocks(adm, 0.0, [0, 100, 200, 50, 150], a=0.4)  # two overheads exceed the bound
    assert adm.limit() == 300


def test_the_estimate_is_not_fed_by_what_was_admitted():
    # a chain held to small blocks (~500) measures the same cost as one running free: its limit is
    # what the bound allows, capped only by how far the line is trusted past the blocks it saw
    held = [500, 480, 0, 510, 250, 500, 495] * 3
    small = Admission(latency_bound_s=2.5, floor=500)
    _blocks(small, 0.0, held)
    big = Admission(latency_bound_s=2.5, floor=500)
    _blocks(big, 0.0, [3000, 100, 2500, 0, 2900, 1200] * 3)
    a, b = small.model()
    assert abs(a - A) < 1e-6 and abs(b - B) < 1e-9 and small.model() == pytest.approx(big.model())
    assert small.limit() == TRUST * 510  # four times its largest block: the next blocks can double
    assert big.limit() > 2 * small.limit()


def test_the_model_is_checked_against_the_commits():
    adm = Admission(latency_bound_s=2.0, floor=100, window=8)
    t = _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300] * 3)
    assert adm.model_error() < 0.01  # it predicts the cycles it sees
    assert abs(adm.rate(t) - sum([0, 400, 800, 100, 600, 300] * 3) / t) < 0.25 * adm.rate(t)
    t = _blocks(adm, t, [600] * 5, a=0.9)  # the chain slows: the prediction misses, and the model follows
    assert max(adm._errors) > 0.4
    assert "model error" in adm.describe(t) and "committed" in adm.describe(t)
    a, b = adm.model()
    assert abs(a + b * 600 - (0.9 + B * 600)) < 0.1 * (0.9 + B * 600)  # it predicts the slower chain


def test_refusal_hint_grows_with_the_excess_and_the_pressure():
    adm = Admission(latency_bound_s=2.0, floor=100)
    t = _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300])
    lim = adm.limit()
    code, reason = adm.refusal(t, lim + 10)
    assert code == codes.MEMPOOL_FULL and "node busy" in reason and "retry after" in reason
    near = retry_after_ms(reason)
    far = retry_after_ms(adm.refusal(t, lim + 3000)[1])
    assert 200 <= near < far <= 10_000
    # ten refusals for each admission over the last seconds: the hint stretches, at most MAX_PRESSURE times
    adm2 = Admission(latency_bound_s=2.0, floor=100)
    _blocks(adm2, 0.0, [0, 400, 800, 100, 600, 300])
    base = retry_after_ms(adm2.refusal(t, lim + 10)[1])
    assert adm2.pressure(t) == 1 + 1 / lim  # one refusal after a quiet spell: judged against the limit
    adm2.note_admitted(t, 5 * lim)
    adm2.refusal(t, lim + 10, 100 * lim)
    assert adm2.pressure(t) == MAX_PRESSURE  # twenty refusals an admission: at most MAX_PRESSURE
    assert retry_after_ms(adm2.refusal(t, lim + 10)[1]) >= min(10_000, int(0.99 * MAX_PRESSURE * base))
    assert adm2.pressure(t + 60) == 1.0  # forgotten after the window
    assert adm2.refused == 100 * lim + 2 and adm2.admitted == 5 * lim


def test_each_validator_takes_its_share_of_the_free_room():
    adm = Admission(latency_bound_s=2.0, floor=100, validators=4)
    t = _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300])
    lim = adm.limit()
    assert adm.room(t, 0) == lim  # nothing refused lately: the whole room
    adm.refusal(t, lim + 1)  # now it refuses: shares
    t = _blocks(adm, t, [0])
    assert adm.room(t, 0) == math.ceil(lim / 4)  # the chain committed, none of it admitted here: a quarter
    adm.note_admitted(t, 100)
    assert adm.room(t, 0) == math.ceil(lim / 4) - 100  # the block's budget, spent
    adm.note_admitted(t, 2100)  # it admitted all the chain committed lately: the whole room at the next block
    t = _blocks(adm, t, [0])
    assert adm.room(t, 0) == adm.limit()
    assert Admission(2.0, floor=100, validators=1).room(0.0, 0) == 100
    assert Admission(2.0, floor=100, validators=4).room(0.0, 0) == 100  # an idle chain: nothing to share yet


def test_state_is_bounded():
    adm = Admission(window=16, pressure_window_s=5)
    t = 0.0
    for i in range(2000):
        t += 0.01
        adm.on_commit(t, i % 7, 0.001)
        adm.note_admitted(t, 1)
        adm.refusal(t, 10_000)
    assert len(adm._blocks) <= 16 and len(adm._commits) <= 16 and len(adm._errors) <= 16
    assert len(adm._buckets) <= 5


def test_threads_may_ask_while_commits_are_reported():
    adm = Admission(latency_bound_s=2.0, floor=100, validators=4)
    stop = threading.Event()
    errors = []

    def ask():
        try:
            while not stop.is_set():
                adm.room(5.0, 200)
                adm.refusal(5.0, 10_000)
                adm.note_admitted(5.0, 1)
        except Exception as e:  # noqa: BLE001 - the assertion below names it
            errors.append(e)

    th = [threading.Thread(target=ask) for _ in range(3)]
    for x in th:
        x.start()
    _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300] * 300)
    stop.set()
    for x in th:
        x.join()
    assert errors == []


# ---- the simulated chain -------------------------------------------------------------------
def test_overload_is_refused_and_what_is_admitted_commits_within_the_bound():
    bound = 2.5
    r = simulate(offered=6000, seconds=40, bound_s=bound, a_s=A, b_s=B)
    ideal = (bound - 2 * A) / (B * bound)  # blocks of half the bound each: the most the bound allows (2,280/s)
    assert r.refused > r.admitted  # twice the capacity offered: refusals, with hints
    assert r.p(0.99) <= bound
    assert r.rate() >= 0.8 * ideal
    assert max(r.hints_ms) <= 10_000 and min(r.hints_ms) >= 200


def test_under_capacity_everything_is_admitted_soon():
    r = simulate(offered=1000, seconds=40, bound_s=2.5)
    assert r.admitted >= 0.99 * 1000 * 50  # all offered (warm-up included), some after one hint
    assert abs(r.rate() - 1000) < 50
    assert r.p(0.99) <= 2.5


def test_a_starved_start_recovers_without_a_spiral():
    # the chain starts slow (the floor, 500 a block): the model extrapolates from those blocks, so
    # the limit rises to what the bound allows within a few blocks, not through a slow climb
    r = simulate(offered=6000, seconds=30, warmup_s=0.0, bound_s=2.5)
    lim = r.limits
    assert lim[0] <= 1000 and lim[-1] >= 4 * lim[0]
    up = next(i for i, x in enumerate(lim) if x >= 0.9 * lim[-1])
    assert up <= 10  # the fit needs four blocks that carried transactions
    assert min(lim[up:]) >= 0.8 * lim[-1]  # and it stays there: no spiral down


def test_the_wallet_waits_what_the_node_hints():
    from wallet.client import backoff_s

    adm = Admission(latency_bound_s=2.0, floor=100)
    t = _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300])
    reason = adm.refusal(t, adm.limit() + 2000)[1]
    hint = retry_after_ms(reason) / 1000
    for attempt in range(3):
        w = backoff_s(reason, attempt)
        assert hint <= w <= hint * 1.25
    assert 2.0 <= backoff_s("mempool is full", 3) <= 2.5  # no hint: exponential
    assert retry_after_ms("mempool is full") is None


def test_the_room_a_commit_frees_opens_once_the_next_block_is_taken():
    # admitted during the pause after a commit, a transaction would join the next block on top of
    # what waited through the last one: that room opens only after the pause (block_interval)
    adm = Admission(latency_bound_s=2.0, floor=100, interval_s=0.2)
    t = _blocks(adm, 0.0, [0, 400, 800, 100, 600, 300])
    lim = adm.limit()
    adm.on_commit(t + 1.0, 1000, 0.2)
    lim = adm.limit()
    assert adm.room(t + 1.1, 500) == max(0, lim - 500 - 1000)
    assert adm.room(t + 1.25, 500) == lim - 500


def test_room_reserved_for_a_batch_being_checked_is_not_promised_twice():
    adm = Admission(latency_bound_s=2.0, floor=1000)
    assert adm.reserve(0.0, 0, 700) == 700  # its signatures are being checked
    assert adm.reserve(0.0, 0, 700) == 300  # a concurrent batch sees what is left
    assert adm.room(0.0, 0) == 0
    adm.release(0.1, 700)  # the first is admitted: its room is the mempool's now
    assert adm.room(0.1, 700) == 0 and adm.room(0.1, 0) == 700
    assert adm.room(5.0, 0) == 1000  # a reservation never released lapses
