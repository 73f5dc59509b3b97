"""Stable error codes and the exceptions of the contract runtime.

A contract call ends in exactly one numeric code.  The code, never an
exception's text, is what a receipt records, so that every node, on every
supported Python version, records the same thing.  ``ledger.codes`` stores a
runtime code ``c`` in a receipt as ``100 + c``; runtime codes therefore stay
below 100.

Rules for the table (it is a consensus parameter):

* a number, once published, keeps its meaning forever; a retired code stays
  reserved and is never handed to something else;
* new codes are appended.

``tests/contracts/test_errors.py`` holds a literal copy of the table, so that
a change to an existing number fails the tests.

Three exception families live here:

* :class:`Fault` -- raised *inside* a contract execution (by the runtime's
  helpers, the host API, the meter).  It derives from ``BaseException`` so
  that no ``except Exception`` on the way (in the runtime's own helper code)
  can swallow it; contracts cannot catch anything at all (there is no ``try``
  in the subset).  The executor turns it into a :class:`Result` code.
* :class:`SandboxBreach` -- the runtime's last line: raised *out of*
  :func:`execute` when something happened that the deterministic accounting
  should have made impossible (CPython's own ``MemoryError`` or
  ``RecursionError``, an unexpected exception type, the OS guard killing a
  worker).  The node must treat it as fatal and halt instead of committing.
* :class:`CheckError` -- ``compile_contract`` refused the source; it carries
  the list of :class:`Violation`.
"""

from __future__ import annotations

import enum
from typing import Any, NamedTuple


class ErrorCode(enum.IntEnum):
    """The fixed table of result codes (see the module docstring)."""

    OK = 0
    OUT_OF_GAS = 1  # the call's gas limit was reached
    MEMORY_LIMIT = 2  # cumulative logical allocation over the per-call cap
    RECURSION_LIMIT = 3  # function call depth (or contract call depth) over the cap
    CONTRACT_ERROR = 4  # fail(code, detail) or a failed assert; value says which
    TYPE_ERROR = 5  # operation on values of the wrong type
    ZERO_DIVISION = 6
    INDEX_ERROR = 7
    KEY_ERROR = 8
    VALUE_ERROR = 9  # right type, bad value (negative shift, bad rounding name, ...)
    INT_TOO_LARGE = 10  # an integer result over MAX_INT_BITS
    VALUE_TOO_LARGE = 11  # one string/list/dict over its size cap
    STORAGE_LIMIT = 12  # key, value or per-contract storage over its cap
    FORBIDDEN = 13  # attribute/method not on the allowlist, bare method reference
    READ_ONLY = 14  # a write (storage, transfer, event) in a view or read-only call
    UNKNOWN_ENTRY = 15  # the function is not declared in ENTRIES or VIEWS
    BAD_ARGS = 16  # arguments do not match the function's parameters
    INSUFFICIENT_FUNDS = 17
    NOT_AUTHORIZED = 18  # e.g. debiting an account the contract may not debit
    UNKNOWN_CONTRACT = 19  # call()/state.read() of a contract that is not installed
    REENTRANCY = 20  # a contract already on the call stack was called again
    NOT_ENCODABLE = 21  # a value crossing the boundary is not canonical-encodable
    NAME_ERROR = 22  # a local variable read before assignment
    ITERATION_MUTATED = 23  # a dict changed size while being iterated
    TRANSFER_REFUSED = 24  # the host's currency rules refused the transfer
    CONTRACT_INVALID = 25  # an installed contract's source fails the check


class Violation(NamedTuple):
    """One broken rule of the contract subset: the source line and the rule."""

    line: int
    rule: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.rule}"


class CheckError(ValueError):
    """``compile_contract`` refused a source; ``violations`` says why."""

    def __init__(self, violations: list[Violation]):
        self.violations = list(violations)
        super().__init__("; ".join(str(v) for v in self.violations) or "refused")


class Fault(BaseException):
    """A contract execution failed with a stable code (never caught by contracts).

    ``value`` is canonical data carried to the result: only
    ``CONTRACT_ERROR`` uses it (``{"error": int, "detail": str}``).
    """

    def __init__(self, code: ErrorCode, value: Any = None):
        super().__init__(int(code))
        self.code = ErrorCode(code)
        self.value = value


class SandboxBreach(Exception):
    """The sandbox's deterministic limits did not hold; the node must halt.

    Never a transaction result: a node that sees this must stop rather than
    commit a block, because another node may have computed something else.
    """
