"""Benchmarks of the state tree (ledger/smt.py).

    python -m bench.bench_smt            # a table for people
    python -m bench.bench_smt --json     # the same figures as JSON
    python -m bench.bench_smt --large    # also 20,000 keys into 1,000,000 (~1 GB RAM, ~30 s)
    python -m bench.bench_smt --dense    # also the store's TopCache against the plain walk, on LevelDB
                                         # (100,000 keys; with --large, 1,000,000)

Figures: batch updates in keys per second (a 10,000-key batch into a
100,000-key tree, the shape of a block of transfers: most keys exist, some
are new), with the nodes in a dict and in LevelDB (as the node keeps them);
proofs made and checked per second and their size; and, as this machine's
ceiling, how many tree-node hashes Python can make per second at all.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import sys
import tempfile
import time

from ledger.smt import EMPTY_ROOT, NodeCache, SparseMerkleTree, internal_hash, verify_proof


def _fig(name: str, value: float, unit: str, **extra) -> dict:
    d = {"name": name, "value": round(value, 1) if value >= 100 else round(value, 3), "unit": unit}
    d.update(extra)
    return d


def _tree(n: int, rnd: random.Random) -> tuple[dict, bytes, list[bytes]]:
    keys = [rnd.randbytes(32) for _ in range(n)]
    store: dict = {}
    root, nodes = SparseMerkleTree(store.get).update(EMPTY_ROOT, {k: rnd.randbytes(32) for k in keys})
    store.update(nodes)
    return store, root, keys


def _batch(keys: list[bytes], size: int, new_share: float, rnd: random.Random) -> dict:
    out: dict = {}
    while len(out) < size:
        k = rnd.randbytes(32) if rnd.random() < new_share else rnd.choice(keys)
        out[k] = rnd.randbytes(32)
    return out


def _time_batches(tree: SparseMerkleTree, root: bytes, batches: list[dict]) -> tuple[float, float]:
    """Median keys/s over the batches, and new nodes per key."""
    rates, per_key = [], []
    for b in batches:
        t0 = time.perf_counter()
        _, nodes = tree.update(root, b)
        dt = time.perf_counter() - t0
        rates.append(len(b) / dt)
        per_key.append(len(nodes) / len(b))
    return statistics.median(rates), statistics.median(per_key)


def bench_hash_ceiling() -> list[dict]:
    a, b = os.urandom(32), os.urandom(32)
    n = 200_000
    t0 = time.perf_counter()
    for _ in range(n):
        internal_hash(a, b)
    dt = time.perf_counter() - t0
    return [_fig("smt_node_hash", n / dt, "hashes/s", note="the ceiling: one tagged BLAKE3 of 64 bytes")]


# Long by design: one measured sequence per tree size, its timers shared by every step; a benchmark reads best top to bottom.
def bench_tree(n_keys: int, batch: int, rounds: int = 5, leveldb: bool = True, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    out: list[dict] = []
    t0 = time.perf_counter()
    store, root, keys = _tree(n_keys, rnd)
    dt = time.perf_counter() - t0
    tag = f"{batch // 1000}k_into_{n_keys // 1000}k"
    out.append(_fig(f"smt_build_{n_keys // 1000}k", n_keys / dt, "keys/s", nodes=len(store)))

    tree = SparseMerkleTree(store.get)
    batches = [_batch(keys, batch, 0.2, rnd) for _ in range(rounds)]
    rate, per_key = _time_batches(tree, root, batches)
    out.append(_fig(f"smt_update_{tag}", rate, "keys/s", store="dict", new_nodes_per_key=round(per_key, 2)))
    only_existing = [_batch(keys, batch, 0.0, rnd) for _ in range(rounds)]
    rate, _ = _time_batches(tree, root, only_existing)
    out.append(_fig(f"smt_update_{tag}_existing_keys", rate, "keys/s", store="dict"))

    if leveldb:
        import plyvel

        with tempfile.TemporaryDirectory(prefix="esoc-bench-smt-") as d:
            db = plyvel.DB(d, create_if_missing=True)
            try:
                with db.write_batch() as wb:
                    for h, raw in store.items():
                        wb.put(b"n/" + h, raw)
                def ldb_get(h: bytes, get=db.get) -> bytes | None:
                    return get(b"n/" + h)

                ldb_tree = SparseMerkleTree(ldb_get)
                rate, _ = _time_batches(ldb_tree, root, batches)
                out.append(_fig(f"smt_update_{tag}", rate, "keys/s", store="leveldb"))
                # the whole commit, block after block: update, then write the
                # new nodes in one batch; without and with a NodeCache, taking
                # turns so that both meet the same LevelDB compaction load
                cache = NodeCache(ldb_get)
                chains = {"leveldb": [ldb_tree, root, []], "leveldb+NodeCache": [SparseMerkleTree(cache.get), root, []]}
                for i in range(2 * rounds):
                    label = "leveldb" if i % 2 else "leveldb+NodeCache"
                    t, r, rates = chains[label]
                    b = _batch(keys, batch, 0.2, rnd)
                    t0 = time.perf_counter()
                    r, nodes = t.update(r, b)
                    with db.write_batch() as wb:
                        for h, raw in nodes.items():
                            wb.put(b"n/" + h, raw)
                    if label != "leveldb":
                        cache.add(nodes)
                    rates.append(len(b) / (time.perf_counter() - t0))
                    chains[label][1] = r
                for label, (_, _, rates) in chains.items():
                    out.append(_fig(f"smt_commit_{tag}", statistics.median(rates), "keys/s", store=label))
                # proofs served from LevelDB, without and with a warm NodeCache
                warm = NodeCache(ldb_get)
                cached_tree = SparseMerkleTree(warm.get)
                for k in rnd.sample(keys, 5000):
                    cached_tree.prove(root, k)
                for label, t in (("leveldb", ldb_tree), ("leveldb+NodeCache", cached_tree)):
                    probe = rnd.sample(keys, 5000)
                    t0 = time.perf_counter()
                    for k in probe:
                        t.prove(root, k)
                    out.append(_fig(f"smt_prove_{n_keys // 1000}k", len(probe) / (time.perf_counter() - t0),
                                    "proofs/s", store=label))
            finally:
                db.close()

    probe = rnd.sample(keys, min(20_000, n_keys))
    t0 = time.perf_counter()
    for k in probe:
        tree.get(root, k)
    out.append(_fig(f"smt_get_{n_keys // 1000}k", len(probe) / (time.perf_counter() - t0), "gets/s", store="dict"))
    t0 = time.perf_counter()
    proofs = [tree.prove(root, k) for k in probe]
    out.append(_fig(f"smt_prove_{n_keys // 1000}k", len(probe) / (time.perf_counter() - t0), "proofs/s",
                    store="dict"))
    vals = [p.leaf.value_hash for p in proofs]  # type: ignore[union-attr]
    t0 = time.perf_counter()
    ok = all(verify_proof(root, k, v, p) for k, v, p in zip(probe, vals, proofs))
    dt = time.perf_counter() - t0
    assert ok
    out.append(_fig(f"smt_verify_{n_keys // 1000}k", len(probe) / dt, "proofs/s"))
    sizes = [len(p.encode()) for p in proofs[:2000]]
    out.append(_fig(f"smt_proof_size_{n_keys // 1000}k", statistics.mean(sizes), "bytes",
                    siblings=round(statistics.mean(len(p.siblings) for p in proofs[:2000]), 1)))
    return out


def bench_dense_top(n_keys: int = 100_000, batch: int = 10_000, rounds: int = 5, seed: int = 3) -> list[dict]:
    """The store's tree cache (``TopCache``: the top levels as position-indexed hash and kind arrays)
    against the plain walk, both reading LevelDB below: a ``batch``-key update into ``n_keys``
    keys, the two taking turns on the same batches from the same root (CPU time, median), then
    block after block with the cache carried by ``advance``; and the warm-up."""
    import plyvel

    from ledger.smt import TopCache

    rnd = random.Random(seed)
    store, root, keys = _tree(n_keys, rnd)
    depth = max(1, n_keys.bit_length())  # 20 at a million keys, as the store keeps it
    out: list[dict] = []
    tag = f"{batch // 1000}k_into_{n_keys // 1000}k"
    with tempfile.TemporaryDirectory(prefix="esoc-bench-smt-dense-") as d:
        db = plyvel.DB(d, create_if_missing=True, bloom_filter_bits=10)
        try:
            with db.write_batch() as wb:
                for h, raw in store.items():
                    wb.put(b"n/" + h, raw)
            del store

            def ldb_get(h: bytes, get=db.get) -> bytes | None:
                return get(b"n/" + h)

            top = TopCache(ldb_get, depth)
            c = time.process_time()
            warmed = top.warm(root)
            out.append(_fig(f"smt_top_cache_warm_{n_keys // 1000}k", time.process_time() - c, "s CPU",
                            depth=depth, nodes_read=warmed, arrays_mb=round(top.nbytes / 1e6, 1)))
            plain, dense = SparseMerkleTree(ldb_get), SparseMerkleTree(ldb_get, top=top)
            cpu: dict = {"leveldb": [], "leveldb+TopCache": []}
            for _ in range(rounds):
                b = _batch(keys, batch, 0.2, rnd)
                outs = []
                for label, t in (("leveldb", plain), ("leveldb+TopCache", dense)):
                    c = time.process_time()
                    outs.append(t.update(root, b)[0])
                    cpu[label].append(time.process_time() - c)
                assert outs[0] == outs[1]
            for label, v in cpu.items():
                out.append(_fig(f"smt_update_{tag}_cpu", statistics.median(v), "s CPU", store=label))
            chain, r = [], root
            for _ in range(rounds):  # block after block: update, write, advance
                b = _batch(keys, batch, 0.2, rnd)
                c = time.process_time()
                new, nodes = dense.update(r, b)
                with db.write_batch() as wb:
                    for h, raw in nodes.items():
                        wb.put(b"n/" + h, raw)
                top.advance(r, new, nodes)
                chain.append(time.process_time() - c)
                r = new
            assert top.root == r
            out.append(_fig(f"smt_commit_{tag}_cpu", statistics.median(chain), "s CPU", store="leveldb+TopCache",
                            note="update, write the new nodes, advance; block after block"))
        finally:
            db.close()
    return out


def run(large: bool = False, dense: bool = False) -> list[dict]:
    figs = bench_hash_ceiling()
    if dense:
        figs += bench_dense_top(1_000_000 if large else 100_000)
    figs += bench_tree(100_000, 10_000)
    if large or os.environ.get("ESOC_BENCH_LARGE"):
        figs += bench_tree(1_000_000, 20_000, rounds=3, leveldb=False)
    return figs


def main(argv: list[str]) -> int:
    figs = run(large="--large" in argv, dense="--dense" in argv)
    if "--json" in argv:
        print(json.dumps(figs, indent=1))
    else:
        w = max(len(f["name"]) for f in figs)
        for f in figs:
            extra = ", ".join(f"{k}={v}" for k, v in f.items() if k not in ("name", "value", "unit"))
            print(f"{f['name']:<{w}}  {f['value']:>12,}  {f['unit']:<9} {extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
