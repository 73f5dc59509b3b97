"""The gRPC server: the node's public API (proto/esoc.proto).

gRPC's Python server runs handlers in a thread pool.  Reads go straight to
LevelDB (plyvel is thread-safe; a block is written in one atomic batch).
Writes, that is transaction admission, are bridged into the node's trio
loop with ``trio.from_thread.run_sync``, after the expensive part has run:
strict decoding in the worker thread, and the Ed25519 checks of a batch in the
node's signature worker processes (``node/verifier.py``; a single
transaction or a small batch is checked in the worker thread itself).

Every malformed request gets INVALID_ARGUMENT with a one-line reason; a
flooding client gets RESOURCE_EXHAUSTED from a per-client token bucket; no
handler lets an exception escape (gRPC would turn it into UNKNOWN and log a
traceback).

Transport security (:class:`ServerTls`): plaintext by default (bind to
loopback), TLS with ``tls_cert``/``tls_key``, mutual TLS with
``tls_client_ca`` (the TLS layer refuses a client without a certificate that
CA signed) and optionally ``tls_client_allow``, the SHA-256 fingerprints of
the client certificates admitted to the Node service (others get
PERMISSION_DENIED naming their fingerprint).  A client is identified by its
certificate's fingerprint when it presented one, else by its address; the
submit rate limit is kept per identity, so clients behind one proxy or NAT
with their own certificates do not share a budget.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import ssl
import threading
import time
from concurrent import futures

import grpc
import trio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from contracts.runtime.pilot import PilotError
from ledger import codes
from ledger.address import AddressError, decode_address, encode_address
from ledger.block import Block
from ledger.codec import CodecError, decode, encode
from ledger.state import Account, acct_path, path_bytes
from ledger.tx import TxError, decode_tx
from .verifier import known_sender, verify_txs
from proto import esoc_pb2 as pb
from proto import esoc_pb2_grpc as pbg

from chain.mempool import Rejected

from .statesync import add_statesync_service

MAX_BATCH = 10_000
MAX_SIMULATE = 500
VERSION = "esoc/0.1.0"


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock=time.monotonic):
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, who: str, n: int = 1) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(who, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens < n:
                self._buckets[who] = (tokens, now)
                return False
            self._buckets[who] = (tokens - n, now)
            if len(self._buckets) > 10_000:  # forget idle clients
                self._buckets.pop(next(iter(self._buckets)))
            return True


def cert_fingerprint(pem: bytes | str) -> bytes:
    """SHA-256 of a certificate's DER encoding (what ``openssl x509 -fingerprint -sha256`` prints)."""
    text = pem.decode() if isinstance(pem, bytes) else pem
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(text)).digest()


def _peer_cert_fingerprint(context) -> bytes | None:
    try:
        certs = context.auth_context().get("x509_pem_cert")
    except Exception:  # noqa: BLE001 - no auth context: a plaintext connection
        return None
    if not certs:
        return None
    try:
        return cert_fingerprint(certs[0])
    except ValueError:
        return None


def _client(context) -> str:
    """The identity the rate limit is kept for: the client certificate, else the address."""
    fp = _peer_cert_fingerprint(context)
    if fp is not None:
        return "cert:" + fp.hex()
    peer = context.peer() or ""
    # "ipv4:127.0.0.1:5555" -> "ipv4:127.0.0.1"
    return peer.rsplit(":", 1)[0]


@dataclasses.dataclass
class ServerTls:
    """The gRPC server's TLS material (PEM bytes) and client allow-list."""

    cert: bytes
    key: bytes
    client_ca: bytes | None = None  # set: mutual TLS, a client certificate is required
    allow: frozenset = frozenset()  # client certificate fingerprints; empty: any the CA signed

    @classmethod
    def from_config(cls, cfg, home) -> "ServerTls | None":
        """From a NodeConfig (``tls_*`` keys); None when TLS is off.  Raises OSError naming a missing file."""
        if not cfg.tls_cert:
            return None

        def read(name: str) -> bytes:
            path = home.file(name)
            try:
                with open(path, "rb") as f:
                    return f.read()
            except OSError as e:
                raise OSError(f"cannot read {path}: {e.strerror or e}") from None

        try:  # the certificate, the key and that they match, checked now rather than by a silent gRPC
            ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(home.file(cfg.tls_cert),
                                                                                home.file(cfg.tls_key))
        except (OSError, ssl.SSLError) as e:
            raise OSError(f"tls_cert {home.file(cfg.tls_cert)} / tls_key {home.file(cfg.tls_key)}: "
                          f"{getattr(e, 'strerror', None) or e}") from None
        if cfg.tls_client_ca:
            try:
                ssl.create_default_context(cafile=home.file(cfg.tls_client_ca))
            except (OSError, ssl.SSLError) as e:
                raise OSError(f"tls_client_ca {home.file(cfg.tls_client_ca)}: {getattr(e, 'strerror', None) or e}") from None
        return cls(read(cfg.tls_cert), read(cfg.tls_key), read(cfg.tls_client_ca) if cfg.tls_client_ca else None,
                   cfg.tls_fingerprints())

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.ssl_server_credentials([(self.key, self.cert)], root_certificates=self.client_ca,
                                           require_client_auth=self.client_ca is not None)


