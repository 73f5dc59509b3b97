"""Pilot queries in a separate, resource-limited worker process.

A *pilot* is contract source a client sends with a query (``esoc law eval
--source``) or, later, a governance proposal's dry run.  Nobody vetted that
source, so it never runs in the node's own process: :func:`run_pilot`
starts a fresh Python process (``python -m contracts.runtime.pilot``), which
sets its own OS limits before doing anything else

* ``RLIMIT_CPU`` -- ``cpu_seconds`` of CPU (the kernel kills it after),
* ``RLIMIT_AS`` -- ``memory_bytes`` of address space (``MemoryError``),
* ``RLIMIT_CORE`` 0 and ``RLIMIT_NOFILE`` small,

checks, compiles and runs the source, and sends back the result.  The node
bounds the whole exchange by ``wall_seconds`` of wall time and kills the
worker when it is over.  Whatever happens in the worker -- a breach of the
sandbox, exhausted limits, a crash -- the query fails with
:class:`PilotError` and the node carries on.

The worker has no state of its own.  It reads the chain through the node:
each ``Host`` method it needs is a request over its stdin/stdout pipes
(length-prefixed canonical messages), answered by the node from the real
``Host`` of the query (a read-only snapshot at the query's height).  The
node answers only the read methods of :class:`Host` (never ``apply``),
checks every request's shape and size, and caps the number of requests and
the size of every message, so a worker that misbehaves cannot make the node
do more than a well-behaved one.  At most ``MAX_CONCURRENT`` workers run at
once; a query that finds them all busy waits up to its wall time, then
fails.
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from typing import Any

from ledger import codec

from .errors import CheckError, SandboxBreach, Violation
from .executor import Result
from .host import Effects, Event, Host

DEFAULT_CPU_SECONDS = 10
DEFAULT_MEMORY_BYTES = 1 << 30
DEFAULT_WALL_SECONDS = 30.0
MAX_CONCURRENT = 2
MAX_MESSAGE = 8 << 20  # bytes of one message either way
MAX_HOST_CALLS = 200_000  # requests one pilot may make (gas bounds them far below)
MAX_ARG_TEXT = 1024  # characters of one str argument of a host request

# method -> argument types (the node answers only these; all read the chain)
HOST_READS: dict[str, tuple[type, ...]] = {
    "sender": (), "height": (), "time": (),
    "beacon": (int,),
    "has_role": (str, str), "account_kind": (str,), "balance": (str,),
    "check_transfer": (str, str, int),
    "contract_source": (str,), "contract_address": (str,),
    "storage_get": (str, str), "storage_usage": (str,),
}

_slots = threading.BoundedSemaphore(MAX_CONCURRENT)


class PilotError(Exception):
    """The pilot's worker failed (limits, crash, malformed reply): the query fails, not the node."""


def limits_from_env() -> tuple[int, int, float]:
    """Worker limits: the defaults, or ``ESOC_PILOT_CPU_SECONDS`` / ``_MEMORY_MB`` / ``_WALL_SECONDS``."""
    cpu = int(os.environ.get("ESOC_PILOT_CPU_SECONDS", DEFAULT_CPU_SECONDS))
    mem = int(os.environ.get("ESOC_PILOT_MEMORY_MB", DEFAULT_MEMORY_BYTES >> 20)) << 20
    wall = float(os.environ.get("ESOC_PILOT_WALL_SECONDS", DEFAULT_WALL_SECONDS))
    return cpu, mem, wall


# ---------------------------------------------------------------- framing
def _send(fd: int, obj: Any) -> None:
    data = codec.encode(obj)
    if len(data) > MAX_MESSAGE:
        raise PilotError("message over the size limit")
    buf = memoryview(len(data).to_bytes(4, "big") + data)
    while buf:
        n = os.write(fd, buf)
        buf = buf[n:]


def _read_exact(fd: int, n: int, deadline: float | None) -> bytes:
    out = bytearray()
    while len(out) < n:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PilotError("pilot worker over its wall-time limit")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
        chunk = os.read(fd, min(n - len(out), 1 << 20))
        if not chunk:
            raise EOFError
        out += chunk
    return bytes(out)


