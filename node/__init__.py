"""node: the process shell around the deterministic chain.

``service`` runs a node under trio; ``consensus_driver`` feeds the consensus
engine from the network and timers and commits what it decides; ``p2p/`` is
the authenticated, encrypted peer transport; ``grpc_api`` the public API;
``config`` the node's home and TOML settings; ``metrics`` Prometheus.

May import ``ledger``, ``consensus``, ``contracts``, ``chain`` and ``proto``.
Everything that touches sockets, clocks, threads and disk layout lives here,
never in ``chain``.  Must never import ``cli``, ``wallet`` or ``explorer``.
"""
