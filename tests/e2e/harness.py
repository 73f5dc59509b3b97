"""Real node processes for end-to-end tests.

Each node runs as its own OS process (``python -m cli.main node start``),
listening on loopback ports picked free by the OS.  Readiness is polled with
a deadline (never a fixed sleep).
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

from node.config import NodeConfig
from cli.devnet import init_devnet, node_command
from wallet.client import Client, ClientError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def set_congress_params(net: "Devnet", params: dict) -> None:
    """Before a devnet's first start: seed the congress law's dated parameters (e.g. shorter voting
    windows) into the genesis of the devnet's home and of every node."""
    from ledger.genesis import Genesis
    from node.config import Home

    for path in [os.path.join(net.home, "genesis.json")] + [Home(n["home"]).genesis_file for n in net.desc["nodes"]]:
        with open(path) as f:
            g = Genesis.from_json(f.read())
        p = dict(g.params)
        p["law_storage"]["congress"]["params"] = params
        g = Genesis(chain_id=g.chain_id, genesis_time_ms=g.genesis_time_ms, accounts=g.accounts,
                    validators=g.validators, params=p, laws=g.laws)
        with open(path, "w") as f:
            f.write(g.to_json())


def _ephemeral_low() -> int:
    """The lowest port the kernel hands out to outgoing connections and to bind(0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _all_free(ports) -> bool:
    for port in ports:
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            t.close()
    return True


_ports = random.Random()  # its own generator: a test seeding `random` cannot make two runs pick the same


def free_port_block(n: int) -> int:
    """A base port b such that b .. b+n-1, b+100.., b+200.. are free, all below the ephemeral range:
    a port free when checked but bound only later (a node starting after the others) cannot then be
    taken by an outgoing connection of the nodes already running (Errno 98 seen in CI with ports
    picked from the ephemeral range)."""
    top = _ephemeral_low() - 200 - n - 1
    for _ in range(500):
        base = _ports.randrange(10_000, top) if top > 10_000 else None
        if base is None:  # no room below: the old way
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
            s.close()
            if base + 200 + n >= 65535:
                continue
        if _all_free([base + off for off in (*range(n), *range(100, 100 + n), *range(200, 200 + n))]):
            return base
    raise RuntimeError("no free port block")


def wait_until(pred, timeout: float, what: str, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except ClientError as e:
            last = e
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last})")


class NodeProc:
    def __init__(self, home: str, grpc: str):
        self.home = home
        self.grpc = grpc
        self.proc: subprocess.Popen | None = None
        self.log_path = os.path.join(home, "node.log")

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(node_command(self.home), stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    def client(self) -> Client:
        return Client(self.grpc, timeout=10)

    def wait_ready(self, timeout: float = 30) -> None:
        with self.client() as c:
            def ready():
                if self.proc.poll() is not None:
                    raise AssertionError(f"node exited with {self.proc.returncode}:\n{self.log_tail()}")
                return c.status()
            wait_until(ready, timeout, f"node at {self.grpc} to answer")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)

    def stop(self) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0

    def log_tail(self, n: int = 40) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""


class Devnet:
    """A devnet home with N validators, each a real process."""

    def __init__(self, home: str, validators: int = 1, block_interval_ms: int = 100, **config):
        self.home = home
        self.base = free_port_block(validators)
        self.desc = init_devnet(home, validators, self.base, fast_kdf=True, block_interval_ms=block_interval_ms)
        self.nodes = [NodeProc(n["home"], n["grpc"]) for n in self.desc["nodes"]]
        settings = {"log_level": "warning", "timeout_propose_ms": 800, "timeout_prevote_ms": 300,
                    "timeout_precommit_ms": 300, "timeout_delta_ms": 200, "timeout_max_ms": 3000}
        settings.update(config)
        for n in self.desc["nodes"]:
            cfg = NodeConfig.load(os.path.join(n["home"], "config.toml"))
            for k, v in settings.items():
                setattr(cfg, k, v)
            cfg.save(os.path.join(n["home"], "config.toml"))
        if settings.get("block_time_step_ms"):  # as `esoc devnet --time-step-ms` records it (the wallet reads it)
            self.desc["time_step_ms"] = settings["block_time_step_ms"]
            with open(os.path.join(home, "devnet.json"), "w") as f:
                json.dump(self.desc, f, indent=2)

    @property
    def keystore(self) -> str:
        return self.desc["keystore"]

    def account(self, name: str) -> dict:
        return next(a for a in self.desc["accounts"] if a["name"] == name)

    def metrics(self, i: int = 0) -> dict[str, float]:
        """Node ``i``'s Prometheus metrics, as {series with its labels: value}."""
        text = urllib.request.urlopen(f"http://{self.desc['nodes'][i]['metrics']}/metrics", timeout=10).read().decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, v = line.rpartition(" ")
                values[name] = float(v)
        return values

    def start(self) -> "Devnet":
        for n in self.nodes:
            n.start()
        for n in self.nodes:
            n.wait_ready()
        return self

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()

    def cli(self, *args: str, node: int = 0, check: bool = True, password: str = "devnet") -> subprocess.CompletedProcess:
        env = dict(os.environ, PYTHONPATH=ROOT, ESOC_KEYSTORE=self.keystore, ESOC_PASSWORD=password,
                   ESOC_NODE=self.nodes[node].grpc)
        r = subprocess.run([sys.executable, "-m", "cli.main", *args], capture_output=True, text=True, env=env, cwd=ROOT,
                           stdin=subprocess.DEVNULL, timeout=120)
        if check and r.returncode != 0:
            raise AssertionError(f"esoc {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def height(self, i: int) -> int:
        with self.nodes[i].client() as c:
            return c.status().height

    def wait_height(self, h: int, nodes=None, timeout: float = 60) -> None:
        for i in (range(len(self.nodes)) if nodes is None else nodes):
            with self.nodes[i].client() as c:
                wait_until(lambda: c.status().height >= h, timeout, f"node {i} to reach height {h}")

    def headers(self, i: int, upto: int) -> list[tuple[bytes, bytes]]:
        """(block hash, state root) of heights 1..upto on node i."""
        out = []
        with self.nodes[i].client() as c:
            for h in range(1, upto + 1):
                b = c.block(height=h)
                out.append((b.hash, b.state_root))
        return out

    def check_agreement(self, nodes=None) -> int:
        """Every node holds identical headers and state roots up to the lowest height."""
        idx = list(range(len(self.nodes))) if nodes is None else list(nodes)
        top = min(self.height(i) for i in idx)
        ref = self.headers(idx[0], top)
        for i in idx[1:]:
            assert self.headers(i, top) == ref, f"node {i} disagrees with node {idx[0]}"
        return top

    def tx_counts(self, i: int) -> dict[bytes, int]:
        counts: dict[bytes, int] = {}
        with self.nodes[i].client() as c:
            top = c.status().height
            for h in range(1, top + 1):
                for t in c.block(height=h).tx_hashes:
                    counts[t] = counts.get(t, 0) + 1
        return counts


def final_checks(net: "Devnet", load: "Load") -> None:
    """The end of every scenario: identical headers and state roots everywhere,
    every acknowledged transaction in the chain exactly once."""
    top = max(net.height(i) for i in range(len(net.nodes)))
    net.wait_height(top, timeout=60)
    net.check_agreement()
    counts = net.tx_counts(0)
    assert load.acked, "the load generator never saw a commit"
    for h in load.acked:
        assert counts.get(h) == 1, "an acknowledged transaction is missing or duplicated"
    assert all(c == 1 for c in counts.values()), "a transaction is in the chain twice"


def last_commit_signers(net: "Devnet", node: int, height: int) -> set[bytes]:
    """Validators whose precommit for ``height`` is in block height+1's last commit."""
    from ledger.block import Block

    with net.nodes[node].client() as c:
        blk = Block.decode(c.block(height=height + 1).block)
    return {s.validator for s in blk.last_commit.signatures}


class Load(threading.Thread):
    """Signed transfers in batches against whichever node answers; records what
    each client saw committed (acknowledged)."""

    def __init__(self, net: "Devnet", senders=("alice", "bob", "carol", "dan"), batch: int = 20, to: str = "erin"):
        super().__init__(daemon=True)
        from ledger.address import decode_address
        from wallet.keystore import Keystore

        self.net = net
        self.stop_flag = threading.Event()
        ks = Keystore(net.keystore)
        self.senders = [(n, ks.unlock(n, "devnet")) for n in senders]
        self.to = decode_address(net.account(to)["address"])
        self.batch = batch
        self.acked: list[bytes] = []
        self.sent = 0
        self.errors = 0

    def run(self):
        from ledger.tx import Transfer, sign_tx

        k = 0
        while not self.stop_flag.is_set():
            node = self.net.nodes[k % len(self.net.nodes)]
            k += 1
            try:
                with node.client() as c:
                    st = c.status()
                    batch = []
                    for name, key in self.senders:
                        nonce = c.account(self.net.account(name)["address"]).nonce
                        batch += [sign_tx(key, st.chain_id, "transfer", Transfer(to=self.to, amount=1), nonce + i,
                                          st.height + 100) for i in range(self.batch)]
                    r = c.submit_batch(batch)
                    self.sent += r.accepted
                    last = batch[-1].hash
                    c.wait_for_tx(last, timeout=15, poll=0.05)
                    self.acked.append(last)
            except ClientError:
                self.errors += 1
                if self.stop_flag.wait(0.1):
                    return

    def wait_acked(self, more: int = 1, timeout: float = 90) -> None:
        """Wait until the load has seen ``more`` further batches committed (on a busy machine a
        batch's round trip can outlast a fixed number of heights)."""
        target = len(self.acked) + more
        wait_until(lambda: len(self.acked) >= target, timeout, f"the load to see {more} more batch(es) committed")

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=30)


