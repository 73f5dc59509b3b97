"""chain: the deterministic application every node computes identically.

What lives here: executing transactions and blocks (``execution``, with the
two failure kinds in ``errors``), building, checking and committing blocks
(``app``), the mempool's admission rules (``mempool``), and the host of the policy contracts on chain
(``contract_host``: installed law versions, their storage and host calls).

May import: ``ledger``, ``consensus`` (its pure validator-set rules) and
``contracts.runtime``.  Must never: open a socket,
read a clock or a random source, start a thread, or import ``node``, ``cli``,
``wallet`` or ``explorer``.  Everything it computes comes from the state, the
block header and the transactions, so two nodes given the same blocks agree
on every state root.
"""
