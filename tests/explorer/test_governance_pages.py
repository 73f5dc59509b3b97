"""The explorer's governance pages over real HTTP, on a real devnet with a whole amendment cycle
(tests/explorer/gov_chain.py): what each page shows equals what was done on chain — the vote
each delegate cast, the void after the constituents' reviews, the tally, the activation, the
recall and the by-election, the forum's lists, the agency's work order — plus 400/404 on bad
input, the documented response shapes, an OpenAPI walk, the node-down note, and the law
events index being the same after re-indexing, after a backfill, and on PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

from explorer import governance
from explorer.index import Index
from explorer.openapi import conforms
from explorer.views import Ctx
from wallet.client import Client

from .conftest import follow_to, http
from .test_pages import http_noredirect, walk_openapi


def get_json(ex, path: str) -> dict:
    s, _, body = http(ex.url + path)
    assert s == 200, (path, s, body[:300])
    return json.loads(body)


def test_the_proposal_shows_the_votes_cast_the_void_and_the_activation(gov_chain, gov_explorer):
    g = gov_chain
    p = get_json(gov_explorer, f"/api/proposals/{g.pid}")
    votes = {v["delegate"]: v for v in p["votes"]}
    assert {d: votes[g.addr[d]]["vote"] for d in g.votes} == g.votes  # the vote shown is the vote cast
    d2 = votes[g.addr["delegate-2"]]
    assert (d2["oppose"], d2["support"], d2["members"], d2["void"]) == (2, 0, 3, True)  # carol and dan voided it
    assert votes[g.addr["delegate-3"]]["support"] == 1 and not votes[g.addr["delegate-3"]]["void"]
    assert not votes[g.addr["delegate-1"]]["void"]
    t = p["tally"]
    assert t["void"] == [g.addr["delegate-2"]] and (t["yes"], t["no"], t["abstain"]) == (1, 0, 1)
    assert t["final"] and t["accepted"]
    assert p["proposal"]["status"] == "enacted" and p["proposal"]["enact_at"] == g.enact_at
    assert p["proposal"]["class"] == "params" and p["law"] == "tax" and p["proposal"]["proposer_name"] == "delegate-1"
    assert any(line.startswith("+") and "(36_000 * YUAN, 4 * PERCENT, 0)" in line for line in p["diff"].splitlines())
    assert p["pilot"]["ok"] is True and len(p["pilot"]["hash"]) == 64
    alice = next(a for a in p["pilot"]["accounts"] if a["address"] == g.addr["alice"])
    assert alice["diff"] < 0  # alice would pay more
    assert [t["id"] for t in p["threads"]] == [g.topic]
    assert {e["name"] for e in p["events"]} >= {"proposed", "voted", "reviewed"}

    s, _, body = http(gov_explorer.url + f"/proposals/{g.pid}")
    page = body.decode()
    assert s == 200 and "void" in page and "Income tax: first bracket" in page and f"block {g.enact_at}" in page
    rows = list(csv.reader(io.StringIO(http(gov_explorer.url + f"/proposals/{g.pid}.csv")[2].decode())))
    d2row = next(r for r in rows if r[0] == g.addr["delegate-2"])
    assert dict(zip(rows[0], d2row))["void"] == "True" and dict(zip(rows[0], d2row))["vote"] == "no"

    lst = get_json(gov_explorer, "/api/proposals?status=enacted")
    assert [x["id"] for x in lst["items"]] == [g.pid]
    assert get_json(gov_explorer, "/api/proposals?status=voting")["items"] == []


def test_a_delegates_record_shows_the_vote_and_whether_it_was_voided(gov_chain, gov_explorer):
    g = gov_chain
    d = get_json(gov_explorer, f"/api/delegates/{g.addr['delegate-2']}")
    assert d["delegate"]["sitting"] and d["delegate"]["constituency"] == "south" and d["delegate"]["members"] == 3
    rec = d["record"]["items"]
    assert [(r["proposal"], r["vote"], r["void"], r["oppose"]) for r in rec] == [(g.pid, "no", True, 2)]
    assert rec[0]["tx_hash"] == g.vote_tx["delegate-2"]
    assert sorted(r["citizen"] for r in d["reviews"]) == sorted([g.addr["carol"], g.addr["dan"]])
    assert {r["stance"] for r in d["reviews"]} == {"oppose"}
    d1 = get_json(gov_explorer, f"/api/delegates/{g.addr['delegate-1']}")
    assert [(r["vote"], r["void"]) for r in d1["record"]["items"]] == [("yes", False)]
    rows = list(csv.reader(io.StringIO(http(gov_explorer.url + f"/delegates/{g.addr['delegate-2']}.csv")[2].decode())))
    assert rows[0][:5] == ["proposal", "title", "class", "status", "vote"] and rows[1][4] == "no"

    # delegate-3 was recalled by its constituency; erin won the by-election
    d3 = get_json(gov_explorer, f"/api/delegates/{g.addr['delegate-3']}")
    assert not d3["delegate"]["sitting"] and d3["recall"]["status"] == "recalled"
    assert d3["recall"]["by_election"] == g.election
    assert {e["name"] for e in d3["recall_events"]} >= {"recall_signed", "recall_vote_open", "recall_result"}
    assert [(r["vote"], r["void"]) for r in d3["record"]["items"]] == [("abstain", False)]
    lst = get_json(gov_explorer, "/api/delegates")
    by = {x["address"]: x for x in lst["items"]}
    assert by[g.addr["erin"]]["sitting"] and by[g.addr["erin"]]["constituency"] == "east"
    assert not by[g.addr["delegate-3"]]["sitting"] and by[g.addr["delegate-3"]]["constituency"] == "east"
    assert by[g.addr["delegate-2"]]["votes"] == 1
    erin = get_json(gov_explorer, f"/api/delegates/{g.addr['erin']}")
    assert erin["elections"] == [{"election": g.election, "height": erin["elections"][0]["height"]}]


def test_elections_forum_and_agencies(gov_chain, gov_explorer):
    g = gov_chain
    es = get_json(gov_explorer, "/api/elections")
    assert [(e["id"], e["kind"], e["constituency"], e["status"]) for e in es["items"]] == [
        (g.election, "by-election", "east", "closed")]
    e = get_json(gov_explorer, f"/api/elections/{g.election}")
    assert e["elected"] == [{"address": g.addr["erin"], "name": "erin"}] and e["election"]["turnout_bps"] == 5000
    assert e["candidates"] == [{"address": g.addr["erin"], "name": "erin", "votes": 1, "elected": True}]

    f = get_json(gov_explorer, "/api/forum")
    assert f["hot"][0]["id"] == g.topic and f["hot"][0]["support"] == 1
    assert f["most_opposed"][0]["id"] == g.other and f["most_opposed"][0]["oppose"] == 1
    assert [(a["id"], a["topic"]) for a in f["assemblies"]] == [(g.assembly, g.topic)]
    post = get_json(gov_explorer, f"/api/forum/{g.topic}")
    assert post["post"]["followers"] == 3 and post["post"]["proposal"] == g.pid and post["triggers_assembly"] is True
    assert [r["id"] for r in post["replies"]["items"]] == [g.reply] and post["assembly"]["id"] == g.assembly
    reply = get_json(gov_explorer, f"/api/forum/{g.reply}")
    assert reply["post"]["parent"] == g.topic and reply["triggers_assembly"] is None and reply["assembly"] is None
    s, _, body = http(gov_explorer.url + "/forum")
    assert s == 200 and f'href="/forum/{g.topic}"' in body.decode()

    ag = get_json(gov_explorer, "/api/agencies")
    pa = next(a for a in ag["items"] if a["address"] == g.addr["planning-agency"])
    assert (pa["opened"], pa["responded"], pa["ratings"], pa["mean_rating_x100"]) == (1, 1, 1, 400)
    one = get_json(gov_explorer, f"/api/agencies/{g.addr['planning-agency']}")
    wo = one["work_orders"]["items"]
    assert [(w["id"], w["status"], w["rating"], w["opener"]) for w in wo] == [(g.ticket, "responded", 4, g.addr["alice"])]
    assert wo[0]["response_blocks"] == g.responded["responded_at"] - g.responded["opened"]
    assert one["agency"]["mean_response_blocks"] == wo[0]["response_blocks"]
    rows = list(csv.reader(io.StringIO(http(gov_explorer.url + "/agencies.csv")[2].decode())))
    assert rows[0][0] == "address" and g.addr["planning-agency"] in [r[0] for r in rows]


def test_search_finds_a_proposal_number_and_a_delegate(gov_chain, gov_explorer):
    g = gov_chain
    for q in (f"proposal%20{g.pid}", f"%23{g.pid}", f"Proposal+%23{g.pid}"):
        s, headers, _ = http_noredirect(gov_explorer.url + f"/search?q={q}")
        assert s == 303 and headers["location"] == f"/proposals/{g.pid}", q
    assert get_json(gov_explorer, "/api/search?q=proposal%20999")["items"] == []
    r = get_json(gov_explorer, f"/api/search?q={g.addr['delegate-2']}")
    assert {"type": "delegate", "label": f"delegate {g.addr['delegate-2']}",
            "url": f"/delegates/{g.addr['delegate-2']}"} in r["items"]
    r = get_json(gov_explorer, f"/api/search?q={g.addr['alice']}")
    assert [x["type"] for x in r["items"]] == ["account"]  # alice is no delegate


def test_bad_ids_are_404_and_bad_queries_400(gov_chain, gov_explorer):
    g = gov_chain
    for path in ["/proposals/999", "/api/proposals/999", "/proposals/abc", "/api/proposals/99999999999999999999999",
                 "/proposals/0", "/elections/77", "/api/elections/0", "/forum/4242", "/api/forum/-1",
                 "/delegates/nonsense", f"/api/delegates/{g.addr['alice']}", "/agencies/esc1zzz",
                 f"/api/agencies/{g.addr['alice']}", "/proposals/999.csv", "/api/delegates/x.csv"]:
        s, _, body = http(gov_explorer.url + path)
        assert s == 404, (path, s, body[:200])
        if path.startswith("/api/"):
            assert json.loads(body)["status"] == 404
        else:
            assert b'name="q"' in body  # the 404 page has a search box
    for path in ["/api/proposals?status=bogus", "/proposals?limit=101", "/api/proposals?page=0",
                 "/api/delegates?limit=1000", f"/api/delegates/{g.addr['delegate-1']}?page=x",
                 "/api/agencies?limit=-1", "/api/proposals?status=" + "v" * 40, "/api/proposals?status=a&status=b"]:
        s, _, body = http(gov_explorer.url + path)
        assert s == 400, (path, s, body[:200])
        assert json.loads(body)["error"] if path.startswith("/api/") else b"400" in body


def test_governance_answers_match_their_documented_shapes_and_the_walk_finds_no_500(gov_chain, gov_explorer):
    g = gov_chain
    doc = json.loads(http(gov_explorer.url + "/openapi.json")[2])
    urls = {"/api/proposals": "/api/proposals", "/api/proposals/{pid}": f"/api/proposals/{g.pid}",
            "/api/delegates": "/api/delegates", "/api/delegates/{address}": f"/api/delegates/{g.addr['delegate-3']}",
            "/api/elections": "/api/elections", "/api/elections/{eid}": f"/api/elections/{g.election}",
            "/api/forum": "/api/forum", "/api/forum/{post}": f"/api/forum/{g.topic}",
            "/api/agencies": "/api/agencies", "/api/agencies/{address}": f"/api/agencies/{g.addr['planning-agency']}"}
    assert set(urls) == {"/api" + p.openapi_path for p in governance.ROUTES}
    assert conforms({"items": [], "page": 1}, doc["paths"]["/api/proposals"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"])  # the check can fail
    for path, url in urls.items():
        schema = doc["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert conforms(get_json(gov_explorer, url), schema) == [], path
    assert "/api/delegates/{address}.csv" in doc["paths"]
    assert [p["name"] for p in doc["paths"]["/api/delegates/{address}.csv"]["get"]["parameters"]][0] == "address"
    seen = walk_openapi(gov_explorer, 120)
    assert seen.get(200, 0) > 0 and seen.get(404, 0) > 0 and seen.get(400, 0) > 0, seen


def test_with_the_node_down_the_pages_render_the_index_part_with_a_note(gov_chain, gov_explorer, tmp_path):
    g = gov_chain
    ix = Index(str(tmp_path / "ix.sqlite"))
    follow_to(ix, g.grpc, g.top)
    dead = Client("127.0.0.1:1", timeout=1)
    try:
        ctx = Ctx(ix, dead)
        d = governance.delegate(ctx, g.addr["delegate-2"], 1, 25)
        assert d["error"] and "not answering" in d["error"]
        assert [(r["proposal"], r["vote"], r["void"]) for r in d["record"]["items"]] == [(g.pid, "no", None)]
        p = governance.proposal(ctx, g.pid)
        assert p["error"] and p["proposal"]["title"].startswith("Income tax") and p["votes"] == []
        lst = governance.proposals(ctx, "", 1, 25)
        assert lst["error"] and [x["id"] for x in lst["items"]] == [g.pid]
        assert governance.forum(ctx)["error"] and governance.agencies(ctx, 1, 25)["error"]
    finally:
        dead.close()
        ix.close()


def test_law_events_reindex_and_backfill_give_the_same_rows(gov_chain, gov_explorer, tmp_path):
    g = gov_chain
    a = Index(str(tmp_path / "a.sqlite"))
    follow_to(a, g.grpc, g.top)
    live = Index(gov_explorer.db_path)  # the explorer process's own index, followed live
    upto = min(a.height(), live.height()) - 1
    da, dl = a.dump(upto), live.dump(upto)
    assert da["law_events"] == dl["law_events"] and da["law_refs"] == dl["law_refs"]
    names = {(r[3], r[4]) for r in da["law_events"]}
    assert {("congress", "voted"), ("congress", "reviewed"), ("forum", "posted"), ("tickets", "ticket_opened"),
            ("congress", "election_open"), ("assembly", "assembly_convened")} <= names
    assert ("proposal", str(g.pid)) in {(r[0], r[1]) for r in da["law_refs"] if r[0] == "proposal"}
    live.close()
    before = a.dump()
    a.close()
    # an index written before law_events existed: rows derived from its stored transactions, once
    c = sqlite3.connect(str(tmp_path / "a.sqlite"))
    c.execute("DELETE FROM law_events")
    c.execute("DELETE FROM law_refs")
    c.execute("DELETE FROM meta WHERE k = 'law_events'")
    c.commit()
    c.close()
    b = Index(str(tmp_path / "a.sqlite"))
    assert b.dump() == before and b.get_meta("law_events") == "1"
    b.close()


def test_law_events_on_postgresql_equal_sqlite(gov_chain, tmp_path, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS explorer_gov")
        c.execute("CREATE DATABASE explorer_gov")
    p = Index(postgres_url.rsplit("/", 1)[0] + "/explorer_gov")
    s = Index(str(tmp_path / "s.sqlite"))
    try:
        follow_to(p, gov_chain.grpc, gov_chain.top)
        follow_to(s, gov_chain.grpc, gov_chain.top)
        upto = min(s.height(), p.height())
        ds, dp = s.dump(upto), p.dump(upto)
        assert ds["law_events"] == dp["law_events"] and ds["law_refs"] == dp["law_refs"] and ds["law_events"]
        for ix in (s, p):
            assert ix.law_refs("agency", 0, 10) == s.law_refs("agency", 0, 10)
        d2 = gov_chain.addr["delegate-2"]
        assert s.law_events("congress", ("voted",), 0, 5, kind="delegate", ref=d2) == p.law_events(
            "congress", ("voted",), 0, 5, kind="delegate", ref=d2)
    finally:
        s.close()
        p.close()
