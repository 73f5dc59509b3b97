"""A law really amended on a running devnet, watched by a running explorer.

A one-validator devnet whose genesis shortens the congress's windows (a
seeded dated value, as any chain's genesis may) and an explorer process
pinned to that genesis.  Delegate-1 proposes a new source of the
``currency`` law; the chain pilots it, the three delegates vote yes, the
tally becomes final and the chain enacts version 2 at the beginning of
block ``enact_at``.  The explorer, already following, indexes version 2 in
that very block (no restart, no 64-block rescan), and ``/laws/currency``
shows v2 in force, the diff to v1, and the decision that enacted it: the
proposal, its tally and the transaction that proposed it.
"""

from __future__ import annotations

import json
import os

import pytest

from contracts.runtime.registry import law_sources
from explorer.index import Index
from explorer.views import Ctx, law as law_view
from tests.e2e.harness import Devnet, set_congress_params, wait_until
from tests.e2e.test_laws_devnet import Actors
from wallet.client import Client

from .conftest import ExplorerProc, follow_to, http

# the vote stays open 40 blocks (about 4 s at 100 ms a block): room for the three votes on a busy machine
SHORT = {"vote_blocks": [[20200102, {"amend": 40, "params": 40, "role": 40, "validator": 40, "text": 40,
                                     "cancel": 40}]],
         "review_blocks": [[20200102, 3]], "enact_delay_blocks": [[20200102, 3]]}
OLD_RULE = "6. **Wallet tiers.**  None yet:"
NEW_RULE = "6. **Wallet tiers.**  Still none:"


def shorten_windows(net: Devnet) -> None:
    set_congress_params(net, SHORT)


@pytest.fixture(scope="module")
def gov_net(tmp_path_factory):
    d = tmp_path_factory.mktemp("law-upgrade")
    net = Devnet(str(d / "net"), validators=1)
    shorten_windows(net)
    net.start()
    ex = ExplorerProc(net.nodes[0].grpc, f"sqlite:///{d}/index.sqlite", str(d / "explorer.log"),
                      extra=("--genesis", os.path.join(net.home, "genesis.json"))).start()
    try:
        ex.wait_indexed(2)
        yield net, ex
    finally:
        ex.stop()
        net.stop()


def api(ex: ExplorerProc, path: str) -> dict:
    code, _, body = http(ex.url + "/api" + path)
    assert code == 200, (path, code, body[:300])
    return json.loads(body)


@pytest.fixture(scope="module")
def amended(gov_net):
    """The amendment, through the congress, while the explorer follows: what it was and when."""
    net, ex = gov_net
    a = Actors(net)
    before = api(ex, "/laws/currency")
    assert before["in_force"] == 1 and before["decision"] is None and before["diff"] is None

    old = law_sources()["currency"]
    assert OLD_RULE in old and "VERSION = 1\n" in old
    new = old.replace(OLD_RULE, NEW_RULE).replace("VERSION = 1\n", "VERSION = 2\n")
    r = a.call("delegate-1", "congress", "propose", {"cls": "amend", "title": "Currency: restate the wallet tiers",
                                                     "text": "", "payload": {"law": "currency", "source": new}},
               gas=50_000_000)
    assert r["code"] == 0, r
    pid, proposed_tx = r["result"], r["hash"].hex()

    def status():
        return a.view("congress", "proposal", {"id": pid})["status"]

    wait_until(lambda: status() == "voting", 60, "the pilot to open the vote")
    votes = a.together([(d, "congress", "vote", {"id": pid, "choice": "yes"})
                        for d in ("delegate-1", "delegate-2", "delegate-3")])
    assert [v["code"] for v in votes] == [0, 0, 0], votes
    wait_until(lambda: status() == "enacted", 120, "the enactment")
    return {"pid": pid, "proposed_tx": proposed_tx, "enact_at": a.view("congress", "proposal", {"id": pid})["enact_at"],
            "proposer": a.addr("delegate-1")}


def test_a_law_amended_on_chain_shows_v2_with_its_diff_and_decision(gov_net, amended):
    net, ex = gov_net
    pid, proposed_tx, enact_at = amended["pid"], amended["proposed_tx"], amended["enact_at"]
    ex.wait_indexed(enact_at)
    law = api(ex, "/laws/currency")
    assert law["in_force"] == 2 and law["law"]["version"] == 2 and NEW_RULE in law["law"]["source"]
    v2 = law["versions"][-1]
    # noticed in the block that enacted it, while following (not at a restart or a periodic rescan)
    assert (v2["version"], v2["since_height"], v2["seen_height"]) == (2, enact_at, enact_at)
    assert f"-{OLD_RULE}" in law["diff"] and f"+{NEW_RULE}" in law["diff"] and "+VERSION = 2" in law["diff"]
    d = law["decision"]
    assert d["proposal"] == pid and d["url"] == f"/proposals/{pid}" and d["class"] == "amend"
    assert d["title"] == "Currency: restate the wallet tiers" and d["proposer"] == amended["proposer"]
    assert d["proposed_tx"] == proposed_tx and d["proposed_tx_url"] == f"/tx/{proposed_tx}"
    assert d["result"]["yes"] == 3 and d["result"]["no"] == 0 and d["result"]["accepted"] is True
    assert law["versions"][0]["decision"] is None  # genesis

    code, _, body = http(ex.url + "/laws/currency")
    html = body.decode()
    assert code == 200 and "(in force)" in html and f'href="/proposals/{pid}"' in html
    assert "Enacted by" in html and f'href="/tx/{proposed_tx}"' in html and "Still none:" in html
    v1 = api(ex, "/laws/currency?version=1")
    assert v1["law"]["version"] == 1 and v1["in_force"] == 2 and v1["diff"] is None and v1["decision"] is None
    tx = api(ex, f"/tx/{proposed_tx}")
    assert tx["tx"]["kind"] == "call" and tx["tx"]["payload"]["entry"] == "propose"


def test_the_same_law_page_from_a_postgresql_index(gov_net, amended, postgres_url):
    import psycopg

    net, ex = gov_net
    enact_at = amended["enact_at"]
    ex.wait_indexed(enact_at)
    with psycopg.connect(postgres_url, autocommit=True) as c:
        c.execute("DROP DATABASE IF EXISTS explorer_law_upgrade")
        c.execute("CREATE DATABASE explorer_law_upgrade")
    pg = Index(postgres_url.rsplit("/", 1)[0] + "/explorer_law_upgrade")
    try:
        follow_to(pg, net.nodes[0].grpc, enact_at)
        with Client(net.nodes[0].grpc) as client:
            mine = json.loads(json.dumps(law_view(Ctx(pg, client), "currency", None)))
        assert mine == api(ex, "/laws/currency") and mine["decision"]["proposal"] and mine["in_force"] == 2
    finally:
        pg.close()
