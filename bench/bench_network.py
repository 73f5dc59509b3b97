"""Network: a 4-validator devnet of real processes on this machine (issue 4).

Part 1, throughput and latency.  Four validator processes (``esoc node
start``) on loopback, Tendermint over TCP p2p, with a genesis that adds
``accounts`` funded citizen accounts.  Transfers between them are signed
before the clock starts (in worker processes), then offered OPEN-LOOP for
``seconds``: every ``TICK`` seconds one ``SubmitTxBatch`` goes to each of the
4 nodes' gRPC endpoints, sent asynchronously (a gRPC future), whatever the
chain is doing.  Each sender account always goes to the same node, and an
account's next transaction is offered at least ~3 s after its previous one,
so nonces arrive in order.  One ``StreamBlocks`` subscriber on node 0 stamps
when each block is seen; a transaction's commit latency is that stamp minus
the moment its batch was sent.  Finalized transactions/s counts the bench's
transactions (with an OK receipt) in blocks seen during the load window.

The limit beside it is this machine's raw Ed25519 verification rate on all
cores, measured in the same run, divided by 4: every transaction's
signature is checked once on each of the 4 validators (the node admitting
it from gRPC, and each peer the transaction is relayed to), and the 4 share
the cores.  Targets: >= 30% of that ceiling (issue 13; issue 4 first asked
50%, and both are printed), p50 <= 1 s, p99 <= 3 s.

Offered rate: 2,400 tx/s by default, under the knee on this 2-core machine
(2026-12-05, quiet: 2,000 offered gave 1,984 finalized/s, p50 0.43 s, p99
3.3 s; 2,800 offered gave 2,743/s, p50 0.76 s, p99 5.4 s, the nodes using
87 % of the cores).  Before the verifier, relay and state-tree work of
2026-12-05 the knee was ~1,700, and 1,400 the default: quiet, 1,480
offered gave 1,418 finalized/s with p50 0.96 s and p99 2.8 s, and 600
offered gave 597/s with p50 0.27 s and p99 0.72 s.  (Before that fix the
knee was near 600: 800 offered gave 685/s with p50 2.4 s.)  The machine is
shared with other work: under load the same rate gives less, with longer
latencies.  So the load average is printed, and the verification rate
is measured both before and after the load (the mean is the limit).

Node settings for part 1: ``block_interval_ms`` 200 (the pause after each
commit: blocks of a few hundred transactions, a short path to commit),
propose 3 s / prevote 1 s / precommit 1 s / delta 0.5 s timeouts (generous:
a full proposal must be built, sent and executed before a validator gives
up on it; on a busy 2-core machine a premature timeout costs a whole round),
``max_block_txs`` 5000 (the devnet's), log level warning.  Besides the rows,
the note gives the nodes' CPU (from /proc) per finalized transaction and
node 1's mean height and proposal-execution times (its /metrics).

Part 2, catch-up.  A second 4-validator devnet tuned for fast empty blocks
(``block_interval_ms`` 5, propose timeout 150 ms, prevote/precommit 100 ms):
one validator is stopped (SIGTERM), the other three commit ``catchup_blocks``
blocks (their rate is the live block rate; every 4th height waits out the
stopped proposer's propose timeout), then it is restarted and its height is
polled until it reaches the height the others had when it was restarted:
blocks/s through block sync, from the moment it answers gRPC, and its ratio
to the live rate.

Every process is stopped in ``finally`` blocks.  About 3-4 minutes.

Run alone: ``python -m bench network`` or ``python -m bench.bench_network``.
Knobs (environment): ESOC_BENCH_NET_RATE (offered tx/s; default 2400),
ESOC_BENCH_NET_SECONDS (60), ESOC_BENCH_NET_BLOCKS (1000),
ESOC_BENCH_NET_PROFILE=DIR (py-spy record every node during the load window
into DIR, collapsed stacks; needs ``pip install py-spy``),
ESOC_BENCH_NET_COMPACT=1|0 (compact blocks on or off; default: the node's default),
ESOC_BENCH_NET_PIPELINE=1|0 (the commit pipeline, ``pipelined_commit``, on or off; default: on),
ESOC_BENCH_NET_PART=load|catchup (run one part only), ESOC_BENCH_NET_KEEP=1
(keep the devnet homes for inspection), ESOC_BENCH_NET_LOG=info|debug (node
log level in part 1).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from .machine import ed25519_verify_rate

DEFAULT_RATE = 2400  # offered tx/s: under the knee this 2-core machine sustains (see the module doc)
TICK = 0.1  # seconds between batches (one batch per node per tick)
SPACING_S = 3.0  # minimum seconds between two transactions of one sender
SALT = "bench-network"
DRAIN_S = 15.0  # after the load window: how long to wait for the backlog

# admission bounded by time is off here: this bench finds the knee, and its open-loop senders do not resend
# a refused transaction (its successors would fail on the nonce gap); bench_overload turns it on
LOAD_SETTINGS = {"timeout_propose_ms": 3000, "timeout_prevote_ms": 1000, "timeout_precommit_ms": 1000,
                 "timeout_delta_ms": 500, "timeout_max_ms": 10000, "log_level": os.environ.get("ESOC_BENCH_NET_LOG", "warning"),
                 "admission_latency_ms": 0}
LOAD_INTERVAL_MS = 200
CATCHUP_SETTINGS = {"timeout_propose_ms": 150, "timeout_prevote_ms": 100, "timeout_precommit_ms": 100,
                    "timeout_delta_ms": 100, "timeout_max_ms": 2000, "log_level": "warning"}
CATCHUP_INTERVAL_MS = 5


def _env(name: str, default):
    v = os.environ.get(name)
    return type(default)(v) if v else default


# ---------------------------------------------------------------------------
# devnet with extra funded accounts
# ---------------------------------------------------------------------------
def _load_key(i: int):
    from ledger.crypto import PrivateKey

    return PrivateKey.from_name(f"load{i}", salt=SALT)


def _add_accounts(net, n: int, balance: int = 10**7) -> None:
    """Rewrite the devnet's genesis (top level and every node's copy) with n
    extra funded citizens ``load0 .. load{n-1}``."""
    from ledger.address import address_of
    from ledger.genesis import Genesis, GenesisAccount

    path0 = os.path.join(net.desc["nodes"][0]["home"], "genesis.json")
    with open(path0) as f:
        g = Genesis.from_json(f.read())
    extra = tuple(GenesisAccount(address=address_of(_load_key(i).public), balance=balance, kind="citizen", roles=(),
                                 name=f"load{i}") for i in range(n))
    import dataclasses

    g = dataclasses.replace(g, accounts=g.accounts + extra)
    g.validate()
    text = g.to_json()
    for p in [os.path.join(net.home, "genesis.json")] + [os.path.join(n_["home"], "genesis.json") for n_ in net.desc["nodes"]]:
        with open(p, "w") as f:
            f.write(text)


def _devnet(home: str, interval_ms: int, settings: dict, accounts: int = 0, validators: int = 4):
    from tests.e2e.harness import Devnet

    net = Devnet(home, validators=validators, block_interval_ms=interval_ms, **settings)
    if accounts:
        _add_accounts(net, accounts)
    return net


def _stop_all(net) -> None:
    if net is None:
        return
    for n in net.nodes:
        try:
            n.stop()
        except Exception:
            try:
                n.kill()
            except Exception:
                pass


# ---------------------------------------------------------------------------
# pre-signed load
# ---------------------------------------------------------------------------
def _sign_part(args) -> list[tuple[bytes, bytes]]:
    """Sign the transactions of one node's senders, in offer order."""
    chain_id, senders, n_accounts, count, seed = args
    from ledger.address import address_of
    from ledger.tx import Transfer, sign_tx

    rng = random.Random(seed)
    keys = {i: _load_key(i) for i in senders}
    addrs = [address_of(_load_key(j).public) for j in range(n_accounts)]
    out = []
    for c in range(count):
        i = senders[c % len(senders)]
        nonce = c // len(senders)
        to = addrs[rng.randrange(n_accounts)]
        tx = sign_tx(keys[i], chain_id, "transfer", Transfer(to=to, amount=1 + rng.randrange(100)), nonce, 10**9)
        out.append((tx.raw, tx.hash))
    return out


