"""Building a parameter change's source (cli/gov_source.py) and the gov CLI's one-line errors."""

from __future__ import annotations

from click.testing import CliRunner

from cli.gov import gov
from cli.gov_source import SourceError, param_values, with_values
from contracts.runtime import compile_contract
from contracts.runtime.registry import law_sources

from .helpers import at, call, make_host, ok

TAX = law_sources()["tax"]


def test_new_dated_values_change_only_that_table_and_the_version():
    new = with_values(TAX, {"iit_basic_deduction_monthly": [[20260101, 600_000]]})
    assert param_values(new, "iit_basic_deduction_monthly") == [[20190101, 500_000], [20260101, 600_000]]
    assert "VERSION = 2" in new and "VERSION = 1" not in new
    changed = [a for a, b in zip(TAX.splitlines(), new.splitlines()) if a != b]
    assert len(changed) == 2 and len(TAX.splitlines()) == len(new.splitlines())
    compile_contract("tax", new)
    host = make_host(time=at(2026, 2, 1))
    host.contracts["tax"] = new
    assert ok(call(host, "tax", "check_params", read_only=True)) == []
    assert ok(call(host, "tax", "param", {"name": "iit_basic_deduction_monthly"}, read_only=True)) == 600_000


def test_bad_values_are_refused():
    for bad in ({}, {"nope": [[20260101, 1]]}, {"iit_brackets": [[2026, 1, 2]]}):
        try:
            with_values(TAX, bad)
        except SourceError:
            continue
        raise AssertionError(f"accepted {bad}")


def test_gov_errors_are_one_line():
    r = CliRunner().invoke(gov, ["vote", "--from", "nobody", "1", "yes", "--keystore", "/nonexistent", "--json"],
                           env={"ESOC_PASSWORD": "x"})
    assert r.exit_code == 1
    assert r.output.startswith("esoc: error: ") and len(r.output.strip().splitlines()) == 1
    r = CliRunner().invoke(gov, ["propose", "--from", "a", "--title", "t", "--json"], env={"ESOC_PASSWORD": "x"})
    assert r.exit_code == 1 and "say what to propose" in r.output
