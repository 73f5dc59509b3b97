"""The ``esoc`` command (click).

Every command prints for people by default and JSON with ``--json``; data
goes to stdout, progress and logs to stderr; a mistake of the user's exits 1
with a one-line reason; a bug of ours prints its traceback (cli/output.py).
Amounts are integers in fen.  The global options (``--node``,
``--keystore``, ``--json``, ``--tls-ca``) work before or after any
subcommand.
"""

from __future__ import annotations

import os
import sys

import click

from ledger.address import encode_address

from .output import (
    UserError, client, emit, fen, global_options, keystore, pass_settings, resolve_address, run,
)
from . import txflow

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100, "terminal_width": 100}


class Group(click.Group):
    """A group whose subcommands are listed in the order they were added (not alphabetically)."""

    def list_commands(self, ctx):
        return list(self.commands)


@click.group(cls=Group, context_settings=CONTEXT)
@global_options
@click.version_option(package_name="esoc", prog_name="esoc", message="%(prog)s %(version)s")
def cli():
    """esoc: a permissioned ledger on which the public's rules run as open code.

    \b
    Start here:
      esoc devnet                      run a local network (keys in .devnet/keystore)
      esoc tx send --from alice --to bob --amount 1250 --wait

    Amounts are integers in fen (1 yuan = 100 fen).  Global options work before
    or after any command; ESOC_NODE, ESOC_KEYSTORE, ESOC_PASSWORD and
    ESOC_TLS_CA are their fallbacks.  ESOC_DEBUG=1 adds tracebacks to errors.
    """


# --------------------------------------------------------------------------
# status, block
# --------------------------------------------------------------------------


@cli.command()
@global_options
@pass_settings
def status(settings):
    """The node's chain, height, state root and peers."""
    with client(settings) as c:
        s = c.status()
    data = {
        "chain_id": s.chain_id, "height": s.height, "block_hash": s.block_hash.hex(), "state_root": s.state_root.hex(),
        "time_ms": s.time_ms, "mempool_size": s.mempool_size, "node_pubkey": s.node_pubkey.hex(),
        "validator": s.validator, "catching_up": s.catching_up, "peers": s.peers, "round": s.round,
        "version": s.version, "genesis_hash": s.genesis_hash.hex(),
    }
    emit(settings, data, "\n".join(f"{k:<13} {v}" for k, v in data.items()))


@cli.group(cls=Group)
def block():
    """Blocks: their headers, transactions and commits."""


@block.command("show")
@click.argument("height", type=click.IntRange(min=0), default=0)
@global_options
@pass_settings
def block_show(settings, height):
    """A block's header and transactions (HEIGHT 0 or omitted: the latest)."""
    from ledger.block import Block, Receipt
    from ledger.codec import decode

    with client(settings) as c:
        r = c.block(height=height)
    blk = Block.decode(r.block)
    hd = blk.header
    receipts = [Receipt.from_obj(x) for x in decode(r.receipts)] if r.receipts else []
    data = {
        "height": hd.height, "hash": blk.hash.hex(), "time_ms": hd.time_ms, "chain_id": hd.chain_id,
        "prev_hash": hd.prev_hash.hex(), "state_root": hd.state_root.hex(), "txs_root": hd.txs_root.hex(),
        "receipts_root": hd.receipts_root.hex(), "proposer": hd.proposer.hex(),
        "validators_hash": hd.validators_hash.hex(), "next_validators_hash": hd.next_validators_hash.hex(),
        "num_txs": len(blk.txs),
        "txs": [dict(_tx_json(t), code=rc.code) for t, rc in zip(blk.txs, receipts)],
        "evidence": txflow.jsonable(list(blk.evidence)),
        "commit_signatures": len(decode(r.commit)["signatures"]) if r.commit else 0,
    }
    human = "\n".join(f"{k:<21} {v}" for k, v in data.items() if k != "txs")
    human += "".join(f"\n  tx {t['hash']} {t['kind']} from {t['from']} code {t['code']}" for t in data["txs"])
    emit(settings, data, human)


def _tx_json(raw: bytes) -> dict:
    from ledger.tx import SignedTx

    tx = SignedTx.decode(raw)
    b = tx.body
    return {"hash": tx.hash.hex(), "kind": b.kind, "from": encode_address(tx.sender), "nonce": b.nonce,
            "expiry": b.expiry, "payload": txflow.jsonable(b.payload)}


# --------------------------------------------------------------------------
# account (verified by the light client)
# --------------------------------------------------------------------------


