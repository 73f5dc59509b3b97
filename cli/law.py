"""``esoc law ...``: read, check and evaluate the laws.

* ``law list`` / ``law show NAME [--version V] [--height H]``: what the chain holds;
* ``law check FILE``: is a source in the contract subset? (local, no node;
  exit 1 with ``line N: rule`` for each violation);
* ``law eval NAME.FUNC --args JSON [--height H]``: run an installed law's
  function on a node, read-only, and print its JSON result;
* ``law eval --source FILE FUNC --args JSON``: the same for a source that is
  not installed (a pilot run), in the same sandbox, against the chain's state.
"""

from __future__ import annotations

import json
import sys

from ledger import codes
from ledger.codec import decode


def add_law_commands(sub, common, CliError, emit) -> None:
    law = sub.add_parser("law", help="the laws: list, show, check, eval").add_subparsers(dest="sub", metavar="SUB")
    law.required = True

    p = law.add_parser("list", parents=[common], help="installed laws")
    p.add_argument("--height", type=int, default=0)
    p.set_defaults(fn=lambda a: _list(a, emit))

    p = law.add_parser("show", parents=[common], help="a law's source and versions")
    p.add_argument("name")
    p.add_argument("--version", type=int, default=0)
    p.add_argument("--height", type=int, default=0)
    p.set_defaults(fn=lambda a: _show(a, emit))

    p = law.add_parser("check", parents=[common], help="check a source against the contract subset")
    p.add_argument("file")
    p.set_defaults(fn=lambda a: _check(a, emit, CliError))

    p = law.add_parser("eval", parents=[common], help="run a law's function (read-only)")
    p.add_argument("target", nargs="?", help="NAME.FUNC of an installed law")
    p.add_argument("func", nargs="?", help="with --source: the function to run")
    p.add_argument("--source", help="run this file instead of an installed law (a pilot run)")
    p.add_argument("--name", default="", help="with --source: run as this law (its storage is visible)")
    p.add_argument("--args", default="{}", help="JSON object of keyword arguments")
    p.add_argument("--height", type=int, default=0)
    p.add_argument("--gas", type=int, default=0)
    p.set_defaults(fn=lambda a: _eval(a, emit, CliError))


def _client(args):
    from wallet.client import Client

    return Client(args.node)


def _info(i) -> dict:
    return {"name": i.name, "version": i.version, "code_hash": i.code_hash.hex(), "since_height": i.since_height,
            "entries": list(i.entries), "views": list(i.views), "summary": i.summary, "enacted_by": i.enacted_by}


def _list(args, emit):
    with _client(args) as c:
        r = c.list_laws(args.height)
    items = [_info(i) for i in r.laws]
    human = "\n".join(f"{i['name']:<14} v{i['version']} since {i['since_height']:<6} {i['summary']}" for i in items)
    emit(args, items, human or "no laws installed")


def _show(args, emit):
    with _client(args) as c:
        r = c.get_law(args.name, args.version, args.height)
    data = _info(r.info)
    data["source"] = r.source
    data["versions"] = [_info(v) for v in r.versions]
    if args.json:
        emit(args, data)
        return
    head = f"# law {data['name']} v{data['version']} (since height {data['since_height']}, code {data['code_hash'][:16]})\n"
    head += f"# entries: {', '.join(data['entries']) or '-'}; views: {', '.join(data['views']) or '-'}\n"
    head += "".join(f"# v{v['version']} from height {v['since_height']}: "
                    + (f"enacted by decision {v['enacted_by']}" if v["enacted_by"] else "genesis") + "\n"
                    for v in data["versions"])
    print(head + r.source, end="" if r.source.endswith("\n") else "\n")


def _check(args, emit, CliError):
    from contracts.runtime import check_source

    try:
        with open(args.file, encoding="utf-8") as f:
            src = f.read()
    except OSError as e:
        raise CliError(f"cannot read {args.file}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise CliError(f"{args.file} is not UTF-8 text") from None
    violations = check_source(src)
    data = {"file": args.file, "ok": not violations,
            "violations": [{"line": v.line, "rule": v.rule} for v in violations]}
    if args.json:
        emit(args, data)
    elif violations:
        for v in violations:
            print(f"line {v.line}: {v.rule}")
    else:
        print(f"{args.file}: ok")
    if violations:
        raise SystemExit(1)


def _eval(args, emit, CliError):
    try:
        call_args = json.loads(args.args)
    except ValueError as e:
        raise CliError(f"--args is not valid JSON: {e}") from None
    if not isinstance(call_args, dict):
        raise CliError("--args must be a JSON object of keyword arguments")
    source = ""
    if args.source:
        if not args.target:
            raise CliError("usage: esoc law eval --source FILE FUNC --args JSON")
        func = args.target if args.func is None else args.func
        name = args.name
        try:
            with open(args.source, encoding="utf-8") as f:
                source = f.read()
        except OSError as e:
            raise CliError(f"cannot read {args.source}: {e.strerror}") from None
    else:
        if not args.target or "." not in args.target:
            raise CliError("usage: esoc law eval NAME.FUNC --args JSON")
        name, func = args.target.split(".", 1)
    with _client(args) as c:
        r = c.eval_law(name, func, call_args, args.height, source=source, gas_limit=args.gas)
    value = decode(r.value) if r.value else None
    if r.code != 0:
        msg = r.error or codes.name(r.code)
        if args.json:
            emit(args, {"code": r.code, "error": msg, "value": _plain(value), "gas_used": r.gas_used})
        else:
            print(f"esoc: error: {func} failed: {msg} (code {r.code})", file=sys.stderr)
        raise SystemExit(1)
    out = _plain(value)
    if args.json or not args.source:
        print(json.dumps(out))
    else:
        print(json.dumps({"value": out, "gas_used": r.gas_used, "effects": _plain(decode(r.events)) if r.events else None}))


def _plain(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
