"""The governance cycle through the chain: pilot in block execution, votes,
constituent voids, enactment at a later height, cancel, role and validator
decisions, and the host powers refusing every other caller."""

from __future__ import annotations

import calendar
import os

import pytest

from chain.app import Application
from chain.contract_host import Laws
from ledger.crypto import tagged_hash
from ledger.genesis import Genesis, GenesisAccount, GenesisLaw
from cli.gov_source import with_values
from contracts.runtime.registry import law_sources
from ledger.address import encode_address
from ledger.codec import decode
from ledger.crypto import PrivateKey
from ledger.state import Validator
from ledger.store import ChainStore
from ledger.tx import Call, SetRole

from . import ADDR, KEYS, World

T0 = calendar.timegm((2025, 3, 3, 12, 0, 0)) * 1000
NAMES = ("g-reg", "g-tres", "g-steel", "g-d1", "g-d2", "g-d3", "g-a1", "g-a2", "g-b1", "g-b2", "g-c1", "g-x")
for _n in NAMES:
    KEYS.setdefault(_n, PrivateKey.from_name(_n, salt="gov-test"))
    ADDR.setdefault(_n, __import__("ledger.address", fromlist=["address_of"]).address_of(KEYS[_n].public))
A = {n: encode_address(ADDR[n]) for n in NAMES}
CONST = {"north": ("g-d1", "g-a1", "g-a2"), "south": ("g-d2", "g-b1", "g-b2"), "east": ("g-d3", "g-c1")}
SOURCES = law_sources()

NEW_BRACKETS = [[3_600_000, 400, 0], [14_400_000, 1000, 216_000], [30_000_000, 2000, 1_656_000],
                [42_000_000, 2500, 3_156_000], [66_000_000, 3000, 5_256_000], [96_000_000, 3500, 8_556_000],
                [None, 4500, 18_156_000]]


def congress_seed() -> dict:
    seed = {"const": {c: {"name": c.title(), "members": len(m)} for c, m in CONST.items()}, "next_id": 1,
            "delegates": {A[m[0]]: {"c": c, "since": 0, "until": 10**9} for c, m in CONST.items()}}
    for c, members in CONST.items():
        for m in members:
            seed["member:" + A[m]] = [c, 0]
    return seed


def gov_genesis() -> Genesis:
    accounts = [GenesisAccount(ADDR["g-reg"], 0, "agency", ("registrar",), "g-reg"),
                GenesisAccount(ADDR["g-tres"], 0, "agency", ("treasury",), "g-tres"),
                GenesisAccount(ADDR["g-steel"], 10**12, "enterprise", (), "g-steel"),
                GenesisAccount(ADDR["g-x"], 0, "citizen", (), "g-x")]
    for members in CONST.values():
        for m in members:
            accounts.append(GenesisAccount(ADDR[m], 10**6, "citizen", (), m))
    return Genesis(chain_id="gov-test", genesis_time_ms=T0, accounts=tuple(accounts),
                   validators=(Validator(KEYS["val"].public, 10, "v0"),),
                   params={"law_storage": {"congress": congress_seed()}},
                   laws=tuple(GenesisLaw(n, s) for n, s in sorted(SOURCES.items())))


class BeaconLaws(Laws):
    """The chain's laws, with a stand-in beacon: World commits blocks without a commit to hash."""

    def begin_block(self, state, ctx, last_commit):
        super().begin_block(state, ctx, last_commit)
        if last_commit is None and ctx.height > 1:
            state.put_value(("beacon", ctx.height - 1), tagged_hash("test beacon", str(ctx.height - 1).encode()))


