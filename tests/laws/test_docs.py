"""Each law's page in docs/laws/ names every entry and view the law declares."""

from __future__ import annotations

import pathlib
import re

import pytest

from contracts.runtime import compile_contract

from .helpers import SOURCES

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "laws"


@pytest.mark.parametrize("law", ["tax", "procurement", "welfare", "allocation", "currency", "congress", "pilot",
                                 "assembly", "forum", "tickets", "planning"])
def test_page_names_every_entry_and_view(law):
    page = (DOCS / f"{law}.md").read_text(encoding="utf-8")
    c = compile_contract(law, SOURCES[law])
    missing = [n for n in c.entries + c.views if not re.search(r"`" + re.escape(n) + r"[`(]", page)]
    assert missing == []
    assert "amendment" in page and "genesis" in page
