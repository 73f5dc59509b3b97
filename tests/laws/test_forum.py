"""The forum through the runtime: posts, replies, reactions, the hot lists'
formula, follows and the assembly trigger, polls, rate limits, and the
stakeholder recommendation from a pilot report."""

from __future__ import annotations

from ledger.codec import encode

from .helpers import at, call, make_host, ok, refused, set_time, view

LAW = "forum"
CITIZENS = [f"esc1c{i}" for i in range(10)]


def host():
    h = make_host(height=100, time=at(2025, 5, 1))
    h.store[("congress", "const")] = encode({"n": {"name": "N", "members": 10}})
    return h


def test_post_reply_react_and_the_hot_formula():
    h = host()
    a = ok(call(h, LAW, "post", {"title": "Parks", "text": "more parks"}, sender=CITIZENS[0]))
    set_time(h, h.time(), 150)
    b = ok(call(h, LAW, "post", {"title": "Buses", "text": "more buses"}, sender=CITIZENS[1]))
    ok(call(h, LAW, "reply", {"to": a, "text": "yes"}, sender=CITIZENS[2]))
    for c in CITIZENS[:3]:
        ok(call(h, LAW, "support", {"id": a}, sender=c))
    ok(call(h, LAW, "support", {"id": b}, sender=CITIZENS[3]))
    ok(call(h, LAW, "oppose", {"id": b}, sender=CITIZENS[4]))
    r = ok(call(h, LAW, "oppose", {"id": a}, sender=CITIZENS[0]))  # switching stance moves the count
    assert r == {"support": 2, "oppose": 1}
    hot = view(h, LAW, "hot")
    # a: 2 x 1e6 // (50 + 50) = 20000; b: 1 x 1e6 // (0 + 50) = 20000: the tie goes to the newer post
    assert [(x["id"], x["score"]) for x in hot] == [(b, 20000), (a, 20000)]
    set_time(h, h.time(), 151)
    assert [x["id"] for x in view(h, LAW, "hot")] == [a, b]  # 2e6 // 101 = 19801 > 1e6 // 51 = 19607
    assert [x["id"] for x in view(h, LAW, "most_opposed")][0] == b
    assert len(view(h, LAW, "replies", {"id": a})) == 1


def test_follows_trigger_an_assembly_above_the_share():
    h = host()
    t = ok(call(h, LAW, "post", {"title": "Water", "text": "the river"}, sender=CITIZENS[0]))
    for c in CITIZENS[:3]:
        ok(call(h, LAW, "follow", {"topic": t}, sender=c))
    assert not view(h, LAW, "triggers_assembly", {"topic": t})  # 3 of 10 is not more than 30 %
    ok(call(h, LAW, "follow", {"topic": t}, sender=CITIZENS[3]))
    assert view(h, LAW, "triggers_assembly", {"topic": t})
    h.kinds = {"esc1ent": "enterprise"}
    refused(call(h, LAW, "follow", {"topic": t}, sender="esc1ent"), 1)


def test_rate_limit_per_window():
    h = host()
    for i in range(5):
        ok(call(h, LAW, "post", {"title": f"t{i}", "text": "x"}, sender=CITIZENS[0]))
    refused(call(h, LAW, "post", {"title": "t6", "text": "x"}, sender=CITIZENS[0]), 5)
    ok(call(h, LAW, "post", {"title": "other", "text": "x"}, sender=CITIZENS[1]))
    set_time(h, h.time(), 200)  # a new window
    ok(call(h, LAW, "post", {"title": "t6", "text": "x"}, sender=CITIZENS[0]))


def test_polls():
    h = host()
    p = ok(call(h, LAW, "poll_open", {"question": "Which day?", "options": ["Mon", "Tue"], "closes": 110},
                sender=CITIZENS[0]))
    assert ok(call(h, LAW, "poll_vote", {"id": p, "option": 1}, sender=CITIZENS[1])) == [0, 1]
    refused(call(h, LAW, "poll_vote", {"id": p, "option": 0}, sender=CITIZENS[1]), 3)
    set_time(h, h.time(), 111)
    refused(call(h, LAW, "poll_vote", {"id": p, "option": 0}, sender=CITIZENS[2]), 3)


def test_recommendation_from_the_pilot_report_and_follows():
    h = host()
    h.store[("congress", "active")] = encode([1, 2])
    h.store[("congress", "prop:1")] = encode({"title": "tax", "status": "voting"})
    h.store[("congress", "prop:2")] = encode({"title": "parks", "status": "voting"})
    h.store[("pilot", "report:1")] = encode({"ok": True, "accounts": {CITIZENS[5]: -3000},
                                             "subjects": [CITIZENS[5], CITIZENS[8]]})
    t = ok(call(h, LAW, "post", {"title": "About 2", "text": "x", "proposal": 2}, sender=CITIZENS[0]))
    ok(call(h, LAW, "follow", {"topic": t}, sender=CITIZENS[6]))
    r5 = view(h, LAW, "recommended", {"citizen": CITIZENS[5]})
    assert [x["proposal"] for x in r5] == [1] and "-3000" in r5[0]["why"][0]
    assert [x["proposal"] for x in view(h, LAW, "recommended", {"citizen": CITIZENS[6]})] == [2]
    assert view(h, LAW, "recommended", {"citizen": CITIZENS[7]}) == []
    r8 = view(h, LAW, "recommended", {"citizen": CITIZENS[8]})
    assert [x["proposal"] for x in r8] == [1] and "applied to you" in r8[0]["why"][0]
