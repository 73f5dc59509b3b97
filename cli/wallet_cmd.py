"""``esoc wallet ...``: the keys in the keystore, their backups, and the genesis the wallet trusts."""

from __future__ import annotations

import json
import os

import click

from .output import UserError, client, emit, global_options, keystore, pass_settings, password, progress, table


class Group(click.Group):
    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=Group)
def wallet():
    """Keys in the keystore (--keystore DIR): create, list, back up, restore; the trusted genesis."""


def _new_password(what: str) -> str:
    pw = password(what, confirm=True)
    if len(pw) < 6 and pw != "devnet":
        raise UserError("choose a password of at least 6 characters")
    return pw


@wallet.command("new")
@click.argument("name")
@global_options
@pass_settings
def wallet_new(settings, name):
    """Create a key NAME, encrypted with a password (ESOC_PASSWORD or asked)."""
    from ledger.crypto import PrivateKey

    ks = keystore(settings)
    if ks.exists(name):
        raise UserError(f"a key named {name!r} already exists in {ks.path}")
    info = ks.add(name, PrivateKey.generate(), _new_password(name))
    emit(settings, info, f"created {info['name']}: {info['address']}\n(ask the registrar to register it before it can transact;"
                         f" back it up with `esoc wallet export {name}`)")


@wallet.command("list")
@global_options
@pass_settings
def wallet_list(settings):
    """The keys in the keystore: name and address."""
    ks = keystore(settings)
    table(settings, ks.list(), ["name", "address"], empty=f"no keys in {ks.path}")


@wallet.command("show")
@click.argument("name")
@global_options
@pass_settings
def wallet_show(settings, name):
    """One key's address and public key (no password needed)."""
    info = keystore(settings).info(name)
    emit(settings, info, "\n".join(f"{k:<8} {v}" for k, v in info.items()))


@wallet.command("export")
@click.argument("name")
@click.option("--out", metavar="FILE", help="Write the encrypted export here (default: stdout).")
@click.option("--mnemonic", "as_mnemonic", is_flag=True,
              help="Print the key as 24 BIP-39 words instead (UNENCRYPTED: whoever reads them holds the key).")
@click.option("--raw-seed", is_flag=True, help="Print the raw 32-byte seed in hex (UNENCRYPTED).")
@global_options
@pass_settings
def wallet_export(settings, name, out, as_mnemonic, raw_seed):
    """Back up key NAME: an encrypted file by default (ESOC_EXPORT_PASSWORD or asked; default the key's own).

    The unencrypted forms (--mnemonic, --raw-seed) are printed only when asked for.
    """
    from wallet.keystore import seed_to_mnemonic

    ks = keystore(settings)
    if as_mnemonic and raw_seed:
        raise UserError("choose one of --mnemonic and --raw-seed")
    pw = password(name)
    if as_mnemonic or raw_seed:
        key = ks.unlock(name, pw)
        data = {"name": name, "address": ks.info(name)["address"]}
        if as_mnemonic:
            data["mnemonic"] = seed_to_mnemonic(key.seed)
            emit(settings, data, data["mnemonic"])
        else:
            data["seed"] = key.seed.hex()
            emit(settings, data, data["seed"])
        progress("warning: this is the key itself, unencrypted; keep it offline")
        return
    export_pw = os.environ.get("ESOC_EXPORT_PASSWORD") or pw
    doc = ks.export(name, pw, export_pw)
    text = json.dumps(doc, indent=2) + "\n"
    if out:
        try:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UserError(f"{out} exists; choose another --out") from None
        except OSError as e:
            raise UserError(f"cannot write {out}: {e.strerror}") from None
        with os.fdopen(fd, "w") as f:
            f.write(text)
        emit(settings, {"name": name, "address": doc["address"], "file": out},
             f"exported {name} ({doc['address']}) to {out}, encrypted")
    else:
        click.echo(text, nl=False)


