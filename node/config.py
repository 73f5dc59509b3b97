"""A node's home folder: config, genesis, node key, data.

::

    HOME/config.toml     listen addresses, peers, timeouts (TOML)
    HOME/genesis.json    the chain's genesis document
    HOME/node_key.json   this node's Ed25519 key (validator and p2p identity)
    HOME/data/           LevelDB (chain), signer state, consensus WAL
    HOME/node.log        the node's log (``log_file``), rotated

Most settings are read at start.  ``peers``, ``allow_peers`` and
``tls_client_allow`` are read again when the node gets SIGHUP
(:data:`RELOADABLE`); see docs/operations.md.
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


RELOADABLE = ("peers", "allow_peers", "tls_client_allow")  # applied on SIGHUP without a restart


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
    # how far ahead of this node's clock a proposed block's time may be (else it prevotes nil)
    block_time_drift_ms: int = 5000
    timeout_propose_ms: int = 2000  # consensus timeouts: init + round * delta, capped
    timeout_prevote_ms: int = 500
    timeout_precommit_ms: int = 500
    timeout_delta_ms: int = 500
    timeout_max_ms: int = 30000
    submit_rate_per_s: int = 20000  # per client: its certificate under mutual TLS, else its address
    submit_burst: int = 40000
    log_level: str = "info"
    log_format: str = "text"  # "text" or "json" (one JSON object per line)
    log_file: str = "node.log"  # relative to HOME; "" = stderr only
    # gRPC over TLS: both files (PEM; relative to HOME) or neither (plaintext: bind to loopback)
    tls_cert: str = ""
    tls_key: str = ""
    # mutual TLS: clients must present a certificate signed by a CA in this bundle (PEM) ...
    tls_client_ca: str = ""
    # ... and, if this list is not empty, one whose SHA-256 fingerprint (hex) is listed
    tls_client_allow: list = dataclasses.field(default_factory=list)
    # state sync (node/statesync.py): serve a snapshot every N heights (0 = none), keep the newest K;
    # a fresh node with statesync_rpc (gRPC addresses) joins from their newest snapshot
    snapshot_interval: int = 0
    # admission (node/admission.py): refuse what cannot commit within this bound at the measured rate (0 = off)
    admission_latency_ms: int = 1000
    snapshot_keep: int = 2
    # processes that check the signatures of submitted and relayed batches (node/verifier.py); 0 = one a core
    verify_workers: int = 0
    statesync_rpc: list = dataclasses.field(default_factory=list)
    # compact blocks (docs/p2p.md): a proposal names its transactions by hash and validators rebuild
    # the block from their mempools, fetching only what they lack; off: a proposal carries every byte
    compact_blocks: bool = True
    # write a decided block's batch on a worker thread while the next height starts (node/consensus_driver.py)
    pipelined_commit: bool = True
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
            cfg = cls(**doc)
        except TypeError as e:
            raise ConfigError(f"{path}: {e}") from None
        try:
            cfg.validate()
        except ConfigError as e:
            raise ConfigError(f"{path}: {e}") from None
        return cfg

    def validate(self) -> None:
        """Refuse settings the node could not run with, naming the first one."""
        from .p2p import PeerAddress

        ints = ("block_interval_ms", "block_time_step_ms", "block_time_drift_ms", "timeout_propose_ms",
                "timeout_prevote_ms", "timeout_precommit_ms", "timeout_delta_ms", "timeout_max_ms",
                "submit_rate_per_s", "submit_burst", "verify_workers")
        for name in ints:
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ConfigError(f"{name} must be a whole number >= 0, not {v!r}")
        for name in ("compact_blocks", "pipelined_commit"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, not {getattr(self, name)!r}")
        if self.log_format not in ("text", "json"):
            raise ConfigError(f"log_format must be \"text\" or \"json\", not {self.log_format!r}")
        for name in ("peers", "allow_peers", "tls_client_allow"):
            if not isinstance(getattr(self, name), list):
                raise ConfigError(f"{name} must be a list")
        for p in self.peers:
            try:
                PeerAddress.parse(p)
            except (ValueError, TypeError) as e:
                raise ConfigError(f"peers: {p!r}: {e}") from None
        for name, size in (("allow_peers", 32), ("tls_client_allow", 32)):
            for k in getattr(self, name):
                try:
                    ok = len(bytes.fromhex(k)) == size
                except (ValueError, TypeError):
                    ok = False
                if not ok:
                    raise ConfigError(f"{name}: {k!r} is not {2 * size} hex digits")
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ConfigError("tls_cert and tls_key go together (both, or neither)")
        if self.tls_client_ca and not self.tls_cert:
            raise ConfigError("tls_client_ca (mutual TLS) needs tls_cert and tls_key")
        if self.tls_client_allow and not self.tls_client_ca:
            raise ConfigError("tls_client_allow needs tls_client_ca (the CA that signs the clients' certificates)")

    def tls_fingerprints(self) -> frozenset[bytes]:
        return frozenset(bytes.fromhex(k) for k in self.tls_client_allow)

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

    def file(self, name: str) -> str:
        """A path from the config: absolute as given, else relative to HOME."""
        return name if os.path.isabs(name) else os.path.join(self.path, name)

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
