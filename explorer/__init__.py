"""explorer: the public block explorer and its own index.

Reads a node over gRPC like any outside client (``proto``), checks what it
indexes with ``ledger``, and must never import ``node``, ``chain`` or ``cli``.
"""