class Malformed:
    """Stands for a request body that is not valid protobuf (see :func:`_safe`)."""

    __slots__ = ()


def _safe(deserialize):
    """A request deserializer that never raises: bad bytes become :class:`Malformed`,
    which the handler answers with INVALID_ARGUMENT (grpcio would say INTERNAL)."""

    def load(data: bytes):
        try:
            return deserialize(data)
        except Exception:
            return Malformed()

    return load


def guarded(fn):
    """Turn known errors into gRPC statuses with a reason; never leak a traceback."""

    @functools.wraps(fn)
    def wrapper(self, request, context):
        if isinstance(request, Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request body is not a valid protobuf message")
        try:
            return fn(self, request, context)
        except PilotError as e:  # a pilot's worker failed: the query fails, the node goes on
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(e))
        except (CodecError, TxError, AddressError, ValueError) as e:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(e) or type(e).__name__)
        except Rejected as e:
            status = grpc.StatusCode.RESOURCE_EXHAUSTED if e.code in (codes.MEMPOOL_FULL, codes.RATE_LIMITED) else grpc.StatusCode.INVALID_ARGUMENT
            context.abort(status, f"{codes.name(e.code)}: {e.reason}")
        except trio.RunFinishedError:
            context.abort(grpc.StatusCode.UNAVAILABLE, "node is shutting down")

    return wrapper


