"""Policy contracts on the chain: versions in state, the chain's ``Host``, calls and views.

State kept for contracts::

    ("contract", name)        {"versions": [{"version", "code_hash", "since"}, ...]}
    ("code", code_hash)       the source text (every version stays readable)
    ("cstore", name, key)     the contract's storage (canonical value bytes)
    ("cusage", name)          bytes of storage in use (the runtime's bound)
    ("beacon", height)        the randomness beacon of that height
    ("hook", name)            the outcome of the law's last ``on_block`` run

A law's money lives in an ordinary account at ``contract_address(name)``
(kind ``contract``), so every fen it holds is in the supply invariant.

A call at height ``h`` runs the version in force at ``h`` (the last one whose
``since`` is at most ``h``).  Genesis installs every module of
``contracts/laws/``; after that :func:`install_at_height` is the only way a
law changes, called by an enacted governance decision.

The beacon of height ``h`` is the chain's randomness ``R_{h+1}`` mixed in by
block ``h + 1``: the hash of ``R_h`` and the unique VRF output of block
``h + 1``'s proposer over ``[chain_id, h + 1, R_h]`` (consensus/beacon.py;
written by ``chain.app.mix_beacon``).  Nobody can grind it (the VRF has one
output per key and input); its limit: the proposer of block ``h + 1`` learns
it first and could withhold its block, one bit of bias per Byzantine
proposer in a row, at the price of its proposal and a visible round
(docs/security.md).  Laws use the beacon of a height fixed before anyone
could know it (a lottery draws with the beacon of a block after
applications close).
"""

from __future__ import annotations

import dataclasses
import logging
import threading

import msgpack

from contracts.runtime import CheckError, Contract, Effects, ErrorCode, Host, SandboxBreach, compile_contract
from contracts.runtime import execute as rt_execute
from contracts.runtime import run as rt_run
from contracts.runtime.pilot import run_pilot
from ledger import codes
from ledger.address import AddressError, decode_address, encode_address
from ledger.codec import U64_MAX, CodecError, decode, encode
from ledger.crypto import tagged_hash
from ledger.state import Account, State

from .errors import TxFailed
from .governance import enact_due, host_write, pilot_step, record_call
from .roles import index_genesis_roles, role_holders

log = logging.getLogger("esoc.laws")

HOOK_ENTRY = "on_block"
HOOK_GAS = 20_000_000
VIEW_GAS = 50_000_000
MAX_CALL_GAS = 200_000_000


class LawError(ValueError):
    pass


def contract_account(name: str) -> bytes:
    """The 20-byte account address holding contract ``name``'s funds."""
    return tagged_hash("contract address", name.encode("utf-8"))[:20]


ADDRESS_MEMO = 4096  # address texts remembered (a pure function: bytes -> bech32m text)
_address_text: dict[bytes, str] = {}
_contract_text: dict[str, str] = {}  # contract name -> its account's address text


_text_address: dict[str, bytes] = {}  # and back: a valid address text -> its 20 bytes


def address_text(addr: bytes) -> str:
    """``encode_address(addr)``, remembered: the checksum was a tenth of a wage payment's time."""
    t = _address_text.get(addr)
    if t is None:
        t = encode_address(addr)
        if len(_address_text) >= ADDRESS_MEMO:
            _address_text.clear()
        _address_text[addr] = t
    return t


def _addr(text: str) -> bytes | None:
    """``decode_address(text)``, None for a text that is not an address; valid answers remembered
    here (a law names the same few accounts in every call: one dict lookup, no exception frame)."""
    a = _text_address.get(text)
    if a is None:
        try:
            a = decode_address(text)
        except AddressError:
            return None
        if len(_text_address) >= ADDRESS_MEMO:
            _text_address.clear()
        _text_address[text] = a
    return a


