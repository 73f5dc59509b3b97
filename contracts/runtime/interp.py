"""The interpreter settings contract results depend on: pinned, then checked.

Some process-wide CPython settings change what a contract's source or code
does, so two nodes with different settings could disagree:

* ``sys.set_int_max_str_digits`` decides whether a long integer literal
  parses and whether ``str()`` of a big int succeeds.  Importing the runtime
  pins it to :data:`INT_MAX_STR_DIGITS` (CPython's default); every check,
  compile and call refuses to run (``SandboxBreach``) if something changed it
  afterwards.  Contract literals and results are capped far below it
  (``gas.MAX_INT_BITS``), so the pinned value is never reached.
* ``python -b`` / ``-bb`` make bytes/str comparisons warn or raise: refused.
* Warnings: a warning that contract code could trigger would, under
  ``-W error``, become an exception on some nodes only.  The runtime keeps
  contracts away from every such construct instead (``~`` of a bool goes
  through a helper, because 3.12 deprecates it; compile-time warnings are
  silenced while compiling), so the warning filters do not matter.
"""

from __future__ import annotations

import sys

from .errors import SandboxBreach

INT_MAX_STR_DIGITS = 4300  # CPython's default; contracts never come near it


def pin() -> None:
    """Set the settings the runtime depends on (called on import)."""
    sys.set_int_max_str_digits(INT_MAX_STR_DIGITS)


def ensure() -> None:
    """Refuse to run under settings that would change results."""
    if sys.flags.bytes_warning:
        raise SandboxBreach("python -b makes bytes/str comparisons warn or raise: run the node without -b")
    digits = sys.get_int_max_str_digits()
    if digits != INT_MAX_STR_DIGITS:
        raise SandboxBreach(
            f"sys.set_int_max_str_digits({digits}) changes which literals parse: the runtime pins it to "
            f"{INT_MAX_STR_DIGITS}; do not change it in a node"
        )


pin()
