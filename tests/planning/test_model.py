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
        out.append((y, r, model.backtest(y, r, origins=24)))
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
