"""A synthetic product with a known monthly season, noise and reservations (fixed seed).

Demand in period ``t`` (months from the start) is::

    d_t = level + amplitude * sin(2 pi (t + phase) / 12) + u_t + v_t

with ``u_t`` the part people announce in advance and ``v_t`` the part they
do not (both normal, independent).  Reservations are a share of the
announced demand: ``r_t = share * (level + season_t + u_t) + w_t``.  So
reservations carry information the sales history does not have (``u_t``),
which is what a leading indicator is.
"""

from __future__ import annotations

import math
import random


def product_series(n: int, seed: int, level: int = 1000, amplitude: int = 250, phase: int = 0,
                   sd_announced: float = 40.0, sd_unannounced: float = 30.0, share: float = 0.3,
                   sd_reservation: float = 4.0) -> tuple[list[int], list[int]]:
    """``(sales, reservations)``, each ``n`` integers >= 0."""
    rng = random.Random(seed)
    sales, reserved = [], []
    for t in range(n):
        season = amplitude * math.sin(2 * math.pi * (t + phase) / 12)
        u = rng.gauss(0, sd_announced)
        v = rng.gauss(0, sd_unannounced)
        w = rng.gauss(0, sd_reservation)
        sales.append(max(0, round(level + season + u + v)))
        reserved.append(max(0, round(share * (level + season + u) + w)))
    return sales, reserved
