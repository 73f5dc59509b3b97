"""ledger: the core nouns, depending on nothing of ours.

Canonical encoding (``codec``), hashing and signatures (``crypto``),
addresses (``address``), transactions (``tx``), the genesis document
(``genesis``), blocks, commits and the
commit check (``block``), Merkle roots (``merkle``) and the sparse Merkle
tree (``smt``), the
path-keyed state (``state``), the LevelDB store (``store``) and the stable
result codes (``codes``).

May import: third-party libraries only.  Must never import another package
of this project, read a clock, or depend on the machine: every function here
is the same on every node.
"""
