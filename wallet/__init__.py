"""wallet: what a citizen or an enterprise holds in hand.

The encrypted keystore (``keystore``), the gRPC client of a node
(``client``) and the light check of proofs against signed headers
(``light``).  May import ``ledger`` and ``proto``; talks to a node over gRPC
like any outside client and must never import ``node``, ``chain`` or ``cli``.
"""
