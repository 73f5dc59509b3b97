"""Welfare: the register, eligibility, the payout cursor and vouchers."""

from __future__ import annotations

import math

from ledger import codec

from .helpers import REGISTRAR, TREASURY, addr, at, call, make_host, ok, refused, set_time, total_money, view

LAW = "welfare"
FUND = addr(LAW)
EMPLOYER = "esc1factory"
CLINIC, SCHOOL = "esc1clinic", "esc1school"
ON_BLOCK_GAS = 10_000_000  # the budget the node is asked to give on_block (docs/laws/welfare.md)
BATCH = 2_000


def register(host, who, born, residence="Haidian, Beijing"):
    return ok(call(host, LAW, "register_citizen", {"who": who, "born": born, "residence": residence}, sender=REGISTRAR))


def populate(host, n, *, born=19500101, unemployed=None, width=0):
    """Write ``n`` citizen records straight into storage (as register_citizen would)."""
    pad = "x" * width
    for i in range(n):
        who = f"esc1c{i:06d}{pad}"[: max(12, width)]
        host.store[(LAW, f"c/{i}")] = codec.encode({
            "address": who, "born": born, "residence": ("R" * 64 if width else "Haidian"), "active": True,
            "employer": ("E" * 64 if width else None), "employed": None, "unemployed": unemployed, "paid": 0})
        host.store[(LAW, f"i/{who}")] = codec.encode(i)
    host.store[(LAW, "n")] = codec.encode(n)


def on_block(host, gas=ON_BLOCK_GAS):
    return call(host, LAW, "on_block", sender=FUND, gas=gas)


# ------------------------------------------------------------ register
def test_only_the_registrar_registers_and_only_once():
    host = make_host()
    refused(call(host, LAW, "register_citizen", {"who": "esc1a", "born": 19900101, "residence": "x"}, sender="esc1a"), 1)
    assert register(host, "esc1a", 19900101) == 0
    refused(call(host, LAW, "register_citizen", {"who": "esc1a", "born": 19900101, "residence": "x"},
                 sender=REGISTRAR), 11)
    refused(call(host, LAW, "register_citizen", {"who": "esc1b", "born": 20990101, "residence": "x"},
                 sender=REGISTRAR), 2)
    assert view(host, LAW, "citizen_count") == 1


def test_employers_record_hires_and_separations():
    host = make_host(time=at(2025, 3, 15))
    register(host, "esc1a", 19900101)
    refused(call(host, LAW, "hire", {"who": "esc1a"}, sender=EMPLOYER), 12)
    ok(call(host, LAW, "add_employer", {"who": EMPLOYER}, sender=REGISTRAR))
    ok(call(host, LAW, "hire", {"who": "esc1a"}, sender=EMPLOYER))
    c = view(host, LAW, "citizen", {"who": "esc1a"})
    assert c["employer"] == EMPLOYER and c["employed"] == 20250315 and c["unemployed"] is None
    refused(call(host, LAW, "separate", {"who": "esc1a"}, sender="esc1other"), 15)
    ok(call(host, LAW, "separate", {"who": "esc1a"}, sender=EMPLOYER))
    c = view(host, LAW, "citizen", {"who": "esc1a"})
    assert c["employer"] is None and c["unemployed"] == 20250315
    ok(call(host, LAW, "set_status", {"who": "esc1a", "employed": 20250101}, sender=REGISTRAR))
    refused(call(host, LAW, "set_status", {"who": "esc1a", "employed": 20250101, "unemployed": 20250101},
                 sender=REGISTRAR), 2)


# ------------------------------------------------------------ eligibility
def test_pension_from_the_pension_age_and_relief_within_the_limit():
    host = make_host(time=at(2025, 3, 20))
    for who, born in (("esc1old", 19650301), ("esc1young", 19650302)):
        register(host, who, born)
    register(host, "esc1jobless", 19900101)
    register(host, "esc1longjobless", 19900101)
    ok(call(host, LAW, "set_status", {"who": "esc1jobless", "unemployed": 20230302}, sender=REGISTRAR))
    ok(call(host, LAW, "set_status", {"who": "esc1longjobless", "unemployed": 20230301}, sender=REGISTRAR))
    b = lambda who: view(host, LAW, "benefit", {"who": who})
    assert b("esc1old") == {"kind": "pension", "amount": 300_000, "paid": False}  # 60 on 2025-03-01
    assert b("esc1young")["kind"] == "none"  # 60 only on 2025-03-02
    assert b("esc1jobless") == {"kind": "unemployment", "amount": 180_000, "paid": False}
    assert b("esc1longjobless")["kind"] == "none"  # two full years on 2025-03-01
    assert view(host, LAW, "benefit", {"who": "esc1young", "period": 2025 * 12 + 3})["kind"] == "pension"


