"""Fixtures for the explorer tests: a real one-validator devnet with a
transfer, a registration, a wage payment through the tax law, a pension
paid by the welfare law's block hook and a bread ration and promotion of
the allocation law, partly used; the
explorer itself as a process (``python -m explorer``); PostgreSQL from
Debian's packages; headless Debian Chromium through Playwright."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

from explorer.follower import Follower
from explorer.index import Index
from ledger.address import address_of, decode_address
from ledger.crypto import PrivateKey
from ledger.tx import Transfer
from tests.e2e.harness import ROOT, Devnet, free_port, wait_until
from tests.e2e.test_laws_devnet import Actors, law_addr

ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "artifacts")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Chain:
    """The shared devnet and what was done on it."""

    def __init__(self, net: Devnet):
        self.net = net
        self.grpc = net.nodes[0].grpc
        a = Actors(net)
        self.actors = a
        self.alice, self.bob = a.addr("alice"), a.addr("bob")
        self.transfer = a.send("alice", "transfer", Transfer(to=decode_address(self.bob), amount=12_345, memo="rent"))
        assert self.transfer["code"] == 0
        a.ok("treasury", "tax", "set_treasury")
        self.wage = a.call("steelworks", "tax", "pay_wage", {"employee": self.alice, "gross": 30_000_00})
        assert self.wage["code"] == 0
        self.steelworks = a.addr("steelworks")
        # a failed transfer is in a block too, with its code: to an account the registrar does not know
        # (the mempool refuses an overdraft at admission, so that one never reaches a block)
        nobody = address_of(PrivateKey.from_name("nobody", salt="explorer-test").public)
        self.failed = a.send("bob", "transfer", Transfer(to=nobody, amount=1))
        assert self.failed["code"] != 0
        # welfare: the treasury funds the law, the registrar registers carol (a pensioner); the law's
        # on_block hook pays her at the end of a block, with no transaction of hers
        self.carol = a.addr("carol")
        assert a.send("treasury", "transfer", Transfer(to=decode_address(law_addr("welfare")), amount=10_000_00))["code"] == 0
        self.pension = a.view("welfare", "params_at")["pension_monthly"][1]
        before = a.balance("carol")
        a.ok("registrar", "welfare", "register_citizen", {"who": self.carol, "born": 19500101, "residence": "east"})
        wait_until(lambda: a.balance("carol") - before == self.pension, 30, "the pension paid by on_block")
        # allocation: the planning agency accredits the bakery for bread and opens a bread ration (5 a
        # citizen at 1.50) and a promotion (0.80 off); carol, a registered citizen, redeems 2 rations
        # and her promotion
        self.bakery = a.addr("bakery")
        opened = a.batch("planning-agency", [
            ("allocation", "accredit_seller", {"seller": self.bakery, "good": "bread"}),
            ("allocation", "open_ration", {"ration_id": "bread-1", "good": "bread", "per_capita": 5, "price": 150,
                                           "expires": 1_000_000}),
            ("allocation", "open_promotion", {"promo_id": "bread-promo", "good": "bread", "discount": 80,
                                              "budget": 10_000, "expires": 1_000_000})])
        assert [r["code"] for r in opened] == [0, 0, 0], opened
        a.ok("carol", "allocation", "redeem", {"kind": "ration", "scheme_id": "bread-1", "seller": self.bakery,
                                               "quantity": 2})
        a.ok("carol", "allocation", "redeem_promotion", {"promo_id": "bread-promo", "seller": self.bakery,
                                                         "price": 300})
        self.top = a.height()


@pytest.fixture(scope="session")
def chain(tmp_path_factory):
    net = Devnet(str(tmp_path_factory.mktemp("explorer-net")), validators=1).start()
    try:
        yield Chain(net)
    finally:
        net.stop()


def run_follower(f: Follower, timeout: float = 60, why="the follower did not stop") -> None:
    """Run ``f`` in a thread until it stops by itself (its ``until`` height, or an error), at most ``timeout`` s;
    ``why`` (a text, or a function giving it when the follower has not stopped) is the failure's message."""
    t = threading.Thread(target=f.run, daemon=True)
    t.start()
    t.join(timeout)
    f.stop()
    assert not t.is_alive(), why() if callable(why) else why


