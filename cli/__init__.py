"""cli: the tools a person runs, behind the ``esoc`` command.

``main`` is the entry point and the command tree; ``law`` the law commands;
``devnet`` the local network launcher; ``demo`` the demo economy.

May import anything of ours (it launches ``node`` processes and builds
``chain`` genesis documents) but talks to running nodes only over gRPC
through ``wallet.client``.  Must never be imported by ``ledger``,
``consensus``, ``contracts``, ``chain``, ``node``, ``wallet`` or ``explorer``.
"""
