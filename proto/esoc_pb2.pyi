from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitTxRequest(_message.Message):
    __slots__ = ("tx",)
    TX_FIELD_NUMBER: _ClassVar[int]
    tx: bytes
    def __init__(self, tx: _Optional[bytes] = ...) -> None: ...

class SubmitTxResponse(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    def __init__(self, hash: _Optional[bytes] = ...) -> None: ...

class TxResult(_message.Message):
    __slots__ = ("hash", "code", "reason")
    HASH_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    code: int
    reason: str
    def __init__(self, hash: _Optional[bytes] = ..., code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class SimulateTxRequest(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SimulatedTx(_message.Message):
    __slots__ = ("code", "reason", "receipt")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    receipt: bytes
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ..., receipt: _Optional[bytes] = ...) -> None: ...

class SimulateTxResponse(_message.Message):
    __slots__ = ("results", "height")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SimulatedTx]
    height: int
    def __init__(self, results: _Optional[_Iterable[_Union[SimulatedTx, _Mapping]]] = ..., height: _Optional[int] = ...) -> None: ...

class SubmitTxBatchRequest(_message.Message):
    __slots__ = ("txs",)
    TXS_FIELD_NUMBER: _ClassVar[int]
    txs: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, txs: _Optional[_Iterable[bytes]] = ...) -> None: ...

class SubmitTxBatchResponse(_message.Message):
    __slots__ = ("results", "accepted")
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[TxResult]
    accepted: int
    def __init__(self, results: _Optional[_Iterable[_Union[TxResult, _Mapping]]] = ..., accepted: _Optional[int] = ...) -> None: ...

class GetAccountRequest(_message.Message):
    __slots__ = ("address", "height", "prove")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PROVE_FIELD_NUMBER: _ClassVar[int]
    address: str
    height: int
    prove: bool
    def __init__(self, address: _Optional[str] = ..., height: _Optional[int] = ..., prove: _Optional[bool] = ...) -> None: ...

class AccountResponse(_message.Message):
    __slots__ = ("address", "exists", "balance", "nonce", "kind", "roles", "name", "height", "state_root", "value", "proof")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    NONCE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    address: str
    exists: bool
    balance: int
    nonce: int
    kind: str
    roles: _containers.RepeatedScalarFieldContainer[str]
    name: str
    height: int
    state_root: bytes
    value: bytes
    proof: bytes
    def __init__(self, address: _Optional[str] = ..., exists: _Optional[bool] = ..., balance: _Optional[int] = ..., nonce: _Optional[int] = ..., kind: _Optional[str] = ..., roles: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ..., height: _Optional[int] = ..., state_root: _Optional[bytes] = ..., value: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class GetStateRequest(_message.Message):
    __slots__ = ("path", "height", "prove")
    PATH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    PROVE_FIELD_NUMBER: _ClassVar[int]
    path: bytes
    height: int
    prove: bool
    def __init__(self, path: _Optional[bytes] = ..., height: _Optional[int] = ..., prove: _Optional[bool] = ...) -> None: ...

class StateResponse(_message.Message):
    __slots__ = ("exists", "value", "height", "state_root", "proof")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    PROOF_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    value: bytes
    height: int
    state_root: bytes
    proof: bytes
    def __init__(self, exists: _Optional[bool] = ..., value: _Optional[bytes] = ..., height: _Optional[int] = ..., state_root: _Optional[bytes] = ..., proof: _Optional[bytes] = ...) -> None: ...

class GetBlockRequest(_message.Message):
    __slots__ = ("height", "hash")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ...) -> None: ...

class BlockResponse(_message.Message):
    __slots__ = ("height", "hash", "block", "commit", "state_root", "time_ms", "proposer", "tx_hashes", "receipts")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    BLOCK_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    PROPOSER_FIELD_NUMBER: _ClassVar[int]
    TX_HASHES_FIELD_NUMBER: _ClassVar[int]
    RECEIPTS_FIELD_NUMBER: _ClassVar[int]
    height: int
    hash: bytes
    block: bytes
    commit: bytes
    state_root: bytes
    time_ms: int
    proposer: bytes
    tx_hashes: _containers.RepeatedScalarFieldContainer[bytes]
    receipts: bytes
    def __init__(self, height: _Optional[int] = ..., hash: _Optional[bytes] = ..., block: _Optional[bytes] = ..., commit: _Optional[bytes] = ..., state_root: _Optional[bytes] = ..., time_ms: _Optional[int] = ..., proposer: _Optional[bytes] = ..., tx_hashes: _Optional[_Iterable[bytes]] = ..., receipts: _Optional[bytes] = ...) -> None: ...

class GetTxRequest(_message.Message):
    __slots__ = ("hash",)
    HASH_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    def __init__(self, hash: _Optional[bytes] = ...) -> None: ...

