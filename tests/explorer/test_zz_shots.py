def test_shots(browser, explorer, chain):
    ctx = browser.new_context(viewport={"width": 1100, "height": 900})
    pg = ctx.new_page()
    for name, path in [("tx", f"/tx/{chain.wage['hash'].hex()}"), ("law", "/laws/tax"), ("dash", "/dashboards"), ("acct", f"/account/{chain.alice}"), ("404", "/tx/" + "ab"*32)]:
        pg.goto(explorer.url + path); pg.wait_for_timeout(300)
        pg.screenshot(path=f"/tmp/shot-{name}.png", full_page=False)
