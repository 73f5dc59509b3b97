"""Demand forecasts with prediction intervals, from integers to integers.

One product's history is a list of periods with ``sales`` (realised demand,
units) and ``reserved`` (reservations made for that period).  :func:`fit`
chooses the method by the length of the history and returns a
:class:`Forecast` whose ``params`` are integers; :func:`from_params` computes
the forecast and the intervals from those integers and the data **in exact
rational arithmetic** (``fractions.Fraction``), rounding only at the end
(half up, to integer units).  The published forecast is always the output of
:func:`from_params`, so anyone holding the data and the published
parameters gets exactly the same numbers; only the fit of the parameters
(statsmodels' optimiser, in floats) may differ slightly between machines,
which ``esoc plan verify`` checks with a stated tolerance (:data:`TOLERANCE`).

Methods (``method`` in the guidance)
    ``ets-ana``  (at least :data:`MIN_ETS` periods) ETS(A,N,A): additive
        error, no trend, additive monthly season (m = 12), fitted by
        statsmodels' ``ETSModel`` (maximum likelihood, L-BFGS-B; the initial
        states are fixed beforehand by :func:`initial_states`, exactly, from
        the complete years).  One-step interval: ``point ± z·σ`` with
        ``σ² = SSE / (n − k) · (1 + 1/Y)`` of the one-step errors (``k``
        fitted numbers, ``Y`` complete years: :func:`sigma_of`).
    ``seasonal-naive``  (13..:data:`MIN_ETS` - 1 periods) last year's value;
        ``σ`` is the root mean square of the seasonal differences, times
        :data:`WIDE` (the interval is deliberately wide).
    ``mean``  (2..12 periods) mean of the history; ``σ`` is the sample
        standard deviation times ``sqrt(1 + 1/n)``, times :data:`WIDE`.
    ``none``  (0..1 period) the last value or the reservations, whichever is
        larger; interval ``0 .. 3 × max(point, 1)``.

Reservations (the leading indicator)
    With ETS and at least :data:`MIN_RES` periods that have reservations, the
    one-step ETS errors ``e_t`` are regressed (least squares, exact) on the
    seasonal change of the reservations ``x_t = r_t - r_{t-12}``, centred:
    ``e_t ≈ b·(x_t - x̄)``.  The forecast adds ``b·(x_P - x̄)`` and ``σ`` is that
    of the remaining errors.  ``b`` is kept only when it lowers the squared
    error by at least :data:`RES_GAIN`, and only when the coming period has
    reservations (they may not have been made yet); otherwise ``b = 0``
    (published).  ``x_P`` is clamped to the range of the history's ``x``.

Periods ahead (the horizon)
    :func:`path` gives the forecasts for the next ``H`` periods (``H`` at most
    :data:`MAX_HORIZON`; ``esoc plan compute`` uses :data:`HORIZON`).  The
    first is the one-step forecast above, reservations' term included.  For
    ``h >= 2`` no reservations are used (they are rarely made that far ahead):
    ETS's point is the last level plus the season of that month, its variance
    ``σ₀²·(1 + (h−1)·α² + k·γ·(2α + γ))`` with ``k = ⌊(h−1)/12⌋`` (Hyndman et
    al. 2008, class 1) and ``σ₀`` the one-step σ of the ETS errors without the
    reservations' term (recomputed exactly from the data, not published);
    the seasonal naive method takes the same month a year earlier and its σ;
    ``mean`` and ``none`` repeat the first period's numbers.

Parameters are scaled integers: ``*_e6`` (millionths) for coefficients,
``*_e3`` (thousandths of a unit) for states and ``sigma_e3``.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from fractions import Fraction

M = 12  # months in a season
MIN_ETS = 24  # two full seasons: statsmodels' heuristic initialisation needs them
MIN_RES = 12
ETS_FITTED = 14  # alpha, gamma, the initial level, 11 free seasonal states
RES_GAIN = Fraction(5, 100)
WIDE = Fraction(3, 2)
Z80 = Fraction(1_281_552, 1_000_000)  # standard normal quantiles, 6 decimals
Z95 = Fraction(1_959_964, 1_000_000)
METHOD_VERSION = "esoc-plan 2"  # 2: forecasts for several periods ahead (:func:`path`)
HORIZON = 3  # periods forecast by ``esoc plan compute`` unless told otherwise (the first and 2 more)
MAX_HORIZON = 6  # the back-test publishes 6 figures per extra period in at most 40 integers

# ``esoc plan verify``: a re-fit agrees when every difference is within these
TOLERANCE = {
    "smoothing_e6": 2_000,  # alpha, gamma: 0.002
    "state_e3_rel": Fraction(1, 100),  # initial states: 1 % of the mean level (or 1 unit)
    "forecast_rel": Fraction(1, 100),  # point and bounds: 1 % (or 1 unit)
}


def model_version() -> str:
    import statsmodels

    return f"statsmodels {statsmodels.__version__}; {METHOD_VERSION}"


def round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def isqrt_scaled(var: Fraction, scale: int = 1000) -> int:
    """``floor(sqrt(var) * scale)``, exactly."""
    if var <= 0:
        return 0
    return math.isqrt(math.floor(var * scale * scale))


@dataclasses.dataclass
class Forecast:
    method: str
    params: dict  # str -> int
    forecast: int
    lo80: int
    hi80: int
    lo95: int
    hi95: int
    n: int
    fit_info: dict = dataclasses.field(default_factory=dict)  # floats of the fit (not published)
    later: list = dataclasses.field(default_factory=list)  # periods 2..H: dicts of forecast and bounds (:func:`path`)

    def bounds(self) -> dict:
        return {"forecast": self.forecast, "lo80": self.lo80, "hi80": self.hi80, "lo95": self.lo95,
                "hi95": self.hi95}


# ---------------------------------------------------------------- exact paths
def _interval(point: Fraction, sigma_e3: int, wide: bool = False) -> dict:
    s = Fraction(sigma_e3, 1000)
    p = max(0, round_half_up(point))
    return {"forecast": p,
            "lo80": min(p, max(0, round_half_up(point - Z80 * s))), "hi80": max(p, round_half_up(point + Z80 * s)),
            "lo95": min(p, max(0, round_half_up(point - Z95 * s))), "hi95": max(p, round_half_up(point + Z95 * s))}


def ets_run(y: list[int], alpha: Fraction, gamma: Fraction, level0: Fraction, seasonal0: list[Fraction]):
    """ETS(A,N,A) over the history, exactly: the one-step errors, the last level and every seasonal state.

    ``seas[i]`` is the season used for period ``i`` (0-based; the list runs
    ``12`` past the history, so ``seas[n + h - 1]`` is period ``n + h``'s for
    ``h <= 12``)."""
    seas = list(seasonal0)  # seasonal0[0] is the oldest (time 1 - m), statsmodels' order
    level = level0
    errors = []
    for i, yt in enumerate(y):
        s = seas[i]
        e = yt - (level + s)
        errors.append(e)
        level = level + alpha * e
        seas.append(s + gamma * e)
    return errors, level, seas


def ets_filter(y: list[int], alpha: Fraction, gamma: Fraction, level0: Fraction, seasonal0: list[Fraction]):
    """ETS(A,N,A) one-step errors and the next period's level + season, exactly."""
    errors, level, seas = ets_run(y, alpha, gamma, level0, seasonal0)
    return errors, level + seas[len(y)]


