"""``esoc forum ...``: the forum law from the command line.

``post``, ``reply``, ``support``, ``oppose``, ``follow``, ``hot``,
``opposed``, ``show``, ``poll-open``, ``poll-vote``, ``recommended``; every one
with ``--json`` and a one-line error.
"""

from __future__ import annotations

import click

from .gov import address, guard, send, view
from .output import emit, global_options, pass_settings

LAW = "forum"


@click.group("forum", help="The forum: posts, replies, support/oppose, follows, hot lists, polls, recommendations.")
@global_options
def forum():
    pass


@forum.command("post", help="Post a topic (optionally about a congress proposal).")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.option("--title", required=True, help="The proposal's title.")
@click.option("--proposal", type=int, default=0, metavar="ID", help="The proposal concerned.")
@click.argument("text")
@global_options
@pass_settings
@guard
def post(settings, sender, title, proposal, text):
    pid = send(settings, sender, LAW, "post", {"title": title, "text": text, "proposal": proposal})
    emit(settings, {"id": pid}, f"post {pid}")


@forum.command("reply", help="Reply to a post.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("to", type=int)
@click.argument("text")
@global_options
@pass_settings
@guard
def reply(settings, sender, to, text):
    rid = send(settings, sender, LAW, "reply", {"to": to, "text": text})
    emit(settings, {"id": rid, "to": to}, f"reply {rid} to {to}")


def _react(stance):
    @click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
    @click.argument("post_id", type=int, metavar="ID")
    @global_options
    @pass_settings
    @guard
    def cmd(settings, sender, post_id):
        r = send(settings, sender, LAW, stance, {"id": post_id})
        emit(settings, {"id": post_id, **r}, f"post {post_id}: {r['support']} support, {r['oppose']} oppose")

    return cmd


forum.command("support", help="Support a post.")(_react("support"))
forum.command("oppose", help="Oppose a post.")(_react("oppose"))


@forum.command("follow", help="Follow a topic (citizens; enough followers convene a reform assembly).")
@click.option("--from", "sender", required=True, metavar="CITIZEN", help="The signing account (a keystore name or an address).")
@click.argument("topic", type=int)
@global_options
@pass_settings
@guard
def follow(settings, sender, topic):
    n = send(settings, sender, LAW, "follow", {"topic": topic})
    trig = view(settings, LAW, "triggers_assembly", {"topic": topic})
    emit(settings, {"topic": topic, "followers": n, "triggers_assembly": trig},
         f"topic {topic}: {n} followers" + ("; enough to convene a reform assembly" if trig else ""))


def _ranking(fn):
    @global_options
    @pass_settings
    @guard
    def cmd(settings):
        rows = view(settings, LAW, fn)
        emit(settings, rows, "\n".join(f"{r['score']:>8}  #{r['id']} {r['title']} (+{r['support']} -{r['oppose']})"
                                       for r in rows) or "no topics")

    return cmd


forum.command("hot", help="Most supported recent topics: support x 1e6 // (age in blocks + 50).")(_ranking("hot"))
forum.command("opposed", help="Most opposed recent topics (the same formula over oppose).")(_ranking("most_opposed"))


@forum.command("show", help="A post and its replies.")
@click.argument("post_id", type=int, metavar="ID")
@global_options
@pass_settings
@guard
def show(settings, post_id):
    p = view(settings, LAW, "get", {"id": post_id})
    rs = view(settings, LAW, "replies", {"id": post_id})
    emit(settings, {**p, "reply_posts": rs}, "\n".join(
        [f"#{p['id']} {p['title']} by {p['author']} at {p['height']} (+{p['support']} -{p['oppose']}, "
         f"{p['followers']} followers)", p["text"]] + [f"  #{r['id']} {r['author']}: {r['text']}" for r in rs]))


@forum.command("poll-open", help="Open a poll: --option twice or more, closing at a height.")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.option("--option", "options", multiple=True, required=True, help="A poll option (repeat for each).")
@click.option("--closes", type=int, required=True, metavar="HEIGHT", help="The height at which it closes.")
@click.argument("question")
@global_options
@pass_settings
@guard
def poll_open(settings, sender, options, closes, question):
    pid = send(settings, sender, LAW, "poll_open", {"question": question, "options": list(options), "closes": closes})
    emit(settings, {"id": pid}, f"poll {pid}")


@forum.command("poll-vote", help="Vote in a poll (option number from 0).")
@click.option("--from", "sender", required=True, metavar="NAME", help="The signing account (a keystore name or an address).")
@click.argument("poll_id", type=int, metavar="ID")
@click.argument("option", type=int)
@global_options
@pass_settings
@guard
def poll_vote(settings, sender, poll_id, option):
    counts = send(settings, sender, LAW, "poll_vote", {"id": poll_id, "option": option})
    emit(settings, {"id": poll_id, "counts": counts}, f"poll {poll_id}: {counts}")


@forum.command("recommended", help="Open proposals that affect a citizen (pilot report, followed topics).")
@click.argument("citizen")
@global_options
@pass_settings
@guard
def recommended(settings, citizen):
    rows = view(settings, LAW, "recommended", {"citizen": address(settings, citizen)})
    emit(settings, rows, "\n".join(f"#{r['proposal']} {r['title']} [{r['status']}]: {'; '.join(r['why'])}"
                                   for r in rows) or "nothing open affects this citizen")


if __name__ == "__main__":  # python -m cli.forum
    forum(prog_name="esoc forum")
