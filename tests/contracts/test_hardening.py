"""Regression cases for issue 15 (hardening the sandbox): each failed on the code before the fix.

The attack corpus (``corpus.py``, category ``issue15``) holds the cases
that are a plain source and an expected code; here are the ones that need
a particular host stack, a second contract, interpreter flags or a gas
measurement.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import threading

import pytest

from contracts.runtime import (
    CheckError, ErrorCode, MemoryHost, SandboxBreach, check_source, compile_contract, execute, executor, gas,
)

from .helpers import entry, run_body, run_source

ROOT = pathlib.Path(__file__).resolve().parents[2]
PY312 = pathlib.Path.home() / ".pyenv/versions/3.12.1/bin/python3.12"


def nest(k: int, inner: str) -> str:
    """``inner`` inside ``k`` nested one-element list comprehensions."""
    for i in range(k):
        inner = f"len([{inner} for v{i} in [1]])"
    return inner


CALLER = f"""
ENTRIES = ('main',)
def f(n):
    if n == 0:
        return call('callee', 'main', {{}})
    return {nest(12, 'f(n - 1)')}
def main(n):
    return f(n)
"""
CALLEE = "ENTRIES = ('main',)\ndef main():\n    return " + nest(12, "1") + "\n"


def _at_depth(depth: int, fn):
    """Run ``fn`` with ``depth`` extra Python frames below it (the host's own stack)."""
    box = {}

    def down(n):
        if n == 0:
            box["v"] = fn()
        else:
            down(n - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, depth + 500))
    try:
        t = threading.Thread(target=down, args=(depth,))
        old = threading.stack_size(64 << 20)
        try:
            t.start()
        finally:
            threading.stack_size(old)
        t.join()
    finally:
        sys.setrecursionlimit(limit)
    return box.get("v")


def test_compile_is_independent_of_the_callers_stack():
    """A first compile deep in the host's stack gives the verdict a shallow one gives."""
    executor._cache.clear()
    limit = sys.getrecursionlimit()

    def deep_compile():
        depth = 0
        f = sys._getframe()
        while f is not None:
            depth += 1
            f = f.f_back
        sys.setrecursionlimit(depth + 30)  # parse/compile start with almost no room left
        try:
            return compile_contract("callee", CALLEE)
        finally:
            sys.setrecursionlimit(limit)

    c = _at_depth(200, deep_compile)
    assert c is not None and c.entries == ("main",)
    assert compile_contract("callee", CALLEE).code is c.code  # the cache holds the good verdict


def test_environmental_compile_failure_is_never_cached(monkeypatch):
    executor._cache.clear()

    def boom(tree):
        raise RecursionError("simulated")

    monkeypatch.setattr(executor.instrument, "compile_tree", boom)
    with pytest.raises(SandboxBreach):
        compile_contract("callee", CALLEE)
    monkeypatch.undo()
    assert compile_contract("callee", CALLEE).entries == ("main",)  # not a cached violation


@pytest.mark.parametrize("warm", [True, False], ids=["warm", "cold"])
@pytest.mark.parametrize("host_depth", [0, 400, 1500])
def test_deep_caller_then_callee_same_result_cold_and_warm(warm, host_depth):
    """The consensus split: a callee first compiled deep in a call must not fail."""
    executor._cache.clear()
    if warm:
        compile_contract("callee", CALLEE)

    def go():
        host = MemoryHost(contracts={"caller": CALLER, "callee": CALLEE})
        out = []
        for n in (1, 3, 4, 5, 6):  # 3 reaches the callee at 41 frames
            try:
                r = execute(compile_contract("caller", CALLER), "main", {"n": n}, host, 10**7, read_only=True)
                out.append((r.code, r.gas_used, r.value))
            except SandboxBreach as e:
                out.append(("breach", str(e)))
        return out

    got = _at_depth(host_depth, go)
    assert all(row[0] != "breach" for row in got), got
    # frames: main + (n + 1) f + 12 n comprehensions + the callee's 1 + 12: n = 3 is 54, n = 4 is 67 > 64
    assert [row[0] for row in got] == [0, 0, ErrorCode.RECURSION_LIMIT, ErrorCode.RECURSION_LIMIT, ErrorCode.RECURSION_LIMIT]
    assert got == _at_depth(0, go)


def test_comprehensions_count_toward_the_depth_cap():
    src = "ENTRIES = ('main',)\ndef f(n):\n    return 0 if n == 0 else " + nest(10, "f(n - 1)") + "\ndef main(n):\n    return f(n)\n"
    assert run_source(src, args={"n": 5}).code == 0  # 1 + 5 * 11 = 56 frames
    assert run_source(src, args={"n": 6}).code == ErrorCode.RECURSION_LIMIT  # 67 frames