def _recv(fd: int, deadline: float | None) -> Any:
    n = int.from_bytes(_read_exact(fd, 4, deadline), "big")
    if n > MAX_MESSAGE:
        raise PilotError("pilot worker sent an oversized message")
    return codec.decode(_read_exact(fd, n, deadline), max_size=MAX_MESSAGE)


# ---------------------------------------------------------------- node side
def run_pilot(name: str, source: str, function: str, args: dict, host: Host, gas_limit: int, *,
              cpu_seconds: int | None = None, memory_bytes: int | None = None,
              wall_seconds: float | None = None) -> tuple[Result, Effects | None, bool]:
    """Check and run ``source``'s ``function`` in a worker; ``(result, effects, read_only)``.

    Effects are reported, never applied.  Raises ``CheckError`` if the source
    is refused and :class:`PilotError` if the worker fails in any way.
    """
    cpu, mem, wall = limits_from_env()
    cpu = cpu if cpu_seconds is None else cpu_seconds
    mem = mem if memory_bytes is None else memory_bytes
    wall = wall if wall_seconds is None else wall_seconds
    deadline = time.monotonic() + wall
    if not _slots.acquire(timeout=wall):
        raise PilotError("all pilot workers are busy; try again")
    try:
        return _run(name, source, function, args, host, gas_limit, cpu, mem, deadline)
    finally:
        _slots.release()


def _worker_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PYTHONHASHSEED"] = "0"
    return env


def _run(name, source, function, args, host, gas_limit, cpu, mem, deadline):
    proc = subprocess.Popen(
        [sys.executable, "-m", "contracts.runtime.pilot", str(cpu), str(mem)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        env=_worker_env(), close_fds=True,
    )
    out_fd, in_fd = proc.stdout.fileno(), proc.stdin.fileno()
    try:
        try:
            _send(in_fd, {"name": name, "source": source, "function": function, "args": args, "gas": gas_limit})
            calls = 0
            while True:
                msg = _recv(out_fd, deadline)
                if type(msg) is not dict:
                    raise PilotError("pilot worker sent a malformed message")
                if "host" not in msg:
                    return _reply(msg)
                calls += 1
                if calls > MAX_HOST_CALLS:
                    raise PilotError("pilot worker made too many host requests")
                _send(in_fd, _answer(host, msg))
        except (EOFError, BrokenPipeError, ConnectionResetError):
            proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 1)
            raise PilotError(_death(proc.returncode)) from None
        except codec.CodecError:
            raise PilotError("pilot worker sent a malformed message") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdin.close()
        proc.stdout.close()


def _death(code: int | None) -> str:
    import signal

    if code is not None and code < 0:
        sig = -code
        if sig == signal.SIGXCPU:
            return "pilot worker over its CPU-time limit"
        return f"pilot worker killed by signal {signal.Signals(sig).name}"
    return f"pilot worker exited ({code})"


def _answer(host: Host, msg: dict) -> dict:
    method, args = msg.get("host"), msg.get("args")
    if type(method) is not str or method not in HOST_READS or type(args) is not list:
        raise PilotError("pilot worker asked for something the node does not serve")
    types = HOST_READS[method]
    if len(args) != len(types) or any(type(a) is not t for a, t in zip(args, types)):
        raise PilotError("pilot worker sent a malformed host request")
    if any(type(a) is str and len(a) > MAX_ARG_TEXT for a in args):
        return {"value": None if method in ("beacon", "contract_source", "storage_get") else _empty(method)}
    try:
        return {"value": getattr(host, method)(*args)}
    except Exception as e:  # noqa: BLE001 - the worker turns it into a breach
        return {"error": type(e).__name__}


def _empty(method: str):
    return {"has_role": False, "account_kind": "", "balance": 0, "check_transfer": 24, "storage_usage": 0,
            "contract_address": ""}.get(method)


