"""The explorer in headless Debian Chromium, driven by Playwright: live blocks
on the home page, search to a transaction, an account's CSV download, a law's
older version and its diff, and a phone-width screenshot (saved under
tests/explorer/artifacts/)."""

from __future__ import annotations

import csv
import os

from explorer.index import Index
from ledger.address import decode_address
from ledger.tx import Transfer


def test_home_page_shows_a_new_block_and_transaction_without_reloading(page, explorer, chain, artifacts):
    page.goto(explorer.url + "/")
    first = page.locator("#blocks tr").first.get_attribute("id")
    start = int(first.split("-")[1])
    # the page is never reloaded: a newer block row arrives over server-sent events
    page.wait_for_function(
        "start => { const r = document.querySelector('#blocks tr'); return r && +r.id.split('-')[1] > start; }",
        arg=start, timeout=30_000)
    newest = int(page.locator("#blocks tr").first.get_attribute("id").split("-")[1])
    assert newest > start
    # a transaction sent now shows up in the live list too
    r = chain.actors.send("bob", "transfer", Transfer(to=decode_address(chain.alice), amount=7))
    assert r["code"] == 0
    page.wait_for_selector(f"#txs a[href='/tx/{r['hash'].hex()}']", timeout=30_000)
    assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
    page.screenshot(path=os.path.join(artifacts, "home-live.png"))


def test_search_a_transaction_hash_lands_on_its_page(page, explorer, chain):
    h = chain.transfer["hash"].hex()
    page.goto(explorer.url + "/")
    page.fill("header input[name=q]", h)
    page.click("header button[type=submit]")
    page.wait_for_url(f"**/tx/{h}")
    assert page.inner_text("#tx-hash") == h
    assert "transfer" in page.content() and "123.45" in page.content()


def test_open_an_account_and_download_its_csv(page, explorer, chain, artifacts):
    page.goto(explorer.url + f"/account/{chain.alice}")
    assert page.inner_text("#address") == chain.alice
    with page.expect_download() as dl:
        page.click("#csv")
    path = os.path.join(artifacts, "alice-history.csv")
    dl.value.save_as(path)
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:4] == ["height", "index", "time_ms", "tx_hash"]
    assert chain.transfer["hash"].hex() in {r[3] for r in rows[1:]}


def test_law_pick_an_older_version_and_see_the_diff(page, explorer, chain):
    """No transaction installs a second law version yet (amendments come with
    governance), so a second version of ``tax`` is written into this index as
    the follower would record it; the page, selector and diff are the real ones."""
    ix = Index(explorer.db_path)
    v1 = ix.law_version("tax", 1)
    if ix.law_version("tax", 2) is None:
        src = v1["source"].replace('"values": ((20190101, 5_000 * YUAN),),', '"values": ((20190101, 5_000 * YUAN), (20270101, 6_000 * YUAN)),', 1)
        assert src != v1["source"]
        top = ix.height()
        ix.w.write([(ix.w.sql("INSERT INTO law_versions (name, version, code_hash, since_height, summary, source, "
                              "entries, views, seen_height) VALUES (?,?,?,?,?,?,?,?,?)"),
                     ("tax", 2, "ab" * 32, top, v1["summary"], src, "[]", "[]", top))])
    ix.close()
    page.goto(explorer.url + "/laws/tax")
    assert "version 2" in page.inner_text("h1")
    assert page.locator("#diff").count() == 1  # the version in force shows its diff to version 1
    page.select_option("#version", "1")
    page.click("form.inline button[type=submit]")
    page.wait_for_url("**/laws/tax?version=1")
    assert "version 1" in page.inner_text("h1") and page.locator("#diff").count() == 0
    page.goto(explorer.url + "/laws/tax")
    page.select_option("#version", "2")
    page.click("form.inline button[type=submit]")
    page.wait_for_url("**/laws/tax?version=2")
    diff = page.inner_text(".hl >> nth=0")
    assert "+" in diff and "6_000 * YUAN" in diff and "20270101" in diff


def test_phone_width_screenshot_of_the_home_page(browser, explorer, chain, artifacts):
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    try:
        pg = ctx.new_page()
        pg.goto(explorer.url + "/")
        pg.wait_for_selector("#blocks tr")
        # nothing wider than the screen: no sideways scrolling on a phone
        assert pg.evaluate("document.documentElement.scrollWidth") <= 375
        path = os.path.join(artifacts, "home-phone.png")
        pg.screenshot(path=path, full_page=True)
        assert os.path.getsize(path) > 10_000
        # every other page fits too (wide tables scroll inside themselves)
        for p in [f"/tx/{chain.wage['hash'].hex()}", "/laws/tax", f"/account/{chain.alice}", "/dashboards",
                  "/validators", f"/block/{chain.wage['height']}", "/blocks", "/laws", "/no/such/page"]:
            pg.goto(explorer.url + p)
            assert pg.evaluate("document.documentElement.scrollWidth") <= 375, p
        pg.goto(explorer.url + f"/tx/{chain.wage['hash'].hex()}")
        pg.screenshot(path=os.path.join(artifacts, "tx-phone.png"), full_page=True)
    finally:
        ctx.close()


