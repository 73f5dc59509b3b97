"""Compile contracts and execute their entries and views.

Public API (re-exported by ``contracts.runtime``):

``compile_contract(name, source, *, version=0) -> Contract``
    check + instrument + compile; raises ``CheckError``.  Compiled code is
    cached by code hash (BLAKE3 of the UTF-8 source).
``execute(contract, function, args, host, gas_limit, *, read_only) -> Result``
    run one entry or view; ``Result.code == 0`` is success.  On success of a
    writable call the buffered effects go to ``host.apply`` once.  Raises
    ``SandboxBreach`` only when determinism cannot be guaranteed (the node
    must halt).

Theory of operation
-------------------
One :class:`Machine` serves one top-level call: a meter (gas, memory,
depth), the operator helpers, the library, and the overlay of effects.  For
every contract frame it fills globals (helpers, host API objects bound to
that frame, the library as ``__builtins__``) and the names the contract's
module body defines.  The body (constants and ``def``s only) runs on the
first frame of a code hash on a thread's kit; its names and the gas and
memory it charged are kept (``_Kit.load``), and later frames are charged
exactly that gas and memory instead of running it again, so the charge
depends on the code alone, warm or cold.  Contracts cannot assign globals
and module constants are frozen, so nothing a frame does persists into
another; when the frame ends its own globals (``ctx``, ``storage``, ...) are
dropped from the kept module's globals, and the next frame sets only those
and the meter's helpers.

A contract's declared functions are called with keyword arguments that were
copied through the canonical codec; the result is copied back the same way.
Any failure anywhere in the call tree ends the whole call: there is no way
for a contract to catch a failure, its own or a callee's.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import sys
import threading
import types
from typing import Any

import blake3

from . import gas, instrument, interp, lawkit
from .checker import check_source, parse
from .errors import CheckError, ErrorCode, Fault, SandboxBreach
from .host import Effects, Host
from .hostapi import (RESULT_AT, Ctx, Frame, HostFailure, Overlay, State, Storage, _charged_copy, _encode_copy,
                      copy_value, host_call)
from .library import Library
from .methods import get_attr, method_caller, method_callers
from .ops import Ops

CACHE_SIZE = 256
MODULE_CACHE_SIZE = 32  # loaded law modules a thread's kit keeps (least recently used dropped)
MODULE_MEM = 256 << 10  # logical bytes of constants above which a module is not kept
COMPILE_STACK = 16 << 20  # bytes of stack of the thread that checks and compiles
# Python frames kept free above the caller for a call: the meter counts
# contract frames (functions and comprehensions, ``MAX_CALL_DEPTH``); each may
# sit on a few runtime frames (a method wrapper, a sort key's list, a call()).
FRAMES_PER_COUNTED = 8
STACK_HEADROOM = (gas.MAX_CALL_DEPTH + 4 * gas.MAX_CONTRACT_DEPTH) * FRAMES_PER_COUNTED + 400


@dataclasses.dataclass(frozen=True)
class Contract:
    name: str
    code_hash: bytes
    source: str
    entries: tuple[str, ...]
    views: tuple[str, ...]
    code: types.CodeType = dataclasses.field(repr=False, compare=False)
    params: dict = dataclasses.field(repr=False, compare=False, default_factory=dict)
    version: int = 0
    nodes: int = 0  # syntax nodes of the source (the module-load charge)

    def is_public(self, function: str) -> bool:
        return function in self.entries or function in self.views


class Result:
    """What a call ended with: ``code`` (0: success), ``value`` (canonical data), ``gas_used``,
    ``events`` (each emitted event as ``{"contract", "name", "data"}``, in order).

    ``args_raw``: the canonical bytes of the call's arguments, as the runtime encoded them to copy
    them in (None if the call ended before): a host may keep them instead of encoding the
    arguments again.  It is not part of the result's value (equality ignores it).

    ``events`` may be given as the runtime's ``Event`` objects (``events_of``): the dicts are
    then made on first reading, since a chain host keeps its own record of the events and most
    callers never read these.
    """

    __slots__ = ("code", "value", "gas_used", "_events", "_of", "args_raw")

    def __init__(self, code: int, value: Any, gas_used: int, events: list | None = None,
                 args_raw: bytes | None = None, *, events_of: list | None = None) -> None:
        self.code = code
        self.value = value
        self.gas_used = gas_used
        self._events = events if events is not None or events_of is not None else []
        self._of = events_of
        self.args_raw = args_raw

    @property
    def events(self) -> list:
        if self._of is not None:
            self._events = [e.to_obj() for e in self._of]
            self._of = None
        return self._events

    @events.setter
    def events(self, value: list) -> None:
        self._events = value
        self._of = None

    @property
    def ok(self) -> bool:
        return self.code == 0

    def __eq__(self, other: object) -> bool:
        if type(other) is not Result:
            return NotImplemented
        return (self.code, self.value, self.gas_used, self.events) == (other.code, other.value, other.gas_used,
                                                                      other.events)

    __hash__ = None  # type: ignore[assignment]  (mutable, as the dataclass it replaces)

    def __repr__(self) -> str:
        return f"Result(code={self.code!r}, value={self.value!r}, gas_used={self.gas_used!r}, events={self.events!r})"

    def __getstate__(self):
        return (self.code, self.value, self.gas_used, self.events, self.args_raw)

    def __setstate__(self, state) -> None:
        self.code, self.value, self.gas_used, self._events, self.args_raw = state
        self._of = None


_cache: dict[bytes, tuple] = {}
_cache_lock = threading.Lock()
_thread_lock = threading.Lock()


def code_hash(source: str) -> bytes:
    return blake3.blake3(source.encode("utf-8")).digest()


def compile_contract(name: str, source: str, *, version: int = 0) -> Contract:
    """Check, instrument and compile ``source``; raise ``CheckError`` if refused.

    The work runs on a fresh thread with a fixed stack (``COMPILE_STACK``):
    ``ast.parse`` and ``compile`` bound their recursion relative to the
    *current* stack, so compiling inside a deep contract call (a callee's
    first ``call()``) could fail where a node that compiled it earlier
    succeeded.  Only verdicts about the source are cached; an environmental
    failure (``RecursionError``/``MemoryError`` even on the fresh stack) is
    never a verdict: it raises ``SandboxBreach`` and is not cached.
    """
    if type(name) is not str or not name or not name.isascii():
        raise CheckError([])
    interp.ensure()
    h = code_hash(source) if type(source) is str and source_encodable(source) else b""
    with _cache_lock:
        hit = _cache.get(h)
    if hit is None:
        hit = on_fresh_stack(_compile_uncached, source)
        with _cache_lock:
            if len(_cache) >= CACHE_SIZE:
                _cache.pop(next(iter(_cache)))
            _cache[h] = hit
    if len(hit) == 1:
        raise CheckError(hit[0])
    code, entries, views, params, nodes = hit
    return Contract(name, h, source, entries, views, code, params, version, nodes)


def source_encodable(source: str) -> bool:
    try:
        source.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _compile_uncached(source) -> tuple:
    violations = check_source(source)
    if violations:
        return (violations,)
    tree = parse(source)
    entries, views, params = _declarations(tree)
    nodes = sum(1 for _ in ast.walk(tree))
    try:
        code = instrument.compile_tree(tree)
    except (SyntaxError, ValueError):
        return ([_compile_violation()],)
    return (code, entries, views, params, nodes)


def on_fresh_stack(fn, *args):
    """``fn(*args)`` on a new thread with a ``COMPILE_STACK`` stack, from a shallow start.

    Verdicts that depend on recursion depth (the parser's, the compiler's)
    are then the same wherever the caller is.  A ``RecursionError`` or
    ``MemoryError`` there is the machine's failure, not the source's:
    ``SandboxBreach``.
    """
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn(*args)
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box["error"] = e

    with _thread_lock:
        old = threading.stack_size(COMPILE_STACK)
        try:
            t = threading.Thread(target=target, name="esoc-compile", daemon=True)
            t.start()
        finally:
            threading.stack_size(old)
    t.join()
    err = box.get("error")
    if err is not None:
        if isinstance(err, (RecursionError, MemoryError)):
            raise SandboxBreach(f"compiling a contract hit an interpreter limit ({type(err).__name__})") from err
        raise err
    return box["value"]


def _compile_violation():
    from .errors import Violation

    return Violation(1, "construct not supported here (e.g. a chained comparison in a comprehension's iterable)")


def _declarations(tree: ast.Module) -> tuple[tuple, tuple, dict]:
    decl = {"ENTRIES": (), "VIEWS": ()}
    params = {name: lawkit.KIT_PARAMS[name] for name in lawkit.kit_names(tree)}  # a law's own definition wins
    for s in tree.body:
        if isinstance(s, (ast.Assign, ast.AnnAssign)):
            t = s.targets[0] if isinstance(s, ast.Assign) else s.target
            if t.id in decl:
                decl[t.id] = tuple(e.value for e in s.value.elts)
        elif isinstance(s, ast.FunctionDef):
            a = s.args
            names = tuple(x.arg for x in a.args + a.kwonlyargs)
            required = {x.arg for x in a.args[: len(a.args) - len(a.defaults)]}
            required |= {x.arg for x, d in zip(a.kwonlyargs, a.kw_defaults) if d is None}
            params[s.name] = (frozenset(names), frozenset(required))
    return decl["ENTRIES"], decl["VIEWS"], params


FRAME_NAMES = ("ctx", "storage", "state", "emit", "call", "fail", "beacon")  # a frame's own globals (Machine.run)


class _Module:
    """A law's module body, run once on this kit: the names it defined and what it charged."""

    __slots__ = ("g", "names", "gas", "mem", "busy", "frame")

    def __init__(self, g: dict, names: dict, gas_: int, mem: int, frame: "Frame | None" = None) -> None:
        self.g = g  # the globals its functions were created in (refilled for every frame)
        self.names = names
        self.gas = gas_
        self.mem = mem
        self.busy = True  # the frame that ran the body is using it
        # the Frame its host objects (ctx, storage, state, emit, call, fail, beacon) are bound to,
        # re-pointed at each new frame of this module (Machine.run); None: set them per frame
        self.frame = frame

    def release(self) -> None:
        """The frame is over: drop every reference to it (its host objects, the state behind them).

        The rest of the globals stay for the next frame (the helpers and library of this kit, the
        module's own names): nothing a frame does can change them (contracts cannot assign
        globals, module constants are frozen), so a warm frame sets only what is its own.  With a
        kept ``frame``, its host objects stay in the globals, bound to a frame that no longer
        holds a machine (host, state, overlay, meter): the next frame re-points it.
        """
        f = self.frame
        if f is not None:
            f.machine = None
        else:
            g = self.g
            for name in FRAME_NAMES:
                g[name] = None
        self.busy = False


