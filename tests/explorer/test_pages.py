"""The explorer's pages and API over real HTTP (``python -m explorer`` on a
real devnet): JSON twins, CSV, 404 and 400 with reasons, and an OpenAPI-driven
walk with generated inputs that must never produce a 500."""

from __future__ import annotations

import csv
import html
import re
import io
import json
import urllib.error
import urllib.parse
import urllib.request

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explorer.index import Index
from explorer.openapi import conforms

from .conftest import ExplorerProc, follow_to, http


def get_json(explorer, path: str) -> tuple[int, dict]:
    status, _, body = http(explorer.url + path)
    return status, json.loads(body)


def test_every_page_answers_with_its_documented_fields(explorer, chain):
    doc = json.loads(http(explorer.url + "/openapi.json")[2])
    urls = {"/api/home": "/api/home", "/api/status": "/api/status", "/api/blocks": "/api/blocks",
            "/api/block/{height}": f"/api/block/{chain.wage['height']}",
            "/api/tx/{tx_hash}": f"/api/tx/{chain.wage['hash'].hex()}",
            "/api/account/{address}": f"/api/account/{chain.alice}", "/api/laws": "/api/laws",
            "/api/laws/{name}": "/api/laws/tax", "/api/validators": "/api/validators",
            "/api/dashboards": "/api/dashboards", "/api/search": "/api/search?q=alice"}
    from explorer.app import CORE_ROUTES  # the governance and plan pages are walked in their own tests

    assert set(urls) == {"/api" + (p.openapi_path if p.path != "/" else "/home") for p in CORE_ROUTES}
    assert set(urls) <= {p for p in doc["paths"] if not p.endswith(".csv")}
    search = doc["paths"]["/api/search"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert conforms({"items": [{"type": "tx", "url": 3}]}, search) == [
        "$.q: missing", "$.items[0].label: missing", "$.items[0].url: not a string"]  # the check can fail
    for path, url in urls.items():
        s, answer = get_json(explorer, url)
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert s == 200 and schema.get("required"), path
        assert conforms(answer, schema) == [], (path, conforms(answer, schema)[:5])


def test_json_twins_of_block_tx_account_law_search(explorer, chain):
    h = chain.wage["hash"].hex()
    s, t = get_json(explorer, f"/api/tx/{h}")
    assert s == 200 and t["tx"]["hash"] == h and t["call"]["contract"] == "tax" and t["call"]["version"] == 1
    assert t["taxes"][0]["kind"] == "iit_wage" and t["taxes"][0]["amount"] == t["tx"]["tax"] > 0
    s, b = get_json(explorer, f"/api/block/{chain.wage['height']}")
    assert s == 200 and h in [x["hash"] for x in b["txs"]["items"]]
    s, a = get_json(explorer, f"/api/account/{chain.alice}?limit=2")
    assert s == 200 and a["account"]["exists"] and a["history"]["limit"] == 2
    assert set(a["history"]) >= {"items", "page", "limit", "next_page", "prev_page", "total"}
    s, law = get_json(explorer, "/api/laws/tax?version=1")  # (the browser test may add a version 2)
    assert s == 200 and law["law"]["version"] == 1 and law["diff"] is None and law["versions"][0]["since_height"] == 1
    assert any(p["name"] == "iit_brackets" and p["reference"] for p in law["params"])
    s, r = get_json(explorer, f"/api/search?q={h}")
    assert s == 200 and r["items"] == [{"type": "tx", "label": f"transaction {h[:16]}…", "url": f"/tx/{h}"}]
    s, r = get_json(explorer, "/api/search?q=tax")
    assert {"type": "law", "label": "law tax", "url": "/laws/tax"} in r["items"]
    s, d = get_json(explorer, "/api/dashboards")
    assert s == 200 and any(m["kind"] == "iit_wage" for m in d["tax"]) and d["supply"][-1]["supply"] > 0


def test_html_pages_render_the_same_facts(explorer, chain):
    h = chain.transfer["hash"].hex()
    s, _, body = http(explorer.url + f"/tx/{h}")
    page = body.decode()
    assert s == 200 and h in page and "123.45" in page and chain.bob in page
    s, _, body = http(explorer.url + f"/tx/{chain.wage['hash'].hex()}")
    assert "Tax withheld" in body.decode() and "iit_wage" in body.decode()
    s, _, body = http(explorer.url + "/laws/tax")
    assert s == 200 and 'class="hl"' in body.decode() and "Individual Income Tax Law" in body.decode()
    s, t = get_json(explorer, f"/api/tx/{h}")
    assert t["summary"] == f"Transfer of 123.45 to {chain.bob} (rent)"
    s, t = get_json(explorer, f"/api/tx/{chain.failed['hash'].hex()}")
    assert t["summary"].endswith("refused with RECIPIENT_NOT_REGISTERED, nothing but the nonce changed")
    s, v = get_json(explorer, "/api/validators")
    assert s == 200 and len(v["items"]) == 1 and v["evidence"] == []
    assert v["items"][0]["power"] > 0 and v["items"][0]["signed"] > 0 and v["items"][0]["proposed"] > 0
    for path in ["/", "/blocks", "/validators", "/dashboards", "/laws", f"/block/{chain.top}"]:
        assert http(explorer.url + path)[0] == 200, path


def test_paging_has_stable_fields_and_pages_do_not_overlap(explorer, chain):
    s, whole = get_json(explorer, f"/api/account/{chain.alice}?limit=100")
    total = whole["history"]["total"]
    # alice sent a transfer and was paid a wage (the browser tests, when they run first, add more)
    assert s == 200 and total >= 2 and len(whole["history"]["items"]) == total
    pages, page = [], 1
    while page is not None:
        s, a = get_json(explorer, f"/api/account/{chain.alice}?limit=1&page={page}")
        assert s == 200 and a["history"]["page"] == page and a["history"]["limit"] == 1
        assert a["history"]["prev_page"] == (page - 1 if page > 1 else None)
        pages += a["history"]["items"]
        page = a["history"]["next_page"]
    assert pages == whole["history"]["items"]  # newest first, each row once
    s, b = get_json(explorer, "/api/blocks?limit=3")
    s2, b2 = get_json(explorer, f"/api/blocks?limit=3&before={b['next_before']}")
    assert [x["height"] for x in b2["items"]] == [b["next_before"] - 1 - i for i in range(3)]


def test_account_history_csv(explorer, chain):
    s, headers, body = http(explorer.url + f"/account/{chain.alice}/history.csv")
    assert s == 200 and headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert rows[0] == ["height", "index", "time_ms", "tx_hash", "kind", "counterparty", "delta_fen", "code"]
    by_hash = {r[3]: r for r in rows[1:]}
    assert by_hash[chain.transfer["hash"].hex()][6] == "-12345"
    assert by_hash[chain.transfer["hash"].hex()][5] == chain.bob


def test_tables_as_csv(explorer, chain):
    for path, header in [("/blocks.csv?limit=5", "height,hash,time_ms"), ("/api/laws.csv", "name,version"),
                         ("/validators.csv", "name,pubkey,address,power"), ("/dashboards.csv", "table,month,kind")]:
        s, headers, body = http(explorer.url + path)
        assert s == 200 and headers["content-type"].startswith("text/csv"), path
        rows = list(csv.reader(io.StringIO(body.decode())))
        assert ",".join(rows[0]).startswith(header) and len(rows) > 1, path
    rows = list(csv.reader(io.StringIO(http(explorer.url + "/dashboards.csv")[2].decode())))
    assert any(r[0] == "tax" and r[2] == "iit_wage" and int(r[4]) > 0 for r in rows[1:])
    assert len(list(csv.reader(io.StringIO(http(explorer.url + "/blocks.csv?limit=5")[2].decode())))) == 6


def test_unknown_things_are_404_with_a_search_box_and_bad_params_400_with_a_reason(explorer):
    for path in ["/tx/" + "ab" * 32, "/block/999999999", "/account/esc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
                 "/laws/nosuchlaw", "/no/such/page", "/tx/zz", "/laws/tax?version=99"]:
        s, _, body = http(explorer.url + path)
        assert s == 404, path
        assert 'name="q"' in body.decode(), path
    s, _, body = http(explorer.url + "/api/tx/" + "ab" * 32)
    assert s == 404 and json.loads(body)["error"].startswith("no transaction")
    for path, reason in [("/api/blocks?limit=1000", "'limit' must be from 1 to 100"),
                         ("/api/blocks?limit=x", "'limit' must be a whole number"),
                         ("/blocks?before=-1", "'before' must be a whole number"),
                         ("/api/search?q=" + "a" * 300, "longer than 256"),
                         ("/api/account/x?page=1&page=2", "given 2 times")]:
        s, _, body = http(explorer.url + path)
        assert s == 400, path
        assert reason in html.unescape(body.decode()), (path, body[:200])


def _value(schema: dict):
    if schema.get("type") == "integer":
        return st.one_of(st.integers(schema.get("minimum", 0) - 2, schema.get("maximum", 10**6) + 2),
                         st.integers(-(2**70), 2**70), st.text(max_size=12))
    if "pattern" in schema:
        return st.one_of(st.from_regex(r"\A[0-9a-f]{64}\Z"), st.text(max_size=80))
    return st.one_of(st.text(max_size=schema.get("maxLength", 64) + 8), st.sampled_from(["tax", "1", "esc1", ""]))


def walk_openapi(explorer, examples: int) -> dict[int, int]:
    """Generated requests over every documented path and parameter; none may give a 500."""
    doc = json.loads(http(explorer.url + "/openapi.json")[2])
    ops = sorted(doc["paths"].items())
    assert len(ops) >= 12

    @st.composite
    def request(draw):
        path, item = draw(st.sampled_from(ops))
        params = item["get"]["parameters"]
        url = path
        for p in params:
            if p["in"] == "path":
                v = str(draw(_value(p["schema"])))
                url = url.replace("{" + p["name"] + "}", urllib.parse.quote(v, safe="") or "x")
        query = [(p["name"], str(draw(_value(p["schema"])))) for p in params
                 if p["in"] == "query" and draw(st.booleans())]
        if draw(st.booleans()):
            query.append((draw(st.text(max_size=5)), draw(st.text(max_size=10))))
        if draw(st.booleans()):  # the HTML twin of the same request
            url = {"/api/home": "/"}.get(url, url[len("/api"):])
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    seen: dict[int, int] = {}

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(request())
    def walk(url):
        s, headers, body = http(explorer.url + url)
        seen[s] = seen.get(s, 0) + 1
        assert s in (200, 303, 400, 404), (url, s, body[:300])
        path = urllib.parse.urlsplit(url).path
        if path.startswith("/api/") and (not path.endswith(".csv") or s != 200):
            answer = json.loads(body)  # every API answer is JSON, errors included (CSV only when it succeeds)
            if s == 200:  # with the fields its documented schema promises
                schema = next(op["get"]["responses"]["200"]["content"]["application/json"]["schema"]
                              for p, op in ops if re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", re.escape(p).replace(
                                  r"\{", "{").replace(r"\}", "}")), path))
                assert conforms(answer, schema) == [], (url, conforms(answer, schema)[:5])

    walk()
    assert explorer.proc.poll() is None  # still running
    return seen


