"""A gRPC server that serves a synthetic chain, honestly or with chosen lies.

Real gRPC, real signatures, a real sparse Merkle tree: only the node behind
it is invented.  Headers are made on demand (a chain of 100,000 blocks costs
only the headers a client asks for); ``prev_hash`` is a stand-in (the light
client follows validator sets, not the hash chain).

The validator set of block ``h`` is ``schedule(h)`` (a list of key indices);
lies are switched on with attributes:

* ``forge_balance``: GetAccount answers with a higher balance than the state holds (same proof);
* ``few_signatures``: heights whose commit carries only half the power;
* ``fake_set_from``: from this height on, headers are signed by keys the node made up,
  and GetValidators reports that set;
* ``other_chain``: headers carry (and are signed for) another chain id.
"""

from __future__ import annotations

import json
import time
from concurrent import futures

import grpc

from ledger.genesis import Genesis, GenesisAccount
from ledger.address import address_of, encode_address, decode_address
from ledger.block import Block, Commit, CommitSig, Header, precommit_sign_bytes, validator_set_hash
from ledger.crypto import PrivateKey, tagged_hash
from ledger.smt import EMPTY_ROOT, SparseMerkleTree
from ledger.state import Account, Validator, acct_path, key_hash, path_bytes, value_hash
from proto import esoc_pb2 as pb
from proto import esoc_pb2_grpc as pbg

CHAIN = "esoc-fake"
ZERO = bytes(32)


def det_key(i: int, tag: str = "honest") -> PrivateKey:
    return PrivateKey(tagged_hash("fake node key", f"{tag}/{i}".encode()))


