"""The runtime's caches of loaded law modules (and the chain's of compiled versions) change
nothing but time: a warm cache and a cold one give the same results, gas, events and state
roots, the warm charge for a module load is exactly the cold one (also at the gas and memory
limits), and nothing reaches one call from another through a kept module's globals.
"""

from __future__ import annotations

import random

import pytest

from chain import contract_host
from contracts.runtime import MemoryHost, compile_contract, execute, executor, gas
from contracts.runtime.errors import ErrorCode, Fault

from .helpers import entry

LAW = '''
LIBRARY = 1
TABLE = {"rates": [3, 10, 20], "names": ("a", "b"), "nested": {"x": [1, [2, 3]]}}
BIG = 2 ** 200 * 3
LIMITS = (100, 200, 300)
ENTRIES = ("poke", "append", "pay", "store", "who", "boom")
VIEWS = ("read", "rate")

def rate(i):
    return TABLE["rates"][i] * BIG // BIG

def read():
    return {"table": TABLE, "limits": LIMITS}

def poke():
    TABLE["rates"] = [0]

def append():
    TABLE["nested"]["x"].append(4)

def pay(to, amount):
    ctx.transfer(ctx.sender, to, amount)
    emit("paid", {"to": to, "amount": amount, "rate": rate(amount % 3)})
    return amount

def store(key, value):
    old = storage.get(key, [])
    storage.set(key, old + [value])
    return len(old) + 1

def who():
    return [ctx.sender, ctx.this, ctx.caller]

def boom(n):
    if n > 2:
        fail(7, "boom")
    return n
'''

# the same source under two names: a frame of one calls the other (one kept module, two frames)
TWIN = """
LIBRARY = 1
OTHER = {"contract:twin_a": "twin_b", "contract:twin_b": "twin_a"}
ENTRIES = ("main",)

def main(depth):
    if depth <= 0:
        return [ctx.this, ctx.caller]
    inner = call(OTHER[ctx.this], "main", {"depth": depth - 1})
    return [ctx.this, inner]  # this frame's globals, read after the other frame of the same code ended
"""


def _cold() -> None:
    """Forget everything the runtime and the chain keep between calls: a freshly started node."""
    executor._cache.clear()
    executor._local.__dict__.clear()
    contract_host._address_text.clear()
    contract_host._contract_text.clear()


def _host() -> MemoryHost:
    return MemoryHost(sender="alice", balances={"alice": 10**9, "bob": 10**9},
                      contracts={"law": LAW, "twin_a": TWIN, "twin_b": TWIN})


def _calls(seed: int) -> list[tuple]:
    rnd = random.Random(seed)
    out = []
    for _ in range(60):
        kind = rnd.randrange(8)
        sender = rnd.choice(["alice", "bob"])
        g = rnd.choice([10**6, 10**6, 10**6, rnd.randrange(0, 1500)])  # some run out during the module load
        if kind == 0:
            out.append(("law", "pay", {"to": rnd.choice(["bob", "carol"]), "amount": rnd.randrange(1, 1000)}, sender, g))
        elif kind == 1:
            out.append(("law", "store", {"key": rnd.choice("xyz"), "value": rnd.randrange(100)}, sender, g))
        elif kind == 2:
            out.append(("law", rnd.choice(["poke", "append"]), {}, sender, g))
        elif kind == 3:
            out.append(("law", "read", {}, sender, g))
        elif kind == 4:
            out.append(("law", "boom", {"n": rnd.randrange(5)}, sender, g))
        elif kind == 5:
            out.append(("law", "who", {}, sender, g))
        elif kind == 6:
            out.append((rnd.choice(["twin_a", "twin_b"]), "main", {"depth": rnd.randrange(4)}, sender, g))
        else:
            out.append(("law", "rate", {"i": rnd.randrange(3)}, sender, g))
    return out


def _run(calls: list[tuple], cold_each: bool) -> tuple[list, dict, dict]:
    host = _host()
    seen = []
    for name, fn, args, sender, g in calls:
        if cold_each:
            _cold()
        host._sender = sender
        c = compile_contract(name, host.contracts[name])
        r = execute(c, fn, args, host, g, read_only=fn in c.views)
        seen.append((name, fn, r.code, r.value, r.gas_used, r.events))
    return seen, dict(host.store), dict(host.balances)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_warm_and_cold_give_the_same_results_gas_events_and_state(seed):
    calls = _calls(seed)
    _cold()
    warm = _run(calls, cold_each=False)
    cold = _run(calls, cold_each=True)
    assert warm == cold
    codes = {row[2] for row in warm[0]}
    assert 0 in codes and int(ErrorCode.OUT_OF_GAS) in codes  # both successes and loads cut short were compared