# ------------------------------------------------------------ the cursor
def test_cursor_pays_every_citizen_once_in_ceil_n_over_batch_blocks_within_the_gas_budget():
    n = 2 * BATCH + 500
    host = make_host(time=at(2025, 3, 1), balances={FUND: 10**12})
    populate(host, n, born=19500101)
    start = total_money(host)
    blocks = 0
    worst = 0
    while True:
        r = on_block(host)
        assert r.code == 0, r.value
        worst = max(worst, r.gas_used)
        if r.value["paid"] == 0 and r.value["done"]:
            break
        blocks += 1
    assert blocks == math.ceil(n / BATCH)
    assert worst <= ON_BLOCK_GAS
    assert host.balances[FUND] == 10**12 - n * 300_000 and total_money(host) == start
    assert all(host.balances[f"esc1c{i:06d}"] == 300_000 for i in range(0, n, 97))
    # nothing more this month, whatever the number of calls
    assert on_block(host).value["paid"] == 0
    # next month everyone is paid again
    set_time(host, at(2025, 4, 1))
    paid = sum(on_block(host).value["paid"] for _ in range(blocks + 1))
    assert paid == n and host.balances["esc1c000000"] == 600_000


def test_worst_case_batch_fits_the_on_block_budget():
    host = make_host(time=at(2025, 3, 1), balances={FUND: 10**12})
    populate(host, BATCH, born=19500101, width=64)  # longest addresses and fields
    r = on_block(host)
    assert r.code == 0 and r.value["paid"] == BATCH
    assert r.gas_used <= ON_BLOCK_GAS // 2  # room to spare for a slower host


def test_an_underfunded_batch_stops_and_resumes_without_skipping_anyone():
    host = make_host(time=at(2025, 3, 1), balances={FUND: 3 * 300_000 + 1})
    populate(host, 5)
    r = on_block(host)
    assert r.value["paid"] == 3 and r.value["next"] == 3
    assert [e["name"] for e in r.events] == ["payout_batch", "underfunded"]
    host.balances[FUND] += 10**9  # the treasury tops the fund up by a transfer
    r = on_block(host)
    assert r.value["paid"] == 2 and r.value["done"]
    assert all(host.balances[f"esc1c{i:06d}"] == 300_000 for i in range(5))


def test_on_block_is_the_nodes_or_a_registrars_by_hand():
    host = make_host(time=at(2025, 3, 1), balances={FUND: 10**9})
    populate(host, 2)
    refused(call(host, LAW, "on_block", sender="esc1anyone"), 1)
    assert ok(call(host, LAW, "on_block", sender=REGISTRAR))["paid"] == 2


def test_a_behind_cursor_catches_up_month_by_month():
    host = make_host(time=at(2025, 3, 1), balances={FUND: 10**9})
    populate(host, 3)
    assert on_block(host).value["period"] == 2025 * 12 + 2
    set_time(host, at(2025, 5, 2))  # two months later
    assert on_block(host).value == {"period": 2025 * 12 + 3, "paid": 3, "total": 900_000, "next": 3, "done": True}
    assert on_block(host).value["period"] == 2025 * 12 + 4
    assert host.balances["esc1c000000"] == 900_000


def test_inactive_records_are_not_paid():
    host = make_host(time=at(2025, 3, 1), balances={FUND: 10**9})
    register(host, "esc1a", 19400101)
    register(host, "esc1b", 19400101)
    ok(call(host, LAW, "deregister_citizen", {"who": "esc1b"}, sender=REGISTRAR))
    assert on_block(host).value["paid"] == 1 and "esc1b" not in host.balances