class FakeChain:
    def __init__(self, height: int, schedule=lambda h: [0, 1, 2, 3], power: int = 10, t0_ms: int | None = None):
        self.height = height
        # block h is dated t0 + h s; by default the tip is a minute old by this computer's clock (the light
        # client's trusting period is judged against it)
        self.t0_ms = t0_ms if t0_ms is not None else int(time.time() * 1000) - height * 1000 - 60_000
        self.schedule = schedule
        self.power = power
        self.keys: dict[int, PrivateKey] = {}
        self.fake_keys = [det_key(i, "fake") for i in range(4)]
        # state: a few accounts, one tree for every height (the state never changes here)
        self.alice = det_key(0, "alice")
        self.accounts = {address_of(self.alice.public): Account(balance=12_345, nonce=3, kind="citizen", roles=(), name="alice")}
        for i, role in enumerate(("registrar", "central_bank", "treasury")):
            self.accounts[address_of(det_key(i, "agency").public)] = Account(balance=0, nonce=0, kind="agency",
                                                                             roles=(role,), name=role)
        nodes: dict = {}
        self.tree = SparseMerkleTree(nodes.get)
        changes = {key_hash(path_bytes(acct_path(a))): value_hash(acc.encode()) for a, acc in self.accounts.items()}
        self.root, new = self.tree.update(EMPTY_ROOT, changes)
        nodes.update(new)
        # lies
        self.forge_balance = False
        self.few_signatures: set[int] = set()
        self.fake_set_from: int | None = None
        self.other_chain: str | None = None
        self.calls = {"GetBlock": 0, "GetValidators": 0}

    def key(self, i: int) -> PrivateKey:
        if i not in self.keys:
            self.keys[i] = det_key(i)
        return self.keys[i]

    def signers(self, h: int) -> list[PrivateKey]:
        if self.fake_set_from is not None and h >= self.fake_set_from:
            return self.fake_keys
        return [self.key(i) for i in self.schedule(h)]

    def powers(self, h: int) -> dict:
        return {k.public: self.power for k in self.signers(h)}

    def honest_powers(self, h: int) -> dict:
        return {self.key(i).public: self.power for i in self.schedule(h)}

    def genesis(self) -> Genesis:
        return Genesis(
            chain_id=CHAIN, genesis_time_ms=self.t0_ms,
            accounts=tuple(GenesisAccount(address=a, balance=acc.balance, kind=acc.kind, roles=acc.roles, name=acc.name)
                           for a, acc in sorted(self.accounts.items())),
            validators=tuple(Validator(pubkey=self.key(i).public, power=self.power, name=f"v{i}") for i in self.schedule(1)),
            params={}, laws=())

    def header(self, h: int) -> Header:
        return Header(chain_id=self.other_chain or CHAIN, height=h, time_ms=self.t0_ms + h * 1000,
                      prev_hash=self.genesis().hash if h == 1 else tagged_hash("fake prev", h.to_bytes(8, "big")), txs_root=ZERO, state_root=self.root,
                      receipts_root=ZERO, evidence_root=ZERO, last_commit_hash=ZERO, proposer=self.signers(h)[0].public,
                      validators_hash=validator_set_hash(self.powers(h)),
                      # the honest validators signed header h naming the honest next set: a lying node cannot change that
                      next_validators_hash=validator_set_hash(
                          self.powers(h + 1) if self.fake_set_from is not None and h >= self.fake_set_from
                          else self.honest_powers(h + 1)), app_version=1)

    def commit(self, h: int, header: Header) -> Commit:
        keys = self.signers(h)
        if h in self.few_signatures:
            keys = keys[: len(keys) // 2]
        chain = header.chain_id
        sigs = sorted((CommitSig(validator=k.public, signature=k.sign("vote", chain, precommit_sign_bytes(h, 0, header.hash, k.public)))
                       for k in keys), key=lambda s: s.validator)
        return Commit(height=h, round=0, value_id=header.hash, signatures=tuple(sigs))


class Servicer(pbg.NodeServicer):
    def __init__(self, chain: FakeChain):
        self.c = chain

    def Status(self, request, context):
        hd = self.c.header(self.c.height)
        return pb.StatusResponse(chain_id=hd.chain_id, height=self.c.height, block_hash=hd.hash, state_root=self.c.root,
                                 time_ms=hd.time_ms, genesis_hash=self.c.genesis().hash, version="fake")

    def GetBlock(self, request, context):
        self.c.calls["GetBlock"] += 1
        h = request.height or self.c.height
        if h > self.c.height:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"height {h} is above the latest")
        hd = self.c.header(h)
        blk = Block(header=hd, txs=(), evidence=(), last_commit=None)
        return pb.BlockResponse(height=h, hash=hd.hash, block=blk.encode(), commit=self.c.commit(h, hd).encode(),
                                state_root=hd.state_root, time_ms=hd.time_ms)

    def GetValidators(self, request, context):
        self.c.calls["GetValidators"] += 1
        h = request.height or self.c.height + 1
        ps = self.c.powers(h)
        return pb.ValidatorsResponse(height=h, validators=[pb.Validator(pubkey=k, power=p) for k, p in sorted(ps.items())],
                                     hash=validator_set_hash(ps))

    def GetAccount(self, request, context):
        addr = decode_address(request.address)
        acc = self.c.accounts.get(addr)
        h = request.height or self.c.height
        resp = pb.AccountResponse(address=encode_address(addr), height=h, state_root=self.c.root)
        if acc is not None:
            shown = acc.with_balance(acc.balance * 100) if self.c.forge_balance else acc
            resp.exists = True
            resp.balance, resp.nonce, resp.kind, resp.name = shown.balance, shown.nonce, shown.kind, shown.name
            resp.value = shown.encode()
        if request.prove:
            resp.proof = self.c.tree.prove(self.c.root, key_hash(path_bytes(acct_path(addr)))).encode()
        return resp


class FakeNode:
    def __init__(self, chain: FakeChain):
        self.chain = chain
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pbg.add_NodeServicer_to_server(Servicer(chain), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{port}"
        self.server.start()

    def stop(self):
        self.server.stop(grace=None)

    def write_genesis(self, path: str) -> str:
        with open(path, "w") as f:
            f.write(self.chain.genesis().to_json())
        return path


__all__ = ["FakeChain", "FakeNode", "CHAIN", "json"]
