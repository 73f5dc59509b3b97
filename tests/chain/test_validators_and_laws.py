"""Validator-set changes take effect two heights later; law versions hold from their height."""

from __future__ import annotations

from consensus.valset import ValidatorSet
from ledger.smt import EMPTY_ROOT
from ledger.state import State
from ledger.tx import Call, SetValidator
from chain.contract_host import ChainHost, LawError, Laws, contract_account

from . import GENESIS_ACCOUNTS, KEYS, World, make_genesis


def _set(*pairs) -> bytes:
    return ValidatorSet.from_powers([(KEYS[n].public, p) for n, p in pairs]).hash()


def test_a_validator_added_at_h_signs_from_h_plus_2(tmp_path):
    accounts = dict(GENESIS_ACCOUNTS, reg=(0, "agency", ("registrar", "validator_operator")))
    w = World(tmp_path, genesis=make_genesis(accounts=accounts))
    w.block()  # height 1
    ex = w.block(w.tx("reg", "set_validator", SetValidator(pubkey=KEYS["val2"].public, power=10, name="v1")))
    h = ex.block.height  # the change is made in block h
    assert ex.receipts[0].code == 0
    assert ex.receipts[0].events[0]["effective"] == h + 2
    assert ex.block.header.validators_hash == _set(("val", 10))
    assert ex.block.header.next_validators_hash == _set(("val", 10))
    ex1 = w.block()
    assert ex1.block.header.validators_hash == _set(("val", 10))
    assert ex1.block.header.next_validators_hash == _set(("val", 10), ("val2", 10))
    ex2 = w.block()
    assert ex2.block.height == h + 2
    assert ex2.block.header.validators_hash == _set(("val", 10), ("val2", 10))
    assert w.app.valset(h + 3).power_of(KEYS["val2"].public) == 10
    assert {v.name for v in w.app.validators()} == {"v0", "v1"}
    # removing it the same way; the last validator cannot be removed
    w.block(w.tx("reg", "set_validator", SetValidator(pubkey=KEYS["val2"].public, power=0)))
    w.block()
    w.block()
    assert w.app.valset().power_of(KEYS["val2"].public) == 0
    bad = w.block(w.tx("reg", "set_validator", SetValidator(pubkey=KEYS["val"].public, power=0)))
    assert bad.receipts[0].code != 0
    # the proposer rotates by weighted round-robin among the set in force
    vs = ValidatorSet.from_powers([(KEYS["val"].public, 10), (KEYS["val2"].public, 10)])
    firsts = [vs.proposer(1, r) for r in range(4)]
    assert set(firsts) == {KEYS["val"].public, KEYS["val2"].public}


V1 = '''"""Demo law, version 1."""
ENTRIES = ("bump",)
VIEWS = ("which",)


def which() -> int:
    return 1


def bump() -> int:
    storage.set("n", storage.get("n", 0) + 1)
    return storage.get("n", 0)
'''
V2 = V1.replace("version 1", "version 2").replace("return 1", "return 2")


def test_a_law_version_holds_from_its_height_and_old_versions_stay_readable():
    values: dict = {}
    st = State(values.get, EMPTY_ROOT, 0)
    laws = Laws({"demo": V1})
    laws.install_genesis(st, None)
    assert laws.version_at(st, "demo", 1)["version"] == 1
    e2 = laws.install(st, "demo", V2, since=10)
    assert e2 == {"version": 2, "code_hash": e2["code_hash"], "since": 10}
    assert laws.version_at(st, "demo", 9)["version"] == 1
    assert laws.version_at(st, "demo", 10)["version"] == 2
    assert ChainHost(laws, st, None, 9, 0).contract_source("demo") == V1
    assert ChainHost(laws, st, None, 10, 0).contract_source("demo") == V2
    # both sources stay readable by their hashes
    for v in laws.versions(st, "demo"):
        assert laws.source(st, v["code_hash"]) in (V1, V2)
    # a new version cannot hold from a height at or before the last one's
    try:
        laws.install(st, "demo", V1, since=10)
    except LawError as e:
        assert "already holds" in str(e)
    else:
        raise AssertionError("installing at an earlier height was accepted")
    # a source outside the contract subset is refused with the reason
    try:
        laws.install(st, "demo", "import os\n", since=20)
    except LawError as e:
        assert "not in the contract subset" in str(e)
    else:
        raise AssertionError("a source outside the subset was installed")
    # the law's funds live in an ordinary registered account
    assert st.account(contract_account("demo")).kind == "contract"


