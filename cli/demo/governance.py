"""``esoc demo governance``: a whole amendment cycle on a running devnet.

An outside client over gRPC, signing with the devnet's demo keys:

1. steelworks pays alice and bob a wage (the tax law finds the treasury in
   the registry: no set-up step), so the tax law has a history to replay;
2. delegate-1 proposes a parameter change: the first income-tax bracket from
   3 % to 4 % (the quick deductions follow), with a scenario call
   ``annual_tax(100,000 yuan)``;
3. the chain pilots it inside block execution and fixes the report (the demo
   prints who would pay more or less, and the report's hash);
4. delegate-2 votes no, delegate-1 yes, delegate-3 abstains: 1 yes to 1 no is
   not a majority; carol and dan, two of delegate-2's three constituents,
   oppose delegate-2's vote: it is void, and the proposal passes;
5. the tally becomes final when every review window has closed, the decision
   is enacted at its height, and ``tax.annual_tax`` gives the old figure
   before that height and the new one from it.

With the devnet's windows (votes 120 blocks, reviews 40, enactment 100
blocks later) and 500 ms blocks it takes about three minutes.
"""

from __future__ import annotations

import json
import time

import click

from ..gov import CONGRESS, send, state_value, view
from ..gov_source import with_values
from ..output import UserError, emit, fen, global_options, pass_settings, progress

NEW_BRACKETS = [[3_600_000, 400, 0], [14_400_000, 1000, 216_000], [30_000_000, 2000, 1_656_000],
                [42_000_000, 2500, 3_156_000], [66_000_000, 3000, 5_256_000], [96_000_000, 3500, 8_556_000],
                [None, 4500, 18_156_000]]
STALL_S = 60.0


def _height(settings) -> int:
    from ..gov import client

    with client(settings) as c:
        return c.status().height


def wait_for(settings, what: str, pred, poll: float = 0.5):
    """Poll ``pred`` until true; fail when the chain stalls (no new block for a minute)."""
    last_h, last_t = -1, time.monotonic()
    progress(f"waiting for {what} ...")
    while True:
        v = pred()
        if v:
            return v
        h = _height(settings)
        if h != last_h:
            last_h, last_t = h, time.monotonic()
        elif time.monotonic() - last_t > STALL_S:
            raise UserError(f"the chain stalled at height {h} while waiting for {what}")
        time.sleep(poll)


@click.command("governance", help="Run a whole amendment cycle on a running devnet and print a summary.")
@global_options
@pass_settings
def governance(settings):
    from wallet.client import ClientError
    from wallet.keystore import KeystoreError

    try:
        summary = run(settings)
    except (ClientError, KeystoreError) as e:
        raise UserError(str(e)) from None
    emit(settings, summary, render(summary))


def addr(settings, name: str) -> str:
    from ..gov import address

    return address(settings, name)


