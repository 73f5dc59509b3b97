"""Load the laws: every module in ``contracts/laws/`` compiled as a contract.

A law's contract name is its module name (``contracts/laws/income_tax.py``
is the contract ``income_tax``).  Genesis installs these sources; after that
the application stores versions (name -> list of (from_height, source)) and
hands the runtime the source in force at each height through
``Host.contract_source``.  This loader is for genesis, ``esoc law list`` and
tests; it never decides which version holds.
"""

from __future__ import annotations

import pathlib

from .errors import CheckError
from .executor import Contract, compile_contract

LAWS_DIR = pathlib.Path(__file__).resolve().parent.parent / "laws"


class LawError(ValueError):
    """One or more law modules are not in the contract subset."""

    def __init__(self, failures: dict[str, CheckError]):
        self.failures = failures
        text = "; ".join(f"{name}: {err}" for name, err in sorted(failures.items()))
        super().__init__(text)


def law_sources(directory: pathlib.Path | str | None = None) -> dict[str, str]:
    """``{name: source}`` of every law module, sorted by name."""
    d = pathlib.Path(directory) if directory is not None else LAWS_DIR
    out = {}
    for path in sorted(d.glob("*.py")):
        if path.name.startswith("_"):
            continue
        out[path.stem] = path.read_text(encoding="utf-8")
    return out


def load_laws(directory: pathlib.Path | str | None = None) -> dict[str, Contract]:
    """Compile every law; raise :class:`LawError` naming each refused one."""
    laws: dict[str, Contract] = {}
    failures: dict[str, CheckError] = {}
    for name, source in law_sources(directory).items():
        try:
            laws[name] = compile_contract(name, source)
        except CheckError as e:
            failures[name] = e
    if failures:
        raise LawError(failures)
    return laws
