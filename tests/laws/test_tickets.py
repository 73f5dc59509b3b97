"""Service work orders through the runtime: deadline, overdue marking by the
block hook, escalation, rating, and the public performance figures."""

from __future__ import annotations

from .helpers import at, call, make_host, ok, refused, set_time, view

LAW = "tickets"
AGENCY = "esc1housing"
OTHER = "esc1works"
OFFICIAL = "esc1clerk"
CITIZEN = "esc1ann"


def host():
    h = make_host(height=10, time=at(2025, 5, 1))
    h.kinds = {AGENCY: "agency", OTHER: "agency", OFFICIAL: "citizen", CITIZEN: "citizen", "esc1co": "enterprise"}
    return h


def block(h, height):
    """Advance to ``height`` running the hook at every height, as the chain does."""
    while h.height() < height:
        set_time(h, h.time(), h.height() + 1)
        ok(call(h, LAW, "on_block", sender="contract:tickets"))


def test_a_ticket_goes_overdue_on_chain_and_is_counted():
    h = host()
    tid = ok(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "information", "text": "opening hours?"},
                  sender=CITIZEN))
    t = view(h, LAW, "ticket", {"id": tid})
    assert t["due"] == 60 and t["status"] == "open"
    block(h, 60)
    assert view(h, LAW, "ticket", {"id": tid})["status"] == "open"  # the deadline's own block is in time
    block(h, 61)
    t = view(h, LAW, "ticket", {"id": tid})
    assert t["status"] == "overdue" and t["overdue"]
    assert view(h, LAW, "stats", {"account": AGENCY})["overdue"] == 1
    # a late answer is recorded; the ticket stays counted overdue
    ok(call(h, LAW, "respond", {"id": tid, "text": "9 to 5"}, sender=AGENCY))
    s = view(h, LAW, "stats", {"account": AGENCY})
    assert (s["opened"], s["responded"], s["overdue"], s["response_blocks"]) == (1, 1, 1, 51)


def test_a_response_by_an_official_is_rated():
    h = host()
    refused(call(h, LAW, "name_official", {"official": OFFICIAL, "on": True}, sender=CITIZEN), 1)
    ok(call(h, LAW, "name_official", {"official": OFFICIAL, "on": True}, sender=AGENCY))
    tid = ok(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "repair", "text": "leak"}, sender=CITIZEN))
    refused(call(h, LAW, "respond", {"id": tid, "text": "no"}, sender="esc1co"), 1)
    block(h, 15)
    ok(call(h, LAW, "respond", {"id": tid, "text": "fixed"}, sender=OFFICIAL))
    refused(call(h, LAW, "rate", {"id": tid, "stars": 5}, sender=OFFICIAL), 1)
    refused(call(h, LAW, "rate", {"id": tid, "stars": 6}, sender=CITIZEN), 2)
    ok(call(h, LAW, "rate", {"id": tid, "stars": 4}, sender=CITIZEN))
    refused(call(h, LAW, "rate", {"id": tid, "stars": 4}, sender=CITIZEN), 3)
    for who in (AGENCY, OFFICIAL):
        s = view(h, LAW, "stats", {"account": who})
        assert (s["responded"], s["response_blocks"], s["ratings"], s["rating_sum"]) == (1, 5, 1, 4)
    block(h, 400)
    assert view(h, LAW, "ticket", {"id": tid})["status"] == "responded"  # answered: never overdue


def test_escalation_restarts_the_deadline_at_the_other_agency():
    h = host()
    tid = ok(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "complaint", "text": "noise"}, sender="esc1co"))
    block(h, 50)
    t = ok(call(h, LAW, "escalate", {"id": tid, "to": OTHER}, sender=AGENCY))
    assert t["agency"] == OTHER and t["due"] == 150
    block(h, 111)  # the first deadline (110) passes: no longer this agency's ticket
    assert view(h, LAW, "ticket", {"id": tid})["status"] == "open"
    block(h, 151)
    assert view(h, LAW, "ticket", {"id": tid})["status"] == "overdue"
    assert view(h, LAW, "stats", {"account": OTHER})["overdue"] == 1
    assert view(h, LAW, "stats", {"account": AGENCY})["escalated"] == 1


def test_bad_tickets_are_refused():
    h = host()
    refused(call(h, LAW, "open_ticket", {"agency": CITIZEN, "kind": "repair", "text": "x"}, sender=CITIZEN), 2)
    refused(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "miracle", "text": "x"}, sender=CITIZEN), 2)
    refused(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "repair", "text": "x" * 1001}, sender=CITIZEN), 2)
    refused(call(h, LAW, "open_ticket", {"agency": AGENCY, "kind": "repair", "text": "x"}, sender=AGENCY), 1)


def test_only_the_block_hook_runs_on_block():
    refused(call(host(), LAW, "on_block", sender=CITIZEN), 1)
