"""The error table is a consensus parameter: numbers never change or get reused."""

from contracts.runtime import ErrorCode
from ledger import codes

FROZEN = {
    "OK": 0, "OUT_OF_GAS": 1, "MEMORY_LIMIT": 2, "RECURSION_LIMIT": 3, "CONTRACT_ERROR": 4,
    "TYPE_ERROR": 5, "ZERO_DIVISION": 6, "INDEX_ERROR": 7, "KEY_ERROR": 8, "VALUE_ERROR": 9,
    "INT_TOO_LARGE": 10, "VALUE_TOO_LARGE": 11, "STORAGE_LIMIT": 12, "FORBIDDEN": 13,
    "READ_ONLY": 14, "UNKNOWN_ENTRY": 15, "BAD_ARGS": 16, "INSUFFICIENT_FUNDS": 17,
    "NOT_AUTHORIZED": 18, "UNKNOWN_CONTRACT": 19, "REENTRANCY": 20, "NOT_ENCODABLE": 21,
    "NAME_ERROR": 22, "ITERATION_MUTATED": 23, "TRANSFER_REFUSED": 24, "CONTRACT_INVALID": 25,
}


def test_published_codes_never_change():
    current = {e.name: e.value for e in ErrorCode}
    for name, value in FROZEN.items():
        assert current.get(name) == value, f"{name} changed"


def test_new_codes_are_appended_and_fit_the_receipt_range():
    values = [e.value for e in ErrorCode]
    assert len(values) == len(set(values))
    assert sorted(values) == list(range(len(values)))
    assert max(values) < 100  # receipts store codes.CONTRACT_BASE + code
    assert codes.name(codes.CONTRACT_BASE + ErrorCode.OUT_OF_GAS) == "CONTRACT_1"
