"""The sparse Merkle tree against a dict model, and its proofs against forgery."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.codec import encode
from ledger.crypto import tagged_hash
from ledger.smt import (
    EMPTY_ROOT,
    CorruptNodeError,
    MissingNodeError,
    NodeCache,
    TopCache,
    Proof,
    ProofLeaf,
    SparseMerkleTree,
    internal_hash,
    leaf_hash,
    verify_proof,
)

# ---------------------------------------------------------------------------
# A small universe of keys, chosen so that prefixes collide at every depth:
# random keys, keys one bit apart at the end, at the start, in the middle,
# all zeros, all ones, and clusters sharing 8, 100 and 250 bits.
# ---------------------------------------------------------------------------


def _k(i: int) -> bytes:
    return i.to_bytes(32, "big")


def _universe() -> list[bytes]:
    r = random.Random(2026)
    top = 1 << 255
    ints = {0, (1 << 256) - 1, 1, top, top | 1, (1 << 255) - 1}
    for _ in range(16):
        ints.add(r.getrandbits(256))
    for shared in (8, 100, 250, 255):
        base = r.getrandbits(256)
        for _ in range(5):
            tail_bits = 256 - shared
            ints.add((base >> tail_bits << tail_bits) | r.getrandbits(tail_bits))
    x = r.getrandbits(256)
    ints.update({x, x ^ 1, x ^ 2, x ^ (1 << 128)})
    return sorted(_k(i) for i in ints)


UNIVERSE = _universe()
VALUES = [bytes([i]) * 32 for i in range(1, 5)]

keys_st = st.sampled_from(UNIVERSE)
value_st = st.one_of(st.none(), st.sampled_from(VALUES))
batch_st = st.dictionaries(keys_st, value_st, max_size=12)
batches_st = st.lists(batch_st, min_size=1, max_size=8)


def fresh_root(items: dict) -> bytes:
    """The root of a tree built in one batch from nothing."""
    root, _ = SparseMerkleTree({}.get).update(EMPTY_ROOT, items)
    return root


def apply(model: dict, changes: dict) -> None:
    for k, v in changes.items():
        if v is None:
            model.pop(k, None)
        else:
            model[k] = v


def node_ok(h: bytes, raw: bytes) -> bool:
    """A stored node is its kind byte and the 64 hashed bytes."""
    if len(raw) != 65:
        return False
    if raw[0] == 1:
        return tagged_hash("smt leaf", raw[1:]) == h
    if raw[0] == 2:
        return tagged_hash("smt node", raw[1:]) == h
    return False


# ---------------------------------------------------------------------------
# Fixed cases
# ---------------------------------------------------------------------------


def test_hashes_are_tagged_hashes():
    a, b = bytes(range(32)), bytes(range(32, 64))
    assert EMPTY_ROOT == tagged_hash("smt empty", b"")
    assert leaf_hash(a, b) == tagged_hash("smt leaf", a + b)
    assert internal_hash(a, b) == tagged_hash("smt node", a + b)
    assert len({EMPTY_ROOT, leaf_hash(a, b), internal_hash(a, b)}) == 3


def test_empty_tree():
    store: dict = {}
    t = SparseMerkleTree(store.get)
    assert len(EMPTY_ROOT) == 32
    assert t.get(EMPTY_ROOT, UNIVERSE[3]) is None
    assert list(t.iter_leaves(EMPTY_ROOT)) == []
    assert t.update(EMPTY_ROOT, {}) == (EMPTY_ROOT, {})
    assert t.update(EMPTY_ROOT, {UNIVERSE[0]: None, UNIVERSE[1]: None}) == (EMPTY_ROOT, {})
    p = t.prove(EMPTY_ROOT, UNIVERSE[3])
    assert p.leaf is None and p.siblings == ()
    assert verify_proof(EMPTY_ROOT, UNIVERSE[3], None, p)
    assert not verify_proof(EMPTY_ROOT, UNIVERSE[3], VALUES[0], p)


def test_single_key():
    store: dict = {}
    t = SparseMerkleTree(store.get)
    k, v = UNIVERSE[5], VALUES[0]
    root, nodes = t.update(EMPTY_ROOT, {k: v})
    assert root == leaf_hash(k, v)
    assert nodes == {root: b"\x01" + k + v}
    store.update(nodes)
    assert t.get(root, k) == v
    assert t.get(root, UNIVERSE[6]) is None
    p = t.prove(root, k)
    assert p.siblings == () and p.leaf == ProofLeaf(key=k, value_hash=v)
    assert verify_proof(root, k, v, p)
    assert not verify_proof(root, k, VALUES[1], p)
    # the absence of another key is shown by the one leaf at the root
    q = t.prove(root, UNIVERSE[6])
    assert q.leaf is not None and q.leaf.key == k
    assert verify_proof(root, UNIVERSE[6], None, q)
    assert not verify_proof(root, k, None, q)
    # overwrite, then delete the last key: back to the empty root
    root2, nodes2 = t.update(root, {k: VALUES[1]})
    assert root2 == leaf_hash(k, VALUES[1])
    store.update(nodes2)
    root3, nodes3 = t.update(root2, {k: None})
    assert root3 == EMPTY_ROOT and nodes3 == {}


def test_keys_sharing_255_bits():
    """Two keys that differ in the last bit only: a chain of 255 nodes with an
    empty sibling each, then the node holding both leaves."""
    store: dict = {}
    t = SparseMerkleTree(store.get)
    a = _k(0x1234 << 200)
    b = _k((0x1234 << 200) | 1)
    va, vb = VALUES[0], VALUES[1]
    root, nodes = t.update(EMPTY_ROOT, {b: vb, a: va})
    store.update(nodes)
    ai = int.from_bytes(a, "big")
    h = internal_hash(leaf_hash(a, va), leaf_hash(b, vb))
    for d in range(254, -1, -1):
        h = internal_hash(EMPTY_ROOT, h) if (ai >> (255 - d)) & 1 else internal_hash(h, EMPTY_ROOT)
    assert root == h
    assert len(nodes) == 2 + 256
    for k, v in ((a, va), (b, vb)):
        p = t.prove(root, k)
        assert len(p.siblings) == 256
        assert sum(s == EMPTY_ROOT for s in p.siblings) == 255
        assert verify_proof(root, k, v, p)
        assert verify_proof(root, k, v, Proof.decode(p.encode()))
    # a key off the chain near the top is absent at an empty subtree
    c = _k(ai ^ (1 << 250))
    pc = t.prove(root, c)
    assert pc.leaf is None and len(pc.siblings) == 6
    assert verify_proof(root, c, None, pc)
    # deleting one lifts the other all the way up to the root
    root2, nodes2 = t.update(root, {a: None})
    assert root2 == leaf_hash(b, vb) and nodes2 == {}
    root3, _ = t.update(root2, {a: va})
    assert root3 == root
    # a batch that walks the whole 256-deep chain and splits it once more
    c = _k(ai | 2)
    root4, nodes4 = t.update(root, {a: vb, b: va, c: VALUES[2]})
    store.update(nodes4)
    assert root4 == fresh_root({a: vb, b: va, c: VALUES[2]})
    root5, _ = t.update(root4, {a: None, b: None})
    assert root5 == leaf_hash(c, VALUES[2])


def test_order_and_batching_do_not_matter_on_many_keys():
    r = random.Random(5)
    items = {r.randbytes(32): r.randbytes(32) for _ in range(3000)}
    one_shot = fresh_root(items)
    store: dict = {}
    t = SparseMerkleTree(store.get)
    keys = list(items)
    r.shuffle(keys)
    root = EMPTY_ROOT
    i = 0
    while i < len(keys):
        n = r.choice([1, 2, 7, 50, 400])
        root, nodes = t.update(root, {k: items[k] for k in keys[i : i + n]})
        store.update(nodes)
        i += n
    assert root == one_shot
    assert list(t.iter_leaves(root)) == sorted(items.items())
    # delete half in batches, the root equals that of the other half alone
    gone = keys[::2]
    root2 = root
    for j in range(0, len(gone), 333):
        root2, nodes = t.update(root2, {k: None for k in gone[j : j + 333]})
        store.update(nodes)
    rest = {k: items[k] for k in keys[1::2]}
    assert root2 == fresh_root(rest)
    for k in keys[:200]:
        assert t.get(root2, k) == rest.get(k)
        assert t.get(root, k) == items[k]  # the old version is still readable


def test_update_reads_only_the_touched_paths():
    r = random.Random(9)
    items = {r.randbytes(32): r.randbytes(32) for _ in range(5000)}
    store: dict = {}
    root, nodes = SparseMerkleTree(store.get).update(EMPTY_ROOT, items)
    store.update(nodes)
    reads = []

    def counting_get(h):
        reads.append(h)
        return store.get(h)

    t = SparseMerkleTree(counting_get)
    ks = list(items)
    prover = SparseMerkleTree(store.get)
    depth = [len(prover.prove(root, k).siblings) for k in ks[:2]]
    # one key: one read per level of its path, one new node per level
    root2, nodes2 = t.update(root, {ks[0]: VALUES[0]})
    assert len(reads) == depth[0] + 1
    assert len(nodes2) == depth[0] + 1
    store.update(nodes2)
    assert prover.get(root2, ks[0]) == VALUES[0]
    # a delete may read the sibling where the path collapses, no more
    reads.clear()
    t.update(root, {ks[1]: None})
    assert len(reads) <= depth[1] + 2
    # two keys: at most their two paths
    reads.clear()
    t.update(root, {ks[0]: VALUES[1], ks[1]: None})
    assert len(reads) <= depth[0] + depth[1] + 3


def test_noop_changes_create_nothing():
    r = random.Random(3)
    items = {r.randbytes(32): r.randbytes(32) for _ in range(300)}
    store: dict = {}
    t = SparseMerkleTree(store.get)
    root, nodes = t.update(EMPTY_ROOT, items)
    store.update(nodes)
    k = next(iter(items))
    assert t.update(root, {k: items[k]}) == (root, {})
    assert t.update(root, {r.randbytes(32): None}) == (root, {})
    ks = list(items)[:20]
    root2, nodes2 = t.update(root, {**{x: items[x] for x in ks}, r.randbytes(32): None})
    assert root2 == root and nodes2 == {}


def test_update_does_not_mutate_its_inputs():
    r = random.Random(4)
    store: dict = {}
    t = SparseMerkleTree(store.get)
    root, nodes = t.update(EMPTY_ROOT, {r.randbytes(32): r.randbytes(32) for _ in range(100)})
    store.update(nodes)
    snapshot = dict(store)
    changes = {r.randbytes(32): r.randbytes(32) for _ in range(30)}
    changes_copy = dict(changes)
    root2, nodes2 = t.update(root, changes)
    assert changes == changes_copy and store == snapshot
    assert all(node_ok(h, raw) for h, raw in nodes2.items())
    assert root2 in nodes2


def test_rejects_bad_keys_and_values():
    t = SparseMerkleTree({}.get)
    with pytest.raises(ValueError):
        t.update(EMPTY_ROOT, {b"short": VALUES[0]})
    with pytest.raises(ValueError):
        t.update(EMPTY_ROOT, {UNIVERSE[0]: b"short"})
    with pytest.raises(ValueError):
        t.update(EMPTY_ROOT, {"k" * 32: VALUES[0]})  # type: ignore[dict-item]
    with pytest.raises(ValueError):
        t.get(EMPTY_ROOT, b"\x00" * 31)
    with pytest.raises(ValueError):
        t.prove(EMPTY_ROOT, "k" * 32)  # type: ignore[arg-type]


def test_missing_node_raises():
    r = random.Random(11)
    items = {r.randbytes(32): r.randbytes(32) for _ in range(64)}
    store: dict = {}
    t = SparseMerkleTree(store.get)
    root, nodes = t.update(EMPTY_ROOT, items)
    store.update(nodes)
    k = next(iter(items))
    # drop the node just below the root on k's path
    raw = store[root]
    child = raw[33:65] if k[0] & 0x80 else raw[1:33]
    del store[child]
    with pytest.raises(MissingNodeError):
        t.get(root, k)
    with pytest.raises(MissingNodeError):
        t.prove(root, k)
    with pytest.raises(MissingNodeError):
        t.update(root, {k: VALUES[0]})
    with pytest.raises(MissingNodeError):
        list(t.iter_leaves(root))
    # an unknown root
    with pytest.raises(MissingNodeError):
        t.get(b"\x07" * 32, k)
    with pytest.raises(MissingNodeError):
        t.update(b"\x07" * 32, {k: VALUES[0]})
    # malformed node bytes are a corrupt store too
    store[child] = b"\x03" + raw[1:]
    with pytest.raises(CorruptNodeError):
        t.get(root, k)
    with pytest.raises(CorruptNodeError):
        t.update(root, {k: VALUES[0]})
    store[child] = raw[:40]
    with pytest.raises(MissingNodeError):
        t.prove(root, k)


# ---------------------------------------------------------------------------
# Property tests against a dict model
# ---------------------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches_st, data=st.data())
def test_model(batches, data):
    store: dict = {}
    t = SparseMerkleTree(store.get)
    model: dict = {}
    root = EMPTY_ROOT
    seen: dict = {frozenset(): EMPTY_ROOT}
    for changes in batches:
        root, nodes = t.update(root, changes)
        assert all(node_ok(h, raw) for h, raw in nodes.items())
        store.update(nodes)
        apply(model, changes)
        state = frozenset(model.items())
        # the root is a function of the key/value set alone ...
        if state in seen:
            assert seen[state] == root  # (deleting restores an earlier root)
        seen[state] = root
        assert root == fresh_root(dict(model))
        for k in UNIVERSE:
            assert t.get(root, k) == model.get(k)
    assert list(t.iter_leaves(root)) == sorted(model.items())
    # ... and not of the order in which keys went in, one at a time
    order = data.draw(st.permutations(sorted(model)))
    s2: dict = {}
    t2 = SparseMerkleTree(s2.get)
    r2 = EMPTY_ROOT
    for k in order:
        r2, n2 = t2.update(r2, {k: model[k]})
        s2.update(n2)
    assert r2 == root
    # deleting everything gives the empty root
    r3, _ = t.update(root, {k: None for k in model})
    assert r3 == EMPTY_ROOT


@settings(max_examples=200, deadline=None)
@given(items=st.dictionaries(keys_st, st.sampled_from(VALUES), max_size=24), data=st.data())
def test_proofs_verify_and_prove_nothing_false(items, data):
    store: dict = {}
    t = SparseMerkleTree(store.get)
    root, nodes = t.update(EMPTY_ROOT, items)
    store.update(nodes)
    other_root = fresh_root({**items, UNIVERSE[0]: VALUES[0] if items.get(UNIVERSE[0]) != VALUES[0] else VALUES[1]})
    assert other_root != root
    proofs = {k: t.prove(root, k) for k in UNIVERSE}
    for k, p in proofs.items():
        v = items.get(k)
        assert verify_proof(root, k, v, p)
        assert verify_proof(root, k, v, p.encode())
        assert Proof.decode(p.encode()) == p
        assert not verify_proof(other_root, k, v, p)
        for wrong in [None, *VALUES]:
            if wrong != v:
                assert not verify_proof(root, k, wrong, p)
    # soundness: no proof (of any key) shows a false claim about any key
    sample = data.draw(st.lists(st.sampled_from(UNIVERSE), min_size=1, max_size=6, unique=True))
    for pk in sample:
        p = proofs[pk]
        for k in UNIVERSE:
            for claim in [None, *VALUES]:
                if verify_proof(root, k, claim, p):
                    assert items.get(k) == claim


@settings(max_examples=60, deadline=None)
@given(items=st.dictionaries(keys_st, st.sampled_from(VALUES), min_size=1, max_size=20), key=keys_st)
def test_tampered_proofs_fail(items, key):
    store: dict = {}
    t = SparseMerkleTree(store.get)
    root, nodes = t.update(EMPTY_ROOT, items)
    store.update(nodes)
    v = items.get(key)
    p = t.prove(root, key)
    raw = p.encode()
    assert verify_proof(root, key, v, raw)
    # every byte of a proof of usual size; of a 256-deep one (8 KiB), both
    # ends and a spread of the middle, to keep the test quick
    n = len(raw)
    positions = range(n) if n <= 1500 else sorted({*range(300), *range(n - 300, n), *range(300, n, 37)})
    for i in positions:
        for flip in (0x01, 0x80, 0xFF):
            bad = raw[:i] + bytes([raw[i] ^ flip]) + raw[i + 1 :]
            assert not verify_proof(root, key, v, bad), (i, flip)
    assert not verify_proof(root, key, v, raw[:-1])
    assert not verify_proof(root, key, v, raw + b"\x00")
    sibs = list(p.siblings)
    for i in range(len(sibs)) if len(sibs) <= 40 else [*range(8), *range(8, len(sibs), 11), len(sibs) - 1]:
        for repl in (EMPTY_ROOT, b"\x00" * 32, root):
            if repl != sibs[i]:
                q = Proof(leaf=p.leaf, siblings=tuple(sibs[:i] + [repl] + sibs[i + 1 :]))
                assert not verify_proof(root, key, v, q)
        # a sibling dropped or added
        assert not verify_proof(root, key, v, Proof(leaf=p.leaf, siblings=tuple(sibs[:i] + sibs[i + 1 :])))
    assert not verify_proof(root, key, v, Proof(leaf=p.leaf, siblings=tuple(sibs + [EMPTY_ROOT])))
    assert not verify_proof(root, key, v, Proof(leaf=p.leaf, siblings=tuple([EMPTY_ROOT] + sibs)))
    if p.leaf is not None:
        assert not verify_proof(root, key, v, Proof(leaf=None, siblings=p.siblings))
        lk, lv = p.leaf.key, p.leaf.value_hash
        assert not verify_proof(root, key, v, Proof(leaf=ProofLeaf(key=lk, value_hash=bytes(32)), siblings=p.siblings))
        flipped = bytes([lk[0] ^ 0x80]) + lk[1:]
        assert not verify_proof(root, key, v, Proof(leaf=ProofLeaf(key=flipped, value_hash=lv), siblings=p.siblings))
    else:
        fake = ProofLeaf(key=UNIVERSE[0] if UNIVERSE[0] != key else UNIVERSE[1], value_hash=VALUES[0])
        assert not verify_proof(root, key, None, Proof(leaf=fake, siblings=p.siblings))


junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.binary(max_size=40), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=300), obj=junk)
def test_malformed_proofs_never_raise(blob, obj):
    root = leaf_hash(UNIVERSE[0], VALUES[0])
    for k, v in ((UNIVERSE[0], VALUES[0]), (UNIVERSE[1], None)):
        assert verify_proof(root, k, v, blob) is False
        assert verify_proof(root, k, v, encode(obj)) is False
        assert verify_proof(root, k, v, encode({"leaf": obj, "siblings": []})) is False
        assert verify_proof(root, k, v, encode({"leaf": None, "siblings": obj})) is False


def test_malformed_arguments_never_raise():
    root = leaf_hash(UNIVERSE[0], VALUES[0])
    good = Proof(leaf=ProofLeaf(key=UNIVERSE[0], value_hash=VALUES[0]), siblings=())
    assert verify_proof(root, UNIVERSE[0], VALUES[0], good)
    assert verify_proof(root, UNIVERSE[0], VALUES[0], bytearray(good.encode()))
    assert verify_proof(root, UNIVERSE[0], VALUES[0], memoryview(good.encode()))
    bad_proofs = [
        None,
        42,
        "proof",
        [],
        {},
        b"",
        Proof(leaf="x", siblings=()),  # type: ignore[arg-type]
        Proof(leaf=None, siblings=None),  # type: ignore[arg-type]
        Proof(leaf=None, siblings=(b"x",)),
        Proof(leaf=None, siblings=(EMPTY_ROOT,) * 257),
        Proof(leaf=ProofLeaf(key=b"k", value_hash=VALUES[0]), siblings=()),
        Proof(leaf=ProofLeaf(key=UNIVERSE[0], value_hash=None), siblings=()),  # type: ignore[arg-type]
        Proof(leaf=ProofLeaf(key=UNIVERSE[0], value_hash=VALUES[0]), siblings=[1, 2]),  # type: ignore[arg-type]
        encode({"leaf": None, "siblings": [EMPTY_ROOT] * 257}),
        encode({"leaf": None, "siblings": [], "extra": 1}),
        encode({"leaf": {"key": UNIVERSE[0], "value_hash": VALUES[0]}}),
        encode({"leaf": {"key": UNIVERSE[0][:31], "value_hash": VALUES[0]}, "siblings": []}),
        encode({"leaf": {"key": UNIVERSE[0], "value_hash": VALUES[0], "x": 1}, "siblings": []}),
        encode({"leaf": {"key": UNIVERSE[0], "value_hash": VALUES[0]}, "siblings": [1]}),
        encode({"leaf": {"key": UNIVERSE[0], "value_hash": VALUES[0]}, "siblings": {}}),
    ]
    for p in bad_proofs:
        assert verify_proof(root, UNIVERSE[0], VALUES[0], p) is False, p  # type: ignore[arg-type]
    bad_args = [
        (b"short", UNIVERSE[0], VALUES[0]),
        (root, b"short", VALUES[0]),
        (root, UNIVERSE[0], b"x"),
        (None, UNIVERSE[0], VALUES[0]),
        (root, None, VALUES[0]),
        (root, UNIVERSE[0], 7),
    ]
    for r, k, v in bad_args:
        assert verify_proof(r, k, v, good) is False  # type: ignore[arg-type]


def test_absence_proof_with_a_leaf_off_the_path_is_refused():
    """A leaf shown as absence evidence must share the key's path down to where
    the proof ends, even when the hashes fold up to the root given."""
    key = _k(0)  # path: all left
    other = _k(1 << 255)  # a leaf whose first bit is 1: not on key's path
    sib = VALUES[2]
    forged_root = internal_hash(leaf_hash(other, VALUES[0]), sib)
    forged = Proof(leaf=ProofLeaf(key=other, value_hash=VALUES[0]), siblings=(sib,))
    assert not verify_proof(forged_root, key, None, forged)
    # the same shape with a leaf that does share the first bit is accepted
    near = _k(1)
    root = internal_hash(leaf_hash(near, VALUES[0]), sib)
    assert verify_proof(root, key, None, Proof(leaf=ProofLeaf(key=near, value_hash=VALUES[0]), siblings=(sib,)))


def test_node_cache_in_front_of_a_store():
    r = random.Random(12)
    backing: dict = {}
    reads = []

    def slow_get(h):
        reads.append(h)
        return backing.get(h)

    cache = NodeCache(slow_get, max_entries=64)
    t = SparseMerkleTree(cache.get)
    model: dict = {}
    root = EMPTY_ROOT
    for _ in range(20):
        changes = {r.randbytes(32): r.randbytes(32) for _ in range(30)}
        if model:
            changes[r.choice(sorted(model))] = None
        root, nodes = t.update(root, changes)
        backing.update(nodes)
        cache.add(nodes)
        apply(model, changes)
        assert len(cache) <= 64
    assert root == fresh_root(model)
    assert list(t.iter_leaves(root)) == sorted(model.items())
    assert cache.get(b"\x09" * 32) is None
    # a path just read is served from memory the second time
    k = next(iter(model))
    p1 = t.prove(root, k)
    reads.clear()
    assert t.prove(root, k) == p1
    assert reads == []
    # a cache smaller than a path still answers right
    tiny = SparseMerkleTree(NodeCache(backing.get, max_entries=2).get)
    assert all(tiny.get(root, x) == v for x, v in model.items())


def _top_nodes(store: dict, root: bytes, depth: int) -> dict:
    """Every stored node at depth <= ``depth`` under ``root``, by a plain walk."""
    out, stack = {}, [(root, 0)]
    while stack:
        h, d = stack.pop()
        if h == EMPTY_ROOT:
            continue
        raw = store[h]
        out[h] = raw
        if d < depth and raw[0] == 2:
            stack += [(raw[1:33], d + 1), (raw[33:65], d + 1)]
    return out


@settings(max_examples=60, deadline=None)
@given(batches=batches_st, depth=st.integers(0, 6), warm_at=st.integers(0, 8))
def test_top_cache_holds_exactly_the_top_of_the_latest_tree(batches, depth, warm_at):
    backing: dict = {}
    reads = []

    def get(h):
        reads.append(h)
        return backing.get(h)

    cache = TopCache(get, depth)
    t = SparseMerkleTree(cache.get)
    model: dict = {}
    root = EMPTY_ROOT
    for i, changes in enumerate(batches):
        if i == warm_at:
            cache.warm(root)
        new_root, nodes = t.update(root, changes)
        backing.update(nodes)
        cache.advance(root, new_root, nodes)
        root = new_root
        apply(model, changes)
        assert root == fresh_root(model)
        if i >= warm_at:  # warmed, then carried: exactly the top, nothing stale
            assert dict(cache._top) == _top_nodes(backing, root, depth)
    for k in UNIVERSE[:8]:
        assert t.prove(root, k) == SparseMerkleTree(backing.get).prove(root, k)
    # the top is served from memory: a path no deeper than the cache reads nothing from the store
    cache.warm(root)
    reads.clear()
    for k in model:
        proof = t.prove(root, k)
        if len(proof.siblings) <= depth:
            assert t.get(root, k) == model[k]
    shallow = [k for k in model if len(t.prove(root, k).siblings) <= depth]
    reads.clear()
    for k in shallow:
        t.prove(root, k)
    assert reads == []


def test_top_cache_is_bounded():
    backing: dict = {}
    cache = TopCache(backing.get, 3)
    with pytest.raises(ValueError):
        TopCache(backing.get, 256)
    r = random.Random(5)
    t = SparseMerkleTree(cache.get)
    root = EMPTY_ROOT
    for _ in range(30):
        new_root, nodes = t.update(root, {r.randbytes(32): r.randbytes(32) for _ in range(20)})
        backing.update(nodes)
        # advanced from a root it never saw: stale entries pile up, but never past 1.5 times the bound
        cache.advance(EMPTY_ROOT, new_root, nodes)
        root = new_root
        assert len(cache) <= (3 << 3) + 2 ** 4
    cache.warm(root)
    assert set(_top_nodes(backing, root, 3)) <= set(cache._top)


# ---------------------------------------------------------------------------
# An independent reference: the canonical tree computed straight from the key
# set by its definition (no batch walk, no store), for roots and proofs
# ---------------------------------------------------------------------------


def _ref_hash(items: list, depth: int) -> bytes:
    """The hash of the canonical subtree at ``depth`` holding the sorted (key, value) ``items``."""
    if not items:
        return EMPTY_ROOT
    if len(items) == 1:
        return leaf_hash(*items[0])
    left = [kv for kv in items if not (int.from_bytes(kv[0], "big") >> (255 - depth)) & 1]
    right = [kv for kv in items if (int.from_bytes(kv[0], "big") >> (255 - depth)) & 1]
    return internal_hash(_ref_hash(left, depth + 1), _ref_hash(right, depth + 1))


def _ref_proof(items: list, key: bytes) -> Proof:
    ki = int.from_bytes(key, "big")
    sibs, depth = [], 0
    while len(items) > 1:
        bit = (ki >> (255 - depth)) & 1
        same = [kv for kv in items if ((int.from_bytes(kv[0], "big") >> (255 - depth)) & 1) == bit]
        other = [kv for kv in items if ((int.from_bytes(kv[0], "big") >> (255 - depth)) & 1) != bit]
        sibs.append(_ref_hash(other, depth + 1))
        items, depth = same, depth + 1
    leaf = ProofLeaf(key=items[0][0], value_hash=items[0][1]) if items else None
    return Proof(leaf=leaf, siblings=tuple(sibs))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=batches_st, depth=st.integers(0, 8), data=st.data())
def test_update_through_the_top_cache_matches_the_reference(batches, depth, data):
    """Batches with deletes, no-ops, and inserts into empty subtrees, read through a TopCache
    carried from batch to batch as the store does: roots and proofs equal the reference's."""
    backing: dict = {}
    cache = TopCache(backing.get, depth)
    t = SparseMerkleTree(cache.get)
    model: dict = {}
    root = EMPTY_ROOT
    for changes in batches:
        new_root, nodes = t.update(root, changes)
        backing.update(nodes)
        cache.advance(root, new_root, nodes)
        root = new_root
        apply(model, changes)
        items = sorted(model.items())
        assert root == _ref_hash(items, 0)
        for k in data.draw(st.lists(keys_st, max_size=5)):
            p = t.prove(root, k)
            assert p == _ref_proof(items, k)
            assert len(p.encode()) == len(_ref_proof(items, k).encode())
            assert verify_proof(root, k, model.get(k), p)
