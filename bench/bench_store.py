"""The LevelDB commit's CPU per transaction (ledger/store.py), measured over many blocks.

Blocks of signed transfers are executed once through chain/app (their
``Executed`` kept in memory), then the same sequence of writes --
``write_genesis`` and ``commit_block`` for every block, each one
``WriteBatch`` with ``sync=True`` as the node writes it -- is replayed into
fresh databases opened with different options (arms), the arms alternated
round by round in the same run.  Measured per committed transaction:

* **process CPU** (``time.process_time``): every thread of the process,
  LevelDB's background thread (memtable flushes and compactions) included;
  after the last block, until that thread is idle, so the compaction the run
  caused is counted;
* the committing thread's own CPU in ``commit_block`` (building the batch in
  Python, LevelDB's log write and memtable inserts, the fsync's kernel work);
* LevelDB's background thread's CPU (from /proc/self/task);
* the wall time of ``commit_block`` a block (the fsync's wait shows here, not
  in CPU; on a shared disk it swings with others' writes).

The replayed store has no TopCache (``cache_depth=-1``): its advance is the
"state tree" line of the cost budget (bench/bench_budget.py), not this one.

``python -m bench store`` runs it; ESOC_BENCH_STORE_BLOCKS (default 200),
ESOC_BENCH_STORE_TXS (a block's transfers, default 1,600: the validator's
blocks at 1,400 tx/s offered in bench_network), ESOC_BENCH_STORE_ACCOUNTS
(4,200: that bench's senders) and ESOC_BENCH_STORE_ROUNDS (3) shape it.
A run of fewer blocks undercounts: compaction's cost grows with the
database (level 1 and 2 fill after ~100 such blocks).
"""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from ledger.store import ChainStore


def _task_cpu_s(exclude: set[int]) -> float:
    """CPU seconds (user + system) of this process's threads but those in ``exclude``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for tid in os.listdir("/proc/self/task"):
        if int(tid) in exclude:
            continue
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(") ", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total / tick


def record(n_accounts: int, n_blocks: int, block_txs: int):
    """Execute ``n_blocks`` blocks of ``block_txs`` signed transfers: (genesis bytes, genesis diff, [Executed])."""
    from chain.app import Application
    from ledger.tx import decode_tx

    from .bench_ledger import _setup, _sign_load

    keys, g = _setup(n_accounts)
    raws = _sign_load(keys, n_blocks * block_txs)
    got = {}
    with tempfile.TemporaryDirectory() as d:
        store = ChainStore(d)
        orig = store.write_genesis

        def keep(genesis: bytes, diff) -> None:
            got["genesis"] = (genesis, diff)
            orig(genesis, diff)

        store.write_genesis = keep  # type: ignore[method-assign]
        app = Application(store, g)
        blocks = []
        when = 2_000
        for b in range(0, len(raws), block_txs):
            state = app.state()
            for raw in raws[b:b + block_txs]:
                app.mempool.add(decode_tx(raw), state, app.height + 1, verified=True)
            when += 1000
            ex = app.build_block(when, g.validators[0].pubkey, None)
            app.commit(ex, None)
            blocks.append(ex)
        store.close()
    return got["genesis"][0], got["genesis"][1], blocks


def replay(genesis: bytes, gdiff, blocks: list, db_options: dict | None = None, write_diff=None,
           settle_s: float = 20.0) -> dict:
    """Write the recorded blocks into a fresh database: CPU and wall per transaction (µs)."""
    d = tempfile.mkdtemp(prefix="bench-store-")
    me = threading.get_native_id()
    try:
        store = ChainStore(d, cache_depth=-1, db_options=db_options)
        if write_diff is not None:
            store._write_diff = write_diff  # type: ignore[method-assign]  # this store only
        store.write_genesis(genesis, gdiff)
        n_tx = sum(len(ex.block.txs) for ex in blocks)
        gc.collect()
        gc.disable()  # the recorded blocks are many objects; a collection mid-run is no part of the write
        try:
            bg0 = _task_cpu_s({me})
            p0 = time.process_time()
            own = 0.0
            walls = []
            for ex in blocks:
                t0, c0 = time.perf_counter(), time.thread_time()
                store.commit_block(ex.block, ex.raw, None, ex.receipts, ex.diff, ex.receipts_encoded, ex.tx_hashes)
                own += time.thread_time() - c0
                walls.append((time.perf_counter() - t0) / len(ex.block.txs))
            # the background thread's flushes and compactions the run caused: until it is idle
            last, deadline = _task_cpu_s({me}), time.monotonic() + settle_s
            while time.monotonic() < deadline:
                time.sleep(0.2)
                now = _task_cpu_s({me})
                if now == last:
                    break
                last = now
            proc = time.process_time() - p0
            bg = _task_cpu_s({me}) - bg0
        finally:
            gc.enable()
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        store.close()
    finally:
        shutil.rmtree(d, ignore_errors=True)
    us = 1e6 / n_tx
    walls.sort()
    return {"proc_us": proc * us, "own_us": own * us, "bg_us": bg * us, "wall_us": sum(walls) / len(walls) * 1e6,
            "wall_p50_us": walls[len(walls) // 2] * 1e6, "wall_p90_us": walls[len(walls) * 9 // 10] * 1e6,
            "mb": size / 1e6}


def _write_diff_hash_order(wb, diff) -> None:
    """ChainStore._write_diff as it was before 2026-12-05: the diff's keys in the order execution made them."""
    for pb, v in diff.changes.items():
        if v is None:
            wb.delete(b"s/" + pb)
        else:
            wb.put(b"s/" + pb, v)
    for vh, v in diff.values.items():
        wb.put(b"v/" + vh, v)
    for nh, nb in diff.nodes.items():
        wb.put(b"n/" + nh, nb)


