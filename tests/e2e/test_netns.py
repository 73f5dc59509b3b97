"""Four validators in four network namespaces, joined by a bridge: a real
link cut (``ip link set dev eth0 down`` inside one validator's namespace)
under a steady load of transfers, then the link healed.

Layout (made by the test, removed by its finalizers even on failure)::

    esocPID-hub   br0 ── v0  v1  v2  v3           (veth ends on the bridge)
    esocPID-i     eth0 10.77.0.(i+1)/24, lo       (validator i's namespace)

Each validator runs with ``ip netns exec esocPID-i`` and listens for p2p on
its namespace address.  Its gRPC listens on a Unix socket in the test's
temporary folder: filesystem sockets do not belong to a network namespace,
so the test (in the host namespace) reaches every node directly, and no
validator needs an address outside its namespace.

Needs root, the ``ip`` binary (iproute2) and network-namespace support; it
skips with the reason otherwise.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest

from .harness import Devnet, Load, NetnsLab, NetnsNodeProc, edit_config, final_checks, last_commit_signers, wait_until

pytestmark = pytest.mark.slow

P2P_PORT = 26656  # the same in every namespace: each has its own stack


def _why_not() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "needs root to create network namespaces (ip netns add)"
    if shutil.which("ip") is None:
        return "needs the `ip` binary (Debian: apt-get install iproute2)"
    probe = f"esocprobe{os.getpid() % 100000}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        return f"network namespaces unavailable here: {r.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return None


@pytest.fixture
def lab(request):
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    lab = NetnsLab(4)
    for ns in [lab.hub] + lab.names:  # left by a crashed run with the same pid
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
    request.addfinalizer(lab.close)
    try:
        lab.setup()
    except RuntimeError as e:
        pytest.skip(f"cannot build the namespace network: {e}")
    return lab


@pytest.fixture
def net(lab, tmp_path, request):
    sockdir = tempfile.mkdtemp(prefix="esocns")  # short: a Unix socket path is at most 107 bytes
    request.addfinalizer(lambda: shutil.rmtree(sockdir, ignore_errors=True))
    d = Devnet(str(tmp_path / "net"), validators=4)
    nodes = []
    for i, n in enumerate(d.desc["nodes"]):
        peers = [f"{m['pubkey']}@{lab.addr(j)}:{P2P_PORT}" for j, m in enumerate(d.desc["nodes"]) if j != i]
        grpc = f"unix:{sockdir}/n{i}.sock"
        edit_config(n["home"], p2p_listen=f"{lab.addr(i)}:{P2P_PORT}", peers=peers, grpc_listen=grpc,
                    metrics_listen="")
        nodes.append(NetnsNodeProc(n["home"], grpc, lab.names[i]))
    d.nodes = nodes

    def stop():
        for n in nodes:  # processes first: the namespaces go in lab's finalizer, registered before
            n.stop()

    request.addfinalizer(stop)
    d.start()
    return d


def test_link_cut_then_heal_under_load(net, lab):
    # the validators really are apart: each p2p address exists only in its own namespace
    r = subprocess.run(["ip", "netns", "exec", lab.names[0], "ip", "-4", "-o", "addr", "show", "dev", "eth0"],
                       capture_output=True, text=True, timeout=30)
    assert f"{lab.addr(0)}/24" in r.stdout
    load = Load(net, batch=10)
    load.start()
    try:
        net.wait_height(4, timeout=60)
        pub3 = bytes.fromhex(net.desc["nodes"][3]["pubkey"])

        lab.cut(3)
        h_cut = net.height(3)
        # the three others keep committing, and validator 3 falls behind them
        net.wait_height(h_cut + 6, nodes=[0, 1, 2], timeout=60)
        assert net.height(3) <= h_cut + 1, "validator 3 kept committing with its link down"
        acked_during_cut = len(load.acked)
        with net.nodes[0].client() as c:
            wait_until(lambda: len(load.acked) > acked_during_cut, 60, "transfers committed without validator 3")

        lab.heal(3)
        target = net.height(0)
        net.wait_height(target, nodes=[3], timeout=60)  # caught up (block sync)
        # and signs again: its precommit appears in the last commit of a later block
        with net.nodes[0].client() as c:
            def signed_again():
                top = c.status().height
                return any(pub3 in last_commit_signers(net, 0, x) for x in range(target, top))
            wait_until(signed_again, 60, "validator 3's precommit in a commit after the heal", poll=0.5)
    finally:
        load.stop()
    final_checks(net, load)
