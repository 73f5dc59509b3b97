"""Run the attack corpus: every case is refused or fails with a sandbox code.

For each case we also check that nothing outside was reached: a sentinel
file is not written, a module global of this test module is unchanged, the
real builtins and ``sys.modules`` are not altered, no effects were applied
to the host, gas stayed within its limit, and the case finished quickly.
"""

from __future__ import annotations

import builtins
import sys
import time

import pytest

from contracts.runtime import ErrorCode, MemoryHost, check_source, compile_contract, execute

from .corpus import CASES, REFUSED
from .helpers import entry

SENTINEL = {"touched": False}
GAS = 2_000_000
MAX_SECONDS = 10.0


def _source(case, sentinel_path: str) -> str:
    src = case.body if case.full else entry(case.body, prelude=case.prelude)
    return src.replace("{SENTINEL}", sentinel_path).replace("HOSTMOD", __name__)


def test_corpus_is_big_and_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60
    assert len({c.category for c in CASES}) >= 7


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_attack(case, tmp_path):
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("clean")
    src = _source(case, str(sentinel))
    builtins_before = dict(vars(builtins))
    modules_before = set(sys.modules)
    start = time.perf_counter()

    violations = check_source(src)
    expect = case.expect
    if expect == REFUSED or (isinstance(expect, tuple) and expect and expect[0] == REFUSED):
        assert violations, f"{case.id}: expected a refusal at check time"
        if isinstance(expect, tuple):
            assert any(expect[1] in v.rule for v in violations), violations
        for v in violations:
            assert v.line >= 1
    else:
        assert not violations, f"{case.id}: unexpectedly refused: {violations}"
        host = MemoryHost(balances={"alice": 1000}, contracts={"law": src})
        contract = compile_contract("law", src)
        result = execute(contract, "main", {}, host, GAS, read_only=False)
        allowed = expect if isinstance(expect, tuple) else (expect,)
        assert result.code in [int(c) for c in allowed], f"{case.id}: got {ErrorCode(result.code).name}"
        assert result.code != 0
        assert 0 < result.gas_used <= GAS
        assert host.applied == 0 and not host.store and host.balances == {"alice": 1000}

    assert time.perf_counter() - start < MAX_SECONDS
    assert sentinel.read_text() == "clean"
    assert SENTINEL == {"touched": False}
    assert dict(vars(builtins)) == builtins_before
    assert set(sys.modules) <= modules_before | {"tokenize", "token"}
