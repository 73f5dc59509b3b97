"""The block explorer: a node's outside reader with its own index and web pages.

- ``verify``: a block is checked (commit against the validator set, roots) before it is indexed; no I/O.
- ``follower``: StreamBlocks from a node into the index, resuming where the index stops.
- ``index``: the index behind one small interface, SQLite or PostgreSQL.
- ``views``: what each page shows, as plain data (the HTML page and its JSON twin share it).
- ``app``: Starlette routes, OpenAPI, CSV, live events; ``serve_explorer`` / ``run``.

May import ``ledger``, ``proto`` and ``wallet``; it never imports ``node``,
``chain`` or ``cli``: it reads a node over gRPC like any client (docs/explorer.md).
"""