class TxResponse(_message.Message):
    __slots__ = ("hash", "found", "pending", "height", "index", "tx", "code", "gas_used", "receipt")
    HASH_FIELD_NUMBER: _ClassVar[int]
    FOUND_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TX_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    RECEIPT_FIELD_NUMBER: _ClassVar[int]
    hash: bytes
    found: bool
    pending: bool
    height: int
    index: int
    tx: bytes
    code: int
    gas_used: int
    receipt: bytes
    def __init__(self, hash: _Optional[bytes] = ..., found: _Optional[bool] = ..., pending: _Optional[bool] = ..., height: _Optional[int] = ..., index: _Optional[int] = ..., tx: _Optional[bytes] = ..., code: _Optional[int] = ..., gas_used: _Optional[int] = ..., receipt: _Optional[bytes] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("chain_id", "height", "block_hash", "state_root", "time_ms", "mempool_size", "node_pubkey", "validator", "catching_up", "peers", "version", "genesis_hash", "round")
    CHAIN_ID_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    BLOCK_HASH_FIELD_NUMBER: _ClassVar[int]
    STATE_ROOT_FIELD_NUMBER: _ClassVar[int]
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    MEMPOOL_SIZE_FIELD_NUMBER: _ClassVar[int]
    NODE_PUBKEY_FIELD_NUMBER: _ClassVar[int]
    VALIDATOR_FIELD_NUMBER: _ClassVar[int]
    CATCHING_UP_FIELD_NUMBER: _ClassVar[int]
    PEERS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    GENESIS_HASH_FIELD_NUMBER: _ClassVar[int]
    ROUND_FIELD_NUMBER: _ClassVar[int]
    chain_id: str
    height: int
    block_hash: bytes
    state_root: bytes
    time_ms: int
    mempool_size: int
    node_pubkey: bytes
    validator: bool
    catching_up: bool
    peers: int
    version: str
    genesis_hash: bytes
    round: int
    def __init__(self, chain_id: _Optional[str] = ..., height: _Optional[int] = ..., block_hash: _Optional[bytes] = ..., state_root: _Optional[bytes] = ..., time_ms: _Optional[int] = ..., mempool_size: _Optional[int] = ..., node_pubkey: _Optional[bytes] = ..., validator: _Optional[bool] = ..., catching_up: _Optional[bool] = ..., peers: _Optional[int] = ..., version: _Optional[str] = ..., genesis_hash: _Optional[bytes] = ..., round: _Optional[int] = ...) -> None: ...

class GetValidatorsRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class Validator(_message.Message):
    __slots__ = ("pubkey", "power", "name")
    PUBKEY_FIELD_NUMBER: _ClassVar[int]
    POWER_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    pubkey: bytes
    power: int
    name: str
    def __init__(self, pubkey: _Optional[bytes] = ..., power: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class ValidatorsResponse(_message.Message):
    __slots__ = ("height", "validators", "hash")
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    VALIDATORS_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    height: int
    validators: _containers.RepeatedCompositeFieldContainer[Validator]
    hash: bytes
    def __init__(self, height: _Optional[int] = ..., validators: _Optional[_Iterable[_Union[Validator, _Mapping]]] = ..., hash: _Optional[bytes] = ...) -> None: ...

class StreamBlocksRequest(_message.Message):
    __slots__ = ("from_height",)
    FROM_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    from_height: int
    def __init__(self, from_height: _Optional[int] = ...) -> None: ...

class ListLawsRequest(_message.Message):
    __slots__ = ("height",)
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    height: int
    def __init__(self, height: _Optional[int] = ...) -> None: ...

class LawInfo(_message.Message):
    __slots__ = ("name", "version", "code_hash", "since_height", "entries", "views", "summary", "enacted_by")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CODE_HASH_FIELD_NUMBER: _ClassVar[int]
    SINCE_HEIGHT_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    VIEWS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    ENACTED_BY_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    code_hash: bytes
    since_height: int
    entries: _containers.RepeatedScalarFieldContainer[str]
    views: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    enacted_by: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., code_hash: _Optional[bytes] = ..., since_height: _Optional[int] = ..., entries: _Optional[_Iterable[str]] = ..., views: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., enacted_by: _Optional[int] = ...) -> None: ...

class ListLawsResponse(_message.Message):
    __slots__ = ("laws",)
    LAWS_FIELD_NUMBER: _ClassVar[int]
    laws: _containers.RepeatedCompositeFieldContainer[LawInfo]
    def __init__(self, laws: _Optional[_Iterable[_Union[LawInfo, _Mapping]]] = ...) -> None: ...

class GetLawRequest(_message.Message):
    __slots__ = ("name", "version", "height")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    height: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., height: _Optional[int] = ...) -> None: ...

class LawResponse(_message.Message):
    __slots__ = ("info", "source", "versions")
    INFO_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    info: LawInfo
    source: str
    versions: _containers.RepeatedCompositeFieldContainer[LawInfo]
    def __init__(self, info: _Optional[_Union[LawInfo, _Mapping]] = ..., source: _Optional[str] = ..., versions: _Optional[_Iterable[_Union[LawInfo, _Mapping]]] = ...) -> None: ...

class EvalLawRequest(_message.Message):
    __slots__ = ("name", "function", "args", "height", "source", "gas_limit")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    ARGS_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    GAS_LIMIT_FIELD_NUMBER: _ClassVar[int]
    name: str
    function: str
    args: bytes
    height: int
    source: str
    gas_limit: int
    def __init__(self, name: _Optional[str] = ..., function: _Optional[str] = ..., args: _Optional[bytes] = ..., height: _Optional[int] = ..., source: _Optional[str] = ..., gas_limit: _Optional[int] = ...) -> None: ...

class EvalLawResponse(_message.Message):
    __slots__ = ("code", "value", "gas_used", "error", "events")
    CODE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    GAS_USED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    code: int
    value: bytes
    gas_used: int
    error: str
    events: bytes
    def __init__(self, code: _Optional[int] = ..., value: _Optional[bytes] = ..., gas_used: _Optional[int] = ..., error: _Optional[str] = ..., events: _Optional[bytes] = ...) -> None: ...
