"""State snapshots: a manifest folds to the state root, each chunk to its manifest entry."""

import random

import pytest

from ledger.smt import EMPTY_ROOT, SparseMerkleTree
from ledger.snapshot import Manifest, Restorer, SnapshotError, depth_for, make_snapshot
from ledger.state import key_hash, value_hash


def _state(n: int, seed: int = 3) -> tuple[list[tuple[bytes, bytes]], bytes, dict]:
    rnd = random.Random(seed)
    rows = [(b"acct/" + rnd.randbytes(20), rnd.randbytes(rnd.randrange(1, 80))) for _ in range(n)]
    store: dict = {}
    root, nodes = SparseMerkleTree(store.get).update(EMPTY_ROOT, {key_hash(p): value_hash(v) for p, v in rows})
    store.update(nodes)
    return rows, root, store


def _restore(manifest_bytes, chunks, root, height=7):
    r = Restorer(Manifest.decode(manifest_bytes), root, height)
    nodes = dict(r.top_nodes)
    got = []
    for i in r.manifest.chunks_to_fetch:
        rows, values, n = r.check_chunk(i, chunks[i])
        nodes.update(n)
        got += rows
    assert r.complete
    return got, nodes


@pytest.mark.parametrize("n", [0, 1, 2, 5, 300, 9000])
def test_snapshot_round_trip_gives_the_same_tree(n):
    rows, root, store = _state(n)
    m, chunks = make_snapshot(7, rows)
    assert m.root == root
    assert m.depth == depth_for(n)
    got, nodes = _restore(m.encode(), chunks, root)
    assert sorted(got) == sorted(rows)
    # every node reachable from the root is restored: the restored tree reads like the original
    t = SparseMerkleTree(nodes.get)
    for p, v in rows[:200]:
        assert t.get(root, key_hash(p)) == value_hash(v)
    assert sorted(t.iter_leaves(root)) == sorted(SparseMerkleTree(store.get).iter_leaves(root))


def test_manifest_for_another_root_or_height_is_refused():
    rows, root, _ = _state(300)
    m, _ = make_snapshot(7, rows)
    with pytest.raises(SnapshotError, match="verified state root"):
        Restorer(m, b"\x01" * 32, 7)
    with pytest.raises(SnapshotError, match="height"):
        Restorer(m, root, 8)
    forged = Manifest(7, root, m.depth, ((b"\x05" * 32, 2, 3),) + m.entries[1:])
    with pytest.raises(SnapshotError, match="verified state root"):
        Restorer(forged, root, 7)


def test_a_tampered_chunk_is_refused_and_the_good_one_accepted():
    from ledger.codec import decode, encode

    rows, root, _ = _state(9000)
    m, chunks = make_snapshot(7, rows)
    r = Restorer(m, root, 7)
    i = m.chunks_to_fetch[0]
    entries = decode(chunks[i])
    bad_value = [list(e) for e in entries]
    bad_value[0][1] = bad_value[0][1] + b"!"
    for bad in (encode(bad_value), encode(entries[1:]), encode(list(reversed(entries))), b"\xc1", chunks[m.chunks_to_fetch[1]]):
        with pytest.raises(SnapshotError):
            r.check_chunk(i, bad)
    assert not r.complete
    r.check_chunk(i, chunks[i])
    assert i in r.done


def test_malformed_manifests_are_refused():
    for bad in (b"", b"\x90", Manifest(1, b"\x00" * 32, 2, ((b"\x00" * 32, 0, 0),)).encode()):
        with pytest.raises(SnapshotError):
            Manifest.decode(bad)
