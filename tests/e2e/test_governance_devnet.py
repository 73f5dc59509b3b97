"""The amendment cycle on a real 4-validator devnet, through the CLI.

A wage payment right after genesis (no set-up step) -> delegate-1 proposes a
change of the income-tax table -> the pilot report is fixed on chain and is
the same on all four nodes (and recomputes from committed state) -> the
delegates vote (yes, no, abstain: not accepted) -> a majority of
delegate-2's constituents oppose and void its "no", which turns the outcome
-> enactment at its height -> ``esoc law eval tax.annual_tax --height``
before and after gives the old and the new figure, and a wage payment after
it names version 2.

The devnet's genesis is edited before the start to shorten the congress's
windows (a seeded dated value, as any chain's genesis may).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


from .harness import ROOT, Devnet, set_congress_params, wait_until

pytestmark = pytest.mark.slow

NEW_BRACKETS = [[3_600_000, 400, 0], [14_400_000, 1000, 216_000], [30_000_000, 2000, 1_656_000],
                [42_000_000, 2500, 3_156_000], [66_000_000, 3000, 5_256_000], [96_000_000, 3500, 8_556_000],
                [None, 4500, 18_156_000]]
SHORT = {"vote_blocks": [[20200102, {"amend": 60, "params": 60, "role": 40, "validator": 40, "text": 40, "cancel": 20}]],
         "review_blocks": [[20200102, 40]], "enact_delay_blocks": [[20200102, 70]]}


def shorten_windows(net: Devnet) -> None:
    set_congress_params(net, SHORT)


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = Devnet(str(tmp_path_factory.mktemp("gov")), validators=4, block_interval_ms=250)
    shorten_windows(d)
    d.start()
    yield d
    d.stop()


def gov(net: Devnet, *args: str, node: int = 0, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=ROOT, ESOC_KEYSTORE=net.keystore, ESOC_PASSWORD="devnet",
               ESOC_NODE=net.nodes[node].grpc)
    r = subprocess.run([sys.executable, "-m", "cli.gov", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                       stdin=subprocess.DEVNULL, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"esoc gov {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


def gj(net, *args, node=0):
    return json.loads(gov(net, *args, "--json", node=node).stdout)


# Long by design: the governance issue's whole amendment cycle as one story on a real devnet (propose, pilot, vote, void, enact, evaluate before and after).
def test_amendment_cycle(net, tmp_path):
    # item 9: a wage right after genesis, with no set-up step
    wage = json.dumps({"employee": net.account("alice")["address"], "gross": 2_000_000})
    for _ in range(2):
        out = json.loads(net.cli("tx", "call", "--from", "steelworks", "tax", "pay_wage", "--args", wage,
                                 "--gas", "50000000", "--wait", "--json").stdout)
        assert out["code"] == 0, out

    values = tmp_path / "brackets.json"
    values.write_text(json.dumps({"iit_brackets": [[20250101, NEW_BRACKETS]]}))
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps([{"sender": "alice", "entry": "annual_tax", "args": {"taxable_income": 10_000_000}}]))
    p = gj(net, "propose", "--from", "delegate-1", "--params", "tax", "--values", str(values), "--scenario",
           str(scenario), "--title", "First bracket 3 % -> 4 %")
    pid = p["id"]
    assert p["status"] == "piloting"

    wait_until(lambda: gj(net, "show", str(pid))["status"] != "piloting", 60, "the pilot to finish")
    shown = gj(net, "show", str(pid))
    assert shown["status"] == "voting" and shown["pilot"]["ok"], shown
    assert any(line.startswith("+") and "(36_000 * YUAN, 4 * PERCENT, 0)" in line for line in shown["diff"].splitlines())

    # the same report on every node, recomputable from committed state
    reports = [gj(net, "pilot", str(pid), node=i) for i in range(4)]
    assert len({r["hash"] for r in reports}) == 1
    rep = reports[0]
    alice = net.account("alice")["address"]
    assert rep["accounts"][alice]["diff"] < 0  # alice would pay more
    scen = [v for v in rep["values"] if v["entry"] == "annual_tax"]
    assert scen[0]["old"] == 748_000 and scen[0]["new"] == 784_000
    assert gj(net, "pilot", str(pid), "--recompute")["agrees"] is True

    # delegate-2 votes no; its constituents carol and dan (2 of 3) oppose it: void
    gov(net, "vote", "--from", "delegate-2", str(pid), "no")
    gov(net, "vote", "--from", "delegate-1", str(pid), "yes")
    gov(net, "vote", "--from", "delegate-3", str(pid), "abstain")
    t = gj(net, "show", str(pid))["result"]
    assert (t["yes"], t["no"], t["abstain"], t["accepted"]) == (1, 1, 1, False)
    gov(net, "review", "--from", "carol", "--delegate", "delegate-2", str(pid), "oppose")
    r = gj(net, "review", "--from", "dan", "--delegate", "delegate-2", str(pid), "oppose")
    assert r["void"] and r["oppose"] == 2 and r["members"] == 3
    t = gj(net, "show", str(pid))["result"]
    assert t["void"] == [net.account("delegate-2")["address"]] and t["accepted"] and not t["final"]

    wait_until(lambda: gj(net, "show", str(pid))["status"] != "voting", 120, "the tally to become final")
    shown = gj(net, "show", str(pid))
    assert shown["status"] == "accepted", shown
    enact_at = shown["enact_at"]
    net.wait_height(enact_at + 1, timeout=120)

    def annual(height):
        out = net.cli("law", "eval", "tax.annual_tax", "--args", json.dumps({"taxable_income": 10_000_000}),
                      "--height", str(height), "--json").stdout
        return json.loads(out)["value"]  # one JSON shape whatever the outcome: {value, gas_used, effects, code, error}

    assert annual(enact_at - 1) == 748_000
    assert annual(enact_at) == 784_000
    versions = gj(net, "law", "tax")["versions"]
    assert versions[-1] == {**versions[-1], "version": 2, "since_height": enact_at, "enacted_by": pid}
    assert gj(net, "show", str(pid))["status"] == "enacted"
    shown = json.loads(net.cli("law", "show", "tax", "--json").stdout)
    assert [(v["version"], v["since_height"], v["enacted_by"]) for v in shown["versions"]] == [(1, 1, 0), (2, enact_at, pid)]

    out = json.loads(net.cli("tx", "call", "--from", "steelworks", "tax", "pay_wage", "--args", wage,
                             "--gas", "50000000", "--wait", "--json").stdout)
    assert out["code"] == 0
    with net.nodes[0].client() as c:
        from ledger.block import Receipt

        rec = Receipt.decode(c.tx(bytes.fromhex(out["hash"])).receipt)
    assert [e for e in rec.events if e["type"] == "call"][0]["version"] == 2
    net.check_agreement()


def cli_mod(net, module, *args, node=0, check=True):
    env = dict(os.environ, PYTHONPATH=ROOT, ESOC_KEYSTORE=net.keystore, ESOC_PASSWORD="devnet",
               ESOC_NODE=net.nodes[node].grpc)
    r = subprocess.run([sys.executable, "-m", module, *args, "--json"], capture_output=True, text=True, env=env,
                       cwd=ROOT, stdin=subprocess.DEVNULL, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"{module} {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return json.loads(r.stdout) if r.returncode == 0 else r


def test_work_orders_overdue_and_rated(net):
    late = cli_mod(net, "cli.ticket", "open", "--from", "alice", "--agency", "registrar", "--kind", "information",
                   "where is my certificate?")
    fixed = cli_mod(net, "cli.ticket", "open", "--from", "bakery", "--agency", "planning-agency", "--kind",
                    "repair", "the oven's gas line")
    cli_mod(net, "cli.ticket", "respond", "--from", "planning-agency", str(fixed["id"]), "repaired")
    cli_mod(net, "cli.ticket", "rate", "--from", "bakery", str(fixed["id"]), "4")
    r = cli_mod(net, "cli.ticket", "rate", "--from", "alice", str(fixed["id"]), "1", check=False)
    assert r.returncode == 1 and r.stderr.startswith("esoc: error: ") and len(r.stderr.strip().splitlines()) == 1
    net.wait_height(late["due"] + 2, timeout=120)
    assert cli_mod(net, "cli.ticket", "show", str(late["id"]))["status"] == "overdue"
    s = cli_mod(net, "cli.ticket", "stats", "registrar")
    assert s["overdue"] == 1 and s["opened"] == 1
    s = cli_mod(net, "cli.ticket", "stats", "planning-agency")
    assert (s["responded"], s["ratings"], s["rating_sum"]) == (1, 1, 4)


def test_forum_follows_reach_the_assembly_threshold(net):
    t = cli_mod(net, "cli.forum", "post", "--from", "alice", "--title", "The river", "clean it")["id"]
    cli_mod(net, "cli.forum", "support", "--from", "bob", str(t))
    out = None
    for who in ("carol", "dan", "erin"):
        out = cli_mod(net, "cli.forum", "follow", "--from", who, str(t))
    assert out["followers"] == 3 and out["triggers_assembly"]  # 3 of 8 citizens > 30 %
    assert cli_mod(net, "cli.forum", "hot")[0]["id"] == t
    assert isinstance(cli_mod(net, "cli.forum", "recommended", "alice"), list)


def test_reform_assembly_suspends_an_officials_role(net):
    t = cli_mod(net, "cli.forum", "post", "--from", "bob", "--title", "Planning", "the plan is late")["id"]
    for who in ("alice", "bob", "carol"):
        cli_mod(net, "cli.forum", "follow", "--from", who, str(t))
    a = cli_mod(net, "cli.gov", "assembly", "convene", "--from", "erin", str(t))
    for voter, cand in (("alice", "alice"), ("bob", "alice"), ("carol", "carol"), ("dan", "dan")):
        cli_mod(net, "cli.gov", "assembly", "ballot", "--from", voter, str(a["id"]), cand)
    net.wait_height(a["closes"] + 2, timeout=120)
    members = cli_mod(net, "cli.gov", "assembly", "seat", "--from", "erin", str(a["id"]))["members"]
    assert members[0] == net.account("alice")["address"] and len(members) == 3
    names = {net.account(n)["address"]: n for n in ("alice", "carol", "dan")}
    movers = [names[m] for m in members]
    r = cli_mod(net, "cli.gov", "assembly", "resolve", "--from", movers[0], str(a["id"]), "suspend_role",
                json.dumps({"account": "planning-agency", "role": "planning_agency"}))
    cli_mod(net, "cli.gov", "assembly", "decide", "--from", movers[0], str(a["id"]), str(r["resolution"]), "yes")
    out = cli_mod(net, "cli.gov", "assembly", "decide", "--from", movers[1], str(a["id"]), str(r["resolution"]), "yes")
    assert out["status"] == "passed"
    pid = out["outcome"]["decision"]

    def revoked():
        acct = json.loads(net.cli("account", "planning-agency", "--json").stdout)
        return "planning_agency" not in acct["roles"]

    wait_until(revoked, 30, "the role to be revoked")
    assert cli_mod(net, "cli.gov", "show", str(pid))["status"] == "enacted"
    net.check_agreement()


def test_hostile_amendment_fails_its_pilot_identically_on_every_node(net, tmp_path):
    wage = json.dumps({"employee": net.account("bob")["address"], "gross": 1_000_000})
    net.cli("tx", "call", "--from", "steelworks", "tax", "pay_wage", "--args", wage, "--gas", "50000000", "--wait")
    src = json.loads(net.cli("law", "show", "tax", "--json").stdout)["source"]
    bomb = src.replace("def annual_tax(taxable_income: int, year: int = 0) -> int:\n",
                       "def annual_tax(taxable_income: int, year: int = 0) -> int:\n    x = 'a'\n"
                       "    while True:\n        x = x + x\n", 1)
    bomb = bomb.replace("def pay_wage(", "def pay_wage_v1(", 1).replace(
        "def pay_wage_v1(", "def pay_wage(employee: str = '', gross: int = 0, social_insurance: int = 0, "
        "special_additional: int = 0, other_deductions: int = 0):\n    while True:\n        pass\n\n\n"
        "def pay_wage_v1(", 1)
    f = tmp_path / "bomb.py"
    f.write_text(bomb)
    pid = gj(net, "propose", "--from", "delegate-3", "--amend", "tax", "--source", str(f), "--title", "innocent")["id"]
    wait_until(lambda: gj(net, "show", str(pid))["status"] != "piloting", 60, "the pilot to finish")
    shown = gj(net, "show", str(pid))
    assert shown["status"] == "blocked" and "OUT_OF_GAS" in shown["pilot"]["reason"]
    reports = [gj(net, "pilot", str(pid), node=i) for i in range(4)]
    assert len({r["hash"] for r in reports}) == 1 and not reports[0]["ok"]
    r = gov(net, "vote", "--from", "delegate-1", str(pid), "yes", check=False)
    assert r.returncode == 1 and "not open for votes" in r.stderr
    net.check_agreement()
