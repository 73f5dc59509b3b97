"""The names a contract may use: globals, builtins and attributes.

This module is the single list the checker consults and the runtime
implements; ``tests/contracts/test_names.py`` checks that the two agree
(every name listed here is provided at run time, and nothing else is).

* ``HOST_NAMES`` -- per-call objects and functions of the host API
  (``ctx``, ``storage``...), injected as globals of each contract frame.
* ``LIBRARY_NAMES`` -- the deterministic library (``len``, ``mul_div``...),
  the contract's entire ``__builtins__``.
* ``ATTRIBUTES`` -- for each receiver kind, the attributes and methods a
  contract may name after a dot.  The runtime checks the receiver's *exact*
  type; the checker only checks that the name is in the union.
* ``FORBIDDEN_NAMES`` -- names that Python code commonly reaches for and that
  are *absent* here, with the reason, so a refusal can say why.
"""

from __future__ import annotations

HOST_NAMES = frozenset({"ctx", "storage", "state", "emit", "call", "fail", "beacon"})

LIBRARY_NAMES = frozenset(
    {
        # containers and conversions (all metered)
        "len", "range", "list", "dict", "tuple", "str", "int", "bool",
        "sorted", "reversed", "sum", "min", "max", "abs", "any", "all",
        "enumerate", "zip",
        # isinstance-free type checks
        "is_int", "is_str", "is_bytes", "is_bool", "is_list", "is_dict", "is_tuple", "is_none",
        # money: explicit rounding, basis points, percentages
        "div_round", "mul_div", "percent_of", "bps_of", "clamp",
        # dates from block time (UTC, proleptic Gregorian, integer arithmetic)
        "days_from_civil", "civil_from_days", "date_of", "time_of",
        # dated parameter tables: YYYYMMDD dates, the value in force, the generic schema checks
        "is_date", "param_in_force", "param_value", "check_param_table",
        # bytes helpers and deterministic draws from a beacon
        "hex_of", "digest", "draw",
    }
)

ATTRIBUTES: dict[str, frozenset[str]] = {
    "str": frozenset(
        {
            "lower", "upper", "strip", "lstrip", "rstrip", "startswith", "endswith",
            "find", "count", "split", "join", "replace", "isdigit", "isalpha",
            "isalnum", "isascii", "encode",
        }
    ),
    "bytes": frozenset({"hex", "decode", "startswith", "endswith"}),
    "list": frozenset(
        {"append", "pop", "insert", "extend", "index", "count", "remove", "reverse", "copy", "clear"}
    ),
    "tuple": frozenset({"index", "count"}),
    "dict": frozenset(
        {"get", "keys", "values", "items", "pop", "setdefault", "update", "copy", "clear"}
    ),
    "frozendict": frozenset({"get", "keys", "values", "items", "copy"}),
    # host API objects
    "ctx": frozenset(
        {"sender", "caller", "this", "height", "time", "has_role", "role_holders", "account_kind", "balance", "transfer",
         "address_of"}
    ),
    "storage": frozenset({"get", "set", "delete", "has"}),
    "state": frozenset({"read"}),
}

ATTRIBUTE_NAMES = frozenset().union(*ATTRIBUTES.values())

FORBIDDEN_NAMES = {
    "eval": "code execution", "exec": "code execution", "compile": "code execution",
    "__import__": "imports", "open": "files", "input": "I/O", "print": "I/O",
    "breakpoint": "debugger", "help": "introspection",
    "getattr": "reflection", "setattr": "reflection", "delattr": "reflection",
    "hasattr": "reflection", "type": "reflection", "isinstance": "reflection (use is_int...)",
    "issubclass": "reflection", "globals": "reflection", "locals": "reflection",
    "vars": "reflection", "dir": "reflection", "object": "reflection", "super": "classes",
    "classmethod": "classes", "staticmethod": "classes", "property": "classes",
    "id": "non-deterministic", "hash": "non-deterministic", "repr": "non-deterministic",
    "ascii": "non-deterministic", "format": "format traversal", "float": "floats",
    "complex": "floats", "round": "floats (use div_round)", "divmod": "use div_round",
    "pow": "use **", "set": "unordered sets", "frozenset": "unordered sets",
    "iter": "unbounded iteration", "next": "unbounded iteration",
    "map": "use a comprehension", "filter": "use a comprehension",
    "bytearray": "mutable buffers", "memoryview": "mutable buffers",
    "slice": "use x[a:b]", "chr": "unicode tables", "ord": "unicode tables",
    "callable": "reflection", "exit": "process", "quit": "process",
}