def reservation_regressor(r: list[int], r_next: int) -> tuple[list, Fraction | None]:
    """``x_t = r_t - r_{t-12}`` for the history (None before 12 periods) and for the next period.

    The next period's ``x`` is clamped to the range seen in the history: the
    term never extrapolates beyond what the regression was fitted on."""
    x = [None if t < M else Fraction(r[t] - r[t - M]) for t in range(len(r))]
    full = r + [r_next]
    x_next = Fraction(full[len(r)] - full[len(r) - M]) if len(r) >= M else None
    seen = [v for v in x if v is not None]
    if x_next is not None and seen:
        x_next = min(max(x_next, min(seen)), max(seen))
    return x, x_next


def res_fit(errors: list, x: list) -> tuple[Fraction, Fraction, int]:
    """Least squares of errors on centred x: (b, x̄, pairs); b = 0 when it does not help."""
    pairs = [(e, xt) for e, xt in zip(errors, x) if xt is not None]
    if len(pairs) < MIN_RES:
        return Fraction(0), Fraction(0), len(pairs)
    xbar = sum((xt for _, xt in pairs), Fraction(0)) / len(pairs)
    sxx = sum(((xt - xbar) ** 2 for _, xt in pairs), Fraction(0))
    if sxx == 0:
        return Fraction(0), xbar, len(pairs)
    sxe = sum(((xt - xbar) * e for e, xt in pairs), Fraction(0))
    b = sxe / sxx
    sse0 = sum((e * e for e, _ in pairs), Fraction(0))
    gain = b * sxe  # the drop in the squared error
    if sse0 == 0 or gain < RES_GAIN * sse0:
        return Fraction(0), xbar, len(pairs)
    return b, xbar, len(pairs)