class GovWorld(World):
    def __init__(self, tmp):
        g = gov_genesis()
        self.genesis = g
        self.path = os.path.join(str(tmp), "gov")
        self.store = ChainStore(self.path)
        self.app = Application(self.store, g, BeaconLaws({law.name: law.source for law in g.laws}))
        self.chain_id = g.chain_id
        self._next_nonce = {}
        self.time = T0

    def call(self, who, law, entry, args=None, gas=50_000_000):
        return self.tx(who, "call", Call(contract=law, entry=entry, args=args or {}, gas_limit=gas))

    def do(self, who, law, entry, args=None):
        ex = self.block(self.call(who, law, entry, args))
        return ex.receipts[0]

    def value(self, law, key):
        raw = self.app.state().get_bytes(("cstore", law, key))
        return None if raw is None else decode(raw)

    def prop(self, pid):
        return self.value("congress", f"prop:{pid}")

    def until(self, height):
        while self.app.height < height:
            self.block()

    def view(self, law, fn, args=None, height=None):
        from chain.contract_host import LawQueries

        q = LawQueries(self.app.contracts, self.store, T0)
        out = q.eval(law, fn, args or {}, height or self.app.height)
        assert out["code"] == 0, out
        return decode(out["value"])


@pytest.fixture
def g(tmp_path):
    w = GovWorld(tmp_path)
    yield w
    w.close()


def ok(r):
    assert r.code == 0, (r.code, r.result)
    return r.result


def tax_amendment() -> str:
    return with_values(SOURCES["tax"], {"iit_brackets": [[20250101, NEW_BRACKETS]]})


def propose_tax(g, who="g-d1"):
    for _ in range(3):
        ok(g.do("g-steel", "tax", "pay_wage", {"employee": A["g-a1"], "gross": 2_000_000}))
    r = g.do(who, "congress", "propose", {"cls": "params", "title": "Raise the first bracket to 4 %",
                                          "text": "why", "payload": {"law": "tax", "source": tax_amendment()}})
    return ok(r)


def through_enactment(g, pid, extra=0):
    g.until(g.prop(pid)["closes"])
    assert g.prop(pid)["status"] == "accepted", g.prop(pid)
    g.until(g.prop(pid)["enact_at"] + extra)


def run_pilot(g, pid):
    for _ in range(20):
        if g.prop(pid)["status"] != "piloting":
            return
        g.block()
    raise AssertionError("the pilot did not finish")


def test_wage_paid_without_set_up_goes_to_the_registry_treasury(g):
    before = g.acct("g-tres").balance
    res = ok(g.do("g-steel", "tax", "pay_wage", {"employee": A["g-a1"], "gross": 2_000_000}))
    assert res["tax"] > 0 and g.acct("g-tres").balance == before + res["tax"]


