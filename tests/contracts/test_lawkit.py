"""Library version 2: the law kit (contracts/runtime/lawkit.py), and version 1 untouched."""

from __future__ import annotations

import pytest

from contracts.runtime import CheckError, ErrorCode, MemoryHost, check_source, compile_contract, execute

V2 = '''"""A small law on library version 2."""
LAW = "kit"
VERSION = 3
LIBRARY = 2
YUAN = 100
SCHEMA = {"fee": ("money", "fen")}
PARAMS = {"fee": {"label": "A fee", "unit": "fen", "reference": "test",
                  "values": ((20200101, 5 * YUAN), (20250101, 7 * YUAN))}}
ENTRIES = ()
VIEWS = ("param", "params_at", "check_params", "version", "today", "fee_now")


def value_error(kind: str, v) -> str:
    return "" if is_int(v) and v >= 0 else "must be an int >= 0 (fen)"


def fee_now() -> int:
    return param("fee") + today() * 0
'''

T_2025 = 1_740_000_000  # 2025-02-19 (UTC seconds)


def run(source: str, fn: str, args: dict | None = None):
    return execute(compile_contract("kit", source), fn, args or {}, MemoryHost(time=T_2025), 1_000_000, read_only=True)


def test_a_version_2_law_gets_the_kit_bound_to_its_own_tables():
    assert check_source(V2) == []
    assert run(V2, "today").value == 20250219
    assert run(V2, "param", {"name": "fee"}).value == 700
    assert run(V2, "param", {"name": "fee", "on": 20240101}).value == 500
    assert run(V2, "fee_now").value == 700  # the kit's names are plain functions to the law's own code
    assert run(V2, "params_at", {"on": 20240101}).value == {"fee": [20200101, 500]}
    assert run(V2, "version").value == {"law": "kit", "version": 3}
    assert run(V2, "check_params").value == []
    bad = {"fee": {"label": "A fee", "unit": "yuan", "reference": "test", "values": ((20250101, -1),)}}
    assert run(V2, "check_params", {"params": bad}).value == ["fee.unit: must be fen",
                                                             "fee.values[20250101]: must be an int >= 0 (fen)"]
    r = run(V2, "param", {"name": "nothing"})
    assert r.code == ErrorCode.CONTRACT_ERROR and r.value["error"] == 4  # PARAM_ERROR, as every law's E_NO_PARAMETER


def test_the_kit_is_metered():
    assert run(V2, "version").gas_used > 0
    assert run(V2, "params_at").gas_used > run(V2, "version").gas_used


def test_a_law_may_define_a_kit_name_itself_and_its_own_wins():
    own = V2.replace("def fee_now()", 'def version() -> dict:\n    return {"mine": True}\n\n\ndef fee_now()')
    assert check_source(own) == []
    assert run(own, "version").value == {"mine": True}


def test_version_1_laws_get_nothing_and_keep_running_as_before():
    v1 = V2.replace("LIBRARY = 2\n", "")
    assert any("param" in v.rule for v in check_source(v1))  # unknown names on version 1
    with pytest.raises(CheckError):
        compile_contract("kit1", v1)
    explicit = V2.replace("LIBRARY = 2\n", "LIBRARY = 1\n")
    assert [v.rule for v in check_source(explicit)] == [v.rule for v in check_source(v1)]


def test_an_unknown_library_version_is_refused():
    for bad in ("LIBRARY = 3\n", "LIBRARY = 2 + 0\n", 'LIBRARY = "2"\n'):
        assert any("LIBRARY must be one of" in v.rule for v in check_source(V2.replace("LIBRARY = 2\n", bad)))


def test_a_kit_view_without_the_table_it_reads_fails_cleanly():
    bare = '"""No tables."""\nLIBRARY = 2\nENTRIES = ()\nVIEWS = ("param",)\n'
    assert check_source(bare) == []
    assert run(bare, "param", {"name": "x"}).code == ErrorCode.NAME_ERROR