@pytest.mark.parametrize("body", [
    "return ctx.address_of('\\ud800')",
    "fail(7, '\\ud800')",
    "assert False, '\\udfff'",
    "emit('e', {'x': '\\udbff\\udc00x\\ud800'})",
    "return f'a\\ud800{1}'",
])
def test_lone_surrogate_literals_are_refused_at_check(body):
    violations = check_source(entry(body))
    assert any("surrogate" in v.rule for v in violations), violations


class _Surrogates(MemoryHost):
    def contract_address(self, name):
        name.encode("utf-8")  # a real host encodes names: UnicodeEncodeError on a surrogate
        return super().contract_address(name)


def test_surrogates_from_arguments_never_reach_the_host():
    src = "ENTRIES = ('main', 'kind')\ndef main(x):\n    return ctx.address_of(x)\ndef kind(x):\n    fail(1, x)\n"
    c = compile_contract("law", src)
    r = execute(c, "main", {"x": "a\ud800"}, _Surrogates(), 10**6, read_only=True)
    assert r.code == ErrorCode.NOT_ENCODABLE  # the argument copy refuses it, no UnicodeEncodeError
    r = execute(c, "kind", {"x": "ok"}, _Surrogates(), 10**6, read_only=True)
    assert r.code == ErrorCode.CONTRACT_ERROR and r.value == {"error": 1, "detail": "ok"}


def test_host_strings_are_capped_before_the_host_parses_them():
    class Counting(MemoryHost):
        seen = 0

        def has_role(self, address, role):
            Counting.seen = max(Counting.seen, len(address))
            return super().has_role(address, role)

    r = run_body("a = 'x' * 4_000_000\nn = 0\nfor i in range(100):\n    n += 1 if ctx.has_role(a, 'r') else 0\nreturn n",
                 host=Counting(), gas=10**8)
    assert r.code == 0 and r.value == 0
    assert Counting.seen == 0  # never handed to the host


def test_integer_literals_are_capped_like_results():
    assert any("integer literal" in v.rule for v in check_source(entry("return " + "9" * 1300)))
    assert any("integer literal" in v.rule for v in check_source(entry("return 1 << 1", prelude="X = 0x1" + "0" * 1100)))
    assert check_source(entry("return 1" + "0" * 1200)) == []  # under 4096 bits


