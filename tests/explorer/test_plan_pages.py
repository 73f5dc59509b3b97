"""The explorer's plan pages over real HTTP (``python -m explorer`` on the real devnet of
conftest.py) against a planning history made on that chain: 36 months of synthetic sales,
reservations and declarations, guidance computed from the chain and published by the planning
agency (planning.guidance.compute, what ``esoc plan compute --publish`` runs), two months
judged and closed, one open.  Every figure a page shows is compared with what the planning
law holds, read from the node directly."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.openapi import conforms
from ledger.block import Receipt
from ledger.codec import decode
from ledger.tx import Call
from planning import guidance, synthetic

from .conftest import ExplorerProc, http
from .test_pages import http_noredirect

START, JUDGED, OPEN = 202301, (202601, 202602), 202603
PRODUCT = "rebar"
_DONE: dict = {}


class PlanHistory:
    """What the fixture did on the chain, and the law's views read back from the node."""

    def __init__(self, chain):
        self.chain = chain
        self.a = chain.actors

    def view(self, fn: str, args: dict | None = None, height: int = 0):
        with self.a.net.nodes[0].client() as c:
            r = c.eval_law("planning", fn, args or {}, height)
        assert r.code == 0, (fn, r.error)
        return decode(r.value) if r.value else None

    def batch(self, name: str, calls: list, gas: int = 5_000_000) -> list:
        """``(entry, args)`` calls of the planning law from one account, consecutive nonces, one submission."""
        key = self.a.key(name)
        with self.a.net.nodes[0].client() as c:
            first = c.sign(key, "call", Call(contract="planning", entry=calls[0][0], args=calls[0][1], gas_limit=gas))
            txs = [first] + [c.sign(key, "call", Call(contract="planning", entry=e, args=args, gas_limit=gas),
                                    nonce=first.body.nonce + i + 1) for i, (e, args) in enumerate(calls[1:])]
            r = c.submit_batch(txs)
            assert r.accepted == len(txs), [x.reason for x in r.results if x.code]
            out = []
            for t in txs:
                w = c.wait_for_tx(t.hash, timeout=60, poll=0.05)
                rc = Receipt.decode(w.receipt)
                assert rc.code == 0, (name, calls[0][0], rc.code, rc.result)
                out.append({"hash": t.hash.hex(), "height": w.height, "result": rc.result})
            return out

    def publish(self, period: int) -> dict:
        with self.a.net.nodes[0].client() as c:
            h = c.status().height
            args = guidance.compute(guidance.ClientReader(c), period, h, backtest_origins=4)
        return self.batch("planning-agency", [("publish", args)], gas=50_000_000)[0]