def test_module_constants_never_change_between_calls():
    _cold()
    host = _host()
    c = compile_contract("law", LAW)
    first = execute(c, "read", {}, host, 10**6, read_only=True)
    for fn in ("poke", "append"):  # frozen: a tuple / read-only dict refuses, and the call fails
        r = execute(c, fn, {}, host, 10**6, read_only=False)
        assert r.code != 0
    again = execute(c, "read", {}, host, 10**6, read_only=True)
    assert first.code == again.code == 0
    assert again.value == first.value == {"table": {"names": ["a", "b"], "nested": {"x": [1, [2, 3]]}, "rates": [3, 10, 20]},
                                          "limits": [100, 200, 300]}
    assert again.gas_used == first.gas_used


def test_each_call_sees_its_own_context_through_a_kept_module():
    _cold()
    host = _host()
    c = compile_contract("law", LAW)
    out = []
    for sender in ("alice", "bob", "alice"):
        host._sender = sender
        out.append(execute(c, "who", {}, host, 10**6, read_only=False).value)
    assert [o[0] for o in out] == ["alice", "bob", "alice"]
    kit = executor._local.kit
    mod = kit.modules[c.code_hash]
    # released: the kept frame (its host objects' only reference onward) holds no machine, host or state
    assert not mod.busy and mod.frame is not None and mod.frame.machine is None
    assert all(mod.g[n]._f is mod.frame for n in ("ctx", "storage", "state"))
    assert all(mod.g[n].__self__ is mod.frame for n in ("emit", "call", "fail", "beacon"))


def test_a_failed_call_releases_the_kept_module():
    _cold()
    host = _host()
    c = compile_contract("law", LAW)
    assert execute(c, "boom", {"n": 1}, host, 10**6, read_only=False).code == 0
    r = execute(c, "boom", {"n": 3}, host, 10**6, read_only=False)
    assert r.code == int(ErrorCode.CONTRACT_ERROR) and r.value == {"error": 7, "detail": "boom"}
    mod = executor._local.kit.modules[c.code_hash]
    assert not mod.busy and mod.frame is not None and mod.frame.machine is None
    assert execute(c, "boom", {"n": 2}, host, 10**6, read_only=False).value == 2


def test_one_source_under_two_names_calling_each_other():
    """The kept module is busy in the outer frame: the inner frame of the same code loads fresh."""
    _cold()
    host = _host()
    a = compile_contract("twin_a", TWIN)
    outs = [execute(a, "main", {"depth": 1}, host, 10**6, read_only=True) for _ in range(3)]
    assert len({(r.code, repr(r.value), r.gas_used) for r in outs}) == 1
    assert outs[0].code == 0
    assert outs[0].value == ["contract:twin_a", ["contract:twin_b", "contract:twin_a"]]
    assert not executor._local.kit.modules[a.code_hash].busy


def _load_outcome(kit, contract, left: int, mem: int) -> tuple:
    m = gas.Meter(left)
    m.mem = mem
    kit.bind(m)
    try:
        g, mod = kit.load(contract, {}, m)
    except Fault as f:
        return ("fault", int(f.code), m.used, m.mem)
    if mod is not None:
        mod.release()
    return ("ok", m.left, m.mem)


def test_warm_load_charges_exactly_what_the_cold_load_charged_at_the_limits():
    """Gas left and memory in use just below, at and above what the module body needs."""
    c = compile_contract("law", LAW)
    warm = executor._Kit()
    m = gas.Meter(10**6)
    warm.bind(m)
    _, mod = warm.load(c, {}, m)
    mod.release()
    need_gas, need_mem = mod.gas, mod.mem
    assert need_gas == 10**6 - m.left > 0 and need_mem == m.mem > 0
    outcomes = set()
    for left in (0, need_gas - 1, need_gas, need_gas + 1):
        for mem in (0, gas.MEMORY_LIMIT - need_mem - 1, gas.MEMORY_LIMIT - need_mem, gas.MEMORY_LIMIT - need_mem + 1):
            cold = _load_outcome(executor._Kit(), c, left, mem)
            assert _load_outcome(warm, c, left, mem) == cold, (left, mem)
            outcomes.add(cold[:2] if cold[0] == "fault" else cold[0])
    assert outcomes == {"ok", ("fault", int(ErrorCode.OUT_OF_GAS)), ("fault", int(ErrorCode.MEMORY_LIMIT))}