# ------------------------------------------------------------ vouchers
def test_vouchers_redeem_only_at_accredited_providers_and_are_not_transferable():
    host = make_host(time=at(2025, 3, 10), balances={FUND: 10**9})
    register(host, "esc1a", 19900101)
    register(host, "esc1kid", 20150101)
    refused(call(host, LAW, "redeem_voucher", {"kind": "medical", "provider": CLINIC, "amount": 100}, sender="esc1a"), 13)
    refused(call(host, LAW, "accredit", {"provider": CLINIC, "kind": "medical"}, sender=CLINIC), 1)
    ok(call(host, LAW, "accredit", {"provider": CLINIC, "kind": "medical"}, sender=REGISTRAR))
    ok(call(host, LAW, "accredit", {"provider": SCHOOL, "kind": "education"}, sender=REGISTRAR))
    # a clinic is not a school
    refused(call(host, LAW, "redeem_voucher", {"kind": "education", "provider": CLINIC, "amount": 1}, sender="esc1kid"), 13)
    r = ok(call(host, LAW, "redeem_voucher", {"kind": "medical", "provider": CLINIC, "amount": 30_000}, sender="esc1a"))
    assert r["left"] == 20_000 and host.balances[CLINIC] == 30_000
    refused(call(host, LAW, "redeem_voucher", {"kind": "medical", "provider": CLINIC, "amount": 20_001}, sender="esc1a"), 14)
    # not transferable: no entry moves a voucher, and a non-citizen has none to use
    assert call(host, LAW, "transfer_voucher", {"to": "esc1b"}, sender="esc1a").code == 15  # UNKNOWN_ENTRY
    assert view(host, LAW, "vouchers", {"who": "esc1stranger"})["medical"]["entitled"] == 0
    refused(call(host, LAW, "redeem_voucher", {"kind": "medical", "provider": CLINIC, "amount": 1}, sender="esc1stranger"), 10)
    # education only below the age limit
    assert view(host, LAW, "vouchers", {"who": "esc1a"})["education"]["entitled"] == 0
    ok(call(host, LAW, "redeem_voucher", {"kind": "education", "provider": SCHOOL, "amount": 80_000}, sender="esc1kid"))
    # revoked providers cannot be paid
    ok(call(host, LAW, "revoke", {"provider": CLINIC, "kind": "medical"}, sender=REGISTRAR))
    refused(call(host, LAW, "redeem_voucher", {"kind": "medical", "provider": CLINIC, "amount": 1}, sender="esc1a"), 13)


def test_vouchers_expire_at_the_end_of_the_month():
    host = make_host(time=at(2025, 3, 31, 23), balances={FUND: 10**9})
    register(host, "esc1a", 19900101)
    ok(call(host, LAW, "accredit", {"provider": "esc1landlord", "kind": "housing"}, sender=REGISTRAR))
    ok(call(host, LAW, "redeem_voucher", {"kind": "housing", "provider": "esc1landlord", "amount": 10_000}, sender="esc1a"))
    set_time(host, at(2025, 4, 1, 0))
    v = view(host, LAW, "vouchers", {"who": "esc1a"})["housing"]
    assert v == {"entitled": 100_000, "used": 0, "left": 100_000}  # March's 90,000 did not carry over
    refused(call(host, LAW, "redeem_voucher", {"kind": "housing", "provider": "esc1landlord", "amount": 100_001},
                 sender="esc1a"), 14)


def test_treasury_funds_the_law_by_a_plain_transfer():
    # the fund is the law's own account: whatever reaches it is what on_block can pay
    host = make_host(time=at(2025, 3, 1), balances={TREASURY: 10**9})
    populate(host, 1)
    r = on_block(host)
    assert r.value["paid"] == 0 and [e["name"] for e in r.events][-1] == "underfunded"
    host.balances[TREASURY] -= 300_000
    host.balances[FUND] = 300_000
    assert on_block(host).value["paid"] == 1


def test_a_closed_account_does_not_stall_the_payout_of_the_others():
    """The registrar closed one recipient's account: on_block skips it (no
    refused transfer failing the whole batch) and pays everyone else."""
    host = make_host(balances={FUND: 10**12})
    for who in ("esc1old1", "esc1gone", "esc1old2"):
        register(host, who, born=19400101)
    host.kinds = {w: "citizen" for w in ("esc1old1", "esc1old2")}
    host.kinds.update({FUND: "contract", REGISTRAR: "agency", TREASURY: "agency"})
    before = {w: host.balance(w) for w in ("esc1old1", "esc1old2", "esc1gone")}
    ok(on_block(host))
    assert host.balance("esc1gone") == before["esc1gone"]
    assert host.balance("esc1old1") > before["esc1old1"]
    assert host.balance("esc1old2") > before["esc1old2"]


def test_an_empty_register_keeps_the_cursor_in_step_with_the_calendar():
    """Regression: on_block on an empty register used not to store its advanced
    cursor, so the first citizens registered months later got back pay for
    every month since the law's first on_block."""
    host = make_host(time=at(2025, 3, 15), balances={FUND: 10**12})
    for month in (3, 4, 5, 6, 7):
        set_time(host, at(2025, month, 15))
        ok(on_block(host))
    register(host, "esc1late", born=19400101)  # a pensioner, registered in July
    before = host.balance("esc1late")
    ok(on_block(host))
    once = host.balance("esc1late") - before
    assert once > 0
    ok(on_block(host))
    assert host.balance("esc1late") - before == once  # July only, no back pay for March..June
