"""The policy-contract runtime: a metered, deterministic sandbox for laws.

Public API (docs/contracts.md is the guide for law authors)::

    check_source(source) -> list[Violation]
    compile_contract(name, source, *, version=0) -> Contract   # raises CheckError
    execute(contract, function, args, host, gas_limit, *, read_only) -> Result
    execute_isolated(...)        # the same in a resource-limited worker process
    load_laws(directory=None) -> dict[str, Contract]
    Host, MemoryHost, Effects, Event, ErrorCode, SandboxBreach

Modules, by concept: ``checker`` (the subset), ``instrument`` (rewriting and
compiling), ``gas`` (schedule and meter), ``ops`` / ``methods`` / ``library``
(what contract code can do, all metered), ``host`` (the protocol the chain
implements), ``hostapi`` (what a contract sees of the host), ``executor``
(compile and run), ``guard`` (the OS-level backstop), ``registry`` (laws).
"""

from .checker import check_source
from .errors import CheckError, ErrorCode, SandboxBreach, Violation
from .executor import Contract, Result, compile_contract, execute, run
from .guard import execute_isolated
from .host import Effects, Event, Host, MemoryHost
from .registry import load_laws

__all__ = [
    "CheckError", "Contract", "Effects", "ErrorCode", "Event", "Host", "MemoryHost",
    "Result", "SandboxBreach", "Violation", "check_source", "compile_contract",
    "execute", "execute_isolated", "load_laws", "run",
]