def test_openapi_walk_never_gives_a_500(explorer):
    seen = walk_openapi(explorer, 150)
    assert seen.get(200, 0) > 0 and seen.get(404, 0) > 0 and seen.get(400, 0) > 0, seen


def test_an_explorer_on_postgresql_answers_as_the_one_on_sqlite(explorer, chain, postgres_url, tmp_path):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS explorer_http")
        c.execute("CREATE DATABASE explorer_http")
    url = postgres_url.rsplit("/", 1)[0] + "/explorer_http"
    pg = ExplorerProc(chain.grpc, url, str(tmp_path / "pg-explorer.log")).start()
    try:
        # the same chain up to the SQLite explorer's height (the browser test may have sent a transfer since
        # chain.top, and writes a second law version into the SQLite index only: /api/laws is left out)
        pg.wait_indexed(explorer.status()["indexed_height"])
        for path in [f"/api/tx/{chain.wage['hash'].hex()}", f"/api/tx/{chain.transfer['hash'].hex()}",
                     f"/api/block/{chain.wage['height']}", f"/api/blocks?before={chain.top}&limit=10",
                     "/api/laws/welfare", "/api/dashboards", "/api/search?q=alice",
                     f"/api/search?q={chain.wage['hash'].hex()}", f"/account/{chain.alice}/history.csv"]:
            a, b = http(explorer.url + path), http(pg.url + path)
            assert a[0] == b[0] == 200 and a[2] == b[2], path
        a, b = get_json(explorer, "/api/laws/tax?version=1")[1], get_json(pg, "/api/laws/tax?version=1")[1]
        assert a["law"] == b["law"] and a["params"] == b["params"] and a["docstring"] == b["docstring"]
        for who in (chain.alice, chain.steelworks):
            a, b = get_json(explorer, f"/api/account/{who}")[1], get_json(pg, f"/api/account/{who}")[1]
            assert a["history"] == b["history"] and a["taxes_paid"] == b["taxes_paid"]
        seen = walk_openapi(pg, 60)
        assert seen.get(200, 0) > 0, seen
    finally:
        pg.stop()