def test_full_cycle_void_changes_the_outcome_and_enactment_follows(g):
    pid = propose_tax(g)
    assert g.prop(pid)["status"] == "piloting"
    run_pilot(g, pid)
    p = g.prop(pid)
    assert p["status"] == "voting" and p["pilot"]["ok"]
    report = g.app.state().get_value(("pilot_report", pid))
    # the employee pays more under the new table; the treasury receives it
    assert report["ok"] and report["accounts"][A["g-a1"]]["diff"] < 0
    assert report["accounts"][A["g-tres"]]["diff"] == -report["accounts"][A["g-a1"]]["diff"]
    assert report["totals"]["calls"] == 3 and len(report["chunks"]) == 1
    assert A["g-steel"] in report["subjects"] and A["g-a1"] in report["subjects"]
    # recompute from committed state gives the same hash
    from chain.governance import recompute, report_hash

    from chain.contract_host import LawQueries

    _, h2 = recompute(g.app.contracts, LawQueries(g.app.contracts, g.store)._reader, report, tax_amendment())
    assert h2 == report_hash(report) == g.value("pilot", f"report:{pid}")["hash"]

    ok(g.do("g-d1", "congress", "vote", {"id": pid, "choice": "yes"}))
    ok(g.do("g-d2", "congress", "vote", {"id": pid, "choice": "no"}))
    ok(g.do("g-d3", "congress", "vote", {"id": pid, "choice": "abstain"}))
    t = g.view("congress", "tally", {"id": pid})
    assert (t["yes"], t["no"], t["abstain"], t["accepted"]) == (1, 1, 1, False)
    ok(g.do("g-b1", "congress", "review", {"id": pid, "delegate": A["g-d2"], "stance": "oppose"}))
    t = g.view("congress", "tally", {"id": pid})
    assert t["void"] == [] and not t["accepted"]  # 1 of 3: 2 > 3 is false
    r = ok(g.do("g-b2", "congress", "review", {"id": pid, "delegate": A["g-d2"], "stance": "oppose"}))
    assert r["void"] and r["oppose"] == 2 and r["members"] == 3
    t = g.view("congress", "tally", {"id": pid})
    assert t["void"] == [A["g-d2"]] and (t["yes"], t["no"], t["accepted"], t["final"]) == (1, 0, True, False)
    # a voided delegate cannot vote again; a non-constituent cannot review
    assert g.do("g-d2", "congress", "vote", {"id": pid, "choice": "yes"}).code != 0
    assert g.do("g-c1", "congress", "review", {"id": pid, "delegate": A["g-d2"], "stance": "support"}).code != 0
    p = g.prop(pid)
    g.until(p["closes"])
    p = g.prop(pid)
    assert p["status"] == "accepted" and p["result"]["final"] and p["enact_at"] > g.app.height
    old_tax = g.view("tax", "annual_tax", {"taxable_income": 10_000_000})
    assert old_tax == 748_000
    g.until(p["enact_at"])
    assert g.prop(pid)["status"] == "enacted"
    versions = g.app.state().get_value(("contract", "tax"))["versions"]
    assert versions[-1]["since"] == p["enact_at"] and versions[-1]["enacted_by"] == pid and versions[-1]["version"] == 2
    assert g.view("tax", "annual_tax", {"taxable_income": 10_000_000}) == 784_000
    assert g.view("tax", "annual_tax", {"taxable_income": 10_000_000}, height=p["enact_at"] - 1) == 748_000
    ex = g.block(g.call("g-steel", "tax", "pay_wage", {"employee": A["g-a2"], "gross": 2_000_000}))
    assert [e for e in ex.receipts[0].events if e["type"] == "call"][0]["version"] == 2


def test_cancel_before_activation(g):
    pid = propose_tax(g)
    run_pilot(g, pid)
    for d in ("g-d1", "g-d2", "g-d3"):
        ok(g.do(d, "congress", "vote", {"id": pid, "choice": "yes"}))
    g.until(g.prop(pid)["closes"])
    p = g.prop(pid)
    assert p["status"] == "accepted"
    cid = ok(g.do("g-d2", "congress", "propose", {"cls": "cancel", "title": "Stop it", "payload": {"target": pid}}))
    for d in ("g-d1", "g-d2", "g-d3"):
        ok(g.do(d, "congress", "vote", {"id": cid, "choice": "yes"}))
    g.until(g.prop(cid)["closes"])
    assert g.prop(cid)["status"] == "adopted" and g.prop(pid)["status"] == "cancelled"
    g.until(p["enact_at"] + 1)
    assert len(g.app.state().get_value(("contract", "tax"))["versions"]) == 1


def test_hostile_amendment_fails_its_pilot_and_blocks_the_vote(g):
    loop = SOURCES["tax"].replace('def annual_tax(taxable_income: int, year: int = 0) -> int:\n',
                                  'def annual_tax(taxable_income: int, year: int = 0) -> int:\n    while True:\n        pass\n')
    loop = loop.replace('def pay_wage(', 'def pay_wage_old(', 1).replace(
        'def pay_wage_old(', 'def pay_wage(employee: str = "", gross: int = 0, social_insurance: int = 0, '
        'special_additional: int = 0, other_deductions: int = 0):\n    x = [0]\n    while True:\n        x = x + x\n\n\ndef pay_wage_old(', 1)
    ok(g.do("g-steel", "tax", "pay_wage", {"employee": A["g-a1"], "gross": 2_000_000}))
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "amend", "title": "bomb",
                                                  "payload": {"law": "tax", "source": loop, "scenario": [
                                                      {"sender": A["g-a1"], "entry": "annual_tax",
                                                       "args": {"taxable_income": 1}}]}}))
    run_pilot(g, pid)
    p = g.prop(pid)
    assert p["status"] == "blocked" and not p["pilot"]["ok"]
    reason = p["pilot"]["reason"]
    assert "(pay_wage): the new code ends with VALUE_TOO_LARGE" in reason  # the memory bomb
    assert "(annual_tax): the new code ends with OUT_OF_GAS" in reason  # the endless loop
    report = g.app.state().get_value(("pilot_report", pid))
    assert report["accounts"] == {} or all(r["diff"] for r in report["accounts"].values())
    assert g.do("g-d1", "congress", "vote", {"id": pid, "choice": "yes"}).code != 0
    escape = "import os\n" + SOURCES["tax"]
    pid2 = ok(g.do("g-d1", "congress", "propose", {"cls": "amend", "title": "escape",
                                                   "payload": {"law": "tax", "source": escape}}))
    run_pilot(g, pid2)
    assert g.prop(pid2)["status"] == "blocked" and g.prop(pid2)["pilot"]["reason"].startswith("check:")


