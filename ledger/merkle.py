"""Binary Merkle root over an ordered list (transactions, receipts, evidence).

RFC 6962 shape: leaves and inner nodes are hashed under different tags, an
odd node is promoted unchanged, the root of the empty list is a constant.
"""

from __future__ import annotations

from .crypto import tagged_hash

EMPTY_LIST_ROOT = tagged_hash("merkle empty", b"")


def merkle_root(items: list[bytes]) -> bytes:
    if not items:
        return EMPTY_LIST_ROOT
    level = [tagged_hash("merkle leaf", it) for it in items]
    while len(level) > 1:
        nxt = [tagged_hash("merkle node", level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