# ---------------------------------------------------------------------------
# Additions for the hostile-peer, full-node and network-namespace tests.
# ---------------------------------------------------------------------------


def free_port() -> int:
    """A free port for a server started later (below the ephemeral range, as ``free_port_block``)."""
    return free_port_block(1)


def rss_kb(pid: int) -> int:
    """Resident set size of a process, in kB (from /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def node_key(home: str):
    """The Ed25519 key of the node whose home is ``home`` (its node_key.json)."""
    from node.config import Home

    return Home(home).load_key()


def edit_config(home: str, **settings) -> NodeConfig:
    """Change settings in HOME/config.toml (before the node starts)."""
    path = os.path.join(home, "config.toml")
    cfg = NodeConfig.load(path)
    for k, v in settings.items():
        if not hasattr(cfg, k):
            raise AttributeError(f"no setting {k!r}")
        setattr(cfg, k, v)
    cfg.save(path)
    return cfg


def allow_peer(home: str, pubkey_hex: str) -> None:
    """Add a non-validator key to a node's ``allow_peers`` (before it starts)."""
    cfg = NodeConfig.load(os.path.join(home, "config.toml"))
    if pubkey_hex not in cfg.allow_peers:
        edit_config(home, allow_peers=[*cfg.allow_peers, pubkey_hex])


