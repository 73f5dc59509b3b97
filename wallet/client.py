"""A gRPC client for an esoc node, as any outside program would use it.

Errors come back as :class:`ClientError` with a one-line reason: the node's
own reason for a rejected request, or what went wrong reaching it.
"""

from __future__ import annotations

import os
import time

import grpc

from ledger.address import decode_address
from ledger.codec import encode
from ledger.crypto import PrivateKey
from ledger.tx import SignedTx, sign_tx
from proto import esoc_pb2 as pb
from proto import esoc_pb2_grpc as pbg

DEFAULT_NODE = "127.0.0.1:50051"
DEFAULT_EXPIRY = 300  # blocks a signed transaction stays valid


class ClientError(Exception):
    def __init__(self, message: str, status: grpc.StatusCode | None = None):
        super().__init__(message)
        self.status = status


def _read_pem(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ClientError(f"cannot read the {what} {path}: {e.strerror or e}") from None


class Client:
    """A connection to a node.  TLS when given a CA (``tls_ca``, or the ``ESOC_TLS_CA``
    environment variable): the node's certificate must be signed by it.  For a node
    that asks for client certificates (mutual TLS), ``tls_cert``/``tls_key`` (or
    ``ESOC_TLS_CERT``/``ESOC_TLS_KEY``) name this client's certificate and key (PEM files)."""

    def __init__(self, target: str = DEFAULT_NODE, timeout: float = 15.0, tls_ca: str | None = None,
                 tls_cert: str | None = None, tls_key: str | None = None):
        self.target = target
        self.timeout = timeout
        tls_ca = tls_ca or os.environ.get("ESOC_TLS_CA") or None
        tls_cert = tls_cert or os.environ.get("ESOC_TLS_CERT") or None
        tls_key = tls_key or os.environ.get("ESOC_TLS_KEY") or None
        options = [("grpc.max_receive_message_length", 16 * 1024 * 1024), ("grpc.max_send_message_length", 16 * 1024 * 1024)]
        if bool(tls_cert) != bool(tls_key):
            raise ClientError("a client certificate and its key go together (tls_cert and tls_key)")
        if tls_ca:
            creds = grpc.ssl_channel_credentials(
                root_certificates=_read_pem(tls_ca, "TLS CA file"),
                private_key=_read_pem(tls_key, "TLS client key") if tls_key else None,
                certificate_chain=_read_pem(tls_cert, "TLS client certificate") if tls_cert else None,
            )
            self.channel = grpc.secure_channel(target, creds, options=options)
        elif tls_cert:
            raise ClientError("a client certificate is used over TLS: give the node's CA too (tls_ca / ESOC_TLS_CA)")
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.stub = pbg.NodeStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def _call(self, method: str, request, timeout: float | None = None):
        try:
            return getattr(self.stub, method)(request, timeout=timeout or self.timeout)
        except grpc.RpcError as e:
            code = e.code()
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ClientError(f"cannot reach a node at {self.target} (is it running? set --node or ESOC_NODE)", code) from None
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ClientError(f"the node at {self.target} did not answer in time", code) from None
            raise ClientError(e.details() or code.name, code) from None

    # ---- reads ------------------------------------------------------------
    def status(self) -> pb.StatusResponse:
        return self._call("Status", pb.StatusRequest())

    def account(self, address: str, height: int = 0, prove: bool = False) -> pb.AccountResponse:
        return self._call("GetAccount", pb.GetAccountRequest(address=address, height=height, prove=prove))

    def state(self, path: tuple, height: int = 0, prove: bool = False) -> pb.StateResponse:
        return self._call("GetState", pb.GetStateRequest(path=encode(list(path)), height=height, prove=prove))

    def block(self, height: int = 0, block_hash: bytes = b"") -> pb.BlockResponse:
        return self._call("GetBlock", pb.GetBlockRequest(height=height, hash=block_hash))

    def tx(self, tx_hash: bytes) -> pb.TxResponse:
        return self._call("GetTx", pb.GetTxRequest(hash=tx_hash))

    def validators(self, height: int = 0) -> pb.ValidatorsResponse:
        return self._call("GetValidators", pb.GetValidatorsRequest(height=height))

    def stream_blocks(self, from_height: int = 1):
        try:
            yield from self.stub.StreamBlocks(pb.StreamBlocksRequest(from_height=from_height))
        except grpc.RpcError as e:
            if e.code() == grpc.StatusCode.CANCELLED:
                return
            raise ClientError(e.details() or e.code().name, e.code()) from None

    def list_laws(self, height: int = 0) -> pb.ListLawsResponse:
        return self._call("ListLaws", pb.ListLawsRequest(height=height))

    def get_law(self, name: str, version: int = 0, height: int = 0) -> pb.LawResponse:
        return self._call("GetLaw", pb.GetLawRequest(name=name, version=version, height=height))

    def eval_law(self, name: str, function: str, args: dict, height: int = 0, source: str = "", gas_limit: int = 0) -> pb.EvalLawResponse:
        return self._call(
            "EvalLaw",
            pb.EvalLawRequest(name=name, function=function, args=encode(args), height=height, source=source, gas_limit=gas_limit),
        )

    # ---- writes -----------------------------------------------------------
    def submit(self, tx: SignedTx | bytes, retries: int = 4) -> bytes:
        """Submit one transaction; a node that is busy (RESOURCE_EXHAUSTED) is asked again after
        the wait it hints (node/admission.py), up to ``retries`` times."""
        raw = tx if isinstance(tx, bytes) else tx.raw
        for attempt in range(retries + 1):
            try:
                return self._call("SubmitTx", pb.SubmitTxRequest(tx=raw)).hash
            except ClientError as e:
                if e.status != grpc.StatusCode.RESOURCE_EXHAUSTED or attempt == retries:
                    raise
                time.sleep(backoff_s(str(e), attempt))
        raise AssertionError("unreachable")

    def submit_batch(self, txs: list) -> pb.SubmitTxBatchResponse:
        raws = [t if isinstance(t, bytes) else t.raw for t in txs]
        return self._call("SubmitTxBatch", pb.SubmitTxBatchRequest(txs=raws), timeout=60)

    def sign(self, key: PrivateKey, kind: str, payload, nonce: int | None = None, expiry_blocks: int = DEFAULT_EXPIRY) -> SignedTx:
        """Sign a transaction with the sender's next nonce from the node."""
        from ledger.address import address_of, encode_address

        st = self.status()
        if nonce is None:
            nonce = self.account(encode_address(address_of(key.public))).nonce
        return sign_tx(key, st.chain_id, kind, payload, nonce, st.height + expiry_blocks)

    def simulate(self, txs: list) -> pb.SimulateTxResponse:
        """Execute signed transactions in order against the latest state, keeping nothing (a dry run; <= 500)."""
        raws = [t if isinstance(t, bytes) else t.raw for t in txs]
        return self._call("SimulateTx", pb.SimulateTxRequest(txs=raws), timeout=60)

    def wait_for_tx(self, tx_hash: bytes, timeout: float = 30.0, poll: float = 0.2) -> pb.TxResponse:
        """Poll until the transaction is in a committed block (a client-side wait)."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.tx(tx_hash)
            if r.found and not r.pending:
                return r
            if time.monotonic() > deadline:
                raise ClientError(f"transaction {tx_hash.hex()} not committed within {timeout:.0f}s")
            time.sleep(poll)


def backoff_s(reason: str, attempt: int) -> float:
    """The wait before retrying a refused submission: the node's hint, else exponential, with jitter."""
    import random
    import re

    m = re.search(r"retry after (\d+) ms", reason or "")  # the hint's form: node/admission.py
    base = int(m.group(1)) / 1000 if m else min(8.0, 0.25 * 2 ** attempt)
    return base * (1 + 0.25 * random.random())


def parse_address_arg(text: str) -> bytes:
    return decode_address(text)