class NodeServicer(pbg.NodeServicer):
    def __init__(self, node, trio_token, rate: int = 20000, burst: int = 40000, allow: frozenset = frozenset()):
        self.node = node
        self.token = trio_token
        self.bucket = TokenBucket(rate, burst)
        self.allow = allow  # client certificate fingerprints admitted (empty: no allow-list); replaced on reload

    def refused(self, context) -> str | None:
        """Why this client may not use the service, or None."""
        allow = self.allow
        if not allow:
            return None
        fp = _peer_cert_fingerprint(context)
        if fp is None:
            return "this node admits only clients with a listed certificate (tls_client_allow)"
        if fp not in allow:
            return f"client certificate {fp.hex()} is not on this node's allow-list (tls_client_allow)"
        return None

    # ---- writes -----------------------------------------------------------
    def _decode(self, raw: bytes):
        tx = known_sender(decode_tx(raw))
        if tx.body.chain_id != self.node.chain_id:
            raise Rejected(codes.WRONG_CHAIN, f"transaction is for chain {tx.body.chain_id!r}, this is {self.node.chain_id!r}")
        return tx

    def _prepare(self, raw: bytes):
        tx = self._decode(raw)
        if not tx.verify_signature():
            raise Rejected(codes.BAD_SIGNATURE, "signature does not verify")
        return tx

    def _admit(self, txs: list) -> list:
        return trio.from_thread.run_sync(self.node.admit_many, txs, trio_token=self.token)

    @guarded
    def SubmitTx(self, request, context):
        if not self.bucket.take(_client(context)):
            raise Rejected(codes.RATE_LIMITED, "too many transactions from this client; slow down")
        tx = self._prepare(request.tx)
        res = self._admit([tx])[0]
        if isinstance(res, Rejected):
            raise res
        return pb.SubmitTxResponse(hash=res)

    def _batch(self, raws, context) -> pb.SubmitTxBatchResponse:
        results: list = [None] * len(raws)
        ok = []
        refused = getattr(self.node, "admission_refusals", lambda n: [])(len(raws))  # over the latency bound
        for i, rej in enumerate(refused, start=len(raws) - len(refused)):
            results[i] = pb.TxResult(code=rej.code, reason=rej.reason)
        decoded = []
        for i, raw in enumerate(raws[:len(raws) - len(refused)]):
            try:
                decoded.append((i, self._decode(raw)))  # decoded once, here; never again on this node
            except (TxError, CodecError) as e:
                results[i] = pb.TxResult(code=codes.MALFORMED, reason=str(e))
            except Rejected as e:
                results[i] = pb.TxResult(code=e.code, reason=e.reason)
        # what the mempool would refuse whatever the signature (a nonce gap behind a refused transaction,
        # a duplicate, an expired one) is answered now, on the node's thread, without a signature check
        pre = getattr(self.node, "refusals_before_signatures", None)
        if pre is not None and decoded:
            keep = []
            for (i, tx), rej in zip(decoded, trio.from_thread.run_sync(pre, [t for _, t in decoded],
                                                                       trio_token=self.token)):
                if rej is None:
                    keep.append((i, tx))
                else:
                    results[i] = pb.TxResult(hash=tx.hash, code=rej.code, reason=rej.reason)
            decoded = keep
        # signatures checked in the node's worker processes (node/verifier.py), this thread waiting
        verdicts = verify_txs(getattr(self.node, "verifier", None), [t for _, t in decoded])
        for (i, tx), good in zip(decoded, verdicts):
            if good:
                ok.append((i, tx))
            else:
                results[i] = pb.TxResult(code=codes.BAD_SIGNATURE, reason="signature does not verify")
        if ok:
            outs = self._admit([t for _, t in ok])
            for (i, tx), out in zip(ok, outs):
                if isinstance(out, Rejected):
                    results[i] = pb.TxResult(hash=tx.hash, code=out.code, reason=out.reason)
                else:
                    results[i] = pb.TxResult(hash=out, code=0)
        accepted = sum(1 for r in results if r.code == 0)
        return pb.SubmitTxBatchResponse(results=results, accepted=accepted)

    @guarded
    def SubmitTxBatch(self, request, context):
        if len(request.txs) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} transactions per batch")
        if not self.bucket.take(_client(context), len(request.txs)):
            raise Rejected(codes.RATE_LIMITED, "too many transactions from this client; slow down")
        return self._batch(list(request.txs), context)

    @guarded
    def SubmitTxStream(self, request_iterator, context):
        results = []
        accepted = 0
        chunk = []
        client = _client(context)
        for req in request_iterator:
            if isinstance(req, Malformed):
                raise ValueError("a streamed request is not a valid protobuf message")
            chunk.append(req.tx)
            if len(chunk) >= 500:
                if not self.bucket.take(client, len(chunk)):
                    raise Rejected(codes.RATE_LIMITED, "too many transactions from this client; slow down")
                r = self._batch(chunk, context)
                results.extend(r.results)
                accepted += r.accepted
                chunk = []
        if chunk:
            if not self.bucket.take(client, len(chunk)):
                raise Rejected(codes.RATE_LIMITED, "too many transactions from this client; slow down")
            r = self._batch(chunk, context)
            results.extend(r.results)
            accepted += r.accepted
        return pb.SubmitTxBatchResponse(results=results, accepted=accepted)

    # ---- reads ------------------------------------------------------------
    def _height(self, requested: int) -> int:
        top = self.node.store.height()
        if requested == 0:
            return top
        if requested > top:
            raise ValueError(f"height {requested} is above the latest committed height {top}")
        return requested

    @guarded
    def GetAccount(self, request, context):
        addr = decode_address(request.address)
        store = self.node.store
        height = self._height(request.height)
        path = acct_path(addr)
        if request.prove or request.height:
            value = store.read_at(path, height)
        else:
            value = store.read_latest(path_bytes(path))
        resp = pb.AccountResponse(address=encode_address(addr), height=height, state_root=store.state_root(height))
        if value is not None:
            a = Account.decode(value)
            resp.exists = True
            resp.balance, resp.nonce, resp.kind, resp.name = a.balance, a.nonce, a.kind, a.name
            resp.roles.extend(a.roles)
            resp.value = value
        if request.prove:
            root, proof = store.prove(path, height)
            resp.state_root = root
            resp.proof = proof.encode()
        return resp

    @guarded
    def GetState(self, request, context):
        parts = decode(request.path)
        if not isinstance(parts, list) or not parts:
            raise ValueError("path must be a canonical non-empty list")
        path = tuple(parts)
        store = self.node.store
        height = self._height(request.height)
        value = store.read_at(path, height)
        resp = pb.StateResponse(exists=value is not None, value=value or b"", height=height, state_root=store.state_root(height))
        if request.prove:
            _, proof = store.prove(path, height)
            resp.proof = proof.encode()
        return resp

    def _block_response(self, height: int) -> pb.BlockResponse:
        store = self.node.store
        raw = store.block_bytes(height)
        if raw is None:
            raise ValueError(f"no block at height {height}")
        blk = Block.decode(raw)
        commit = store.commit(height)
        from ledger.tx import tx_hash

        return pb.BlockResponse(
            height=height,
            hash=blk.hash,
            block=raw,
            commit=commit.encode() if commit is not None else b"",
            state_root=blk.header.state_root,
            time_ms=blk.header.time_ms,
            proposer=blk.header.proposer,
            tx_hashes=[tx_hash(t) for t in blk.txs],
            receipts=store.receipts_bytes(height),  # stored canonical: not decoded and encoded again
        )

    @guarded
    def GetBlock(self, request, context):
        if request.hash:
            h = self.node.store.height_of(request.hash)
            if h is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "no block with that hash")
        else:
            h = request.height or self.node.store.height()
            if h == 0:
                context.abort(grpc.StatusCode.NOT_FOUND, "no block has been committed yet")
            if h > self.node.store.height():
                context.abort(grpc.StatusCode.NOT_FOUND, f"no block at height {h} yet (latest is {self.node.store.height()})")
        return self._block_response(h)

    @guarded
    def GetTx(self, request, context):
        if len(request.hash) != 32:
            raise ValueError("a transaction hash is 32 bytes")
        store = self.node.store
        loc = store.tx_location(request.hash)
        if loc is None:
            pending = self.node.pending_tx(request.hash)
            if pending is not None:
                return pb.TxResponse(hash=request.hash, found=True, pending=True, tx=pending)
            return pb.TxResponse(hash=request.hash, found=False)
        height, index = loc
        blk = Block.decode(store.block_bytes(height))
        rc = store.receipts(height)[index]
        return pb.TxResponse(
            hash=request.hash, found=True, pending=False, height=height, index=index,
            tx=blk.txs[index], code=rc.code, gas_used=rc.gas_used, receipt=rc.encode(),
        )

    @guarded
    def Status(self, request, context):
        n = self.node
        store = n.store
        h = store.height()
        blk = store.block(h) if h else None
        return pb.StatusResponse(
            chain_id=n.chain_id,
            height=h,
            block_hash=blk.hash if blk else b"",
            state_root=store.state_root(h),
            time_ms=blk.header.time_ms if blk else n.genesis.genesis_time_ms,
            mempool_size=n.mempool_size(),
            node_pubkey=n.pubkey,
            validator=n.is_validator(),
            catching_up=n.catching_up(),
            peers=n.peer_count(),
            version=VERSION,
            genesis_hash=n.genesis.hash,
            round=n.current_round(),
        )

    @guarded
    def GetValidators(self, request, context):
        from chain.app import validators_hash

        h = request.height or (self.node.store.height() + 1)
        vals = self.node.validators_at(h)
        return pb.ValidatorsResponse(
            height=h,
            validators=[pb.Validator(pubkey=v.pubkey, power=v.power, name=v.name) for v in vals],
            hash=validators_hash(vals),
        )

    def StreamBlocks(self, request, context):
        if isinstance(request, Malformed):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request body is not a valid protobuf message")
        h = max(1, request.from_height or 1)
        cond = self.node.block_cond
        while context.is_active():
            top = self.node.store.height()
            if h <= top:
                yield self._block_response(h)
                h += 1
                continue
            with cond:
                cond.wait(timeout=1.0)
            if self.node.stopping:
                return

    # ---- laws -------------------------------------------------------------
    @guarded
    def ListLaws(self, request, context):
        laws = self._laws(context)
        return pb.ListLawsResponse(laws=[pb.LawInfo(**i) for i in laws.list(self._height(request.height))])

    @guarded
    def GetLaw(self, request, context):
        laws = self._laws(context)
        info, source, versions = laws.show(request.name, request.version or None, self._height(request.height))
        return pb.LawResponse(info=pb.LawInfo(**info), source=source, versions=[pb.LawInfo(**v) for v in versions])

    @guarded
    def EvalLaw(self, request, context):
        laws = self._laws(context)
        args = decode(request.args) if request.args else {}
        if not isinstance(args, dict):
            raise ValueError("args must be a map of keyword arguments")
        res = laws.eval(
            request.name, request.function, args, self._height(request.height),
            source=request.source or None, gas_limit=request.gas_limit or None,
        )
        return pb.EvalLawResponse(**res)

    @guarded
    def SimulateTx(self, request, context):
        """A dry run: execute signed transactions in order on a throw-away copy of the latest state."""
        from chain.execution import BlockContext, admission_error

        if not 0 < len(request.txs) <= MAX_SIMULATE:
            raise ValueError(f"1 to {MAX_SIMULATE} transactions per simulation")
        if not self.bucket.take(_client(context), len(request.txs)):
            raise Rejected(codes.RATE_LIMITED, "too many requests from this client; slow down")
        txs = [decode_tx(raw) for raw in request.txs]

        def run():  # on the node's trio thread: the state does not move underneath
            app = self.node.app
            height = app.height + 1
            state = app.state()  # never committed
            ctx = BlockContext(app.chain_id, height, app.last_time_ms() + 1, bytes(32))
            out = []
            for tx in txs:
                # signatures are not checked: nothing is kept, and a wallet's dry run signs nothing
                err = admission_error(state, tx, app.chain_id, height, verified=True)
                if err is not None:
                    out.append(pb.SimulatedTx(code=err[0], reason=err[1]))
                else:
                    receipt = app.executor.apply_tx(state, tx, ctx)
                    out.append(pb.SimulatedTx(code=receipt.code, receipt=receipt.encode()))
            return pb.SimulateTxResponse(results=out, height=height)

        return trio.from_thread.run_sync(run, trio_token=self.token)

    def _laws(self, context):
        laws = getattr(self.node, "laws", None)
        if laws is None:
            context.abort(grpc.StatusCode.UNIMPLEMENTED, "this node runs no policy contracts")
        return laws


