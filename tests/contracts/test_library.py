"""Fixed-point money helpers (every rounding mode), dates, draws, and the
metered builtins' meaning."""

from __future__ import annotations

import datetime
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.runtime import ErrorCode
from contracts.runtime.library import ROUNDING, civil_from_days, days_from_civil, div_round_exact

from .helpers import run_body


def reference_round(n: int, d: int, mode: str) -> int:
    """Independent reference: exact Fraction, then the named rule."""
    x = Fraction(n, d)
    fl = x.numerator // x.denominator
    frac = x - fl
    if frac == 0:
        return fl
    toward_zero = fl if x > 0 else fl + 1
    away = fl + 1 if x > 0 else fl
    if mode == "floor":
        return fl
    if mode == "ceiling":
        return fl + 1
    if mode == "down":
        return toward_zero
    if mode == "up":
        return away
    if frac < Fraction(1, 2):
        return fl
    if frac > Fraction(1, 2):
        return fl + 1
    return {"half_up": away, "half_down": toward_zero, "half_even": fl if fl % 2 == 0 else fl + 1}[mode]


@given(st.integers(-10**30, 10**30), st.integers(-10**12, 10**12).filter(bool), st.sampled_from(ROUNDING))
@settings(max_examples=400, deadline=None)
def test_div_round_matches_fraction_reference(n, d, mode):
    assert div_round_exact(n, d, mode) == reference_round(n, d, mode)


@pytest.mark.parametrize("n,d,expected", [
    # value:          down up floor ceiling half_up half_down half_even
    (5, 2, (2, 3, 2, 3, 3, 2, 2)),     # 2.5
    (7, 2, (3, 4, 3, 4, 4, 3, 4)),     # 3.5
    (-5, 2, (-2, -3, -3, -2, -3, -2, -2)),  # -2.5
    (10, 4, (2, 3, 2, 3, 3, 2, 2)),    # 2.5 again with another divisor
    (11, 4, (2, 3, 2, 3, 3, 3, 3)),    # 2.75
    (-9, 4, (-2, -3, -3, -2, -2, -2, -2)),  # -2.25
    (6, 3, (2,) * 7),                  # exact
])
def test_rounding_table(n, d, expected):
    modes = ("down", "up", "floor", "ceiling", "half_up", "half_down", "half_even")
    assert tuple(div_round_exact(n, d, m) for m in modes) == expected


def test_money_helpers_in_contracts():
    r = run_body(
        "return [mul_div(1001, 1, 3), mul_div(1001, 1, 3, 'half_up'), mul_div(1001, 2, 3, 'half_even'),"
        " percent_of(12345, 15), percent_of(12345, 15, 'ceiling'), bps_of(1_000_001, 125, 'half_up'),"
        " div_round(-7, 2), div_round(-7, 2, 'floor'), clamp(5, 0, 3), clamp(-1, 0, 3)]"
    )
    assert r.code == 0
    assert r.value == [333, 334, 667, 1851, 1852, 12500, -3, -4, 3, 0]


@pytest.mark.parametrize("body,code", [
    ("return mul_div(1, 2, 0)", ErrorCode.ZERO_DIVISION),
    ("return mul_div(1, 2, 3, 'nearest')", ErrorCode.VALUE_ERROR),
    ("return mul_div(1, 2, 3, rounding=None)", ErrorCode.TYPE_ERROR),
    ("return percent_of(True, 2)", ErrorCode.TYPE_ERROR),
    ("return mul_div(2**4000, 2**4000, 1)", ErrorCode.INT_TOO_LARGE),
    ("return clamp(1, 3, 0)", ErrorCode.VALUE_ERROR),
])
def test_money_helper_errors(body, code):
    assert run_body(body).code == code


@given(st.integers(-719162, 2932896))
@settings(max_examples=300, deadline=None)
def test_dates_match_datetime(z):
    d = datetime.date(1970, 1, 1) + datetime.timedelta(days=z)
    assert civil_from_days(z) == [d.year, d.month, d.day]
    assert days_from_civil(d.year, d.month, d.day) == z


def test_date_helpers_in_contracts():
    r = run_body("return [date_of(ctx.time), time_of(2024, 2, 29), days_from_civil(2000, 3, 1)]")
    assert r.value == [[2023, 11, 14], 1709164800, 11017]
    assert run_body("return time_of(2023, 2, 29)").code == ErrorCode.VALUE_ERROR


def test_draw_is_deterministic_and_in_range():
    r = run_body("s = digest('x')\nreturn [draw(s, 'a', 10) for i in range(3)] + [draw(s, str(i), 6) for i in range(200)]")
    assert r.code == 0
    first, rest = r.value[:3], r.value[3:]
    assert len(set(first)) == 1
    assert all(0 <= v < 6 for v in rest) and set(rest) == set(range(6))
    assert run_body("return draw(b'', 'a', 0)").code == ErrorCode.VALUE_ERROR


