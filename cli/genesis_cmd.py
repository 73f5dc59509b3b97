"""``esoc genesis ...``: the founders' tooling for a real deployment's genesis.json.

The file is built step by step (``new``, then ``add-account``,
``add-validator``, ``add-law`` as many times as needed), each step checking
what it adds, and closed with ``validate``, which applies every rule a node
applies at start and prints the genesis hash the operators compare before
they start their validators.  Anchor: the Cosmos SDK's ``genesis
add-genesis-account`` / ``collect-gentxs``.
"""

from __future__ import annotations

import json
import os
import time

import click

from ledger.address import encode_address
from ledger.tx import ACCOUNT_KINDS, ROLES

from .output import UserError, emit, fen, global_options, pass_settings, resolve_address

FILE_OPT = click.option("--genesis", "path", default="genesis.json", show_default=True, metavar="FILE",
                        help="The genesis file to edit.")


class Group(click.Group):
    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=Group)
def genesis():
    """Operators' genesis tooling: new, add-account, add-validator, add-law, validate."""


def _load(path: str) -> dict:
    try:
        with open(path) as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise UserError(f"no genesis file {path} (start one with `esoc genesis new --chain-id ID --genesis {path}`)") from None
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {e}") from None
    if not isinstance(doc, dict) or not all(k in doc for k in ("chain_id", "accounts", "validators")):
        raise UserError(f"{path} is not a genesis file")
    doc.setdefault("params", {})
    doc.setdefault("laws", {})
    return doc


def _save(path: str, doc: dict) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


@genesis.command("new")
@click.option("--chain-id", required=True, help="The chain's id (every transaction is signed for it).")
@click.option("--time-ms", type=click.IntRange(min=0), default=None, help="Genesis time in ms since 1970 (default: now).")
@FILE_OPT
@global_options
@pass_settings
def genesis_new(settings, chain_id, time_ms, path):
    """Start a genesis file with no accounts, validators or laws yet."""
    if os.path.exists(path):
        raise UserError(f"{path} exists; choose another --genesis")
    if not chain_id or len(chain_id) > 64:
        raise UserError("--chain-id must be 1 to 64 characters")
    doc = {"chain_id": chain_id, "genesis_time_ms": time_ms if time_ms is not None else int(time.time() * 1000),
           "accounts": [], "validators": [], "params": {}, "laws": {}}
    _save(path, doc)
    emit(settings, {"file": path, "chain_id": chain_id}, f"started {path} for chain {chain_id}")


@genesis.command("add-account")
@click.argument("address", metavar="ADDRESS_OR_KEY")
@click.option("--kind", required=True, type=click.Choice(sorted(ACCOUNT_KINDS)), help="The account's kind.")
@click.option("--roles", default="", metavar="R1,R2", help=f"Comma-separated roles, of: {', '.join(sorted(ROLES))}.")
@click.option("--balance", type=click.IntRange(min=0), default=0, show_default=True, help="Opening balance in fen.")
@click.option("--name", default="", help="A display name.")
@FILE_OPT
@global_options
@pass_settings
def genesis_add_account(settings, address, kind, roles, balance, name, path):
    """Add an account (an address, or a key in the keystore) with its kind, roles and balance."""
    doc = _load(path)
    addr = encode_address(resolve_address(settings, address))
    role_list = [r.strip() for r in roles.split(",") if r.strip()]
    bad = [r for r in role_list if r not in ROLES]
    if bad:
        raise UserError(f"unknown role(s) {', '.join(bad)}; the roles are {', '.join(sorted(ROLES))}")
    if len(set(role_list)) != len(role_list):
        raise UserError("a role is listed twice")
    if any(a["address"] == addr for a in doc["accounts"]):
        raise UserError(f"{addr} is already in {path}")
    doc["accounts"].append({"address": addr, "name": name, "kind": kind, "roles": role_list, "balance": balance})
    _save(path, doc)
    emit(settings, doc["accounts"][-1], f"added {kind} {name or addr} with {fen(balance)}"
                                        + (f" and roles {', '.join(role_list)}" if role_list else ""))


