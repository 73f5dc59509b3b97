"""Measured points for docs/scaling.md: the same load on 4 and on 7 validators.

Both devnets run on this one machine (all validators share its cores), at the
same open-loop rate (ESOC_BENCH_VAL_RATE, default 600 tx/s, below the knee
of 4) for ESOC_BENCH_VAL_SECONDS (30): finalized tx/s, commit latency p50 and
p99, height time on node 1, and CPU-ms per finalized transaction summed over
all validators -- the per-validator cost the model in docs/scaling.md
multiplies by n.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from .machine import ed25519_verify_rate


def run() -> list[dict]:
    from . import bench_network as bn

    rate = int(os.environ.get("ESOC_BENCH_VAL_RATE", "600"))
    seconds = float(os.environ.get("ESOC_BENCH_VAL_SECONDS", "30"))
    raw = ed25519_verify_rate(2.0)
    rows = [{"name": "raw Ed25519 verifications/s, all cores", "value": raw, "unit": "verify/s"}]
    for n in (4, 7):
        tmp = tempfile.mkdtemp(prefix=f"esoc-bench-val{n}-")
        try:
            r = bn.load_test(os.path.join(tmp, "net"), rate, seconds, verbose=False, validators=n)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        cpu_ms = r["node_cpu_ms_per_tx"]
        rows.append({"name": f"n={n}: finalized tx/s at {r['offered_rate']:,.0f} offered", "value": r["finalized_per_s"],
                     "unit": "tx/s", "limit": raw / n, "ratio": r["finalized_per_s"] / (raw / n),
                     "note": f"p50 {r['p50']:.2f} s, p99 {r['p99']:.2f} s; height {r['height_s']:.2f} s on node 1; "
                             f"{r['blocks_per_s']:.2f} blocks/s; {cpu_ms:.2f} CPU-ms per finalized tx over the {n} "
                             f"validators ({cpu_ms / n * 1000:.0f} us each); load average {os.getloadavg()[0]:.1f}"})
        rows.append({"name": f"n={n}: commit latency p99", "value": r["p99"], "unit": "s"})
    return rows


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
