"""``esoc plan`` without a node: bad input and an unreachable node are one line and exit status 1.

Commands are invoked through the root group (``esoc plan ...``), as people type them: invoking the
``plan`` group alone would leave click's cached help options without the root's ``-h``
(tests/cli/test_help.py's snapshot would then differ)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import cli
from tests.e2e.harness import free_port


def test_a_bad_period_is_a_user_error():
    r = CliRunner().invoke(cli, ["plan", "compute", "2026-01"])
    assert r.exit_code == 1 and "esoc: error: a period is a month YYYYMM, not '2026-01'" in r.output
    r = CliRunner().invoke(cli, ["plan", "verify", "202613"])
    assert r.exit_code == 1 and "a period is a month YYYYMM" in r.output


def test_an_unreachable_node_is_one_line():
    r = CliRunner().invoke(cli, ["plan", "products", "--node", f"127.0.0.1:{free_port()}"])
    assert r.exit_code == 1 and "esoc: error: cannot reach a node" in r.output and "Traceback" not in r.output


def test_every_command_has_help():
    for name in ("products", "compute", "verify", "show", "scorecard", "suggestions", "reserve", "request", "follow",
                 "declare", "close"):
        r = CliRunner().invoke(cli, ["plan", name, "--help"])
        assert r.exit_code == 0 and "--json" in r.output, name


# ---------------------------------------------------------------- TLS: every command takes --tls-ca as the others do
READS = [["products"], ["compute", "202601"], ["verify"], ["verify", "202601"], ["show", "steel"],
         ["show", "steel", "--last", "202601"], ["scorecard"], ["suggestions"]]
WRITES = [["reserve", "steel", "202601", "5"], ["request", "oats", "Oat milk"], ["follow", "1"],
          ["declare", "steel", "202601", "--production", "5", "--inventory", "0"], ["close", "202601"],
          ["compute", "202601", "--publish"]]


@pytest.fixture(scope="module")
def keystore(tmp_path_factory):
    """A keystore with one key (a fast KDF): the write commands unlock it before they connect."""
    from ledger.crypto import PrivateKey
    from wallet.keystore import Keystore

    path = str(tmp_path_factory.mktemp("ks"))
    ks = Keystore(path, ops=1, mem=8192)
    for name in ("anna", "planning-agency"):
        ks.add(name, PrivateKey.generate(), "pw")
    return path


@pytest.mark.parametrize("argv", READS + WRITES, ids=lambda a: " ".join(a))
@pytest.mark.parametrize("where", ["global", "before", "after"])
def test_every_command_connects_with_the_tls_ca_it_is_given(argv, where, keystore, tmp_path):
    """``esoc --tls-ca CA plan CMD ...``, ``esoc plan CMD --tls-ca CA ...`` and at the end: one meaning."""
    ca = str(tmp_path / "no-such-ca.pem")
    extra = ["--password", "pw"] + ([] if argv[0] in ("close", "compute") else ["--from", "anna"])
    args = argv + (extra if argv in WRITES else []) + ["--keystore", keystore, "--node", f"127.0.0.1:{free_port()}"]
    if where == "global":
        args = ["--tls-ca", ca, "plan"] + args
    else:
        args = ["plan"] + ([args[0], "--tls-ca", ca] + args[1:] if where == "before" else args + ["--tls-ca", ca])
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 1, r.output
    assert "esoc: error: cannot read the TLS CA file" in r.output and "no-such-ca.pem" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1


def test_the_env_ca_is_used_when_no_option_is_given(tmp_path):
    r = CliRunner().invoke(cli, ["plan", "scorecard", "--node", f"127.0.0.1:{free_port()}"],
                           env={"ESOC_TLS_CA": str(tmp_path / "env-ca.pem")})
    assert r.exit_code == 1 and "env-ca.pem" in r.output


@pytest.fixture
def tls_node(tmp_path):
    """A real node (home, LevelDB, every law at genesis) behind its gRPC server with a TLS certificate."""
    from node.grpc_api import start_grpc_server
    from node.service import Node
    from tests.node.certs import Pki
    from tests.node.conftest import make_home

    pki = Pki(str(tmp_path / "pki"))
    node = Node(make_home(tmp_path, tls_cert=pki.server.cert_path, tls_key=pki.server.key_path))
    target = f"127.0.0.1:{free_port()}"
    cfg = node.config
    server, servicer = start_grpc_server(node, target, None, cfg.submit_rate_per_s, cfg.submit_burst, tls=node.tls)
    node.grpc_servicer = servicer
    yield target, pki.ca_path
    server.stop(grace=0).wait()
    node.store.close()


def test_reading_a_tls_node_with_its_ca_works_and_without_it_does_not(tls_node):
    target, ca = tls_node
    # the node answers over TLS (its fresh home has committed no block yet: the law's answer says so)
    for argv in (["products"], ["scorecard"], ["show", "steel", "--last", "202601"], ["verify"]):
        r = CliRunner().invoke(cli, ["plan"] + argv + ["--node", target, "--tls-ca", ca])
        assert r.exit_code == 1 and "esoc: error: " in r.output and "planning" in r.output, r.output
        assert "cannot reach" not in r.output and "TLS" not in r.output
    r = CliRunner().invoke(cli, ["plan", "products", "--node", target])  # plaintext to a TLS node: no answer
    assert r.exit_code == 1 and "esoc: error: cannot reach a node" in r.output and "Traceback" not in r.output


def test_the_tables_print_the_forecasts_ahead():
    from cli.plan import _ahead_lines, _table

    it = {"product": "steel", "method": "ets-ana", "n": 36, "forecast": 100, "lo80": 90, "hi80": 110, "lo95": 85,
          "hi95": 115, "recommended": 95, "price_lo": 1, "price_hi": 2,
          "backtest": {"origins": 12, "mase_e3": 500, "naive_mase_e3": 900, "cov80_bps": 8_333, "cov95_bps": 10_000,
                       "h2_n": 11, "h2_mase_e3": 640, "h2_cov80_bps": 8_182},
          "ahead": [{"period": 202602, "forecast": 120, "lo80": 104, "hi80": 136, "lo95": 96, "hi95": 144}]}
    lines = _table([it]).splitlines()
    assert "h2 MASE 0.64, 80 % 82 %" in lines[1]
    assert lines[2].split() == ["then", "202602", "120", "104..136", "96..144"]
    assert lines[1].index("100") == lines[2].index("120")  # the forecasts line up
    rows = [{"period": 202601, "guidance": it}, {"period": 202602, "guidance": None}]
    assert _ahead_lines(rows) == ["ahead (guidance for 202601):",
                                  "202602                        120      104..136       96..144"]
    assert _ahead_lines([{"period": 202601, "guidance": dict(it, ahead=[])}]) == []
