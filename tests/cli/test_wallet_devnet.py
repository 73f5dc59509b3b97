"""The wallet's transaction paths on a real validator process: dry run equals the real receipt,
offline signing then broadcast, law errors by name, payroll with bad rows and a harmless re-run."""

from __future__ import annotations

import json
import socket

import pytest

from tests.e2e.harness import Devnet

pytestmark = pytest.mark.slow

YUAN = 100


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    d = Devnet(str(tmp_path_factory.mktemp("wallet")), validators=1).start()
    out = json.loads(d.cli("tx", "call", "tax", "set_treasury", "--from", "treasury", "--wait", "--json").stdout)
    assert out["code"] == 0 and out["status"] == "committed"
    yield d
    d.stop()


def j(r):
    return json.loads(r.stdout)


def balance(net, who):
    return j(net.cli("account", who, "--json"))["balance"]


SHAPE = {"status", "hash", "kind", "from", "nonce", "expiry", "height", "code", "code_name", "gas_used", "result",
         "events", "error", "file"}


def test_dry_run_equals_the_real_receipt(net):
    for args in (["tx", "send", "--from", "alice", "--to", "bob", "--amount", "777"],
                 ["tx", "call", "tax", "pay_wage", "--from", "bakery", "--args",
                  json.dumps({"employee": "carol", "gross": 8_000 * YUAN, "social_insurance": 800 * YUAN})],
                 ["tx", "wage", "--from", "clinic", "--employee", "dan", "--gross", str(12_000 * YUAN)],
                 ["tx", "issue", "--from", "central-bank", "--to", "treasury", "--amount", "500"]):
        before = balance(net, "bob")
        dry = j(net.cli(*args, "--dry-run", "--json", password="not-needed"))  # a dry run signs nothing
        assert set(dry) == SHAPE and dry["status"] == "simulated" and dry["code"] == 0, dry
        assert balance(net, "bob") == before  # nothing was submitted
        real = j(net.cli(*args, "--wait", "--json"))
        assert set(real) == SHAPE and real["status"] == "committed"
        for k in ("code", "gas_used", "result", "events"):
            assert dry[k] == real[k], (args, k, dry[k], real[k])
    # the committed law call shows its result and the tax_collected event, for people too
    human = net.cli("tx", "call", "tax", "pay_wage", "--from", "bakery", "--wait", "--args",
                    json.dumps({"employee": "erin", "gross": 9_000 * YUAN})).stdout
    assert "committed call" in human and "tax " in human and "net " in human and "event   tax_collected" in human


def test_refused_law_call_names_the_laws_error(net):
    args = ["tx", "call", "tax", "pay_wage", "--from", "bakery", "--args", json.dumps({"employee": "bakery", "gross": 1})]
    dry = net.cli(*args, "--dry-run", "--json", check=False)
    assert dry.returncode == 1
    real = net.cli(*args, "--wait", "--json", check=False)
    assert real.returncode == 1
    d, r = j(dry), j(real)
    assert r["status"] == "failed" and r["error"]["name"] == "tax.E_BAD_ARGUMENT" and "another account" in r["error"]["detail"]
    assert d["error"] == r["error"] and d["code"] == r["code"]
    shown = net.cli("tx", "show", r["hash"]).stdout
    assert "tax.E_BAD_ARGUMENT" in shown and "another account" in shown
    # an account argument that is neither an address nor a key: refused before signing
    bad = net.cli("tx", "call", "tax", "pay_wage", "--from", "bakery", "--args", json.dumps({"employee": "nobody-here", "gross": 1}),
                  check=False)
    assert bad.returncode == 1 and "neither a valid address nor a key" in bad.stderr


def test_offline_sign_then_broadcast(net, tmp_path):
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    dead = f"127.0.0.1:{port.getsockname()[1]}"
    port.close()
    acct = j(net.cli("account", "alice", "--json"))
    height = j(net.cli("status", "--json"))["height"]
    out = str(tmp_path / "pay.json")
    # no node reachable: the chain id comes from the wallet's trusted genesis
    r = net.cli("--node", dead, "tx", "send", "--from", "alice", "--to", "bob", "--amount", "4321", "--offline",
                "--nonce", str(acct["nonce"]), "--expiry", str(height + 200), "--out", out, "--json")
    signed = j(r)
    assert signed["status"] == "signed" and signed["file"] == out and set(signed) == SHAPE
    before = balance(net, "bob")
    done = j(net.cli("tx", "broadcast", out, "--wait", "--json"))
    assert done["status"] == "committed" and done["hash"] == signed["hash"]
    assert balance(net, "bob") == before + 4321
    r = net.cli("tx", "send", "--from", "alice", "--to", "bob", "--amount", "1", "--offline", check=False)
    assert r.returncode == 1 and "--nonce" in r.stderr


def test_payroll_preview_run_and_rerun(net, tmp_path):
    csv_path = tmp_path / "march.csv"
    lines = ["employee,gross,social_insurance,special_additional"]
    for i in range(8):
        lines.append(f"{['alice', 'bob', 'carol', 'dan'][i % 4]},{(5_000 + i * 1_000) * YUAN},{300 * YUAN},0")
    lines.insert(3, "nobody-at-all,100000,0,0")  # line 4: unknown employee
    lines.insert(6, "bob,-5,0,0")  # line 7: bad amount
    csv_path.write_text("\n".join(lines) + "\n")
    results = tmp_path / "out.csv"
    base = ["--from", "steelworks", "--period", "203001"]
    pv = j(net.cli("payroll", "preview", str(csv_path), *base, "--json", check=False))
    assert pv["summary"]["by_status"] == {"bad_row": 2, "would_pay": 8}
    assert any(e.startswith("line 4:") for e in pv["summary"]["bad_rows"]) and any(e.startswith("line 7:") for e in pv["summary"]["bad_rows"])
    before = balance(net, "steelworks")
    r = net.cli("payroll", "run", str(csv_path), *base, "--results", str(results), "--json", check=False)
    s = j(r)["summary"]
    assert s["by_status"] == {"bad_row": 2, "paid": 8}, s
    assert s["tax"] == pv["summary"]["tax"] and s["net"] == pv["summary"]["net"]
    assert before - balance(net, "steelworks") == s["gross"]
    rows = results.read_text().splitlines()
    assert len(rows) == 11 and rows[0].startswith("line,employee,gross,status,tax,net,tx,height,error")
    # the same file again: nobody is paid twice
    mid = balance(net, "steelworks")
    s2 = j(net.cli("payroll", "run", str(csv_path), *base, "--results", str(results), "--json", check=False))["summary"]
    assert s2["by_status"] == {"already_paid": 8, "bad_row": 2} and balance(net, "steelworks") == mid