@wallet.command("import")
@click.argument("name")
@click.option("--file", "file_", type=click.Path(exists=True, dir_okay=False), help="An export file (`esoc wallet export --out`).")
@click.option("--mnemonic", "from_mnemonic", is_flag=True, help="Read 24 BIP-39 words from standard input.")
@click.option("--raw-seed", is_flag=True, help="Read a 64-hex-character seed from standard input.")
@global_options
@pass_settings
def wallet_import(settings, name, file_, from_mnemonic, raw_seed):
    """Restore a key as NAME from an export file, 24 words or a raw seed.

    The export file's password is ESOC_EXPORT_PASSWORD (default ESOC_PASSWORD);
    the new key file is encrypted with ESOC_PASSWORD (or asked).
    """
    import sys

    from ledger.crypto import PrivateKey
    from wallet.keystore import mnemonic_to_key

    ks = keystore(settings)
    if sum(map(bool, (file_, from_mnemonic, raw_seed))) != 1:
        raise UserError("give exactly one of --file, --mnemonic, --raw-seed")
    if ks.exists(name):
        raise UserError(f"a key named {name!r} already exists in {ks.path}")
    if file_:
        try:
            with open(file_) as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read {file_}: {e}") from None
        pw = _new_password(name)
        export_pw = os.environ.get("ESOC_EXPORT_PASSWORD") or pw
        info = ks.import_doc(doc, export_pw, pw, name=name)
    else:
        text = sys.stdin.read().strip()
        if from_mnemonic:
            key = mnemonic_to_key(text)
        else:
            try:
                key = PrivateKey(bytes.fromhex(text))
            except ValueError:
                raise UserError("a raw seed is 64 hex characters") from None
        info = ks.add(name, key, _new_password(name))
    emit(settings, info, f"imported {info['name']}: {info['address']}")


@wallet.command("change-password")
@click.argument("name")
@global_options
@pass_settings
def wallet_change_password(settings, name):
    """Re-encrypt key NAME under a new password (old: ESOC_PASSWORD or asked; new: ESOC_NEW_PASSWORD or asked)."""
    ks = keystore(settings)
    old = password(name)
    new = password(f"{name} (new)", confirm=True, env="ESOC_NEW_PASSWORD")
    if len(new) < 6:
        raise UserError("choose a password of at least 6 characters")
    info = ks.change_password(name, old, new)
    emit(settings, info, f"changed the password of {name}")


@wallet.command("trust")
@click.argument("genesis_file", metavar="GENESIS.json", type=click.Path(exists=True, dir_okay=False))
@click.option("--checkpoint", metavar="HEIGHT:HASH", help="Trust this block instead of starting from genesis (a named checkpoint).")
@click.option("--trusting-period", "trusting_days", metavar="DAYS", type=click.IntRange(min=0), default=14, show_default=True,
              help="Stop verifying from a trusted header once its block is this many days old (0: never, for a "
                   "chain on a simulated clock).")
@global_options
@pass_settings
def wallet_trust(settings, genesis_file, checkpoint, trusting_days):
    """Anchor the wallet's light client to a genesis file (and optionally a checkpoint block).

    Without it, the first verified read trusts the genesis the node serves
    only if its hash matches ESOC_GENESIS_HASH; see docs/wallet.md.  Past the
    trusting period, verified reads stop until the wallet trusts a recent
    checkpoint (from a source you trust).
    """
    from wallet.light import DAY_MS

    from .txflow import trust_store

    ts = trust_store(settings)
    cp = None
    if checkpoint:
        try:
            h, hx = checkpoint.split(":", 1)
            cp = (int(h), bytes.fromhex(hx))
        except ValueError:
            raise UserError("--checkpoint is HEIGHT:BLOCKHASHHEX") from None
    with client(settings) as c:
        info = ts.anchor_genesis_file(genesis_file, checkpoint=cp, client=c if cp else None,
                                      trusting_period_ms=trusting_days * DAY_MS)
    emit(settings, info, f"the wallet trusts chain {info['chain_id']} from "
                         f"{'genesis ' + info['genesis_hash'] if not cp else 'checkpoint ' + checkpoint}\n  ({ts.path})")
