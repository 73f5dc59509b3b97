"""The checker: line numbers and rules, declarations, compile cache."""

from __future__ import annotations

import pytest

from contracts.runtime import CheckError, Violation, check_source, compile_contract

from . import sample_laws


@pytest.mark.parametrize("src", [sample_laws.INCOME_TAX, sample_laws.WELFARE, sample_laws.WORKLOAD])
def test_sample_laws_are_in_the_subset(src):
    assert check_source(src) == []


def test_violations_carry_line_and_rule():
    src = "ENTRIES = ('f',)\n\ndef f(x):\n    y = x / 2\n    return hash(y)\n"
    assert check_source(src) == [
        Violation(4, "true division '/' is not allowed: use //, div_round or mul_div"),
        Violation(5, "'hash' is not available (non-deterministic)"),
    ]


def test_every_violation_is_reported_not_just_the_first():
    src = "import os\nclass K:\n    pass\nX = 1.5\ndef f():\n    try:\n        pass\n    except:\n        pass\n"
    lines = sorted({v.line for v in check_source(src)})
    assert lines == [1, 2, 4, 6]


@pytest.mark.parametrize("src,fragment", [
    ("ENTRIES = ('f', 'f')\ndef f():\n    pass\n", "declared twice"),
    ("ENTRIES = ('f',)\nVIEWS = ('f',)\ndef f():\n    pass\n", "declared twice"),
    ("ENTRIES = 'f'\ndef f():\n    pass\n", "tuples of function names"),
    ("ENTRIES = (f,)\ndef f():\n    pass\n", "tuples of function names"),
    ("X = 1\nX = 2\n", "defined twice"),
    ("def f():\n    pass\ndef f():\n    pass\n", "defined twice"),
    ("X = Y\nY = 1\n", "earlier constants"),
    ("X = len([])\n", "constant expressions"),
    ("def f(a, *rest):\n    pass\n", "*args"),
    ("def f(a, /):\n    pass\n", "*args"),
    ("def f():\n    x: int\n", "needs a plain name and a value"),
    ("def f():\n    del x\n", "del only removes one item"),
    ("def f():\n    a = b = []\n    a[0] = b[0] = 1\n", "chained assignment"),
    ("def f():\n    return x\n", "unknown name 'x'"),
    ("def f():\n    return [y for y in range(3)] + [y]\n", "unknown name 'y'"),
    ("def f(x):\n    return x.real\n", "attribute 'real'"),
    ("def f(x):\n    assert x, [1]\n", "assert message"),
    ("def f(x):\n    return f'{x}\n'\n", "syntax error"),
    ("def f(x):\n    return x[1:2] = 3\n", "syntax error"),
    ("def f():\n    return ...\n", "constant ellipsis"),
    ("def f():\n    return 1j\n", "float literals"),
    ("def f():\n    return {1: 2}\n", "dict keys must be str"),
    ("def f():\n    return {x: 1 for x in range(3) if x}\n", None),
])
def test_rules(src, fragment):
    violations = check_source(src)
    if fragment is None:
        assert violations == []
    else:
        assert violations and any(fragment in v.rule for v in violations), violations


@pytest.mark.parametrize("junk", [b"bytes", None, 12, "\udcff", "\x00", "", "#", "\n" * 10, "(((", "def", "\t x = 1"])
def test_checker_never_raises(junk):
    result = check_source(junk)  # type: ignore[arg-type]
    assert isinstance(result, list)


def test_empty_module_is_fine_and_has_no_entries():
    c = compile_contract("empty", "")
    assert c.entries == () and c.views == ()


def test_compile_contract_shape_and_cache():
    a = compile_contract("tax", sample_laws.INCOME_TAX, version=3)
    b = compile_contract("tax2", sample_laws.INCOME_TAX)
    assert a.entries == ("pay",) and a.views == ("tax_due", "paid")
    assert len(a.code_hash) == 32 and a.code_hash == b.code_hash
    assert a.code is b.code  # cached by code hash
    assert a.version == 3 and a.name == "tax" and a.source == sample_laws.INCOME_TAX
    with pytest.raises(CheckError) as err:
        compile_contract("bad", "import os\n")
    assert err.value.violations == [Violation(1, "import is not allowed")]
    with pytest.raises(CheckError):  # refusals are cached too, and still raise
        compile_contract("bad", "import os\n")


def test_chained_comparisons_evaluate_each_operand_once():
    from .helpers import run_body

    r = run_body("n = [0]\nif 0 < bump(n) <= 1 < 2:\n    return n\nreturn None",
                 prelude="def bump(n):\n    n.append(1)\n    return len(n) - 1\n")
    assert r.code == 0 and r.value == [0, 1]


def test_verdict_does_not_depend_on_warning_filters():
    import warnings

    src = "ENTRIES = ('f',)\ndef f():\n    x = '\\d'\n    return 1 if 1 is None else 2\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_source(src) == []
        compile_contract("w", src)