@cli.command()
@click.argument("who", metavar="NAME_OR_ADDRESS")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Check the answer against a header verified from the wallet's trusted genesis (light client).")
@click.option("--height", type=click.IntRange(min=0), default=0, help="Read at this height (default: the latest).")
@global_options
@pass_settings
def account(settings, who, verify, height):
    """An account's balance, nonce, kind and roles.

    By default the answer is verified: its proof against the state root of a
    header the light client verified from the trusted genesis.  --no-verify
    shows the node's word for it.
    """
    from wallet.light import LightClient

    addr = resolve_address(settings, who)
    with client(settings) as c:
        if verify:
            lc = LightClient(c, txflow.trust_store(settings))
            v = lc.account(addr, height=height)
            data = dict(v.account, address=encode_address(addr), height=v.height, state_root=v.state_root.hex(),
                        verified=True, trusted_from=v.trusted_from, header_checks=v.header_checks)
        else:
            r = c.account(encode_address(addr), height=height)
            data = {"address": r.address, "exists": r.exists, "balance": r.balance, "nonce": r.nonce, "kind": r.kind,
                    "roles": list(r.roles), "name": r.name, "height": r.height, "state_root": r.state_root.hex(),
                    "verified": False, "trusted_from": None, "header_checks": 0}
    human = f"{data['address']}\n  balance {fen(data['balance'])}\n  nonce   {data['nonce']}\n  kind    {data['kind'] or '(not registered)'}"
    if data["name"]:
        human += f"\n  name    {data['name']}"
    if data["roles"]:
        human += f"\n  roles   {', '.join(data['roles'])}"
    human += (f"\n  verified at height {data['height']} (state root {data['state_root'][:16]}…, "
              f"header trusted from {data['trusted_from']} in {data['header_checks']} check(s))"
              if verify else f"\n  NOT verified (--no-verify): the node's word at height {data['height']}")
    emit(settings, data, human)


# --------------------------------------------------------------------------
# devnet, node
# --------------------------------------------------------------------------


@cli.command()
@click.option("--validators", type=click.IntRange(1, 32), default=4, show_default=True,
              help="How many validator processes to create (first run only).")
@click.option("--home", default=".devnet", show_default=True, help="The devnet's folder (created on the first run, resumed after).")
@click.option("--base-port", type=click.IntRange(1024, 65000), default=50051, show_default=True,
              help="gRPC ports are BASE+i, p2p BASE+100+i, metrics BASE+200+i.")
@click.option("--explorer-port", type=click.IntRange(0, 65535), default=8080, show_default=True,
              help="Port of the block explorer web page (0: no explorer).")
@click.option("--time-step-ms", type=click.IntRange(min=0), default=0, show_default=True,
              help="Simulated block time: each block is this much later than the last (0: the wall clock).")
@click.option("--activity/--no-activity", default=True, show_default=True,
              help="On a new home's first start, run `esoc demo activity` in the background (a transfer, wages, "
                   "a work order, a forum topic, an amendment cycle with votes) so the explorer has something to show.")
def devnet(validators, home, base_port, explorer_port, time_step_ms, activity):
    """Run a local network of validators, each its own process (Ctrl-C stops it)."""
    from .devnet import run_devnet

    return run_devnet(home, validators, base_port, explorer_port=explorer_port or None, time_step_ms=time_step_ms,
                      activity=activity)


@cli.command()
@click.option("--db", default="sqlite:///explorer.sqlite", show_default=True,
              help="The index: sqlite:///PATH, or postgresql://USER@HOST/DB for a public deployment.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True, help="HTTP port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for public).")
@click.option("--no-follow", is_flag=True, help="Serve the index as it is, without following the node.")
@click.option("--genesis", "genesis_file", metavar="FILE", default=None,
              help="The chain's genesis file: refuse a node of another genesis, check block 1 against its validators.")
@click.option("--genesis-hash", metavar="HEX", default=None, help="The chain's genesis hash: refuse a node of another genesis.")
@global_options
@pass_settings
def explorer(settings, db, port, host, no_follow, genesis_file, genesis_hash):
    """Run the block explorer: index the --node over gRPC and serve its pages (docs/explorer.md)."""
    from explorer.__main__ import main as explorer_main

    args = ["--node", settings.node, "--db", db, "--port", str(port), "--host", host]
    args += ["--genesis", genesis_file] if genesis_file else []
    args += ["--genesis-hash", genesis_hash] if genesis_hash else []
    rc = explorer_main(args + (["--no-follow"] if no_follow else []))
    if rc:
        raise SystemExit(rc)


@cli.group(cls=Group)
def node():
    """Run one node of a real deployment: init its home, then start it."""


