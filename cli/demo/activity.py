"""``esoc demo activity``: a little of everything public, so a new devnet's explorer has
something to show a newcomer.

`esoc devnet` runs it in the background the first time it starts a new home
(``--no-activity`` turns that off; HOME/activity.log is its log). An outside
client over gRPC, signing with the devnet's demo keys:

1. alice pays bob 12.50 yuan rent (a plain transfer);
2. alice opens a work order at the registrar, the registrar answers, alice rates it;
3. carol posts a forum topic about the income tax and erin supports it;
4. the whole amendment cycle of ``esoc demo governance``: wages with their tax,
   a proposal, its pilot, the delegates' votes, a constituent void, the final
   tally and the enactment of the tax law's version 2 (about three minutes).

So the explorer shows a transfer, a wage's tax, a law's history with a diff
and the decision that enacted it, a delegate's votes with a void, a forum
topic and a rated work order.
"""

from __future__ import annotations

import time

import click

from ..gov import CONGRESS, address, client, guard, keystore, password, send
from ..output import UserError, emit, global_options, pass_settings, progress
from . import governance as gov_demo

RENT = 1_250  # fen


def wait_for_chain(settings, timeout_s: float = 120.0) -> int:
    """Wait until the node answers and has committed a block (a devnet just started)."""
    from wallet.client import ClientError

    deadline = time.monotonic() + timeout_s
    why = "no answer"
    while time.monotonic() < deadline:
        try:
            with client(settings) as c:
                h = c.status().height
            if h >= 1:
                return h
            why = "no block yet"
        except ClientError as e:
            why = str(e)
        time.sleep(0.5)
    raise UserError(f"the node at {settings.node} is not committing blocks ({why})")


def transfer(settings, sender: str, to: str, amount: int, memo: str) -> str:
    from ledger.address import decode_address
    from ledger.tx import Transfer

    key = keystore(settings).unlock(sender, password(sender))
    with client(settings) as c:
        tx = c.sign(key, "transfer", Transfer(to=decode_address(address(settings, to)), amount=amount, memo=memo))
        h = c.submit(tx)
        r = c.wait_for_tx(h, timeout=60.0)
    if r.code != 0:
        raise UserError(f"the transfer {sender} -> {to} was refused (code {r.code})")
    return h.hex()


def run(settings) -> dict:
    out: dict = {"height_at_start": wait_for_chain(settings)}
    progress("1. alice pays bob the rent")
    out["transfer"] = transfer(settings, "alice", "bob", RENT, "rent")
    progress("2. alice opens a work order at the registrar; it answers; she rates it")
    tid = send(settings, "alice", "tickets", "open_ticket",
               {"agency": address(settings, "registrar"), "kind": "information",
                "text": "Which documents does a newborn's registration need?"})
    send(settings, "registrar", "tickets", "respond", {"id": tid, "text": "The birth certificate and a parent's id."})
    send(settings, "alice", "tickets", "rate", {"id": tid, "stars": 5})
    out["ticket"] = tid
    progress("3. carol posts a forum topic; erin supports it")
    post = send(settings, "carol", "forum", "post",
                {"title": "Is the first income-tax bracket too low?",
                 "text": "The lowest earners pay 3 %; should the congress look at it?"})
    send(settings, "erin", "forum", "support", {"id": post})
    out["forum_post"] = post
    progress("4. an amendment cycle (esoc demo governance)")
    out["governance"] = gov_demo.run(settings)
    return out


@click.command("activity", help="Do a little of everything public on a running devnet (a transfer, a work order, "
                                "a forum topic, an amendment cycle with votes), so its explorer has something to show.")
@global_options
@pass_settings
@guard
def activity(settings):
    s = run(settings)
    g = s["governance"]
    emit(settings, s, "\n".join([
        f"transfer alice -> bob: {s['transfer']}",
        f"work order {s['ticket']} at the registrar, answered and rated",
        f"forum topic {s['forum_post']}",
        f"proposal {g['proposal']}: {g['status']}" + (f", enacted at height {g['enact_at']}" if g.get('enact_at') else ""),
    ]))


__all__ = ["CONGRESS", "activity", "run"]
