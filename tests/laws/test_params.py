"""Every law's parameter table against its strict schema.

An unknown parameter or field is an error, never silently ignored (the
PolicyEngine-US #8905 failure: an ``uprating`` block in the wrong place was
ignored for years).
"""

from __future__ import annotations

import copy

import pytest

from contracts.runtime import check_source, load_laws

from .helpers import SOURCES, call, make_host, module_of, view

LAWS = ("tax", "procurement", "welfare", "allocation", "currency")
WITH_PARAMS = ("tax", "procurement", "welfare", "allocation")


def params_of(law: str) -> dict:
    return copy.deepcopy(module_of(law)["PARAMS"])


def errors(law: str, params) -> list:
    return view(make_host(), law, "check_params", {"params": params})


def test_every_law_is_in_the_subset_and_loads():
    assert set(LAWS) <= set(load_laws())
    for law in LAWS:
        assert check_source(SOURCES[law]) == []


@pytest.mark.parametrize("law", LAWS)
def test_shipped_parameters_are_valid(law):
    assert view(make_host(), law, "check_params") == []
    assert errors(law, params_of(law)) == []


@pytest.mark.parametrize("law", LAWS)
def test_every_law_states_its_name_and_version(law):
    assert view(make_host(), law, "version") == {"law": law, "version": 1}
    assert SOURCES[law].startswith('"""')


@pytest.mark.parametrize("law", WITH_PARAMS)
def test_unknown_parameter_is_an_error(law):
    p = params_of(law)
    p["uprating"] = copy.deepcopy(next(iter(p.values())))
    assert "uprating: unknown parameter" in errors(law, p)


@pytest.mark.parametrize("law", WITH_PARAMS)
def test_unknown_field_is_an_error(law):
    p = params_of(law)
    name = next(iter(p))
    p[name]["uprating"] = {"index": "cpi"}
    assert f"{name}.uprating: unknown field" in errors(law, p)


@pytest.mark.parametrize("law", WITH_PARAMS)
def test_missing_parameter_and_field_are_errors(law):
    p = params_of(law)
    first, second = list(p)[:2]
    del p[first]
    del p[second]["reference"]
    errs = errors(law, p)
    assert f"{first}: missing" in errs and f"{second}.reference: missing" in errs


@pytest.mark.parametrize("law", WITH_PARAMS)
def test_wrong_unit_bad_dates_and_bad_values_are_errors(law):
    p = params_of(law)
    name = next(iter(p))
    p[name]["unit"] = "furlongs"
    since, value = p[name]["values"][0]
    p[name]["values"] = ((20250230, value), (since, value), (since, value))
    errs = errors(law, p)
    assert any(e.startswith(f"{name}.unit") for e in errs)
    assert f"{name}.values: 20250230 is not a date YYYYMMDD" in errs
    assert f"{name}.values: dates must increase" in errs


def test_currency_has_no_parameters_and_refuses_any():
    assert errors("currency", {"x": 1}) == ["x: unknown parameter"]


def test_tax_quick_deductions_must_follow_from_the_rates():
    p = params_of("tax")
    since, table = p["iit_brackets"]["values"][0]
    rows = [list(r) for r in table]
    rows[2][2] = 1_692_100  # 16,921 yuan instead of 16,920
    p["iit_brackets"]["values"] = ((since, rows),)
    assert errors("tax", p) == ["iit_brackets.values[20190101]: quick deduction of row 2 must be 1692000"]


def test_tax_brackets_must_end_open_and_rates_stay_below_100_percent():
    p = params_of("tax")
    p["transfer_tax_ladder"]["values"] = ((20250101, ((100, 0), (200, 10000))),)
    assert any("transfer_tax_ladder" in e for e in errors("tax", p))
    p = params_of("tax")
    p["transfer_tax_ladder"]["values"] = ((20250101, ((100, 0), (200, 5000))),)
    assert any("last row" in e for e in errors("tax", p))


def test_procurement_scheme_fee_must_be_below_the_market_fee():
    p = params_of("procurement")
    p["scheme_logistics_fee"]["values"] = ((20250101, 400),)
    assert errors("procurement", p) == ["scheme_logistics_fee.values[20250101]: must be below the market fee 400"]


def test_dated_values_apply_from_their_date():
    host = make_host()
    # MOF/STA 2023 No. 12: 25 % of a small low-profit enterprise's income is taxed from 2023 to 2027
    assert view(host, "tax", "param", {"name": "eit_small_low_profit_base", "on": 20221231}) == 10000
    assert view(host, "tax", "param", {"name": "eit_small_low_profit_base", "on": 20230101}) == 2500
    assert view(host, "tax", "param", {"name": "eit_small_low_profit_base", "on": 20280101}) == 10000
    r = call(host, "tax", "param", {"name": "iit_brackets", "on": 20181231}, read_only=True)
    assert r.code == 4 and r.value["error"] == 4  # no value before the 2018 law took effect
    r = call(host, "tax", "param", {"name": "no_such_thing"}, read_only=True)
    assert r.code == 4 and r.value["error"] == 4


@pytest.mark.parametrize("law", WITH_PARAMS)
def test_params_at_lists_every_parameter_with_its_since_date(law):
    p = params_of(law)
    got = view(make_host(), law, "params_at", {"on": 20250601})
    assert set(got) == set(p)
    for name, (since, _value) in got.items():
        assert since <= 20250601
