"""What an operator does to a running network, with real processes (issue 14 fault 12).

* ``esoc node start`` with TLS and JSON logs: the node writes JSON lines to
  ``HOME/node.log`` itself (its stdout and stderr go nowhere), the CLI talks to
  it over TLS given the CA in ``ESOC_TLS_CA``, and not without it.
* A full node the validators do not allow yet: refused, it redials with a
  growing backoff (a handful of refusals, not hundreds); the operators add its
  key to ``allow_peers`` and send SIGHUP; it is linked to all four validators
  and follows the chain, without any validator restarting.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from cli.devnet import node_command

from .harness import ROOT, Devnet, NodeProc, edit_config, init_full_node, wait_until

pytestmark = pytest.mark.slow


class QuietNodeProc(NodeProc):
    """``esoc node start`` with its stdout and stderr discarded: only its own log file remains."""

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=ROOT, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(node_command(self.home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     env=env, cwd=ROOT)


def test_node_start_serves_tls_and_writes_json_lines_to_its_log(tmp_path, monkeypatch):
    from tests.node.certs import Pki

    pki = Pki(str(tmp_path / "pki"))
    net = Devnet(str(tmp_path / "net"), validators=1, log_level="info", log_format="json",
                 tls_cert=pki.server.cert_path, tls_key=pki.server.key_path)
    n = net.desc["nodes"][0]
    node = QuietNodeProc(n["home"], n["grpc"])
    monkeypatch.setenv("ESOC_TLS_CA", pki.ca_path)  # the harness's clients and the CLI read it
    node.start()
    try:
        node.wait_ready()
        net.nodes = [node]
        net.wait_height(2)
        r = net.cli("status", "--json")
        assert json.loads(r.stdout)["height"] >= 2
        monkeypatch.delenv("ESOC_TLS_CA")
        r = net.cli("status", check=False)  # plaintext against a TLS node: refused, one line
        assert r.returncode != 0 and "Traceback" not in r.stderr
        with open(os.path.join(n["home"], "node.log")) as f:
            lines = [json.loads(line) for line in f if line.strip()]  # every line is one JSON object
        msgs = [x["msg"] for x in lines]
        assert any("grpc listening on" in m and "(TLS)" in m for m in msgs), msgs[:5]
        assert any(m.startswith("committed height=") for m in msgs)
        assert {"ts", "level", "logger", "msg"} <= set(lines[0])
    finally:
        node.stop()


def _refusals(path: str) -> int:
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if "is not authorized to connect" in line)
    except FileNotFoundError:
        return 0


def test_unlisted_full_node_backs_off_and_is_admitted_on_sighup(tmp_path):
    net = Devnet(str(tmp_path / "net"), validators=4)
    full = init_full_node(net, "full")
    for n in net.desc["nodes"]:  # not allowed yet (init_full_node allowed it)
        edit_config(n["home"], allow_peers=[], log_level="info")
    started = []
    try:
        net.start()
        started.append(net)
        full.start()
        started.append(full)
        full.wait_ready()
        v0_log = net.nodes[0].log_path
        wait_until(lambda: _refusals(v0_log) >= 3, 60, "validator 0 to refuse the full node three times")
        with full.client() as fc:
            assert fc.status().height == 0  # refused by every validator: no block reached it
        # the operators allow it and reload; the full node is told to redial at once
        for n in net.desc["nodes"]:
            edit_config(n["home"], allow_peers=[full.pubkey.hex()])
        for p in net.nodes:
            p.proc.send_signal(signal.SIGHUP)
        refused = _refusals(v0_log)
        full.proc.send_signal(signal.SIGHUP)
        with full.client() as fc:
            wait_until(lambda: fc.status().peers == 4, 60, "the full node to be linked to the 4 validators")
            target = net.height(0) + 2
            wait_until(lambda: fc.status().height >= target, 60, "the full node to follow the chain")
        # refused with a growing backoff: a few attempts, where it used to be hundreds
        assert 3 <= refused <= 10, refused
        for p in [*net.nodes, full]:
            assert p.proc.poll() is None, p.log_tail()  # nobody restarted
        with open(v0_log, errors="replace") as f:
            assert "config reloaded" in f.read()
        net.nodes.append(full)
        net.check_agreement()
    finally:
        for x in reversed(started):
            x.stop()