def test_calls_run_the_version_in_force(tmp_path):
    from chain.app import Application

    g = make_genesis()
    w = World(tmp_path, genesis=g)
    w.close()
    # the same world, now with a law (fresh store: genesis differs)
    import os

    from ledger.store import ChainStore

    store = ChainStore(os.path.join(str(tmp_path), "with-law"))
    app = Application(store, g, Laws({"demo": V1}))
    w.store, w.app = store, app
    ex = w.block(w.tx("alice", "call", Call(contract="demo", entry="bump", args={}, gas_limit=100_000)))
    assert ex.receipts[0].code == 0 and ex.receipts[0].result == 1
    ex = w.block(w.tx("alice", "call", Call(contract="demo", entry="which", args={}, gas_limit=100_000)))
    assert ex.receipts[0].code != 0  # a view is not an entry a transaction may call
    ex = w.block(w.tx("alice", "call", Call(contract="demo", entry="bump", args={}, gas_limit=10)))
    assert ex.receipts[0].code == 101  # out of gas: 100 + the runtime's OUT_OF_GAS
    assert ex.receipts[0].gas_used > 0
    ex = w.block(w.tx("alice", "call", Call(contract="nolaw", entry="bump", args={}, gas_limit=100_000)))
    assert ex.receipts[0].code == 28  # UNKNOWN_CONTRACT
    store.close()


def _operator_world(tmp_path):
    accounts = dict(GENESIS_ACCOUNTS, reg=(0, "agency", ("registrar", "validator_operator")))
    w = World(tmp_path, genesis=make_genesis(accounts=accounts))
    w.block()
    return w


def test_adding_then_removing_a_key_in_one_block_nets_out_and_the_chain_goes_on(tmp_path):
    # the review's fault: both succeeded, the pending update became "remove X", and the end
    # of the next block raised for every candidate, halting the chain
    w = _operator_world(tmp_path)
    pk = KEYS["val2"].public
    ex = w.block(
        w.tx("reg", "set_validator", SetValidator(pubkey=pk, power=5)),
        w.tx("reg", "set_validator", SetValidator(pubkey=pk, power=0)),
    )
    assert [r.code for r in ex.receipts] == [0, 0]
    assert w.app.state().get_value(("validator_updates", ex.block.height + 2)) is None
    for _ in range(3):
        nxt = w.block()
        assert nxt.block.header.validators_hash == _set(("val", 10))
    assert w.app.valset().power_of(pk) == 0


def test_removing_a_key_that_is_nowhere_is_refused(tmp_path):
    w = _operator_world(tmp_path)
    ex = w.block(w.tx("reg", "set_validator", SetValidator(pubkey=KEYS["val2"].public, power=0)))
    assert ex.receipts[0].code != 0
    w.block()
    w.block()  # the refused removal left nothing to apply


def test_end_block_never_raises_on_a_stored_update_that_cannot_apply(tmp_path):
    from chain.app import _apply_updates

    vs = ValidatorSet.from_powers([(KEYS["val"].public, 10)])
    # the removal of an absent key is dropped; the rest applies
    out = _apply_updates(vs, [[KEYS["val2"].public, 0], [KEYS["carol"].public, 3]])
    assert out.power_of(KEYS["carol"].public) == 3
    # an update that removes everyone keeps the set as it was
    assert _apply_updates(vs, [[KEYS["val"].public, 0]]).hash() == vs.hash()
