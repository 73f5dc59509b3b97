"""Rewrite a checked contract AST into metered, guarded Python, and compile it.

The input is a tree that ``checker.check_source`` accepted.  The output is an
ordinary code object whose every costly or type-sensitive operation goes
through a helper injected as a global (all helper names start with ``_``,
which contracts cannot write, so they cannot rebind or call them):

===================================  =========================================
contract source                      instrumented form
===================================  =========================================
function body                        ``_enter(w); try: body finally: _leave()``
loop body / if branch                ``_g(w)`` first (weight of the block)
comprehension ``for x in xs``        ``for x in _it(xs, w, mem)``
``a + b`` (every binary operator)    ``_add(a, b)`` / ``_mul`` / ``_pow`` ...
``x += y``                           ``x = _iadd(x, y)`` (in place for lists)
``a < b`` / ``==`` / ``in`` ...      ``_lt(a, b)`` ...; chains keep one
                                     evaluation per operand via ``:=`` temps
``a is None``                        unchanged
``~x`` / ``-x`` (x not a literal)    ``_inv(x)`` / ``_neg(x)``
``x.name``                           ``_ga(x, "name")``
``x.name(args)``                     ``_cm(x, "name", args)`` (``_cm1(x, "name", a)``
                                     for 0-3 positional arguments)
``x[k]`` / ``x[a:b]``                ``_gi(x, k)`` / ``_gs(x, a, b, None)``
``x[k] = v`` / ``del x[k]``          ``_si(x, k, v)`` / ``_di(x, k)``
``{k: v}`` with a computed key       ``{_key(k): v}`` (keys must be str)
``f"{v}"``                           ``f"{_fmt(v)}"`` (scalars only)
``assert c, m``                      ``if not c: _assert_fail(m)`` (not
                                     removed by ``-O``)
module constant ``X = e``            ``X = _freeze(e)`` (lists become tuples,
                                     dicts read-only)
annotations                          removed (never evaluated)
===================================  =========================================

Block weights are computed here from the *source* AST (``weight``), so they
depend only on the contract text: see ``gas.py`` for the schedule.
"""

from __future__ import annotations

import ast
import types
import warnings

from . import gas

BINOP_HELPERS = {
    ast.Add: "_add", ast.Sub: "_sub", ast.Mult: "_mul", ast.FloorDiv: "_floordiv",
    ast.Mod: "_mod", ast.Pow: "_pow", ast.LShift: "_lshift", ast.RShift: "_rshift",
    ast.BitAnd: "_band", ast.BitOr: "_bor", ast.BitXor: "_bxor",
}
AUG_HELPERS = {**BINOP_HELPERS, ast.Add: "_iadd"}
COMPARE_HELPERS = {
    ast.Eq: "_eq", ast.NotEq: "_ne", ast.Lt: "_lt", ast.LtE: "_le", ast.Gt: "_gt",
    ast.GtE: "_ge", ast.In: "_in", ast.NotIn: "_notin",
}
HELPER_NAMES = frozenset(
    set(BINOP_HELPERS.values()) | set(AUG_HELPERS.values()) | set(COMPARE_HELPERS.values())
    | {"_g", "_enter", "_leave", "_it", "_ga", "_cm", "_cm0", "_cm1", "_cm2", "_cm3", "_gi", "_gs", "_si", "_di", "_key",
       "_fmt", "_assert_fail", "_freeze", "_inv", "_neg"}
)

LIST_SLOT = gas.SLOT
DICT_SLOT = gas.ENTRY


def count_nodes(node: ast.AST | None) -> int:
    """Expression nodes under ``node`` (the unit of static gas)."""
    if node is None:
        return 0
    n = 0
    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, ast.expr):
            n += 1
        stack.extend(ast.iter_child_nodes(x))
    return n