def test_int_max_str_digits_is_pinned():
    code = (
        "import sys\n"
        "from contracts.runtime import SandboxBreach, check_source\n"
        "assert sys.get_int_max_str_digits() == 4300\n"
        "sys.set_int_max_str_digits(0)\n"
        "try:\n    check_source('ENTRIES = ()\\nX = ' + '9' * 5000 + '\\n')\nexcept SandboxBreach:\n    print('refused')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run([sys.executable, "-X", "int_max_str_digits=0", "-c", code], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "refused", proc.stderr[-1000:]


def _invert_bool(python: str, pythonpath: list[str]) -> str:
    code = (
        "from contracts.runtime import MemoryHost, compile_contract, execute\n"
        "c = compile_contract('x', \"ENTRIES = ('f',)\\ndef f(b):\\n    return [~b, ~True, -b, ~5]\\n\")\n"
        "r = execute(c, 'f', {'b': True}, MemoryHost(), 10000, read_only=True)\n"
        "print(r.code, r.value)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + pythonpath)
    proc = subprocess.run([python, "-W", "error", "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-1000:]
    return proc.stdout.strip()


def test_invert_bool_under_warnings_as_errors():
    assert _invert_bool(sys.executable, []) == "0 [-2, -2, -1, -6]"
    if PY312.exists():
        from .test_determinism import _py312_deps

        deps = _py312_deps()
        if deps is not None:
            assert _invert_bool(str(PY312), [deps]) == "0 [-2, -2, -1, -6]"


# ---------------------------------------------------------------- work before charge / per-element charges
SHARED = "[[0] * 3000] * 3000"


@pytest.mark.parametrize("body, prelude", [
    (f"return {SHARED}", ""),
    (f"emit('e', {SHARED})", ""),
    (f"storage.set('k', {SHARED})", ""),
    (f"return call('other', 'main', {{'x': {SHARED}}})", ""),
    ("return 1", f"X = {SHARED}"),
])
def test_shared_sublists_are_charged_as_they_are_expanded(body, prelude):
    r = run_body(body, prelude=prelude, gas=10**9)
    assert r.code == ErrorCode.MEMORY_LIMIT, ErrorCode(r.code).name


def test_storage_reads_and_events_pay_per_element():
    host = MemoryHost()
    n = 30_000
    run_body(f"storage.set('k', [0] * {n})", host=host, gas=10**8)
    one = run_body("x = storage.get('k')\nreturn 0", host=host, gas=10**8)
    none = run_body("x = storage.get('nope')\nreturn 0", host=host, gas=10**8)
    assert one.code == 0 and one.gas_used - none.gas_used >= n  # at least a gas per element decoded
    small = run_body("emit('e', [0])", gas=10**8)
    big = run_body("emit('e', [0] * 3000)", gas=10**8)
    assert big.gas_used - small.gas_used >= 3000 * 4


def test_events_count_against_memory():
    r = run_body("while True:\n    emit('e', 'x' * 15000)", gas=10**9)
    assert r.code == ErrorCode.MEMORY_LIMIT


def test_big_int_results_count_as_memory():
    body = "x = 7 ** 1400\nout = []\nfor j in range(10):\n    keep = []\n    for i in range(50000):\n        keep.append(x + i)\n    out.append(keep)\nreturn 0"
    r = run_body(body, gas=10**9)
    assert r.code == ErrorCode.MEMORY_LIMIT
    assert r.gas_used < 10**9 // 2


def test_contains_of_a_list_in_a_long_list_is_charged_per_element():
    a = run_body("x = [0] * 10000\nc = [1] in x\nreturn 0")
    b = run_body("x = [0] * 10000\nc = 1 in x\nreturn 0")
    assert a.gas_used - b.gas_used >= 10000 * 3


def test_block_nesting_is_capped_below_what_crashes_the_312_compiler():
    """3.12.1 compiles ~20 nested comprehensions inside a try into a SIGSEGV: refuse them first."""
    deep = entry("return " + nest(13, "1"))
    assert any("nested more than 12" in v.rule for v in check_source(deep))
    loops = entry("x = 0\n" + "".join("    " * i + f"for i{i} in range(1):\n" for i in range(13)) + "    " * 13 + "x += 1\nreturn x")
    assert any("nested more than 12" in v.rule for v in check_source(loops))
    assert check_source(entry("return " + nest(12, "1"))) == []


def _compile_in(python: str, pythonpath: list[str], source: str) -> subprocess.CompletedProcess:
    code = (
        "import sys\n"
        "from contracts.runtime import CheckError, compile_contract\n"
        "try:\n    compile_contract('x', sys.stdin.read())\n    print('compiled')\n"
        "except CheckError as e:\n    print('refused')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + pythonpath)
    return subprocess.run([python, "-c", code], input=source, env=env, capture_output=True, text=True, timeout=60)


def test_deepest_allowed_nesting_compiles_on_312_and_deeper_is_refused():
    if not PY312.exists():
        pytest.skip(f"Python 3.12 not found at {PY312}")
    from .test_determinism import _py312_deps

    deps = _py312_deps()
    if deps is None:
        pytest.skip("msgpack/blake3 not installable for Python 3.12")
    mixed = entry("x = 0\n" + "".join("    " * i + f"for i{i} in range(1):\n" for i in range(6)) + "    " * 6
                  + "x += " + nest(6, "1") + "\nreturn x")
    for src, want in ((entry("return " + nest(12, "1")), "compiled"), (mixed, "compiled"),
                      (entry("return " + nest(20, "1")), "refused")):
        for python, path in ((sys.executable, []), (str(PY312), [deps])):
            proc = _compile_in(python, path, src)
            assert proc.returncode == 0, (python, proc.returncode, proc.stderr[-500:])  # -11 was a SIGSEGV
            assert proc.stdout.strip() == want


def test_sources_over_128_kib_are_refused_before_parsing():
    fn = "def f{0}(x):\n    return x\n"
    body = "ENTRIES = ()\n" + "".join(fn.format(k) for k in range(5000))  # 132 KiB of valid code
    assert len(body.encode()) > 128 * 1024
    assert [v.rule for v in check_source(body)] == [f"source is over {128 * 1024} bytes"]


@pytest.mark.parametrize("make", ["s + 'x'", "s.encode()", "(s.encode()).decode()", "s[1:]", "'-'.join([s, 'a'])"])
def test_astral_text_counts_four_bytes_a_character(make):
    body = f"s = '\\U0001f600' * 100_000\nkeep = []\nfor i in range(170):\n    keep.append({make})\nreturn 0"
    r = run_body(body, gas=10**9)
    assert r.code == ErrorCode.MEMORY_LIMIT  # 170 x 400 kB real is over 64 MiB; counted as 100 kB each it was not
