"""A law's module-level constants, read without running the law.

Laws write their tables with named units (``60_000 * YUAN``, ``25 * PERCENT``),
so ``ast.literal_eval`` cannot read them; and a law's source comes from the
chain, where an amendment may be hostile, so nothing may ``exec`` it outside
the sandbox.  :func:`constant` evaluates the small language of constant
tables: literals, tuples, lists and dicts, names defined earlier in the
module, unary minus and ``+ - * // %`` on integers of at most 256 bits.
Anything else raises ``ValueError``.  :func:`module_constants` reads every
module-level ``NAME = constant`` assignment in order.
"""

from __future__ import annotations

import ast

_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.FloorDiv: lambda a, b: a // b, ast.Mod: lambda a, b: a % b}
_INT_BITS = 256  # no constant of a law's table is larger; a bigger one is refused, not computed


def constant(node: ast.AST, names: dict):
    """The value of a law's module-level constant expression, never running its code.

    Literals, tuples, lists and dicts, names of constants defined above it
    (``YUAN``, ``PERCENT``), unary minus and ``+ - * // %`` on integers of at
    most 256 bits.  Anything else raises ``ValueError``: a law's source comes
    from the chain, and an amendment could be hostile.
    """
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, str, bool, bytes))):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(constant(e, names) for e in node.elts)
    if isinstance(node, ast.Dict) and None not in node.keys:
        return {constant(k, names): constant(v, names) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = constant(node.operand, names)
        if type(v) is int:
            return -v
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        a, b = constant(node.left, names), constant(node.right, names)
        if type(a) is int and type(b) is int and a.bit_length() + b.bit_length() <= _INT_BITS:
            if not (isinstance(node.op, (ast.FloorDiv, ast.Mod)) and b == 0):
                return _BINOPS[type(node.op)](a, b)
    raise ValueError("not a constant expression")


def module_constants(source: str) -> dict:
    """Every module-level ``NAME = <constant expression>`` of ``source``, in order; others skipped."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    names: dict = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                names[node.targets[0].id] = constant(node.value, names)
            except (ValueError, RecursionError, TypeError):
                continue
    return names
