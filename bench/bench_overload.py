"""Overload without collapse (issue 13, part 5): twice the knee offered for 60 s.

The network bench's devnet (4 validators, real processes) with admission
bounded by time (``node/admission.py``, ``admission_latency_ms`` 1000, the
default): transactions are offered open loop at twice the rate this machine
sustains (``ESOC_BENCH_KNEE``, default 2,800 tx/s, the knee measured by
bench_network on a quiet day, 2026-12-05), each sender offering one transaction every
10 s (a refused transaction leaves the later ones of its sender with a
nonce gap; those are counted apart).  Printed: what was admitted, the share
refused with RESOURCE_EXHAUSTED-style ``node busy ... retry after`` answers,
the finalized rate, and the commit latency of the admitted transactions
(target p99 <= 3 s), measured from the submission the node admitted (for a
refused transaction, its resend) to the block that holds it -- the latency
the node bounds; beside it the p99 from the first send, which adds the
retry hint the client waited out.  Like the wallet, the bench resends what a busy node refused after
the node's hint, in the same open loop.

``python -m bench overload``; ESOC_BENCH_OVERLOAD_SECONDS (60) shortens it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile

from .machine import ed25519_verify_rate


def run() -> list[dict]:
    from . import bench_network as bn

    knee = int(os.environ.get("ESOC_BENCH_KNEE", "2800"))
    seconds = float(os.environ.get("ESOC_BENCH_OVERLOAD_SECONDS", "60"))
    raw = ed25519_verify_rate(2.0)
    tmp = tempfile.mkdtemp(prefix="esoc-bench-overload-")
    try:
        r = bn.load_test(os.path.join(tmp, "net"), 2 * knee, seconds, verbose=True, spacing=10.0,
                         settings={"admission_latency_ms": 1000}, retry=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    offered = r["offered"]
    busy = r["refused"]
    other = r["rejected"] - busy
    top = sorted(r["reasons"].items(), key=lambda kv: -kv[1])[:3]
    print(f"  reasons: {top}", file=sys.stderr)
    ceiling = raw / 4
    return [
        {"name": "offered (2x the knee, open loop)", "value": r["offered_rate"], "unit": "tx/s",
         "note": f"{offered:,} over {r['seconds']:.0f} s to 4 validators; knee taken as {knee:,} tx/s; load average "
                 f"{os.getloadavg()[0]:.1f} at the end"},
        {"name": "refused at admission (node busy, retry hint)", "value": busy / max(1, offered), "unit": "share",
         "note": f"{busy:,} refusals (a transaction refused twice counts twice), {r['resent']:,} resends after the hint; "
                 f"{r['accepted']:,} admitted; {other:,} rejected for other reasons (nonce gaps behind a refused "
                 f"transaction); failed calls {r['failed']:,}"},
        {"name": "finalized under overload", "value": r["finalized_per_s"], "unit": "tx/s", "limit": ceiling,
         "ratio": r["finalized_per_s"] / ceiling, "note": f"{r['blocks_per_s']:.2f} blocks/s, {r['txs_per_block']:.0f} tx/block; the 4 nodes used "
                 f"{sum(r['node_cpu_s']) / (r['seconds'] * (os.cpu_count() or 1)):.0%} of the machine's cores, the bench's "
                 f"client (signing done before, sending, resending, tallying) {r.get('client_cpu_s', 0) / r['seconds']:.0%} of one; "
                                                         f"mempools after: {r['mempools_after']}"},
        {"name": "admitted commit latency p50 under overload", "value": r["p50_admitted"], "unit": "s",
         "note": "from the submission the node admitted (a refused transaction's resend) to its block"},
        {"name": "admitted commit latency p99 under overload", "value": r["p99_admitted"], "unit": "s",
         "note": f"target <= 3 s: {'met' if r['p99_admitted'] <= 3 else 'NOT met'}; from the admitted submission to "
                 f"the block, over {r['committed_total']:,} committed ({r['resent']:,} of the submissions were resends)"},
        {"name": "commit latency p99 from the first send (client's wait, backoff included)", "value": r["p99"], "unit": "s",
         "note": f"p50 {r['p50']:.2f} s; a refused-then-resent transaction counted from its first send: the node's "
                 f"latency plus the retry hint the client waited out"},
    ]


if __name__ == "__main__":
    from . import print_rows

    print_rows(run())