def test_citizen_proposal_gathers_cosignatures(g):
    pid = ok(g.do("g-a1", "congress", "propose", {"cls": "text", "title": "More parks", "text": "please"}))
    p = g.prop(pid)
    assert p["status"] == "gathering" and p["cosign_need"] == 2  # max(2, ceil(8 x 20 %))
    ok(g.do("g-b1", "congress", "cosign", {"id": pid}))
    assert g.do("g-b1", "congress", "cosign", {"id": pid}).code != 0  # once
    ok(g.do("g-c1", "congress", "cosign", {"id": pid}))
    assert g.prop(pid)["status"] == "voting"


def test_role_decision_replaces_set_role_and_laws_see_the_new_holder(g):
    ex = g.block(g.tx("g-reg", "set_role", SetRole(account=ADDR["g-x"], role="treasury", grant=True)))
    assert ex.receipts[0].code != 0 and "treasury" not in g.acct("g-x").roles
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "role", "title": "new treasurer",
                                                  "payload": {"account": A["g-tres"], "role": "treasury", "grant": False}}))
    pid2 = ok(g.do("g-d1", "congress", "propose", {"cls": "role", "title": "new treasurer",
                                                   "payload": {"account": A["g-x"], "role": "treasury", "grant": True}}))
    for p in (pid, pid2):
        for d in ("g-d1", "g-d2"):
            ok(g.do(d, "congress", "vote", {"id": p, "choice": "yes"}))
    through_enactment(g, pid)
    through_enactment(g, pid2)
    assert "treasury" in g.acct("g-x").roles and "treasury" not in g.acct("g-tres").roles
    assert g.view("tax", "treasury") == A["g-x"]
    assert g.value("pilot", f"enacted:{pid2}")["ok"]


def test_validator_decision_schedules_the_update(g):
    newkey = PrivateKey.from_name("g-newval", salt="gov-test").public
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "validator", "title": "add a validator",
                                                  "payload": {"pubkey": newkey.hex(), "power": 5, "name": "v1"}}))
    for d in ("g-d1", "g-d2", "g-d3"):
        ok(g.do(d, "congress", "vote", {"id": pid, "choice": "yes"}))
    through_enactment(g, pid, 2)
    assert newkey in {v.pubkey for v in g.app.validators()}


def test_host_powers_act_only_on_congress_decisions(g):
    from chain.governance import enact_due, host_write

    # a due list in another law's storage is ignored; one naming a non-accepted proposal is refused
    st = g.app.state()
    host_write(st, "welfare", f"due:{g.app.height + 1}", [1])
    assert enact_due(g.app.contracts, st, g.app.height + 1) == []
    host_write(st, "congress", f"due:{g.app.height + 1}", [99])
    out = enact_due(g.app.contracts, st, g.app.height + 1)
    assert out and not out[0]["ok"]
    # no transaction can write congress's due list: storage belongs to the law that runs
    assert g.do("g-d1", "pilot", "report", {"id": 1}).code != 0