def make_history(chain) -> PlanHistory:
    """Once per session (the browser test shares it)."""
    if "plan" in _DONE:
        return _DONE["plan"]
    ph = PlanHistory(chain)
    a = ph.a
    steel, clinic = a.addr("steelworks"), a.addr("clinic")
    ph.batch("planning-agency", [("add_product", {"code": PRODUCT, "name": "Rebar", "unit": "tonne"}),
                                 ("add_product", {"code": "tin", "name": "Tin", "unit": "kg"}),
                                 ("add_producer", {"product": PRODUCT, "enterprise": steel}),
                                 ("add_producer", {"product": PRODUCT, "enterprise": clinic})])
    sales, reserved = synthetic.product_series(40, seed=11)
    pays, res, decl_s, decl_c = [], [], [], []
    p = START
    for t in range(36):
        pays.append(("pay", {"product": PRODUCT, "period": p, "seller": steel, "quantity": sales[t],
                             "amount": sales[t] * 480}))
        res.append(("reserve", {"product": PRODUCT, "period": p, "quantity": reserved[t]}))
        decl_s.append(("declare", {"product": PRODUCT, "period": p, "production": sales[t] * 6 // 10, "inventory": 0}))
        decl_c.append(("declare", {"product": PRODUCT, "period": p, "production": sales[t] - sales[t] * 6 // 10,
                                   "inventory": 0}))
        p = guidance.add_months(p, 1)
    res.append(("reserve", {"product": PRODUCT, "period": JUDGED[0], "quantity": reserved[36]}))
    ph.batch("bakery", pays)
    ph.batch("dan", res)
    ph.batch("steelworks", decl_s)
    ph.batch("clinic", decl_c)
    ph.published = {}
    for i, period in enumerate(JUDGED):
        ph.published[period] = ph.publish(period)
        g = ph.view("guidance", {"product": PRODUCT, "period": period})
        actual = sales[36 + i]
        ph.batch("bakery", [("pay", {"product": PRODUCT, "period": period, "seller": steel, "quantity": actual,
                                     "amount": actual * 500})])
        # steelworks follows the guidance (its share of last month's production, of the forecast: inside its
        # share of the 80 % interval), the clinic does not (three times the upper bound: unsold stock)
        prev = guidance.add_months(period, -1)
        mine = ph.view("declaration", {"product": PRODUCT, "period": prev, "enterprise": steel})["production"]
        theirs = ph.view("declaration", {"product": PRODUCT, "period": prev, "enterprise": clinic})["production"]
        ph.batch("steelworks", [("declare", {"product": PRODUCT, "period": period,
                                             "production": g["forecast"] * mine // (mine + theirs), "inventory": 3})])
        ph.batch("clinic", [("declare", {"product": PRODUCT, "period": period, "production": 3 * g["hi80"],
                                         "inventory": 3 * g["hi80"] - actual // 3})])
        ph.batch("dan", [("reserve", {"product": PRODUCT, "period": guidance.add_months(period, 1),
                                      "quantity": reserved[37 + i]})])
        ph.batch("planning-agency", [("close_period", {"period": period})])
    ph.published[OPEN] = ph.publish(OPEN)
    rq = ph.batch("erin", [("request", {"code": "ebike", "description": "An electric cargo bike", "near": PRODUCT})])
    ph.request_id = rq[0]["result"]["id"]
    ph.batch("dan", [("follow", {"request_id": ph.request_id})])
    ph.batch("delegate-1", [("follow", {"request_id": ph.request_id})])
    ph.top = a.height()
    ph.sales = sales
    _DONE["plan"] = ph
    return ph


def plan_ready(chain, explorer) -> PlanHistory:
    ph = make_history(chain)
    explorer.wait_indexed(ph.top)
    return ph


def get_json(explorer, path: str):
    s, _, body = http(explorer.url + path)
    return s, json.loads(body)


def schema_of(explorer, path: str) -> dict:
    doc = json.loads(http(explorer.url + "/openapi.json")[2])
    return doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]


GUIDANCE_KEYS = ("forecast", "lo80", "hi80", "lo95", "hi95", "recommended", "price_lo", "price_hi")


# ---- /plan ------------------------------------------------------------------------------


def test_catalogue_shows_the_laws_latest_guidance_outcome_and_scorecard(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, d = get_json(explorer, "/api/plan")
    assert s == 200 and d["error"] is None
    assert conforms(d, schema_of(explorer, "/api/plan")) == []
    h = d["height"]
    assert h >= ph.top
    law_products = ph.view("products", {}, h)
    assert [p["code"] for p in d["products"]["items"]] == [p["code"] for p in law_products]
    assert d["products"]["total"] == len(law_products)
    row = next(p for p in d["products"]["items"] if p["code"] == PRODUCT)
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN}, h)
    assert row["guidance"]["period"] == OPEN
    assert {k: row["guidance"][k] for k in GUIDANCE_KEYS} == {k: g[k] for k in GUIDANCE_KEYS}
    assert row["guidance"]["method"] == g["method"] == "ets-ana"
    o = ph.view("outcome", {"product": PRODUCT, "period": JUDGED[-1]}, h)
    assert row["outcome"] == {"period": JUDGED[-1], "realised": o["realised"], "forecast": o["forecast"],
                              "error": o["error"], "in80": o["in80"], "in95": o["in95"]}
    assert o["realised"] == ph.sales[37]
    latest = ph.view("latest", {}, h)
    assert d["latest"]["id"] == latest["id"] and d["latest"]["period"] == OPEN
    assert d["latest"]["data_to"] == latest["data_to"]
    # the scorecard is the law's, with the derived figures computed from its integers
    sc = ph.view("scorecard", {}, h)
    ov = d["scorecard"]["overall"]
    assert {k: ov[k] for k in sc["overall"]} == sc["overall"] and ov["n"] == 4  # rebar and tin, two months each
    assert ov["cov80_bps"] == sc["overall"]["in80"] * 10000 // 4
    assert [x["product"] for x in d["scorecard"]["products"]] == sorted(sc["products"])
    # followers against the others, from the last judged month's outcome
    f = next(x for x in d["followers"] if x["product"] == PRODUCT)
    assert f["period"] == JUDGED[-1] and f["followed"] == o["followed"] and f["other"] == o["other"]
    assert f["followed"]["n"] == 1 and f["followed"]["inventory"] == 3  # steelworks
    assert f["other"]["n"] == 1 and f["other"]["production"] == 3 * o["hi80"]  # the clinic overproduced
    assert d["followers_total"]["other"]["n"] == sum(x["other"]["n"] for x in d["followers"])
    # tin has no history: fallback guidance with a wide interval, not a crash
    tin = next(p for p in d["products"]["items"] if p["code"] == "tin")
    assert tin["guidance"]["method"] == "none" and tin["guidance"]["forecast"] == 0

    s, _, body = http(explorer.url + "/plan")
    page = html.unescape(body.decode())
    assert s == 200
    tr = re.search(r'<tr id="product-rebar">(.*?)</tr>', page, re.S).group(1)
    assert f">{g['forecast']}<" in tr and f"{g['lo80']}–{g['hi80']}" in tr and f"{g['lo95']}–{g['hi95']}" in tr
    assert f">{o['realised']}<" in tr
    assert ("inside 80 %" if o["in80"] else "inside 95 %" if o["in95"] else "outside 95 %") in tr
    assert 'href="/plan/rebar"' in tr
    assert f"{sc['overall']['in80']}/4" in page


def test_catalogue_csv(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, headers, body = http(explorer.url + "/plan.csv")
    assert s == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    r = next(x for x in rows if x["product"] == PRODUCT)
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN})
    assert int(r["guidance_period"]) == OPEN and int(r["forecast"]) == g["forecast"]
    assert (int(r["lo80"]), int(r["hi80"]), int(r["lo95"]), int(r["hi95"])) == (g["lo80"], g["hi80"], g["lo95"], g["hi95"])
    assert int(r["price_lo_fen"]) == g["price_lo"] and int(r["realised"]) == ph.sales[37]


def test_rd_suggestions_need_enough_followers(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, d = get_json(explorer, "/api/plan?min_followers=3")
    assert s == 200
    sug = [x for x in d["suggestions"] if x["id"] == ph.request_id]
    assert len(sug) == 1 and sug[0]["code"] == "ebike" and sug[0]["followers"] == 3 and sug[0]["near"] == PRODUCT
    assert sug[0]["enterprises"] == ph.view("producers", {"product": PRODUCT})
    s, d = get_json(explorer, "/api/plan")  # the default: 10 followers, like `esoc plan suggestions`
    assert d["min_followers"] == 10 and all(x["id"] != ph.request_id for x in d["suggestions"])
    s, _, body = http(explorer.url + "/plan?min_followers=2")
    assert "An electric cargo bike" in body.decode()


# ---- /plan/{product} -------------------------------------------------------------------------


def test_product_page_shows_each_forecast_beside_its_outcome(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, d = get_json(explorer, f"/api/plan/{PRODUCT}")
    assert s == 200 and d["error"] is None, d.get("error")
    assert conforms(d, schema_of(explorer, "/api/plan/{product}")) == []
    h = d["height"]
    assert d["last"] == OPEN and d["months"] == 36 and d["product"]["unit"] == "tonne"
    assert d["producers"] == ph.view("producers", {"product": PRODUCT}, h)
    track = {r["period"]: r for r in ph.view("track", {"product": PRODUCT, "first": d["first"], "last": OPEN}, h)}
    series = {r["period"]: r for r in ph.view("series", {"product": PRODUCT, "first": d["first"], "last": OPEN}, h)}
    rows = {r["period"]: r for r in d["periods"]}
    assert d["periods"][-1]["period"] == OPEN and min(rows) == d["first"]  # 36 months, all with data
    for p, r in rows.items():
        t, s_ = track[p], series[p]
        assert (r["sales"], r["reserved"], r["produced"], r["closed"]) == (t["sales"], t["reserved"], t["produced"],
                                                                          t["closed"]), p
        assert (r["inventory"], r["stockout"], r["declarants"], r["value"]) == (
            s_["inventory"], s_["stockout"], s_["declarants"], s_["value"]), p
        if t["guidance"] is None:
            assert r["guidance"] is None, p
        else:
            assert {k: r["guidance"][k] for k in GUIDANCE_KEYS} == {k: t["guidance"][k] for k in GUIDANCE_KEYS}, p
    for p in JUDGED:
        o = ph.view("outcome", {"product": PRODUCT, "period": p}, h)
        r = rows[p]["outcome"]
        assert (r["realised"], r["error"], r["in80"], r["in95"], r["ape_bps"]) == (
            o["realised"], o["error"], o["in80"], o["in95"], o["ape_bps"]), p
        assert r["followed"] == o["followed"] and r["other"] == o["other"]
    assert rows[OPEN]["outcome"] is None and not rows[OPEN]["closed"] and rows[OPEN]["guidance"]
    assert d["followers"]["periods"] == 2
    assert d["followers"]["other"]["n"] == sum(rows[p]["outcome"]["other"]["n"] for p in JUDGED) == 2
    assert d["followers"]["followed"]["n"] == 2 and d["followers"]["followed"]["inventory"] == 6
    # the latest guidance in detail: model, version, parameters, data range, back-test, the transaction
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN}, h)
    dg = d["guidance"]
    assert dg["period"] == OPEN and {k: dg[k] for k in GUIDANCE_KEYS} == {k: g[k] for k in GUIDANCE_KEYS}
    assert dg["params"] == g["params"] and dg["backtest"] == g["backtest"] and dg["backtest"]["origins"] == 4
    assert dg["digest"] == g["digest"] and dg["n"] == g["n"] == 38 and dg["method"] == "ets-ana"
    head = ph.view("publication", {"pub_id": g["publication"]}, h)
    pub = d["publication"]
    assert (pub["id"], pub["model"], pub["model_version"], pub["data_from"], pub["data_to"], pub["height"]) == (
        head["id"], head["model"], head["model_version"], head["data_from"], head["data_to"], head["height"])
    assert pub["tx_hash"] == ph.published[OPEN]["hash"] and pub["height"] == ph.published[OPEN]["height"]
    # the months after the latest guidance's own, as published (esoc plan compute's horizon of 3: two more)
    assert [a["period"] for a in g["ahead"]] == [OPEN + 1, OPEN + 2]
    assert d["ahead"] == [{k: a[k] for k in ("period", "forecast", "lo80", "hi80", "lo95", "hi95")} for a in g["ahead"]]
    sc = ph.view("scorecard", {}, h)["products"][PRODUCT]
    assert {k: d["scorecard"][k] for k in sc} == sc and d["scorecard"]["n"] == 2
    # an older guidance in detail
    s, d1 = get_json(explorer, f"/api/plan/{PRODUCT}?period={JUDGED[0]}")
    assert d1["guidance"]["period"] == JUDGED[0] and d1["publication"]["tx_hash"] == ph.published[JUDGED[0]]["hash"]


def test_product_page_html_table_and_figures(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, _, body = http(explorer.url + f"/plan/{PRODUCT}")
    page = html.unescape(body.decode())
    assert s == 200
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN})
    assert re.search(r'id="g-forecast">(\d+)<', page).group(1) == str(g["forecast"])
    assert f'id="g-80">{g["lo80"]}–{g["hi80"]}<' in page and f'id="g-95">{g["lo95"]}–{g["hi95"]}<' in page
    bt = g["backtest"]
    assert re.search(r'id="bt-origins">(\d+)<', page).group(1) == str(bt["origins"])
    mase = re.search(r'id="bt-mase">([0-9.]+)<', page).group(1)  # thousandths shown to two places
    assert mase == f"{(bt['mase_e3'] + 5) // 10 // 100}.{(bt['mase_e3'] + 5) // 10 % 100:02d}"
    cov = re.search(r'id="bt-cov80">([0-9.]+) %<', page).group(1)
    assert cov == f"{(bt['cov80_bps'] + 5) // 10 // 10}.{(bt['cov80_bps'] + 5) // 10 % 10}"
    assert f'href="/tx/{ph.published[OPEN]["hash"]}"' in page
    for p in JUDGED:
        tr = re.search(rf'<tr id="p-{p}">(.*?)</tr>', page, re.S).group(1)
        o = ph.view("outcome", {"product": PRODUCT, "period": p})
        gp = ph.view("guidance", {"product": PRODUCT, "period": p})
        assert f'class="num sold">{o["realised"]}<' in tr and f'class="num forecast">{gp["forecast"]}<' in tr
        assert f"{gp['lo80']}–{gp['hi80']}" in tr and f"{gp['lo95']}–{gp['hi95']}" in tr
        assert ("inside 80 %" if o["in80"] else "inside 95 %" if o["in95"] else "outside 95 %") in tr
    assert "not judged yet" in re.search(rf'<tr id="p-{OPEN}">(.*?)</tr>', page, re.S).group(1)
    data = json.loads(re.search(r'<script type="application/json" id="plan-data">(.*?)</script>', page, re.S).group(1))
    assert [r["period"] for r in data["periods"]][-1] == OPEN  # what plan.js draws is the table's numbers
    assert "<script>" not in page  # no inline script (CSP)


def test_product_csv(explorer, chain):
    ph = plan_ready(chain, explorer)
    s, headers, body = http(explorer.url + f"/plan/{PRODUCT}.csv?months=6")
    assert s == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    months = [r for r in rows if r["method"] != "ahead"]
    assert [int(r["period"]) for r in months] == [202510, 202511, 202512, 202601, 202602, 202603]
    g = ph.view("guidance", {"product": PRODUCT, "period": OPEN})
    assert [(int(r["period"]), int(r["forecast"]), int(r["lo80"]), int(r["hi95"])) for r in rows[len(months):]] == [
        (a["period"], a["forecast"], a["lo80"], a["hi95"]) for a in g["ahead"]]  # the months ahead, after
    for p in JUDGED:
        r = next(x for x in rows if int(x["period"]) == p)
        o = ph.view("outcome", {"product": PRODUCT, "period": p})
        assert int(r["realised"]) == o["realised"] and int(r["forecast"]) == o["forecast"]
        assert (int(r["lo80"]), int(r["hi95"])) == (o["lo80"], o["hi95"]) and r["in80"] == str(int(o["in80"]))
    assert http(explorer.url + f"/api/plan/{PRODUCT}.csv?months=6")[2] == body


def test_the_widest_and_the_earliest_windows(explorer, chain):
    plan_ready(chain, explorer)
    s, d = get_json(explorer, f"/api/plan/{PRODUCT}?months=120&last=202712")
    assert s == 200 and d["error"] is None and d["first"] == 201801 and d["last"] == 202712
    assert d["periods"][0]["period"] == START and d["periods"][-1]["period"] == 202712  # from its first month of data
    s, d = get_json(explorer, f"/api/plan/{PRODUCT}?months=120&last=100002")
    assert s == 200 and d["error"] is None and d["first"] == 100001 and d["periods"] == []


def test_search_finds_a_product_code(explorer, chain):
    plan_ready(chain, explorer)
    s, r = get_json(explorer, f"/api/search?q={PRODUCT}")
    assert {"type": "product", "label": "product rebar (Rebar)", "url": "/plan/rebar"} in r["items"]
    s, headers, _ = http_noredirect(explorer.url + f"/search?q={PRODUCT}")
    assert s == 303 and headers["location"] == "/plan/rebar"
    s, r = get_json(explorer, "/api/search?q=nosuchproduct")
    assert s == 200 and r["items"] == []


def test_unknown_product_is_404_and_bad_params_400(explorer, chain):
    plan_ready(chain, explorer)
    for path in ["/plan/nosuch", "/plan/" + "x" * 40, "/plan/%01", f"/plan/{PRODUCT}?period=202001",
                 "/plan/nosuch.csv"]:
        s, _, body = http(explorer.url + path)
        assert s == 404, path
        assert 'name="q"' in body.decode(), path
    s, d = get_json(explorer, "/api/plan/nosuch")
    assert s == 404 and "no product 'nosuch'" in d["error"]
    for path, reason in [(f"/plan/{PRODUCT}?last=202613", "'last' must be a month YYYYMM"),
                         (f"/api/plan/{PRODUCT}?last=20261", "'last' must be from 100001 to 999912"),
                         (f"/api/plan/{PRODUCT}?months=0", "'months' must be from 1 to 120"),
                         (f"/api/plan/{PRODUCT}?months=121", "'months' must be from 1 to 120"),
                         (f"/api/plan/{PRODUCT}?period=x", "'period' must be a whole number"),
                         ("/api/plan?limit=1000", "'limit' must be from 1 to 100"),
                         ("/plan?min_followers=-1", "'min_followers' must be a whole number"),
                         ("/plan.csv?page=0", "'page' must be from 1")]:
        s, _, body = http(explorer.url + path)
        assert s == 400, path
        assert reason in html.unescape(body.decode()), (path, body[:200])


def test_catalogue_pages(explorer, chain):
    plan_ready(chain, explorer)
    s, d1 = get_json(explorer, "/api/plan?limit=1")
    s2, d2 = get_json(explorer, "/api/plan?limit=1&page=2")
    assert d1["products"]["total"] == d2["products"]["total"] >= 2
    assert d1["products"]["next_page"] == 2 and d2["products"]["prev_page"] == 1
    assert [p["code"] for p in d1["products"]["items"] + d2["products"]["items"]] == [PRODUCT, "tin"]
    s, d9 = get_json(explorer, "/api/plan?page=9")
    assert s == 200 and d9["products"]["items"] == []


def test_openapi_walk_of_the_plan_pages_never_gives_a_500(explorer, chain):
    from .test_pages import _value

    plan_ready(chain, explorer)
    doc = json.loads(http(explorer.url + "/openapi.json")[2])
    ops = sorted((p, item) for p, item in doc["paths"].items() if p.startswith("/api/plan"))
    assert [p for p, _ in ops] == ["/api/plan", "/api/plan.csv", "/api/plan/{product}", "/api/plan/{product}.csv"]

    @st.composite
    def request(draw):
        path, item = draw(st.sampled_from(ops))
        url = path.replace("{product}", urllib.parse.quote(draw(st.one_of(
            st.sampled_from([PRODUCT, "tin", "x" * 33, "%", "..", "nosuch"]), st.text(min_size=1, max_size=40))),
            safe="") or "x")
        query = [(p["name"], str(draw(st.one_of(_value(p["schema"]), st.sampled_from([202601, 202512, 202613])))))
                 for p in item["get"]["parameters"] if p["in"] == "query" and draw(st.booleans())]
        if draw(st.booleans()):
            url = url[len("/api"):]
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    seen: dict = {}

    @settings(max_examples=80, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(request())
    def walk(url):
        s, _, body = http(explorer.url + url)
        seen[s] = seen.get(s, 0) + 1
        assert s in (200, 400, 404), (url, s, body[:300])
        if url.startswith("/api/") and s == 200 and ".csv" not in url:
            path = "/api/plan" if urllib.parse.urlsplit(url).path == "/api/plan" else "/api/plan/{product}"
            assert conforms(json.loads(body), schema_of(explorer, path)) == [], url

    walk()
    assert seen.get(200, 0) > 0 and seen.get(400, 0) > 0 and seen.get(404, 0) > 0, seen
    assert explorer.proc.poll() is None


def test_a_node_that_does_not_answer_gives_the_page_with_a_note(chain, tmp_path):
    """The explorer's node is down: the plan pages still render (200) and say why the figures are missing."""
    from tests.e2e.harness import free_port

    ex = ExplorerProc(f"127.0.0.1:{free_port()}", f"sqlite:///{tmp_path}/ix.sqlite", str(tmp_path / "ex.log")).start()
    try:
        s, _, body = http(ex.url + "/plan")
        assert s == 200 and 'id="plan-error"' in body.decode() and "the node did not answer" in body.decode()
        s, d = get_json(ex, "/api/plan/rebar")
        assert s == 200 and d["error"].startswith("the node did not answer") and d["periods"] == []
        s, _, body = http(ex.url + "/plan/rebar")
        assert s == 200 and "Plan data is not available" in body.decode()
    finally:
        ex.stop()


# ---- without a chain: forecasts ahead, if a publication carries them ---------------------------


def test_forecasts_ahead_are_shown_as_the_continuation_and_malformed_ones_ignored():
    from explorer.app import Explorer
    from explorer.plan import ahead_of, product_csv
    from explorer.views import Ctx

    item = {"ahead": [{"period": 202604, "forecast": 10, "lo80": 8, "hi80": 12, "lo95": 6, "hi95": 14},
                      {"period": 202613, "forecast": 1, "lo80": 1, "hi80": 1, "lo95": 1, "hi95": 1},
                      {"period": 202605, "forecast": "x"}, "junk",
                      {"period": 202605, "forecast": 11, "lo80": 9, "hi80": 13, "lo95": 7, "hi95": 15}]}
    ahead = ahead_of(item)
    assert [a["period"] for a in ahead] == [202604, 202605]
    assert ahead_of({}) == [] and ahead_of({"ahead": "no"}) == [] and len(ahead_of({"ahead": [ahead[0]] * 99})) == 24
    d = {"product": {"code": "rebar", "name": "Rebar", "unit": "tonne"}, "producers": [], "height": 5, "error": None,
         "first": 202603, "last": 202603, "months": 1, "scorecard": None,
         "periods": [{"period": 202603, "sales": 0, "value": 0, "count": 0, "reserved": 4, "produced": 0,
                      "inventory": 0, "stockout": 0, "declarants": 0, "closed": False, "outcome": None,
                      "guidance": {"forecast": 9, "lo80": 7, "hi80": 11, "lo95": 5, "hi95": 13, "recommended": 9,
                                   "price_lo": 100, "price_hi": 120, "method": "mean"}}],
         "guidance": None, "publication": None, "ahead": ahead,
         "followers": {"periods": 0, "followed": {}, "other": {}}}
    rows = product_csv(d)
    assert [r[0] for r in rows[1:]] == [202603, 202604, 202605] and rows[2][9:14] == [10, 8, 12, 6, 14]
    class NoIndex:
        def height(self):
            return 0

    ex = Explorer(Ctx(NoIndex()))
    page = ex.env.get_template("plan_product.html").render(**d)
    assert '<tr class="ahead" id="a-202604">' in page and "8–12" in page and "dashed" in page
    assert json.loads(re.search(r'id="plan-data">(.*?)</script>', page, re.S).group(1))["ahead"] == ahead


def test_an_explorer_on_postgresql_shows_the_same_plan(explorer, chain, postgres_url, tmp_path):
    """The publishing transaction is found in the index: the same on PostgreSQL as on SQLite."""
    import psycopg

    ph = plan_ready(chain, explorer)
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS explorer_plan")
        c.execute("CREATE DATABASE explorer_plan")
    pg = ExplorerProc(chain.grpc, postgres_url.rsplit("/", 1)[0] + "/explorer_plan", str(tmp_path / "pg.log")).start()
    try:
        top = explorer.status()["indexed_height"]
        pg.wait_indexed(top)
        explorer.wait_indexed(top)
        for path in [f"/api/plan/{PRODUCT}?last={OPEN}", f"/api/plan/{PRODUCT}?period={JUDGED[0]}&last={OPEN}"]:
            a, b = get_json(explorer, path)[1], get_json(pg, path)[1]
            a.pop("height"), b.pop("height")  # each reads at its own index's height; the months shown are closed
            assert a == b and a["publication"]["tx_hash"] in (ph.published[OPEN]["hash"],
                                                              ph.published[JUDGED[0]]["hash"]), path
    finally:
        pg.stop()