@node.command("init")
@click.option("--home", required=True, help="The node's folder (must not hold a node yet).")
@click.option("--moniker", default="", help="The node's name (default: the folder's name).")
@click.option("--genesis", type=click.Path(exists=True, dir_okay=False), help="Copy this genesis.json into the home.")
@click.option("--grpc", default="127.0.0.1:50051", show_default=True, help="Address the gRPC API listens on.")
@click.option("--p2p", default="0.0.0.0:26656", show_default=True, help="Address the peer-to-peer port listens on.")
@click.option("--peer", multiple=True, metavar="PUBKEYHEX@HOST:PORT", help="A peer to dial (repeatable).")
@click.option("--tls-cert", default="", metavar="FILE", help="Serve gRPC over TLS with this certificate (PEM; with --tls-key).")
@click.option("--tls-key", default="", metavar="FILE", help="The TLS certificate's private key (PEM).")
@click.option("--tls-client-ca", default="", metavar="FILE",
              help="Mutual TLS: clients must present a certificate signed by a CA in this bundle (PEM).")
@click.option("--tls-client-allow", multiple=True, metavar="SHA256HEX",
              help="Mutual TLS: only this client certificate fingerprint (repeatable; reloaded on SIGHUP).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Log lines as text, or as one JSON object per line for log pipelines.")
@click.option("--log-file", default="node.log", show_default=True, help="The log file in the home (empty: stderr only).")
@click.option("--block-time-drift-ms", type=click.IntRange(min=0), default=5000, show_default=True,
              help="How far ahead of this node's clock a proposed block's time may be.")
@global_options
@pass_settings
def node_init(settings, home, moniker, genesis, grpc, p2p, peer, tls_cert, tls_key, tls_client_ca, tls_client_allow,
              log_format, log_file, block_time_drift_ms):
    """Create a node's home: its key, config.toml and (with --genesis) genesis.json."""
    from ledger.crypto import PrivateKey

    from node.config import Home, NodeConfig

    h = Home(home)
    if h.exists():
        raise UserError(f"{h.path} already holds a node (config.toml exists)")
    os.makedirs(h.path, exist_ok=True)
    key = PrivateKey.generate()
    h.save_key(key)
    if bool(tls_cert) != bool(tls_key):
        raise UserError("--tls-cert and --tls-key go together")
    if (tls_client_ca or tls_client_allow) and not tls_cert:
        raise UserError("mutual TLS (--tls-client-ca, --tls-client-allow) needs --tls-cert and --tls-key")
    cfg = NodeConfig(moniker=moniker or os.path.basename(os.path.abspath(h.path)), grpc_listen=grpc, p2p_listen=p2p,
                     peers=list(peer), tls_cert=tls_cert, tls_key=tls_key, tls_client_ca=tls_client_ca,
                     tls_client_allow=list(tls_client_allow), log_format=log_format, log_file=log_file,
                     block_time_drift_ms=block_time_drift_ms)
    cfg.save(h.config_file)
    if genesis:
        import shutil

        shutil.copyfile(genesis, h.genesis_file)
    emit(settings, {"home": h.path, "pubkey": key.public.hex(), "config": h.config_file},
         f"initialised {h.path}\n  node pubkey {key.public.hex()}\n  edit {h.config_file}; put the chain's genesis.json in {h.path}")


@node.command("start")
@click.option("--home", required=True, help="The node's folder (made by `esoc node init`).")
def node_start(home):
    """Start the node in the foreground (SIGTERM or Ctrl-C stops it cleanly)."""
    from node.service import run_node

    run_node(home)


@node.command("reload")
@click.option("--home", required=True, help="The running node's folder.")
def node_reload(home):
    """Apply config.toml's peers, allow_peers and tls_client_allow to the running node (SIGHUP)."""
    import signal

    from node.config import Home

    pidfile = os.path.join(Home(home).path, "node.pid")
    try:
        with open(pidfile) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGHUP)
    except FileNotFoundError:
        raise UserError(f"no running node in {home} (no {pidfile})") from None
    except (ValueError, ProcessLookupError):
        raise UserError(f"{pidfile} names no running node") from None
    click.echo(f"sent SIGHUP to the node (pid {pid}): peers, allow_peers and tls_client_allow reloaded", err=True)


# --------------------------------------------------------------------------
# the groups in their own modules
# --------------------------------------------------------------------------


def _register() -> None:
    from .demo import demo_group
    from .demo.activity import activity
    from .demo.governance import governance
    from .forum import forum
    from .genesis_cmd import genesis
    from .gov import gov
    from .law import law
    from .payroll import payroll
    from .plan import plan
    from .ticket import ticket
    from .tx import tx
    from .wallet_cmd import wallet

    demo_group.add_command(governance)
    demo_group.add_command(activity)
    for g in (wallet, tx, law, gov, forum, ticket, plan, payroll, genesis, demo_group):
        cli.add_command(g)


_register()


def main(argv: list[str] | None = None) -> int:
    return run(cli, argv)


if __name__ == "__main__":
    sys.exit(main())
