"""Real node processes for end-to-end tests.

Each node runs as its own OS process (``python -m node.cli node start``),
listening on loopback ports picked free by the OS.  Readiness is polled with
a deadline (never a fixed sleep).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

from node.config import NodeConfig
from node.devnet import init_devnet, node_command
from wallet.client import Client, ClientError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port_block(n: int) -> int:
    """A base port b such that b .. b+n-1, b+100.., b+200.. look free."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        base = s.getsockname()[1]
        s.close()
        if base + 200 + n >= 65535:
            continue
        ok = True
        for off in [i for i in range(n)] + [100 + i for i in range(n)] + [200 + i for i in range(n)]:
            t = socket.socket()
            try:
                t.bind(("127.0.0.1", base + off))
            except OSError:
                ok = False
            finally:
                t.close()
            if not ok:
                break
        if ok:
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

    @property
    def keystore(self) -> str:
        return self.desc["keystore"]

    def account(self, name: str) -> dict:
        return next(a for a in self.desc["accounts"] if a["name"] == name)

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
        r = subprocess.run([sys.executable, "-m", "node.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT,
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

    def stop(self):
        self.stop_flag.set()
        self.join(timeout=30)
