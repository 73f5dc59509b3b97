"""Path-keyed state: path encoding, the journal, commit roots, and the LevelDB store."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.address import address_of
from ledger.codec import encode
from ledger.crypto import PrivateKey
from ledger.smt import EMPTY_ROOT, SparseMerkleTree, verify_proof
from ledger.state import (
    SUPPLY,
    Account,
    State,
    Supply,
    Validator,
    acct_path,
    key_hash,
    parse_path,
    path_bytes,
    value_hash,
)
from ledger.store import ChainStore
from ledger.tx import Transfer, sign_tx

FAST = settings(derandomize=True, deadline=None, max_examples=150, database=None)

parts = st.one_of(
    st.text(max_size=6),
    st.binary(max_size=6),
    st.integers(min_value=0, max_value=2**64 - 1),
)
paths = st.lists(parts, max_size=5).map(tuple)


# ---------------------------------------------------------------------------
# Path bytes
# ---------------------------------------------------------------------------


def is_prefix(p: tuple, q: tuple) -> bool:
    return len(p) <= len(q) and all(type(a) is type(b) and a == b for a, b in zip(p, q))


@FAST
@given(paths)
def test_parse_path_inverts_path_bytes(p):
    back = parse_path(path_bytes(p))
    assert len(back) == len(p)
    assert all(type(a) is type(b) and a == b for a, b in zip(back, p))


@FAST
@given(paths, paths)
def test_byte_prefix_iff_path_prefix(p, q):
    pb, qb = path_bytes(p), path_bytes(q)
    assert qb.startswith(pb) == is_prefix(p, q)
    # and distinct paths never share bytes
    assert (pb == qb) == (is_prefix(p, q) and len(p) == len(q))


@FAST
@given(paths, st.integers(0, 5))
def test_every_path_prefix_is_a_byte_prefix(p, k):
    assert path_bytes(p).startswith(path_bytes(p[:k]))


@FAST
@given(st.binary(min_size=0, max_size=40))
def test_account_path_shortcut_matches_the_general_encoder(addr):
    from ledger import state as state_mod

    fast = getattr(state_mod, "acct_path_bytes", None)
    if fast is not None:
        assert fast(addr) == path_bytes(acct_path(addr))
    # and State reads/writes accounts where the store and proofs look for them
    s = State({}.get, EMPTY_ROOT, 0)
    s.set_account(addr, Account(balance=3, kind="citizen"))
    assert list(s.changes()) == [path_bytes(acct_path(addr))]
    assert s.get_record(acct_path(addr), Account).balance == 3


def test_path_parts_of_different_types_do_not_collide():
    assert len({path_bytes(("a",)), path_bytes((b"a",)), path_bytes((97,))}) == 3
    assert path_bytes(("ab",)) != path_bytes(("a", "b"))
    assert not path_bytes(("acctx",)).startswith(path_bytes(("acct",)))
    assert path_bytes(("acct", b"x")).startswith(path_bytes(("acct",)))


def test_bad_path_parts_refused():
    with pytest.raises(ValueError):
        path_bytes((-1,))
    with pytest.raises(TypeError):
        path_bytes((True,))
    with pytest.raises(TypeError):
        path_bytes((1.5,))
    with pytest.raises(ValueError):
        path_bytes((b"x" * 0x10000,))


# ---------------------------------------------------------------------------
# The working state: journal and commit
# ---------------------------------------------------------------------------

PATHS = [("acct", bytes([i]) * 20) for i in range(4)] + [("supply",), ("c", "x", 1), ("c", "x", 2)]


class Mem:
    """A committed state kept in dicts (what the store keeps in LevelDB)."""

    def __init__(self):
        self.values: dict[bytes, bytes] = {}
        self.nodes: dict[bytes, bytes] = {}
        self.root = EMPTY_ROOT
        self.smt = SparseMerkleTree(self.nodes.get)

    def state(self) -> State:
        return State(self.values.get, self.root, 0)

    def commit(self, st_: State) -> bytes:
        diff = st_.commit(self.smt)
        self.nodes.update(diff.nodes)
        for pb, v in diff.changes.items():
            if v is None:
                self.values.pop(pb, None)
            else:
                self.values[pb] = v
        self.root = diff.root
        return diff.root


def snapshot(s: State) -> dict:
    return {path_bytes(p): s.get_bytes(p) for p in PATHS} | {"changes": s.changes()}


op = st.tuples(
    st.sampled_from(["put", "put_value", "delete", "account"]),
    st.integers(0, len(PATHS) - 1),
    st.integers(0, 1000),
)


@FAST
@given(st.lists(op, max_size=12), st.lists(op, min_size=1, max_size=12), st.lists(op, max_size=12))
def test_journal_revert_restores_exactly(committed_ops, before, after):
    mem = Mem()
    base = mem.state()
    apply_ops(base, committed_ops)
    mem.commit(base)

    s = mem.state()
    apply_ops(s, before)
    snap = snapshot(s)
    m = s.mark()
    apply_ops(s, after)
    inner = s.mark()
    apply_ops(s, before)  # more writes after a second mark
    s.revert(inner)
    s.revert(m)
    assert snapshot(s) == snap
    # reverting to the start leaves nothing to commit, and the root unchanged
    s.revert(0)
    assert s.changes() == {}
    assert s.commit(mem.smt).root == mem.root
    assert snapshot(s) == snapshot(mem.state())


def apply_ops(s: State, ops) -> None:
    for kind, i, n in ops:
        p = PATHS[i]
        if kind == "put":
            s.put(p, encode({"n": n}))
        elif kind == "put_value":
            s.put_value(p, [n, "x"])
        elif kind == "delete":
            s.delete(p)
        else:
            s.put(p, Account(balance=n, nonce=n % 7, kind="citizen"))


def test_revert_of_a_record_write_reads_the_committed_record_again():
    mem = Mem()
    s = mem.state()
    a = b"\x01" * 20
    s.set_account(a, Account(balance=10, kind="citizen"))
    mem.commit(s)
    s = mem.state()
    assert s.account(a).balance == 10  # read (and cached) from committed state
    m = s.mark()
    s.set_account(a, Account(balance=99, kind="citizen"))
    s.put(SUPPLY, Supply(issued=5))
    assert s.account(a).balance == 99
    s.revert(m)
    assert s.account(a).balance == 10
    assert s.supply() == Supply()
    assert s.changes() == {}


@FAST
@given(
    st.dictionaries(st.sampled_from(range(len(PATHS))), st.one_of(st.none(), st.integers(0, 50)), min_size=1),
    st.randoms(use_true_random=False),
)
def test_commit_root_independent_of_write_order(final, rnd):
    mem = Mem()
    s0 = mem.state()
    for p in PATHS[::2]:
        s0.put_value(p, "genesis")
    mem.commit(s0)

    def build(order, noise: bool) -> bytes:
        s = mem.state()
        for i in order:
            if noise:  # overwrite with something else first: only the last write counts
                s.put_value(PATHS[i], "noise")
                s.delete(PATHS[i])
            v = final[i]
            if v is None:
                s.delete(PATHS[i])
            else:
                s.put_value(PATHS[i], v)
        return s.commit(mem.smt).root

    order = list(final)
    r1 = build(order, False)
    rnd.shuffle(order)
    r2 = build(order, True)
    assert r1 == r2

    # the root is a function of the resulting key/value set: the same set
    # reached from scratch in one batch gives the same root
    fresh = Mem()
    s = fresh.state()
    for i, p in enumerate(PATHS):
        v = final.get(i, "genesis" if i % 2 == 0 else None)
        if v is not None:
            s.put_value(p, v)
    assert s.commit(fresh.smt).root == r1


def test_root_changes_with_any_value():
    mem = Mem()
    s = mem.state()
    s.put_value(("a",), 1)
    r1 = mem.commit(s)
    s = mem.state()
    s.put_value(("a",), 2)
    r2 = s.commit(mem.smt).root
    s = mem.state()
    s.put_value(("b",), 1)
    r3 = s.commit(mem.smt).root
    s = mem.state()
    s.delete(("a",))
    r4 = s.commit(mem.smt).root
    assert len({r1, r2, r3, r4}) == 4
    assert r4 == EMPTY_ROOT


# ---------------------------------------------------------------------------
# The store on LevelDB, through the application that writes it
# ---------------------------------------------------------------------------

CHAIN = "state-test"
CB = PrivateKey.from_name("cb", salt="state-test")
REG = PrivateKey.from_name("reg", salt="state-test")
ALICE = PrivateKey.from_name("alice", salt="state-test")
BOB = PrivateKey.from_name("bob", salt="state-test")
VAL = PrivateKey.from_name("val", salt="state-test")
A_ALICE, A_BOB = address_of(ALICE.public), address_of(BOB.public)
NEVER = address_of(PrivateKey.from_name("never", salt="state-test").public)


def genesis():
    from ledger.genesis import Genesis, GenesisAccount

    return Genesis(
        chain_id=CHAIN,
        genesis_time_ms=1_000,
        accounts=(
            GenesisAccount(address_of(CB.public), 0, "agency", ("central_bank", "treasury"), "cb"),
            GenesisAccount(address_of(REG.public), 0, "agency", ("registrar",), "reg"),
            GenesisAccount(A_ALICE, 1_000, "citizen", (), "alice"),
            GenesisAccount(A_BOB, 0, "citizen", (), "bob"),
        ),
        validators=(Validator(VAL.public, 10, "v0"),),
        params={},
    )


def run_chain(path: str, amounts: list[int]):
    """Genesis, then one block per amount (alice pays bob).  Returns the headers."""
    from chain.app import Application

    store = ChainStore(path)
    app = Application(store, genesis())
    headers = []
    for i, amt in enumerate(amounts):
        tx = sign_tx(ALICE, CHAIN, "transfer", Transfer(to=A_BOB, amount=amt), i, 100)
        app.mempool.add(tx, app.state(), app.height + 1, verified=False)
        ex = app.build_block(2_000 + i, VAL, None)
        assert [r.code for r in ex.receipts] == [0]
        app.commit(ex, None)
        headers.append(ex.block.header)
    return store, headers


def acct_at(store: ChainStore, addr: bytes, height: int) -> Account | None:
    raw = store.read_at(acct_path(addr), height)
    return None if raw is None else Account.decode(raw)


def test_height_and_roots_persist_across_reopen(tmp_path):
    path = str(tmp_path / "db")
    store, headers = run_chain(path, [100, 200, 300])
    g_root = store.state_root(0)
    roots = [store.state_root(h) for h in range(4)]
    assert store.height() == 3
    assert roots[1:] == [hd.state_root for hd in headers]
    assert len(set(roots)) == 4 and g_root != EMPTY_ROOT
    store.close()

    again = ChainStore(path, create=False)
    try:
        assert again.height() == 3
        assert [again.state_root(h) for h in range(4)] == roots
        assert again.block(2).header == headers[1]
        assert again.height_of(headers[2].hash) == 3
        assert Account.decode(again.read_latest(path_bytes(acct_path(A_BOB)))).balance == 600
        # the application resumes on the reopened store
        from chain.app import Application

        app = Application(again, genesis())
        assert app.height == 3
        assert app.last_block_hash() == headers[2].hash
        assert app.state().account(A_ALICE).nonce == 3
    finally:
        again.close()


def test_read_at_a_past_height_returns_the_past_value(tmp_path):
    store, headers = run_chain(str(tmp_path / "db"), [100, 200, 300])
    try:
        bob = [acct_at(store, A_BOB, h).balance for h in range(4)]
        alice = [acct_at(store, A_ALICE, h) for h in range(4)]
        assert bob == [0, 100, 300, 600]
        assert [a.balance for a in alice] == [1000, 900, 700, 400]
        assert [a.nonce for a in alice] == [0, 1, 2, 3]
        assert acct_at(store, NEVER, 3) is None
        assert Supply.decode(store.read_at(SUPPLY, 2)) == Supply(issued=1000, retired=0)
    finally:
        store.close()


def test_proofs_verify_against_the_header_root_only(tmp_path):
    store, headers = run_chain(str(tmp_path / "db"), [100, 200])
    try:
        path = acct_path(A_BOB)
        key = key_hash(path_bytes(path))
        for h, hd in ((1, headers[0]), (2, headers[1])):
            root, proof = store.prove(path, h)
            assert root == hd.state_root
            value = store.read_at(path, h)
            vh = value_hash(value)
            assert verify_proof(hd.state_root, key, vh, proof)
            assert verify_proof(hd.state_root, key, vh, proof.encode())  # as on the wire
            # another root (the other header's, genesis, empty) refuses it
            other = headers[1 - (h - 1)].state_root
            for bad_root in (other, store.state_root(0), EMPTY_ROOT, bytes(32)):
                assert not verify_proof(bad_root, key, vh, proof)
            # a changed value refuses it
            changed = Account.decode(value).replace(balance=10**9).encode()
            assert not verify_proof(hd.state_root, key, value_hash(changed), proof)
            assert not verify_proof(hd.state_root, key, None, proof)  # nor claims absence
            # another key refuses it
            alice_key = key_hash(path_bytes(acct_path(A_ALICE)))
            assert not verify_proof(hd.state_root, alice_key, vh, proof)
    finally:
        store.close()


def test_absence_proof_for_a_never_written_account(tmp_path):
    store, headers = run_chain(str(tmp_path / "db"), [100, 200])
    try:
        path = acct_path(NEVER)
        key = key_hash(path_bytes(path))
        root, proof = store.prove(path, 2)
        assert root == headers[1].state_root
        assert store.read_at(path, 2) is None
        assert verify_proof(root, key, None, proof)
        # it proves absence, not any value
        fake = value_hash(Account(balance=5, kind="citizen").encode())
        assert not verify_proof(root, key, fake, proof)
        # and an existing account cannot be shown absent with its proof
        bob_path = acct_path(A_BOB)
        _, bob_proof = store.prove(bob_path, 2)
        assert not verify_proof(root, key_hash(path_bytes(bob_path)), None, bob_proof)
    finally:
        store.close()


def test_iter_latest_lists_exactly_the_subtree(tmp_path):
    store, _ = run_chain(str(tmp_path / "db"), [100])
    try:
        accts = dict(store.iter_latest(("acct",)))
        assert set(accts) == {acct_path(a) for a in (address_of(CB.public), address_of(REG.public), A_ALICE, A_BOB)}
        assert Account.decode(accts[acct_path(A_BOB)]).balance == 100
        assert [p for p, _ in store.iter_latest(("supply",))] == [("supply",)]
    finally:
        store.close()


def test_randomised_history_read_at_matches_a_model(tmp_path):
    """Many blocks of transfers both ways; every past balance is read back."""
    rnd = random.Random(7)
    amounts = [rnd.randint(1, 50) for _ in range(8)]
    store, headers = run_chain(str(tmp_path / "db"), amounts)
    try:
        bal = 0
        for h, amt in enumerate(amounts, start=1):
            bal += amt
            assert acct_at(store, A_BOB, h).balance == bal
            root, proof = store.prove(acct_path(A_BOB), h)
            assert verify_proof(headers[h - 1].state_root, key_hash(path_bytes(acct_path(A_BOB))),
                                value_hash(store.read_at(acct_path(A_BOB), h)), proof)
    finally:
        store.close()


# the hot-path encoder against the general one: same bytes, or the same error, for any part
_odd_parts = st.one_of(
    st.text(max_size=12), st.binary(max_size=12), st.integers(-3, 2**64 + 3), st.booleans(),
    st.binary(max_size=6).map(bytearray), st.none(), st.just(1.5),
    st.just("x" * 0x10000), st.just(b"y" * 0x10000), st.just("é" * 0x8000),
)


def _outcome(f, p):
    try:
        return ("ok", f(p))
    except Exception as e:  # noqa: BLE001 - the type and text are what must agree
        return (type(e).__name__, str(e))


@FAST
@given(st.lists(_odd_parts, max_size=5), st.booleans())
def test_path_bytes_fast_path_matches_the_general_encoder(parts, as_list):
    from ledger.state import _path_bytes_general

    p = list(parts) if as_list else tuple(parts)
    assert _outcome(path_bytes, p) == _outcome(_path_bytes_general, p)
    assert _outcome(path_bytes, iter(p)) == _outcome(_path_bytes_general, p)  # a one-shot iterable too


def _leaf_reads(store: ChainStore, reads: list) -> list[int]:
    """The kind byte of each node read (1: a leaf)."""
    return [store.db.get(b"n/" + h)[0] for h in reads]


def test_the_store_reads_its_tree_through_the_top_cache(tmp_path, monkeypatch):
    """The state tree's top stays in memory block after block: warmed by the first working state,
    carried by each commit; a proof of the latest root then reads only its leaf from LevelDB, and a
    proof of a past height (a root the cache does not hold) reads its whole path there, and is right."""
    path = str(tmp_path / "db")
    store, _ = run_chain(path, [100, 200])
    store.close()
    reads = []
    db_get = ChainStore.get_node
    monkeypatch.setattr(ChainStore, "get_node", lambda self, h: reads.append(h) or db_get(self, h))
    again = ChainStore(path, create=False)
    try:
        from chain.app import Application

        assert again.node_cache.root == EMPTY_ROOT  # reopened: memory only, it holds the empty tree
        app = Application(again, genesis())
        app.state()  # the first working state warms the cache
        assert again.node_cache.root == again.state_root(2) and again.node_cache.warmed > 0 and reads
        tx = sign_tx(ALICE, CHAIN, "transfer", Transfer(to=A_BOB, amount=5), 2, 100)
        app.mempool.add(tx, app.state(), app.height + 1, verified=False)
        app.commit(app.build_block(3_000, VAL, None), None)
        assert again.node_cache.root == again.state_root(3)  # carried by the commit
        for a in (A_ALICE, A_BOB):
            reads.clear()
            root, proof = again.prove(acct_path(a), 3)
            assert verify_proof(root, key_hash(path_bytes(acct_path(a))),
                                value_hash(again.read_at(acct_path(a), 3)), proof)
            assert _leaf_reads(again, reads) == [1, 1]  # the leaf, once for the proof, once for the read
            reads.clear()
            root2, proof2 = again.prove(acct_path(a), 2)  # the past: from LevelDB
            assert root2 == again.state_root(2) and proof2 != proof
            assert verify_proof(root2, key_hash(path_bytes(acct_path(a))),
                                value_hash(again.read_at(acct_path(a), 2)), proof2)
            assert len(reads) > 2 and proof2 == SparseMerkleTree(again.get_node).prove(root2, proof2.leaf.key)
        assert acct_at(again, A_BOB, 3).balance == 305 and acct_at(again, A_BOB, 2).balance == 300
    finally:
        again.close()


def test_a_state_written_around_commit_block_is_warmed_at_the_next_working_state(tmp_path, monkeypatch):
    """A state-sync restore writes nodes, root and height straight into LevelDB: the cache, warmed
    on the empty store before, must load the new tree's top at the next working state."""
    src, _ = run_chain(str(tmp_path / "src"), [100, 200])
    reads = []
    db_get = ChainStore.get_node
    monkeypatch.setattr(ChainStore, "get_node", lambda self, h: reads.append(h) or db_get(self, h))
    dst = ChainStore(str(tmp_path / "dst"))
    try:
        dst.state_at()  # warmed on the empty tree
        wb = dst.db.write_batch(sync=True)
        for prefix in (b"n/", b"s/", b"v/", b"o/"):
            for k, v in src.db.iterator(prefix=prefix):
                wb.put(k, v)
        wb.put(b"m/height", src.db.get(b"m/height"))
        wb.write()
        st = dst.state_at()
        assert st.root == src.state_root(2) == dst.node_cache.root and dst.node_cache.warmed > 0
        for a in (A_ALICE, A_BOB):
            reads.clear()
            root, proof = dst.prove(acct_path(a), 2)
            assert verify_proof(root, key_hash(path_bytes(acct_path(a))),
                                value_hash(dst.read_at(acct_path(a), 2)), proof)
            assert _leaf_reads(dst, reads) == [1, 1]
    finally:
        dst.close()
        src.close()


