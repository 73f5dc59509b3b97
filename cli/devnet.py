"""``esoc devnet``: a whole network of validators on this machine.

The first run lays out the home folder::

    HOME/genesis.json        one genesis for all
    HOME/node0 .. nodeN-1/   each validator's home (config, key, data, node.log)
    HOME/keystore/           the demo accounts, password "devnet"
    HOME/devnet.json         endpoints and accounts, for scripts

then starts each validator as its own OS process (``esoc node start``).
Run again with the same home, it resumes from the data on disk.  Ctrl-C or
SIGTERM stops every child (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nacl.pwhash

from ledger.address import address_of, encode_address
from ledger.crypto import PrivateKey
from ledger.state import Validator
from wallet.keystore import Keystore

from node.config import Home, NodeConfig
from contracts.runtime.registry import law_sources

from ledger.genesis import Genesis, GenesisAccount, GenesisLaw

from .gov_genesis import congress_seed

CHAIN_ID = "esoc-devnet"
PASSWORD = "devnet"
YUAN = 100

# name, kind, roles, balance in fen
DEMO_ACCOUNTS = [
    ("central-bank", "agency", ("central_bank",), 0),
    ("treasury", "agency", ("treasury",), 50_000_000 * YUAN),
    ("registrar", "agency", ("registrar",), 1_000 * YUAN),
    ("planning-agency", "agency", ("planning_agency",), 1_000 * YUAN),
    ("operator", "agency", ("validator_operator",), 1_000 * YUAN),
    ("alice", "citizen", (), 10_000 * YUAN),
    ("bob", "citizen", (), 10_000 * YUAN),
    ("carol", "citizen", (), 10_000 * YUAN),
    ("dan", "citizen", (), 10_000 * YUAN),
    ("erin", "citizen", (), 10_000 * YUAN),
    ("delegate-1", "citizen", (), 10_000 * YUAN),
    ("delegate-2", "citizen", (), 10_000 * YUAN),
    ("delegate-3", "citizen", (), 10_000 * YUAN),
    ("steelworks", "enterprise", (), 1_000_000 * YUAN),
    ("bakery", "enterprise", (), 200_000 * YUAN),
    ("clinic", "enterprise", (), 200_000 * YUAN),
]


def ports(base_port: int, i: int) -> dict:
    return {"grpc": base_port + i, "p2p": base_port + 100 + i, "metrics": base_port + 200 + i}


def init_devnet(home: str, validators: int = 4, base_port: int = 50051, fast_kdf: bool = False,
                block_interval_ms: int = 500, genesis_time_ms: int | None = None, time_step_ms: int = 0) -> dict:
    """Create a devnet home; return its description (also written to devnet.json)."""
    os.makedirs(home, exist_ok=True)
    vkeys = [PrivateKey.generate() for _ in range(validators)]
    ks = Keystore(os.path.join(home, "keystore"))
    if fast_kdf:  # tests only: the weakest Argon2id parameters
        ks.ops, ks.mem = nacl.pwhash.argon2id.OPSLIMIT_MIN, nacl.pwhash.argon2id.MEMLIMIT_MIN
    accounts = []
    for name, kind, roles, bal in DEMO_ACCOUNTS:
        key = PrivateKey.generate()
        ks.add(name, key, PASSWORD)
        accounts.append(GenesisAccount(address=address_of(key.public), balance=bal, kind=kind, roles=roles, name=name))
    genesis = Genesis(
        chain_id=CHAIN_ID,
        genesis_time_ms=genesis_time_ms if genesis_time_ms is not None else int(time.time() * 1000),
        accounts=tuple(accounts),
        validators=tuple(Validator(pubkey=k.public, power=10, name=f"validator-{i}") for i, k in enumerate(vkeys)),
        params={"max_block_txs": 5000,
                "law_storage": {"congress": congress_seed({a.name: a.address for a in accounts})}},
        laws=tuple(GenesisLaw(name=n, source=src) for n, src in sorted(law_sources().items())),
    )
    gtext = genesis.to_json()
    with open(os.path.join(home, "genesis.json"), "w") as f:
        f.write(gtext)
    nodes = []
    for i, k in enumerate(vkeys):
        h = Home(os.path.join(home, f"node{i}"))
        os.makedirs(h.path, exist_ok=True)
        h.save_key(k)
        with open(h.genesis_file, "w") as f:
            f.write(gtext)
        p = ports(base_port, i)
        peers = [f"{vk.public.hex()}@127.0.0.1:{ports(base_port, j)['p2p']}" for j, vk in enumerate(vkeys) if j != i]
        NodeConfig(
            moniker=f"validator-{i}",
            grpc_listen=f"127.0.0.1:{p['grpc']}",
            p2p_listen=f"127.0.0.1:{p['p2p']}",
            metrics_listen=f"127.0.0.1:{p['metrics']}",
            peers=peers,
            block_interval_ms=block_interval_ms,
            block_time_step_ms=time_step_ms,
        ).save(h.config_file)
        nodes.append({"name": f"validator-{i}", "home": h.path, "grpc": f"127.0.0.1:{p['grpc']}",
                      "p2p": f"127.0.0.1:{p['p2p']}", "metrics": f"127.0.0.1:{p['metrics']}", "pubkey": k.public.hex()})
    desc = {
        "chain_id": CHAIN_ID,
        "time_step_ms": time_step_ms,
        "nodes": nodes,
        "keystore": os.path.abspath(ks.path),
        "password": PASSWORD,
        "accounts": [{"name": a.name, "address": encode_address(a.address), "kind": a.kind,
                      "roles": list(a.roles), "balance": a.balance} for a in accounts],
    }
    with open(os.path.join(home, "devnet.json"), "w") as f:
        json.dump(desc, f, indent=2)
    return desc


def load_devnet(home: str) -> dict | None:
    try:
        with open(os.path.join(home, "devnet.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def node_command(node_home: str) -> list[str]:
    return [sys.executable, "-m", "cli.main", "node", "start", "--home", node_home]


def _print_banner(desc: dict, home: str, resumed: bool, out=sys.stderr) -> None:
    p = lambda *a: print(*a, file=out)  # noqa: E731
    p(f"esoc devnet '{desc['chain_id']}' {'resumed from' if resumed else 'created in'} {os.path.abspath(home)}")
    for n in desc["nodes"]:
        p(f"  {n['name']}: gRPC {n['grpc']}  p2p {n['p2p']}  metrics http://{n['metrics']}/metrics  log {n['home']}/node.log")
    p(f"demo accounts (keystore {desc['keystore']}, password '{desc['password']}'):")
    for a in desc["accounts"]:
        roles = f" [{', '.join(a['roles'])}]" if a["roles"] else ""
        p(f"  {a['name']:<16} {a['address']}  {a['kind']}{roles}")
    p("try:")
    p(f"  export ESOC_KEYSTORE={desc['keystore']} ESOC_PASSWORD={desc['password']}")
    p("  .venv/bin/esoc status")
    p("  .venv/bin/esoc tx send --from alice --to bob --amount 1250 --wait")
    p("Ctrl-C stops the network; run again to resume.")


def run_devnet(home: str, validators: int, base_port: int, explorer_port: int | None = None,
               time_step_ms: int = 0, activity: bool = True) -> int:
    desc = load_devnet(home)
    resumed = desc is not None
    if desc is None:
        desc = init_devnet(home, validators, base_port, time_step_ms=time_step_ms)
    elif len(desc["nodes"]) != validators:
        print(f"note: {home} holds a devnet of {len(desc['nodes'])} validators; resuming it as it is "
              f"(use another --home for {validators})", file=sys.stderr)
    _print_banner(desc, home, resumed)
    procs: list[subprocess.Popen] = []
    explorer: subprocess.Popen | None = None
    helper: subprocess.Popen | None = None  # `esoc demo activity` on a new home's first start
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([_project_root()] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    try:
        for n in desc["nodes"]:
            logf = open(os.path.join(n["home"], "node.log"), "ab")
            procs.append(subprocess.Popen(node_command(n["home"]), stdout=logf, stderr=subprocess.STDOUT, env=env,
                                          start_new_session=True))
        print(f"started {len(procs)} validator process(es): pids {' '.join(str(p.pid) for p in procs)}", file=sys.stderr)
        explorer = _start_explorer(home, desc, explorer_port, env) if explorer_port else None
        if activity and not resumed:
            helper = _start_activity(home, desc, env)
        dead: set[int] = set()
        while not stop["flag"]:
            if helper is not None and helper.poll() is not None:
                print(f"demo activity {'done' if helper.returncode == 0 else f'failed (code {helper.returncode})'}; "
                      f"see {home}/activity.log", file=sys.stderr)
                helper = None
            if explorer is not None and explorer.poll() is not None:
                print(f"the block explorer exited with code {explorer.returncode}; see {home}/explorer.log "
                      f"(the validators go on)", file=sys.stderr)
                explorer = None
            for i, p in enumerate(procs):
                if i not in dead and p.poll() is not None:
                    dead.add(i)
                    print(f"validator-{i} exited with code {p.returncode}; see {desc['nodes'][i]['home']}/node.log",
                          file=sys.stderr)
            if len(dead) == len(procs):
                return 1
            time.sleep(0.2)
        return 0
    finally:
        procs = procs + [p for p in (explorer, helper) if p is not None]
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        print("devnet stopped", file=sys.stderr)


def explorer_command(home: str, node: str, port: int) -> list[str]:
    """The explorer of a devnet: it indexes validator 0 into HOME/explorer.sqlite, pinned to the
    devnet's HOME/genesis.json (it refuses a node of another genesis)."""
    db = "sqlite:///" + os.path.join(os.path.abspath(home), "explorer.sqlite")
    cmd = [sys.executable, "-m", "explorer", "--node", node, "--db", db, "--port", str(port)]
    genesis = os.path.join(os.path.abspath(home), "genesis.json")
    return cmd + (["--genesis", genesis] if os.path.isfile(genesis) else [])


