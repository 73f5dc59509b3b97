"""The contract subset, enforced by an allowlist over the AST.

``check_source(src)`` returns every broken rule as ``Violation(line, rule)``;
an empty list means the source is in the subset.  The subset is
"Starlark-shaped Python" (docs/contracts.md lists every rule):

* Two passes.  The first is iterative and exhaustive: every node of the tree
  must be of a type in ``ALLOWED_NODES``, and the tree may be at most
  ``MAX_DEPTH`` deep and ``MAX_NODES`` big.  Anything new that a future
  Python adds to the grammar is refused by default.  The second pass checks
  the rules that depend on context (module level holds only functions and
  constants; names resolve to a local, a module name, the library or the
  host API; attributes are on the allowlist; ``is`` only against None/True/
  False; f-string fields are plain; ...).  It recurses, which is safe because
  the first pass bounded the depth.
* Before parsing: a size cap, no NUL, no coding declaration, valid UTF-8.
  Parsing uses ``feature_version=(3, 11)``; a source that is not valid 3.11
  syntax is refused on every version (the refusal's wording may differ, the
  verdict does not).
* Names and attributes starting with ``_`` are refused outright: that rules
  out every dunder and every name the instrumenter injects (``_g``, ``_add``).

The checker never raises on any ``str`` input (a property test checks this);
it only reports.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
import warnings

from . import interp
from .errors import Violation
from .gas import INT_LIMIT, MAX_INT_BITS
from .lawkit import VERSIONS, kit_names, library_version
from .names import ATTRIBUTE_NAMES, FORBIDDEN_NAMES, HOST_NAMES, LIBRARY_NAMES

MAX_SOURCE_BYTES = 128 * 1024  # the largest law is 26 KiB; parsing is paid by every node, uncharged
MAX_NODES = 60_000
MAX_DEPTH = 48  # AST nesting
# Loops and comprehension clauses nested in one another.  CPython allows 20
# statically nested blocks (the runtime wraps every body in one more); 3.12
# inlines comprehensions as blocks *without* checking that limit, and its
# compiler crashes (SIGSEGV) on about 20 nested comprehensions in a try.
MAX_BLOCK_NESTING = 12

ENTRY_DECLS = ("ENTRIES", "VIEWS")

ALLOWED_NODES = frozenset(
    {
        ast.Module, ast.FunctionDef, ast.arguments, ast.arg, ast.keyword,
        # statements
        ast.Return, ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.While,
        ast.If, ast.Expr, ast.Pass, ast.Break, ast.Continue, ast.Assert, ast.Delete,
        # expressions
        ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.IfExp, ast.Call,
        ast.Constant, ast.Name, ast.Attribute, ast.Subscript, ast.Slice,
        ast.List, ast.Tuple, ast.Dict, ast.ListComp, ast.DictComp, ast.comprehension,
        ast.JoinedStr, ast.FormattedValue,
        # contexts and operators
        ast.Load, ast.Store, ast.Del, ast.And, ast.Or,
        ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift,
        ast.RShift, ast.BitAnd, ast.BitOr, ast.BitXor,
        ast.Not, ast.USub, ast.UAdd, ast.Invert,
        ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn,
        ast.Is, ast.IsNot,
    }
)

_NODE_RULES = {
    "ClassDef": "classes are not allowed",
    "Lambda": "lambda is not allowed (define a function)",
    "GeneratorExp": "generator expressions are not allowed (use a list comprehension)",
    "Yield": "generators (yield) are not allowed",
    "YieldFrom": "generators (yield) are not allowed",
    "Await": "async is not allowed",
    "AsyncFunctionDef": "async is not allowed",
    "AsyncFor": "async is not allowed",
    "AsyncWith": "async is not allowed",
    "Try": "try/except/finally is not allowed (errors end the call; use fail())",
    "TryStar": "try/except*/finally is not allowed",
    "Raise": "raise is not allowed (use fail(code, detail))",
    "With": "with is not allowed",
    "Import": "import is not allowed",
    "ImportFrom": "import is not allowed",
    "Global": "global is not allowed (no global mutable state)",
    "Nonlocal": "nonlocal is not allowed",
    "Set": "sets are not allowed (unordered)",
    "SetComp": "sets are not allowed (unordered)",
    "NamedExpr": "assignment expressions (:=) are not allowed",
    "Starred": "star unpacking is not allowed",
    "Match": "match is not allowed",
    "Div": "true division '/' is not allowed: use //, div_round or mul_div",
    "MatMult": "operator @ is not allowed",
    "TypeAlias": "type aliases are not allowed",
}

_COOKIE = re.compile(r"^[ \t\f]*#.*?coding[:=][ \t]*[-\w.]+", re.ASCII)
_IMMUTABLE_CONST = (int, str, bytes, bool, type(None))


def _line(node: ast.AST) -> int:
    return getattr(node, "lineno", 1) or 1


def check_source(source: str) -> list[Violation]:
    """Return the rules ``source`` breaks (empty: it is in the subset)."""
    if type(source) is not str:
        return [Violation(1, "source must be a str")]
    try:
        size = len(source.encode("utf-8"))
    except UnicodeEncodeError:
        return [Violation(1, "source is not valid UTF-8")]
    if size > MAX_SOURCE_BYTES:
        return [Violation(1, f"source is over {MAX_SOURCE_BYTES} bytes")]
    if "\x00" in source:
        return [Violation(1, "source contains a NUL character")]
    for i, text in enumerate(source.splitlines()[:2], start=1):
        if _COOKIE.match(text):
            return [Violation(i, "coding declarations are not allowed (sources are UTF-8)")]
    try:
        tree = parse(source)
    except SyntaxError as e:
        return [Violation(e.lineno or 1, "syntax error")]
    except (RecursionError, MemoryError, ValueError, OverflowError):
        return [Violation(1, "source too deeply nested or too complex to parse")]
    shape, fatal = _check_shape(tree)
    if fatal:
        return shape
    out = set(shape) | set(_check_identifiers(source))
    try:
        out.update(_Checker().run(tree))
    except Exception:  # pragma: no cover - only on trees pass 1 already refused
        if not shape:
            raise
    return sorted(out, key=lambda v: (v.line, v.rule))


def _rule_for(node: ast.AST) -> str:
    name = type(node).__name__
    return _NODE_RULES.get(name, f"{name} is not allowed")


def parse(source: str) -> ast.Module:
    """``ast.parse`` as 3.11 syntax, deaf to warnings.

    Warnings (invalid escapes, ``1()``) differ between versions and a node
    running with ``-W error`` would turn them into refusals; they never
    change the verdict here.
    """
    interp.ensure()  # a long literal parses or not by int_max_str_digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, mode="exec", feature_version=(3, 11))


def _check_shape(tree: ast.AST) -> tuple[list[Violation], bool]:
    """Pass 1: node types from the allowlist, bounded depth and size.

    Returns the violations and whether they are fatal (size/depth: pass 2
    must not run on such a tree).  Operators and contexts have no line of
    their own; they get their parent's.
    """
    out: list[Violation] = []
    count = 0
    stack = [(tree, 0, 1, 0)]
    while stack:
        node, depth, parent_line, blocks = stack.pop()
        line = getattr(node, "lineno", None) or parent_line
        count += 1
        if count > MAX_NODES:
            return [Violation(1, f"source has over {MAX_NODES} syntax nodes")], True
        if depth > MAX_DEPTH:
            return [Violation(line, f"nesting deeper than {MAX_DEPTH}")], True
        if type(node) not in ALLOWED_NODES:
            out.append(Violation(line, _rule_for(node)))
            continue
        if type(node) is ast.Constant:
            rule = _literal_rule(node.value)
            if rule:
                out.append(Violation(line, rule))
        if type(node) in (ast.For, ast.While):
            blocks += 1
        elif type(node) in (ast.ListComp, ast.DictComp):
            blocks += len(node.generators)
        if blocks > MAX_BLOCK_NESTING:
            return [Violation(line, f"loops and comprehensions nested more than {MAX_BLOCK_NESTING} deep")], True
        for child in ast.iter_child_nodes(node):
            stack.append((child, depth + 1, line, blocks))
    return out, False


def _literal_rule(v) -> str:
    """Literals are capped like results: ints under 2**MAX_INT_BITS, text valid Unicode."""
    if type(v) is int and not -INT_LIMIT < v < INT_LIMIT:
        return f"integer literal over {MAX_INT_BITS} bits"
    if type(v) is str and not v.isascii():
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            return "string literal holds a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
    return ""


def _check_identifiers(source: str) -> list[Violation]:
    """Identifiers must be ASCII (Python NFKC-folds look-alike letters)."""
    if source.isascii():
        return []
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NAME and not tok.string.isascii():
                out.append(Violation(tok.start[0], "identifiers must be ASCII"))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        out.append(Violation(1, "source cannot be tokenized"))
    return out


class _Checker:
    """Pass 2: context rules.  Depth is bounded by pass 1."""

    def __init__(self) -> None:
        self.out: list[Violation] = []
        self.module_names: set[str] = set()
        self.functions: set[str] = set()
        self.scopes: list[set[str]] = []
        self.kit: frozenset = frozenset()  # names library version 2 supplies (lawkit.py)

    def bad(self, node: ast.AST, rule: str) -> None:
        self.out.append(Violation(_line(node), rule))

    # ------------------------------------------------------------ module
    def run(self, tree: ast.Module) -> list[Violation]:
        body = tree.body
        if library_version(tree) is None:
            self.bad(tree.body[0] if tree.body else tree, f"LIBRARY must be one of {VERSIONS} (an int literal)")
        self.kit = kit_names(tree)
        decls: dict[str, tuple[ast.AST, list[str]]] = {}
        # first collect module names so functions may call later functions
        for stmt in body:
            if isinstance(stmt, ast.FunctionDef):
                self._declare(stmt, stmt.name)
                self.functions.add(stmt.name)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if len(targets) == 1 and isinstance(targets[0], ast.Name):
                    self._declare(stmt, targets[0].id)
        defined: set[str] = set()
        for i, stmt in enumerate(body):
            if isinstance(stmt, ast.FunctionDef):
                self._function(stmt, defined)
            elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                if isinstance(stmt, ast.AnnAssign):
                    self._annotation(stmt.annotation)
                if len(targets) != 1 or not isinstance(targets[0], ast.Name):
                    self.bad(stmt, "module level may only assign one name")
                    continue
                if stmt.value is None:
                    self.bad(stmt, "a module constant needs a value")
                    continue
                name = targets[0].id
                if name in ENTRY_DECLS:
                    decls[name] = (stmt, self._decl_list(stmt.value))
                else:
                    self._const(stmt.value, defined)
                defined.add(name)
            elif i == 0 and _is_docstring(stmt):
                continue
            elif type(stmt) in ALLOWED_NODES:  # others were reported by pass 1
                self.bad(stmt, "module level may only define functions and constants")
        self._entries(decls)
        return self.out

    def _declare(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            self.bad(node, "names starting with '_' are not allowed")
        elif name in LIBRARY_NAMES or name in HOST_NAMES:
            self.bad(node, f"cannot rebind the builtin name '{name}'")
        elif name in self.module_names:
            self.bad(node, f"module name '{name}' is defined twice")
        self.module_names.add(name)

    def _decl_list(self, value: ast.AST) -> list[str]:
        if isinstance(value, (ast.Tuple, ast.List)) and all(
            isinstance(e, ast.Constant) and type(e.value) is str for e in value.elts
        ):
            return [e.value for e in value.elts]
        self.bad(value, "ENTRIES and VIEWS must be tuples of function names (str literals)")
        return []

    def _entries(self, decls: dict[str, tuple[ast.AST, list[str]]]) -> None:
        seen: set[str] = set()
        for kind in ENTRY_DECLS:
            if kind not in decls:
                continue
            node, names = decls[kind]
            for n in names:
                if n not in self.functions and n not in self.kit:
                    self.bad(node, f"{kind} names '{n}', which is not a function of this module")
                elif n in seen:
                    self.bad(node, f"'{n}' is declared twice in ENTRIES/VIEWS")
                seen.add(n)

    def _const(self, node: ast.AST, defined: set[str], immutable: bool = False) -> None:
        """A constant expression: literals, displays, arithmetic, earlier constants."""
        if isinstance(node, ast.Constant):
            self._constant(node)
        elif isinstance(node, ast.Name):
            if node.id not in defined or node.id in self.functions:
                self.bad(node, f"constant may only use earlier constants, not '{node.id}'")
        elif isinstance(node, ast.Tuple):
            for e in node.elts:
                self._const(e, defined, immutable)
        elif isinstance(node, (ast.List, ast.Dict)) and immutable:
            self.bad(node, "default values must be immutable (int, str, bytes, bool, None, tuple)")
        elif isinstance(node, ast.List):
            for e in node.elts:
                self._const(e, defined)
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values):
                if not (isinstance(k, ast.Constant) and type(k.value) is str):
                    self.bad(node, "dict keys must be str")
                self._const(v, defined)
        elif isinstance(node, ast.UnaryOp):
            self._const(node.operand, defined, immutable)
        elif isinstance(node, ast.BinOp):
            self._const(node.left, defined, immutable)
            self._const(node.right, defined, immutable)
        else:
            self.bad(node, "module constants and defaults must be constant expressions")

    # ------------------------------------------------------------ functions
    def _function(self, fn: ast.FunctionDef, defined: set[str]) -> None:
        if fn.decorator_list:
            self.bad(fn, "decorators are not allowed")
        if getattr(fn, "type_params", None):
            self.bad(fn, "type parameters are not allowed")
        a = fn.args
        if a.posonlyargs or a.vararg or a.kwarg:
            self.bad(fn, "only plain and keyword-only parameters are allowed (no /, *args, **kwargs)")
        for d in a.defaults + [d for d in a.kw_defaults if d is not None]:
            self._const(d, defined, immutable=True)
        params: set[str] = set()
        for arg in a.posonlyargs + a.args + a.kwonlyargs:
            self._store_name(arg, arg.arg)
            params.add(arg.arg)
            if arg.annotation is not None:
                self._annotation(arg.annotation)
        if fn.returns is not None:
            self._annotation(fn.returns)
        local = set(params)
        for stmt in fn.body:
            _collect_assigned(stmt, local)
        self.scopes = [local]
        self._block(fn.body, top=True)
        self.scopes = []

    def _annotation(self, node: ast.AST) -> None:
        """Annotations are stripped before compiling; keep them plain types."""
        if isinstance(node, ast.Name):
            if node.id.startswith("_"):
                self.bad(node, "names starting with '_' are not allowed")
        elif isinstance(node, ast.Constant) and (node.value is None or type(node.value) is str):
            pass
        elif isinstance(node, ast.Subscript):
            self._annotation(node.value)
            self._annotation(node.slice)
        elif isinstance(node, ast.Tuple):
            for e in node.elts:
                self._annotation(e)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            self._annotation(node.left)
            self._annotation(node.right)
        else:
            self.bad(node, "annotations may only name types (int, list[str], X | None)")

    def _block(self, stmts: list[ast.stmt], top: bool = False) -> None:
        for i, stmt in enumerate(stmts):
            if top and i == 0 and _is_docstring(stmt):
                continue
            self._stmt(stmt)

    def _stmt(self, s: ast.stmt) -> None:
        if isinstance(s, ast.FunctionDef):
            self.bad(s, "nested functions are not allowed")
        elif isinstance(s, ast.Return):
            if s.value is not None:
                self._expr(s.value)
        elif isinstance(s, ast.Assign):
            if len(s.targets) > 1 and not all(isinstance(t, ast.Name) for t in s.targets):
                self.bad(s, "chained assignment only to plain names")
            for t in s.targets:
                self._target(t, allow_subscript=len(s.targets) == 1)
            self._expr(s.value)
        elif isinstance(s, ast.AugAssign):
            self._target(s.target, allow_subscript=True, allow_tuple=False)
            self._expr(s.value)
        elif isinstance(s, ast.AnnAssign):
            self._annotation(s.annotation)
            if s.value is None or not isinstance(s.target, ast.Name):
                self.bad(s, "annotated assignment needs a plain name and a value")
            else:
                self._target(s.target)
                self._expr(s.value)
        elif isinstance(s, ast.For):
            self._target(s.target, allow_subscript=False)
            self._expr(s.iter)
            self._block(s.body)
            self._block(s.orelse)
        elif isinstance(s, (ast.While, ast.If)):
            self._expr(s.test)
            self._block(s.body)
            self._block(s.orelse)
        elif isinstance(s, ast.Expr):
            self._expr(s.value)
        elif isinstance(s, ast.Assert):
            self._expr(s.test)
            if s.msg is not None and not (
                isinstance(s.msg, ast.Constant) and type(s.msg.value) in (int, str)
            ):
                self.bad(s, "an assert message must be a str or int literal")
        elif isinstance(s, ast.Delete):
            for t in s.targets:
                if not isinstance(t, ast.Subscript) or isinstance(t.slice, ast.Slice):
                    self.bad(s, "del only removes one item: del d[key]")
                else:
                    self._expr(t.value)
                    self._expr(t.slice)
        elif isinstance(s, (ast.Pass, ast.Break, ast.Continue)):
            pass
        else:  # pass 1 admits only the kinds above; keep the default closed
            self.bad(s, _rule_for(s))

    def _target(self, t: ast.AST, allow_subscript: bool = True, allow_tuple: bool = True) -> None:
        if isinstance(t, ast.Name):
            self._store_name(t, t.id)
        elif isinstance(t, (ast.Tuple, ast.List)) and allow_tuple:
            for e in t.elts:
                if not isinstance(e, ast.Name):
                    self.bad(t, "unpacking assigns plain names only")
                else:
                    self._store_name(e, e.id)
        elif isinstance(t, ast.Subscript) and allow_subscript:
            if isinstance(t.slice, ast.Slice):
                self.bad(t, "slice assignment is not allowed")
            self._expr(t.value)
            self._expr(t.slice)
        elif isinstance(t, ast.Attribute):
            self.bad(t, "assigning attributes is not allowed")
        else:
            self.bad(t, "this assignment target is not allowed")

    def _store_name(self, node: ast.AST, name: str) -> None:
        if name.startswith("_"):
            self.bad(node, "names starting with '_' are not allowed")
        elif name in LIBRARY_NAMES or name in HOST_NAMES:
            self.bad(node, f"cannot rebind the builtin name '{name}'")

    # ------------------------------------------------------------ expressions
    # Long by design: one arm per kind of expression node, a dispatch table written as code (as Malachite's apply has one arm per rule); each arm is two or three lines.
    def _expr(self, e: ast.AST) -> None:
        if isinstance(e, ast.Constant):
            self._constant(e)
        elif isinstance(e, ast.Name):
            self._load_name(e)
        elif isinstance(e, ast.Attribute):
            if not isinstance(e.ctx, ast.Load):
                self.bad(e, "assigning attributes is not allowed")
            if e.attr.startswith("_"):
                self.bad(e, "attributes starting with '_' are not allowed")
            elif e.attr not in ATTRIBUTE_NAMES:
                self.bad(e, f"attribute '{e.attr}' is not allowed")
            self._expr(e.value)
        elif isinstance(e, ast.BinOp):
            self._expr(e.left)
            self._expr(e.right)
        elif isinstance(e, ast.UnaryOp):
            self._expr(e.operand)
        elif isinstance(e, ast.BoolOp):
            for v in e.values:
                self._expr(v)
        elif isinstance(e, ast.Compare):
            operands = [e.left] + e.comparators
            for i, op in enumerate(e.ops):
                if isinstance(op, (ast.Is, ast.IsNot)) and not (
                    _is_singleton(operands[i]) or _is_singleton(operands[i + 1])
                ):
                    self.bad(e, "'is' may only compare with None, True or False")
            for v in operands:
                self._expr(v)
        elif isinstance(e, ast.IfExp):
            self._expr(e.test)
            self._expr(e.body)
            self._expr(e.orelse)
        elif isinstance(e, ast.Call):
            self._expr(e.func)
            for a in e.args:
                self._expr(a)
            for k in e.keywords:
                if k.arg is None:
                    self.bad(e, "** unpacking in calls is not allowed")
                else:
                    if k.arg.startswith("_"):
                        self.bad(e, "names starting with '_' are not allowed")
                    self._expr(k.value)
        elif isinstance(e, ast.Subscript):
            self._expr(e.value)
            if isinstance(e.slice, ast.Slice):
                for part in (e.slice.lower, e.slice.upper, e.slice.step):
                    if part is not None:
                        self._expr(part)
            else:
                self._expr(e.slice)
        elif isinstance(e, (ast.List, ast.Tuple)):
            if not isinstance(e.ctx, ast.Load):
                self.bad(e, "this assignment target is not allowed")
            for v in e.elts:
                self._expr(v)
        elif isinstance(e, ast.Dict):
            for k, v in zip(e.keys, e.values):
                if k is None:
                    self.bad(e, "dict unpacking (**) is not allowed")
                    continue
                if isinstance(k, ast.Constant) and type(k.value) is not str:
                    self.bad(e, "dict keys must be str")
                self._expr(k)
                self._expr(v)
        elif isinstance(e, (ast.ListComp, ast.DictComp)):
            self._comprehension(e)
        elif isinstance(e, ast.JoinedStr):
            self._fstring(e)
        elif type(e) in ALLOWED_NODES:  # Slice, FormattedValue outside their place
            self.bad(e, f"{type(e).__name__} is not allowed here")
        else:
            self.bad(e, _rule_for(e))

    def _constant(self, e: ast.Constant) -> None:
        v = e.value
        if type(v) is float or type(v) is complex:
            self.bad(e, "float literals are not allowed (money is an integer count of fen)")
        elif type(v) not in _IMMUTABLE_CONST:
            self.bad(e, f"constant {type(v).__name__} is not allowed")

    def _load_name(self, e: ast.Name) -> None:
        name = e.id
        if not isinstance(e.ctx, ast.Load):
            self._store_name(e, name)
            return
        if name.startswith("_"):
            self.bad(e, "names starting with '_' are not allowed")
        elif any(name in s for s in self.scopes) or name in self.module_names or name in self.kit:
            return
        elif name in LIBRARY_NAMES or name in HOST_NAMES:
            return
        elif name in FORBIDDEN_NAMES:
            self.bad(e, f"'{name}' is not available ({FORBIDDEN_NAMES[name]})")
        else:
            self.bad(e, f"unknown name '{name}'")

    def _comprehension(self, e: ast.ListComp | ast.DictComp) -> None:
        scope: set[str] = set()
        self.scopes.append(scope)
        for gen in e.generators:
            if gen.is_async:
                self.bad(e, "async is not allowed")
            self._expr(gen.iter)
            self._target(gen.target, allow_subscript=False)
            _collect_target(gen.target, scope)
            for cond in gen.ifs:
                self._expr(cond)
        if isinstance(e, ast.ListComp):
            self._expr(e.elt)
        else:
            if isinstance(e.key, ast.Constant) and type(e.key.value) is not str:
                self.bad(e, "dict keys must be str")
            self._expr(e.key)
            self._expr(e.value)
        self.scopes.pop()

    def _fstring(self, e: ast.JoinedStr) -> None:
        if getattr(e, "end_lineno", e.lineno) != e.lineno:
            self.bad(e, "f-strings must fit on one line")
        for part in e.values:
            if isinstance(part, ast.Constant) and type(part.value) is str:
                continue
            if not isinstance(part, ast.FormattedValue):
                self.bad(e, "malformed f-string")
                continue
            if part.conversion != -1 or part.format_spec is not None:
                self.bad(e, "f-string conversions (!r) and format specs (:...) are not allowed")
            for sub in ast.walk(part.value):
                if isinstance(sub, ast.JoinedStr) or (
                    isinstance(sub, ast.Constant) and type(sub.value) in (str, bytes)
                ):
                    self.bad(e, "f-string fields may not contain string literals")
                    break
            self._expr(part.value)


def _is_docstring(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and type(stmt.value.value) is str


def _is_singleton(e: ast.AST) -> bool:
    return isinstance(e, ast.Constant) and (e.value is None or e.value is True or e.value is False)


def _collect_target(t: ast.AST, into: set[str]) -> None:
    if isinstance(t, ast.Name):
        into.add(t.id)
    elif isinstance(t, (ast.Tuple, ast.List)):
        for e in t.elts:
            _collect_target(e, into)


def _collect_assigned(stmt: ast.AST, into: set[str]) -> None:
    """Names a function body binds (its locals), not entering comprehensions."""
    stack = [stmt]
    while stack:
        s = stack.pop()
        if isinstance(s, ast.Assign):
            for t in s.targets:
                _collect_target(t, into)
        elif isinstance(s, (ast.AugAssign, ast.AnnAssign)):
            _collect_target(s.target, into)
        elif isinstance(s, ast.For):
            _collect_target(s.target, into)
        if isinstance(s, (ast.For, ast.While, ast.If)):
            stack.extend(s.body)
            stack.extend(s.orelse)
