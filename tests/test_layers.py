"""The rooms of docs/architecture.md, checked against the code's imports.

Every ``import`` and ``from ... import`` of every module of ours is read with
``ast`` (function-local imports included: they hide cycles, they do not
break them), resolved to the module it names, and checked two ways:

* a room imports only the rooms its row of the table allows;
* the module graph has no cycle (a cycle hidden by a function-local import
  is still a cycle).
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent

# room -> rooms it may import (besides itself)
ALLOWED = {
    "ledger": set(),
    "consensus": {"ledger"},
    "contracts.runtime": {"ledger"},
    "contracts.laws": set(),
    "chain": {"ledger", "consensus", "contracts.runtime"},
    "node": {"ledger", "consensus", "contracts.runtime", "chain", "proto"},
    "wallet": {"ledger", "proto"},
    "explorer": {"ledger", "proto", "wallet"},
    "proto": set(),
    "planning": {"ledger", "proto", "wallet"},
    "cli": {"ledger", "consensus", "contracts.runtime", "contracts.laws", "chain", "node", "wallet", "proto", "explorer",
            "planning"},
}
PACKAGES = ("ledger", "consensus", "contracts", "chain", "node", "wallet", "explorer", "proto", "cli", "planning")


def room_of(module: str) -> str | None:
    if module.startswith("contracts.runtime") or module == "contracts":
        return "contracts.runtime"
    if module.startswith("contracts.laws"):
        return "contracts.laws"
    top = module.split(".")[0]
    return top if top in ALLOWED else None


def modules() -> dict[str, pathlib.Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if path.name.endswith("_pb2.py") or path.name.endswith("_pb2_grpc.py"):
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


MODULES = modules()


def imports_of(name: str, path: pathlib.Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from pkg import submodule`` imports the submodule too
            for a in node.names:
                if f"{target}.{a.name}" in MODULES:
                    found.append((node.lineno, f"{target}.{a.name}"))
    return [(line, t) for line, t in found if t.split(".")[0] in PACKAGES]


def resolve(target: str) -> str | None:
    while target and target not in MODULES:
        target = target.rpartition(".")[0]
    return target or None


GRAPH = {name: sorted({m for _, t in imports_of(name, p) if (m := resolve(t)) and m != name}) for name, p in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_imports_only_the_rooms_below_it(name):
    room = room_of(name)
    assert room is not None, f"{name} is in no room of docs/architecture.md"
    wrong = []
    for line, target in imports_of(name, MODULES[name]):
        other = room_of(target)
        if other is not None and other != room and other not in ALLOWED[room]:
            wrong.append(f"{MODULES[name].relative_to(ROOT)}:{line} imports {target} ({other})")
    assert not wrong, "imports against the rooms:\n" + "\n".join(wrong)


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = GREY
        stack.append(n)
        for m in graph.get(n, ()):
            # a package's __init__ re-exporting its own submodules is not a cycle
            if n.startswith(m + ".") or m.startswith(n + ".") and MODULES[n].name == "__init__.py":
                continue
            if colour.get(m) == GREY:
                return stack[stack.index(m):] + [m]
            if colour.get(m) == WHITE and (c := visit(m)):
                return c
        stack.pop()
        colour[n] = BLACK
        return None

    for n in sorted(graph):
        if colour[n] == WHITE and (c := visit(n)):
            return c
    return None


def test_no_import_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    # the negative control: the check above could fail
    graph = {k: list(v) for k, v in GRAPH.items()}
    graph["chain.errors"] = graph["chain.errors"] + ["chain.execution"]
    assert find_cycle(graph) is not None