def follow_to(index: Index, grpc: str, height: int, timeout: float = 60) -> None:
    """Index ``grpc``'s chain into ``index`` up to at least ``height`` (a follower in a thread)."""
    f = Follower(index, grpc, until=height, retry=0.1)
    run_follower(f, timeout, lambda: f"indexing to {height} did not finish in {timeout}s (at {index.height()})")
    assert f.error is None, f.error
    assert index.height() >= height


def http(url: str, timeout: float = 15) -> tuple[int, dict, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class ExplorerProc:
    """``python -m explorer`` as a real process."""

    def __init__(self, grpc: str, db: str, log: str, extra: tuple = ()):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc, self.db, self.log_path = grpc, db, log
        self.extra = list(extra)
        self.proc = None

    def start(self) -> "ExplorerProc":
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "explorer", "--node", self.grpc, "--db", self.db,
                                      "--port", str(self.port), *self.extra], stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env, cwd=ROOT)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"explorer exited {self.proc.returncode}: {self.log()}")
            try:
                return http(self.url + "/api/status", timeout=2)[0] == 200
            except OSError:
                return False
        wait_until(up, 30, "the explorer to answer")
        return self

    def status(self) -> dict:
        return json.loads(http(self.url + "/api/status")[2])

    def wait_indexed(self, height: int, timeout: float = 60) -> None:
        wait_until(lambda: self.status()["indexed_height"] >= height, timeout, f"the explorer to index {height}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read()[-4000:].decode(errors="replace")


def _explorer_on(grpc: str, d, height: int):
    """An explorer process over the node at ``grpc``, its SQLite index in ``d``, once it has indexed
    ``height``; stopped when the fixture ends."""
    ex = ExplorerProc(grpc, f"sqlite:///{d}/index.sqlite", str(d / "explorer.log")).start()
    ex.db_path = str(d / "index.sqlite")
    try:
        ex.wait_indexed(height)
        yield ex
    finally:
        ex.stop()


@pytest.fixture(scope="session")
def explorer(chain, tmp_path_factory):
    yield from _explorer_on(chain.grpc, tmp_path_factory.mktemp("explorer"), chain.top + 1)


# ---- PostgreSQL ----------------------------------------------------------------


def _pg_bin() -> str | None:
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server on a loopback port, in a temporary data directory."""
    bindir = _pg_bin()
    if bindir is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "postgresql"], capture_output=True, timeout=600)
        bindir = _pg_bin()
    if bindir is None:
        reason = "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    import pathlib
    import pwd
    import tempfile

    d = pathlib.Path(tempfile.mkdtemp(prefix="esoc-explorer-pg-"))  # not under pytest's 0700 root-owned dirs
    data = d / "data"
    as_pg: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        try:
            pg = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(d, ignore_errors=True)
            print("SKIP: running as root and there is no postgres user to run the server as")
            pytest.skip("running as root and there is no postgres user to run the server as")
        os.chown(d, pg.pw_uid, pg.pw_gid)
        as_pg = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    r = subprocess.run(as_pg + [f"{bindir}/initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", str(data), "-l", str(d / "pg.log"), "-w", "-o",
                                f"-p {port} -k {d} -h 127.0.0.1", "start"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr + open(d / "pg.log").read()
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(as_pg + [f"{bindir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       timeout=60)
        shutil.rmtree(d, ignore_errors=True)


# ---- the browser -----------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        reason = f"no Debian chromium at {CHROMIUM} (make test installs it with apt-get when root)"
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(accept_downloads=True)
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    try:
        yield pg
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def artifacts():
    os.makedirs(ARTIFACTS, exist_ok=True)
    return ARTIFACTS


# ---- the governance devnet (tests/explorer/gov_chain.py) -----------------------------


@pytest.fixture(scope="session")
def gov_chain(tmp_path_factory):
    from .gov_chain import GovChain, shorten_windows

    net = Devnet(str(tmp_path_factory.mktemp("explorer-gov-net")), validators=1)
    shorten_windows(net)
    net.start()
    try:
        yield GovChain(net)
    finally:
        net.stop()


@pytest.fixture(scope="session")
def gov_explorer(gov_chain, tmp_path_factory):
    yield from _explorer_on(gov_chain.grpc, tmp_path_factory.mktemp("explorer-gov"), gov_chain.top)
