"""The ``esoc`` command.

Every command prints for people by default and JSON with ``--json``; data
goes to stdout, progress and logs to stderr; a failure exits non-zero with a
one-line reason, never a traceback.  Amounts are integers in fen.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys

from ledger import codes
from ledger.address import AddressError, encode_address
from ledger.block import Block, Receipt
from ledger.codec import CodecError, decode
from ledger.tx import SignedTx, TxError

EXIT_FAIL = 1
EXIT_USAGE = 2


class CliError(Exception):
    pass


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def _jsonable(v):
    if isinstance(v, bytes):
        if len(v) == 20:
            return encode_address(v)
        return v.hex()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def emit(args, data, human: str | None = None) -> None:
    if args.json or human is None:
        print(json.dumps(_jsonable(data), indent=None if args.json else 2))
    else:
        print(human)


def fen(amount: int) -> str:
    return f"{amount} fen ({amount // 100}.{amount % 100:02d} yuan)"


def _client(args):
    from wallet.client import Client

    return Client(args.node)


def _keystore(args):
    from wallet.keystore import Keystore

    return Keystore(args.keystore)


def _password(args, name: str) -> str:
    pw = os.environ.get("ESOC_PASSWORD")
    if pw is not None:
        return pw
    if sys.stdin.isatty():
        return getpass.getpass(f"password for {name}: ")
    raise CliError("no password: set ESOC_PASSWORD or run in a terminal")


def _default_keystore() -> str:
    env = os.environ.get("ESOC_KEYSTORE")
    if env:
        return env
    if os.path.isdir(".devnet/keystore"):
        return os.path.abspath(".devnet/keystore")
    return os.path.join(os.path.expanduser("~"), ".esoc", "keystore")


def _resolve(args, who: str) -> bytes:
    """A keystore name or a bech32m address."""
    ks = _keystore(args)
    try:
        return ks.resolve_address(who)
    except AddressError as e:
        raise CliError(f"{who!r} is neither a key in {ks.path} nor a valid address: {e}") from None


def _sign_and_send(args, sender: str, kind: str, payload) -> None:
    ks = _keystore(args)
    key = ks.unlock(sender, _password(args, sender))
    with _client(args) as c:
        tx = c.sign(key, kind, payload)
        h = c.submit(tx)
        out = {"hash": h.hex(), "kind": kind, "from": encode_address(tx.sender), "nonce": tx.body.nonce}
        if getattr(args, "wait", False):
            r = c.wait_for_tx(h)
            out.update({"height": r.height, "code": r.code, "code_name": codes.name(r.code)})
            if r.code != 0:
                emit(args, out, f"transaction {h.hex()} failed at height {r.height}: {codes.name(r.code)} (code {r.code})")
                raise SystemExit(EXIT_FAIL)
            emit(args, out, f"committed {kind} {h.hex()} at height {r.height}")
        else:
            emit(args, out, f"submitted {kind} {h.hex()}")


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------


def cmd_status(args):
    with _client(args) as c:
        s = c.status()
    data = {
        "chain_id": s.chain_id, "height": s.height, "block_hash": s.block_hash.hex(), "state_root": s.state_root.hex(),
        "time_ms": s.time_ms, "mempool_size": s.mempool_size, "node_pubkey": s.node_pubkey.hex(),
        "validator": s.validator, "catching_up": s.catching_up, "peers": s.peers, "round": s.round,
        "version": s.version, "genesis_hash": s.genesis_hash.hex(),
    }
    emit(args, data, "\n".join(f"{k:<13} {v}" for k, v in data.items()))


def _receipt_json(r: Receipt) -> dict:
    return {"tx_hash": r.tx_hash.hex(), "code": r.code, "code_name": codes.name(r.code), "gas_used": r.gas_used,
            "events": _jsonable(list(r.events)), "result": _jsonable(r.result)}


def _tx_json(raw: bytes) -> dict:
    tx = SignedTx.decode(raw)
    b = tx.body
    return {"hash": tx.hash.hex(), "kind": b.kind, "from": encode_address(tx.sender), "nonce": b.nonce,
            "expiry": b.expiry, "payload": _jsonable(b.payload)}


def cmd_block_show(args):
    with _client(args) as c:
        r = c.block(height=args.height)
    blk = Block.decode(r.block)
    hd = blk.header
    receipts = [Receipt.from_obj(x) for x in decode(r.receipts)] if r.receipts else []
    data = {
        "height": hd.height, "hash": blk.hash.hex(), "time_ms": hd.time_ms, "chain_id": hd.chain_id,
        "prev_hash": hd.prev_hash.hex(), "state_root": hd.state_root.hex(), "txs_root": hd.txs_root.hex(),
        "receipts_root": hd.receipts_root.hex(), "proposer": hd.proposer.hex(),
        "validators_hash": hd.validators_hash.hex(), "num_txs": len(blk.txs),
        "txs": [dict(_tx_json(t), code=rc.code) for t, rc in zip(blk.txs, receipts)],
        "evidence": _jsonable(list(blk.evidence)),
        "commit_signatures": len(decode(r.commit)["signatures"]) if r.commit else 0,
    }
    human = "\n".join(f"{k:<16} {v}" for k, v in data.items() if k != "txs")
    human += "".join(f"\n  tx {t['hash']} {t['kind']} from {t['from']} code {t['code']}" for t in data["txs"])
    emit(args, data, human)


def cmd_account(args):
    addr = _resolve(args, args.address)
    with _client(args) as c:
        r = c.account(encode_address(addr), height=args.height, prove=args.prove)
    data = {"address": r.address, "exists": r.exists, "balance": r.balance, "nonce": r.nonce, "kind": r.kind,
            "roles": list(r.roles), "name": r.name, "height": r.height, "state_root": r.state_root.hex()}
    if args.prove:
        from wallet.client import Client
        from wallet.light import verify_account

        with Client(args.node) as c:
            check = verify_account(c, encode_address(addr), height=r.height)
        data.update(check)
    human = f"{r.address}\n  balance {fen(r.balance)}\n  nonce   {r.nonce}\n  kind    {r.kind or '(not registered)'}"
    if r.roles:
        human += f"\n  roles   {', '.join(r.roles)}"
    if args.prove:
        human += f"\n  proof   {'valid' if data['proof_valid'] else 'INVALID'} against state root {r.state_root.hex()[:16]} at height {r.height}"
        if r.height:
            human += f"\n  header  {'state root matches' if data['header_matches'] else 'DOES NOT MATCH'}; "
            human += (f"signed by {data['signed_power']} of the voting power" if data["header_signed"]
                      else f"NOT proven signed: {data.get('reason', '')}")
    emit(args, data, human)


def cmd_tx_show(args):
    try:
        h = bytes.fromhex(args.hash)
    except ValueError:
        raise CliError("a transaction hash is 64 hex characters") from None
    with _client(args) as c:
        r = c.tx(h)
    if not r.found:
        raise CliError(f"no transaction {args.hash} (neither committed nor pending on this node)")
    data = _tx_json(r.tx)
    data.update({"pending": r.pending, "height": r.height if not r.pending else None, "index": r.index if not r.pending else None})
    if not r.pending:
        rc = Receipt.decode(r.receipt)
        data.update({"code": rc.code, "code_name": codes.name(rc.code), "gas_used": rc.gas_used,
                     "events": _jsonable(list(rc.events)), "result": _jsonable(rc.result)})
    else:
        data["code"] = None
    human = "\n".join(f"{k:<10} {v}" for k, v in data.items())
    emit(args, data, human)


def cmd_tx_send(args):
    from ledger.tx import Transfer

    to = _resolve(args, args.to)
    if args.amount <= 0:
        raise CliError("--amount must be a positive number of fen")
    _sign_and_send(args, args.sender, "transfer", Transfer(to=to, amount=args.amount, memo=args.memo))


def cmd_tx_issue(args):
    from ledger.tx import Issue

    _sign_and_send(args, args.sender, "issue", Issue(to=_resolve(args, args.to), amount=args.amount, memo=args.memo))


def cmd_tx_retire(args):
    from ledger.tx import Retire

    _sign_and_send(args, args.sender, "retire", Retire(amount=args.amount, memo=args.memo))


def cmd_tx_register(args):
    from ledger.tx import Register

    _sign_and_send(args, args.sender, "register", Register(account=_resolve(args, args.account), kind=args.kind, name=args.name))


def cmd_tx_role(args):
    from ledger.tx import SetRole

    _sign_and_send(args, args.sender, "set_role", SetRole(account=_resolve(args, args.account), role=args.role, grant=not args.revoke))


def cmd_tx_call(args):
    from ledger.tx import Call

    try:
        call_args = json.loads(args.args)
    except ValueError as e:
        raise CliError(f"--args is not valid JSON: {e}") from None
    if not isinstance(call_args, dict):
        raise CliError("--args must be a JSON object of keyword arguments")
    _sign_and_send(args, args.sender, "call", Call(contract=args.contract, entry=args.entry, args=call_args, gas_limit=args.gas))


def cmd_wallet_new(args):
    from ledger.crypto import PrivateKey

    ks = _keystore(args)
    pw = os.environ.get("ESOC_PASSWORD")
    if pw is None:
        if not sys.stdin.isatty():
            raise CliError("no password: set ESOC_PASSWORD or run in a terminal")
        pw = getpass.getpass("new password: ")
        if getpass.getpass("repeat it: ") != pw:
            raise CliError("the passwords differ")
    if len(pw) < 6 and pw != "devnet":
        raise CliError("choose a password of at least 6 characters")
    info = ks.add(args.name, PrivateKey.generate(), pw)
    emit(args, info, f"created {info['name']}: {info['address']}\n(ask the registrar to register it before it can transact)")


def cmd_wallet_list(args):
    items = _keystore(args).list()
    emit(args, items, "\n".join(f"{i['name']:<16} {i['address']}" for i in items) or f"no keys in {args.keystore}")


def cmd_devnet(args):
    from .devnet import run_devnet

    return run_devnet(args.home, args.validators, args.base_port, args.explorer_port, args.time_step_ms)


def cmd_node_init(args):
    from ledger.crypto import PrivateKey

    from node.config import Home, NodeConfig

    home = Home(args.home)
    if home.exists():
        raise CliError(f"{home.path} already holds a node (config.toml exists)")
    os.makedirs(home.path, exist_ok=True)
    key = PrivateKey.generate()
    home.save_key(key)
    cfg = NodeConfig(moniker=args.moniker or os.path.basename(home.path), grpc_listen=args.grpc, p2p_listen=args.p2p,
                     peers=list(args.peer or []))
    cfg.save(home.config_file)
    if args.genesis:
        import shutil

        shutil.copyfile(args.genesis, home.genesis_file)
    emit(args, {"home": home.path, "pubkey": key.public.hex(), "config": home.config_file},
         f"initialised {home.path}\n  node pubkey {key.public.hex()}\n  edit {home.config_file}; put the chain's genesis.json in {home.path}")


def cmd_node_start(args):
    from node.service import run_node

    run_node(args.home)


# --------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--node", default=os.environ.get("ESOC_NODE", "127.0.0.1:50051"), help="node gRPC address HOST:PORT (env ESOC_NODE)")
    common.add_argument("--keystore", default=_default_keystore(), help="keystore folder (env ESOC_KEYSTORE)")
    common.add_argument("--json", action="store_true", help="print JSON")

    p = argparse.ArgumentParser(prog="esoc", description="esoc: a permissioned ledger on which the public's rules run as open code", parents=[common])
    sub = p.add_subparsers(dest="cmd", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("devnet", parents=[common], help="run a local network of validators")
    d.add_argument("--validators", type=int, default=4)
    d.add_argument("--home", default=".devnet")
    d.add_argument("--base-port", type=int, default=50051)
    d.add_argument("--explorer-port", type=int, default=8080)
    d.add_argument("--time-step-ms", type=int, default=0,
                   help="simulated block time: each block is this much later than the last (0: wall clock)")
    d.set_defaults(fn=cmd_devnet)

    n = sub.add_parser("node", help="run one node of a real deployment").add_subparsers(dest="sub", metavar="SUB")
    n.required = True
    ni = n.add_parser("init", parents=[common])
    ni.add_argument("--home", required=True)
    ni.add_argument("--moniker", default="")
    ni.add_argument("--genesis", help="copy this genesis.json into the home")
    ni.add_argument("--grpc", default="127.0.0.1:50051")
    ni.add_argument("--p2p", default="0.0.0.0:26656")
    ni.add_argument("--peer", action="append", help="PUBKEYHEX@HOST:PORT (repeatable)")
    ni.set_defaults(fn=cmd_node_init)
    ns = n.add_parser("start", parents=[common])
    ns.add_argument("--home", required=True)
    ns.set_defaults(fn=cmd_node_start)

    s = sub.add_parser("status", parents=[common], help="the node's chain, height and state root")
    s.set_defaults(fn=cmd_status)

    b = sub.add_parser("block", help="blocks").add_subparsers(dest="sub", metavar="SUB")
    b.required = True
    bs = b.add_parser("show", parents=[common])
    bs.add_argument("height", type=int, nargs="?", default=0, help="height (default: latest)")
    bs.set_defaults(fn=cmd_block_show)

    a = sub.add_parser("account", parents=[common], help="an account's balance, nonce and roles")
    a.add_argument("address", help="bech32m address or keystore name")
    a.add_argument("--height", type=int, default=0)
    a.add_argument("--prove", action="store_true", help="fetch and check a state proof")
    a.set_defaults(fn=cmd_account)

    w = sub.add_parser("wallet", help="keys in the keystore").add_subparsers(dest="sub", metavar="SUB")
    w.required = True
    wn = w.add_parser("new", parents=[common])
    wn.add_argument("name")
    wn.set_defaults(fn=cmd_wallet_new)
    wl = w.add_parser("list", parents=[common])
    wl.set_defaults(fn=cmd_wallet_list)

    t = sub.add_parser("tx", help="transactions").add_subparsers(dest="sub", metavar="SUB")
    t.required = True

    def txp(name, fn, help_):
        q = t.add_parser(name, parents=[common], help=help_)
        q.add_argument("--from", dest="sender", required=True, help="keystore name of the signer")
        q.add_argument("--wait", action="store_true", help="wait until committed")
        q.set_defaults(fn=fn)
        return q

    q = txp("send", cmd_tx_send, "transfer fen")
    q.add_argument("--to", required=True)
    q.add_argument("--amount", type=int, required=True, help="amount in fen")
    q.add_argument("--memo", default="")
    q = txp("issue", cmd_tx_issue, "central bank: issue money")
    q.add_argument("--to", required=True)
    q.add_argument("--amount", type=int, required=True)
    q.add_argument("--memo", default="")
    q = txp("retire", cmd_tx_retire, "central bank: retire money")
    q.add_argument("--amount", type=int, required=True)
    q.add_argument("--memo", default="")
    q = txp("register", cmd_tx_register, "registrar: register an account")
    q.add_argument("--account", required=True)
    q.add_argument("--kind", required=True, choices=["citizen", "enterprise", "agency"])
    q.add_argument("--name", default="")
    q = txp("role", cmd_tx_role, "registrar: grant or revoke a role")
    q.add_argument("--account", required=True)
    q.add_argument("--role", required=True)
    q.add_argument("--revoke", action="store_true")
    q = txp("call", cmd_tx_call, "call a law's entry")
    q.add_argument("contract")
    q.add_argument("entry")
    q.add_argument("--args", default="{}", help="JSON object of keyword arguments")
    q.add_argument("--gas", type=int, default=1_000_000)
    ts = t.add_parser("show", parents=[common])
    ts.add_argument("hash")
    ts.set_defaults(fn=cmd_tx_show)

    from .demo import add_demo_commands
    from .law import add_law_commands

    add_law_commands(sub, common, CliError, emit)
    add_demo_commands(sub, common, CliError, emit)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.fn(args)
        return rc or 0
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as e:  # one line, never a traceback
        from wallet.client import ClientError
        from wallet.keystore import KeystoreError

        from node.config import ConfigError

        known = (CliError, ClientError, KeystoreError, ConfigError, AddressError, TxError, CodecError, OSError, ValueError)
        if isinstance(e, known):
            print(f"esoc: error: {e}", file=sys.stderr)
        else:
            print(f"esoc: error: {type(e).__name__}: {e}", file=sys.stderr)
            if os.environ.get("ESOC_DEBUG"):
                raise
        return EXIT_FAIL


if __name__ == "__main__":
    sys.exit(main())