def _admitted(servicer: NodeServicer, behaviour, streaming: bool):
    """``behaviour`` behind the client-certificate allow-list (PERMISSION_DENIED with the reason)."""
    if streaming:
        @functools.wraps(behaviour)
        def stream(request, context):
            why = servicer.refused(context)
            if why is not None:
                context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
            yield from behaviour(request, context)

        return stream

    @functools.wraps(behaviour)
    def unary(request, context):
        why = servicer.refused(context)
        if why is not None:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, why)
        return behaviour(request, context)

    return unary


def _add_node_service(server: grpc.Server, servicer: NodeServicer) -> None:
    """Register the Node service like the generated code does, with safe deserializers."""
    service = pb.DESCRIPTOR.services_by_name["Node"]
    handlers = {}
    for m in service.methods:
        req_cls = getattr(pb, m.input_type.name)
        resp_cls = getattr(pb, m.output_type.name)
        kind = {
            (False, False): grpc.unary_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler,
            (True, False): grpc.stream_unary_rpc_method_handler,
            (True, True): grpc.stream_stream_rpc_method_handler,
        }[(m.client_streaming, m.server_streaming)]
        behaviour = _admitted(servicer, getattr(servicer, m.name), m.server_streaming)
        handlers[m.name] = kind(behaviour, request_deserializer=_safe(req_cls.FromString),
                                response_serializer=resp_cls.SerializeToString)
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def start_grpc_server(node, listen: str, trio_token, rate: int, burst: int, workers: int = 16,
                      tls: ServerTls | None = None) -> tuple[grpc.Server, NodeServicer]:
    """Serve the Node, health and reflection services on ``listen``; TLS when ``tls`` is given."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grpc"),
        maximum_concurrent_rpcs=256,
        options=[
            ("grpc.max_receive_message_length", 16 * 1024 * 1024),
            ("grpc.max_send_message_length", 16 * 1024 * 1024),
            ("grpc.so_reuseport", 0),
        ],
    )
    servicer = NodeServicer(node, trio_token, rate, burst, allow=tls.allow if tls else frozenset())
    _add_node_service(server, servicer)
    add_statesync_service(server, getattr(node, "snapshots", None))
    hs = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(hs, server)
    hs.set("", health_pb2.HealthCheckResponse.SERVING)
    hs.set("esoc.v1.Node", health_pb2.HealthCheckResponse.SERVING)
    names = (pb.DESCRIPTOR.services_by_name["Node"].full_name, health.SERVICE_NAME, reflection.SERVICE_NAME)
    reflection.enable_server_reflection(names, server)
    try:
        port = server.add_secure_port(listen, tls.credentials()) if tls else server.add_insecure_port(listen)
    except RuntimeError:
        port = 0
    if port == 0:
        raise OSError(f"cannot listen for gRPC on {listen} (address in use or not available)")
    server.start()
    return server, servicer
