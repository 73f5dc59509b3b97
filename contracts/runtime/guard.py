"""The OS-level backstop: run a call in a forked, resource-limited worker.

The deterministic accounting (gas, logical memory, depth) is what decides a
call's result.  This guard only exists for the case where that accounting is
wrong: the worker runs under ``RLIMIT_AS`` and ``RLIMIT_CPU`` set well above
anything a call within its gas can need.  If the worker is killed, runs out
of memory, or dies without answering, the parent raises
:class:`SandboxBreach` -- never a result -- and the node must halt rather
than commit (another node's worker may have survived).

The worker is a ``fork`` of the caller, so it reads the host's state as it
was at the fork (copy-on-write); its writes are buffered effects, sent back
to the parent, which applies them to the real host.  A node whose host holds
sockets, threads or database handles must not fork: unvetted source (``law
eval --source``, governance pilots) runs through ``pilot.py`` instead, a
fresh process that reads the host over a pipe.
"""

from __future__ import annotations

import multiprocessing
import resource

from .errors import SandboxBreach
from .executor import Contract, Result, run
from .host import Host

DEFAULT_CPU_SECONDS = 20
DEFAULT_MEMORY_BYTES = 2 << 30


def _worker(conn, contract, function, args, host, gas_limit, read_only, cpu, mem):
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    try:
        outcome = ("ok", run(contract, function, args, host, gas_limit, read_only=read_only))
    except SandboxBreach as e:
        outcome = ("breach", str(e))
    except MemoryError:
        outcome = ("breach", "worker out of memory")
    conn.send(outcome)
    conn.close()


def execute_isolated(
    contract: Contract,
    function: str,
    args: dict,
    host: Host,
    gas_limit: int,
    *,
    read_only: bool,
    cpu_seconds: int = DEFAULT_CPU_SECONDS,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> Result:
    """Like :func:`execute`, in a forked worker under OS limits."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_worker,
        args=(child, contract, function, args, host, gas_limit, read_only, cpu_seconds, memory_bytes),
        daemon=True,
    )
    proc.start()
    child.close()
    try:
        outcome = parent.recv() if parent.poll(cpu_seconds * 3 + 5) else None
    except (EOFError, OSError):
        outcome = None
    proc.join(timeout=5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if outcome is None:
        raise SandboxBreach(f"contract worker died (exit code {proc.exitcode})")
    if outcome[0] == "breach":
        raise SandboxBreach(outcome[1])
    result, effects = outcome[1]
    if effects is not None and not read_only and (effects.writes or effects.transfers or effects.events):
        host.apply(effects)
    return result
