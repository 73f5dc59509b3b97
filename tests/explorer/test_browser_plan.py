"""The plan pages in headless Debian Chromium, driven by Playwright: open /plan, click a
product, see the forecast-against-outcome chart drawn on its canvas and the table's rows;
screenshots (desktop and phone width) saved under tests/explorer/artifacts/."""

from __future__ import annotations

import os

from .test_plan_pages import JUDGED, OPEN, PRODUCT, plan_ready

# the canvas has pixels that are not transparent: uPlot drew the lines, dots and bands
DRAWN = """() => {
  const c = document.querySelector('#plan-chart canvas');
  if (!c || !c.width || !c.height) return 0;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""


def test_open_the_plan_click_a_product_and_see_its_chart_and_table(page, explorer, chain, artifacts):
    ph = plan_ready(chain, explorer)
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource") else None)  # e.g. CSP refusals
    # a failed load of the page's own assets would show here (the browser's own /favicon.ico is not one)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico") else None)
    page.goto(explorer.url + "/")
    page.click("header nav a[href='/plan']")
    page.wait_for_url("**/plan")
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN})
    row = page.locator(f"#product-{PRODUCT}")
    assert row.locator("td.forecast").inner_text() == str(g["forecast"])
    page.screenshot(path=os.path.join(artifacts, "plan-catalogue.png"), full_page=True)
    row.locator(f"a[href='/plan/{PRODUCT}']").click()
    page.wait_for_url(f"**/plan/{PRODUCT}")
    page.wait_for_selector("#plan-chart canvas")
    page.wait_for_function(f"({DRAWN})() > 1000")
    drawn = page.evaluate(f"({DRAWN})()")
    assert drawn > 1000
    # one chart point per table row: the 36 months shown, then the months ahead of the latest guidance
    rows = page.locator("#history tbody tr")
    assert len(g["ahead"]) == 2 and page.locator("#history tbody tr.ahead").count() == 2
    assert rows.count() == 36 + 2 == int(page.get_attribute("#plan-chart", "data-drawn"))
    assert page.locator(".u-legend").count() == 1 and "forecast" in page.inner_text(".u-legend")
    for p in JUDGED:
        o = ph.view("outcome", {"product": PRODUCT, "period": p})
        tr = page.locator(f"#p-{p}")
        assert tr.locator("td.sold").inner_text() == str(o["realised"])
        assert tr.locator("td.forecast").inner_text() == str(o["forecast"])
        assert tr.locator("td.lo80hi80").inner_text() == f"{o['lo80']}–{o['hi80']}"
    assert page.inner_text("#g-forecast") == str(g["forecast"])
    assert page.inner_text("#bt-origins") == str(g["backtest"]["origins"])
    page.screenshot(path=os.path.join(artifacts, "plan-product.png"), full_page=True)
    assert os.path.getsize(os.path.join(artifacts, "plan-product.png")) > 20_000
    assert errors == []  # no script error, no CSP refusal


def test_the_product_page_without_javascript_and_at_phone_width(browser, explorer, chain, artifacts):
    ph = plan_ready(chain, explorer)
    ctx = browser.new_context(java_script_enabled=False)
    try:
        pg = ctx.new_page()
        pg.goto(explorer.url + f"/plan/{PRODUCT}")
        assert pg.locator("#plan-chart canvas").count() == 0  # no script: no chart, but the table holds it all
        o = ph.view("outcome", {"product": PRODUCT, "period": JUDGED[0]})
        assert pg.locator(f"#p-{JUDGED[0]} td.sold").inner_text() == str(o["realised"])
        assert pg.locator("#history tbody tr").count() == 36 + 2  # the months shown and the two ahead
    finally:
        ctx.close()
    ctx = browser.new_context(viewport={"width": 375, "height": 740}, device_scale_factor=2, is_mobile=True)
    try:
        pg = ctx.new_page()
        for path in ["/plan", f"/plan/{PRODUCT}"]:
            pg.goto(explorer.url + path)
            assert pg.evaluate("document.documentElement.scrollWidth") <= 375, path
        pg.wait_for_function(f"({DRAWN})() > 1000")
        pg.screenshot(path=os.path.join(artifacts, "plan-product-phone.png"), full_page=True)
    finally:
        ctx.close()


def test_forecasts_ahead_continue_the_chart(page, explorer, chain):
    """The guidance carries forecasts for the months after its own (``ahead``, esoc plan compute's horizon):
    plan.js draws them after the months shown, dashed, with their own legend entry."""
    ph = plan_ready(chain, explorer)
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN})
    assert [a["period"] for a in g["ahead"]] == [202604, 202605]
    page.goto(explorer.url + f"/plan/{PRODUCT}")
    page.wait_for_function(f"({DRAWN})() > 1000")
    assert int(page.get_attribute("#plan-chart", "data-drawn")) == 36 + 2
    assert "forecast ahead" in page.inner_text(".u-legend")
