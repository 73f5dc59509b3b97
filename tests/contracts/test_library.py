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


# ---------------------------------------------------------------- dated parameter tables
PARAM_PRELUDE = '''
SCHEMA = {"rate": ("bps", "bps"), "limit": ("money", "fen")}
FIELDS = ("label", "unit", "reference", "values")
PARAMS = {
    "rate": {"label": "Rate", "unit": "bps", "reference": "art. 1", "values": ((20190101, 300), (20230101, 250))},
    "limit": {"label": "Limit", "unit": "fen", "reference": "art. 2", "values": ((20200101, 5000),)},
}
def value_error(kind, v):
    if kind == "bps":
        return "" if is_int(v) and 0 <= v <= 10000 else "must be an int in 0..10000 (bps)"
    return "" if is_int(v) and v >= 0 else "must be an int >= 0 (fen)"
def table(n, k):
    out = {}
    for i in range(n):
        out["p" + str(i)] = {"label": "L", "unit": "fen", "reference": "R",
                             "values": [[20000101 + j * 10000, j] for j in range(k)]}
    return out
def schema_of(n):
    return {"p" + str(i): ("money", "fen") for i in range(n)}
'''


def run_params(body: str, extra: str = "", **kw):
    return run_body(body, prelude=PARAM_PRELUDE + extra, **kw)