class ChainHost(Host):
    """The chain as one contract call sees it, over a working state."""

    def __init__(self, laws: "Laws", state: State, sender: bytes | None, height: int, time_ms: int):
        self.laws = laws
        self.state = state
        self._sender = address_text(sender) if sender else ""
        self._height = height
        self._time = time_ms // 1000
        self.events: list = []
        self.events_raw: list = []  # the runtime's Event objects, as applied
        self.event_bytes: list = []  # beside ``events``: each one's canonical bytes when known, else None

    def sender(self) -> str:
        return self._sender

    def height(self) -> int:
        return self._height

    def time(self) -> int:
        return self._time

    def beacon(self, height: int) -> bytes | None:
        v = self.state.get_value(("beacon", height))
        return v if isinstance(v, bytes) else None

    def role_holders(self, role: str) -> list[str]:
        return [encode_address(a) for a in role_holders(self.state, role)]

    def has_role(self, address: str, role: str) -> bool:
        a = _addr(address)
        return a is not None and role in self.state.account(a).roles

    def account_kind(self, address: str) -> str:
        a = _addr(address)
        return "" if a is None else self.state.account(a).kind

    def balance(self, address: str) -> int:
        a = _addr(address)
        return 0 if a is None else self.state.account(a).balance

    def check_transfer(self, frm: str, to: str, amount: int) -> int:
        t = _addr(to)
        if t is None or _addr(frm) is None:
            return int(ErrorCode.TRANSFER_REFUSED)
        if not self.state.account(t).registered:
            return int(ErrorCode.TRANSFER_REFUSED)
        return 0

    def contract_source(self, name: str) -> str | None:
        v = self.laws.version_at(self.state, name, self._height)
        return None if v is None else self.laws.source(self.state, v["code_hash"])

    def contract_address(self, name: str) -> str:
        a = _contract_text.get(name)
        if a is None:
            a = encode_address(contract_account(name))
            if len(_contract_text) >= ADDRESS_MEMO:
                _contract_text.clear()
            _contract_text[name] = a
        return a

    def storage_get(self, contract: str, key: str) -> bytes | None:
        return self.state.get_bytes(("cstore", contract, key))

    def storage_usage(self, contract: str) -> int:
        v = self.state.get_value(("cusage", contract))
        return v if isinstance(v, int) else 0

    def apply(self, effects: Effects) -> None:
        st = self.state
        if effects.usage is not None and {c for c, _, _ in effects.writes} <= effects.usage.keys():
            # the runtime counted every write's size change against the old values it read from
            # this state (the same sums as below, without reading each old value again)
            for contract, key, value in effects.writes:
                if value is None:
                    st.delete(("cstore", contract, key))
                else:
                    st.put(("cstore", contract, key), value)
            for contract, (before, after) in effects.usage.items():
                if after != before:
                    st.put_value(("cusage", contract), after)
        else:
            self._apply_writes(effects)
        self._apply_rest(effects)

    def _apply_writes(self, effects: Effects) -> None:
        st = self.state
        usage: dict[str, int] = {}
        for contract, key, value in effects.writes:
            path = ("cstore", contract, key)
            old = st.get_bytes(path)
            delta = 0
            if old is not None:
                delta -= len(key.encode("utf-8")) + len(old)
            if value is None:
                st.delete(path)
            else:
                st.put(path, value)
                delta += len(key.encode("utf-8")) + len(value)
            usage[contract] = usage.get(contract, 0) + delta
        for contract, delta in usage.items():
            if delta:
                st.put_value(("cusage", contract), self.storage_usage(contract) + delta)

    def _apply_rest(self, effects: Effects) -> None:
        st = self.state
        if effects.transfers:
            # each account read once and written once with its final balance (a wage payment's payer
            # pays thrice); the accounts are written in the order first touched, as one write a side
            # per transfer would leave them, and every transfer is checked against the running balance
            touched: dict[bytes, list] = {}  # address -> [account as read, running balance]
            events = self.events
            for frm, to, amount in effects.transfers:
                f, t = _addr(frm), _addr(to)
                if f is None or t is None:  # the runtime asked check_transfer, which refuses these
                    raise SandboxBreach("a transfer with an account that is not an address reached the host")
                a = touched.get(f)
                if a is None:
                    acct = st.account(f)
                    a = touched[f] = [acct, acct.balance]
                if a[1] < amount:  # the runtime checked; this would be a runtime bug
                    raise SandboxBreach("transfer beyond balance reached the host")
                a[1] -= amount
                b = touched.get(t)
                if b is None:
                    acct = st.account(t)
                    b = touched[t] = [acct, acct.balance]
                b[1] += amount
                events.append({"type": "transfer", "from": f, "to": t, "amount": amount})
                self.event_bytes.append(_transfer_event_bytes(f, t, amount))
            for addr, (acct, balance) in touched.items():
                st.set_account(addr, acct.with_balance(balance))
        self.events_raw.extend(effects.events)
        for ev in effects.events:
            self.events.append({"type": "law", "contract": ev.contract, "name": ev.name, "data": ev.data})
            self.event_bytes.append(_law_event_bytes(ev))


