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


def test_a_table_change_reads_like_the_law_and_keeps_the_old_entries_byte_for_byte():
    new_rows = [[3_600_000, 400, 0], [14_400_000, 1000, 216_000], [30_000_000, 2000, 1_656_000],
                [42_000_000, 2500, 3_156_000], [66_000_000, 3000, 5_256_000], [96_000_000, 3500, 8_556_000],
                [None, 4500, 18_156_001]]
    new = with_values(TAX, {"iit_brackets": [[20250101, new_rows]]})
    assert param_values(new, "iit_brackets")[1] == [20250101, tuple(tuple(r) for r in new_rows)]
    import difflib

    d = [x for x in difflib.unified_diff(TAX.splitlines(), new.splitlines(), lineterm="", n=0)
         if x[:1] in "+-" and not x.startswith(("+++", "---"))]
    removed, added = [x[1:] for x in d if x[0] == "-"], [x[1:] for x in d if x[0] == "+"]
    assert removed == ["VERSION = 1"]  # the 2019 table is kept as it was written
    # the new table in the law's own style: named units where the value is whole, one row a line
    assert "                (36_000 * YUAN, 4 * PERCENT, 0)," in added
    assert "                (None, 45 * PERCENT, 18_156_001)," in added  # not whole yuan: written in fen
    assert "            (20250101, (" in added and len(added) == 1 + 1 + 7 + 1  # VERSION, the date, the rows, the close
    compile_contract("tax", new)