def test_is_date_matches_datetime():
    cases = [20240229, 20230229, 20000229, 19000229, 20231231, 20230431, 20230000, 20231301, 20230100,
             10101, 101, 99991231, 100000101, -20240101, 0, 19700101]
    r = run_params(f"return [is_date(d) for d in {cases}] + [is_date(True), is_date('20240101'), is_date(None), "
                   "is_date([20240101]), is_date(2**300)]")
    assert r.code == 0, ErrorCode(r.code).name

    def real(d):
        try:
            datetime.date(d // 10000, d // 100 % 100, d % 100)
        except ValueError:
            return False
        return 10101 <= d <= 99991231

    assert r.value == [real(d) for d in cases] + [False] * 5


@given(st.dates(datetime.date(1, 1, 1), datetime.date(9999, 12, 31)))
@settings(max_examples=200, deadline=None)
def test_is_date_accepts_every_real_day(d):
    n = d.year * 10000 + d.month * 100 + d.day
    assert run_params(f"return is_date({n})").value is True


def test_param_lookup_takes_the_last_value_in_force():
    r = run_params("return [param_in_force(PARAMS, 'rate', 20221231), param_in_force(PARAMS, 'rate', 20230101),"
                   " param_value(PARAMS, 'rate', 20190101), param_value(PARAMS, 'limit', 99991231)]")
    assert r.code == 0
    assert r.value == [[20190101, 300], [20230101, 250], 300, 5000]


@pytest.mark.parametrize("body,detail", [
    ("return param_value(PARAMS, 'rate', 20181231)", "no value in force on that date"),
    ("return param_in_force(PARAMS, 'nope', 20250101)", "unknown parameter"),
])
def test_param_lookup_fails_with_the_stable_code(body, detail):
    r = run_params(body)
    assert r.code == ErrorCode.CONTRACT_ERROR
    assert r.value == {"error": 4, "detail": detail}


@pytest.mark.parametrize("body", [
    "return param_value(5, 'rate', 20250101)",
    "return param_value(PARAMS, 1, 20250101)",
    "return param_value(PARAMS, 'rate', '20250101')",
    "return param_value(PARAMS, 'rate', True)",
    "return param_value({'rate': 5}, 'rate', 20250101)",
    "return param_value({'rate': {'values': 5}}, 'rate', 20250101)",
    "return param_value({'rate': {'values': [[20250101, 1, 2]]}}, 'rate', 20250101)",
    "return param_value({'rate': {'values': [['x', 1]]}}, 'rate', 20250101)",
])
def test_param_lookup_refuses_malformed_input(body):
    assert run_params(body).code == ErrorCode.TYPE_ERROR


def test_check_param_table_accepts_a_valid_table():
    r = run_params("return [check_param_table(PARAMS, SCHEMA, FIELDS, value_error), check_param_table(PARAMS, SCHEMA, FIELDS)]")
    assert r.code == 0 and r.value == [[], []]


def test_check_param_table_reports_every_problem_in_a_fixed_order():
    r = run_params('''
p = {
    "extra": {},
    "rate": {"label": "", "unit": "percent", "uprating": 1, "values": [[20250230, 5], [20190101, 20000],
                                                                       [20190101, 1], 7, [[1], 2], [202501, 3]]},
    "limit": 5,
}
return [check_param_table(p, SCHEMA, FIELDS, value_error), check_param_table([], SCHEMA, FIELDS),
        check_param_table({"rate": {"label": "x", "unit": "bps", "reference": "r", "values": []},
                           "limit": {"label": "x", "unit": "fen", "reference": 3, "values": None}}, SCHEMA, FIELDS)]
''')
    assert r.code == 0, (ErrorCode(r.code).name, r.value)
    assert r.value == [
        [
            "extra: unknown parameter",
            "rate.uprating: unknown field",
            "rate.reference: missing",
            "rate.unit: must be bps",
            "rate.label: must be a non-empty str",
            "rate.values: 20250230 is not a date YYYYMMDD",
            "rate.values[20190101]: must be an int in 0..10000 (bps)",
            "rate.values: dates must increase",
            "rate.values: each item must be (since, value)",
            "rate.values: <list> is not a date YYYYMMDD",
            "rate.values: 202501 is not a date YYYYMMDD",
            "limit: must be a dict of label, unit, reference, values",
        ],
        ["parameters must be a dict"],
        ["rate.values: must be a non-empty sequence of (since, value)",
         "limit.reference: must be a non-empty str",
         "limit.values: must be a non-empty sequence of (since, value)"],
    ]
    missing = run_params("return check_param_table({}, SCHEMA, FIELDS)")
    assert missing.value == ["rate: missing", "limit: missing"]


def test_check_param_table_dates_start_in_1900():
    r = run_params("return check_param_table({'limit': {'label': 'x', 'unit': 'fen', 'reference': 'r', "
                   "'values': [[18991231, 1], [19000101, 1]]}}, {'limit': ('money', 'fen')}, FIELDS)")
    assert r.value == ["limit.values: 18991231 is not a date YYYYMMDD"]


@pytest.mark.parametrize("call", [
    "check_param_table(PARAMS, 5, FIELDS)",
    "check_param_table(PARAMS, SCHEMA, 'label')",
    "check_param_table(PARAMS, SCHEMA, (1, 2))",
    "check_param_table(PARAMS, {'rate': 'bps'}, FIELDS)",
    "check_param_table(PARAMS, {'rate': ('bps', 1)}, FIELDS)",
    "check_param_table(PARAMS, SCHEMA, FIELDS, 'value_error')",
    "check_param_table(PARAMS, SCHEMA, FIELDS, len)",
    "check_param_table(PARAMS, SCHEMA, FIELDS, not_a_str)",
])
def test_check_param_table_refuses_bad_arguments(call):
    r = run_params("return " + call, extra="def not_a_str(kind, v):\n    return 0\n")
    assert r.code == ErrorCode.TYPE_ERROR


def test_check_param_table_walk_cannot_be_disturbed_by_check():
    # check receives aliases of the schema, the fields and the values it walks, and mutates them all
    r = run_params('''
fields = ["label", "unit", "reference", "values"]
vals = [[20200101, 1], [20210101, 2]]
sch = {}
sch["a"] = [sch, "fen"]
sch["b"] = [fields, "fen"]
p = {"a": {"label": "A", "unit": "fen", "reference": "r", "values": vals},
     "b": {"label": "B", "unit": "fen", "reference": "r", "values": vals}}
return [check_param_table(p, sch, fields, meddle), len(sch), fields]
''', extra='''
def meddle(kind, v):
    if is_dict(kind):
        kind.clear()
    if is_list(kind):
        kind.append(7)
    return "seen " + str(v)
''')
    assert r.code == 0, ErrorCode(r.code).name
    assert r.value == [["a.values[20200101]: seen 1", "a.values[20210101]: seen 2",
                        "b.values[20200101]: seen 1", "b.values[20210101]: seen 2"],
                       0, ["label", "unit", "reference", "values", 7, 7]]


def _gas_of(call: str, n: int, k: int) -> int:
    """Gas of ``call`` alone on a table of ``n`` parameters with ``k`` dated values each."""
    body = f"t = table({n}, {k})\ns = schema_of({n})\n"
    with_call = run_params(body + f"x = {call}\nreturn 0", gas=50_000_000)
    without = run_params(body + "x = 0\nreturn 0", gas=50_000_000)
    assert with_call.code == 0 and without.code == 0, ErrorCode(with_call.code).name
    return with_call.gas_used - without.gas_used


@pytest.mark.parametrize("call", [
    "check_param_table(t, s, FIELDS)",
    "check_param_table(t, s, FIELDS, value_error)",
])
def test_check_param_table_gas_grows_with_the_table(call):
    from contracts.runtime import gas

    small, big = _gas_of(call, 50, 2), _gas_of(call, 400, 2)
    assert small >= 50 * (2 * gas.PARAM_ROW + 2 * gas.PARAM_VALUE)
    assert 7 * small <= big <= 9 * small  # 8x the entries: about 8x the gas
    deep, deeper = _gas_of(call, 20, 10), _gas_of(call, 20, 80)
    assert deeper - deep >= 20 * 70 * gas.PARAM_VALUE  # each dated value is charged


def test_param_lookup_gas_grows_with_the_dated_values():
    from contracts.runtime import gas

    few = _gas_of("param_value(t, 'p0', 99991231)", 1, 10)
    many = _gas_of("param_value(t, 'p0', 99991231)", 1, 1000)
    assert many - few >= 990 * gas.PARAM_VALUE
    long_name = run_params("t = {('x' * 80000): {'values': [[20000101, 1]]}}\nreturn param_value(t, 'x' * 80000, 20250101)")
    short_name = run_params("t = {('x' * 80000): {'values': [[20000101, 1]]}}\nreturn param_value(t, 'x', 20250101)")
    assert long_name.code == 0 and short_name.code == ErrorCode.CONTRACT_ERROR
    assert long_name.gas_used - short_name.gas_used >= 80000 // 8 - 100


def test_check_param_table_runs_out_of_gas_on_a_huge_table():
    body = "t = table(2000, 5)\ns = schema_of(2000)\nreturn len(check_param_table(t, s, FIELDS, value_error))"
    full = run_params(body, gas=50_000_000)
    assert full.code == 0
    short = run_params(body, gas=full.gas_used - 1)
    assert short.code == ErrorCode.OUT_OF_GAS and short.gas_used == full.gas_used - 1
