"""A grammar fuzzer for contracts: deep comprehensions, recursion, escapes, big values.

``program(seed)`` builds one contract source deterministically from a seed
(``random.Random(seed)``: the same program on every machine and Python
version) out of the subset's grammar, biased toward what broke the sandbox
before: comprehensions nested inside recursive functions, calls into a
second contract from deep inside them, string literals with every kind of
escape (including lone surrogates, which the checker must refuse), integer
literals near and over the 4096-bit cap, values with shared sub-lists, long
strings and astral characters, and host calls with odd arguments.

``outcome(seed)`` checks and runs a program (every entry, with the callee
contract installed) and returns everything observable as plain data; the
harness (``coldwarm.py``) runs it cold and warm, at several host stack
depths and on 3.11 and 3.12, and requires identical outcomes and no
``SandboxBreach``.
"""

from __future__ import annotations

import random

ESCAPES = ["\\n", "\\t", "\\x41", "\\u00e9", "\\U0001f600", "\\\\", "\\'", "\\0", "\\ud800", "\\udfff",
           "\\N{BLACK STAR}", "\U0001f600", "\u00e9", "a", "zz"]
CALLEE = (
    "ENTRIES = ('main', 'echo')\n"
    "K = [[1, 2]] * 3\n"
    "def main():\n    return len([[v for v in w] for w in K])\n"
    "def echo(x):\n    return x\n"
)


class _Gen:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.depth = 0

    def pick(self, *xs):
        return self.r.choice(xs)

    def string(self) -> str:
        pool = ESCAPES if self.r.random() < 0.1 else [e for e in ESCAPES if "\\ud" not in e]  # surrogates: rarely
        parts = [self.r.choice(pool) for _ in range(self.r.randint(0, 4))]
        return "'" + "".join(parts) + "'"

    def bigint(self) -> str:
        bits = self.pick(8, 64, 200, 4000, 4095, 4095, 4095, 4096) if self.r.random() < 0.97 else 4200
        v = (1 << bits) - self.r.randint(0, 3)
        return self.pick(str(v), hex(v), "-" + str(v))

    def atom(self, names: list[str]) -> str:
        k = self.r.randint(0, 9)
        if k < 3 and names:
            return self.r.choice(names)
        if k < 5:
            return str(self.r.randint(-5, 40))
        if k == 5:
            return self.string()
        if k == 6:
            return self.bigint()
        if k == 7:
            return self.pick("True", "False", "None")
        if k == 8:
            return self.pick("[0] * 3", "[[0] * 40] * 40", "'x' * 100", "'\\U0001f600' * 50", "[[]] * 9")
        return self.pick("ctx.height", "len('abc')", "{'a': 1}")

    def expr(self, names: list[str], depth: int = 0) -> str:
        if depth > 3:
            return self.atom(names)
        k = self.r.randint(0, 11)
        if k < 3:
            return self.atom(names)
        if k == 3:
            op = self.pick("+", "-", "*", "//", "%", "<<", ">>", "&", "|", "^", "**")
            return f"({self.expr(names, depth + 1)} {op} {self.expr(names, depth + 1)})"
        if k == 4:
            op = self.pick("==", "!=", "<", "<=", "in", "not in")
            return f"({self.expr(names, depth + 1)} {op} {self.expr(names, depth + 1)})"
        if k == 5:
            return f"({self.pick('-', '~', 'not ')}{self.expr(names, depth + 1)})"
        if k == 6:
            return self.comprehension(names, depth)
        if k == 7:
            fn = self.pick("len", "str", "sorted", "max", "min", "sum", "list", "reversed", "any", "abs")
            return f"{fn}({self.expr(names, depth + 1)})"
        if k == 8:
            return f"[{', '.join(self.expr(names, depth + 1) for _ in range(self.r.randint(0, 3)))}]"
        if k == 9:
            return f"{self.expr(names, depth + 1)}[{self.expr(names, depth + 1)}]"
        if k == 10:
            return f"f'{{{self.pick(*names) if names else 1}}}x'"
        return f"({self.expr(names, depth + 1)} if {self.expr(names, depth + 1)} else {self.expr(names, depth + 1)})"

    def comprehension(self, names: list[str], depth: int) -> str:
        levels = self.r.randint(1, 6)
        inner = self.expr(names, depth + 2)
        for i in range(levels):
            v = f"c{depth}_{i}"
            src = self.pick("[1]", "[1, 2]", "range(3)", "'ab'")
            inner = f"[{inner if i else v} for {v} in {src}]" if self.r.random() < 0.5 else f"len([{inner} for {v} in {src}])"
        return inner

    def statement(self, names: list[str], ind: str) -> str:
        k = self.r.randint(0, 9)
        if k < 3:
            n = f"x{self.r.randint(0, 3)}"
            if n not in names:
                names.append(n)
            return f"{ind}{n} = {self.expr(names)}\n"
        if k == 3:
            return f"{ind}emit('e', {self.expr(names)})\n"
        if k == 4:
            return f"{ind}storage.set({self.string()}, {self.expr(names)})\n"
        if k == 5:
            return f"{ind}assert {self.expr(names)}, {self.string()}\n"
        if k == 6:
            return f"{ind}if {self.expr(names)}:\n{ind}    fail({self.r.randint(0, 9)}, {self.string()})\n"
        if k == 7:
            return f"{ind}x9 = ctx.{self.pick('has_role', 'account_kind', 'balance', 'address_of')}({self.expr(names)}" + (
                ", 'r')\n" if self.r.random() < 0.3 else ")\n")
        if k == 8:
            return f"{ind}x8 = call('callee', {self.pick(repr('main'), repr('echo'))}, {{'x': {self.expr(names)}}} if False else {{}})\n"
        return f"{ind}x7 = storage.get({self.string()}, {self.expr(names)})\n"


