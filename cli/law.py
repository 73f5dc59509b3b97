"""``esoc law ...``: read, check and evaluate the laws.

* ``law list`` / ``law show NAME [--version V] [--height H]``: what the chain holds;
* ``law check FILE``: is a source in the contract subset? (local, no node;
  exit 1 with ``line N: rule`` for each violation);
* ``law eval NAME.FUNC --args JSON [--height H]``: run an installed law's
  function on a node, read-only;
* ``law eval --source FILE FUNC --args JSON``: the same for a source that is
  not installed (a pilot run), in the same sandbox, against the chain's state.

``law eval --json`` prints one shape whatever the outcome:
``{"value", "gas_used", "effects", "code", "error"}``; for people it prints
the value (JSON) and, for a pilot run, the gas and the effects on stderr.
Arguments naming accounts accept keystore names.
"""

from __future__ import annotations

import json

import click

from ledger import codes
from ledger.codec import decode

from .output import UserError, client, emit, global_options, pass_settings, progress


class Group(click.Group):
    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=Group)
def law():
    """The laws: list, show, check a source, evaluate a function."""


def _info(i) -> dict:
    return {"name": i.name, "version": i.version, "code_hash": i.code_hash.hex(), "since_height": i.since_height,
            "entries": list(i.entries), "views": list(i.views), "summary": i.summary, "enacted_by": i.enacted_by}


@law.command("list")
@click.option("--height", type=click.IntRange(min=0), default=0, help="At this height (default: the latest).")
@global_options
@pass_settings
def law_list(settings, height):
    """The installed laws, their versions and entries."""
    with client(settings) as c:
        r = c.list_laws(height)
    items = [_info(i) for i in r.laws]
    human = "\n".join(f"{i['name']:<14} v{i['version']} since {i['since_height']:<6} {i['summary']}" for i in items)
    emit(settings, items, human or "no laws installed")


@law.command("show")
@click.argument("name")
@click.option("--version", "version_", type=click.IntRange(min=0), default=0, help="This version (default: the one in force).")
@click.option("--height", type=click.IntRange(min=0), default=0, help="At this height (default: the latest).")
@global_options
@pass_settings
def law_show(settings, name, version_, height):
    """A law's source and its versions."""
    with client(settings) as c:
        r = c.get_law(name, version_, height)
    data = _info(r.info)
    data["source"] = r.source
    data["versions"] = [_info(v) for v in r.versions]
    if settings.json:
        emit(settings, data)
        return
    head = f"# law {data['name']} v{data['version']} (since height {data['since_height']}, code {data['code_hash'][:16]})\n"
    head += f"# entries: {', '.join(data['entries']) or '-'}; views: {', '.join(data['views']) or '-'}\n"
    head += "".join(f"# v{v['version']} from height {v['since_height']}: "
                    + (f"enacted by decision {v['enacted_by']}" if v["enacted_by"] else "genesis") + "\n"
                    for v in data["versions"])
    click.echo(head + r.source, nl=not r.source.endswith("\n"))


@law.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
@global_options
@pass_settings
def law_check(settings, file):
    """Check a source against the contract subset (local, no node); exit 1 on a violation."""
    from contracts.runtime import check_source

    try:
        with open(file, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        raise UserError(f"cannot read {file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise UserError(f"{file} is not UTF-8 text") from None
    violations = check_source(src)
    data = {"file": file, "ok": not violations, "violations": [{"line": v.line, "rule": v.rule} for v in violations]}
    if settings.json:
        emit(settings, data)
    elif violations:
        for v in violations:
            click.echo(f"line {v.line}: {v.rule}")
    else:
        click.echo(f"{file}: ok")
    if violations:
        raise SystemExit(1)


@law.command("eval")
@click.argument("target", required=False, metavar="NAME.FUNC")
@click.argument("func", required=False, metavar="[FUNC]")
@click.option("--source", type=click.Path(dir_okay=False), help="Run this file instead of an installed law (a pilot run); FUNC is then the function.")
@click.option("--name", default="", help="With --source: run as this law (its storage is visible).")
@click.option("--args", "args_", default="{}", show_default=True, metavar="JSON",
              help="Keyword arguments as a JSON object; accounts as addresses or keystore names.")
@click.option("--height", type=click.IntRange(min=0), default=0, help="At this height (default: the latest).")
@click.option("--gas", type=click.IntRange(min=0), default=0, help="Gas limit (default: the view limit).")
@global_options
@pass_settings
def law_eval(settings, target, func, source, name, args_, height, gas):
    """Run a law's function on the node, read-only, and print its result."""
    from .tx import parse_law_args

    call_args = parse_law_args(settings, args_)
    src = ""
    if source:
        if not target:
            raise UserError("usage: esoc law eval --source FILE FUNC --args JSON")
        fn = target if func is None else func
        try:
            with open(source, encoding="utf-8") as f:
                src = f.read()
        except OSError as e:
            raise UserError(f"cannot read {source}: {e.strerror}") from None
    else:
        if not target or "." not in target:
            raise UserError("usage: esoc law eval NAME.FUNC --args JSON")
        name, fn = target.split(".", 1)
    with client(settings) as c:
        r = c.eval_law(name, fn, call_args, height, source=src, gas_limit=gas)
    value = _plain(decode(r.value)) if r.value else None
    effects = _plain(decode(r.events)) if r.events else None
    err = None
    if r.code != 0:
        detail = value.get("detail") if isinstance(value, dict) else None
        err = {"name": r.error or codes.name(r.code), "detail": detail}
    data = {"value": value if r.code == 0 else None, "gas_used": r.gas_used, "effects": effects, "code": r.code, "error": err}
    if settings.json:
        emit(settings, data)
    else:
        if r.code != 0:
            raise UserError(f"{fn} failed: {err['name']} (code {r.code})" + (f": {err['detail']}" if err["detail"] else ""))
        click.echo(json.dumps(value))
        if source:
            progress(f"gas used {r.gas_used}" + (f"; effects (not applied): {json.dumps(effects)}" if effects else ""))
    if r.code != 0:
        raise SystemExit(1)


def _plain(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
