"""Payroll: ``esoc payroll run`` of 10,000 rows on a devnet of real validator processes (issue 10).

Setup (not timed): a devnet (``ESOC_BENCH_PAYROLL_VALIDATORS``, default 4)
whose registrar registers 10,000 employee accounts and whose central bank
issues the payroll's money to the employer, by batched transactions.  Then
the timed part, the real command as an accountant runs it, in its own
process: ``esoc payroll run FILE.csv --from steelworks`` (read and check the
CSV, ask the chain which rows are paid, sign 10,000 ``tax.pay_wage`` calls,
submit them in batches, read every receipt from the committed blocks, write
the result file).  Then the same file again: the re-run pays nobody (every
row ``already_paid``) and its time is the second figure.

Run alone: ``python -m bench payroll``.  Knobs: ESOC_BENCH_PAYROLL_ROWS
(10000), ESOC_BENCH_PAYROLL_VALIDATORS (4), ESOC_BENCH_PAYROLL_INFLIGHT (300), ESOC_BENCH_PAYROLL_KEEP=1 (keep the devnet
home and its node logs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from ledger import codes
from node.admission import retry_after_ms
from tests.e2e.harness import free_port_block

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
YUAN = 100
GROSS = 9_000 * YUAN


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _send_all(c, key, chain_id: str, kind: str, payloads: list, nonce: int) -> None:
    """Sign and submit in batches (at most 4,000 pending for the sender), then wait for the last nonce."""
    from ledger.address import address_of, encode_address
    from ledger.tx import sign_tx

    me = encode_address(address_of(key.public))
    expiry = c.status().height + 10_000
    txs = [sign_tx(key, chain_id, kind, p, nonce + i, expiry) for i, p in enumerate(payloads)]
    sent = 0
    while sent < len(txs):
        done = c.account(me).nonce - nonce
        room = 4000 - (sent - done)
        if room <= 0:
            time.sleep(0.1)
            continue
        chunk = txs[sent: sent + min(room, 2000)]
        r = c.submit_batch(chunk)
        ok = 0
        for x in r.results:  # admitted in order; the tail refused for capacity is sent again after the hint
            if x.code != 0:
                break
            ok += 1
        bad = [x for x in r.results[ok:] if x.code not in (codes.MEMPOOL_FULL, codes.RATE_LIMITED)]
        if bad:
            raise RuntimeError(f"setup transaction refused: {bad[0].reason}")
        sent += ok
        if ok < len(chunk):
            time.sleep((retry_after_ms(r.results[ok].reason) or 200) / 1000)
    _wait(lambda: c.account(me).nonce >= nonce + len(txs), 300, f"{kind} transactions to commit")


# Long by design: one benchmark scenario in its measured order (devnet, CSV, run, re-run, figures); cut up, the timed sequence would be scattered over helpers that share its clocks.
def run() -> list[dict]:
    from cli.devnet import init_devnet, node_command
    from ledger.crypto import PrivateKey
    from ledger.address import address_of, encode_address
    from ledger.tx import Call, Issue, Register
    from node.config import NodeConfig
    from wallet.client import Client
    from wallet.keystore import Keystore

    rows = int(os.environ.get("ESOC_BENCH_PAYROLL_ROWS", "10000"))
    nval = int(os.environ.get("ESOC_BENCH_PAYROLL_VALIDATORS", "4"))
    home = tempfile.mkdtemp(prefix="esoc-bench-payroll-")
    procs = []
    try:
        desc = init_devnet(home, nval, free_port_block(nval), fast_kdf=True, block_interval_ms=200)
        for n in desc["nodes"]:
            cfg = NodeConfig.load(os.path.join(n["home"], "config.toml"))
            cfg.log_level = "warning"
            cfg.save(os.path.join(n["home"], "config.toml"))
            log = open(os.path.join(n["home"], "node.log"), "ab")
            procs.append(subprocess.Popen(node_command(n["home"]), stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                                          env=dict(os.environ, PYTHONPATH=ROOT)))
        grpc = desc["nodes"][0]["grpc"]
        ks = Keystore(desc["keystore"])
        with Client(grpc, timeout=60) as c:
            _wait(lambda: c.status().height >= 2, 120, "the devnet to make blocks")
            chain_id = c.status().chain_id
            reg = ks.unlock("registrar", "devnet")
            bank = ks.unlock("central-bank", "devnet")
            treasury = ks.unlock("treasury", "devnet")
            employer = ks.info("steelworks")["address"]
            employees = [encode_address(address_of(PrivateKey(bytes([1]) + i.to_bytes(31, "big")).public))
                         for i in range(rows)]
            from ledger.address import decode_address

            _send_all(c, treasury, chain_id, "call", [Call(contract="tax", entry="set_treasury", args={}, gas_limit=1_000_000)], 0)
            _send_all(c, reg, chain_id, "register",
                      [Register(account=decode_address(a), kind="citizen", name="") for a in employees],
                      c.account(ks.info("registrar")["address"]).nonce)
            _send_all(c, bank, chain_id, "issue", [Issue(to=decode_address(employer), amount=rows * GROSS, memo="payroll")],
                      c.account(ks.info("central-bank")["address"]).nonce)
        csv_path = os.path.join(home, "payroll.csv")
        with open(csv_path, "w") as f:
            f.write("employee,gross,social_insurance\n")
            for a in employees:
                f.write(f"{a},{GROSS},{900 * YUAN}\n")
        env = dict(os.environ, PYTHONPATH=ROOT, ESOC_KEYSTORE=desc["keystore"], ESOC_PASSWORD="devnet", ESOC_NODE=grpc)
        inflight = os.environ.get("ESOC_BENCH_PAYROLL_INFLIGHT", "300")
        cmd = [sys.executable, "-m", "cli.main", "payroll", "run", csv_path, "--from", "steelworks", "--json",
               "--no-progress", "--in-flight", inflight]
        import resource

        load0 = os.getloadavg()[0]
        cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
        first = time.monotonic() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        client_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
        load1 = os.getloadavg()[0]
        s1 = json.loads(r.stdout)["summary"]
        t0 = time.monotonic()
        r2 = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
        second = time.monotonic() - t0
        s2 = json.loads(r2.stdout)["summary"]
        assert s1["by_status"] == {"paid": rows}, s1
        assert s2["by_status"] == {"already_paid": rows}, s2
        return [
            {"name": f"payroll run, {rows:,} rows (esoc payroll run, whole command)", "value": round(first, 1), "unit": "s",
             "note": f"{nval} validator(s), --in-flight {inflight}; {rows / first:,.0f} rows/s; tax withheld {s1['tax']:,} fen; "
                     f"every row paid, receipts read from the blocks; the command itself used {client_cpu:.1f} CPU-s; "
                     f"load average {load0:.1f} at the start, {load1:.1f} at the end ({os.cpu_count()} cores)"},
            {"name": f"payroll re-run of the same {rows:,} rows (pays nobody)", "value": round(second, 1), "unit": "s",
             "note": "every row found already paid on chain (tax.payment) before signing"},
        ]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if os.environ.get("ESOC_BENCH_PAYROLL_KEEP"):
            print(f"kept {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
