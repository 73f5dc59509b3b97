"""A lying node, for real: a gRPC server that relays a real node but rewrites
one block in StreamBlocks.  The explorer following it indexes every block
before the lie, refuses the forged one with its reason, and writes nothing
after it; the home page says why it stopped."""

from __future__ import annotations

import dataclasses
from concurrent import futures

import grpc
import pytest

from explorer.follower import Follower
from explorer.index import Index
from ledger.block import Block
from proto import esoc_pb2 as pb
from proto import esoc_pb2_grpc as pbg
from tests.e2e.harness import free_port
from wallet.client import Client

from .conftest import run_follower


class LyingNode(pbg.NodeServicer):
    """Relays reads to ``real``; block ``at`` is streamed with ``forge`` applied to it."""

    def __init__(self, real: str, at: int, forge):
        self.client = Client(real)
        self.at, self.forge = at, forge

    def Status(self, request, context):
        return self.client.status()

    def GetValidators(self, request, context):
        return self.client.validators(request.height)

    def GetState(self, request, context):
        return self.client.stub.GetState(request, timeout=10)

    def ListLaws(self, request, context):
        return self.client.list_laws(request.height)

    def GetLaw(self, request, context):
        return self.client.get_law(request.name, request.version, request.height)

    def GetBlock(self, request, context):
        return self.client.block(request.height)

    def StreamBlocks(self, request, context):
        for r in self.client.stream_blocks(request.from_height or 1):
            if not context.is_active():
                return
            if r.height == self.at:
                r = self.forge(r)
            yield r


def _serve(servicer) -> tuple[grpc.Server, str]:
    server = grpc.server(futures.ThreadPoolExecutor(4))
    pbg.add_NodeServicer_to_server(servicer, server)
    addr = f"127.0.0.1:{free_port()}"
    server.add_insecure_port(addr)
    server.start()
    return server, addr


def _extra_tx(r: pb.BlockResponse) -> pb.BlockResponse:
    """Slip a transaction into the block (header, commit and hash untouched)."""
    b = Block.decode(r.block)
    out = pb.BlockResponse()
    out.CopyFrom(r)
    out.block = dataclasses.replace(b, txs=b.txs + (b"\x81\xa1x\x01",)).encode()
    return out


def _new_header(r: pb.BlockResponse) -> pb.BlockResponse:
    """A different block at that height under the real commit (another state root)."""
    b = Block.decode(r.block)
    out = pb.BlockResponse()
    out.CopyFrom(r)
    forged = dataclasses.replace(b, header=dataclasses.replace(b.header, state_root=bytes(32)))
    out.block, out.hash, out.state_root = forged.encode(), forged.hash, bytes(32)
    return out


@pytest.mark.parametrize("forge,reason", [(_extra_tx, "transactions do not match"),
                                          (_new_header, "commit is for another block")])
def test_a_lying_node_cannot_put_a_forged_block_in_the_index(chain, tmp_path, forge, reason):
    at = chain.transfer["height"]
    server, addr = _serve(LyingNode(chain.grpc, at, forge))
    try:
        ix = Index(str(tmp_path / "ix.sqlite"))
        f = Follower(ix, addr, retry=0.1)
        run_follower(f, 60, "the follower should stop at the forged block")
        assert f.error is not None and reason in f.error and str(at) in f.error
        assert ix.height() == at - 1  # everything before the lie, nothing from it on
        assert ix.tx(chain.transfer["hash"].hex()) is None
        ix.close()
    finally:
        server.stop(0)


class LyingValidators(LyingNode):
    """Answers GetValidators with a set of its own keys (it could sign anything with them)."""

    def __init__(self, real: str):
        super().__init__(real, 0, None)
        from ledger.crypto import PrivateKey

        self.fake = PrivateKey.generate().public

    def GetValidators(self, request, context):
        return pb.ValidatorsResponse(height=request.height, validators=[pb.Validator(pubkey=self.fake, power=10)])


def test_a_node_that_reports_its_own_validator_set_is_refused(chain, tmp_path):
    server, addr = _serve(LyingValidators(chain.grpc))
    try:
        ix = Index(str(tmp_path / "ix.sqlite"))
        f = Follower(ix, addr, retry=0.1)
        run_follower(f, 60, "the follower should stop at the lying validator set")
        assert f.error is not None and "not the one its header names" in f.error
        assert ix.height() == 0
        ix.close()
    finally:
        server.stop(0)
