"""The genesis document: the chain's first state, written by its founders.

It is a JSON file for people (addresses in bech32m, keys in hex, amounts in
fen) and has a canonical form whose hash every node agrees on; block 1's
``prev_hash`` is that hash, so a chain is tied to its genesis.
"""

from __future__ import annotations

import dataclasses
import json

from ledger.address import decode_address, encode_address
from ledger.codec import Any_, Bytes, List, Nested, Record, Str, UInt, encode
from ledger.crypto import tagged_hash
from ledger.state import Account, State, Supply, SUPPLY, Validator, VALIDATORS
from ledger.tx import ACCOUNT_KINDS, ROLES


class GenesisError(ValueError):
    pass


@dataclasses.dataclass(frozen=True)
class GenesisAccount(Record):
    SCHEMA = {"address": Bytes(20), "balance": UInt(), "kind": Str(16), "roles": List(Str(32), 32), "name": Str(128)}
    address: bytes
    balance: int
    kind: str
    roles: tuple
    name: str


@dataclasses.dataclass(frozen=True)
class GenesisLaw(Record):
    SCHEMA = {"name": Str(64), "source": Str(1 << 20)}
    name: str
    source: str


@dataclasses.dataclass(frozen=True)
class Genesis(Record):
    SCHEMA = {
        "chain_id": Str(64),
        "genesis_time_ms": UInt(),
        "accounts": List(Nested(GenesisAccount), 100_000),
        "validators": List(Nested(Validator), 1000),
        "params": Any_(),
        "laws": List(Nested(GenesisLaw), 100),
    }
    chain_id: str
    genesis_time_ms: int
    accounts: tuple
    validators: tuple
    params: dict
    laws: tuple = ()  # the policy contracts installed at height 1, by name

    @property
    def hash(self) -> bytes:
        return tagged_hash("genesis", self.encode())

    def to_json(self) -> str:
        doc = {
            "chain_id": self.chain_id,
            "genesis_time_ms": self.genesis_time_ms,
            "accounts": [
                {
                    "address": encode_address(a.address),
                    "name": a.name,
                    "kind": a.kind,
                    "roles": list(a.roles),
                    "balance": a.balance,
                }
                for a in self.accounts
            ],
            "validators": [{"pubkey": v.pubkey.hex(), "power": v.power, "name": v.name} for v in self.validators],
            "params": self.params,
            "laws": {law.name: law.source for law in self.laws},
        }
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Genesis":
        try:
            doc = json.loads(text)
            accounts = tuple(
                GenesisAccount(
                    address=decode_address(a["address"]),
                    balance=int(a["balance"]),
                    kind=a["kind"],
                    roles=tuple(a.get("roles", ())),
                    name=a.get("name", ""),
                )
                for a in doc["accounts"]
            )
            validators = tuple(
                Validator(pubkey=bytes.fromhex(v["pubkey"]), power=int(v["power"]), name=v.get("name", ""))
                for v in doc["validators"]
            )
            g = cls(
                chain_id=doc["chain_id"],
                genesis_time_ms=int(doc["genesis_time_ms"]),
                accounts=accounts,
                validators=validators,
                params=doc.get("params", {}),
                laws=tuple(GenesisLaw(name=n, source=src) for n, src in sorted(doc.get("laws", {}).items())),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise GenesisError(f"bad genesis file: {type(e).__name__}: {e}") from None
        g.validate()
        return g

    def validate(self) -> None:
        if not self.chain_id:
            raise GenesisError("genesis has no chain_id")
        if not self.validators:
            raise GenesisError("genesis has no validators")
        seen = set()
        for a in self.accounts:
            if a.address in seen:
                raise GenesisError(f"account {encode_address(a.address)} listed twice")
            seen.add(a.address)
            if a.kind not in ACCOUNT_KINDS:
                raise GenesisError(f"account {a.name or encode_address(a.address)}: kind {a.kind!r} is not one of {ACCOUNT_KINDS}")
            for r in a.roles:
                if r not in ROLES:
                    raise GenesisError(f"account {a.name}: unknown role {r!r}")
            if a.balance < 0:
                raise GenesisError("negative balance")
        if sum(a.balance for a in self.accounts) > 2**64 - 1:
            raise GenesisError("genesis balances add up to more than 2^64-1 fen")
        names = [law.name for law in self.laws]
        if names != sorted(set(names)):
            raise GenesisError("genesis laws must have distinct names, in sorted order")
        for role in ("registrar", "central_bank", "treasury"):
            if not any(role in a.roles for a in self.accounts):
                raise GenesisError(f"genesis names no holder of the {role} role")
        try:
            encode(self.params)
        except Exception as e:
            raise GenesisError(f"params are not canonical: {e}") from None

    def param(self, name: str, default):
        return self.params.get(name, default) if isinstance(self.params, dict) else default

    def apply(self, state: State) -> None:
        """Write the genesis state into an empty working state."""
        issued = 0
        for a in self.accounts:
            state.set_account(
                a.address,
                Account(balance=a.balance, nonce=0, kind=a.kind, roles=tuple(sorted(a.roles)), name=a.name),
            )
            issued += a.balance
        state.put(SUPPLY, Supply(issued=issued, retired=0))
        state.put_value(VALIDATORS, [v.to_obj() for v in sorted(self.validators, key=lambda v: v.pubkey)])