# name: (plyvel.DB options over ledger/store.py's DB_OPTIONS, the batch's state writes or None for the store's own)
ARMS: dict[str, tuple[dict, object]] = {
    "as before 2026-12-05 (snappy, keys in hash order)": ({"compression": "snappy"}, _write_diff_hash_order),
    "no compression, keys in hash order": ({}, _write_diff_hash_order),
    "as now (no compression, keys in key order)": ({}, None),
}


def compare(arms: dict[str, tuple], genesis, gdiff, blocks, rounds: int) -> dict[str, list[dict]]:
    """Each arm replayed ``rounds`` times, the order rotated round by round."""
    out: dict[str, list[dict]] = {k: [] for k in arms}
    names = list(arms)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for k in order:
            out[k].append(replay(genesis, gdiff, blocks, *arms[k]))
    return out


def _med(runs: list[dict], key: str) -> float:
    return statistics.median(x[key] for x in runs)


def run() -> list[dict]:
    # the validator's shape at 1,400 tx/s offered (bench_network): blocks of ~1,600 transfers, 4,200 senders
    n_blocks = int(os.environ.get("ESOC_BENCH_STORE_BLOCKS", "200"))
    block_txs = int(os.environ.get("ESOC_BENCH_STORE_TXS", "1600"))
    n_accounts = int(os.environ.get("ESOC_BENCH_STORE_ACCOUNTS", "4200"))
    rounds = int(os.environ.get("ESOC_BENCH_STORE_ROUNDS", "3"))
    genesis, gdiff, blocks = record(n_accounts, n_blocks, block_txs)
    res = compare(ARMS, genesis, gdiff, blocks, rounds)
    del blocks
    rows = []
    load = os.getloadavg()[0]
    for k, runs in res.items():
        rows.append({"name": f"LevelDB commit, {k}: process CPU", "value": round(_med(runs, "proc_us"), 1), "unit": "µs/tx",
                     "note": f"median of {rounds} (alternated: {', '.join(format(x['proc_us'], '.1f') for x in runs)}); "
                             f"{n_blocks} blocks of {block_txs:,} transfers, {n_accounts:,} accounts, replayed into a fresh "
                             f"database; committing thread {_med(runs, 'own_us'):.1f}, LevelDB background thread "
                             f"{_med(runs, 'bg_us'):.1f}; commit_block wall a block, µs/tx: mean {_med(runs, 'wall_us'):.1f}, "
                             f"median {_med(runs, 'wall_p50_us'):.1f}, 90th percentile {_med(runs, 'wall_p90_us'):.1f}; "
                             f"database {_med(runs, 'mb'):.0f} MB; load average {load:.1f}"})
    return rows


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
    sys.exit(0)