def from_params(method: str, params: dict, y: list[int], r: list[int], r_next: int) -> dict:
    """The forecast and its intervals from published integer parameters and the data (exact)."""
    n = len(y)
    if method == "ets-ana":
        alpha = Fraction(params["alpha_e6"], 10**6)
        gamma = Fraction(params["gamma_e6"], 10**6)
        level0 = Fraction(params["l0_e3"], 1000)
        seas0 = [Fraction(params[f"s{i}_e3"], 1000) for i in range(M)]
        _, point = ets_filter(y, alpha, gamma, level0, seas0)
        b = Fraction(params["res_b_e6"], 10**6)
        if b:
            x, x_next = reservation_regressor(r, r_next)
            point += b * (x_next - Fraction(params["res_xbar_e3"], 1000))
        return _interval(point, params["sigma_e3"])
    if method == "seasonal-naive":
        return _interval(Fraction(y[n - M]), params["sigma_e3"])
    if method == "mean":
        return _interval(Fraction(sum(y), n), params["sigma_e3"])
    if method == "none":
        p = max(y[-1] if y else 0, r_next)
        return {"forecast": p, "lo80": 0, "hi80": 3 * max(p, 1), "lo95": 0, "hi95": 3 * max(p, 1)}
    raise ValueError(f"unknown method {method!r}")


def check_horizon(horizon) -> int:
    if not isinstance(horizon, int) or isinstance(horizon, bool) or not 1 <= horizon <= MAX_HORIZON:
        raise ValueError(f"the horizon must be 1..{MAX_HORIZON} periods, not {horizon!r}")
    return horizon


def _ets_params(params: dict) -> tuple[Fraction, Fraction, Fraction, list[Fraction]]:
    return (Fraction(params["alpha_e6"], 10**6), Fraction(params["gamma_e6"], 10**6), Fraction(params["l0_e3"], 1000),
            [Fraction(params[f"s{i}_e3"], 1000) for i in range(M)])


def path(method: str, params: dict, y: list[int], r: list[int], r_next: int, horizon: int) -> list[dict]:
    """The forecasts and intervals of the next ``horizon`` periods, exactly; the first is :func:`from_params`'s."""
    check_horizon(horizon)
    first = from_params(method, params, y, r, r_next)
    out = [first]
    if horizon == 1:
        return out
    n = len(y)
    if method == "ets-ana":
        alpha, gamma, level0, seas0 = _ets_params(params)
        _, level, seas = ets_run(y, alpha, gamma, level0, seas0)
        s0 = Fraction(sigma_of(method, dict(params, res_b_e6=0), y, r), 1000)  # the ETS errors' own σ
        for h in range(2, horizon + 1):
            k = (h - 1) // M
            var = s0 * s0 * (1 + (h - 1) * alpha * alpha + k * gamma * (2 * alpha + gamma))
            out.append(_interval(level + seas[n + (h - 1) % M], isqrt_scaled(var)))
    elif method == "seasonal-naive":
        for h in range(2, horizon + 1):
            out.append(_interval(Fraction(y[n - M + (h - 1) % M]), params["sigma_e3"]))
    else:  # mean, none: no season known, the same numbers
        out += [dict(first) for _ in range(2, horizon + 1)]
    return out


def sigma_of(method: str, params: dict, y: list[int], r: list[int]) -> int:
    """``sigma_e3`` recomputed exactly from the data and the other parameters."""
    n = len(y)
    if method == "ets-ana":
        errors, _ = ets_filter(y, Fraction(params["alpha_e6"], 10**6), Fraction(params["gamma_e6"], 10**6),
                               Fraction(params["l0_e3"], 1000), [Fraction(params[f"s{i}_e3"], 1000) for i in range(M)])
        b = Fraction(params["res_b_e6"], 10**6)
        if b:
            x, _ = reservation_regressor(r, 0)
            xbar = Fraction(params["res_xbar_e3"], 1000)
            errors = [e - (b * (xt - xbar) if xt is not None else 0) for e, xt in zip(errors, x)]
        k = ETS_FITTED + (1 if b else 0)
        years = n // M
        return isqrt_scaled(sum((e * e for e in errors), Fraction(0)) / (n - k) * (1 + Fraction(1, years)))
    if method == "seasonal-naive":
        d = [Fraction(y[t] - y[t - M]) for t in range(M, n)]
        return isqrt_scaled(sum((v * v for v in d), Fraction(0)) / len(d) * WIDE * WIDE)
    if method == "mean":
        mean = Fraction(sum(y), n)
        var = sum(((v - mean) ** 2 for v in y), Fraction(0)) / (n - 1)
        return isqrt_scaled(var * (1 + Fraction(1, n)) * WIDE * WIDE)
    return 0


