"""A node's home folder: config, genesis, node key, data.

::

    HOME/config.toml     listen addresses, peers, timeouts (TOML)
    HOME/genesis.json    the chain's genesis document
    HOME/node_key.json   this node's Ed25519 key (validator and p2p identity)
    HOME/data/           LevelDB (chain), signer state, consensus WAL
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib

import tomli_w

from ledger.crypto import PrivateKey


class ConfigError(Exception):
    pass


@dataclasses.dataclass
class NodeConfig:
    moniker: str = "node"
    grpc_listen: str = "127.0.0.1:50051"
    p2p_listen: str = "127.0.0.1:26656"
    metrics_listen: str = ""  # e.g. 127.0.0.1:26660; empty = off
    peers: list = dataclasses.field(default_factory=list)  # ["pubkeyhex@host:port", ...]
    allow_peers: list = dataclasses.field(default_factory=list)  # extra non-validator pubkeys (hex)
    block_interval_ms: int = 500  # pause after a commit before the next height (timeout_commit)
    # 0: a proposer stamps its block with the wall clock.  > 0 (devnets and demos only): it
    # stamps last block time + this step, so laws that count months see simulated time pass
    block_time_step_ms: int = 0
    timeout_propose_ms: int = 2000  # consensus timeouts: init + round * delta, capped
    timeout_prevote_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_delta_ms: int = 500
    timeout_max_ms: int = 30000
    submit_rate_per_s: int = 20000  # per client address
    submit_burst: int = 40000
    log_level: str = "info"
    # state sync (node/statesync.py): serve a snapshot every N heights (0 = none), keep the newest K;
    # a fresh node with statesync_rpc (gRPC addresses) joins from their newest snapshot
    snapshot_interval: int = 0
    # admission (node/admission.py): refuse what cannot commit within this bound at the measured rate (0 = off)
    admission_latency_ms: int = 1000
    snapshot_keep: int = 2
    statesync_rpc: list = dataclasses.field(default_factory=list)
    statesync_trust_hash: str = ""  # hex block hash at the snapshot height, needed if validators changed

    @classmethod
    def load(cls, path: str) -> "NodeConfig":
        try:
            with open(path, "rb") as f:
                doc = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"no config at {path} (run `esoc node init --home ...` first)") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: {e}") from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(doc) - names)
        if unknown:
            raise ConfigError(f"{path}: unknown setting {unknown[0]!r}")
        try:
            return cls(**doc)
        except TypeError as e:
            raise ConfigError(f"{path}: {e}") from None

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            tomli_w.dump(dataclasses.asdict(self), f)


class Home:
    def __init__(self, path: str):
        self.path = os.path.abspath(path)

    @property
    def config_file(self) -> str:
        return os.path.join(self.path, "config.toml")

    @property
    def genesis_file(self) -> str:
        return os.path.join(self.path, "genesis.json")

    @property
    def key_file(self) -> str:
        return os.path.join(self.path, "node_key.json")

    @property
    def data_dir(self) -> str:
        return os.path.join(self.path, "data")

    def exists(self) -> bool:
        return os.path.exists(self.config_file)

    def load_key(self) -> PrivateKey:
        try:
            with open(self.key_file) as f:
                doc = json.load(f)
            return PrivateKey(bytes.fromhex(doc["seed"]))
        except FileNotFoundError:
            raise ConfigError(f"no node key at {self.key_file}") from None
        except (KeyError, ValueError) as e:
            raise ConfigError(f"bad node key file {self.key_file}: {e}") from None

    def save_key(self, key: PrivateKey) -> None:
        os.makedirs(self.path, exist_ok=True)
        fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"pubkey": key.public.hex(), "seed": key.seed.hex()}, f, indent=2)
