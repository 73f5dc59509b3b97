"""``esoc ticket ...``: service work orders from the command line.

``open``, ``respond``, ``escalate``, ``rate``, ``show``, ``list``, ``stats``,
``official``; every one with ``--json`` and a one-line error.
"""

from __future__ import annotations

import click

from .gov import address, guard, send, view
from .output import emit, global_options, pass_settings

LAW = "tickets"


def _line(t: dict) -> str:
    return (f"#{t['id']} [{t['kind']}] {t['status']} to {t['agency']} (due {t['due']})"
            + (f" answered at {t['responded_at']}" if t["responded_at"] else "")
            + (f" rated {t['rating']}/5" if t["rating"] else "") + f": {t['text']}")


@click.group("ticket", help="Service work orders: open, respond, escalate, rate, list, stats.")
@global_options
def ticket():
    pass


@ticket.command("open", help="Open a ticket to an agency (kinds: see `esoc ticket kinds`).")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.option("--agency", required=True, help="The agency the work order is for (keystore name or address).")
@click.option("--kind", required=True, help="The kind of work order (information, complaint, permit, repair).")
@click.argument("text")
@global_options
@pass_settings
@guard
def open_(settings, sender, agency, kind, text):
    tid = send(settings, sender, LAW, "open_ticket", {"agency": address(settings, agency), "kind": kind, "text": text})
    t = view(settings, LAW, "ticket", {"id": tid})
    emit(settings, t, f"ticket {tid}: due at height {t['due']}")


@ticket.command("respond", help="The agency (or one of its officials) responds.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("tid", type=int, metavar="ID")
@click.argument("text")
@global_options
@pass_settings
@guard
def respond(settings, sender, tid, text):
    t = send(settings, sender, LAW, "respond", {"id": tid, "text": text})
    emit(settings, t, _line(t))


@ticket.command("escalate", help="Pass the ticket to another agency (its deadline starts again).")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.option("--to", "to", required=True, help="The agency that takes the ticket over.")
@click.argument("tid", type=int, metavar="ID")
@global_options
@pass_settings
@guard
def escalate(settings, sender, to, tid):
    t = send(settings, sender, LAW, "escalate", {"id": tid, "to": address(settings, to)})
    emit(settings, t, _line(t))


@ticket.command("rate", help="The opener rates the response, 1 to 5.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("tid", type=int, metavar="ID")
@click.argument("stars", type=click.IntRange(1, 5))
@global_options
@pass_settings
@guard
def rate(settings, sender, tid, stars):
    send(settings, sender, LAW, "rate", {"id": tid, "stars": stars})
    emit(settings, {"id": tid, "stars": stars}, f"ticket {tid} rated {stars}/5")


@ticket.command("official", help="An agency names (or --remove) an official who may respond for it.")
@click.option("--from", "sender", required=True, metavar="AGENCY", help="The signing account (a keystore name or an address).")
@click.option("--remove", is_flag=True, help="Remove instead of add.")
@click.argument("official")
@global_options
@pass_settings
@guard
def official(settings, sender, remove, official):
    send(settings, sender, LAW, "name_official", {"official": address(settings, official), "on": not remove})
    emit(settings, {"official": official, "on": not remove}, f"{official} {'removed' if remove else 'named'}")


@ticket.command("show", help="One ticket.")
@click.argument("tid", type=int, metavar="ID")
@global_options
@pass_settings
@guard
def show(settings, tid):
    t = view(settings, LAW, "ticket", {"id": tid})
    emit(settings, t, _line(t))


@ticket.command("list", help="The tickets an account opened.")
@click.argument("who")
@global_options
@pass_settings
@guard
def list_(settings, who):
    ts = view(settings, LAW, "list_for", {"account": address(settings, who)})
    emit(settings, ts, "\n".join(_line(t) for t in ts) or "no tickets")


@ticket.command("stats", help="An agency's or official's performance: response times, overdue, ratings.")
@click.argument("who")
@global_options
@pass_settings
@guard
def stats(settings, who):
    s = view(settings, LAW, "stats", {"account": address(settings, who)})
    mean_t = f"{s['response_blocks'] / s['responded']:.1f}" if s["responded"] else "-"
    mean_r = f"{s['rating_sum'] / s['ratings']:.2f}" if s["ratings"] else "-"
    emit(settings, s, f"{who}: {s['opened']} opened, {s['responded']} responded (mean {mean_t} blocks), "
                      f"{s['overdue']} overdue, {s['escalated']} escalated, rating {mean_r} of {s['ratings']}")


@ticket.command("kinds", help="Ticket kinds and their response deadlines in blocks.")
@global_options
@pass_settings
@guard
def kinds(settings):
    k = view(settings, LAW, "kinds")
    emit(settings, k, "\n".join(f"{n:<12} {b} blocks" for n, b in k.items()))


if __name__ == "__main__":  # python -m cli.ticket
    ticket(prog_name="esoc ticket")
