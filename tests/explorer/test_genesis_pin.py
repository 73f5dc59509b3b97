"""The explorer pinned to a trusted genesis (``--genesis FILE`` / ``--genesis-hash HEX``).

* A real node of another chain (a second devnet, its own genesis): the pinned
  explorer refuses it before indexing anything and says why on ``/status``,
  ``/api/status`` and the home page.
* A node that lies from genesis: it reports the real chain's genesis hash and
  streams block 1 signed by a key of its own (with a validator set of its
  own).  Trust on first use indexes that forged block; the genesis file pin
  refuses it.
* Without a pin the explorer keeps working and says the genesis is not pinned.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import pytest

from cli.devnet import explorer_command
from explorer.follower import Follower
from explorer.index import Index
from explorer.verify import pin_from_genesis, pin_from_hash
from ledger.block import Block, Commit, CommitSig, precommit_sign_bytes, validator_set_hash
from ledger.crypto import PrivateKey
from proto import esoc_pb2 as pb
from tests.e2e.harness import ROOT, Devnet, wait_until
from wallet.client import Client

from .conftest import ExplorerProc, http, run_follower
from .test_lying_node import LyingNode, _serve


def genesis_file(net: Devnet) -> str:
    return os.path.join(net.home, "genesis.json")


@pytest.fixture(scope="module")
def other(tmp_path_factory):
    """A real node of another chain: a second devnet, with its own genesis."""
    net = Devnet(str(tmp_path_factory.mktemp("other-net")), validators=1).start()
    try:
        net.wait_height(2)
        yield net
    finally:
        net.stop()


def test_a_pinned_explorer_refuses_a_node_of_another_chain_and_says_why(chain, other, tmp_path):
    pinned = open(genesis_file(chain.net)).read()
    pin_hash = pin_from_genesis(pinned).genesis_hash.hex()
    with Client(other.nodes[0].grpc) as c:
        assert c.status().genesis_hash.hex() != pin_hash  # really another chain
    ex = ExplorerProc(other.nodes[0].grpc, f"sqlite:///{tmp_path}/ix.sqlite", str(tmp_path / "ex.log"),
                      extra=("--genesis", genesis_file(chain.net))).start()
    try:
        st = wait_until(lambda: (lambda s: s if s["follow_error"] else None)(ex.status()), 60, "the refusal")
        assert "not the pinned genesis" in st["follow_error"] and pin_hash[:16] in st["follow_error"]
        assert st["genesis_pinned"] is True and st["genesis_pin"]["genesis_hash"] == pin_hash
        assert st["genesis_pin"]["validators"] == 1 and "block 1 checked against" in st["trust"]
        assert st["indexed_height"] == 0 and st["blocks"] == 0 and st["chain_id"] is None
        code, _, body = http(ex.url + "/")
        html = body.decode()
        assert code == 200 and "stopped following its node" in html and "not the pinned genesis" in html
        assert "pinned " + pin_hash[:16] in html
        code, _, body = http(ex.url + "/status")
        assert code == 200 and "not the pinned genesis" in body.decode() and pin_hash in body.decode()
        assert "genesis pinned: " + pin_hash[:16] in ex.log()
    finally:
        ex.stop()
    ix = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    assert ix.height() == 0 and ix.get_meta("genesis_hash") is None  # nothing from it
    ix.close()


def test_the_pinned_explorer_follows_its_own_chain(chain, tmp_path):
    pin = pin_from_genesis(open(genesis_file(chain.net)).read(), "test")
    ix = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    f = Follower(ix, chain.grpc, until=chain.top, retry=0.1, pin=pin)
    run_follower(f)
    assert f.error is None and ix.height() >= chain.top
    assert ix.get_meta("genesis_hash") == pin.genesis_hash.hex()
    ix.close()
    # the same index, later pinned to another genesis: refused, the index is not touched
    other_pin = dataclasses.replace(pin, genesis_hash=bytes(32), source="another")
    ix = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    top = ix.height()
    f = Follower(ix, chain.grpc, retry=0.1, pin=other_pin)
    run_follower(f)
    assert f.error and "the index holds the chain of genesis" in f.error and ix.height() == top
    ix.close()


def test_a_genesis_hash_pin_refuses_another_chain(other, chain, tmp_path):
    with Client(chain.grpc) as c:
        mine = c.status().genesis_hash.hex()
    ix = Index(f"sqlite:///{tmp_path}/ix.sqlite")
    f = Follower(ix, other.nodes[0].grpc, retry=0.1, pin=pin_from_hash(mine))
    run_follower(f)
    assert f.error and "not the pinned genesis" in f.error and ix.height() == 0
    ix.close()


class ForgedGenesis(LyingNode):
    """Claims the real chain (its Status, genesis hash and state are the real node's) but streams a
    block 1 signed by a key of its own, naming a validator set of its own, and reports that set."""

    def __init__(self, real: str):
        super().__init__(real, 1, None)
        self.key = PrivateKey.generate()
        self.powers = {self.key.public: 10}

    def GetValidators(self, request, context):
        return pb.ValidatorsResponse(height=request.height, validators=[pb.Validator(pubkey=self.key.public, power=10)],
                                     hash=validator_set_hash(self.powers))

    def StreamBlocks(self, request, context):
        for r in self.client.stream_blocks(request.from_height or 1):
            if not context.is_active() or r.height > 1:
                return
            b = Block.decode(r.block)
            vh = validator_set_hash(self.powers)
            forged = dataclasses.replace(b, header=dataclasses.replace(b.header, validators_hash=vh,
                                                                       next_validators_hash=vh))
            h = forged.hash
            sig = self.key.sign("vote", b.header.chain_id, precommit_sign_bytes(1, 0, h, self.key.public))
            out = pb.BlockResponse()
            out.CopyFrom(r)
            out.block, out.hash = forged.encode(), h
            out.commit = Commit(height=1, round=0, value_id=h, signatures=(CommitSig(self.key.public, sig),)).encode()
            yield out
            return


def test_a_node_lying_from_genesis_fools_trust_on_first_use_but_not_the_genesis_pin(chain, tmp_path):
    server, addr = _serve(ForgedGenesis(chain.grpc))
    try:
        # trust on first use: the forged block 1 is "verified" against the liar's own set
        ix = Index(f"sqlite:///{tmp_path}/tofu.sqlite")
        f = Follower(ix, addr, until=1, retry=0.1)
        run_follower(f)
        with Client(chain.grpc) as c:
            real1 = c.block(height=1).hash.hex()
        assert f.error is None and ix.height() == 1 and ix.block(1)["hash"] != real1  # the gap a pin closes
        ix.close()
        # pinned to the genesis file: block 1 must be signed by the genesis validators
        ix = Index(f"sqlite:///{tmp_path}/pinned.sqlite")
        pin = pin_from_genesis(open(genesis_file(chain.net)).read(), "genesis file")
        f = Follower(ix, addr, retry=0.1, pin=pin)
        run_follower(f)
        assert f.error and "not the pinned genesis's" in f.error, f.error
        assert ix.height() == 0
        ix.close()
    finally:
        server.stop(0)


def test_without_a_pin_the_status_says_so(explorer):
    st = explorer.status()
    assert st["genesis_pinned"] is False and st["genesis_pin"] is None and "not pinned" in st["trust"]
    assert st["follow_error"] is None and st["indexed_height"] >= 1
    code, _, body = http(explorer.url + "/")
    assert code == 200 and "not pinned" in body.decode()


def test_bad_pins_are_refused_at_the_command_line(chain, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "explorer", "--no-follow", "--db", f"sqlite:///{tmp_path}/i.sqlite",
                               *args], capture_output=True, text=True, cwd=ROOT, timeout=60, stdin=subprocess.DEVNULL)

    r = run("--genesis", str(tmp_path / "missing.json"))
    assert r.returncode == 2 and "cannot read the genesis file" in r.stdout
    bad = tmp_path / "bad.json"
    bad.write_text("{\"chain_id\": 1}")
    r = run("--genesis", str(bad))
    assert r.returncode == 2 and "not a genesis document" in r.stdout
    r = run("--genesis-hash", "xyz")
    assert r.returncode == 2 and "64 hexadecimal digits" in r.stdout
    r = run("--genesis", genesis_file(chain.net), "--genesis-hash", "00" * 32)
    assert r.returncode == 2 and "not the --genesis-hash" in r.stdout


def test_esoc_devnet_pins_its_genesis(tmp_path):
    (tmp_path / "genesis.json").write_text("{}")
    cmd = explorer_command(str(tmp_path), "127.0.0.1:1", 8080)
    assert cmd[cmd.index("--genesis") + 1] == str(tmp_path / "genesis.json")
    assert "--genesis" not in explorer_command(str(tmp_path / "none"), "127.0.0.1:1", 8080)