def test_the_kept_modules_are_bounded():
    _cold()
    host = MemoryHost()
    for i in range(executor.MODULE_CACHE_SIZE + 5):
        src = entry(f"return {i}", prelude="LIBRARY = 1\n")
        assert execute(compile_contract(f"c{i}", src), "main", {}, host, 10**5, read_only=True).value == i
    assert len(executor._local.kit.modules) == executor.MODULE_CACHE_SIZE


# ---------------------------------------------------------------- the chain: state roots
def _chain_run(tmp, cold_each: bool) -> list:
    """Blocks of tax.pay_wage calls (some refused, some out of gas during the load) and transfers."""
    from chain.app import open_application
    from contracts.runtime.registry import law_sources
    from ledger.address import address_of, encode_address
    from ledger.crypto import PrivateKey
    from ledger.genesis import Genesis, GenesisAccount, GenesisLaw
    from ledger.state import Validator
    from ledger.store import ChainStore
    from ledger.tx import Call, Transfer, decode_tx, sign_tx

    chain = "cache-test"
    cb = PrivateKey.from_name("cb", salt="cache")
    emp = [PrivateKey.from_name(f"e{i}", salt="cache") for i in range(3)]
    cit = [PrivateKey.from_name(f"c{i}", salt="cache") for i in range(4)]
    accts = [GenesisAccount(address_of(cb.public), 10**12, "agency", ("central_bank", "treasury"), "cb")]
    accts += [GenesisAccount(address_of(k.public), 10**13, "enterprise", (), f"e{i}") for i, k in enumerate(emp)]
    accts += [GenesisAccount(address_of(k.public), 10**9, "citizen", (), f"c{i}") for i, k in enumerate(cit)]
    v = Validator(PrivateKey.from_name("v", salt="cache").public, 10, "v")
    laws = tuple(GenesisLaw(name=n, source=s) for n, s in sorted(law_sources().items()))
    g = Genesis(chain, 1_700_000_000_000, tuple(accts), (v,), {"max_block_txs": 100}, laws)
    store = ChainStore(str(tmp))
    app = open_application(store, g)
    laws_ = app.contracts
    if cold_each:
        orig = laws_.call_tx

        def cold_call(*a, **k):
            _cold()
            laws_._compiled.clear()
            laws_._versions.clear()
            return orig(*a, **k)

        laws_.call_tx = cold_call
    rnd = random.Random(5)
    nonces: dict = {}

    def sign(key, kind, payload):
        n = nonces.get(key.public, 0)
        nonces[key.public] = n + 1
        return sign_tx(key, chain, kind, payload, n, 10**9).raw

    out = []
    when = g.genesis_time_ms
    for b in range(6):
        raws = []
        for i in range(8):
            e = emp[i % 3]
            who = encode_address(address_of(cit[rnd.randrange(4)].public))
            gross = rnd.choice([2_000_000, 3_000_000, 50_000])
            si = rnd.choice([0, 100_000])  # above gross 50,000: the law refuses
            limit = rnd.choice([1_000_000, 1_000_000, 600, 1_500, 3_000])  # small ones end in the module load
            raws.append(sign(e, "call", Call("tax", "pay_wage", {"employee": who, "gross": gross, "social_insurance": si}, limit)))
            if i % 3 == 0:
                raws.append(sign(cit[i % 4], "transfer", Transfer(to=address_of(cit[(i + 1) % 4].public), amount=7)))
        st = app.state()
        for raw in raws:
            tx = decode_tx(raw)
            assert tx.verify_signature()
            app.mempool.add(tx, st, app.height + 1, verified=True)
        when += 1000
        ex = app.build_block(when, v.pubkey, None)
        app.commit(ex, None)
        out.append((ex.block.header.state_root, [(r.code, r.gas_used, r.events, r.result) for r in ex.receipts]))
    store.close()
    return out


