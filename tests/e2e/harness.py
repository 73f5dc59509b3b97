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

    def __init__(self, home: str, validators: int = 1, block_interval_ms: int = 100):
        self.home = home
        self.base = free_port_block(validators)
        self.desc = init_devnet(home, validators, self.base, fast_kdf=True, block_interval_ms=block_interval_ms)
        self.nodes = [NodeProc(n["home"], n["grpc"]) for n in self.desc["nodes"]]
        for n in self.desc["nodes"]:
            cfg = NodeConfig.load(os.path.join(n["home"], "config.toml"))
            cfg.log_level = "warning"
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
