"""The forecasting model on synthetic products with a known season, noise and reservations (fixed seeds)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from planning import model, synthetic

PRODUCTS = [dict(seed=1, level=1000, amplitude=250, phase=0), dict(seed=2, level=600, amplitude=150, phase=4),
            dict(seed=3, level=2000, amplitude=400, phase=8)]


@pytest.fixture(scope="module")
def backtests():
    out = []
    for p in PRODUCTS:
        y, r = synthetic.product_series(60, p["seed"], level=p["level"], amplitude=p["amplitude"], phase=p["phase"])
        out.append((y, r, model.backtest(y, r, origins=24, horizon=3)))
    return out


def test_intervals_cover_what_they_say_and_the_forecast_beats_seasonal_naive(backtests):
    origins = sum(bt["origins"] for _, _, bt in backtests)
    cov80 = sum(bt["cov80"] * bt["origins"] for _, _, bt in backtests) / origins
    cov95 = sum(bt["cov95"] * bt["origins"] for _, _, bt in backtests) / origins
    assert origins == 72
    assert Fraction(70, 100) <= cov80 <= Fraction(90, 100), float(cov80)
    assert Fraction(85, 100) <= cov95 <= 1, float(cov95)
    for _, _, bt in backtests:
        assert bt["mae"] < bt["naive_mae"], (float(bt["mae"]), float(bt["naive_mae"]))
        assert bt["mase"] < bt["naive_mase"] and all(row["method"] == "ets-ana" for row in bt["rows"])
    ints = model.backtest_ints(backtests[0][2])
    assert ints["origins"] == 24 and 0 < ints["cov80_bps"] <= 10_000 and ints["mase_e3"] < ints["naive_mase_e3"]


def test_each_horizon_is_back_tested_and_keeps_its_coverage(backtests):
    """h = 1..3 from the same rolling origins: 80 % coverage within 70-90 % and better than seasonal naive."""
    for h in (1, 2, 3):
        hbs = [bt["horizons"][h] for _, _, bt in backtests]
        n = sum(hb["origins"] for hb in hbs)
        assert n == 3 * (24 - (h - 1))  # horizon h is scored where period t + h - 1 is in the history
        cov80 = sum(hb["cov80"] * hb["origins"] for hb in hbs) / n
        cov95 = sum(hb["cov95"] * hb["origins"] for hb in hbs) / n
        assert Fraction(70, 100) <= cov80 <= Fraction(90, 100), (h, float(cov80))
        assert Fraction(85, 100) <= cov95 <= 1, (h, float(cov95))
        assert sum(hb["mae"] for hb in hbs) < sum(hb["naive_mae"] for hb in hbs), h
        assert all(x["h"] == h for hb in hbs for x in hb["rows"])
    assert backtests[0][2]["horizons"][1]["mae"] == backtests[0][2]["mae"]  # the top-level figures are h = 1's
    ints = model.backtest_ints(backtests[0][2])
    assert ints["h2_n"] == 23 and ints["h3_n"] == 22 and "h1_n" not in ints and len(ints) == 8 + 2 * 6
    worst = model.backtest_ints(model.backtest(backtests[0][0], backtests[0][1], origins=6, horizon=model.MAX_HORIZON))
    assert len(worst) <= 40  # what the law stores: at most 40 integers


def test_forecasts_for_the_next_periods_are_exact_and_widen():
    y, r = synthetic.product_series(49, 21)
    f = model.fit(y[:-1], r[:-1], r[-1], horizon=4)
    steps = model.path(f.method, f.params, y[:-1], r[:-1], r[-1], 4)
    assert steps == [f.bounds()] + f.later and len(f.later) == 3
    assert steps[0] == model.from_params(f.method, f.params, y[:-1], r[:-1], r[-1])
    widths = [s["hi95"] - s["lo95"] for s in steps[1:]]
    alpha = Fraction(f.params["alpha_e6"], 10**6)
    assert alpha > 0 and all(b >= a - 1 for a, b in zip(widths, widths[1:]))  # σ_h grows with h (within rounding)
    s0 = Fraction(model.sigma_of(f.method, dict(f.params, res_b_e6=0), y[:-1], r[:-1]), 1000)
    sd4 = s0 * float(1 + 3 * alpha * alpha) ** 0.5
    assert abs(widths[-1] - 2 * float(model.Z95) * float(sd4)) <= 2  # σ₀²·(1 + (h−1)·α²) for h = 4
    # h >= 2 is the ETS point: the last level plus that month's season, no reservations
    again = model.fit(y[:-1], r[:-1], 0, horizon=4)
    assert again.later == f.later and again.params["res_b_e6"] == 0
    # one horizon does not change another's numbers
    assert model.fit(y[:-1], r[:-1], r[-1], horizon=2).later == f.later[:1]


@pytest.mark.parametrize("n", [0, 1, 7, 18])
def test_fallbacks_forecast_the_next_periods_too(n):
    y, r = synthetic.product_series(60, 9)
    f = model.fit(y[:n], r[:n], r[n], horizon=3)
    assert len(f.later) == 2
    for s in f.later:
        assert s["lo95"] <= s["lo80"] <= s["forecast"] <= s["hi80"] <= s["hi95"]
    if f.method == "seasonal-naive":
        assert [s["forecast"] for s in f.later] == [y[n - 12 + 1], y[n - 12 + 2]]  # the same months last year
    else:
        assert f.later == [f.bounds(), f.bounds()]


def test_a_horizon_out_of_range_is_refused():
    y, r = synthetic.product_series(30, 2)
    for bad in (0, model.MAX_HORIZON + 1, "3", True):
        with pytest.raises(ValueError, match="horizon"):
            model.fit(y, r, 0, horizon=bad)


def test_reservations_are_a_leading_indicator(backtests):
    with_r = sum(bt["mae"] for _, _, bt in backtests)
    without = sum(model.backtest(y, [0] * len(y), origins=24)["mae"] for y, _, _ in backtests)
    assert with_r < without * Fraction(9, 10), (float(with_r), float(without))
    y, r, _ = backtests[0]
    f = model.fit(y, r, r_next=r[-1])
    assert f.params["res_b_e6"] > 0 and f.fit_info["res_pairs"] >= model.MIN_RES


def test_the_forecast_recomputed_from_the_published_integers_is_exact():
    y, r = synthetic.product_series(40, 11)
    f = model.fit(y[:-1], r[:-1], r[-1])
    assert all(isinstance(v, int) for v in f.params.values())
    assert model.from_params(f.method, f.params, y[:-1], r[:-1], r[-1]) == f.bounds()
    assert model.sigma_of(f.method, f.params, y[:-1], r[:-1]) == f.params["sigma_e3"]
    # a changed parameter changes the numbers (the check can fail)
    bent = dict(f.params, alpha_e6=f.params["alpha_e6"] + 50_000)
    assert model.from_params(f.method, bent, y[:-1], r[:-1], r[-1]) != f.bounds()
    # and statsmodels' own float forecast agrees with the exact path within the tolerance
    ets = f.fit_info["ets_point"]  # before the reservations' term
    assert abs(f.fit_info["point"] - ets) <= max(1, ets * model.TOLERANCE["forecast_rel"])


def test_refitting_the_same_data_gives_the_same_parameters():
    y, r = synthetic.product_series(36, 5)
    assert model.fit(y, r, 300).params == model.fit(y, r, 300).params


@pytest.mark.parametrize("n, method", [(0, "none"), (1, "none"), (2, "mean"), (7, "mean"), (12, "mean"),
                                       (13, "seasonal-naive"), (23, "seasonal-naive"), (24, "ets-ana")])
def test_short_history_gets_the_fallback_with_a_wide_interval(n, method):
    y, r = synthetic.product_series(60, 9)
    f = model.fit(y[:n], r[:n], r[n])
    assert f.method == method
    assert f.lo95 <= f.lo80 <= f.forecast <= f.hi80 <= f.hi95
    assert model.from_params(f.method, f.params, y[:n], r[:n], r[n]) == f.bounds()
    if method != "ets-ana":
        ets = model.fit(y[:36], r[:36], r[36])
        assert f.hi80 - f.lo80 > ets.hi80 - ets.lo80  # wider than the model's once there is history


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        model.fit([1, -2, 3])
    with pytest.raises(ValueError):
        model.fit([1, 2], [1])


def test_missing_or_extreme_reservations_for_the_coming_period_do_not_wreck_the_forecast():
    y, r = synthetic.product_series(49, 3)
    with_res = model.fit(y[:-1], r[:-1], r[-1])
    none_yet = model.fit(y[:-1], r[:-1], 0)  # nobody has reserved for the coming month yet
    assert with_res.params["res_b_e6"] > 0 and none_yet.params["res_b_e6"] == 0
    assert abs(none_yet.forecast - y[-1]) < 3 * (none_yet.hi80 - none_yet.forecast)
    huge = model.fit(y[:-1], r[:-1], 100 * r[-1])  # the term is clamped to the history's range of x
    x = [r[t] - r[t - 12] for t in range(12, 48)]
    cap = Fraction(huge.params["res_b_e6"], 10**6) * (max(x) - Fraction(huge.params["res_xbar_e3"], 1000))
    assert huge.forecast <= none_yet.forecast + cap + 100
    assert model.from_params(huge.method, huge.params, y[:-1], r[:-1], 100 * r[-1]) == huge.bounds()


def test_another_process_with_another_hash_seed_fits_the_same_integers():
    import json
    import os
    import subprocess
    import sys

    y, r = synthetic.product_series(40, 13)
    here = model.fit(y[:-1], r[:-1], r[-1])
    code = ("import json, sys; from planning import model; y, r = json.load(sys.stdin); "
            "f = model.fit(y[:-1], r[:-1], r[-1]); print(json.dumps([f.params, f.bounds()]))")
    out = subprocess.run([sys.executable, "-c", code], input=json.dumps([y, r]), capture_output=True, text=True,
                         env=dict(os.environ, PYTHONHASHSEED="12345"), check=True, timeout=120)
    params, bounds = json.loads(out.stdout)
    assert params == here.params and bounds == here.bounds()
