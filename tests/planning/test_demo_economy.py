"""The demo's synthetic economy (``esoc demo economy``'s products and their known seasonal demand), back-tested
off chain exactly as the guidance it publishes: the 80 % interval covers 70-90 % of realised demand at each horizon
and the forecast beats the seasonal naive forecast's error.

The demo writes these very series on chain (tagged payments, and in procurement's month the state's sales:
tests/e2e/test_demo.py checks that realised demand equals them), so this is the guidance's back-test on the
chain's history without a chain: 20 seeds, two products each, the history read for the twelfth month's guidance.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from cli.demo.planning import HISTORY, ORIGINS, Planner
from planning import model

SEEDS = range(1, 21)
MONTHS = 12


@pytest.fixture(scope="module")
def horizons():
    per: dict = {h: [] for h in range(1, model.HORIZON + 1)}
    for seed in SEEDS:
        planner = Planner(None, None, [], [None] * 6, "t", seed, MONTHS)  # only the products' series are used
        for p in planner.products:
            n = HISTORY + MONTHS - 1
            bt = model.backtest(p["sales"][:n], p["reserved"][:n], origins=ORIGINS, horizon=model.HORIZON)
            for h, hb in bt["horizons"].items():
                per[h].append(hb)
    return per


@pytest.mark.parametrize("h", range(1, model.HORIZON + 1))
def test_the_demo_economy_back_test_covers_and_beats_seasonal_naive(horizons, h):
    hbs = horizons[h]
    n = sum(hb["origins"] for hb in hbs)
    assert n == 2 * len(SEEDS) * (ORIGINS - (h - 1))
    cov80 = sum(hb["cov80"] * hb["origins"] for hb in hbs) / n
    cov95 = sum(hb["cov95"] * hb["origins"] for hb in hbs) / n
    assert Fraction(70, 100) <= cov80 <= Fraction(90, 100), float(cov80)
    assert Fraction(90, 100) <= cov95 <= 1, float(cov95)
    mae = sum(hb["mae"] * hb["origins"] for hb in hbs)
    naive = sum(hb["naive_mae"] * hb["origins"] for hb in hbs)
    assert mae < naive * Fraction(9, 10), float(mae / naive)