# ---------------------------------------------------------------- choosing and fitting
def method_for(n: int) -> str:
    if n >= MIN_ETS:
        return "ets-ana"
    if n > M:
        return "seasonal-naive"
    if n >= 2:
        return "mean"
    return "none"


def initial_states(y: list[int]) -> tuple[int, list[int]]:
    """``(l0_e3, [s0_e3 .. s11_e3])``: the initial level and season, exactly, from the complete years.

    ``s_i`` is the mean over the complete years of (the value of month ``i``
    minus that year's mean), so the states sum to about zero; ``l0`` is the
    first year's mean.  These are fixed before the fit (statsmodels'
    ``initialization_method="known"``), so only ``alpha`` and ``gamma`` come
    from the optimiser."""
    years = len(y) // M
    means = [Fraction(sum(y[k * M:(k + 1) * M]), M) for k in range(years)]
    seas = [sum((y[k * M + i] - means[k] for k in range(years)), Fraction(0)) / years for i in range(M)]
    return round_half_up(means[0] * 1000), [round_half_up(v * 1000) for v in seas]


def _fit_ets(y: list[int], l0_e3: int, s_e3: list[int]):
    import numpy as np
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    model = ETSModel(pd.Series(np.asarray(y, dtype=float)), error="add", trend=None, seasonal="add",
                     seasonal_periods=M, initialization_method="known", initial_level=l0_e3 / 1000,
                     initial_seasonal=np.asarray(s_e3, dtype=float) / 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit(disp=False, maxiter=1000)
    return res


def fit(y: list[int], r: list[int] | None = None, r_next: int = 0, horizon: int = 1) -> Forecast:
    """Fit the method the history's length calls for and forecast the next ``horizon`` periods."""
    check_horizon(horizon)
    r = list(r) if r is not None else [0] * len(y)
    if len(r) != len(y):
        raise ValueError("sales and reservations must have the same length")
    if any((not isinstance(v, int)) or v < 0 for v in list(y) + r + [r_next]):
        raise ValueError("sales and reservations must be integers >= 0")
    n = len(y)
    method = method_for(n)
    info: dict = {}
    if method == "ets-ana":
        l0, seas = initial_states(y)
        res = _fit_ets(y, l0, seas)
        alpha, gamma = (float(v) for v in res.params[:2])
        params = {"alpha_e6": round(alpha * 10**6), "gamma_e6": round(gamma * 10**6), "l0_e3": l0}
        for i, s in enumerate(seas):
            params[f"s{i}_e3"] = s
        errors, ets_point = ets_filter(y, Fraction(params["alpha_e6"], 10**6), Fraction(params["gamma_e6"], 10**6),
                                       Fraction(params["l0_e3"], 1000),
                                       [Fraction(params[f"s{i}_e3"], 1000) for i in range(M)])
        x, _ = reservation_regressor(r, r_next)
        # no reservation for the coming period yet (while the history has them): the term is left out
        b, xbar, pairs = res_fit(errors, x) if any(r) and r_next > 0 else (Fraction(0), Fraction(0), 0)
        params["res_b_e6"] = round_half_up(b * 10**6)
        params["res_xbar_e3"] = round_half_up(xbar * 1000) if params["res_b_e6"] else 0
        info = {"alpha": alpha, "gamma": gamma, 
                "point": float(list(res.forecast(1))[0]), "ets_point": float(ets_point),
                "converged": bool(res.mle_retvals.get("converged", True)) if isinstance(res.mle_retvals, dict) else True,
                "res_pairs": pairs}
    else:
        params = {}
    params["sigma_e3"] = sigma_of(method, params, y, r)
    out = path(method, params, y, r, r_next, horizon)
    return Forecast(method=method, params=params, n=n, fit_info=info, later=out[1:], **out[0])


# ---------------------------------------------------------------- back-test
def backtest(y: list[int], r: list[int] | None = None, origins: int = 12, min_train: int = MIN_ETS,
             horizon: int = 1) -> dict:
    """Rolling-origin back-test over the last ``origins`` periods (each fit on what came before).

    From each origin ``t`` (fit on periods ``< t``, with the reservations
    for ``t``) the forecasts of periods ``t .. t + horizon - 1`` are compared
    with what was sold; a horizon ``h`` is scored on the origins whose
    period ``t + h - 1`` is in the history (so ``h = 2`` has one origin less).

    Returns the counts and sums, and the figures of ``h = 1`` (and per
    horizon under ``horizons``): MAE, the seasonal naive forecast's MAE on
    the same targets (the same month a year before the target, known at the
    origin for ``h <= 12``), MASE (MAE over the in-sample MAE of the one-step
    seasonal naive forecast on the whole history), MAPE and the share of
    realised values inside the 80 % and 95 % intervals."""
    check_horizon(horizon)
    r = list(r) if r is not None else [0] * len(y)
    n = len(y)
    start = max(min_train, n - origins, M)
    rows = []
    for t in range(start, n):
        f = fit(y[:t], r[:t], r[t], horizon)
        for h, b in enumerate([f.bounds()] + f.later, 1):
            j = t + h - 1
            if j >= n:
                break
            rows.append({"t": t, "h": h, "actual": y[j], "forecast": b["forecast"], "naive": y[j - M],
                         "in80": b["lo80"] <= y[j] <= b["hi80"], "in95": b["lo95"] <= y[j] <= b["hi95"],
                         "method": f.method})
    out = summarise_backtest(y, [x for x in rows if x["h"] == 1])
    out["horizons"] = {h: summarise_backtest(y, [x for x in rows if x["h"] == h]) for h in range(1, horizon + 1)}
    return out


def summarise_backtest(y: list[int], rows: list[dict]) -> dict:
    k = len(rows)
    if k == 0:
        return {"origins": 0, "rows": []}
    mae = Fraction(sum(abs(x["actual"] - x["forecast"]) for x in rows), k)
    naive = Fraction(sum(abs(x["actual"] - x["naive"]) for x in rows), k)
    scale_terms = [abs(y[t] - y[t - M]) for t in range(M, len(y))]
    scale = Fraction(sum(scale_terms), len(scale_terms)) if scale_terms else Fraction(0)
    apes = [Fraction(abs(x["actual"] - x["forecast"]), x["actual"]) for x in rows if x["actual"] > 0]
    return {"origins": k, "mae": mae, "naive_mae": naive, "mase": mae / scale if scale else None,
            "naive_mase": naive / scale if scale else None,
            "mape": sum(apes, Fraction(0)) / len(apes) if apes else None,
            "cov80": Fraction(sum(x["in80"] for x in rows), k), "cov95": Fraction(sum(x["in95"] for x in rows), k),
            "rows": rows}


def backtest_ints(bt: dict) -> dict:
    """The back-test figures as the integers the law stores (at most 8 + 6 × 5 = 38 of the law's 40)."""
    if not bt["origins"]:
        return {"origins": 0}

    def e3(v):
        return -1 if v is None else round_half_up(v * 1000)

    def bps(v):
        return -1 if v is None else round_half_up(v * 10000)

    out = {"origins": bt["origins"], "mae_e3": e3(bt["mae"]), "naive_mae_e3": e3(bt["naive_mae"]),
           "mase_e3": e3(bt["mase"]), "naive_mase_e3": e3(bt["naive_mase"]), "mape_bps": bps(bt["mape"]),
           "cov80_bps": bps(bt["cov80"]), "cov95_bps": bps(bt["cov95"])}
    for h, hb in sorted(bt.get("horizons", {}).items()):  # h >= 2: six figures each, prefixed ``h2_`` ...
        if h == 1 or not hb["origins"]:
            continue
        out.update({f"h{h}_n": hb["origins"], f"h{h}_mae_e3": e3(hb["mae"]), f"h{h}_naive_mae_e3": e3(hb["naive_mae"]),
                    f"h{h}_mase_e3": e3(hb["mase"]), f"h{h}_cov80_bps": bps(hb["cov80"]),
                    f"h{h}_cov95_bps": bps(hb["cov95"])})
    return out
