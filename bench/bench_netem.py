"""Latency with a real network delay: 4 validators in network namespaces, netem on every link.

The netns lab of tests/e2e/test_netns.py (a bridge, one namespace per
validator, gRPC on Unix sockets), with ``tc qdisc ... netem delay D`` on each
validator's ``eth0``: a message between two validators crosses two such
interfaces, so the one-way delay between validators is ``2D``.  For each
delay: the mean height time over ``BLOCKS`` blocks at a trickle of load
(block interval 200 ms, as in bench_network), and the commit latency of
``TXS`` single transfers submitted one at a time (submit -> committed, seen by
polling the node that received it).  docs/scaling.md's model says a height
grows by about three one-way delays (proposal, prevote, precommit).

Needs root, ``ip`` and ``tc`` (iproute2); skipped with the reason otherwise.
``python -m bench netem``; ESOC_BENCH_NETEM_DELAYS (ms, default "0,25").
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

P2P_PORT = 26656
BLOCKS = 20
TXS = 15


def _why_not() -> str | None:
    if os.geteuid() != 0:
        return "needs root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "needs ip and tc (iproute2)"
    probe = f"esbprobe{os.getpid() % 10000}"
    if subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=30).returncode != 0:
        return "network namespaces unavailable"
    try:
        r = subprocess.run(["ip", "netns", "exec", probe, "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            return f"this kernel has no netem qdisc ({r.stderr.strip()})"
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return None


def _netem(ns: str, delay_ms: int) -> None:
    if delay_ms <= 0:
        return
    r = subprocess.run(["ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", "eth0", "root", "netem", "delay",
                        f"{delay_ms}ms"], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"tc netem: {r.stderr.strip()}")


def measure(delay_ms: int) -> dict:
    from ledger.address import decode_address
    from ledger.tx import Transfer, sign_tx
    from tests.e2e.harness import Devnet, NetnsLab, NetnsNodeProc, edit_config
    from wallet.keystore import Keystore

    lab = NetnsLab(4, prefix=f"esb{os.getpid() % 10000}")
    for ns in [lab.hub] + lab.names:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    tmp = tempfile.mkdtemp(prefix="esocnm")
    nodes: list = []
    try:
        lab.setup()
        for ns in lab.names:
            _netem(ns, delay_ms)
        d = Devnet(os.path.join(tmp, "net"), validators=4, block_interval_ms=200,
                   timeout_propose_ms=3000, timeout_prevote_ms=1000, timeout_precommit_ms=1000, timeout_delta_ms=500)
        for i, n in enumerate(d.desc["nodes"]):
            peers = [f"{m['pubkey']}@{lab.addr(j)}:{P2P_PORT}" for j, m in enumerate(d.desc["nodes"]) if j != i]
            grpc = f"unix:{tmp}/n{i}.sock"
            edit_config(n["home"], p2p_listen=f"{lab.addr(i)}:{P2P_PORT}", peers=peers, grpc_listen=grpc, metrics_listen="")
            nodes.append(NetnsNodeProc(n["home"], grpc, lab.names[i]))
        d.nodes = nodes
        d.start()
        d.wait_height(3, timeout=90)
        h0, t0 = d.height(0), time.monotonic()
        d.wait_height(h0 + BLOCKS, nodes=[0], timeout=240)
        height_s = (time.monotonic() - t0) / BLOCKS
        ks = Keystore(d.keystore)
        alice = ks.unlock("alice", "devnet")
        bob = decode_address(d.account("bob")["address"])
        lat = []
        with nodes[1].client() as c:
            nonce = c.account(d.account("alice")["address"]).nonce
            for k in range(TXS):
                tx = sign_tx(alice, d.desc["chain_id"], "transfer", Transfer(to=bob, amount=1), nonce + k, c.status().height + 100)
                t = time.monotonic()
                c.submit(tx)
                c.wait_for_tx(tx.hash, timeout=60, poll=0.01)
                lat.append(time.monotonic() - t)
        return {"delay_ms": delay_ms, "one_way_ms": 2 * delay_ms, "height_s": height_s,
                "p50": statistics.median(lat), "max": max(lat)}
    finally:
        for n in nodes:
            n.stop()
        lab.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run() -> list[dict]:
    why = _why_not()
    if why:
        print(f"  netem bench skipped: {why}", file=sys.stderr)
        return []
    delays = [int(x) for x in os.environ.get("ESOC_BENCH_NETEM_DELAYS", "0,25").split(",")]
    rows = []
    base = None
    for dms in delays:
        r = measure(dms)
        base = base or r
        rows.append({"name": f"height time, 4 validators in namespaces, {r['one_way_ms']} ms one-way between them",
                     "value": r["height_s"], "unit": "s",
                     "note": f"mean over {BLOCKS} blocks, block interval 200 ms; model: +3 x one-way per height = "
                             f"{base['height_s'] + 3 * r['one_way_ms'] / 1000:.2f} s; load average {os.getloadavg()[0]:.1f}"})
        rows.append({"name": f"commit latency of a single transfer, {r['one_way_ms']} ms one-way", "value": r["p50"],
                     "unit": "s", "note": f"median of {TXS} sent one at a time (max {r['max']:.2f} s)"})
    return rows


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
