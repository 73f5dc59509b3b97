"""The law loader, and the OS-level guard (forked worker under rlimits)."""

from __future__ import annotations

import pytest

from contracts.runtime import ErrorCode, MemoryHost, SandboxBreach, compile_contract, execute_isolated, load_laws
from contracts.runtime import guard
from contracts.runtime.registry import LAWS_DIR, LawError, law_sources

from . import sample_laws


def test_real_laws_directory_compiles():
    laws = load_laws()
    assert set(laws) == set(law_sources(LAWS_DIR))


def test_loader_compiles_each_module_by_name(tmp_path):
    (tmp_path / "income_tax.py").write_text(sample_laws.INCOME_TAX)
    (tmp_path / "__init__.py").write_text("")
    laws = load_laws(tmp_path)
    assert list(laws) == ["income_tax"] and laws["income_tax"].views == ("tax_due", "paid")


def test_loader_names_refused_laws(tmp_path):
    (tmp_path / "good.py").write_text(sample_laws.INCOME_TAX)
    (tmp_path / "evil.py").write_text("import os\n")
    with pytest.raises(LawError) as err:
        load_laws(tmp_path)
    assert list(err.value.failures) == ["evil"] and "line 1: import" in str(err.value)


def test_isolated_execution_applies_effects_in_the_parent():
    host = MemoryHost(sender="alice", balances={"alice": 10**9}, contracts={"treasury": ""})
    tax = compile_contract("income_tax", sample_laws.INCOME_TAX)
    r = execute_isolated(tax, "pay", {"income": 2_000_000}, host, 100_000, read_only=False)
    assert r.code == 0 and r.value == 101_000
    assert host.value("income_tax", "paid/alice") == 101_000
    assert host.balances["contract:treasury"] == 101_000
    r = execute_isolated(tax, "tax_due", {"income": -5}, host, 100_000, read_only=True)
    assert r.code == ErrorCode.CONTRACT_ERROR


def test_guard_turns_a_dead_worker_into_a_breach(monkeypatch):
    """If the OS limit ever fires, the caller gets SandboxBreach, not a result."""
    def explode(*a, **k):
        raise MemoryError

    monkeypatch.setattr(guard, "run", explode)
    contract = compile_contract("x", "ENTRIES = ('f',)\ndef f():\n    return 1\n")
    with pytest.raises(SandboxBreach):
        execute_isolated(contract, "f", {}, MemoryHost(), 1000, read_only=False)


def test_guard_memory_rlimit_fires_as_breach(monkeypatch):
    """Make the logical cap useless and the RLIMIT_AS tiny: the OS stops it."""
    from contracts.runtime import gas

    monkeypatch.setattr(gas, "MEMORY_LIMIT", 1 << 40)
    monkeypatch.setattr(gas, "MAX_ALLOC", 1 << 40)
    contract = compile_contract("y", "ENTRIES = ('f',)\ndef f():\n    x = []\n    for i in range(200):\n        x.append('a' * 10**7)\n")
    with pytest.raises(SandboxBreach):
        execute_isolated(contract, "f", {}, MemoryHost(), 10**12, read_only=False, memory_bytes=400 << 20)