def test_chain_warm_and_cold_give_the_same_receipts_and_state_roots(tmp_path):
    _cold()
    warm = _chain_run(tmp_path / "warm", cold_each=False)
    cold = _chain_run(tmp_path / "cold", cold_each=True)
    assert warm == cold
    codes = [code for _, rs in warm for code, *_ in rs]
    assert 0 in codes and len(set(codes)) >= 3  # successes, refusals and loads cut short all compared


# ---------------------------------------------------------------- boundary copies
def _reference_plain(m, v, depth):
    """The boundary walk as it was before the inline fast paths (hostapi._plain at d249055)."""
    from types import MappingProxyType

    from contracts.runtime.hostapi import WIRE_NODE, text_ok
    from ledger import codec

    if depth > codec.MAX_DEPTH:
        raise Fault(ErrorCode.NOT_ENCODABLE)
    t = type(v)
    if v is None or t is bool or t is int:
        return v
    if t is str:
        n = len(v)
        if v.isascii():
            m.work(n)
        else:
            m.work(4 * n)
            if not text_ok(v):
                raise Fault(ErrorCode.NOT_ENCODABLE)
        return v
    if t is bytes:
        m.work(len(v))
        return v
    if t is list or t is tuple:
        n = len(v)
        m.reserve(n * gas.SLOT + gas.OBJECT)
        m.elems(n * WIRE_NODE)
        return [_reference_plain(m, x, depth + 1) for x in v]
    if t is dict or t is MappingProxyType:
        n = len(v)
        m.reserve(n * gas.ENTRY + gas.OBJECT)
        m.elems(n * WIRE_NODE)
        out = {}
        for k, x in v.items():
            if type(k) is not str:
                raise Fault(ErrorCode.NOT_ENCODABLE)
            out[_reference_plain(m, k, depth + 1)] = _reference_plain(m, x, depth + 1)
        return out
    raise Fault(ErrorCode.NOT_ENCODABLE)


def _reference_copy(m, value):
    """copy_value as it was: walk, codec.encode, then decode the bytes (from_wire)."""
    from ledger import codec

    before = m.mem
    plain = _reference_plain(m, value, 0)
    try:
        raw = codec.encode(plain)
    except codec.CodecError:
        raise Fault(ErrorCode.NOT_ENCODABLE) from None
    m.work(len(raw) * 2)
    size = m.mem - before + gas.OBJECT
    m.work(len(raw))
    out = codec.decode(raw)
    m.alloc(size + gas.OBJECT)
    return raw, out


_SCALARS = [None, True, False, 0, -1, 7, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**63) - 1, 2**300,
            "", "abc", "\u00e9" * 3, "\ud800", b"", b"\x00\xff", "k" * 300]
_KEYS = ["b", "a", "z", "\u00e9", "aa", "A", "_", "\ud800", "10", "9"]


def _random_value(rnd: random.Random, depth: int = 0):
    from types import MappingProxyType

    if depth == 0 and rnd.random() < 0.08:  # a chain around the depth limit (32)
        v = rnd.choice(_SCALARS)
        for _ in range(rnd.randrange(29, 36)):
            v = [v] if rnd.random() < 0.5 else {rnd.choice(_KEYS): v}
        return v
    r = rnd.random()
    if depth >= 4 or r < 0.35:
        return rnd.choice(_SCALARS)
    n = rnd.randrange(0, 6)
    if r < 0.6:
        items = [_random_value(rnd, depth + 1) for _ in range(n)]
        return items if rnd.random() < 0.7 else tuple(items)
    d = {rnd.choice(_KEYS): _random_value(rnd, depth + 1) for _ in range(n)}
    if rnd.random() < 0.05:
        d[rnd.choice([1, b"x", None])] = 1
    return d if rnd.random() < 0.8 else MappingProxyType(d)


def _outcome(fn, value, left: int, mem: int):
    m = gas.Meter(left)
    m.mem = mem
    try:
        out = fn(m, value)
    except Fault as f:
        return ("fault", int(f.code), m.used, m.mem)
    return ("ok", repr(out), m.left, m.mem)