def p2p_port(net: "Devnet", i: int) -> int:
    return int(net.desc["nodes"][i]["p2p"].rsplit(":", 1)[1])


def init_full_node(net: "Devnet", name: str = "full", **settings) -> NodeProc:
    """A non-validator node home made with ``esoc node init`` (the public CLI),
    peered with every validator of ``net``, whose ``allow_peers`` get its key.

    Call before the validators start (their allow-list is read at start)."""
    import json

    home = os.path.join(net.home, name)
    grpc_addr = f"127.0.0.1:{free_port()}"
    peers = [f"{n['pubkey']}@{n['p2p']}" for n in net.desc["nodes"]]
    args = [sys.executable, "-m", "cli.main", "node", "init", "--home", home, "--genesis",
            os.path.join(net.home, "genesis.json"), "--grpc", grpc_addr, "--p2p", f"127.0.0.1:{free_port()}",
            "--moniker", name, "--json"]
    for p in peers:
        args += ["--peer", p]
    r = subprocess.run(args, capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT,
                       stdin=subprocess.DEVNULL, timeout=60)
    if r.returncode != 0:
        raise AssertionError(f"esoc node init exited {r.returncode}: {r.stderr}")
    out = json.loads(r.stdout)
    base = {"log_level": "warning", "timeout_propose_ms": 800, "timeout_prevote_ms": 300,
            "timeout_precommit_ms": 300, "timeout_delta_ms": 200, "timeout_max_ms": 3000, "metrics_listen": ""}
    ref = NodeConfig.load(os.path.join(net.desc["nodes"][0]["home"], "config.toml"))
    base["block_interval_ms"] = ref.block_interval_ms
    base.update(settings)
    edit_config(home, **base)
    for n in net.desc["nodes"]:
        allow_peer(n["home"], out["pubkey"])
    node = NodeProc(home, grpc_addr)
    node.pubkey = bytes.fromhex(out["pubkey"])
    return node


