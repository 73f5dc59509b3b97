"""Property tests: the checker never crashes and never admits a construct
outside the allowlist; accepted programs never breach the sandbox; gas never
under-charges against an independent count of loop iterations and calls."""

from __future__ import annotations

import ast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.runtime import CheckError, ErrorCode, MemoryHost, check_source, compile_contract, execute, gas

pytestmark = pytest.mark.filterwarnings("ignore::SyntaxWarning")

# An independent copy of the allowlist (the oracle must not import the checker's).
ORACLE_NODES = {
    "Module", "FunctionDef", "arguments", "arg", "keyword", "Return", "Assign", "AugAssign", "AnnAssign",
    "For", "While", "If", "Expr", "Pass", "Break", "Continue", "Assert", "Delete", "BoolOp", "BinOp",
    "UnaryOp", "Compare", "IfExp", "Call", "Constant", "Name", "Attribute", "Subscript", "Slice", "List",
    "Tuple", "Dict", "ListComp", "DictComp", "comprehension", "JoinedStr", "FormattedValue", "Load",
    "Store", "Del", "And", "Or", "Add", "Sub", "Mult", "FloorDiv", "Mod", "Pow", "LShift", "RShift",
    "BitAnd", "BitOr", "BitXor", "Not", "USub", "UAdd", "Invert", "Eq", "NotEq", "Lt", "LtE", "Gt",
    "GtE", "In", "NotIn", "Is", "IsNot",
}


def oracle_problems(src: str) -> list[str]:
    tree = ast.parse(src)
    problems = []
    for node in ast.walk(tree):
        name = type(node).__name__
        if name not in ORACLE_NODES:
            problems.append(name)
        for attr in ("id", "attr", "arg", "name"):
            v = getattr(node, attr, None)
            if isinstance(v, str) and v.startswith("_"):
                problems.append(f"underscore {v}")
        if isinstance(node, ast.Constant) and type(node.value) in (float, complex):
            problems.append("float")
        if isinstance(node, ast.FunctionDef) and node.decorator_list:
            problems.append("decorator")
    return problems


def run_all_functions(src: str) -> None:
    """Execute every zero-argument function of an accepted module; no breach allowed."""
    tree = ast.parse(src)
    fns = [s.name for s in tree.body if isinstance(s, ast.FunctionDef) and not s.args.args and not s.args.kwonlyargs]
    if not fns or any(isinstance(s, (ast.Assign, ast.AnnAssign)) and getattr(getattr(s, "targets", [s.target if hasattr(s, "target") else None])[0], "id", "") in ("ENTRIES", "VIEWS") for s in tree.body):
        return
    full = src + "\nENTRIES = (" + "".join(repr(f) + ", " for f in fns) + ")\n"
    try:
        contract = compile_contract("fuzz", full)
    except CheckError:
        return  # e.g. the added declaration collides with the module; not the property under test
    for fn in fns:
        r = execute(contract, fn, {}, MemoryHost(), 20_000, read_only=False)
        assert r.code in set(ErrorCode)


hypothesmith = pytest.importorskip("hypothesmith")


@given(hypothesmith.from_grammar())
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
def test_checker_on_grammar_generated_sources(src):
    violations = check_source(src)
    assert isinstance(violations, list)
    if not violations:
        assert oracle_problems(src) == []
        run_all_functions(src)


@given(hypothesmith.from_node())
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_checker_on_node_generated_sources(src):
    violations = check_source(src)
    if not violations:
        assert oracle_problems(src) == []
        run_all_functions(src)