def test_boundary_copies_charge_and_answer_as_before():
    """copy_value and _encode against the walk-encode-decode they replace: same bytes, same copy
    (key order included), same gas and memory, the same faults at the same meter readings."""
    from contracts.runtime import hostapi

    rnd = random.Random(11)
    faults = set()
    for i in range(1500):
        v = _random_value(rnd)
        if i % 3 == 0:
            v = {"z": v, "a": [v, (v,)], "m": {"y": 1, "b": "x"}}
        left = rnd.choice([10**9, rnd.randrange(0, 400)])
        mem = rnd.choice([0, gas.MEMORY_LIMIT - rnd.randrange(0, 3000)])
        ref = _outcome(lambda m, x: _reference_copy(m, x)[1], v, left, mem)
        new = _outcome(hostapi.copy_value, v, left, mem)
        assert new == ref, (v, left, mem)
        ref_raw = _outcome(lambda m, x: _reference_copy(m, x)[0], v, 10**9, 0)
        new_raw = _outcome(lambda m, x: hostapi._encode(m, x)[0], v, 10**9, 0)
        assert new_raw[:2] == ref_raw[:2]
        if ref[0] == "fault":
            faults.add(ref[1])
    assert {int(ErrorCode.NOT_ENCODABLE), int(ErrorCode.OUT_OF_GAS), int(ErrorCode.MEMORY_LIMIT)} <= faults


def test_boundary_copies_fail_at_the_same_gas_as_before():
    """The walk ticks a container's scalar charges as one sum (hostapi._plain): at every gas
    limit around what a copy needs, the same answer, fault, gas and memory as the walk that
    ticked each element."""
    from types import MappingProxyType

    from contracts.runtime import hostapi

    event = {"law": "tax", "version": 1, "kind": "iit_wage", "payer": "esoc1" + "q" * 38, "amount": 12345,
             "params": {"iit_brackets": 20190101, "iit_basic_deduction_monthly": 20190101}, "year": 2023,
             "treasury": "esoc1" + "p" * 38, "gross": 2 ** 70, "month": None, "ok": True}
    values = [event, {"b": 1, "a": "x" * 17}, ["a" * 9, 1, None, "b", [2, "c" * 30]], ("x", "\u00e9", 3),
              {"k": "\ud800"}, {"z": 1, 2: 3}, {"a": b"\x00" * 20, "b": 1}, MappingProxyType({"y": "v", "x": [1]}),
              {"\u00e9": 1, "a": "b"}, [], {}, [[["deep"] * 3] * 2, {"q": "r" * 64}], ["y" * 5000] * 50,
              {"a": "y" * 5000, "b": "y" * 5000, "c": 1}, [1, True, None, 2 ** 64], {"n": 1, "m": None, "b": False},
              {"a": 1, "b": "x", "c": "\u00e9"}, ["a", "\ud800"], ["a", b"b"]]
    checked = 0
    for v in values:
        full = _outcome(lambda m, x: _reference_copy(m, x)[1], v, 10**9, 0)
        need = 10**9 - full[2] if full[0] == "ok" else 300
        for left in range(max(0, need - 80), need + 2):
            ref = _outcome(lambda m, x: _reference_copy(m, x)[1], v, left, 0)
            assert _outcome(hostapi.copy_value, v, left, 0) == ref, (v, left)
            checked += ref[0] == "fault" and ref[1] == int(ErrorCode.OUT_OF_GAS)
    assert checked > 300


def test_the_remembered_key_sets_are_bounded():
    """Key sets of dicts copied are kept by number and by length: long keys are never kept."""
    from contracts.runtime import hostapi

    hostapi._SHAPES.clear()
    m = gas.Meter(10**12)
    long_key = "k" * (hostapi.SHAPE_CHARS + 1)
    for i in range(hostapi.SHAPES + 10):
        m.mem = 0
        hostapi.copy_value(m, {f"a{i}": 1, "b": "x"})
        hostapi.copy_value(m, {long_key + str(i): 1})
        assert len(hostapi._SHAPES) <= hostapi.SHAPES
    assert all(sum(map(len, keys)) <= hostapi.SHAPE_CHARS for keys in hostapi._SHAPES)
    assert hostapi.copy_value(m, {long_key: 1, "a": "b"}) == {"a": "b", long_key: 1}


def _reference_load(raw):
    from contracts.runtime.hostapi import measure
    from ledger import codec

    try:
        value = codec.decode(raw)
    except codec.CodecError:
        return "refused"
    return (repr(value), *measure(value))


def _new_load(raw):
    from contracts.runtime.hostapi import load
    from ledger import codec

    try:
        value, *counts = load(raw)
    except codec.CodecError:
        return "refused"
    return (repr(value), *counts)