@pytest.mark.parametrize("body,value", [
    ("return sorted(['b', 'a', 'c'], reverse=True)", ["c", "b", "a"]),
    ("return sorted([[2, 'x'], [1, 'y'], [2, 'a']], key=k)", [[1, "y"], [2, "x"], [2, "a"]]),
    ("return [min(3, 1, 2), max([4, 9, 2]), min(['bb', 'a'], key=len)]", [1, 9, "a"]),
    ("return [sum([1, 2, 3]), sum(range(5), 10), abs(-4), any([0, 0, 1]), all([])]", [6, 20, 4, True, True]),
    ("return list(enumerate('ab', 1)) + list(zip([1, 2], 'xy'))", [[1, "a"], [2, "b"], [1, "x"], [2, "y"]]),
    ("return [reversed([1, 2, 3]), tuple([1]), dict([['a', 1]], b=2), list({'k': 1})]", [[3, 2, 1], [1], {"a": 1, "b": 2}, ["k"]]),
    ("return [str(12), str(True), int('-42'), int('ff', 16), int(True), bool([]), len(range(5))]", ["12", "True", -42, 255, 1, False, 5]),
    ("return ['A b'.lower(), ' x '.strip(), 'a,b'.split(','), '-'.join(['a', 'b']), 'aXa'.replace('a', 'bb')]",
     ["a b", "x", ["a", "b"], "a-b", "bbXbb"]),
    ("return ['12'.isdigit(), '\u0661'.isdigit(), 'abc'.find('c'), 'abc'.startswith(('x', 'a')), 'h\u00e9'.encode()]",
     [True, False, 2, True, "h\u00e9".encode()]),
    ("d = {'b': 1, 'a': 2}\nd['c'] = 3\nreturn [list(d), d.items(), d.get('z', 0), d.pop('b'), d]",
     [["b", "a", "c"], [["b", 1], ["a", 2], ["c", 3]], 0, 1, {"a": 2, "c": 3}]),
    ("x = [3, 1]\nx.append(2)\nx.insert(0, 9)\nx.extend([7])\nx.remove(1)\nreturn [x, x.index(2), x.count(7), x.pop()]",
     [[9, 3, 2], 2, 1, 7]),
    ("return [[1, [2, {'a': 'b'}]] == [1, [2, {'a': 'b'}]], (1, 2) == [1, 2], [1, 2] < [1, 3], 'b' > 'a', [1] in [[1]]]",
     [True, False, True, True, True]),
    ("return [is_int(1), is_int(True), is_bool(False), is_str(''), is_list([]), is_dict({}), is_tuple(()), is_none(None), is_bytes(b'')]",
     [True, False, True, True, True, True, True, True, True]),
    ("x = 'abcdef'\nreturn [x[1:3], x[::-1], x[-1], [1, 2, 3][1:], b'ab'[0]]", ["bc", "fedcba", "f", [2, 3], 97]),
])
def test_builtins(body, value):
    r = run_body(body, prelude="def k(x):\n    return x[0]\n")
    assert r.code == 0, ErrorCode(r.code).name
    assert r.value == value


@pytest.mark.parametrize("body,code", [
    ("return sorted([1, 'a'])", ErrorCode.TYPE_ERROR),
    ("return sorted([[1, [2]], [1, [3]]])", ErrorCode.TYPE_ERROR),
    ("return min([])", ErrorCode.VALUE_ERROR),
    ("return [1][5]", ErrorCode.INDEX_ERROR),
    ("return {'a': 1}['b']", ErrorCode.KEY_ERROR),
    ("return {'a': 1}[1]", ErrorCode.TYPE_ERROR),
    ("return 1 // 0", ErrorCode.ZERO_DIVISION),
    ("return 5 % 0", ErrorCode.ZERO_DIVISION),
    ("if False:\n    y = 1\nreturn y", ErrorCode.NAME_ERROR),
    ("return int('12x')", ErrorCode.VALUE_ERROR),
    ("return b'\\xff'.decode()", ErrorCode.VALUE_ERROR),
    ("return len(range(10**30))", ErrorCode.INT_TOO_LARGE),
    ("return 'abc'.upper(1)", ErrorCode.TYPE_ERROR),
    ("return [1, 2] + (3,)", ErrorCode.TYPE_ERROR),
    ("return 1 + None", ErrorCode.TYPE_ERROR),
    ("return None < 1", ErrorCode.TYPE_ERROR),
])
def test_builtin_errors(body, code):
    assert run_body(body).code == code
