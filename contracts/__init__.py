"""contracts: the policy-contract sandbox (``runtime``) and the laws (``laws``).

``runtime`` checks, instruments, meters and runs restricted Python; it may
import ``ledger`` only.  ``laws`` are the laws' sources: they are data to the
runtime (read as text and compiled in the sandbox), never imported as Python
modules by the node.  Nothing here may read a clock, a random source, the
file system at run time, or a float into money.
"""