def _presign(chain_id: str, n_accounts: int, per_node: int, nodes: int = 4) -> list[list[tuple[bytes, bytes]]]:
    """per node: [(raw, hash)] in offer order; node k's senders are accounts i with i % nodes == k."""
    jobs = [(chain_id, list(range(k, n_accounts, nodes)), n_accounts, per_node, 1000 + k) for k in range(nodes)]
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(nodes, os.cpu_count() or 1)) as pool:
        return pool.map(_sign_part, jobs, chunksize=1)


# ---------------------------------------------------------------------------
# observer: blocks as node 0 announces them
# ---------------------------------------------------------------------------
class BlockWatcher(threading.Thread):
    def __init__(self, target: str, from_height: int):
        super().__init__(daemon=True)
        from wallet.client import Client

        self.client = Client(target, timeout=10)
        self.from_height = from_height
        self.blocks: list[tuple[int, float, list[bytes], list[int], int]] = []  # height, seen, hashes, codes, time_ms
        self.error: BaseException | None = None

    # Long by design: the network benchmark's phases in order (start, warm, load, catch-up, figures); a benchmark reads best top to bottom.
    def run(self):
        from ledger.codec import decode

        try:
            for b in self.client.stream_blocks(self.from_height):
                t = time.monotonic()
                codes = []
                try:
                    for r in decode(b.receipts):
                        codes.append(r["code"] if isinstance(r, dict) else r[1])
                except Exception:
                    codes = [0] * len(b.tx_hashes)
                self.blocks.append((b.height, t, list(b.tx_hashes), codes, b.time_ms))
        except BaseException as e:  # closing the channel ends the stream
            self.error = e

    def stop(self):
        self.client.close()
        self.join(timeout=5)