def test_reform_assembly_triggered_by_follows_suspends_an_official_and_a_delegate(g):
    t = ok(g.do("g-a1", "forum", "post", {"title": "The treasury", "text": "something is wrong"}))
    for c in ("g-a1", "g-b1"):
        ok(g.do(c, "forum", "follow", {"topic": t}))
    assert g.do("g-x", "assembly", "convene", {"topic": t}).code != 0  # 2 of 8 citizens: not enough
    ok(g.do("g-c1", "forum", "follow", {"topic": t}))  # 3 x 10000 > 3000 x 8
    aid = ok(g.do("g-x", "assembly", "convene", {"topic": t}))
    for voter, cand in (("g-a1", "g-a1"), ("g-a2", "g-a1"), ("g-b1", "g-b1"), ("g-b2", "g-b2"), ("g-c1", "g-c1")):
        ok(g.do(voter, "assembly", "ballot", {"assembly": aid, "candidate": A[cand]}))
    a = g.value("assembly", f"a:{aid}")
    g.until(a["closes"] + 1)
    members = ok(g.do("g-x", "assembly", "seat", {"assembly": aid}))
    assert members[0] == A["g-a1"] and len(members) == 3
    names = {A[n]: n for n in NAMES}
    m = [names[x] for x in members]
    rid = ok(g.do(m[0], "assembly", "resolve", {"assembly": aid, "kind": "suspend_role",
                                                "payload": {"account": A["g-tres"], "role": "treasury"}}))
    assert g.do("g-x", "assembly", "decide", {"assembly": aid, "id": rid, "yes": True}).code != 0  # not a member
    ok(g.do(m[0], "assembly", "decide", {"assembly": aid, "id": rid, "yes": True}))
    assert "treasury" in g.acct("g-tres").roles  # 1 of 3 seats: not yet a majority
    r = ok(g.do(m[1], "assembly", "decide", {"assembly": aid, "id": rid, "yes": True}))
    assert r["status"] == "passed"
    g.block()  # enacted at the next block by the chain
    assert "treasury" not in g.acct("g-tres").roles
    assert g.value("pilot", f"enacted:{r['outcome']['decision']}")["ok"]
    # an urgent suspension of a delegate's vote
    rid2 = ok(g.do(m[0], "assembly", "resolve", {"assembly": aid, "kind": "suspend_delegate",
                                                 "payload": {"delegate": A["g-d3"], "until": g.app.height + 500}}))
    ok(g.do(m[0], "assembly", "decide", {"assembly": aid, "id": rid2, "yes": True}))
    ok(g.do(m[1], "assembly", "decide", {"assembly": aid, "id": rid2, "yes": True}))
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "text", "title": "t"}))
    r = g.do("g-d3", "congress", "vote", {"id": pid, "choice": "yes"})
    assert r.code != 0 and "not a delegate" in r.result["detail"] or "suspended" in r.result["detail"]
    # only the assembly may call congress's urgent powers
    assert g.do("g-d1", "congress", "urgent", {"payload": {"account": A["g-x"], "role": "treasury", "grant": True},
                                               "title": "sneak", "assembly": 1}).code != 0


def test_recall_and_by_election_through_the_chain(g):
    r = ok(g.do("g-a1", "congress", "recall_sign", {"delegate": A["g-d1"]}))  # 10 % of 3 members: 1 signature
    assert r["status"] == "voting"
    ok(g.do("g-a1", "congress", "recall_vote", {"delegate": A["g-d1"], "yes": True}))
    ok(g.do("g-a2", "congress", "recall_vote", {"delegate": A["g-d1"], "yes": True}))
    assert g.do("g-b1", "congress", "recall_vote", {"delegate": A["g-d1"], "yes": True}).code != 0  # not north
    g.until(r["closes"] + 1)
    r = ok(g.do("g-x", "congress", "recall_close", {"delegate": A["g-d1"]}))
    assert r["status"] == "recalled"
    assert A["g-d1"] not in g.view("congress", "delegates")
    eid = r["by_election"]
    ok(g.do("g-a1", "congress", "ballot", {"election": eid, "candidate": A["g-a2"]}))
    ok(g.do("g-a2", "congress", "ballot", {"election": eid, "candidate": A["g-a2"]}))
    ok(g.do("g-d1", "congress", "ballot", {"election": eid, "candidate": A["g-a1"]}))
    g.until(g.value("congress", f"elect:{eid}")["closes"] + 1)
    assert ok(g.do("g-x", "congress", "elect_close", {"election": eid})) == [A["g-a2"]]
    d = g.view("congress", "delegates")
    assert d[A["g-a2"]]["c"] == "north" and len(d) == 3
    e = g.value("congress", f"elect:{eid}")
    assert e["turnout_bps"] == 10000 and e["tally"] == {A["g-a2"]: 2, A["g-a1"]: 1}


