"""`esoc node init` writes the operator's TLS and log settings; `esoc node reload` sends SIGHUP."""

from __future__ import annotations

import os
import signal
import subprocess

from click.testing import CliRunner

from cli.main import cli
from node.config import Home, NodeConfig


def test_init_writes_tls_log_and_drift_settings(tmp_path):
    home = str(tmp_path / "n")
    r = CliRunner().invoke(cli, ["node", "init", "--home", home, "--tls-cert", "cert.pem", "--tls-key", "key.pem",
                                 "--tls-client-ca", "ca.pem", "--tls-client-allow", "ab" * 32, "--log-format", "json",
                                 "--block-time-drift-ms", "2000"])
    assert r.exit_code == 0, r.output
    cfg = NodeConfig.load(Home(home).config_file)
    assert (cfg.tls_cert, cfg.tls_key, cfg.tls_client_ca) == ("cert.pem", "key.pem", "ca.pem")
    assert cfg.tls_client_allow == ["ab" * 32] and cfg.log_format == "json" and cfg.block_time_drift_ms == 2000


def test_init_refuses_half_a_tls_setup(tmp_path):
    r = CliRunner().invoke(cli, ["node", "init", "--home", str(tmp_path / "n"), "--tls-cert", "cert.pem"])
    assert r.exit_code == 1 and "--tls-cert and --tls-key go together" in r.output
    r = CliRunner().invoke(cli, ["node", "init", "--home", str(tmp_path / "m"), "--tls-client-ca", "ca.pem"])
    assert r.exit_code == 1 and "needs --tls-cert" in r.output


def test_reload_signals_the_pid_in_the_home(tmp_path):
    home = tmp_path / "n"
    home.mkdir()
    r = CliRunner().invoke(cli, ["node", "reload", "--home", str(home)])
    assert r.exit_code == 1 and "no running node" in r.output
    proc = subprocess.Popen(["sleep", "60"])  # SIGHUP ends a sleep: proof the signal went to the named pid
    try:
        (home / "node.pid").write_text(f"{proc.pid}\n")
        r = CliRunner().invoke(cli, ["node", "reload", "--home", str(home)])
        assert r.exit_code == 0, r.output
        assert proc.wait(timeout=10) == -signal.SIGHUP
    finally:
        if proc.poll() is None:
            proc.kill()
    os.remove(home / "node.pid")
    (home / "node.pid").write_text("not a pid\n")
    assert CliRunner().invoke(cli, ["node", "reload", "--home", str(home)]).exit_code == 1