@genesis.command("add-validator")
@click.argument("pubkey", metavar="PUBKEYHEX")
@click.option("--power", type=click.IntRange(min=1), required=True, help="Voting power.")
@click.option("--moniker", required=True, help="The validator's name.")
@FILE_OPT
@global_options
@pass_settings
def genesis_add_validator(settings, pubkey, power, moniker, path):
    """Add a validator by its node's public key (printed by `esoc node init`)."""
    doc = _load(path)
    try:
        pk = bytes.fromhex(pubkey)
    except ValueError:
        pk = b""
    if len(pk) != 32:
        raise UserError("a validator's public key is 64 hex characters (esoc node init prints it)")
    if any(v["pubkey"] == pk.hex() for v in doc["validators"]):
        raise UserError(f"validator {pk.hex()[:16]}… is already in {path}")
    if any(v.get("name") == moniker for v in doc["validators"]):
        raise UserError(f"a validator named {moniker!r} is already in {path}")
    doc["validators"].append({"pubkey": pk.hex(), "power": power, "name": moniker})
    _save(path, doc)
    emit(settings, doc["validators"][-1], f"added validator {moniker} ({pk.hex()[:16]}…) with power {power}")


def _check_law(name: str, src: str) -> None:
    from contracts.runtime import check_source

    violations = check_source(src)
    if violations:
        v = violations[0]
        raise UserError(f"law {name} is outside the contract subset: line {v.line}: {v.rule}"
                        + (f" (and {len(violations) - 1} more; see `esoc law check`)" if len(violations) > 1 else ""))


@genesis.command("add-law")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Replace a law of that name already in the file.")
@FILE_OPT
@global_options
@pass_settings
def genesis_add_law(settings, name, file, replace, path):
    """Install law NAME from FILE at height 1 (checked against the contract subset)."""
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", name):
        raise UserError("a law's name is lower-case letters, digits and '_' (max 64)")
    doc = _load(path)
    try:
        with open(file, encoding="utf-8") as f:
            src = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"cannot read {file}: {e}") from None
    _check_law(name, src)
    if name in doc["laws"] and not replace:
        raise UserError(f"a law named {name} is already in {path} (--replace to replace it)")
    doc["laws"][name] = src
    doc["laws"] = dict(sorted(doc["laws"].items()))
    _save(path, doc)
    emit(settings, {"name": name, "file": file, "bytes": len(src.encode())}, f"added law {name} from {file}")


@genesis.command("validate")
@click.argument("file", type=click.Path(dir_okay=False), default="genesis.json", required=False)
@click.option("--expect-supply", type=click.IntRange(min=0), default=None,
              help="Fail unless the opening balances add up to exactly this many fen.")
@global_options
@pass_settings
def genesis_validate(settings, file, expect_supply):
    """Check a genesis as a node would and print the hash every operator compares."""
    from ledger.genesis import Genesis, GenesisError

    doc = _load(file)
    try:
        with open(file) as f:
            g = Genesis.from_json(f.read())
    except GenesisError as e:
        raise UserError(f"{file}: {e}") from None
    for law in g.laws:
        _check_law(law.name, law.source)
    supply = sum(a.balance for a in g.accounts)
    if expect_supply is not None and supply != expect_supply:
        raise UserError(f"{file}: the opening balances add up to {fen(supply)}, not the expected {fen(expect_supply)}")
    names = [v.name for v in g.validators]
    if len(set(names)) != len(names):
        raise UserError(f"{file}: two validators share a name")
    data = {"file": file, "chain_id": g.chain_id, "genesis_hash": g.hash.hex(), "accounts": len(g.accounts),
            "validators": len(g.validators), "total_power": sum(v.power for v in g.validators),
            "laws": [law.name for law in g.laws], "supply": supply, "genesis_time_ms": g.genesis_time_ms}
    del doc
    emit(settings, data, f"{file}: valid\n  chain id      {g.chain_id}\n  genesis hash  {g.hash.hex()}\n"
                         f"  accounts      {len(g.accounts)} holding {fen(supply)}\n"
                         f"  validators    {len(g.validators)} (total power {data['total_power']})\n"
                         f"  laws          {', '.join(data['laws']) or '-'}")