def run(settings) -> dict:
    names = {addr(settings, n): n for n in ("alice", "bob", "carol", "dan", "erin", "steelworks", "treasury",
                                             "delegate-1", "delegate-2", "delegate-3")}
    progress("1. wages from steelworks (the treasury is learned from the registry)")
    for who in ("alice", "bob"):
        r = send(settings, "steelworks", "tax", "pay_wage", {"employee": addr(settings, who), "gross": 2_000_000})
        progress(f"   {who}: gross 20000.00 yuan, tax {fen(r['tax'])}")
    progress("2. delegate-1 proposes: the first income-tax bracket from 3 % to 4 %")
    from ..gov import law_source

    source = with_values(law_source(settings, "tax"), {"iit_brackets": [[20250101, NEW_BRACKETS]]})
    pid = send(settings, "delegate-1", CONGRESS, "propose", {
        "cls": "params", "title": "Income tax: first bracket 3 % -> 4 %",
        "text": "Raise the rate of the first bracket of the comprehensive income table.",
        "payload": {"law": "tax", "source": source, "scenario": [
            {"sender": addr(settings, "alice"), "entry": "annual_tax", "args": {"taxable_income": 10_000_000}}]}})
    progress(f"   proposal {pid}")
    wait_for(settings, "the pilot report", lambda: view(settings, CONGRESS, "proposal", {"id": pid})["status"] != "piloting")
    p = view(settings, CONGRESS, "proposal", {"id": pid})
    report = state_value(settings, ("pilot_report", pid))
    from chain.governance import report_hash

    pilot = {"ok": report["ok"], "hash": report_hash(report).hex(), "reason": report["reason"],
             "accounts": {names.get(a, a): r["diff"] for a, r in report["accounts"].items()},
             "values": [{"entry": v["entry"], "old": v["old"], "new": v["new"]} for v in report["values"]
                        if v["entry"] == "annual_tax"]}
    if p["status"] != "voting":
        raise UserError(f"proposal {pid} did not reach its vote: {p['status']} ({report['reason']})")
    progress("3. delegates vote; delegate-2's constituents review its vote")
    send(settings, "delegate-2", CONGRESS, "vote", {"id": pid, "choice": "no"})
    send(settings, "delegate-1", CONGRESS, "vote", {"id": pid, "choice": "yes"})
    send(settings, "delegate-3", CONGRESS, "vote", {"id": pid, "choice": "abstain"})
    before_void = view(settings, CONGRESS, "tally", {"id": pid})
    reviews = []
    for who in ("carol", "dan"):
        r = send(settings, who, CONGRESS, "review", {"id": pid, "delegate": addr(settings, "delegate-2"), "stance": "oppose"})
        reviews.append({"citizen": who, **r})
    after_void = view(settings, CONGRESS, "tally", {"id": pid})
    progress(f"4. waiting for every review window to close (final at height {p['closes']})")
    wait_for(settings, "the final tally", lambda: view(settings, CONGRESS, "proposal", {"id": pid})["status"] != "voting")
    p = view(settings, CONGRESS, "proposal", {"id": pid})
    out = {"proposal": pid, "pilot": pilot, "tally_before_void": before_void, "reviews": reviews,
           "tally_after_void": after_void, "final": p["result"], "status": p["status"], "enact_at": p["enact_at"]}
    if p["status"] != "accepted":
        return out
    progress(f"5. waiting for the enactment at height {p['enact_at']}")
    wait_for(settings, "the enactment", lambda: _height(settings) >= p["enact_at"])
    args = {"taxable_income": 10_000_000}
    out["annual_tax_before"] = view(settings, "tax", "annual_tax", args, height=p["enact_at"] - 1)
    out["annual_tax_after"] = view(settings, "tax", "annual_tax", args, height=p["enact_at"])
    versions = state_value(settings, ("contract", "tax"))["versions"]
    out["tax_versions"] = [{"version": v["version"], "since": v["since"], "enacted_by": v.get("enacted_by", 0)}
                           for v in versions]
    out["status"] = view(settings, CONGRESS, "proposal", {"id": pid})["status"]
    return out


def _t(t: dict) -> str:
    return (f"yes {t['yes']}, no {t['no']}, abstain {t['abstain']}, void {len(t['void'])} -> "
            f"{'accepted' if t['accepted'] else 'not accepted'}")


def render(s: dict) -> str:
    lines = [f"governance demo: proposal {s['proposal']} (income tax, first bracket 3 % -> 4 %)",
             f"  pilot: {'ok' if s['pilot']['ok'] else 'FAILED'}, report {s['pilot']['hash'][:16]}..."]
    for name, d in s["pilot"]["accounts"].items():
        lines.append(f"    {name:<14} {'pays more' if d < 0 else 'receives more'}: {fen(d)}")
    for v in s["pilot"]["values"]:
        lines.append(f"    annual_tax(100,000 yuan): {fen(v['old'])} -> {fen(v['new'])}")
    lines.append(f"  votes before review:   {_t(s['tally_before_void'])}")
    for r in s["reviews"]:
        lines.append(f"    {r['citizen']} opposes delegate-2's vote: {r['oppose']} of {r['members']} members"
                     + (" -> void" if r["void"] else ""))
    lines.append(f"  votes after the void:  {_t(s['tally_after_void'])}")
    lines.append(f"  final tally: {_t(s['final'])}; status {s['status']}")
    if "annual_tax_after" in s:
        lines.append(f"  enacted at height {s['enact_at']}: annual_tax(100,000 yuan) {fen(s['annual_tax_before'])} "
                     f"at height {s['enact_at'] - 1}, {fen(s['annual_tax_after'])} from {s['enact_at']}")
        lines.append("  tax versions: " + "; ".join(
            f"v{v['version']} from {v['since']}" + (f" (decision {v['enacted_by']})" if v["enacted_by"] else " (genesis)")
            for v in s["tax_versions"]))
    return "\n".join(lines)


if __name__ == "__main__":  # python -m cli.demo.governance
    governance(prog_name="esoc demo governance")