def test_search_by_public_name_goes_to_the_account(explorer, chain):
    s, headers, _ = http_noredirect(explorer.url + "/search?q=alice")
    assert s == 303 and headers["location"] == f"/account/{chain.alice}"
    s, r = get_json(explorer, "/api/search?q=steelworks")
    assert {"type": "account", "label": "steelworks (enterprise)", "url": f"/account/{chain.steelworks}"} in r["items"]


def http_noredirect(url: str):
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=15) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_explorer_process_restart_resumes_without_loss_or_duplicates(chain, tmp_path):
    """SIGTERM the explorer, start it again on the same index: it resumes; the rows equal a fresh index."""
    db = f"sqlite:///{tmp_path}/ix.sqlite"
    ex = ExplorerProc(chain.grpc, db, str(tmp_path / "ex.log")).start()
    ex.wait_indexed(chain.transfer["height"])
    ex.stop()
    assert ex.proc.returncode == 0, ex.log()
    first = Index(db).height()
    ex2 = ExplorerProc(chain.grpc, db, str(tmp_path / "ex.log")).start()
    try:
        ex2.wait_indexed(first + 5)
    finally:
        ex2.stop()
    a = Index(db)
    b = Index(str(tmp_path / "fresh.sqlite"))
    follow_to(b, chain.grpc, a.height())
    upto = min(a.height(), b.height()) - 1
    assert upto > first and a.dump(upto) == b.dump(upto)
    assert a.check_totals() == []
