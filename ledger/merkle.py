"""Binary Merkle root over an ordered list (transactions, receipts, evidence).

RFC 6962 shape: leaves and inner nodes are hashed under different tags, an
odd node is promoted unchanged, the root of the empty list is a constant.
"""

from __future__ import annotations

import blake3

from .crypto import tagged_hash

EMPTY_LIST_ROOT = tagged_hash("merkle empty", b"")
_LEAF = blake3.blake3(derive_key_context="esoc 2026 merkle leaf")  # = tagged_hash("merkle leaf", ...), keyed once
_NODE = blake3.blake3(derive_key_context="esoc 2026 merkle node")


def _tagged(base, data: bytes) -> bytes:
    h = base.copy()
    h.update(data)
    return h.digest()


def merkle_root(items: list[bytes]) -> bytes:
    if not items:
        return EMPTY_LIST_ROOT
    leaf = _LEAF
    level = [_tagged(leaf, it) for it in items]
    node = _NODE
    while len(level) > 1:
        nxt = [_tagged(node, level[i] + level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]