def test_storage_decode_gives_the_codecs_verdicts_values_and_measures():
    """hostapi.load (one walk) against codec.decode then measure, on canonical bytes, on every
    kind of non-canonical input and on random mutations of canonical bytes."""
    import msgpack

    from ledger import codec

    rnd = random.Random(13)
    samples = [b"", b"\xc1", b"\xcc\x05", b"\xd1\x00\x01", b"\xca\x00\x00\x00\x00", b"\xc7\x01\x05x",
               msgpack.packb({"b": 1, "a": 2}), msgpack.packb([{"b": 1, "a": 2}]), b"\x82\xa1a\x01\xa1a\x02",
               msgpack.packb({b"k": 1}, use_bin_type=True), msgpack.packb(1.5), msgpack.packb([1]) + b"\x00",
               msgpack.packb({"\u00e9": 1, "z": 2}), msgpack.packb({"z": 1, "\u00e9": 2}),
               b"\xa2\xed\xa0", codec.encode(2**64 - 1), codec.encode(-(2**63)), codec.encode(2**200 // 2**140)]
    for depth in (31, 32, 33, 34):
        v: object = 1
        for _ in range(depth):
            v = [v]
        samples.append(msgpack.packb(v))
    for _ in range(600):
        try:
            raw = codec.encode(_random_value(rnd))
        except codec.CodecError:
            continue
        samples.append(raw)
        m = bytearray(raw)
        op = rnd.randrange(4)
        if op == 0 and m:
            m[rnd.randrange(len(m))] = rnd.randrange(256)
        elif op == 1 and m:
            del m[rnd.randrange(len(m)):]
        elif op == 2:
            m.insert(rnd.randrange(len(m) + 1), rnd.randrange(256))
        else:
            m += bytes([rnd.randrange(256)])
        samples.append(bytes(m))
    verdicts = set()
    for raw in samples:
        ref = _reference_load(raw)
        assert _new_load(raw) == ref, raw
        verdicts.add(ref == "refused")
    assert verdicts == {True, False}


def test_the_recursion_limit_is_raised_above_a_deep_caller():
    """_ensure_interpreter asks whether the stack is deeper than the limit allows (one probe) and
    walks it only then: a call made under a deep Python stack still finds the headroom it needs."""
    import sys

    old = sys.getrecursionlimit()
    try:
        def deep(n):
            if n == 0:
                here = len(_frames())
                sys.setrecursionlimit(here + executor.STACK_HEADROOM - 5)  # 5 frames short of the need
                executor._ensure_interpreter()
                return here, sys.getrecursionlimit()
            return deep(n - 1)

        sys.setrecursionlimit(max(old, 5000))
        here, limit = deep(300)
        assert limit >= here + executor.STACK_HEADROOM
        sys.setrecursionlimit(10**5)
        executor._ensure_interpreter()
        assert sys.getrecursionlimit() == 10**5  # enough already: left alone
    finally:
        sys.setrecursionlimit(old)


def _frames() -> list:
    import sys

    out = []
    f = sys._getframe(1)
    while f is not None:
        out.append(f)
        f = f.f_back
    return out


TWIN_STORE = """
LIBRARY = 1
ENTRIES = ("put",)
VIEWS = ("get",)

def put(v):
    storage.set("k", v)
    emit("put", {"v": v})

def get():
    return [ctx.this, storage.get("k")]
"""


def test_one_source_under_two_names_one_after_the_other():
    """The kept module (by code hash) serves both names in turn: each frame is its own contract's
    (its storage, its events, its address), never the name the module was first loaded for."""
    _cold()
    host = MemoryHost(sender="alice", contracts={"st_a": TWIN_STORE, "st_b": TWIN_STORE})
    a, b = compile_contract("st_a", TWIN_STORE), compile_contract("st_b", TWIN_STORE)
    assert a.code_hash == b.code_hash
    for i in range(3):
        assert execute(a, "put", {"v": 10 + i}, host, 10**6, read_only=False).events == [
            {"contract": "st_a", "name": "put", "data": {"v": 10 + i}}]
        assert execute(b, "put", {"v": 20 + i}, host, 10**6, read_only=False).events == [
            {"contract": "st_b", "name": "put", "data": {"v": 20 + i}}]
        assert execute(a, "get", {}, host, 10**6, read_only=True).value == ["contract:st_a", 10 + i]
        assert execute(b, "get", {}, host, 10**6, read_only=True).value == ["contract:st_b", 20 + i]
    assert host.store[("st_a", "k")] != host.store[("st_b", "k")]
