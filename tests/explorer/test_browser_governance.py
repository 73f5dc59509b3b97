"""The governance pages in headless Debian Chromium, driven by Playwright (as test_browser.py):
a newcomer on the home page clicks Delegates, then a delegate, and sees their vote on the
proposal and that their constituents voided it; then follows the proposal to its votes; a
phone-width screenshot of each page is saved under tests/explorer/artifacts/."""

from __future__ import annotations

import os


def test_a_newcomer_finds_a_delegates_vote_from_the_home_page(page, gov_explorer, gov_chain, artifacts):
    g = gov_chain
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(gov_explorer.url + "/")
    page.click("header nav >> text=Delegates")
    page.wait_for_url("**/delegates")
    page.click(f"#delegates a[href='/delegates/{g.addr['delegate-2']}']")
    page.wait_for_url(f"**/delegates/{g.addr['delegate-2']}")
    row = page.locator("#record tbody tr").first
    assert row.locator("td.vote").inner_text() == g.votes["delegate-2"] == "no"
    assert "void" in row.inner_text() and f"#{g.pid}" in row.inner_text()
    assert "2 oppose" in row.inner_text()
    # nothing wider than the phone's screen
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    page.screenshot(path=os.path.join(artifacts, "delegate-phone.png"), full_page=True)

    row.locator(f"a[href='/proposals/{g.pid}']").click()
    page.wait_for_url(f"**/proposals/{g.pid}")
    assert page.inner_text("#status") == "enacted"
    votes = {r.locator("td").first.inner_text(): r.locator("td.vote").inner_text()
             for r in page.locator("#votes tbody tr").all()}
    assert votes == {"delegate-1": "yes", "delegate-2": "no", "delegate-3": "abstain"}
    assert "accepted" in page.inner_text("#tally")
    page.screenshot(path=os.path.join(artifacts, "proposal-phone.png"), full_page=True)


def test_the_forum_and_an_agency_from_the_nav(page, gov_explorer, gov_chain, artifacts):
    g = gov_chain
    page.goto(gov_explorer.url + "/")
    page.click("header nav >> text=Forum")
    page.wait_for_url("**/forum")
    page.click(f"#hot a[href='/forum/{g.topic}']")
    assert page.inner_text("#counts") == "1 / 0" and "Reform assembly" in page.content()
    page.click("header nav >> text=Agencies")
    page.click(f"#agencies a[href='/agencies/{g.addr['planning-agency']}']")
    assert page.inner_text("#rating").startswith("4.00 / 5")
    page.screenshot(path=os.path.join(artifacts, "agency.png"), full_page=True)