_LAW_EVENT_PARTS: dict = {}  # (contract, name) -> the law event's bytes before and after its data
LAW_EVENT_PARTS = 1024


def _law_event_bytes(ev) -> bytes | None:
    """``encode({"type": "law", "contract": ..., "name": ..., "data": ...})`` of a runtime event, its
    data's bytes taken from the runtime (``Event.raw``, the canonical encoding of ``ev.data``): a map's
    canonical bytes are its header, then each key and value in key order (contract, data, name, type)."""
    raw = ev.raw
    if type(raw) is not bytes or type(ev.contract) is not str or type(ev.name) is not str:
        return None
    k = (ev.contract, ev.name)
    parts = _LAW_EVENT_PARTS.get(k)
    if parts is None:
        try:
            before = b"\x84" + _pack("contract") + _pack(ev.contract) + _pack("data")
            after = _pack("name") + _pack(ev.name) + _pack("type") + _pack("law")
        except (TypeError, ValueError, OverflowError):  # (not valid text: the codec decides, later)
            return None
        parts = (before, after)
        if len(_LAW_EVENT_PARTS) >= LAW_EVENT_PARTS:
            _LAW_EVENT_PARTS.clear()
        _LAW_EVENT_PARTS[k] = parts
    return parts[0] + raw + parts[1]


def _pack(v) -> bytes:
    return msgpack.packb(v, use_bin_type=True, strict_types=True)


_T_AMOUNT, _T_FROM, _T_TO, _T_TYPE = (b"\x84" + _pack("amount"), _pack("from"), _pack("to"),
                                     _pack("type") + _pack("transfer"))
_BIN8 = tuple(b"\xc4" + bytes((n,)) for n in range(256))  # msgpack's header of n bytes, n < 256


def _transfer_event_bytes(f: bytes, t: bytes, amount: int) -> bytes | None:
    """``encode({"type": "transfer", "from": f, "to": t, "amount": amount})``, keys in canonical order
    (amount, from, to, type); ``f`` and ``t`` are addresses (``_addr``: bytes, short), ``amount`` a
    positive int the runtime checked (at most 2**63 - 1).  None for anything else (not made here)."""
    if type(amount) is not int or not 0 <= amount <= U64_MAX or type(f) is not bytes or type(t) is not bytes:
        return None
    lf, lt = len(f), len(t)
    if lf > 255 or lt > 255:
        return None
    return _T_AMOUNT + _uint(amount) + _T_FROM + _BIN8[lf] + f + _T_TO + _BIN8[lt] + t + _T_TYPE


def _uint(n: int) -> bytes:
    """msgpack's (canonical: smallest) form of an int from 0 to 2**64 - 1, as ``_pack(n)`` gives it."""
    if n < 128:
        return _FIXINT[n]
    if n < 0x100:
        return b"\xcc" + n.to_bytes(1, "big")
    if n < 0x10000:
        return b"\xcd" + n.to_bytes(2, "big")
    if n < 0x100000000:
        return b"\xce" + n.to_bytes(4, "big")
    return b"\xcf" + n.to_bytes(8, "big")


_FIXINT = tuple(bytes((n,)) for n in range(128))


_CALL_EVENTS: dict = {}  # (contract, entry, version) -> the call event's bytes
CALL_EVENTS = 1024


def _call_event_bytes(contract: str, entry: str, version: int) -> bytes | None:
    """``encode({"type": "call", "contract": ..., "entry": ..., "version": ...})``, memoised (bounded)."""
    k = (contract, entry, version)
    b = _CALL_EVENTS.get(k)
    if b is None:
        try:
            b = encode({"type": "call", "contract": contract, "entry": entry, "version": version})
        except (CodecError, TypeError, ValueError, OverflowError):
            return None
        if len(_CALL_EVENTS) >= CALL_EVENTS:
            _CALL_EVENTS.clear()
        _CALL_EVENTS[k] = b
    return b


