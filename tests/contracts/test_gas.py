"""The gas schedule: exact per-iteration and per-call charges, stickiness,
formatting-invariance, and size charges that grow with the work."""

from __future__ import annotations

import pytest

from contracts.runtime import ErrorCode, gas

from .helpers import entry, run_body, run_source


def gas_of(body: str, **kw) -> int:
    r = run_body(body, **kw)
    assert r.code == 0, ErrorCode(r.code).name
    return r.gas_used


def test_loop_iterations_cost_exactly_loop_plus_body_weight():
    # body "x += i": AugAssign(Name, Name) -> 1 stmt + 2 nodes = 3 -> LOOP + 3 per iteration
    src = "x = 0\nfor i in range(N):\n    x += i\nreturn 0"
    g0, g100 = gas_of(src.replace("N", "0")), gas_of(src.replace("N", "100"))
    assert g100 - g0 == 100 * (gas.LOOP + 3 * gas.NODE)


def test_while_charges_its_test_every_iteration():
    src = "i = 0\nwhile i < N:\n    i += 1\nreturn 0"
    g0, g50 = gas_of(src.replace("N", "0")), gas_of(src.replace("N", "50"))
    # per iteration: LOOP + (AugAssign: 1 + 2 nodes) + test nodes (Compare, Name, Constant)
    assert g50 - g0 == 50 * (gas.LOOP + 3 + 3)


def test_function_call_costs_call_plus_body():
    prelude = "def f(x):\n    return x\n"
    g0 = gas_of("return 0", prelude=prelude)
    g1 = gas_of("return f(0)", prelude=prelude)
    # callee: CALL + Return(1 + Name) ; caller statement grows by Call + Name(f)
    assert g1 - g0 == gas.CALL + 2 + 2


def test_comprehension_elements_are_charged():
    g0 = gas_of("v = [x for x in range(0)]\nreturn 0")
    g10 = gas_of("v = [x for x in range(10)]\nreturn 0")
    per = gas.LOOP + 1 + gas.SLOT // 8  # elt is one Name; one list slot
    assert g10 - g0 == 10 * per


@pytest.mark.parametrize("variant", [
    "total = 0\nfor i in range(20):\n    total += i * 2\nreturn total",
    "total = 0\nfor i in range(20): total += i * 2\nreturn total",
    "# comment\ntotal = 0  # another\nfor  i  in  range( 20 ):\n\n    total   +=   i*2\nreturn total",
    "acc = 0\nfor k in range(20):\n    acc += k * 2\nreturn acc",
])
def test_gas_does_not_depend_on_formatting(variant):
    base = gas_of("total = 0\nfor i in range(20):\n    total += i * 2\nreturn total")
    assert gas_of(variant) == base


def test_out_of_gas_is_exact_and_sticky():
    body = "x = 0\nfor i in range(1000):\n    x += 1\nreturn x"
    need = gas_of(body)
    assert run_body(body, gas=need).code == 0
    r = run_body(body, gas=need - 1)
    assert r.code == ErrorCode.OUT_OF_GAS and r.gas_used == need - 1
    # a one-line infinite loop ends with OUT_OF_GAS and the whole limit used
    r = run_body("while True: pass", gas=10_000)
    assert (r.code, r.gas_used) == (ErrorCode.OUT_OF_GAS, 10_000)


def test_meter_stays_exhausted():
    m = gas.Meter(5)
    with pytest.raises(BaseException):
        m.tick(6)
    for _ in range(3):
        with pytest.raises(BaseException):
            m.tick(0)
    assert m.used == 5


@pytest.mark.parametrize("expr", ["'a' * N", "[0] * N", "'-'.join(['ab'] * N)", "list(range(N))", "sorted(range(N))",
                                  "sum(range(N))", "('x' * N).replace('x', 'yy')", "[i for i in range(N)]"])
def test_size_charges_grow_with_size(expr):
    small = gas_of(f"v = {expr.replace('N', '10')}\nreturn 0")
    large = gas_of(f"v = {expr.replace('N', '10000')}\nreturn 0")
    assert large - small >= 1000, (small, large)


def test_big_int_multiplication_costs_more_than_small():
    small = gas_of("x = 12345\nfor i in range(100):\n    y = x * x\nreturn 0")
    big = gas_of("x = 7 ** 600\nfor i in range(100):\n    y = x * x\nreturn 0")
    assert big > small


def test_call_depth_is_counted_not_cpythons():
    src = "ENTRIES = ('main',)\ndef f(n):\n    return 0 if n == 0 else f(n - 1)\ndef main(n):\n    return f(n)\n"
    ok = run_source(src, args={"n": gas.MAX_CALL_DEPTH - 2})
    assert ok.code == 0
    deep = run_source(src, args={"n": gas.MAX_CALL_DEPTH})
    assert deep.code == ErrorCode.RECURSION_LIMIT


def test_memory_limit_is_cumulative_logical_allocation():
    body = "for i in range(10**6):\n    s = 'x' * 1_000_000\nreturn 0"
    r = run_body(body, gas=10**9)
    assert r.code == ErrorCode.MEMORY_LIMIT


def test_view_and_entry_cost_the_same():
    src = entry("return 41 + 1").replace('ENTRIES = ("main",)', 'ENTRIES = ("main",)\nVIEWS = ("v",)') + "\ndef v():\n    return 41 + 1\n"
    a = run_source(src, "main")
    b = run_source(src, "v", read_only=True)
    assert a.code == b.code == 0 and a.value == b.value == 42
