"""Ledger core: signed transfers applied per second by one node, end to end.

Decode, verify, admit, execute, commit (LevelDB, one atomic batch a block),
the node's ingest path minus the network: the state thread decodes each
transaction once (the fast transfer layout, ledger/tx.py) and hands signer,
chain id, body bytes and signature to the signature workers
(node/verifier.py: one process a core, a bounded queue), then admits what
they answer good as verified, builds, executes and commits blocks while the
workers check the next batches.  Printed next to the machine's raw Ed25519
verification rate on all cores, measured in the same run.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections import deque

from ledger.address import address_of
from ledger.crypto import PrivateKey
from ledger.state import Validator
from ledger.store import ChainStore
from ledger.tx import Transfer, decode_tx, sign_tx
from chain.app import Application
from ledger.genesis import Genesis, GenesisAccount

from .machine import ed25519_verify_rate

CHAIN = "bench"


def _setup(n_accounts: int):
    keys = [PrivateKey.from_name(f"acct{i}", salt="bench") for i in range(n_accounts)]
    cb = PrivateKey.from_name("cb", salt="bench")
    reg = PrivateKey.from_name("reg", salt="bench")
    accts = [GenesisAccount(address_of(cb.public), 0, "agency", ("central_bank", "treasury"), "cb"),
             GenesisAccount(address_of(reg.public), 0, "agency", ("registrar",), "reg")]
    accts += [GenesisAccount(address_of(k.public), 10**9, "citizen", (), f"a{i}") for i, k in enumerate(keys)]
    g = Genesis(CHAIN, 1_000, tuple(accts), (Validator(PrivateKey.from_name("v", salt="bench").public, 10, "v"),), {"max_block_txs": 5000})
    return keys, g


def _sign_load(keys, n_txs: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    nonces = [0] * len(keys)
    out = []
    for _ in range(n_txs):
        i = rng.randrange(len(keys))
        j = rng.randrange(len(keys))
        out.append(sign_tx(keys[i], CHAIN, "transfer", Transfer(to=address_of(keys[j].public), amount=1 + rng.randrange(100)),
                           nonces[i], 10**9).raw)
        nonces[i] += 1
    return out


def transfers_applied_per_s(n_accounts: int = 2000, n_txs: int = 20000, block_txs: int = 5000,
                            batch: int = 500) -> tuple[float, int]:
    from node.verifier import VerifyPool

    keys, g = _setup(n_accounts)
    raws = _sign_load(keys, n_txs)
    pool = VerifyPool()
    pool.start()  # the node starts its workers with the node, not per transaction
    with tempfile.TemporaryDirectory() as d:
        store = ChainStore(d)
        app = Application(store, g)
        t = time.perf_counter()
        cpu = time.thread_time()
        applied = 0
        when = 2_000
        ahead: deque = deque()  # batches at the workers, oldest first (bounded by the pool's queue)

        def admit(txs, verdicts) -> None:
            state = app.state()
            for tx, ok in zip(txs, verdicts):
                if ok:
                    app.mempool.add(tx, state, app.height + 1, verified=True)

        def block() -> int:
            nonlocal when
            when += 1000
            ex = app.build_block(when, g.validators[0].pubkey, None)
            app.commit(ex, None)
            return sum(1 for r in ex.receipts if r.code == 0)

        for i in range(0, n_txs, batch):
            txs = [decode_tx(r) for r in raws[i:i + batch]]  # decoded once, here
            ahead.append((txs, pool.submit(txs)))
            # admit what the workers have answered; keep a few batches in flight so they never idle
            while ahead and (ahead[0][1].done() or len(ahead) > 2 * pool.workers):
                done, p = ahead.popleft()
                admit(done, p.result())
                if len(app.mempool) >= block_txs:
                    applied += block()
        while ahead:
            done, p = ahead.popleft()
            admit(done, p.result())
        while len(app.mempool):
            applied += block()
        dt = time.perf_counter() - t
        serial = time.thread_time() - cpu
        store.close()
    pool.close()
    return applied / dt, applied, serial / applied * 1e6


def run() -> list[dict]:
    raw_all = ed25519_verify_rate(2.0)
    rate, applied, serial_us = transfers_applied_per_s()
    return [
        {"name": "ed25519 verify, all cores (machine limit)", "value": raw_all, "unit": "verifies/s"},
        {"name": "signed transfers applied end to end (decode, verify, execute, commit)", "value": rate,
         "unit": "tx/s", "limit": raw_all, "ratio": rate / raw_all, "target": 0.8, "note": f"{applied} transfers, 2000 accounts; the state thread's CPU {serial_us:.1f} µs a transfer "
                 f"(decode, admission, execution, commit: the serial part), signatures in "
                 f"{os.cpu_count()} worker processes"},
    ]


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
