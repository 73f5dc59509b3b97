"""Every law's case table (contracts/laws/cases/LAW.toml), run against the law in the sandbox.

The same tables are rendered into docs/laws/*.md (``python -m cli.lawdocs``);
the last test fails when a page's generated sections differ from the
rendering of the tables and of the laws' ``PARAMS``.
"""

from __future__ import annotations

import datetime

import pytest

from cli import lawdocs

from .helpers import BANK, PLANNING, REGISTRAR, TREASURY, at, call, make_host, ok, view

SENDERS = {"registrar": REGISTRAR, "treasury": TREASURY, "planning": PLANNING, "bank": BANK}
CASES = [(law, i, c) for law in lawdocs.laws_with_cases() for i, c in enumerate(lawdocs.cases(law))]


def run_case(law: str, case: dict):
    kw = {}
    if isinstance(case.get("date"), datetime.date):
        d = case["date"]
        kw["time"] = at(d.year, d.month, d.day)
    host = make_host(balances={PLANNING: 10**12}, **kw)
    for step in case.get("setup", []):
        ok(call(host, law, step["call"], lawdocs.value(step.get("args", {})),
                sender=SENDERS.get(step["sender"], step["sender"])))
    return view(host, law, case["function"], lawdocs.value(case.get("args", {})))


@pytest.mark.parametrize("law,index,case", CASES, ids=[f"{law}-{i}" for law, i, _ in CASES])
def test_case(law, index, case):
    got = run_case(law, case)
    if "expected" in case:
        assert got == lawdocs.value(case["expected"]), case["name"]
    else:
        want = lawdocs.value(case["expected_fields"])
        assert {k: got.get(k) for k in want} == want, case["name"]


def test_every_law_with_parameters_has_a_case_table():
    assert set(lawdocs.laws_with_cases()) >= {"tax", "welfare", "procurement", "allocation", "currency"}


def test_amounts_are_read_exactly():
    assert lawdocs.amount("7,480 yuan") == 748_000
    assert lawdocs.amount("0.50 yuan") == 50 and lawdocs.amount("-3 yuan") == -300
    with pytest.raises(lawdocs.CaseError):
        lawdocs.amount("7.480 yuan")


def test_a_wrong_expectation_fails():
    # the negative control: a case whose expectation is off by one fen does not pass
    case = dict(lawdocs.cases("tax")[0], expected=lawdocs.value(lawdocs.cases("tax")[0]["expected"]) + 1)
    assert run_case("tax", case) != case["expected"]


@pytest.mark.parametrize("law", lawdocs.laws_with_cases())
def test_docs_pages_show_the_tables_as_generated(law):
    page = (lawdocs.DOCS / f"{law}.md").read_text(encoding="utf-8")
    assert lawdocs.render_page(law, page) == page, f"run `python -m cli.lawdocs` to regenerate docs/laws/{law}.md"