def _start_explorer(home: str, desc: dict, port: int, env: dict) -> subprocess.Popen:
    logf = open(os.path.join(home, "explorer.log"), "ab")
    proc = subprocess.Popen(explorer_command(home, desc["nodes"][0]["grpc"], port), stdout=logf,
                            stderr=subprocess.STDOUT, env=env, start_new_session=True)
    print(f"block explorer: http://127.0.0.1:{port}/  (indexing {desc['nodes'][0]['grpc']}; log {home}/explorer.log)",
          file=sys.stderr)
    return proc


def activity_command(home: str, node: str) -> list[str]:
    """`esoc demo activity` against a devnet's validator 0, with its keystore."""
    return [sys.executable, "-m", "cli.main", "demo", "activity", "--node", node,
            "--keystore", os.path.join(os.path.abspath(home), "keystore")]


def _start_activity(home: str, desc: dict, env: dict) -> subprocess.Popen:
    logf = open(os.path.join(home, "activity.log"), "ab")
    proc = subprocess.Popen(activity_command(home, desc["nodes"][0]["grpc"]), stdout=logf, stderr=subprocess.STDOUT,
                            env=dict(env, ESOC_PASSWORD=PASSWORD), start_new_session=True)
    print(f"demo activity: a transfer, wages, a work order, a forum topic and an amendment cycle with delegate votes "
          f"run in the background for the explorer (about 3 minutes; log {home}/activity.log; --no-activity: none)",
          file=sys.stderr)
    return proc


def _project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def remove_devnet(home: str) -> None:
    shutil.rmtree(home, ignore_errors=True)
