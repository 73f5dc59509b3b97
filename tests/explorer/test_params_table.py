"""The explorer reads a law's parameter table without running the law's code."""

from __future__ import annotations

from contracts.runtime.registry import law_sources
from explorer.views import params_table


def test_named_units_are_evaluated():
    rows = {r["name"]: r for r in params_table(law_sources()["tax"])}
    assert rows["iit_basic_deduction_monthly"]["values"] == [{"since": "2019-01-01", "value": "500000"}]
    assert rows["eit_standard_rate"]["values"][0]["value"] == "2500"


def test_hostile_tables_are_refused_not_run():
    # a call, a huge power, an attribute: none is evaluated, the table is simply not shown
    for src in ('PARAMS = {"a": {"values": ((20250101, __import__("os").getpid()),)}}',
                'X = 10 ** 10 ** 10\nPARAMS = {"a": {"values": ((20250101, X),)}}',
                'X = 2 ** 200 * 2 ** 200\nPARAMS = {"a": {"values": ((20250101, X * X),)}}',
                'PARAMS = {"a": {"values": ((20250101, ().__class__),)}}',
                'PARAMS = {"a": {"values": ((20250101, 1 // 0),)}}'):
        assert params_table(src) == []
    assert params_table("PARAMS = " + "[" * 5000 + "]" * 5000) == []
