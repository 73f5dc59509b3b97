"""Coupons and vouchers on the account page: what an account holds of the
allocation law's schemes and the welfare law's monthly vouchers, and what it
used, as the laws' views say at the indexed height (the devnet fixture opens
a bread ration and a promotion; carol, a registered citizen, uses part)."""

from __future__ import annotations

import json

from explorer.app import Explorer
from explorer.index import Index
from explorer.views import Ctx, account, law
from tests.e2e.harness import free_port
from wallet.client import Client

from .conftest import follow_to, http


def by_id(coupons: dict) -> dict:
    return {(c["programme"], c["id"]): c for c in coupons["items"]}


def test_the_account_page_shows_coupons_held_and_used(explorer, chain):
    code, _, body = http(f"{explorer.url}/api/account/{chain.carol}")
    assert code == 200
    d = json.loads(body)
    c = d["coupons"]
    assert c["error"] is None and c["height"] >= chain.top
    got = by_id(c)
    ration = got[("ration", "bread-1")]
    assert (ration["good"], ration["price"], ration["total"], ration["used"], ration["left"]) == ("bread", 150, 5, 2, 3)
    assert ration["expires"] == 1_000_000 and ration["expired"] is False and ration["law"] == "allocation"
    promo = got[("promotion", "bread-promo")]
    assert (promo["total"], promo["used"], promo["left"]) == (80, 80, 0)
    vouchers = [x for x in c["items"] if x["programme"] == "voucher"]
    assert vouchers and all(v["law"] == "welfare" and v["total"] > 0 for v in vouchers)  # a citizen's monthly vouchers
    used = {(b["programme"], b["kind"]): (b["amount"], b["count"]) for b in d["benefits_used"]}
    assert used[("allocation", "ration")] == (300, 1) and used[("allocation", "promotion")] == (80, 1)

    code, _, body = http(f"{explorer.url}/account/{chain.carol}")
    html = body.decode()
    assert code == 200 and "Coupons and vouchers held" in html and "<code>bread-1</code>" in html
    assert "Coupons and vouchers used" in html and "coupons-error" not in html


def test_an_account_that_is_no_citizen_holds_none(explorer, chain):
    d = json.loads(http(f"{explorer.url}/api/account/{chain.alice}")[2])
    assert d["coupons"] == {"height": d["coupons"]["height"], "items": [], "error": None}
    assert "Coupons and vouchers held" not in http(f"{explorer.url}/account/{chain.alice}")[2].decode()


def test_a_down_node_leaves_a_note_and_the_rest_of_the_page(chain, tmp_path):
    ix = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    try:
        follow_to(ix, chain.grpc, chain.top)
        down = Client(f"127.0.0.1:{free_port()}", timeout=1)
        ctx = Ctx(ix, down)
        d = account(ctx, chain.carol, 1, 25)
        assert d["coupons"]["error"] and d["coupons"]["items"] == []
        assert d["account"]["error"] and d["history"]["total"] > 0
        assert d["benefits_used"]  # from the index alone
        html = Explorer(ctx).env.get_template("account.html").render(path="/", query={}, **d)
        assert 'id="coupons-error"' in html and "the node is not answering" in html
        down.close()
    finally:
        ix.close()


def test_coupons_and_law_pages_are_the_same_on_postgresql(chain, postgres_url, tmp_path):
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS explorer_coupons")
        c.execute("CREATE DATABASE explorer_coupons")
    pg = Index(postgres_url.rsplit("/", 1)[0] + "/explorer_coupons")
    lite = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    client = Client(chain.grpc)
    try:
        for ix in (pg, lite):
            follow_to(ix, chain.grpc, chain.top)
        top = min(pg.height(), lite.height())
        assert pg.dump(top) == lite.dump(top)
        a = account(Ctx(pg, client), chain.carol, 1, 25)
        b = account(Ctx(lite, client), chain.carol, 1, 25)
        if pg.height() == lite.height():
            assert a["coupons"] == b["coupons"]
        else:  # one index is a block ahead: the same schemes, asked at its height
            assert by_id(a["coupons"]).keys() == by_id(b["coupons"]).keys()
        assert a["benefits_used"] == b["benefits_used"] and by_id(a["coupons"])[("ration", "bread-1")]["used"] == 2
        assert law(Ctx(pg, client), "allocation", None) == law(Ctx(lite, client), "allocation", None)
    finally:
        client.close()
        pg.close()
        lite.close()