def test_a_hostile_pilot_is_identical_on_two_independent_nodes(tmp_path):
    bomb = SOURCES["tax"].replace('def annual_tax(taxable_income: int, year: int = 0) -> int:\n',
                                  'def annual_tax(taxable_income: int, year: int = 0) -> int:\n    x = "a"\n'
                                  '    while True:\n        x = x + x\n')
    roots, hashes = [], []
    for i in range(2):
        w = GovWorld(tmp_path / f"n{i}")
        ok(w.do("g-steel", "tax", "pay_wage", {"employee": A["g-a1"], "gross": 2_000_000}))
        pid = ok(w.do("g-d1", "congress", "propose", {"cls": "amend", "title": "bomb", "payload": {
            "law": "tax", "source": bomb,
            "scenario": [{"sender": A["g-a1"], "entry": "annual_tax", "args": {"taxable_income": 5}}]}}))
        run_pilot(w, pid)
        assert w.prop(pid)["status"] == "blocked"
        hashes.append(w.value("pilot", f"report:{pid}")["hash"])
        roots.append(w.app.store.state_root(w.app.height))
        w.close()
    assert hashes[0] == hashes[1] and roots[0] == roots[1]


def test_a_parameter_table_that_breaks_the_schema_blocks_the_vote(g):
    bad = with_values(SOURCES["tax"], {"iit_brackets": [[20250101, [[3_600_000, 400, 1], [None, 4500, 0]]]]})
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "params", "title": "bad table",
                                                  "payload": {"law": "tax", "source": bad}}))
    run_pilot(g, pid)
    p = g.prop(pid)
    assert p["status"] == "blocked" and p["pilot"]["reason"].startswith("check_params:")


def test_the_role_index_follows_deregistration(g):
    from chain.roles import role_holders
    from ledger.tx import Deregister

    assert role_holders(g.app.state(), "treasury") == [ADDR["g-tres"]]
    ok(g.block(g.tx("g-reg", "deregister", Deregister(account=ADDR["g-tres"]))).receipts[0])
    assert role_holders(g.app.state(), "treasury") == []
    r = g.do("g-steel", "tax", "pay_wage", {"employee": A["g-a1"], "gross": 2_000_000})
    assert r.code != 0 and r.result["error"] == 3  # E_NO_TREASURY


PARKS = '''"""Parks: a new law added by a decision."""

LAW = "parks"
VERSION = 1

ENTRIES = ("plant",)
VIEWS = ("trees",)


def plant(n: int) -> int:
    """Plant n trees."""
    storage.set("trees", storage.get("trees", 0) + n)
    return storage.get("trees")


def trees() -> int:
    """How many trees."""
    return storage.get("trees", 0)
'''


def test_a_new_law_is_added_by_a_decision(g):
    pid = ok(g.do("g-d1", "congress", "propose", {"cls": "amend", "title": "A parks law", "payload": {
        "law": "parks", "source": PARKS, "scenario": [{"sender": A["g-a1"], "entry": "plant", "args": {"n": 2}}]}}))
    run_pilot(g, pid)
    report = g.app.state().get_value(("pilot_report", pid))
    assert report["ok"] and report["base_hash"] == b"" and report["rows"][0]["old"] is None
    for d in ("g-d1", "g-d2"):
        ok(g.do(d, "congress", "vote", {"id": pid, "choice": "yes"}))
    through_enactment(g, pid)
    v = g.app.state().get_value(("contract", "parks"))["versions"]
    assert v == [{**v[0], "version": 1, "since": g.prop(pid)["enact_at"], "enacted_by": pid}]
    assert ok(g.do("g-a1", "parks", "plant", {"n": 3})) == 3
