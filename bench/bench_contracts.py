"""The contract path (issue 13, part 6): taxed wages beside plain transfers, and the sandbox's price.

1. **Taxed wage payments per second beside plain transfers, in the same
   run.**  One node's application (the genesis laws installed, LevelDB, blocks
   of ``BLOCK`` transactions), on one thread, signatures checked as in
   bench_ledger: blocks of ``transfer`` transactions, then blocks of ``call
   tax.pay_wage`` from enterprises to citizens (the law withholds the income
   tax and pays the treasury and the employee in the same transaction),
   alternating so both meet the same machine.  Rate = transactions with an OK
   receipt per second of this thread's CPU.  Target: wages at least half the
   transfer rate.

Not here yet: the sandbox's overhead on a welfare pass against the same code
unmetered.  Compiling the law without instrumentation and running it in the
same runtime fails (the runtime's values and host objects are reached
through the instrumented operations, so plain code meets TYPE_ERROR); the
comparison needs a plain-Python host shim for the welfare law, as
bench_runtime has for the income-tax function (its view-call ratio is the
per-call figure printed today).
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time

CHAIN = "bench-contracts"
BLOCK = 1000
ROUNDS = int(__import__("os").environ.get("ESOC_BENCH_CONTRACT_ROUNDS", "3"))
N_EMPLOYERS = 200
N_CITIZENS = 2000


def _keys():
    from ledger.crypto import PrivateKey

    cb = PrivateKey.from_name("cb", salt="contracts")
    reg = PrivateKey.from_name("reg", salt="contracts")
    emp = [PrivateKey.from_name(f"e{i}", salt="contracts") for i in range(N_EMPLOYERS)]
    cit = [PrivateKey.from_name(f"c{i}", salt="contracts") for i in range(N_CITIZENS)]
    return cb, reg, emp, cit


def _genesis(cb, reg, emp, cit):
    from ledger.genesis import Genesis, GenesisAccount, GenesisLaw
    from contracts.runtime.registry import law_sources
    from ledger.address import address_of
    from ledger.crypto import PrivateKey
    from ledger.state import Validator

    accts = [GenesisAccount(address_of(cb.public), 10**12, "agency", ("central_bank", "treasury"), "cb"),
             GenesisAccount(address_of(reg.public), 0, "agency", ("registrar",), "reg")]
    accts += [GenesisAccount(address_of(k.public), 10**13, "enterprise", (), f"e{i}") for i, k in enumerate(emp)]
    accts += [GenesisAccount(address_of(k.public), 10**9, "citizen", (), f"c{i}") for i, k in enumerate(cit)]
    v = Validator(PrivateKey.from_name("v", salt="contracts").public, 10, "v")
    laws = tuple(GenesisLaw(name=n, source=s) for n, s in sorted(law_sources().items()))
    return Genesis(CHAIN, 1_700_000_000_000, tuple(accts), (v,), {"max_block_txs": 5000}, laws)


class _Chain:
    def __init__(self, d: str):
        from chain.app import open_application
        from ledger.store import ChainStore

        self.cb, self.reg, self.emp, self.cit = _keys()
        self.g = _genesis(self.cb, self.reg, self.emp, self.cit)
        self.store = ChainStore(d)
        self.app = open_application(self.store, self.g)
        self.nonces: dict[bytes, int] = {}
        self.when = self.g.genesis_time_ms

    def sign(self, key, kind: str, payload):
        from ledger.tx import sign_tx

        n = self.nonces.get(key.public, 0)
        self.nonces[key.public] = n + 1
        return sign_tx(key, CHAIN, kind, payload, n, 10**9).raw

    def apply(self, raws: list[bytes]) -> tuple[int, float]:
        """Decode, verify, admit, build, commit one block on this thread: (ok receipts, CPU seconds)."""
        from ledger.tx import decode_tx

        t = time.thread_time()
        st = self.app.state()
        for raw in raws:
            tx = decode_tx(raw)
            if tx.verify_signature():
                self.app.mempool.add(tx, st, self.app.height + 1, verified=True)
        self.when += 1000
        ex = self.app.build_block(self.when, self.g.validators[0].pubkey, None)
        self.app.commit(ex, None)
        return sum(1 for r in ex.receipts if r.code == 0), time.thread_time() - t


def taxed_wages_vs_transfers() -> dict:
    from ledger.address import address_of, encode_address
    from ledger.tx import Call, Transfer

    rnd = random.Random(3)
    with tempfile.TemporaryDirectory() as d:
        c = _Chain(d)
        ok, _ = c.apply([c.sign(c.cb, "call", Call("tax", "set_treasury", {}, 1_000_000))])
        assert ok == 1, "set_treasury failed"
        rates: dict[str, list[float]] = {"transfer": [], "wage": []}
        for _ in range(ROUNDS):
            raws = [c.sign(c.cit[i % N_CITIZENS], "transfer",
                           Transfer(to=address_of(c.cit[rnd.randrange(N_CITIZENS)].public), amount=1 + rnd.randrange(100)))
                    for i in range(BLOCK)]
            ok, cpu = c.apply(raws)
            rates["transfer"].append(ok / cpu)
            raws = [c.sign(c.emp[i % N_EMPLOYERS], "call",
                           Call("tax", "pay_wage", {"employee": encode_address(address_of(c.cit[rnd.randrange(N_CITIZENS)].public)),
                                                   "gross": 1_500_000 + rnd.randrange(1_000_000), "social_insurance": 100_000},
                                1_000_000))
                    for i in range(BLOCK)]
            ok, cpu = c.apply(raws)
            assert ok >= BLOCK * 0.9, f"only {ok} of {BLOCK} wage payments succeeded"
            rates["wage"].append(ok / cpu)
        c.store.close()
    return {k: statistics.median(v) for k, v in rates.items()}


def run() -> list[dict]:
    w = taxed_wages_vs_transfers()
    ratio = w["wage"] / w["transfer"]
    return [
        {"name": "plain transfers applied (one thread, CPU)", "value": w["transfer"], "unit": "tx/s",
         "note": f"blocks of {BLOCK}, decode + verify + admit + execute + commit; median of {ROUNDS}"},
        {"name": "taxed wage payments through the tax law (one thread, CPU)", "value": w["wage"], "unit": "tx/s",
         "limit": w["transfer"], "ratio": ratio, "target": 0.5,
         "note": f"call tax.pay_wage: withholding computed, tax and social insurance to the treasury, net to the "
                 f"employee, a storage record; same run, alternating blocks; target {'met' if ratio >= 0.5 else 'NOT met'}"},
    ]


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
