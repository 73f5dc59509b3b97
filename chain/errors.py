"""The two ways a transaction or a block can fail execution.

Kept apart from :mod:`chain.execution` so the contract host
(:mod:`chain.contract_host`) can raise :class:`TxFailed` without importing
the executor that imports it.
"""

from __future__ import annotations

from ledger import codes


class InvalidBlock(Exception):
    """A proposed block that no honest node may accept."""


class TxFailed(Exception):
    def __init__(self, code: int, detail: str = "", *, gas: int = 0, result=None):
        super().__init__(detail or codes.name(code))
        self.code = code
        self.gas = gas
        self.result = result