class PilotHost(ChainHost):
    """The chain with one law's code replaced: for pilot replays, never applied."""

    def __init__(self, laws, state, sender, height, time_ms, law: str, source: str):
        super().__init__(laws, state, sender, height, time_ms)
        self.law = law
        self.law_source = source

    def contract_source(self, name: str) -> str | None:
        return self.law_source if name == self.law else super().contract_source(name)

    def apply(self, effects: Effects) -> None:  # a pilot never writes
        raise SandboxBreach("a pilot replay reached apply")


class Laws:
    """The node's view of installed laws: versions, compiled code, calls."""

    COMPILED = 64  # compiled versions kept (by name, code hash and version number)

    def __init__(self, sources: dict[str, str] | None = None):
        self.genesis_sources = dict(sources or {})
        # A version's code is content-addressed (("code", code_hash) holds the source whose hash
        # it is), so its compiled form can be kept: a call reads the versions record (which can
        # change in any block), never the 26 KiB source again.
        self._compiled: dict[tuple[str, bytes, int], Contract] = {}
        self._compiled_lock = threading.Lock()
        self._versions: dict[str, tuple[bytes, tuple]] = {}  # name -> (raw versions record, decoded)

    # ---- versions -----------------------------------------------------------
    @staticmethod
    def versions(state: State, name: str) -> list[dict]:
        v = state.get_value(("contract", name))
        return list(v["versions"]) if v else []

    def version_at(self, state: State, name: str, height: int) -> dict | None:
        found = None
        for v in self.versions(state, name):
            if v["since"] <= height:
                found = v
        return found

    @staticmethod
    def source(state: State, code_hash: bytes) -> str | None:
        v = state.get_value(("code", code_hash))
        return v if isinstance(v, str) else None

    @staticmethod
    def names(state_reader) -> list[str]:
        v = state_reader.get_value(("contract_names",))
        return list(v) if v else []

    def install(self, state: State, name: str, source: str, since: int, enacted_by: int = 0) -> dict:
        """Install ``source`` as the next version of ``name``, in force from ``since``.

        ``enacted_by`` is the congress decision that enacted it (0: genesis).
        """
        try:
            c = compile_contract(name, source)
        except CheckError as e:
            raise LawError(f"law {name} is not in the contract subset: {e}") from None
        versions = self.versions(state, name)
        if versions and versions[-1]["since"] >= since:
            raise LawError(f"law {name}: a version already holds from height {versions[-1]['since']}")
        entry = {"version": len(versions) + 1, "code_hash": c.code_hash, "since": since}
        if enacted_by:
            entry["enacted_by"] = enacted_by
        versions.append(entry)
        state.put_value(("contract", name), {"versions": versions})
        state.put_value(("code", c.code_hash), source)
        names = self.names(state)
        if name not in names:
            names.append(name)
            state.put_value(("contract_names",), sorted(names))
            addr = contract_account(name)
            acct = state.account(addr)
            state.set_account(addr, Account(acct.balance, acct.nonce, "contract", (), f"law:{name}"))
        return entry

    def install_genesis(self, state: State, genesis) -> None:
        for name in sorted(self.genesis_sources):
            self.install(state, name, self.genesis_sources[name], since=1)
        if genesis is None:
            return
        index_genesis_roles(state, genesis.accounts)
        # genesis may seed laws' storage (the devnet seats its first delegates this way)
        seed = genesis.param("law_storage", {})
        if isinstance(seed, dict):
            for law in sorted(seed):
                if law not in self.genesis_sources or not isinstance(seed[law], dict):
                    raise LawError(f"genesis law_storage names {law!r}, which is not a genesis law")
                for key in sorted(seed[law]):
                    host_write(state, law, key, seed[law][key])

    def pilot_host(self, state: State, law: str, source: str, sender: bytes | None, height: int,
                   time_ms: int) -> ChainHost:
        """A host over ``state`` in which ``law`` has ``source`` (a pilot replay)."""
        return PilotHost(self, state, sender, height, time_ms, law, source)

    def _version_in_force(self, state: State, name: str, height: int) -> dict | None:
        """``version_at``, decoding the versions record only when its bytes changed (read-only result)."""
        raw = state.get_bytes(("contract", name))
        if raw is None:
            return None
        hit = self._versions.get(name)
        if hit is None or hit[0] != raw:
            rec = decode(raw)
            hit = (raw, tuple(rec["versions"]) if rec else ())
            with self._compiled_lock:
                if len(self._versions) >= self.COMPILED:
                    self._versions.clear()
                self._versions[name] = hit
        found = None
        for v in hit[1]:
            if v["since"] <= height:
                found = v
        return found

    def contract(self, state: State, name: str, height: int) -> Contract | None:
        v = self._version_in_force(state, name, height)
        if v is None:
            return None
        key = (name, v["code_hash"], v["version"])
        c = self._compiled.get(key)
        if c is None:
            src = self.source(state, v["code_hash"])
            c = compile_contract(name, src, version=v["version"])  # checked and compiled once per code hash
            if c.code_hash != v["code_hash"]:  # the state's source is not the one installed: never keep it
                return c
            with self._compiled_lock:  # queries compile on gRPC threads
                if len(self._compiled) >= self.COMPILED:
                    self._compiled.pop(next(iter(self._compiled)))
                self._compiled[key] = c
        return c

    # ---- block hooks ----------------------------------------------------------
    def begin_block(self, state: State, ctx, last_commit) -> None:
        """Pilot chunk (over the untouched state of the block before), then enactments.

        The beacon is mixed by the application (``app.mix_beacon``) before this runs.
        """
        pilot_step(self, state, ctx.height, ctx.time_ms)
        enact_due(self, state, ctx.height)

    def end_block(self, state: State, ctx) -> None:
        """Run each law's ``on_block`` entry with a fixed gas budget (bounded work per block)."""
        for name in self.names(state):
            c = self.contract(state, name, ctx.height)
            if c is None or HOOK_ENTRY not in c.entries:
                continue
            host = ChainHost(self, state, contract_account(name), ctx.height, ctx.time_ms)
            try:
                res = rt_execute(c, HOOK_ENTRY, {}, host, HOOK_GAS, read_only=False)
            except SandboxBreach as e:
                raise RuntimeError(f"sandbox breach in {name}.on_block: {e}") from None
            state.put_value(("hook", name), {
                "height": ctx.height, "code": res.code, "gas_used": res.gas_used, "value": res.value,
                "events": [{"name": e.name, "data": e.data} for e in host.events_raw][:100],
            })

    # ---- transactions -----------------------------------------------------------
    def call_tx(self, state: State, tx, p, ctx, events: list):

        c = self.contract(state, p.contract, ctx.height)
        if c is None:
            raise TxFailed(codes.UNKNOWN_CONTRACT)
        if p.entry not in c.entries:
            raise TxFailed(codes.CONTRACT_BASE + int(ErrorCode.UNKNOWN_ENTRY))
        if not isinstance(p.args, dict):
            raise TxFailed(codes.CONTRACT_BASE + int(ErrorCode.BAD_ARGS))
        host = ChainHost(self, state, tx.sender, ctx.height, ctx.time_ms)
        gas = min(p.gas_limit, MAX_CALL_GAS)
        try:
            res = rt_execute(c, p.entry, p.args, host, gas, read_only=False)
        except SandboxBreach as e:
            raise RuntimeError(f"sandbox breach in {p.contract}.{p.entry}: {e}") from None
        if res.code != 0:
            raise TxFailed(codes.CONTRACT_BASE + res.code, gas=res.gas_used, result=res.value)
        events.append({"type": "call", "contract": p.contract, "entry": p.entry, "version": c.version})
        record_call(state, p.contract, tx.sender, p.entry, p.args, ctx.height, ctx.time_ms, res.args_raw)
        events.extend(host.events)
        # the events' canonical bytes, made as they were (Receipt.with_event_bytes: not encoded again)
        known = [None] * (len(events) - len(host.events) - 1)
        known.append(_call_event_bytes(p.contract, p.entry, c.version))
        known += host.event_bytes
        return res.value, res.gas_used, known

    # ---- queries (gRPC) -------------------------------------------------------
    def info(self, reader, name: str, v: dict, c: Contract | None) -> dict:
        src = self.source(reader, v["code_hash"]) or ""
        summary = ""
        try:
            import ast

            summary = (ast.get_docstring(ast.parse(src)) or "").strip().splitlines()[0]
        except (SyntaxError, IndexError, ValueError):
            pass
        return {
            "name": name, "version": v["version"], "code_hash": v["code_hash"], "since_height": v["since"],
            "entries": list(c.entries) if c else [], "views": list(c.views) if c else [], "summary": summary,
            "enacted_by": v.get("enacted_by", 0),
        }


