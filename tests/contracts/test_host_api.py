"""Storage bounds, read-only views, cross-contract calls, transfers, events,
rollback of failed calls, and host failures turning into SandboxBreach."""

from __future__ import annotations

import pytest

from contracts.runtime import ErrorCode, MemoryHost, SandboxBreach, compile_contract, execute
from contracts.runtime import hostapi

from . import sample_laws
from .helpers import entry, run_body, run_source


def make_host(**kw) -> MemoryHost:
    kw.setdefault("sender", "alice")
    kw.setdefault("balances", {"alice": 10**10, "contract:welfare": 10**9})
    kw.setdefault("roles", {"alice": {"registrar"}})
    kw.setdefault("contracts", {"income_tax": sample_laws.INCOME_TAX, "welfare": sample_laws.WELFARE})
    return MemoryHost(**kw)


def call(host, name, fn, args=None, *, read_only=False, gas=1_000_000):
    return execute(compile_contract(name, host.contracts[name]), fn, args or {}, host, gas, read_only=read_only)


# ------------------------------------------------------------------ storage
def test_storage_roundtrip_and_fresh_copies():
    host = make_host()
    body = "x = [1, {'a': 'b'}]\nstorage.set('k', x)\nx.append(2)\ny = storage.get('k')\ny.append(3)\nreturn [storage.get('k'), storage.has('k'), storage.has('z'), storage.get('z', 7)]"
    r = run_body(body, host=host)
    assert r.code == 0 and r.value == [[1, {"a": "b"}], True, False, 7]
    assert host.value("law", "k") == [1, {"a": "b"}]


def test_storage_delete_and_tuple_canonicalised():
    host = make_host()
    assert run_body("storage.set('a', (1, 2))\nstorage.set('b', 1)\nstorage.delete('b')", host=host).code == 0
    assert host.value("law", "a") == [1, 2] and host.value("law", "b") is None


@pytest.mark.parametrize("body,code", [
    ("storage.set('', 1)", ErrorCode.STORAGE_LIMIT),
    ("storage.set('k' * 129, 1)", ErrorCode.STORAGE_LIMIT),
    ("storage.set(1, 1)", ErrorCode.TYPE_ERROR),
    ("storage.set('k', b'x' * (64 * 1024))", ErrorCode.STORAGE_LIMIT),
    ("storage.set('k', range(3))", ErrorCode.NOT_ENCODABLE),
    ("storage.set('k', -2**64)", ErrorCode.NOT_ENCODABLE),
])
def test_storage_bounds(body, code):
    assert run_body(body).code == code


def test_storage_key_at_limit_is_fine():
    assert run_body("storage.set('k' * 128, b'x' * 60000)").code == 0


def test_per_contract_storage_limit(monkeypatch):
    monkeypatch.setattr(hostapi, "MAX_CONTRACT_STORAGE", 10_000)
    host = make_host()
    r = run_body("for i in range(5):\n    storage.set(str(i), 'x' * 1000)", host=host)
    assert r.code == 0
    r = run_body("for i in range(20):\n    storage.set('n' + str(i), 'x' * 1000)", host=host)
    assert r.code == ErrorCode.STORAGE_LIMIT
    # overwriting or deleting never trips the limit
    assert run_body("storage.set('0', 'y' * 900)\nstorage.delete('1')", host=host).code == 0


# ------------------------------------------------------------------ read-only
@pytest.mark.parametrize("body", [
    "storage.set('k', 1)", "storage.delete('k')", "emit('e', 1)", "ctx.transfer(ctx.sender, 'bob', 1)",
])
def test_read_only_calls_cannot_write(body):
    host = make_host()
    r = run_body(body, host=host, read_only=True)
    assert r.code == ErrorCode.READ_ONLY
    assert host.applied == 0


def test_views_are_read_only_even_in_a_transaction():
    src = entry("return 1").replace('ENTRIES = ("main",)', 'ENTRIES = ("main",)\nVIEWS = ("v",)') + "\ndef v():\n    storage.set('k', 1)\n"
    assert run_source(src, "v", read_only=False).code == ErrorCode.READ_ONLY


