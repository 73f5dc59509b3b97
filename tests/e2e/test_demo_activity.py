"""`esoc demo activity` (what `esoc devnet` runs on a new home's first start, so the explorer has
something to show) on a real one-validator devnet with the congress's windows shortened."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.harness import ROOT, Devnet
from tests.e2e.test_laws_devnet import Actors
from tests.explorer.gov_chain import shorten_windows

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    n = Devnet(str(tmp_path_factory.mktemp("activity-net")), validators=1)
    shorten_windows(n)
    n.start()
    try:
        yield n
    finally:
        n.stop()


def test_demo_activity_leaves_a_transfer_a_wage_a_rated_work_order_a_topic_and_an_enacted_amendment(net):
    env = dict(os.environ, PYTHONPATH=ROOT, ESOC_KEYSTORE=net.keystore, ESOC_PASSWORD="devnet",
               ESOC_NODE=net.nodes[0].grpc)
    r = subprocess.run([sys.executable, "-m", "cli.main", "demo", "activity", "--json"], capture_output=True,
                       text=True, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, timeout=600)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    a = Actors(net)
    with net.nodes[0].client() as c:
        t = c.tx(bytes.fromhex(s["transfer"]))
    assert t.code == 0 and t.height >= 1
    ticket = a.view("tickets", "ticket", {"id": s["ticket"]})
    assert ticket["opener"] == a.addr("alice") and ticket["agency"] == a.addr("registrar")
    assert ticket["rating"] == 5 and ticket["status"] == "responded" and ticket["response"]
    post = a.view("forum", "get", {"id": s["forum_post"]})
    assert post["author"] == a.addr("carol") and post["support"] == 1
    g = s["governance"]
    assert g["status"] == "enacted" and [v["version"] for v in g["tax_versions"]] == [1, 2]
    assert g["annual_tax_after"] > g["annual_tax_before"]  # the first bracket went from 3 % to 4 %
    tally = a.view("congress", "tally", {"id": g["proposal"]})
    # delegate-2's "no" is voided by two of its three constituents: 1 yes, 0 no, 1 abstain, accepted
    assert tally["void"] == [a.addr("delegate-2")] and (tally["yes"], tally["no"], tally["abstain"]) == (1, 0, 1)
    assert tally["final"] and tally["accepted"]