def program(seed: int) -> str:
    g = _Gen(seed)
    r = g.r
    lines = []
    if r.random() < 0.4:
        lines.append(f"C = [{g.string()}, {g.bigint()}, [[0] * 50] * 50]\n")
    # a recursive function whose every level sits inside nested comprehensions
    nest = r.randint(0, 8)
    body = "rec(n - 1)"
    for i in range(nest):
        body = f"len([{body} for r{i} in [1]])"
    tail = "call('callee', 'main', {})" if r.random() < 0.6 else "0"
    lines.append(f"def rec(n):\n    if n <= 0:\n        return {tail}\n    return {body}\n")
    names = ["n"]
    stmts = "".join(g.statement(names, "    ") for _ in range(r.randint(1, 6)))
    lines.append(f"def main(n):\n{stmts}    return [rec(n), {g.expr(names)}]\n")
    lines.append(f"def lit():\n    return [{', '.join(g.atom([]) for _ in range(3))}]\n")
    lines.append("ENTRIES = ('main', 'lit')\n")
    return "".join(lines)


def outcome(seed: int, gas: int = 400_000) -> list:
    """Check and run program ``seed``; every observable as plain data."""
    from contracts.runtime import MemoryHost, SandboxBreach, check_source, compile_contract, execute

    src = program(seed)
    violations = check_source(src)
    if violations:
        return [seed, "refused", sorted({v.rule for v in violations})]
    out: list = [seed]
    host = MemoryHost(sender="alice", balances={"alice": 100}, roles={"alice": {"r"}},
                      contracts={"law": src, "callee": CALLEE})
    c = compile_contract("law", src)
    for fn, args in (("lit", {}), ("main", {"n": 0}), ("main", {"n": 3}), ("main", {"n": 9})):
        try:
            r = execute(c, fn, args, host, gas, read_only=False)
            out.append([fn, args.get("n"), r.code, r.gas_used, _plain(r.value), _plain(r.events)])
        except SandboxBreach as e:  # never allowed: the harness fails on it
            out.append([fn, args.get("n"), "BREACH", str(e)])
    out.append(_plain(host.snapshot()))
    return out


def _plain(v):
    if isinstance(v, bytes):
        return {"hex": v.hex()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v
