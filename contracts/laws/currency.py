"""The currency's own rules: issuance, retirement, and the supply invariant.

This module is the **readable statement** of rules that the native ledger
enforces.  The code that actually runs on every transaction is
``chain/execution.py`` (``_issue``, ``_retire``, ``move``); this law holds
no money and changes nothing.  Its views restate each rule as a small pure
function, which the node's tests compare with the native code, so that the
text a citizen reads with ``esoc law show currency`` and the behaviour of
the chain cannot drift apart unnoticed.

The rules
---------
1. **Unit.**  The currency is counted in fen, integers only; 1 yuan = 100
   fen.  No account holds a negative balance or more than 2**64 - 1 fen.
2. **Issuance.**  Only an account holding the ``central_bank`` role may
   issue.  It issues a positive amount to a *registered* account.  The
   issued total and the recipient's balance must stay within 2**64 - 1.
   Issuance adds to the recipient's balance and to the issued total.
3. **Retirement.**  Only the ``central_bank`` retires, and only from its
   own balance: a positive amount at most that balance.  Retirement takes
   from its balance and adds to the retired total.
4. **Transfers.**  Any registered account moves a positive amount it holds
   to a registered account.  A transfer creates and destroys nothing.
5. **Supply invariant.**  At every height: issued - retired = the sum of
   all balances (contract accounts included).
6. **Wallet tiers.**  None yet: this version sets no per-wallet holding or
   transfer limits (an amendment may add them; the native code would then
   enforce them in ``Host.check_transfer`` and ``move``).

Result codes are the native ones of ``ledger/codes.py`` (listed in ``CODES``).

How to change it: an amendment installs a new source at a height chosen by
an enacted governance decision (until governance exists: a genesis change),
together with the matching change of the native code.
"""

LAW = "currency"
VERSION = 1

ROLE_ISSUER = "central_bank"
FEN_PER_YUAN = 100
MAX_AMOUNT = 18_446_744_073_709_551_615  # 2**64 - 1

# ledger/codes.py, the native result codes this statement uses
OK = 0
RECIPIENT_NOT_REGISTERED = 20
INSUFFICIENT_FUNDS = 21
NOT_AUTHORIZED = 22
INVALID_ARGUMENT = 23
SUPPLY_OVERFLOW = 26
CODES = {
    "OK": 0,
    "RECIPIENT_NOT_REGISTERED": 20,
    "INSUFFICIENT_FUNDS": 21,
    "NOT_AUTHORIZED": 22,
    "INVALID_ARGUMENT": 23,
    "SUPPLY_OVERFLOW": 26,
}

SCHEMA = {}
PARAMS = {}

ENTRIES = ()
VIEWS = (
    "rules", "issue_result", "retire_result", "transfer_result", "supply_holds", "balance", "supply",
    "check_params", "version",
)


def version() -> dict:
    return {"law": LAW, "version": VERSION}


def check_params(params: dict | None = None) -> list:
    """This law has no parameters: any parameter is an unknown one."""
    if params is None:
        params = PARAMS
    if not is_dict(params):
        return ["parameters must be a dict"]
    return [f"{name}: unknown parameter" for name in params]


def rules() -> dict:
    """The rules as data (what ``esoc law eval currency.rules`` prints)."""
    return {
        "unit": "fen",
        "fen_per_yuan": FEN_PER_YUAN,
        "max_amount": MAX_AMOUNT,
        "issue": {"role": ROLE_ISSUER, "to": "a registered account", "amount": "positive",
                  "effect": "recipient balance += amount; issued += amount"},
        "retire": {"role": ROLE_ISSUER, "from": "the issuer's own balance", "amount": "positive, at most that balance",
                   "effect": "issuer balance -= amount; retired += amount"},
        "transfer": {"from": "a registered sender", "to": "a registered account", "amount": "positive, at most the balance"},
        "invariant": "issued - retired == sum of all balances",
        "wallet_tiers": None,
        "enforced_by": "chain/execution.py (_issue, _retire, move)",
        "codes": CODES,
    }


def issue_result(sender_is_issuer: bool, recipient_registered: bool, amount: int, issued: int,
                 recipient_balance: int) -> int:
    """The result code the ledger gives an issuance, in the native order of checks."""
    if not sender_is_issuer:
        return NOT_AUTHORIZED
    if not is_int(amount) or amount <= 0:
        return INVALID_ARGUMENT
    if not recipient_registered:
        return RECIPIENT_NOT_REGISTERED
    if issued + amount > MAX_AMOUNT or recipient_balance + amount > MAX_AMOUNT:
        return SUPPLY_OVERFLOW
    return OK


def retire_result(sender_is_issuer: bool, amount: int, balance: int) -> int:
    """The result code the ledger gives a retirement."""
    if not sender_is_issuer:
        return NOT_AUTHORIZED
    if not is_int(amount) or amount <= 0:
        return INVALID_ARGUMENT
    if balance < amount:
        return INSUFFICIENT_FUNDS
    return OK


def transfer_result(amount: int, balance: int, recipient_registered: bool) -> int:
    """The result code the ledger gives a transfer by a registered sender."""
    if not is_int(amount) or amount <= 0:
        return INVALID_ARGUMENT
    if balance < amount:
        return INSUFFICIENT_FUNDS
    if not recipient_registered:
        return RECIPIENT_NOT_REGISTERED
    return OK


def supply_holds(issued: int, retired: int, balances: list) -> bool:
    """Rule 5 on given figures: issued - retired equals the sum of the balances."""
    return issued - retired == sum(balances)


def balance(address: str) -> int:
    """An account's balance in fen, as the host reports it."""
    return ctx.balance(address)


def supply() -> dict:
    """The native supply figures.

    The contract host API does not expose the native ``Supply`` record yet,
    so this view cannot read it; ``esoc status`` / the node's RPC give it.
    """
    return {"available": False, "issued": None, "retired": None,
            "reason": "the host API has no supply() method; read it with the node's RPC"}
