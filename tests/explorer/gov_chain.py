"""A real one-validator devnet with governance activity, for the explorer's governance pages.

On the devnet's genesis congress (three constituencies, delegate-1..3 seated;
cli/gov_genesis.py), with the congress's windows shortened by a seeded dated
value (as tests/e2e/test_governance_devnet.py does):

* steelworks pays alice a wage (the tax law gets a history the pilot replays);
* delegate-1 proposes the income-tax change of ``esoc demo governance`` (a
  ``params`` amendment of the tax law); the chain pilots it;
* delegate-2 votes no, delegate-1 yes, delegate-3 abstains; carol and dan (2
  of delegate-2's 3 constituents) oppose delegate-2's vote: it is void; erin
  supports delegate-3's;
* forum: alice posts a topic about the proposal, bob replies and supports,
  dan opposes another topic; carol, dan and erin follow the first (3 of 8
  citizens > 30 %): erin convenes a reform assembly for it;
* tickets: alice opens a repair ticket to the planning agency, which
  responds; alice rates it 4;
* recall: erin (delegate-3's only constituent) petitions and votes to recall
  delegate-3; the recall passes and the by-election elects erin;
* the tally becomes final (accepted) and the decision is enacted.
"""

from __future__ import annotations

from ledger.codec import decode
from tests.e2e.harness import Devnet, set_congress_params, wait_until
from tests.e2e.test_laws_devnet import Actors

NEW_BRACKETS = [[3_600_000, 400, 0], [14_400_000, 1000, 216_000], [30_000_000, 2000, 1_656_000],
                [42_000_000, 2500, 3_156_000], [66_000_000, 3000, 5_256_000], [96_000_000, 3500, 8_556_000],
                [None, 4500, 18_156_000]]
SHORT = {"vote_blocks": [[20200102, {"amend": 40, "params": 40, "role": 30, "validator": 30, "text": 30,
                                      "cancel": 20}]],
         "review_blocks": [[20200102, 30]], "enact_delay_blocks": [[20200102, 20]],
         "recall_blocks": [[20200102, 8]], "election_blocks": [[20200102, 8]]}
GAS = 200_000_000


def shorten_windows(net: Devnet) -> None:
    set_congress_params(net, SHORT)


class GovChain:
    """The governance devnet and what was done on it."""

    def __init__(self, net: Devnet):
        from cli.gov_source import with_values

        self.net = net
        self.grpc = net.nodes[0].grpc
        a = self.actors = Actors(net)
        self.addr = {n: a.addr(n) for n in ("alice", "bob", "carol", "dan", "erin", "delegate-1", "delegate-2",
                                            "delegate-3", "planning-agency", "steelworks")}
        assert a.call("steelworks", "tax", "pay_wage", {"employee": self.addr["alice"], "gross": 2_000_000},
                      gas=50_000_000)["code"] == 0
        with net.nodes[0].client() as c:
            source = with_values(c.get_law("tax").source, {"iit_brackets": [[20250101, NEW_BRACKETS]]})
        self.pid = a.ok("delegate-1", "congress", "propose", {
            "cls": "params", "title": "Income tax: first bracket 3 % -> 4 %",
            "text": "Raise the rate of the first bracket of the comprehensive income table.",
            "payload": {"law": "tax", "source": source, "scenario": [
                {"sender": self.addr["alice"], "entry": "annual_tax", "args": {"taxable_income": 10_000_000}}]}},
            gas=GAS)
        wait_until(lambda: self.view("congress", "proposal", {"id": self.pid})["status"] != "piloting", 120,
                   "the pilot report")
        assert self.view("congress", "proposal", {"id": self.pid})["status"] == "voting"
        self.votes = {"delegate-2": "no", "delegate-1": "yes", "delegate-3": "abstain"}
        out = a.together([(d, "congress", "vote", {"id": self.pid, "choice": v}) for d, v in self.votes.items()])
        assert all(r["code"] == 0 for r in out), out
        self.vote_tx = {d: r["hash"].hex() for d, r in zip(self.votes, out)}
        out = a.together([(c, "congress", "review", {"id": self.pid, "delegate": self.addr["delegate-2"],
                                                      "stance": "oppose"}) for c in ("carol", "dan")]
                         + [("erin", "congress", "review", {"id": self.pid, "delegate": self.addr["delegate-3"],
                                                             "stance": "support"})])
        assert all(r["code"] == 0 for r in out), out
        assert out[1]["result"]["void"] is True

        # forum
        self.topic = a.ok("alice", "forum", "post", {"title": "The tax change", "text": "Is 4 % fair?",
                                                     "proposal": self.pid})
        self.other = a.ok("erin", "forum", "post", {"title": "Longer opening hours", "text": "For the bakery."})
        self.reply = a.ok("bob", "forum", "reply", {"to": self.topic, "text": "It is, for the budget."})
        out = a.together([("bob", "forum", "support", {"id": self.topic}), ("dan", "forum", "oppose", {"id": self.other})])
        out += a.together([(w, "forum", "follow", {"topic": self.topic}) for w in ("carol", "dan", "erin")])
        assert all(r["code"] == 0 for r in out), out
        self.assembly = a.ok("erin", "assembly", "convene", {"topic": self.topic})

        # a work order
        self.ticket = a.ok("alice", "tickets", "open_ticket", {"agency": self.addr["planning-agency"],
                                                               "kind": "repair", "text": "The street lamp is out."})
        self.responded = a.ok("planning-agency", "tickets", "respond", {"id": self.ticket, "text": "Repaired."})
        a.ok("alice", "tickets", "rate", {"id": self.ticket, "stars": 4})

        # recall of delegate-3 by its constituency (erin), then the by-election
        d3 = self.addr["delegate-3"]
        r = a.ok("erin", "congress", "recall_sign", {"delegate": d3})
        assert r["status"] == "voting", r
        a.ok("erin", "congress", "recall_vote", {"delegate": d3, "yes": True})
        net.wait_height(r["closes"] + 1, timeout=120)
        r = a.ok("erin", "congress", "recall_close", {"delegate": d3})
        assert r["status"] == "recalled", r
        self.election = r["by_election"]
        a.ok("erin", "congress", "ballot", {"election": self.election, "candidate": self.addr["erin"]})
        e = self.view("congress", "election", {"id": self.election})
        net.wait_height(e["closes"] + 2, timeout=120)
        self.elected = a.ok("erin", "congress", "elect_close", {"election": self.election})
        assert self.elected == [self.addr["erin"]]

        # the final tally and the enactment
        p = self.view("congress", "proposal", {"id": self.pid})
        net.wait_height(p["closes"] + 1, timeout=120)
        p = self.view("congress", "proposal", {"id": self.pid})
        assert p["status"] == "accepted", p["status"]
        self.enact_at = p["enact_at"]
        net.wait_height(self.enact_at + 1, timeout=120)
        assert self.view("congress", "proposal", {"id": self.pid})["status"] == "enacted"
        self.top = a.height()

    def view(self, law: str, fn: str, args: dict):
        with self.net.nodes[0].client() as c:
            r = c.eval_law(law, fn, args)
        assert r.code == 0, (law, fn, r.error)
        return decode(r.value)
