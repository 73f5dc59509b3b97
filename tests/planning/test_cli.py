"""``esoc plan`` without a node: bad input and an unreachable node are one line and exit status 1."""

from __future__ import annotations

from click.testing import CliRunner

from cli.plan import plan
from tests.e2e.harness import free_port


def test_a_bad_period_is_a_user_error():
    r = CliRunner().invoke(plan, ["compute", "2026-01"])
    assert r.exit_code == 1 and "esoc: error: a period is a month YYYYMM, not '2026-01'" in r.output
    r = CliRunner().invoke(plan, ["verify", "202613"])
    assert r.exit_code == 1 and "a period is a month YYYYMM" in r.output


def test_an_unreachable_node_is_one_line():
    r = CliRunner().invoke(plan, ["products", "--node", f"127.0.0.1:{free_port()}"])
    assert r.exit_code == 1 and "esoc: error: cannot reach a node" in r.output and "Traceback" not in r.output


def test_every_command_has_help():
    for name in ("products", "compute", "verify", "show", "scorecard", "suggestions", "reserve", "request", "follow",
                 "declare", "close"):
        r = CliRunner().invoke(plan, [name, "--help"])
        assert r.exit_code == 0 and "--json" in r.output, name
