"""CLI help: every command and option explains itself; a snapshot of every help page.

Regenerate the snapshot after a deliberate change with ``ESOC_UPDATE_SNAPSHOTS=1``.
"""

from __future__ import annotations

import os

import click

from cli.main import CONTEXT, cli

SNAPSHOT = os.path.join(os.path.dirname(__file__), "help_snapshot.txt")


def walk(cmd: click.Command, path: list[str]):
    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(None):
            yield from walk(cmd.commands[name], path + [name])


def render_all() -> str:
    out = []
    for path, cmd in walk(cli, ["esoc"]):
        with click.Context(cli, info_name="esoc", **CONTEXT) as root:
            ctx = root
            for name in path[1:]:
                ctx = click.Context(ctx.command.commands[name], info_name=name, parent=ctx)
            out.append(f"==== {' '.join(path)}\n{cmd.get_help(ctx)}\n")
    return "\n".join(out)


def test_every_command_and_option_has_help():
    missing = []
    for path, cmd in walk(cli, ["esoc"]):
        if not (cmd.help or "").strip():
            missing.append(" ".join(path))
        for p in cmd.params:
            if isinstance(p, click.Option) and not (p.help or "").strip():
                missing.append(f"{' '.join(path)} {p.opts[0]}")
    assert not missing, missing


def test_groups_list_their_subcommands():
    text = render_all()
    for group, subs in {"wallet": ["new", "list", "export", "import", "change-password", "trust"],
                        "block": ["show"], "node": ["init", "start"],
                        "tx": ["send", "call", "wage", "show", "broadcast"],
                        "payroll": ["run", "preview"],
                        "genesis": ["new", "add-account", "add-validator", "add-law", "validate"]}.items():
        page = text.split(f"==== esoc {group}\n", 1)[1].split("====", 1)[0]
        for s in subs:
            assert f"\n  {s} " in page, (group, s)


def test_help_snapshot():
    text = render_all()
    if os.environ.get("ESOC_UPDATE_SNAPSHOTS") or not os.path.exists(SNAPSHOT):
        with open(SNAPSHOT, "w") as f:
            f.write(text)
    with open(SNAPSHOT) as f:
        assert text == f.read(), "help changed: review it and regenerate with ESOC_UPDATE_SNAPSHOTS=1"
