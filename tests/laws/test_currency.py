"""The currency law states the rules the native ledger enforces: check that
its pure views give the same result codes as chain/execution.py."""

from __future__ import annotations

import types

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.state import SUPPLY, Account, Supply
from chain import execution

from .helpers import BANK, make_host, view

U64 = 2**64 - 1
HOST = make_host(balances={BANK: 12_345})


class FakeState:
    """Just enough of ledger.state.State for the native issue/retire/move handlers."""

    def __init__(self, accounts: dict, supply: Supply):
        self.accounts = dict(accounts)
        self._supply = supply

    def account(self, a):
        return self.accounts.get(a, Account())

    def set_account(self, a, acct):
        self.accounts[a] = acct

    def supply(self):
        return self._supply

    def put(self, path, value):
        assert path == SUPPLY
        self._supply = value


def native(handler, state, sender, **payload) -> int:
    tx = types.SimpleNamespace(sender=sender)
    try:
        handler(None, state, tx, types.SimpleNamespace(**payload), None, [])
    except execution.TxFailed as e:
        return e.code
    return 0


def test_rules_are_readable_data():
    r = view(HOST, "currency", "rules")
    assert r["issue"]["role"] == "central_bank" and r["wallet_tiers"] is None
    assert r["invariant"] == "issued - retired == sum of all balances"
    assert "chain/execution.py" in r["enforced_by"]
    assert view(HOST, "currency", "balance", {"address": BANK}) == 12_345
    assert view(HOST, "currency", "supply")["available"] is False


amounts = st.one_of(st.integers(-5, 5), st.integers(0, U64), st.just(U64))


@settings(max_examples=80, deadline=None)
@given(is_bank=st.booleans(), registered=st.booleans(), amount=amounts, issued=st.integers(0, U64),
       balance=st.integers(0, U64))
def test_issue_statement_matches_the_native_code(is_bank, registered, amount, issued, balance):
    sender = Account(kind="agency", roles=("central_bank",) if is_bank else ())
    to = Account(balance=balance, kind="citizen" if registered else "")
    s = FakeState({"bank": sender, "to": to}, Supply(issued=max(issued, balance), retired=0))
    want = native(execution.issue, s, "bank", to="to", amount=amount)
    got = view(HOST, "currency", "issue_result", {"sender_is_issuer": is_bank, "recipient_registered": registered,
                                                  "amount": amount, "issued": max(issued, balance),
                                                  "recipient_balance": balance})
    assert got == want


@settings(max_examples=60, deadline=None)
@given(is_bank=st.booleans(), amount=amounts, balance=st.integers(0, U64))
def test_retire_statement_matches_the_native_code(is_bank, amount, balance):
    me = Account(balance=balance, kind="agency", roles=("central_bank",) if is_bank else ())
    s = FakeState({"bank": me}, Supply(issued=balance, retired=0))
    want = native(execution.retire, s, "bank", amount=amount)
    got = view(HOST, "currency", "retire_result", {"sender_is_issuer": is_bank, "amount": amount, "balance": balance})
    assert got == want
    if want == 0:  # and the invariant holds after it
        after = s.supply()
        assert view(HOST, "currency", "supply_holds", {"issued": after.issued, "retired": after.retired,
                                                      "balances": [s.account("bank").balance]})


@settings(max_examples=60, deadline=None)
@given(amount=amounts, balance=st.integers(0, U64), registered=st.booleans())
def test_transfer_statement_matches_the_native_code(amount, balance, registered):
    s = FakeState({"a": Account(balance=balance, kind="citizen"), "b": Account(kind="citizen" if registered else "")},
                  Supply(issued=balance, retired=0))
    try:
        execution.move(s, "a", "b", amount, [])
        want = 0
    except execution.TxFailed as e:
        want = e.code
    got = view(HOST, "currency", "transfer_result", {"amount": amount, "balance": balance,
                                                    "recipient_registered": registered})
    assert got == want
    assert view(HOST, "currency", "supply_holds", {"issued": balance, "retired": 0,
                                                  "balances": [s.account("a").balance, s.account("b").balance]})
