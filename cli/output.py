"""Output, errors and global options shared by every ``esoc`` command group.

The rules every command follows (docs/architecture.md, "The public surface"):

* data goes to stdout, for people by default and as JSON with ``--json``;
  progress and logs go to stderr;
* a mistake of the user's (a bad address, a wrong password, a node that does
  not answer) is a :class:`UserError`: one line ``esoc: error: ...`` and exit
  status 1, never a traceback;
* a bug in our code is not dressed up as a user error: it prints its
  traceback (and ``ESOC_DEBUG=1`` is not needed to see it);
* a global option (``--node``, ``--keystore``, ``--json``, ``--tls-ca``)
  means the same before or after the subcommand: ``esoc --json status`` and
  ``esoc status --json`` are one command.  :func:`global_options` adds them
  to every command; a value given nearer the command wins.

Command groups are click groups that take the shared :class:`Settings` with
``@pass_settings`` and print through :func:`emit`.
"""

from __future__ import annotations

import dataclasses
import json
import os

import click

from ledger.address import encode_address

EXIT_FAIL = 1


class UserError(click.ClickException):
    """Something the user did wrong or must fix: one line, exit status 1."""

    exit_code = EXIT_FAIL

    def show(self, file=None) -> None:
        click.echo(f"esoc: error: {self.format_message()}", err=True, file=file)


def default_keystore() -> str:
    env = os.environ.get("ESOC_KEYSTORE")
    if env:
        return env
    if os.path.isdir(".devnet/keystore"):
        return os.path.abspath(".devnet/keystore")
    return os.path.join(os.path.expanduser("~"), ".esoc", "keystore")


@dataclasses.dataclass
class Settings:
    """The global options, whichever position they were given in."""

    node: str = dataclasses.field(default_factory=lambda: os.environ.get("ESOC_NODE", "127.0.0.1:50051"))
    keystore: str = dataclasses.field(default_factory=default_keystore)
    json: bool = False
    tls_ca: str | None = dataclasses.field(default_factory=lambda: os.environ.get("ESOC_TLS_CA") or None)


pass_settings = click.make_pass_decorator(Settings, ensure=True)


def _set(field: str):
    def callback(ctx: click.Context, _param, value):
        if value is not None and value is not False:
            setattr(ctx.ensure_object(Settings), field, value)
        return value

    return callback


def global_options(f):
    """Add ``--node``, ``--keystore``, ``--json`` and ``--tls-ca`` to a command.

    The values land in the shared :class:`Settings`; callbacks run in the
    order the words were typed, group first, so the one nearest the command
    wins.  They are not passed to the function as arguments.
    """
    options = [
        click.option("--node", metavar="HOST:PORT", default=None, expose_value=False, callback=_set("node"),
                     help="The node's gRPC address (env ESOC_NODE; default 127.0.0.1:50051)."),
        click.option("--keystore", metavar="DIR", default=None, expose_value=False, callback=_set("keystore"),
                     help="The keystore folder (env ESOC_KEYSTORE; default .devnet/keystore if present, else ~/.esoc/keystore)."),
        click.option("--json", "json_", is_flag=True, default=False, expose_value=False, callback=_set("json"),
                     help="Print JSON for scripts instead of text for people."),
        click.option("--tls-ca", metavar="FILE", default=None, expose_value=False, callback=_set("tls_ca"),
                     help="Connect to the node with TLS, trusting this CA certificate (env ESOC_TLS_CA)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def jsonable(v):
    """Bytes as addresses (20 bytes) or hex; tuples as lists; recursively."""
    if isinstance(v, bytes):
        return encode_address(v) if len(v) == 20 else v.hex()
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    return v


def emit(settings: Settings, data, human: str | None = None) -> None:
    """Print ``data`` as JSON with ``--json`` (or when there is no human form), else ``human``."""
    if settings.json or human is None:
        click.echo(json.dumps(jsonable(data), indent=None if settings.json else 2))
    else:
        click.echo(human)


def progress(message: str) -> None:
    """A line for the person watching (stderr, never mixed with data)."""
    click.echo(message, err=True)


def fen(amount: int) -> str:
    """``125050`` -> ``'125050 fen (1250.50 yuan)'``."""
    sign = "-" if amount < 0 else ""
    a = abs(amount)
    return f"{amount} fen ({sign}{a // 100}.{a % 100:02d} yuan)"
