"""Tests of the node process shell (node/): the consensus driver's checks, TLS, config, logs.

Real parts: a node home made by ``cli.devnet.init_devnet``, LevelDB, real gRPC
servers with certificates made in the test.
"""