def _frame_globals(frame: Frame) -> dict:
    """A frame's own globals: the host API objects bound to ``frame``."""
    return {
        "ctx": Ctx(frame), "storage": Storage(frame), "state": State(frame), "emit": frame.emit,
        "call": frame.call, "fail": frame.fail, "beacon": frame.beacon,
    }


class _Kit:
    """The meter-independent part of a machine, reused between calls.

    Building the library namespace and the helper table costs more than a
    small law's whole run, so each thread keeps one kit and re-points it at
    the new call's meter.  A kit holds no contract-visible state: every frame
    still gets fresh globals, and a kit in use is never lent twice.
    """

    def __init__(self) -> None:
        self.ops = ops = Ops(gas.Meter(0))
        self.library = Library(ops)
        self.builtins = self.library.namespace()
        self.busy = False
        self.time = 0  # block time of the call running on this kit (read by the law kit's today())
        self.modules: collections.OrderedDict[bytes, _Module] = collections.OrderedDict()
        self.helpers = {
            "_it": ops.iterate,
            "_add": ops.add, "_iadd": ops.iadd, "_sub": ops.sub, "_mul": ops.mul,
            "_floordiv": ops.floordiv, "_mod": ops.mod, "_pow": ops.pow,
            "_lshift": ops.lshift, "_rshift": ops.rshift, "_band": ops.band,
            "_bor": ops.bor, "_bxor": ops.bxor, "_eq": ops.eq, "_ne": ops.ne,
            "_lt": ops.lt, "_le": ops.le, "_gt": ops.gt, "_ge": ops.ge,
            "_in": ops.contains, "_notin": ops.notin, "_gi": ops.getitem,
            "_gs": ops.getslice, "_si": ops.setitem, "_di": ops.delitem,
            "_key": ops.key, "_fmt": ops.fmt, "_assert_fail": ops.assert_fail,
            "_freeze": ops.freeze, "_ga": get_attr, "_inv": ops.invert, "_neg": ops.neg,
            "_cm": method_caller(ops), **method_callers(ops),
        }

    def enter(self, contract: Contract, m: gas.Meter, machine, address: str, caller: str, read_only: bool,
              direct: bool) -> tuple[dict, "_Module | None"]:
        """``load`` for a frame of ``machine``: the globals and the kept module (or None).

        Warm, with the module's kept ``Frame`` (the one its host objects are bound to): that frame
        is re-pointed at this call (machine, address, caller, read-only, direct) and nothing else
        of the globals changes but the meter's helpers, so no host object, frame or namespace is
        built per call; the charge is ``load``'s.  Otherwise (cold, busy, or kept without a frame)
        a new frame and host objects, as ``load`` takes them.
        """
        mod = self.modules.get(contract.code_hash)
        if mod is not None and mod.frame is not None and not mod.busy and m.left >= mod.gas \
                and m.mem + mod.mem <= gas.MEMORY_LIMIT:
            m.left -= mod.gas
            m.mem += mod.mem
            f = mod.frame
            f.machine = machine
            f.name = contract.name  # (one source may be installed under two names: one kept module)
            f.address = address
            f.caller = caller
            f.read_only = read_only
            f.direct = direct
            g = mod.g
            h = self.helpers
            g["_g"] = h["_g"]  # the meter's (kit.bind): everything else of the kit is the same objects
            g["_enter"] = h["_enter"]
            g["_leave"] = h["_leave"]
            mod.busy = True
            self.modules.move_to_end(contract.code_hash)
            return g, mod
        frame = Frame(machine, contract.name, address, caller, read_only, direct)
        g, mod = self.load(contract, _frame_globals(frame), m)
        if mod is not None and mod.frame is None and g is mod.g:
            mod.frame = frame  # from now on this module's frames re-point this one
        return g, mod

    def load(self, contract: Contract, local: dict, m: gas.Meter) -> tuple[dict, "_Module | None"]:
        """The globals of a new frame of ``contract``, its module body run (or its result reused).

        Cold: fresh globals (helpers, the library, the frame's host objects
        ``local``), the module body executed and metered.  If that succeeds
        and its constants are small, the names the body defined are kept
        (``_Module``) with the gas and memory the body charged.  Warm: the
        kept dict is refilled (helpers, library, ``local``, the kept names)
        and the meter is charged exactly that gas and memory, which is what
        running the body would charge: the body is constants and function
        definitions only (checker), so its charges depend on the code alone,
        and ``left``/``mem`` only move one way, so it fails on this meter iff
        ``left < gas`` or ``mem + memory > MEMORY_LIMIT``; then (and when
        the kept module is in use by an outer frame) the cold path runs, and
        fails exactly where the body would.  Nothing a frame does can reach
        the kept names: contracts cannot assign globals (no ``global``, and
        module constants are frozen: tuples, read-only dicts, scalars).
        """
        mod = self.modules.get(contract.code_hash)
        if mod is not None and not mod.busy and m.left >= mod.gas and m.mem + mod.mem <= gas.MEMORY_LIMIT:
            m.left -= mod.gas
            m.mem += mod.mem
            g = mod.g
            h = self.helpers
            g["_g"] = h["_g"]  # the meter's (kit.bind): everything else of the kit is the same objects
            g["_enter"] = h["_enter"]
            g["_leave"] = h["_leave"]
            g.update(local)
            mod.busy = True
            self.modules.move_to_end(contract.code_hash)
            return g, mod
        g = dict(self.helpers)
        g["__builtins__"] = self.builtins
        g.update(local)
        left, mem = m.left, m.mem
        exec(contract.code, g)
        if g.get("LIBRARY") == lawkit.KIT_VERSION:
            lawkit.bind(g, self)  # kept with the module's names below: bound once, not per call
        if mod is not None or m.mem - mem > MODULE_MEM or not contract.code_hash:
            return g, None
        names = {k: v for k, v in g.items() if k not in self.helpers and k not in local and k != "__builtins__"}
        mod = _Module(g, names, left - m.left, m.mem - mem)
        self.modules[contract.code_hash] = mod
        if len(self.modules) > MODULE_CACHE_SIZE:
            self.modules.popitem(last=False)
        return g, mod

    def bind(self, meter: gas.Meter) -> None:
        self.ops.m = self.library.m = meter
        h = self.helpers
        h["_g"] = meter.tick
        h["_enter"] = meter.enter
        h["_leave"] = meter.leave