def test_a_view_called_from_an_entry_stays_read_only():
    host = make_host(contracts={"a": entry("return call('b', 'v', {})"), "b": "VIEWS = ('v',)\ndef v():\n    storage.set('x', 1)\n"})
    assert call(host, "a", "main").code == ErrorCode.READ_ONLY


# ------------------------------------------------------------------ cross-contract calls
def test_welfare_calls_tax_and_pays():
    host = make_host()
    assert call(host, "welfare", "register", {"who": "alice"}).code == 0
    r = call(host, "welfare", "claim", {"income": 100_000})
    assert r.code == 0 and r.value == 200_000
    assert host.balances["contract:welfare"] == 10**9 - 200_000
    assert r.events == [{"contract": "welfare", "name": "paid", "data": {"amount": 200_000, "to": "alice"}}]


def test_callee_sees_caller_as_ctx_caller_and_cannot_debit_sender():
    b = "ENTRIES = ('who', 'steal')\ndef who():\n    return [ctx.sender, ctx.caller, ctx.this]\ndef steal():\n    ctx.transfer(ctx.sender, ctx.this, 1)\n"
    host = make_host(contracts={"a": entry("return call('b', 'who')"), "b": b, "c": entry("call('b', 'steal')")})
    assert call(host, "a", "main").value == ["alice", "contract:a", "contract:b"]
    assert call(host, "c", "main").code == ErrorCode.NOT_AUTHORIZED


def test_callee_failure_fails_the_caller_and_nothing_is_written():
    b = "ENTRIES = ('boom',)\ndef boom():\n    storage.set('b', 1)\n    fail(7, 'no')\n"
    host = make_host(contracts={"a": entry("storage.set('a', 1)\nemit('x', 1)\ncall('b', 'boom')"), "b": b})
    r = call(host, "a", "main")
    assert r.code == ErrorCode.CONTRACT_ERROR and r.value == {"error": 7, "detail": "no"}
    assert host.store == {} and host.events == [] and host.applied == 0


def test_reentrancy_and_contract_depth():
    host = make_host(contracts={"a": entry("return call('b', 'main')"), "b": entry("return call('a', 'main')")})
    assert call(host, "a", "main").code == ErrorCode.REENTRANCY
    chain = {f"c{i}": entry(f"return call('c{i + 1}', 'main')") for i in range(12)}
    chain["c12"] = entry("return 1")
    host = make_host(contracts=chain)
    assert call(host, "c0", "main").code == ErrorCode.RECURSION_LIMIT
    assert call(host, "c6", "main").value == 1


@pytest.mark.parametrize("body,code", [
    ("return call('b', 'hidden')", ErrorCode.UNKNOWN_ENTRY),
    ("return call('b', 'main', {'x': 1})", ErrorCode.BAD_ARGS),
    ("return call('bad', 'main')", ErrorCode.CONTRACT_INVALID),
    ("return call('nope', 'main')", ErrorCode.UNKNOWN_CONTRACT),
    ("return call('b', 'main', [1])", ErrorCode.TYPE_ERROR),
])
def test_call_errors(body, code):
    host = make_host(contracts={"a": entry(body), "b": entry("return 1") + "\ndef hidden():\n    return 2\n",
                                "bad": "import os\n"})
    assert call(host, "a", "main").code == code


def test_state_read_sees_other_contracts_and_pending_writes():
    host = make_host(contracts={"a": entry("storage.set('k', 5)\nreturn [state.read('b', 'k'), state.read('a', 'k'), state.read('b', 'z', 0)]"),
                                "b": entry("storage.set('k', 9)")})
    assert call(host, "b", "main").code == 0
    assert call(host, "a", "main").value == [9, 5, 0]