def stmt_weight(s: ast.stmt) -> int:
    """One per statement, plus its own expressions (nested blocks excluded)."""
    if isinstance(s, ast.For):
        own = count_nodes(s.target) + count_nodes(s.iter)
    elif isinstance(s, (ast.While, ast.If)):
        own = count_nodes(s.test)
    elif isinstance(s, ast.FunctionDef):
        own = sum(count_nodes(d) for d in s.args.defaults + s.args.kw_defaults if d is not None)
    else:
        own = count_nodes(s)
    return gas.NODE * (1 + own)


def weight(stmts: list[ast.stmt]) -> int:
    return sum(stmt_weight(s) for s in stmts)


def _call(name: str, *args: ast.expr, keywords: list[ast.keyword] | None = None) -> ast.Call:
    return ast.Call(func=ast.Name(name, ast.Load()), args=list(args), keywords=keywords or [])


def _tick(w: int) -> ast.stmt:
    return ast.Expr(_call("_g", ast.Constant(w)))


def _const(v) -> ast.Constant:
    return ast.Constant(v)


def _strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and type(body[0].value.value) is str:
        return body[1:]
    return body


class _Rewriter:
    def __init__(self) -> None:
        self.ntmp = 0

    def tmp(self) -> str:
        self.ntmp += 1
        return f"_t{self.ntmp}"

    # ------------------------------------------------------------ structure
    def module(self, tree: ast.Module) -> ast.Module:
        stmts = _strip_docstring(tree.body)
        body: list[ast.stmt] = [_tick(weight(stmts))]
        for s in stmts:
            if isinstance(s, ast.FunctionDef):
                body.append(self.function(s))
            else:  # Assign / AnnAssign of one name (the checker made sure)
                target = s.targets[0] if isinstance(s, ast.Assign) else s.target
                mutable = any(isinstance(n, (ast.List, ast.Dict)) for n in ast.walk(s.value))
                value = self.expr(s.value)
                if mutable:  # tuples of scalars are already immutable
                    value = _call("_freeze", value)
                body.append(ast.copy_location(ast.Assign([ast.Name(target.id, ast.Store())], value), s))
        return ast.Module(body=body, type_ignores=[])

    def function(self, fn: ast.FunctionDef) -> ast.FunctionDef:
        a = fn.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs:
            arg.annotation = None
        a.defaults = [self.expr(d) for d in a.defaults]
        a.kw_defaults = [None if d is None else self.expr(d) for d in a.kw_defaults]
        stmts = _strip_docstring(fn.body)
        inner = self.block(stmts) or [ast.Pass()]
        body = [
            ast.Expr(_call("_enter", _const(weight(stmts)))),
            ast.Try(body=inner, handlers=[], orelse=[], finalbody=[ast.Expr(_call("_leave"))]),
        ]
        new = ast.FunctionDef(
            name=fn.name, args=a, body=body, decorator_list=[], returns=None, type_comment=None
        )
        if hasattr(fn, "type_params"):  # 3.12+
            new.type_params = []
        return ast.copy_location(new, fn)

    def block(self, stmts: list[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for s in stmts:
            for new in self.stmt(s):
                out.append(ast.copy_location(new, s))
        return out

    def ticked(self, stmts: list[ast.stmt], extra: int = 0) -> list[ast.stmt]:
        if not stmts:
            return []
        return [_tick(weight(stmts) + extra)] + self.block(stmts)

    # ------------------------------------------------------------ statements
    def stmt(self, s: ast.stmt) -> list[ast.stmt]:
        if isinstance(s, ast.Return):
            return [ast.Return(None if s.value is None else self.expr(s.value))]
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            targets = s.targets if isinstance(s, ast.Assign) else [s.target]
            value = self.expr(s.value)
            if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
                t = targets[0]
                tmp = self.tmp()
                return [
                    ast.Assign([ast.Name(tmp, ast.Store())], value),
                    ast.Expr(_call("_si", self.expr(t.value), self.expr(t.slice), ast.Name(tmp, ast.Load()))),
                ]
            return [ast.Assign(targets, value)]
        if isinstance(s, ast.AugAssign):
            helper = AUG_HELPERS[type(s.op)]
            value = self.expr(s.value)
            t = s.target
            if isinstance(t, ast.Name):
                return [ast.Assign([ast.Name(t.id, ast.Store())], _call(helper, ast.Name(t.id, ast.Load()), value))]
            obj, key = self.tmp(), self.tmp()
            load = lambda n: ast.Name(n, ast.Load())  # noqa: E731
            return [
                ast.Assign([ast.Name(obj, ast.Store())], self.expr(t.value)),
                ast.Assign([ast.Name(key, ast.Store())], self.expr(t.slice)),
                ast.Expr(_call("_si", load(obj), load(key), _call(helper, _call("_gi", load(obj), load(key)), value))),
            ]
        if isinstance(s, ast.For):
            return [ast.For(
                target=s.target, iter=self.expr(s.iter), body=self.ticked(s.body, gas.LOOP),
                orelse=self.ticked(s.orelse), type_comment=None,
            )]
        if isinstance(s, ast.While):
            extra = gas.LOOP + gas.NODE * count_nodes(s.test)
            return [ast.While(test=self.expr(s.test), body=self.ticked(s.body, extra), orelse=self.ticked(s.orelse))]
        if isinstance(s, ast.If):
            return [ast.If(test=self.expr(s.test), body=self.ticked(s.body), orelse=self.ticked(s.orelse))]
        if isinstance(s, ast.Expr):
            return [ast.Expr(self.expr(s.value))]
        if isinstance(s, ast.Assert):
            msg = s.msg if s.msg is not None else _const(None)
            fail = ast.Expr(_call("_assert_fail", msg))
            return [ast.If(test=ast.UnaryOp(ast.Not(), self.expr(s.test)), body=[fail], orelse=[])]
        if isinstance(s, ast.Delete):
            return [ast.Expr(_call("_di", self.expr(t.value), self.expr(t.slice))) for t in s.targets]
        if isinstance(s, (ast.Pass, ast.Break, ast.Continue)):
            return [s]
        raise AssertionError(f"checker admitted {type(s).__name__}")  # pragma: no cover

    # ------------------------------------------------------------ expressions
    def expr(self, e: ast.expr) -> ast.expr:
        new = self._expr(e)
        return ast.copy_location(new, e)

    def _expr(self, e: ast.expr) -> ast.expr:
        if isinstance(e, (ast.Constant, ast.Name)):
            return e
        if isinstance(e, ast.BinOp):
            return _call(BINOP_HELPERS[type(e.op)], self.expr(e.left), self.expr(e.right))
        if isinstance(e, ast.UnaryOp):
            if isinstance(e.op, ast.Invert):  # 3.12 warns on ~bool; big ints allocate
                return _call("_inv", self.expr(e.operand))
            if isinstance(e.op, ast.USub) and not isinstance(e.operand, ast.Constant):
                return _call("_neg", self.expr(e.operand))  # -x of a big int allocates
            return ast.UnaryOp(e.op, self.expr(e.operand))
        if isinstance(e, ast.BoolOp):
            return ast.BoolOp(e.op, [self.expr(v) for v in e.values])
        if isinstance(e, ast.Compare):
            return self.compare(e)
        if isinstance(e, ast.IfExp):
            return ast.IfExp(self.expr(e.test), self.expr(e.body), self.expr(e.orelse))
        if isinstance(e, ast.Attribute):
            return _call("_ga", self.expr(e.value), _const(e.attr))
        if isinstance(e, ast.Call):
            args = [self.expr(a) for a in e.args]
            kws = [ast.keyword(k.arg, self.expr(k.value)) for k in e.keywords]
            if isinstance(e.func, ast.Attribute):
                if not kws and len(args) <= 3:  # the fixed-arity forms of _cm (methods.method_callers)
                    return _call(f"_cm{len(args)}", self.expr(e.func.value), _const(e.func.attr), *args)
                return _call("_cm", self.expr(e.func.value), _const(e.func.attr), *args, keywords=kws)
            return ast.Call(self.expr(e.func), args, kws)
        if isinstance(e, ast.Subscript):
            if isinstance(e.slice, ast.Slice):
                parts = [_const(None) if p is None else self.expr(p) for p in (e.slice.lower, e.slice.upper, e.slice.step)]
                return _call("_gs", self.expr(e.value), *parts)
            return _call("_gi", self.expr(e.value), self.expr(e.slice))
        if isinstance(e, ast.List):
            return ast.List([self.expr(v) for v in e.elts], ast.Load())
        if isinstance(e, ast.Tuple):
            return ast.Tuple([self.expr(v) for v in e.elts], ast.Load())
        if isinstance(e, ast.Dict):
            keys = [k if isinstance(k, ast.Constant) else _call("_key", self.expr(k)) for k in e.keys]
            return ast.Dict(keys, [self.expr(v) for v in e.values])
        if isinstance(e, ast.ListComp):
            return ast.ListComp(self.expr(e.elt), self.generators(e.generators, count_nodes(e.elt), LIST_SLOT))
        if isinstance(e, ast.DictComp):
            size = count_nodes(e.key) + count_nodes(e.value)
            gens = self.generators(e.generators, size, DICT_SLOT)
            return ast.DictComp(_call("_key", self.expr(e.key)), self.expr(e.value), gens)
        if isinstance(e, ast.JoinedStr):
            values = []
            for part in e.values:
                if isinstance(part, ast.FormattedValue):
                    part = ast.FormattedValue(_call("_fmt", self.expr(part.value)), -1, None)
                values.append(part)
            return ast.JoinedStr(values)
        raise AssertionError(f"checker admitted {type(e).__name__}")  # pragma: no cover

    def generators(self, gens: list[ast.comprehension], elt_nodes: int, slot: int) -> list[ast.comprehension]:
        out = []
        for i, g in enumerate(gens):
            last = i == len(gens) - 1
            w = gas.LOOP + gas.NODE * (sum(count_nodes(c) for c in g.ifs) + (elt_nodes if last else 0))
            if last:
                w += (slot >> 3) * gas.WORD  # the result slot, charged as allocation
            it = _call("_it", self.expr(g.iter), _const(w), _const(slot if last else 0))
            out.append(ast.comprehension(g.target, it, [self.expr(c) for c in g.ifs], 0))
        return out

    def compare(self, e: ast.Compare) -> ast.expr:
        left = self.expr(e.left)
        pieces: list[ast.expr] = []
        n = len(e.ops)
        for i, (op, right) in enumerate(zip(e.ops, e.comparators)):
            r = self.expr(right)
            nxt: ast.expr | None = None
            if i < n - 1:
                name = self.tmp()
                r = ast.NamedExpr(ast.Name(name, ast.Store()), r)
                nxt = ast.Name(name, ast.Load())
            if isinstance(op, (ast.Is, ast.IsNot)):
                pieces.append(ast.Compare(left, [op], [r]))
            else:
                pieces.append(_call(COMPARE_HELPERS[type(op)], left, r))
            left = nxt  # type: ignore[assignment]
        return pieces[0] if n == 1 else ast.BoolOp(ast.And(), pieces)


def instrument(tree: ast.Module) -> ast.Module:
    """Return the instrumented module (the input tree is consumed)."""
    out = _Rewriter().module(tree)
    return ast.fix_missing_locations(out)


def compile_tree(tree: ast.Module) -> types.CodeType:
    """Instrument and compile a checked tree to a code object."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(instrument(tree), "<contract>", "exec", dont_inherit=True, optimize=0)