# ------------------------------------------------------------------ fragment grammar
GOOD = [
    "x = 1", "x = [1, 2][0]", "y = {'a': 1}", "z = 'a' + 'b'", "for i in range(3):\n    x = i",
    "if x:\n    x = 2\nelse:\n    x = 3", "x = len([1]) + abs(-1)", "x = [i * 2 for i in range(4) if i]",
    "x = {str(i): i for i in range(2)}", "x = f'{x} a'", "x = 5 if x else 6", "assert True, 'ok'",
    "x = sorted([3, 1])", "x = mul_div(7, 3, 2, 'half_up')", "d = {}\nd['k'] = 1\ndel d['k']",
    "x = 1 < 2 <= 3", "x = None is None", "s = 'abc'[1:]", "x = not x", "x = -x if is_int(x) else 0",
    "while x < 0:\n    x += 1", "x = ctx.height", "x = storage.get('k', 0)", "pass",
]
BAD = [
    "import os", "x = 1.5", "x = 1 / 2", "x = lambda: 1", "x = {1, 2}", "x = (i for i in [])",
    "try:\n    x = 1\nexcept Exception:\n    pass", "with x:\n    pass", "x = ().__class__", "x = eval('1')",
    "global y", "x = y.format(1)", "class C:\n    pass", "def g():\n    pass", "x = yield", "raise ValueError",
    "x = [*x]", "x = f'{x!r}'", "x = type(x)", "x = (y := 2)", "x = _g", "x = x.gi_frame",
    "match x:\n    case 1:\n        pass", "x = open('f')", "x = 3 @ 4", "x = ...", "nonlocal x",
]


@given(st.lists(st.one_of(st.sampled_from(GOOD), st.sampled_from(BAD)), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_fragments_accepted_iff_all_allowed(fragments):
    body = "\n".join(fragments).replace("\n", "\n    ")
    src = "ENTRIES = ('main',)\ndef main():\n    x = 0\n    " + body + "\n    return 0\n"
    violations = check_source(src)
    if any(f in BAD for f in fragments):
        assert violations
    else:
        assert violations == [], violations
        r = execute(compile_contract("frag", src), "main", {}, MemoryHost(), 200_000, read_only=False)
        assert r.code in set(ErrorCode)


# ------------------------------------------------------------------ gas vs an independent count
@st.composite
def programs(draw, depth=0):
    """A tree of loops and calls: [('loop', n, children) | ('call',)]."""
    n_items = draw(st.integers(1, 3))
    items = []
    for _ in range(n_items):
        if depth < 3 and draw(st.booleans()):
            items.append(("loop", draw(st.integers(0, 5)), draw(st.sampled_from(["for", "while"])), draw(programs(depth + 1))))
        else:
            items.append(("call",))
    return items


def render(items, indent, counted: bool, var=[0]) -> str:  # noqa: B006 - a counter for fresh names
    pad = "    " * indent
    out = []
    for item in items:
        if item[0] == "call":
            out.append(pad + ("C[1] += 1\n" + pad if counted else "") + "x = helper(x)")
        else:
            _, n, kind, children = item
            var[0] += 1
            v = f"i{var[0]}"
            if kind == "for":
                out.append(f"{pad}for {v} in range({n}):")
            else:
                out.append(f"{pad}{v} = 0\n{pad}while {v} < {n}:\n{pad}    {v} += 1")
            if counted:
                out.append(f"{pad}    C[0] += 1")
            out.append(render(children, indent + 1, counted))
    return "\n".join(out)


@given(programs())
@settings(max_examples=150, deadline=None)
def test_gas_never_undercharges_loops_and_calls(prog):
    contract_src = (
        "ENTRIES = ('main',)\ndef helper(x):\n    return x + 1\n\ndef main():\n    x = 0\n"
        + render(prog, 1, counted=False) + "\n    return x\n"
    )
    plain_src = "def helper(x):\n    return x + 1\n\ndef main(C):\n    x = 0\n" + render(prog, 1, counted=True) + "\n    return x\n"
    counts = [0, 0]
    ns: dict = {}
    exec(compile(plain_src, "<plain>", "exec"), ns)
    expected_value = ns["main"](counts)
    iterations, calls = counts
    r = execute(compile_contract("g", contract_src), "main", {}, MemoryHost(), 10**7, read_only=False)
    assert r.code == 0 and r.value == expected_value
    floor = gas.LOOP * iterations + (gas.CALL + 1) * (calls + 1)
    assert r.gas_used >= floor