# ---------------------------------------------------------------------------
# py-spy (optional)
# ---------------------------------------------------------------------------
def _start_profilers(net, seconds: float, outdir: str, sampler=None) -> list[subprocess.Popen]:
    spy = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(spy):
        print("py-spy not found; no profile", file=sys.stderr)
        return []
    os.makedirs(outdir, exist_ok=True)
    procs = []
    for i, n in enumerate(net.nodes):
        out = os.path.join(outdir, f"node{i}.txt")
        if sampler is not None:
            procs.append(sampler(spy, n.proc.pid, seconds, out))
            continue
        procs.append(subprocess.Popen([spy, "record", "--pid", str(n.proc.pid), "--duration", str(int(seconds)),
                                       "--rate", "100", "--format", "raw", "--threads", "--idle", "--nonblocking", "-o", out],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


# ---------------------------------------------------------------------------
# part 1: open-loop load
# ---------------------------------------------------------------------------
def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def _cpu_s(pid: int, tree: bool = True) -> float:
    """CPU seconds (user + system) of a process and (``tree``) of every process below it (Linux /proc):
    a validator's signature workers (node/verifier.py) count as the validator's, live or reaped."""
    try:
        fields = _stat(pid)
    except (OSError, ValueError, IndexError):
        return float("nan")
    ticks = int(fields[11]) + int(fields[12])
    if not tree:
        return ticks / os.sysconf("SC_CLK_TCK")
    ticks += int(fields[13]) + int(fields[14])  # reaped children
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                children.setdefault(int(_stat(int(d))[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                continue
    todo = list(children.get(pid, []))
    while todo:
        c = todo.pop()
        try:
            f = _stat(c)
        except (OSError, ValueError, IndexError):
            continue
        ticks += int(f[11]) + int(f[12])
        todo += children.get(c, [])
    return ticks / os.sysconf("SC_CLK_TCK")


def _scrape(metrics_addr: str) -> dict[str, float]:
    """The node's Prometheus text, as {series: value} (histogram _sum/_count only)."""
    import urllib.request

    out = {}
    try:
        with urllib.request.urlopen(f"http://{metrics_addr}/metrics", timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("#") or " " not in line:
                    continue
                k, _, v = line.rpartition(" ")
                if k.endswith(("_sum", "_count")) or "{" not in k:
                    try:
                        out[k] = float(v)
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def _mean(m0: dict, m1: dict, name: str) -> float:
    n = m1.get(name + "_count", 0) - m0.get(name + "_count", 0)
    return (m1.get(name + "_sum", 0) - m0.get(name + "_sum", 0)) / n if n > 0 else float("nan")


def _pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


class _Plan:
    """The shape of one open-loop run: how many transactions per tick and node, and how many senders."""

    def __init__(self, rate: int, seconds: float, nodes: int = 4, spacing: float = SPACING_S):
        self.nodes = nodes
        self.per_node_tick = max(nodes, int(round(rate * TICK))) // nodes
        self.per_tick = self.per_node_tick * nodes
        self.offered_rate = self.per_tick / TICK
        self.ticks = int(round(seconds / TICK))
        self.per_node = self.per_node_tick * self.ticks
        n_accounts = max(400, int(self.offered_rate * spacing))  # each sender offers one tx every `spacing` s
        self.accounts = n_accounts + (-n_accounts) % nodes

    def slice(self, k: int, j: int, signed) -> list:
        """Node k's transactions of tick j, as (raw, hash)."""
        return signed[k][j * self.per_node_tick:(j + 1) * self.per_node_tick]


class _Offer:
    """Sends one SubmitTxBatch per node per tick, asynchronously, and tallies the answers."""

    def __init__(self, plan: _Plan, clients: list, reqs: list, retry: bool = False):
        self.plan, self.clients, self.reqs = plan, clients, reqs
        self.retry = retry  # resend what a busy node refused, after its hint (as the wallet does)
        self.resend: dict[int, list] = {}  # tick -> [(node, raw)]
        self.resent = 0
        self.resent_at: dict[bytes, float] = {}  # raw -> when it was sent again (after a refusal)
        self.retried: set = set()
        self.lock = threading.Lock()
        self.stats = {"accepted": 0, "rejected": 0, "failed": 0, "refused": 0, "reasons": {}}
        self.sent_at = [[0.0] * plan.ticks for _ in range(plan.nodes)]
        self.futures: list = []
        self.lag_max = 0.0
        self.t_start = self.t_end = 0.0

    def _count(self, key: str, n: int) -> None:
        self.stats["reasons"][key] = self.stats["reasons"].get(key, 0) + n

    def on_done(self, fut, k: int = 0, raws: list | None = None, j: int = 0) -> None:
        n = self.plan.per_node_tick
        try:
            r = fut.result()
        except Exception as e:
            code = str(getattr(e, "code", lambda: "")())
            with self.lock:
                self.stats["refused" if "RESOURCE_EXHAUSTED" in code else "failed"] += n
                self._count(type(e).__name__ + ":" + code, n)
            return
        with self.lock:
            self.stats["accepted"] += r.accepted
            self.stats["rejected"] += len(r.results) - r.accepted
            for i, res in enumerate(r.results):
                if res.code:
                    if "RESOURCE_EXHAUSTED" in res.reason or "busy" in res.reason:
                        self.stats["refused"] += 1
                        if self.retry and raws is not None:
                            self._schedule(k, raws[i], res.reason, j)
                    self._count(res.reason[:60], 1)

    def run(self, watcher, start_h: int, verbose: bool) -> None:
        plan = self.plan
        self.t_start = time.monotonic()
        for j in range(plan.ticks):
            due = self.t_start + j * TICK
            now = time.monotonic()
            if due > now:
                time.sleep(due - now)
            else:
                self.lag_max = max(self.lag_max, now - due)
            with self.lock:
                again = self.resend.pop(j, [])
            for k in range(plan.nodes):
                self.sent_at[k][j] = time.monotonic()
                req = self.reqs[k][j]
                extra = [raw for kk, raw in again if kk == k]
                if extra:
                    req = type(req)(txs=list(req.txs) + extra)
                    self.resent += len(extra)
                    for raw in extra:
                        self.resent_at[raw] = self.sent_at[k][j]
                f = self.clients[k].stub.SubmitTxBatch.future(req, timeout=60)
                f.add_done_callback(lambda fut, k=k, raws=list(req.txs), j=j: self.on_done(fut, k, raws, j))
                self.futures.append(f)
            if verbose and j and j % int(10 / TICK) == 0:
                seen = sum(len(b[2]) for b in watcher.blocks)
                print(f"  t={j * TICK:4.0f}s offered {j * plan.per_tick} accepted {self.stats['accepted']} committed {seen} "
                      f"height {watcher.blocks[-1][0] if watcher.blocks else start_h}", file=sys.stderr, flush=True)
        self.t_end = self.t_start + plan.ticks * TICK
        time.sleep(max(0.0, self.t_end - time.monotonic()))

    def _schedule(self, k: int, raw: bytes, reason: str, j: int) -> None:
        """Resend ``raw`` to node k after the node's hint (called under the lock)."""
        import re

        m = re.search(r"retry after (\d+) ms", reason)
        wait = int(m.group(1)) / 1000 if m else 1.0
        tick = max(j + 1, int((time.monotonic() - self.t_start + wait) / TICK) + 1)
        if tick < self.plan.ticks and raw not in self.retried:  # once per transaction, as a client gives up
            self.retried.add(raw)
            self.resend.setdefault(tick, []).append((k, raw))

    def drain(self, watcher) -> float:
        """Wait until every accepted transaction is seen or DRAIN_S passes; the drain time."""
        deadline = time.monotonic() + DRAIN_S
        while time.monotonic() < deadline:
            seen = sum(len(b[2]) for b in watcher.blocks)
            if all(f.done() for f in self.futures) and seen >= self.stats["accepted"]:
                break
            time.sleep(0.2)
        return time.monotonic() - self.t_end


def _stop_profilers(profilers: list, wait: bool) -> None:
    for p in profilers:
        if wait:
            try:
                p.wait(timeout=40)
                continue
            except subprocess.TimeoutExpired:
                pass
        if p.poll() is None:
            p.kill()
            p.wait()


def _latencies(plan: _Plan, signed, offer: _Offer, blocks: list) -> dict:
    """Commit latency of every bench transaction seen, and what committed inside the load window."""
    send_time: dict[bytes, float] = {}
    for k in range(plan.nodes):
        for j in range(plan.ticks):
            t = offer.sent_at[k][j]
            for _, h in plan.slice(k, j, signed):
                send_time[h] = t
    from ledger.tx import tx_hash

    again = {tx_hash(raw): t for raw, t in offer.resent_at.items()}
    lat: list[float] = []
    lat_admitted: list[float] = []  # from the send that was admitted (a resend's, for a refused one)
    in_window = ok_in_window = 0
    heights_in_window = []
    for h, seen, hashes, codes, _ in blocks:
        inside = offer.t_start <= seen <= offer.t_end
        if inside:
            heights_in_window.append((h, len(hashes)))
        for tx_h, code in zip(hashes, codes):
            st = send_time.get(tx_h)
            if st is None:
                continue
            lat.append(seen - st)
            lat_admitted.append(seen - again.get(tx_h, st))
            if inside:
                in_window += 1
                ok_in_window += code == 0
    return {"lat": lat, "lat_admitted": lat_admitted, "in_window": in_window, "ok_in_window": ok_in_window,
            "heights": heights_in_window}


def _summary(plan: _Plan, offer: _Offer, seen: dict, extra: dict) -> dict:
    dur = offer.t_end - offer.t_start
    lat, in_window, heights = seen["lat"], seen["in_window"], seen["heights"]
    blocks = len(heights)
    st = offer.stats
    return {
        "offered_rate": plan.offered_rate, "seconds": dur, "offered": plan.per_node * plan.nodes,
        "accepted": st["accepted"], "rejected": st["rejected"], "failed": st["failed"], "refused": st["refused"],
        "reasons": st["reasons"], "committed_total": len(lat), "committed_in_window": in_window,
        "ok_in_window": seen["ok_in_window"], "finalized_per_s": seen["ok_in_window"] / dur,
        "p50": _pct(lat, 0.50), "p99": _pct(lat, 0.99),
        "p50_admitted": _pct(seen["lat_admitted"], 0.50), "p99_admitted": _pct(seen["lat_admitted"], 0.99),
        "blocks_in_window": blocks, "txs_per_block": (in_window / blocks if blocks else 0.0),
        "blocks_per_s": blocks / dur, "accounts": plan.accounts, "send_lag_max": offer.lag_max,
        "max_block": max((n for _, n in heights), default=0),
        "node_cpu_ms_per_tx": sum(extra["node_cpu_s"]) / max(1, in_window) * 1000, "resent": offer.resent, **extra,
    }


def load_test(home: str, rate: int, seconds: float, verbose: bool = True, profile_dir: str | None = None,
              settings: dict | None = None, sampler=None, spacing: float = SPACING_S, validators: int = 4,
              retry: bool = False) -> dict:
    """Part 1 (see the module doc): a devnet, pre-signed load offered open loop, latencies from node 0's stream."""
    from proto import esoc_pb2 as pb
    from wallet.client import Client

    plan = _Plan(rate, seconds, nodes=validators, spacing=spacing)
    t0 = time.monotonic()
    net = _devnet(home, LOAD_INTERVAL_MS, {**LOAD_SETTINGS, **(settings or {})}, accounts=plan.accounts,
                  validators=validators)
    signed = _presign(net.desc["chain_id"], plan.accounts, plan.per_node, plan.nodes)
    extra: dict = {"sign_s": time.monotonic() - t0}
    reqs = [[pb.SubmitTxBatchRequest(txs=[r for r, _ in plan.slice(k, j, signed)]) for j in range(plan.ticks)]
            for k in range(plan.nodes)]
    clients: list = []
    watcher = None
    profilers: list = []
    try:
        for n in net.nodes:
            n.start()
        for n in net.nodes:  # a genesis of many accounts takes a while on a busy machine
            n.wait_ready(timeout=180)
        net.wait_height(2, timeout=120)
        start_h = net.height(0)
        watcher = BlockWatcher(net.nodes[0].grpc, start_h + 1)
        watcher.start()
        clients = [Client(n.grpc, timeout=30) for n in net.nodes]
        for c in clients:
            c.status()  # channels connected before the clock starts
        offer = _Offer(plan, clients, reqs, retry=retry)
        profile_dir = profile_dir or os.environ.get("ESOC_BENCH_NET_PROFILE")
        if profile_dir:
            profilers = _start_profilers(net, min(seconds, 30), profile_dir, sampler)
            time.sleep(1.0)  # py-spy attaches
        cpu0 = [_cpu_s(n.proc.pid) for n in net.nodes]
        own0 = [_cpu_s(n.proc.pid, tree=False) for n in net.nodes]
        met0 = _scrape(net.desc["nodes"][1]["metrics"])
        prop0 = _proposal_counters(net)
        client0 = time.process_time()
        offer.run(watcher, start_h, verbose)
        extra["client_cpu_s"] = time.process_time() - client0  # this process: sending, callbacks, the block watcher
        extra["node_cpu_s"] = [_cpu_s(n.proc.pid) - c for n, c in zip(net.nodes, cpu0)]  # with signature workers
        extra["node_own_cpu_s"] = [_cpu_s(n.proc.pid, tree=False) - c for n, c in zip(net.nodes, own0)]
        extra.update({k: v - prop0.get(k, 0.0) for k, v in _proposal_counters(net).items()})
        met1 = _scrape(net.desc["nodes"][1]["metrics"])
        extra["drain_s"] = offer.drain(watcher)
        _stop_profilers(profilers, wait=True)
        extra["mempools_after"] = [_mempool_size(c) for c in clients]
        extra["height_s"] = _mean(met0, met1, "esoc_consensus_height_seconds")
        extra["exec_s"] = _mean(met0, met1, "esoc_block_execution_seconds")
        extra["commit_s"] = _mean(met0, met1, "esoc_block_commit_seconds")
    finally:
        _stop_profilers(profilers, wait=False)
        if watcher is not None:
            watcher.stop()
        for c in clients:
            c.close()
        _stop_all(net)
    return _summary(plan, offer, _latencies(plan, signed, offer, watcher.blocks), extra)


def _proposal_counters(net) -> dict[str, float]:
    """Proposal bytes sent (all peers), what they would have been in full, and their transactions: 4 nodes summed."""
    out: dict[str, float] = {}
    for n in net.desc["nodes"]:
        m = _scrape(n["metrics"])
        for k in ("esoc_proposal_bytes_sent_total", "esoc_proposal_full_bytes_total", "esoc_proposal_txs_sent_total",
                  "esoc_compact_fetched_txs_total"):
            out[k] = out.get(k, 0.0) + m.get(k, 0.0)
    return out


def _mempool_size(client) -> int:
    try:
        return client.status().mempool_size
    except Exception:
        return -1


# ---------------------------------------------------------------------------
# part 2: catch-up through block sync
# ---------------------------------------------------------------------------
def _first_answer(node, timeout: float):
    """Poll a starting node with a new channel each time; (time, height, client) of its first answer."""
    from wallet.client import Client, ClientError

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.proc.poll() is not None:
            raise RuntimeError(f"node exited with {node.proc.returncode}:\n{node.log_tail()}")
        c = Client(node.grpc, timeout=0.5)
        try:
            h = c.status().height
            return time.monotonic(), h, c
        except ClientError:
            c.close()
            time.sleep(0.01)
    raise RuntimeError(f"node at {node.grpc} did not answer within {timeout} s")


def catchup_test(home: str, blocks: int, verbose: bool = True) -> dict:
    from tests.e2e.harness import wait_until

    net = _devnet(home, CATCHUP_INTERVAL_MS, CATCHUP_SETTINGS)
    try:
        net.start()
        net.wait_height(3, timeout=60)
        victim = net.nodes[3]
        h_stop = net.height(3)
        victim.stop()
        c0 = net.nodes[0].client()
        try:
            h_a = c0.status().height
            t_a = time.monotonic()
            target_live = h_a + blocks
            last_print = t_a
            while True:
                h = c0.status().height
                if h >= target_live:
                    break
                if time.monotonic() - t_a > 240:  # a busy machine: measure with what was made
                    if h - h_a < 50:
                        raise RuntimeError(f"three validators reached only {h - h_a} of {blocks} blocks in 240 s")
                    break
                if verbose and time.monotonic() - last_print > 10:
                    last_print = time.monotonic()
                    print(f"  live: {h - h_a} blocks in {last_print - t_a:.0f}s", file=sys.stderr, flush=True)
                time.sleep(0.05)
            t_b = time.monotonic()
            live_rate = (h - h_a) / (t_b - t_a)
            t_spawn = time.monotonic()
            target = c0.status().height
            victim.start()
            # a fresh channel per attempt: a channel that failed once backs off ~1 s
            # before reconnecting, and block sync would run unobserved meanwhile
            t_ready, h3, c3 = _first_answer(victim, 60)
            try:
                wait_until(lambda: c3.status().height >= target, 120, f"restarted node to reach {target}", poll=0.02)
                t_done = time.monotonic()
            finally:
                c3.close()
            h_live_end = c0.status().height
        finally:
            c0.close()
        synced = target - h3
        return {"stopped_at": h_stop,
            "live_rate": live_rate, "live_blocks": h - h_a, "live_s": t_b - t_a, "synced": synced,
            "sync_s": t_done - t_ready, "sync_rate": synced / max(1e-9, t_done - t_ready),
            "restart_s": t_ready - t_spawn, "from_spawn_rate": synced / (t_done - t_spawn),
            "h3_at_ready": h3, "target": target, "live_during_sync": h_live_end - target,
        }
    finally:
        _stop_all(net)


# ---------------------------------------------------------------------------
def run(rate: int | None = None, seconds: float | None = None, catchup_blocks: int | None = None) -> list[dict]:
    rate = rate or _env("ESOC_BENCH_NET_RATE", DEFAULT_RATE)
    seconds = seconds or _env("ESOC_BENCH_NET_SECONDS", 60.0)
    catchup_blocks = catchup_blocks or _env("ESOC_BENCH_NET_BLOCKS", 1000)
    part = os.environ.get("ESOC_BENCH_NET_PART", "")
    keep = bool(os.environ.get("ESOC_BENCH_NET_KEEP"))
    rows: list[dict] = []
    tmp = tempfile.mkdtemp(prefix="esoc-bench-net-")
    try:
        verify = verify0 = ed25519_verify_rate(2.0)
        verify1 = None
        ceiling = verify / 4
        load0 = os.getloadavg()[0]
        print(f"  machine: load average {load0:.1f}, {os.cpu_count()} cores, raw Ed25519 verify {verify:,.0f}/s on all cores -> ceiling "
              f"{ceiling:,.0f} tx/s for 4 validators; targets: >= 30% of it (issue 13; issue 4 asked 50%), p50 <= 1 s, p99 <= 3 s",
              file=sys.stderr, flush=True)
        if part in ("", "load"):
            settings = {}
            for env, key in (("ESOC_BENCH_NET_COMPACT", "compact_blocks"), ("ESOC_BENCH_NET_PIPELINE", "pipelined_commit")):
                if os.environ.get(env) is not None:
                    settings[key] = os.environ[env] not in ("0", "", "false")
            r = load_test(os.path.join(tmp, "load"), rate, seconds, settings=settings or None)
            # the machine is shared: measure again after the load, use the mean
            verify1 = ed25519_verify_rate(2.0)
            verify = (verify0 + verify1) / 2
            ceiling = verify / 4
            cpu_share = sum(r["node_cpu_s"]) / (r["seconds"] * (os.cpu_count() or 1))
            note_load = (f"4 validators, open loop {r['offered_rate']:,.0f} tx/s offered for {r['seconds']:.0f} s over 4 gRPC "
                         f"endpoints ({r['accounts']} senders); accepted {r['accepted']:,} of {r['offered']:,}"
                         f"{', rejected ' + format(r['rejected'], ',') if r['rejected'] else ''}"
                         f"{', failed calls ' + format(r['failed'], ',') if r['failed'] else ''}; "
                         f"{r['blocks_per_s']:.2f} blocks/s, {r['txs_per_block']:.0f} tx/block avg, max {r['max_block']}; "
                         f"the 4 nodes used {cpu_share:.0%} of the machine's cores, "
                         f"{r['node_cpu_ms_per_tx']:.2f} CPU-ms per finalized tx (all 4 together); on node 1 a height "
                         f"took {r['height_s']:.2f} s from start to decision, executing a proposal {r['exec_s']:.2f} s, "
                         f"writing a decided block {r.get('commit_s', float('nan')) * 1000:.0f} ms")
            ptx = r.get("esoc_proposal_txs_sent_total", 0.0)
            if ptx:
                note_load += (f"; proposals: {r['esoc_proposal_bytes_sent_total'] / ptx:.1f} bytes a transaction to each peer "
                              f"against {r['esoc_proposal_full_bytes_total'] / ptx:.1f} in full, "
                              f"{r.get('esoc_compact_fetched_txs_total', 0.0):,.0f} transactions fetched")
            met = r["finalized_per_s"] >= 0.3 * ceiling
            rows.append({"name": "finalized transfers/s (4 validators, one machine)", "value": r["finalized_per_s"],
                         "unit": "tx/s", "limit": ceiling, "ratio": r["finalized_per_s"] / ceiling, "target": 0.3,
                         "note": note_load + ("; target (30%) met" if met else "; target (30%) NOT met") + (", issue 4's 50% "
                                 + ("met" if r["finalized_per_s"] >= 0.5 * ceiling else "NOT met"))})
            rows.append({"name": "offered load (open loop)", "value": r["offered_rate"], "unit": "tx/s",
                         "note": f"committed {r['committed_total']:,} in all (incl. {r['drain_s']:.1f} s drain); "
                                 f"mempools after: {r['mempools_after']}"})
            for q, tgt in (("p50", 1.0), ("p99", 3.0)):
                v = r[q]
                rows.append({"name": f"commit latency {q} (submit -> block seen on node 0)", "value": v, "unit": "s",
                             "note": f"target <= {tgt:g} s: {'met' if v <= tgt else 'NOT met'}; over "
                                     f"{r['committed_total']:,} committed bench transactions"})
            if r["reasons"]:
                top = sorted(r["reasons"].items(), key=lambda kv: -kv[1])[:3]
                print(f"  rejections: {top}", file=sys.stderr)
            print(f"  detail: {r}".replace(str(r["reasons"]), "{..}"), file=sys.stderr)
        if part in ("", "catchup"):
            c = catchup_test(os.path.join(tmp, "catchup"), catchup_blocks)
            rows.append({"name": "live block rate, 3 of 4 validators (empty blocks)", "value": c["live_rate"],
                         "unit": "blocks/s",
                         "note": f"{c['live_blocks']} blocks in {c['live_s']:.1f} s, block interval {CATCHUP_INTERVAL_MS} ms, "
                                 f"propose timeout {CATCHUP_SETTINGS['timeout_propose_ms']} ms (every 4th proposer is down)"})
            rows.append({"name": "catch-up through block sync", "value": c["sync_rate"], "unit": "blocks/s",
                         "limit": c["live_rate"], "ratio": c["sync_rate"] / c["live_rate"],
                         "note": f"{c['synced']} blocks (stopped at {c['stopped_at']}, at {c['h3_at_ready']} when it first answered gRPC, "
                                 f"target {c['target']}) in {c['sync_s']:.1f} s after it answered (restart took "
                                 f"{c['restart_s']:.1f} s; {c['from_spawn_rate']:.0f} blocks/s from spawn); ratio is "
                                 f"to the live block rate, must be well above 100%; the others made "
                                 f"{c['live_during_sync']} more meanwhile"})
        both = f" (mean of {verify0:,.0f} before and {verify1:,.0f} after the load)" if verify1 else ""
        rows.append({"name": "raw Ed25519 verifications/s, all cores", "value": verify, "unit": "verify/s",
                     "note": f"{os.cpu_count()} cores{both}; / 4 validators = {ceiling:,.0f} tx/s ceiling; "
                             f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (the machine is shared)"})
    finally:
        if keep:
            print(f"  devnet homes kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rows


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