class NetnsLab:
    """Private network namespaces joined by a bridge, for real link cuts.

    One namespace ``<prefix>-hub`` holds a bridge; each node namespace
    ``<prefix>-<i>`` holds ``eth0`` (address ``10.77.0.(i+1)/24``), one end of a
    veth pair whose other end (``v<i>``) is a port of the hub's bridge.  The
    addresses exist only inside these namespaces.  ``cut(i)`` / ``heal(i)``
    set the node's ``eth0`` down / up.  ``close()`` deletes every namespace it
    made (deleting a namespace destroys its interfaces); it is idempotent.
    """

    SUBNET = "10.77.0"

    def __init__(self, n: int, prefix: str | None = None):
        self.n = n
        self.prefix = prefix or f"esoc{os.getpid() % 100000}"
        self.hub = f"{self.prefix}-hub"
        self.names = [f"{self.prefix}-{i}" for i in range(n)]
        self.made: list[str] = []

    def addr(self, i: int) -> str:
        return f"{self.SUBNET}.{i + 1}"

    @staticmethod
    def ip(*args: str, ns: str | None = None) -> None:
        cmd = (["ip", "netns", "exec", ns, "ip"] if ns else ["ip"]) + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")

    def setup(self) -> "NetnsLab":
        for ns in [self.hub] + self.names:
            self.ip("netns", "add", ns)
            self.made.append(ns)
            self.ip("link", "set", "lo", "up", ns=ns)
        self.ip("link", "add", "br0", "type", "bridge", ns=self.hub)
        self.ip("link", "set", "br0", "up", ns=self.hub)
        for i, ns in enumerate(self.names):
            # create the pair inside the hub, then move the node end into its namespace
            self.ip("link", "add", f"v{i}", "type", "veth", "peer", "name", f"p{i}", ns=self.hub)
            self.ip("link", "set", f"p{i}", "netns", ns, ns=self.hub)
            self.ip("link", "set", f"v{i}", "master", "br0", ns=self.hub)
            self.ip("link", "set", f"v{i}", "up", ns=self.hub)
            self.ip("link", "set", f"p{i}", "name", "eth0", ns=ns)
            self.ip("addr", "add", f"{self.addr(i)}/24", "dev", "eth0", ns=ns)
            self.ip("link", "set", "eth0", "up", ns=ns)
        return self

    def cut(self, i: int) -> None:
        self.ip("link", "set", "dev", "eth0", "down", ns=self.names[i])

    def heal(self, i: int) -> None:
        self.ip("link", "set", "dev", "eth0", "up", ns=self.names[i])

    def close(self) -> None:
        for ns in reversed(self.made):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.made.clear()


class NetnsNodeProc(NodeProc):
    """A node process started inside a network namespace (``ip netns exec``,
    which execs the command: the pid is the node's own)."""

    def __init__(self, home: str, grpc: str, netns: str):
        super().__init__(home, grpc)
        self.netns = netns

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, *node_command(self.home)], stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=ROOT)
