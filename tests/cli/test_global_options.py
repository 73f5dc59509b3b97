"""Every global option means the same before and after the subcommand; env fallbacks; error rules."""

from __future__ import annotations

import json
import socket

import pytest


def closed_port() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"127.0.0.1:{port}"


@pytest.fixture
def two_keystores(tmp_path, esoc, fast_keystore):
    a, b = str(tmp_path / "ks-a"), str(tmp_path / "ks-b")
    assert esoc("--keystore", a, "wallet", "new", "anna", ESOC_PASSWORD="secret1").code == 0
    assert esoc("--keystore", b, "wallet", "new", "bert", ESOC_PASSWORD="secret1").code == 0
    return a, b


@pytest.mark.parametrize("where", ["before", "after"])
def test_keystore_and_json_in_either_position(esoc, two_keystores, where):
    a, b = two_keystores
    args = ["--keystore", b, "--json"]
    argv = [*args, "wallet", "list"] if where == "before" else ["wallet", "list", *args]
    r = esoc(*argv, ESOC_KEYSTORE=a)  # the option beats the environment
    assert r.code == 0, r.err
    assert [k["name"] for k in json.loads(r.out)] == ["bert"]


def test_keystore_env_fallback_and_human_output(esoc, two_keystores):
    a, _ = two_keystores
    r = esoc("wallet", "list", ESOC_KEYSTORE=a)
    assert r.code == 0 and "anna" in r.out and "bert" not in r.out and not r.out.lstrip().startswith("[")


def test_nearest_option_wins(esoc, two_keystores):
    a, b = two_keystores
    r = esoc("--keystore", a, "wallet", "list", "--keystore", b, "--json")
    assert [k["name"] for k in json.loads(r.out)] == ["bert"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_node_in_either_position(esoc, where):
    node = closed_port()
    argv = ["--node", node, "status"] if where == "before" else ["status", "--node", node]
    r = esoc(*argv, ESOC_NODE="127.0.0.1:1")
    assert r.code == 1 and node in r.err and "Traceback" not in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_node_env_fallback(esoc):
    node = closed_port()
    r = esoc("status", ESOC_NODE=node)
    assert r.code == 1 and node in r.err


@pytest.mark.parametrize("where", ["before", "after"])
def test_tls_ca_in_either_position(esoc, tmp_path, where):
    ca = str(tmp_path / "no-such-ca.pem")
    argv = ["--tls-ca", ca, "status"] if where == "before" else ["status", "--tls-ca", ca]
    r = esoc(*argv, ESOC_NODE=closed_port())
    assert r.code == 1 and "no-such-ca.pem" in r.err and "TLS" in r.err


def test_tls_ca_env_fallback(esoc, tmp_path):
    r = esoc("status", ESOC_NODE=closed_port(), ESOC_TLS_CA=str(tmp_path / "env-ca.pem"))
    assert r.code == 1 and "env-ca.pem" in r.err


@pytest.mark.parametrize("where", ["before", "after"])
def test_json_on_an_error_free_command(esoc, tmp_path, where):
    ks = str(tmp_path / "empty")
    argv = ["--json", "wallet", "list", "--keystore", ks] if where == "before" else ["wallet", "list", "--json", "--keystore", ks]
    r = esoc(*argv)
    assert r.code == 0 and json.loads(r.out) == []


def test_password_env_fallback_and_wrong_password(esoc, two_keystores):
    a, _ = two_keystores
    r = esoc("--keystore", a, "wallet", "export", "anna", "--mnemonic", ESOC_PASSWORD="wrong-one")
    assert r.code == 1 and "wrong password" in r.err and len(r.err.strip().splitlines()) == 1
    r = esoc("--keystore", a, "wallet", "export", "anna", "--mnemonic", "--json", ESOC_PASSWORD="secret1")
    assert r.code == 0 and len(json.loads(r.out)["mnemonic"].split()) == 24


def test_no_password_without_a_terminal(esoc, two_keystores):
    a, _ = two_keystores
    r = esoc("--keystore", a, "wallet", "export", "anna", "--mnemonic")
    assert r.code == 1 and "ESOC_PASSWORD" in r.err


def test_usage_errors_are_one_line_and_exit_2(esoc):
    r = esoc("tx", "send", "--to", "bob")
    assert r.code == 2 and "Traceback" not in r.err and ("--from" in r.err or "--amount" in r.err)
    assert r.err.startswith("esoc: error: ") and len(r.err.strip().splitlines()) == 1 and "esoc tx send --help" in r.err
    r = esoc("no-such-command")
    assert r.code == 2 and "No such command" in r.err and len(r.err.strip().splitlines()) == 1


def test_a_bug_prints_its_traceback(esoc, monkeypatch):
    import cli.wallet_cmd as w

    def boom(*a, **k):
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(w, "table", boom)
    r = esoc("wallet", "list")
    assert r.code == 70 and "Traceback" in r.err and "ZeroDivisionError: planted" in r.err and "bug" in r.err


def test_user_error_traceback_only_with_debug(esoc, tmp_path):
    r = esoc("tx", "show", "zz")
    assert r.code == 1 and "Traceback" not in r.err and "64 hex" in r.err
    r = esoc("tx", "show", "zz", ESOC_DEBUG="1")
    assert r.code == 1 and "Traceback" in r.err and "64 hex" in r.err


def test_devnet_explorer_port_reaches_run_devnet(esoc, monkeypatch):
    import cli.devnet as d

    seen = {}

    def fake_run_devnet(home, validators, base_port, explorer_port=None, time_step_ms=0, activity=True):
        seen.update(home=home, validators=validators, base_port=base_port, explorer_port=explorer_port,
                    time_step_ms=time_step_ms, activity=activity)
        return 0

    monkeypatch.setattr(d, "run_devnet", fake_run_devnet)
    r = esoc("devnet", "--explorer-port", "9191", "--validators", "2", "--home", "x", "--time-step-ms", "5")
    assert r.code == 0, r.err
    assert seen == {"home": "x", "validators": 2, "base_port": 50051, "explorer_port": 9191, "time_step_ms": 5,
                    "activity": True}
    r = esoc("devnet", "--home", "x", "--no-activity")
    assert r.code == 0, r.err
    assert seen["activity"] is False
