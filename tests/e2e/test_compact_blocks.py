"""Compact blocks on a 4-validator devnet (separate OS processes over TCP): transfers commit,
every node agrees, and the proposals' bytes on the wire drop against what the same blocks
would have taken in full (each proposer counts both: esoc_proposal_bytes_sent_total and
esoc_proposal_full_bytes_total)."""

from __future__ import annotations


import pytest

from .harness import Devnet, Load, final_checks

pytestmark = pytest.mark.slow


def test_four_validators_commit_transfers_with_compact_blocks_and_send_far_fewer_bytes(tmp_path):
    net = Devnet(str(tmp_path / "net"), validators=4, compact_blocks=True).start()
    try:
        load = Load(net, batch=50)
        load.start()
        try:
            load.wait_acked(4)
        finally:
            load.stop()
        final_checks(net, load)
        totals: dict[str, float] = {}
        for i in range(4):
            for k, v in net.metrics(i).items():
                if k.startswith(("esoc_proposal_", "esoc_compact_")):
                    totals[k] = totals.get(k, 0) + v
    finally:
        net.stop()
    sent, full = totals["esoc_proposal_bytes_sent_total"], totals["esoc_proposal_full_bytes_total"]
    txs = totals["esoc_proposal_txs_sent_total"]
    print(f"proposal bytes sent {sent:.0f}, as full blocks {full:.0f}, txs {txs:.0f}: "
          f"{sent / max(txs, 1):.1f} B/tx to each peer against {full / max(txs, 1):.1f} B/tx in full; "
          f"rebuilt {totals.get('esoc_compact_rebuilt_total', 0):.0f}, "
          f"fetched {totals.get('esoc_compact_fetched_txs_total', 0):.0f}")
    assert txs >= 200  # the load's transfers went out in proposals
    assert totals["esoc_compact_rebuilt_total"] >= 1  # validators rebuilt blocks from their mempools
    assert (full - sent) / txs >= 100  # each transaction named by a hash saves the rest of its bytes
    assert sent < 0.6 * full