# ------------------------------------------------------------------ money, roles, context
def test_transfer_rules():
    host = make_host(refuse_to={"frozen"})
    assert run_body("ctx.transfer(ctx.sender, 'bob', 5)", host=host).code == 0
    assert host.balances["bob"] == 5
    for body, code in [
        ("ctx.transfer(ctx.sender, 'bob', 0)", ErrorCode.VALUE_ERROR),
        ("ctx.transfer(ctx.sender, 'bob', -5)", ErrorCode.VALUE_ERROR),
        ("ctx.transfer(ctx.sender, 'bob', 10**11)", ErrorCode.INSUFFICIENT_FUNDS),
        ("ctx.transfer(ctx.sender, 'frozen', 1)", ErrorCode.TRANSFER_REFUSED),
        ("ctx.transfer('bob', 'alice', 1)", ErrorCode.NOT_AUTHORIZED),
        ("ctx.transfer(ctx.sender, 'bob', True)", ErrorCode.TYPE_ERROR),
    ]:
        assert run_body(body, host=host).code == code, body
    # pending balances are seen within the call
    body = "ctx.transfer(ctx.sender, ctx.this, 100)\nctx.transfer(ctx.this, 'bob', 100)\nreturn [ctx.balance(ctx.this), ctx.balance('bob')]"
    assert run_body(body, host=host).value == [0, 105]


def test_context_roles_and_beacon():
    host = make_host(height=9, time=86400 * 365, beacons={3: b"\x07" * 32})
    body = "return [ctx.sender, ctx.caller, ctx.this, ctx.height, ctx.time, ctx.has_role('alice', 'registrar'), ctx.has_role('bob', 'registrar'), beacon(3), beacon(4)]"
    r = run_body(body, host=host)
    assert r.value == ["alice", "alice", "contract:law", 9, 86400 * 365, True, False, b"\x07" * 32, None]
    assert run_body("return beacon(10)", host=host).code == ErrorCode.VALUE_ERROR


def test_events_and_fail():
    host = make_host()
    r = run_body("emit('a', {'x': (1, 2)})\nemit('b')\nreturn 0", host=host)
    assert r.events == [{"contract": "law", "name": "a", "data": {"x": [1, 2]}}, {"contract": "law", "name": "b", "data": None}]
    r = run_body("assert 1 > 2, 'bad'")
    assert (r.code, r.value) == (ErrorCode.CONTRACT_ERROR, {"error": 0, "detail": "bad"})
    r = run_body("assert False, 17")
    assert r.value == {"error": 17, "detail": ""}
    assert run_body("fail(-1)").code == ErrorCode.VALUE_ERROR


def test_entry_arguments():
    src = "ENTRIES = ('f',)\ndef f(a, b=2, *, c=3):\n    return [a, b, c]\n"
    assert run_source(src, "f", {"a": 1}).value == [1, 2, 3]
    assert run_source(src, "f", {"a": 1, "c": 9}).value == [1, 2, 9]
    for args in ({}, {"a": 1, "d": 1}, {"b": 1}):
        assert run_source(src, "f", args).code == ErrorCode.BAD_ARGS
    assert run_source(src, "nope", {}).code == ErrorCode.UNKNOWN_ENTRY
    assert run_source(src + "\ndef g():\n    return 1\n", "g", {}).code == ErrorCode.UNKNOWN_ENTRY


def test_arguments_are_copies():
    host = make_host()
    args = {"x": [1, 2]}
    src = "ENTRIES = ('f',)\ndef f(x):\n    x.append(3)\n    return x\n"
    r = execute(compile_contract("law", src), "f", args, host, 10_000, read_only=False)
    assert r.value == [1, 2, 3] and args == {"x": [1, 2]}


# ------------------------------------------------------------------ host failures are fatal
class BrokenHost(MemoryHost):
    def storage_get(self, contract, key):
        raise KeyError("disk gone")


def test_host_exception_is_a_sandbox_breach_not_a_result():
    with pytest.raises(SandboxBreach):
        run_body("return storage.get('k')", host=BrokenHost())


def test_no_state_leaks_between_calls():
    src = "ENTRIES = ('f',)\nSEEN = {'n': 0}\ndef f():\n    c = SEEN.copy()\n    c['n'] = c['n'] + 1\n    return c['n']\n"
    contract = compile_contract("law", src)
    host = make_host()
    assert [execute(contract, "f", {}, host, 10_000, read_only=True).value for _ in range(3)] == [1, 1, 1]
