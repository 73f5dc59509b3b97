"""The gas schedule and the meter.

Theory of operation
-------------------
Gas is counted by rules that look only at the contract's *AST* and at the
*values* it handles, never at CPython's bytecode, line events or allocator,
so the count is the same on every node and every supported Python version.

1. **Static block weights.**  The instrumenter (``instrument.py``) gives every
   block of statements (function body, loop body, ``if``/``else`` branch) a
   weight: ``NODE`` gas per expression node and per statement in the block
   (not counting nested blocks, which carry their own charge).  The weight is
   charged *at the head* of the block, before any of its work runs, so a
   block never runs uncharged; an early ``return``/``break`` over-charges a
   little and never under-charges.
2. **Entry and back-edge ticks.**  Each function entry costs ``CALL`` more,
   each loop iteration (``for``, ``while``, every comprehension element)
   ``LOOP`` more.  Every tick subtracts from one counter; once it is below
   zero *every* later tick raises again (sticky exhaustion), and contracts
   cannot catch anything anyway.
3. **Size charges before C work.**  Every helper that allocates or loops in C
   (concatenation, repetition, big-int arithmetic, ``join``, ``replace``,
   ``sorted``, ``sum``, ``list()``, comparisons of long values, storage,
   encoding...) first computes the *logical* size of what it is about to do,
   charges ``WORD`` gas per 8 logical bytes or ``ELEM`` per element, checks
   the caps, and only then does it.
4. **Memory** is the cumulative logical allocation of the call (one per
   character or byte of new strings, ``OBJECT`` per new object, ``SLOT`` per
   list slot, ``ENTRY`` per dict entry), capped
   at ``MEMORY_LIMIT``; single values are capped at ``MAX_ALLOC``.  It is an
   upper bound of the live size, independent of the allocator.
5. **Depth** is counted in the function-entry tick, with a cap far below
   CPython's recursion limit (which depends on the host's own stack).

All numbers below are consensus parameters: changing one changes results,
so it must be a versioned, governed change.
"""

from __future__ import annotations

from .errors import ErrorCode, Fault

# ---------------------------------------------------------------- schedule
NODE = 1  # per statement and per expression node in a block
CALL = 20  # per function entry (contract functions, including recursion)
LOOP = 2  # per loop iteration / comprehension element
WORD = 1  # per 8 logical bytes allocated, copied, compared or encoded
ELEM = 1  # per element visited by a C-level loop (sum, in, count, sort...)
BIGMUL_DIV = 16  # big-int multiply costs words(a) * words(b) // BIGMUL_DIV

STORAGE_READ = 100  # + WORD per 8 bytes of the stored value
STORAGE_WRITE = 500  # + 8 * WORD per 8 bytes written (key + value)
STORAGE_DELETE = 200
HOST_QUERY = 50  # has_role, balance, beacon, ctx lookups that reach the host
TRANSFER = 1000
EMIT = 200  # + WORD per 8 bytes of event data
CONTRACT_CALL = 1000  # + argument/result bytes (and the callee's module load)
PARAM_ROW = 10  # parameter-table helpers: per parameter looked up or checked
PARAM_VALUE = 4  # ... and per dated value (or field name) visited
MODULE_LOAD_NODES = 16  # each frame pays 1 gas per 16 syntax nodes of its module

# ---------------------------------------------------------------- caps
MAX_CALL_DEPTH = 64  # contract function frames, across contracts
MAX_CONTRACT_DEPTH = 8  # nested call() between contracts
MAX_INT_BITS = 4096  # any integer result (1234 decimal digits)
MAX_INT_DIGITS = 1240  # int(str) input length
MAX_ALLOC = 4 << 20  # logical bytes of one value (4 MiB: ~100,000 list slots)
MEMORY_LIMIT = 64 << 20  # cumulative logical bytes per top-level call

# logical sizes (bytes): close to CPython's real footprint so that the cap on
# logical memory also bounds the real one within a small factor
OBJECT = 48  # header of any new str, bytes, list, tuple or dict
SLOT = 40  # one list/tuple slot plus a small object in it
ENTRY = 64  # one dict entry (hash, key, value) plus a small value
MAX_VALUE_DEPTH = 32  # nesting of containers compared or encoded (== codec)

INT_LIMIT = 1 << MAX_INT_BITS
SMALL_INT = 1 << 128  # ints under this are not counted as memory (CPython: <= 44 bytes)


def words_of_int(n: int) -> int:
    """64-bit words of an int (at least 1)."""
    return (n.bit_length() >> 6) + 1


class Meter:
    """Gas, logical memory and call depth of one top-level call.

    One meter is shared by every contract frame of the call (cross-contract
    calls spend the caller's gas).  ``left`` only ever decreases, which makes
    exhaustion sticky.
    """

    __slots__ = ("limit", "left", "mem", "depth", "contract_depth")

    def __init__(self, limit: int):
        if type(limit) is not int or limit < 0:
            raise ValueError("gas limit must be a non-negative int")
        self.limit = limit
        self.left = limit
        self.mem = 0
        self.depth = 0
        self.contract_depth = 0

    @property
    def used(self) -> int:
        return self.limit if self.left < 0 else self.limit - self.left

    def tick(self, w: int) -> None:
        """Charge ``w`` gas; raise OUT_OF_GAS now and on every later tick."""
        self.left -= w
        if self.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)

    def enter(self, w: int) -> None:
        """Function-entry tick: depth check, then ``CALL + w`` gas."""
        self.depth += 1
        if self.depth > MAX_CALL_DEPTH:
            raise Fault(ErrorCode.RECURSION_LIMIT)
        self.left -= w + CALL
        if self.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)

    def leave(self) -> None:
        self.depth -= 1

    def alloc(self, nbytes: int) -> None:
        """Account ``nbytes`` of new logical memory: cap it, then charge it."""
        if nbytes > MAX_ALLOC:
            raise Fault(ErrorCode.VALUE_TOO_LARGE)
        self.mem += nbytes
        if self.mem > MEMORY_LIMIT:
            raise Fault(ErrorCode.MEMORY_LIMIT)
        self.left -= (nbytes >> 3) * WORD + 1  # self.tick(...), inline (the hottest charge)
        if self.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)

    def reserve(self, nbytes: int) -> None:
        """Count ``nbytes`` of transient memory against the limits, without gas
        (the caller charges the work that fills it)."""
        if nbytes > MAX_ALLOC:
            raise Fault(ErrorCode.VALUE_TOO_LARGE)
        self.mem += nbytes
        if self.mem > MEMORY_LIMIT:
            raise Fault(ErrorCode.MEMORY_LIMIT)

    def work(self, nbytes: int) -> None:
        """Charge for reading/comparing ``nbytes`` without allocating."""
        self.left -= (nbytes >> 3) * WORD + 1  # self.tick(...), inline
        if self.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)

    def elems(self, n: int) -> None:
        """Charge for a C-level loop over ``n`` elements."""
        self.left -= n * ELEM + 1  # self.tick(...), inline
        if self.left < 0:
            raise Fault(ErrorCode.OUT_OF_GAS)
