"""gRPC over TLS and mutual TLS, with certificates made in the test (issue 14 fault 12).

A real node (its home, LevelDB, application) behind the real gRPC server, and the
wallet's :class:`wallet.client.Client` connecting as the CLI does.  Checked: TLS
with the node's CA, and nothing without it; mutual TLS refusing clients without a
certificate or with another CA's; the fingerprint allow-list (PERMISSION_DENIED
naming the certificate), changed by a config reload; the submit rate limit kept
per client certificate, not per address.
"""

from __future__ import annotations

import socket

import grpc
import pytest

from node.config import ConfigError, NodeConfig
from node.grpc_api import cert_fingerprint, start_grpc_server
from proto import esoc_pb2 as pb
from wallet.client import Client, ClientError

from .certs import Pki
from .conftest import make_home


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def pki(tmp_path) -> Pki:
    return Pki(str(tmp_path / "pki"))


class Served:
    def __init__(self, tmp_path, pki: Pki, **settings):
        from node.service import Node

        settings.setdefault("tls_cert", pki.server.cert_path)
        settings.setdefault("tls_key", pki.server.key_path)
        self.home = make_home(tmp_path, **settings)
        self.node = Node(self.home)
        self.target = f"127.0.0.1:{free_port()}"
        cfg = self.node.config
        self.server, self.servicer = start_grpc_server(self.node, self.target, None, cfg.submit_rate_per_s,
                                                       cfg.submit_burst, tls=self.node.tls)
        self.node.grpc_servicer = self.servicer

    def client(self, **kw) -> Client:
        return Client(self.target, timeout=5, **kw)

    def close(self) -> None:
        self.server.stop(grace=0).wait()
        self.node.store.close()


@pytest.fixture
def served(tmp_path, pki):
    made = []

    def start(**settings) -> Served:
        s = Served(tmp_path / f"n{len(made)}", pki, **settings)
        made.append(s)
        return s

    yield start
    for s in made:
        s.close()


def status_error(client: Client) -> ClientError:
    with pytest.raises(ClientError) as e:
        client.status()
    return e.value


def test_tls_with_the_nodes_ca_and_nothing_without_it(served, pki, monkeypatch):
    s = served()
    with s.client(tls_ca=pki.ca_path) as c:
        assert c.status().chain_id == "esoc-devnet"
    with s.client() as c:  # plaintext to a TLS node
        assert status_error(c).status == grpc.StatusCode.UNAVAILABLE
    with s.client(tls_ca=pki.rogue_ca_path) as c:  # a CA that did not sign the node's certificate
        assert status_error(c).status == grpc.StatusCode.UNAVAILABLE
    monkeypatch.setenv("ESOC_TLS_CA", pki.ca_path)  # what the CLI and the explorer read
    with s.client() as c:
        assert c.status().chain_id == "esoc-devnet"


def test_mutual_tls_admits_only_listed_client_certificates(served, pki):
    s = served(tls_client_ca=pki.ca_path, tls_client_allow=[pki.alice.fingerprint, pki.bob.fingerprint])
    with s.client(tls_ca=pki.ca_path, tls_cert=pki.alice.cert_path, tls_key=pki.alice.key_path) as c:
        assert c.status().chain_id == "esoc-devnet"
    with s.client(tls_ca=pki.ca_path) as c:  # no client certificate: the TLS handshake fails
        assert status_error(c).status == grpc.StatusCode.UNAVAILABLE
    with s.client(tls_ca=pki.ca_path, tls_cert=pki.mallory.cert_path, tls_key=pki.mallory.key_path) as c:
        assert status_error(c).status == grpc.StatusCode.UNAVAILABLE  # signed by another CA
    with s.client(tls_ca=pki.ca_path, tls_cert=pki.carol.cert_path, tls_key=pki.carol.key_path) as c:
        e = status_error(c)  # signed by the CA, not on the list: refused by the service, with the reason
        assert e.status == grpc.StatusCode.PERMISSION_DENIED
        assert pki.carol.fingerprint in str(e) and "tls_client_allow" in str(e)
        with pytest.raises(ClientError):  # streams too
            next(iter(c.stream_blocks(1)))
    assert cert_fingerprint(pki.carol.cert_pem).hex() == pki.carol.fingerprint


def test_allow_list_change_takes_effect_on_reload(served, pki):
    s = served(tls_client_ca=pki.ca_path, tls_client_allow=[pki.alice.fingerprint])
    carol = dict(tls_ca=pki.ca_path, tls_cert=pki.carol.cert_path, tls_key=pki.carol.key_path)
    with s.client(**carol) as c:
        assert status_error(c).status == grpc.StatusCode.PERMISSION_DENIED
    cfg = NodeConfig.load(s.home.config_file)
    cfg.tls_client_allow = [pki.alice.fingerprint, pki.carol.fingerprint]
    cfg.save(s.home.config_file)
    assert s.node.reload_config() is True  # what SIGHUP does
    with s.client(**carol) as c:
        assert c.status().chain_id == "esoc-devnet"
    # a config that does not validate changes nothing
    with open(s.home.config_file, "a") as f:
        f.write('log_format = "yaml"\n')
    assert s.node.reload_config() is False
    with s.client(**carol) as c:
        assert c.status().chain_id == "esoc-devnet"


def test_submit_rate_limit_is_kept_per_client_certificate(served, pki):
    """Before: the bucket was keyed on the peer address, so two clients on one host
    (or behind one proxy) shared a budget.  Now each certificate has its own."""
    s = served(tls_client_ca=pki.ca_path, submit_rate_per_s=0, submit_burst=2)
    alice = dict(tls_ca=pki.ca_path, tls_cert=pki.alice.cert_path, tls_key=pki.alice.key_path)
    bob = dict(tls_ca=pki.ca_path, tls_cert=pki.bob.cert_path, tls_key=pki.bob.key_path)

    def submit(kw) -> grpc.StatusCode:
        with s.client(**kw) as c:
            try:
                c.stub.SubmitTx(pb.SubmitTxRequest(tx=b"\x00 not a tx"), timeout=5)
            except grpc.RpcError as e:
                return e.code()
        raise AssertionError("a garbage transaction was accepted")

    assert [submit(alice) for _ in range(2)] == [grpc.StatusCode.INVALID_ARGUMENT] * 2  # within alice's budget
    assert submit(alice) == grpc.StatusCode.RESOURCE_EXHAUSTED  # alice's budget is spent ...
    assert submit(bob) == grpc.StatusCode.INVALID_ARGUMENT  # ... bob, from the same address, has his own


def test_tls_settings_are_checked_at_start(tmp_path, pki):
    from node.service import Node

    with pytest.raises(ConfigError, match="go together"):
        NodeConfig(tls_cert="server.crt").validate()
    with pytest.raises(ConfigError, match="needs tls_cert"):
        NodeConfig(tls_client_ca="ca.pem").validate()
    with pytest.raises(ConfigError, match="64 hex digits"):
        NodeConfig(tls_cert="a", tls_key="b", tls_client_ca="c", tls_client_allow=["abcd"]).validate()
    home = make_home(tmp_path / "a", tls_cert=pki.server.cert_path, tls_key=pki.alice.key_path)  # not its key
    with pytest.raises(ConfigError, match="tls_key"):
        Node(home)
    home = make_home(tmp_path / "b", tls_cert="missing.crt", tls_key="missing.key")
    with pytest.raises(ConfigError, match="missing.crt"):
        Node(home)
