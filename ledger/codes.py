"""Stable numeric result codes for transactions.

A receipt records one of these numbers, never error text (which would differ
between Python versions and locales).  Numbers are never reused: a retired
code stays reserved.  Codes 100-199 come from the policy-contract runtime
(``contracts/runtime``): the receipt holds 100 + the runtime's own code.
"""

OK = 0
# admission: a transaction failing these is never put in a block
MALFORMED = 1
BAD_SIGNATURE = 2
WRONG_CHAIN = 3
EXPIRED = 4
BAD_NONCE = 5
SENDER_NOT_REGISTERED = 6
TOO_LARGE = 7
MEMPOOL_FULL = 8
DUPLICATE = 9
RATE_LIMITED = 10
# execution: the transaction is in a block, changes nothing but its nonce
RECIPIENT_NOT_REGISTERED = 20
INSUFFICIENT_FUNDS = 21
NOT_AUTHORIZED = 22
INVALID_ARGUMENT = 23
ALREADY_REGISTERED = 24
NOT_REGISTERED = 25
SUPPLY_OVERFLOW = 26
UNKNOWN_KIND = 27
UNKNOWN_CONTRACT = 28
UNKNOWN_ROLE = 29
CONTRACT_BASE = 100  # 100 + contracts.runtime error code

NAMES = {v: k for k, v in dict(globals()).items() if k.isupper() and isinstance(v, int) and k != "CONTRACT_BASE"}


def name(code: int) -> str:
    if code in NAMES:
        return NAMES[code]
    if CONTRACT_BASE <= code < CONTRACT_BASE + 100:
        return f"CONTRACT_{code - CONTRACT_BASE}"
    return f"CODE_{code}"