_local = threading.local()


def _take_kit() -> _Kit:
    kit = getattr(_local, "kit", None)
    if kit is None or kit.busy:
        kit = _Kit()
        if getattr(_local, "kit", None) is None:
            _local.kit = kit
    kit.busy = True
    return kit


class Machine:
    """Everything one top-level call shares (see the module docstring)."""

    def __init__(self, host: Host, gas_limit: int, read_only: bool):
        self.host = host
        self.meter = gas.Meter(gas_limit)
        self.read_only = read_only
        self.overlay = Overlay(host)
        self.kit = kit = _take_kit()
        kit.bind(self.meter)
        self.ops = kit.ops
        self.builtins = kit.builtins
        self.helpers = kit.helpers
        self.active: list[str] = []
        self.args_raw: bytes | None = None
        self.sources: dict[str, str | None] = {}
        try:  # host_call(host.sender), host_call(host.height), host_call(host.time), in one
            sender, height, time_ = host.sender(), host.height(), host.time()
        except Fault:
            raise
        except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
            raise HostFailure(type(e).__name__) from e
        self.sender = str(sender)
        self.height = int(height)
        self.time = kit.time = int(time_)

    def source_of(self, name: str) -> str | None:
        if name not in self.sources:
            self.sources[name] = host_call(self.host.contract_source, name)
        return self.sources[name]

    def run(self, contract: Contract, function: str, args: Any, caller: str, read_only: bool, direct: bool,
            copied: bool = False) -> Any:
        """Run one frame: its globals (module body run or reused, ``_Kit.load``), then the function."""
        if function not in contract.entries and function not in contract.views:  # contract.is_public(function)
            raise Fault(ErrorCode.UNKNOWN_ENTRY)
        if type(args) not in (dict, types.MappingProxyType):
            raise Fault(ErrorCode.BAD_ARGS)
        names, required = contract.params[function]
        for k in args:
            if type(k) is not str or k not in names:
                raise Fault(ErrorCode.BAD_ARGS)
        if not required <= args.keys():
            raise Fault(ErrorCode.BAD_ARGS)
        m = self.meter
        m.tick(contract.nodes // gas.MODULE_LOAD_NODES)
        if not copied:
            raw, size, plain = _encode_copy(m, args)
            args = _charged_copy(m, raw, size, plain)  # = copy_value(m, args), keeping the bytes
            if direct:
                self.args_raw = raw
        try:  # host_call(self.host.contract_address, contract.name), inline
            address = self.host.contract_address(contract.name)
        except Fault:
            raise
        except Exception as e:  # noqa: BLE001 - any host error is fatal to the call
            raise HostFailure(type(e).__name__) from e
        address = str(address)
        self.active.append(contract.name)
        g, module = self.kit.enter(contract, m, self, address, caller, read_only or function in contract.views, direct)
        try:
            value = g[function](**args)
        finally:
            if module is not None:
                module.release()
        self.active.pop()
        # the transaction's own result goes into its receipt, read back at depth RESULT_AT (hostapi, ledger/block.py)
        return copy_value(m, value, RESULT_AT if direct else 0)

    def call_contract(self, frame: Frame, name: str, function: str, args) -> Any:
        m = self.meter
        m.tick(gas.CONTRACT_CALL)
        args = copy_value(m, args)  # before anything else: only data crosses
        if m.contract_depth >= gas.MAX_CONTRACT_DEPTH:
            raise Fault(ErrorCode.RECURSION_LIMIT)
        if name in self.active:
            raise Fault(ErrorCode.REENTRANCY)
        source = self.source_of(name)
        if source is None:
            raise Fault(ErrorCode.UNKNOWN_CONTRACT)
        try:
            callee = compile_contract(name, source)
        except CheckError:
            raise Fault(ErrorCode.CONTRACT_INVALID) from None
        m.contract_depth += 1
        value = self.run(callee, function, args, frame.address, frame.read_only, direct=False, copied=True)
        m.contract_depth -= 1
        return value


def run(contract: Contract, function: str, args: dict, host: Host, gas_limit: int, *, read_only: bool) -> tuple[Result, Effects | None]:
    """Execute without applying: the result and, on success, the effects."""
    _ensure_interpreter()
    mach = Machine(host, gas_limit, read_only)
    try:
        code, value = _outcome(mach, contract, function, args, read_only)
    finally:
        mach.kit.busy = False
    meter = mach.meter
    if code:
        return Result(int(code), value, meter.used, []), None
    effects = mach.overlay.effects()
    return Result(0, value, meter.used, None, mach.args_raw, events_of=effects.events), effects


def execute(contract: Contract, function: str, args: dict, host: Host, gas_limit: int, *, read_only: bool) -> Result:
    """Run an entry or view; apply its effects to ``host`` if it succeeded."""
    result, effects = run(contract, function, args, host, gas_limit, read_only=read_only)
    if effects is not None and not read_only and (effects.writes or effects.transfers or effects.events):
        host.apply(effects)
    return result


def _outcome(mach: Machine, contract: Contract, function: str, args: Any, read_only: bool) -> tuple[int, Any]:
    """Map everything a call can end with onto the error table."""
    try:
        return 0, mach.run(contract, function, args, mach.sender, read_only, direct=True)
    except Fault as f:
        return f.code, f.value
    except HostFailure as e:
        raise SandboxBreach(f"host failed during a contract call: {e}") from e.__cause__
    except (RecursionError, MemoryError, SystemError) as e:
        raise SandboxBreach(f"interpreter limit reached inside a contract: {type(e).__name__}") from e
    except ZeroDivisionError:
        return ErrorCode.ZERO_DIVISION, None
    except IndexError:
        return ErrorCode.INDEX_ERROR, None
    except KeyError:
        return ErrorCode.KEY_ERROR, None
    except NameError:  # UnboundLocalError: a local read before assignment
        return ErrorCode.NAME_ERROR, None
    except OverflowError:
        return ErrorCode.INT_TOO_LARGE, None
    except RuntimeError:  # dict changed size during iteration
        return ErrorCode.ITERATION_MUTATED, None
    except TypeError:
        return ErrorCode.TYPE_ERROR, None
    except ValueError:
        return ErrorCode.VALUE_ERROR, None
    except Exception as e:  # noqa: BLE001 - anything else means the sandbox is wrong
        raise SandboxBreach(f"unexpected {type(e).__name__} inside a contract") from e


def _ensure_interpreter() -> None:
    """Keep CPython's own limits out of the way of the deterministic ones.

    The settings that change results are pinned and checked (``interp``);
    the recursion limit is raised (if needed) far above what the meter
    allows, wherever the host already is on its stack.
    """
    interp.ensure()
    limit = sys.getrecursionlimit()
    if limit > STACK_HEADROOM:
        try:
            sys._getframe(limit - STACK_HEADROOM)  # is the stack that deep? (one C call, not a walk)
        except ValueError:
            return  # no: depth + STACK_HEADROOM <= limit already
    depth = 0
    f = sys._getframe()
    while f is not None:
        depth += 1
        f = f.f_back
    need = depth + STACK_HEADROOM
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)