def test_commit_tells_the_tree_the_old_values(tmp_path, monkeypatch):
    """State.commit gives the tree each changed path's old value hash: read by this working state, by
    another of the same height (the mempool's), or carried from the block that wrote it; every hint
    is the value the tree holds, and the roots are the ones computed without hints."""
    calls = []
    orig = SparseMerkleTree.update

    def spy(self, root, changes, old=None):
        out = orig(self, root, changes, old)
        calls.append((root, dict(changes), dict(old or {}), out[0]))
        return out

    monkeypatch.setattr(SparseMerkleTree, "update", spy)
    store, headers = run_chain(str(tmp_path / "db"), [100, 200, 300])
    try:
        plain = SparseMerkleTree(store.get_node)
        blocks = calls[-len(headers):]
        keys = {key_hash(path_bytes(acct_path(a))) for a in (A_ALICE, A_BOB)}
        for (root, changes, old, new_root), hd in zip(blocks, headers):
            assert new_root == hd.state_root == orig(plain, root, changes)[0]
            assert keys <= set(old) and set(old) <= set(changes)  # both accounts, never a new path
            for k, vh in old.items():
                assert plain.get(root, k) == vh
    finally:
        store.close()


def test_a_wrong_old_value_hash_still_gives_the_right_root():
    """The hints are only hints: a stale hash for a changed path, one for a deleted path, a new path
    with none, bytes seen that are not the committed ones: the same root as a state told nothing."""
    mem = Mem()
    s = mem.state()
    for i, p in enumerate(PATHS):
        s.put(p, bytes([i]) * 3)
    mem.commit(s)

    def run(**hints) -> bytes:
        st_ = State(mem.values.get, mem.root, 0, **hints)
        st_.put(PATHS[0], b"changed")
        st_.delete(PATHS[1])
        st_.put(("new", 1), b"fresh")
        st_.put(PATHS[2], bytes([2]) * 3)  # set to its own value: a no-op for the tree
        return st_.commit(mem.smt).root

    right = run()
    pbs = [path_bytes(p) for p in PATHS]
    assert run(hashes={pbs[0]: value_hash(b"stale"), pbs[1]: b"\x00" * 32}) == right
    assert run(seen={pbs[0]: b"not what was committed", path_bytes(("new", 1)): b"x"}) == right
    assert run(hashes={pbs[0]: value_hash(bytes([0]) * 3)}, seen={pbs[1]: bytes([1]) * 3}) == right
    ref = Mem()
    s = ref.state()
    for i, p in enumerate(PATHS):
        s.put(p, bytes([i]) * 3)
    s.put(PATHS[0], b"changed")
    s.delete(PATHS[1])
    s.put(("new", 1), b"fresh")
    assert ref.commit(s) == right
