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


# --------------------------------------------------------------------------
# Shared helpers for command groups (added with the click CLI).
# --------------------------------------------------------------------------


def is_tty(err: bool = False) -> bool:
    """Is a terminal attached (stdout, or stderr with ``err``)?  Rich is used only then."""
    import sys

    stream = sys.stderr if err else sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def table(settings: Settings, rows: list[dict], columns: list[str], empty: str = "nothing to show") -> None:
    """Rows as a table for people (rich on a terminal, aligned text otherwise), a JSON list with ``--json``."""
    if settings.json:
        emit(settings, rows)
        return
    if not rows:
        click.echo(empty)
        return
    if is_tty():
        from rich.console import Console
        from rich.table import Table

        t = Table(*columns, box=None, header_style="bold")
        for r in rows:
            t.add_row(*(str(jsonable(r.get(c, ""))) for c in columns))
        Console().print(t)
        return
    widths = {c: max(len(c), *(len(str(jsonable(r.get(c, "")))) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(str(jsonable(r.get(c, ""))).ljust(widths[c]) for c in columns).rstrip())


def client(settings: Settings):
    """A :class:`wallet.client.Client` for the node the settings name (TLS with ``--tls-ca``)."""
    from wallet.client import Client

    return Client(settings.node, tls_ca=settings.tls_ca)


def keystore(settings: Settings):
    from wallet.keystore import Keystore

    return Keystore(settings.keystore)


def password(name: str, confirm: bool = False, env: str = "ESOC_PASSWORD") -> str:
    """The password for key ``name``: ``$ESOC_PASSWORD``, else asked on the terminal."""
    import getpass
    import sys

    pw = os.environ.get(env)
    if pw is not None:
        return pw
    if not sys.stdin.isatty():
        raise UserError(f"no password for {name}: set {env} or run in a terminal")
    pw = getpass.getpass(f"password for {name}: ")
    if confirm and getpass.getpass("repeat it: ") != pw:
        raise UserError("the passwords differ")
    return pw


def resolve_address(settings: Settings, who: str) -> bytes:
    """A keystore name or a bech32m address, as 20 bytes; a clear error otherwise."""
    from ledger.address import AddressError

    ks = keystore(settings)
    try:
        return ks.resolve_address(who)
    except AddressError as e:
        raise UserError(f"{who!r} is neither a key in {ks.path} nor a valid address: {e}") from None


def user_error_types() -> tuple:
    """Exceptions that report the user's mistake or a node's answer: one line, exit 1."""
    from ledger.address import AddressError
    from ledger.tx import TxError
    from wallet.client import ClientError
    from wallet.keystore import KeystoreError
    from wallet.light import LightClientError

    from node.config import ConfigError

    return (ClientError, KeystoreError, ConfigError, AddressError, TxError, LightClientError)


def run(group: click.Group, argv: list[str] | None = None, prog_name: str = "esoc") -> int:
    """Run a click group with esoc's error rules; return the exit status.

    A :class:`UserError` (or a known one-line error from the wallet, keystore
    or node) prints ``esoc: error: ...``; with ``ESOC_DEBUG=1`` its traceback
    follows.  Any other exception is a bug of ours: its traceback is printed
    as it is, with exit status 70 (``EX_SOFTWARE``).
    """
    import sys
    import traceback

    debug = bool(os.environ.get("ESOC_DEBUG"))
    try:
        rv = group.main(args=argv, prog_name=prog_name, standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        return 130
    except click.UsageError as e:  # one line, with where to look
        if debug:
            traceback.print_exc()
        where = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"esoc: error: {e.format_message()}{where}", err=True)
        return e.exit_code
    except click.ClickException as e:  # UserError and the like
        if debug:
            traceback.print_exc()
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # noqa: BLE001
        if isinstance(e, user_error_types()):
            if debug:
                traceback.print_exc()
            click.echo(f"esoc: error: {e}", err=True)
            return EXIT_FAIL
        traceback.print_exc(file=sys.stderr)
        click.echo(f"esoc: internal error ({type(e).__name__}); this is a bug in esoc, please report it", err=True)
        return EXIT_BUG


EXIT_BUG = 70