def _reply(msg: dict) -> tuple[Result, Effects | None, bool]:
    if "invalid" in msg:
        raise CheckError([Violation(int(line), str(rule)) for line, rule in msg["invalid"]])
    if "breach" in msg:
        raise PilotError(f"pilot breached the sandbox in its worker: {msg['breach']}")
    r = msg.get("result")
    if type(r) is not dict:
        raise PilotError("pilot worker sent a malformed result")
    result = Result(int(r["code"]), r.get("value"), int(r["gas_used"]), list(r.get("events") or []))
    effects = None
    e = r.get("effects")
    if e is not None:
        effects = Effects(
            writes=[(c, k, v) for c, k, v in e["writes"]],
            transfers=[(f, t, a) for f, t, a in e["transfers"]],
            events=[Event(x["contract"], x["name"], x["data"]) for x in e["events"]],
        )
    return result, effects, bool(r.get("read_only"))


# ---------------------------------------------------------------- worker side
class PipeHost(Host):
    """The worker's ``Host``: every read is a request to the node."""

    def __init__(self, rfd: int, wfd: int):
        self.rfd, self.wfd = rfd, wfd
        self._fixed: dict[str, Any] = {}

    def _ask(self, method: str, *args):
        _send(self.wfd, {"host": method, "args": list(args)})
        reply = _recv(self.rfd, None)
        if "error" in reply:
            raise RuntimeError(f"host {method} failed in the node: {reply['error']}")
        return reply["value"]

    def _once(self, method: str):
        if method not in self._fixed:
            self._fixed[method] = self._ask(method)
        return self._fixed[method]

    def sender(self):
        return self._once("sender")

    def height(self):
        return self._once("height")

    def time(self):
        return self._once("time")

    def beacon(self, height):
        return self._ask("beacon", height)

    def has_role(self, address, role):
        return self._ask("has_role", address, role)

    def account_kind(self, address):
        return self._ask("account_kind", address)

    def balance(self, address):
        return self._ask("balance", address)

    def check_transfer(self, frm, to, amount):
        return self._ask("check_transfer", frm, to, amount)

    def contract_source(self, name):
        return self._ask("contract_source", name)

    def contract_address(self, name):
        return self._ask("contract_address", name)

    def storage_get(self, contract, key):
        return self._ask("storage_get", contract, key)

    def storage_usage(self, contract):
        return self._ask("storage_usage", contract)

    def apply(self, effects):  # pragma: no cover - pilots are never applied
        raise RuntimeError("a pilot's effects are never applied")


def _limit(cpu: int, mem: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(64, hard if hard > 0 else 64), hard))


def worker_main(argv: list[str]) -> int:
    _limit(int(argv[0]), int(argv[1]))
    from .executor import compile_contract, run

    rfd, wfd = sys.stdin.fileno(), sys.stdout.fileno()
    sys.stdout = sys.stderr  # nothing but messages on the pipe
    req = _recv(rfd, None)
    try:
        try:
            c = compile_contract(req["name"], req["source"])
        except CheckError as e:
            _send(wfd, {"invalid": [[v.line, v.rule] for v in e.violations]})
            return 0
        function = req["function"]
        if type(function) is not str or not c.is_public(function):
            _send(wfd, {"result": {"code": 15, "gas_used": 0, "value": None}})
            return 0
        read_only = function in c.views
        res, eff = run(c, function, req["args"], PipeHost(rfd, wfd), req["gas"], read_only=read_only)
    except (SandboxBreach, MemoryError, RecursionError) as e:
        _send(wfd, {"breach": f"{type(e).__name__}: {e}"[:500]})
        return 0
    r = {"code": res.code, "value": res.value, "gas_used": res.gas_used, "events": res.events, "read_only": read_only,
         "effects": None if eff is None else {
             "writes": [[c_, k, v] for c_, k, v in eff.writes],
             "transfers": [list(t) for t in eff.transfers],
             "events": [e.to_obj() for e in eff.events]}}
    _send(wfd, {"result": r})
    return 0


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))