@dataclasses.dataclass
class LawQueries:
    """Read-only law queries against committed state at a height (the gRPC side)."""

    laws: Laws
    store: object  # ChainStore
    genesis_time_ms: int = 0

    def _reader(self, height: int) -> State:
        store = self.store
        if height == store.height():
            return State(store.read_latest, store.state_root(height), height)

        def read(pb: bytes) -> bytes | None:
            from ledger.state import key_hash

            vh = store.smt.get(store.state_root(height), key_hash(pb))
            return None if vh is None else store.get_value_by_hash(vh)

        return State(read, store.state_root(height), height)

    def list(self, height: int) -> list[dict]:
        r = self._reader(height)
        out = []
        for name in self.laws.names(r):
            v = self.laws.version_at(r, name, height)
            if v is not None:
                out.append(self.laws.info(r, name, v, self.laws.contract(r, name, height)))
        return out

    def show(self, name: str, version: int | None, height: int) -> tuple[dict, str, list[dict]]:
        r = self._reader(height)
        versions = self.laws.versions(r, name)
        if not versions:
            raise ValueError(f"no law named {name!r}")
        if version is not None:
            match = [v for v in versions if v["version"] == version]
            if not match:
                raise ValueError(f"law {name} has no version {version}")
            v = match[0]
        else:
            v = self.laws.version_at(r, name, height)
            if v is None:
                raise ValueError(f"law {name} holds no version at height {height}")
        src = self.laws.source(r, v["code_hash"]) or ""
        c = compile_contract(name, src, version=v["version"])
        infos = [self.laws.info(r, name, x, None) for x in versions]
        return self.laws.info(r, name, v, c), src, infos

    def eval(self, name: str, function: str, args: dict, height: int, source: str | None = None,
             gas_limit: int | None = None) -> dict:
        r = self._reader(height)
        gas = min(gas_limit or VIEW_GAS, VIEW_GAS)
        blk = self.store.block(height) if height else None
        time_ms = blk.header.time_ms if blk is not None else self.genesis_time_ms
        host = ChainHost(self.laws, r, None, height, time_ms)
        if source is not None:  # unvetted code: checked and run in a limited worker process (PilotError if it fails)
            try:
                res, effects, _ = run_pilot(name or "pilot", source, function, args, host, gas)
            except CheckError as e:
                return {"code": 100 + int(ErrorCode.CONTRACT_INVALID), "error": str(e)}
        else:
            c = self.laws.contract(r, name, height)
            if c is None:
                raise ValueError(f"no law named {name!r} at height {height}")
            if not c.is_public(function):
                return {"code": 100 + int(ErrorCode.UNKNOWN_ENTRY), "error": f"{function!r} is not an entry or view of {c.name}"}
            # views run read-only; an entry in a pilot run is executed and its effects reported, never applied
            res, effects = rt_run(c, function, args, host, gas, read_only=function in c.views)
        out = {"code": 0 if res.code == 0 else 100 + res.code, "gas_used": res.gas_used}
        if res.code == 0:
            out["value"] = encode(res.value)
        else:
            out["error"] = ErrorCode(res.code).name if res.code in ErrorCode._value2member_map_ else str(res.code)
            if res.value is not None:
                out["value"] = encode(res.value)
        if effects is not None:
            out["events"] = encode({
                "writes": [[c_, k, v] for c_, k, v in effects.writes],
                "transfers": [list(t) for t in effects.transfers],
                "events": [e.to_obj() for e in effects.events],
            })
        return out


def decode_value(raw: bytes):
    return decode(raw) if raw else None
