"""A light client anchored to genesis: what a wallet believes, and why.

The wallet trusts one thing given to it out of band: the chain's genesis
(``esoc wallet trust GENESIS.json``; a devnet's keystore finds its
``genesis.json`` beside it), or a checkpoint block the user names.  From
that anchor it follows the validator set: each header names the set that
signs it (``validators_hash``) and the set that signs the next one
(``next_validators_hash``).

Verifying a header at height ``h`` from a trusted header at height ``t``
(CometBFT's light client, "skipping verification" with bisection):

* ``h == t + 1`` (adjacent): the set of ``h`` must be the one the trusted
  header named as next (hash equality), and more than 2/3 of its power must
  have signed ``h``'s commit;
* ``h > t + 1`` (skipping): the signers of ``h``'s commit must include more
  than 1/3 of the power of the trusted next set (so at least one honest
  validator the wallet already trusts vouches for it), and more than 2/3 of
  the power of ``h``'s own set (whose hash ``h``'s header names).  When the
  1/3 test fails the validator set changed too much in between: verify the
  midpoint first (bisection) and try again from there.

A wallet away for 100,000 blocks under a stable set thus catches up in one
check; across many set changes in O(log n) checks per change.  Every check
also requires the header's chain id to be the anchor's.  Verified headers
are kept on disk (``KEYSTORE/light/``, the newest :data:`KEEP` of them) so
the next run starts from the latest one.

A value (an account, a law's storage) is then checked with its proof
against the state root of a verified header.  Anything that does not check
raises :class:`LightClientError` naming what the node got wrong, and the
caller acts on nothing the node said.

The trusting period (CometBFT's ``trusting_period``): a trusted header is
used only while its block time is less than :data:`TRUSTING_PERIOD_MS` (14
days, set per anchor with ``esoc wallet trust --trusting-period DAYS``) older
than this computer's clock.  Trust in an old header is trust that its
validators' keys are still guarded: a validator removed since, whose retired
key leaks, could sign a fork that an old header's set would vouch for.  Past
the period the wallet refuses to verify from it and asks for a recent
checkpoint (``--checkpoint HEIGHT:HASH``) from a source the user trusts.  A
header dated more than :data:`MAX_CLOCK_DRIFT_MS` ahead of the clock, or not
after the trusted one, is refused too.  A devnet on a simulated block clock
(``esoc devnet --time-step-ms``) runs ahead of the wall clock by design: its
keystore's genesis anchor has neither check (period 0).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

from ledger.genesis import Genesis
from ledger.address import decode_address, encode_address
from ledger.block import Block, Commit, Header, InvalidCommit, precommit_sign_bytes, validator_set_hash, verify_commit_powers
from ledger.smt import Proof, verify_proof
from ledger.state import Account, acct_path, key_hash, path_bytes, value_hash

KEEP = 64  # trusted headers kept on disk
DAY_MS = 86_400_000
TRUSTING_PERIOD_MS = 14 * DAY_MS  # how old a trusted header may be (by block time) before the wallet stops verifying from it
MAX_CLOCK_DRIFT_MS = 10_000  # how far ahead of this computer's clock a header's time may be
MAX_CHECKS = 2_000  # header checks in one catch-up before giving up (a node that never converges)


class LightClientError(Exception):
    """A node's answer that the light client could not verify: the node is lying or broken."""


LightCheckError = LightClientError


@dataclasses.dataclass
class Trusted:
    height: int
    header_hash: bytes
    chain_id: str
    state_root: bytes
    next_powers: dict  # pubkey -> power of the set that signs height + 1
    time_ms: int | None = None  # the header's block time (the genesis time at height 0); None: written by an older wallet

    def to_json(self) -> dict:
        return {"height": self.height, "hash": self.header_hash.hex(), "chain_id": self.chain_id,
                "state_root": self.state_root.hex(), "time_ms": self.time_ms,
                "next_validators": [[pk.hex(), p] for pk, p in sorted(self.next_powers.items())]}

    @classmethod
    def from_json(cls, d: dict) -> "Trusted":
        t = d.get("time_ms")
        return cls(int(d["height"]), bytes.fromhex(d["hash"]), d["chain_id"], bytes.fromhex(d["state_root"]),
                   {bytes.fromhex(pk): int(p) for pk, p in d["next_validators"]}, None if t is None else int(t))


def read_genesis(text: str) -> tuple[str, bytes, dict, int]:
    """What a light client anchors to in a genesis document: chain id, genesis hash, the first validator set,
    the genesis time (ms)."""
    g = Genesis.from_json(text)
    return g.chain_id, g.hash, {v.pubkey: v.power for v in g.validators}, g.genesis_time_ms


def _ago(ms: int) -> str:
    return f"{ms / DAY_MS:.1f} days" if ms >= DAY_MS else f"{ms / 3_600_000:.1f} hours"


class TrustStore:
    """The anchor and the verified headers, in a folder (by default ``KEYSTORE/light``)."""

    def __init__(self, path: str, genesis_hint: str | None = None, load_genesis=None):
        """``load_genesis(text) -> (chain_id, genesis_hash, {pubkey: power}, genesis_time_ms)`` reads a genesis file
        (by default :func:`read_genesis`, the ledger's genesis document)."""
        self.path = path
        self.genesis_hint = genesis_hint
        self.load_genesis = load_genesis or read_genesis

    @classmethod
    def for_keystore(cls, keystore: str, load_genesis=None) -> "TrustStore":
        hint = os.path.join(os.path.dirname(os.path.abspath(keystore)), "genesis.json")
        return cls(os.path.join(keystore, "light"), hint if os.path.isfile(hint) else None, load_genesis)

    # ---- anchor -------------------------------------------------------------
    def _anchor_file(self) -> str:
        return os.path.join(self.path, "anchor.json")

    def anchor(self) -> dict | None:
        try:
            with open(self._anchor_file()) as f:
                return json.load(f)
        except FileNotFoundError:
            pass
        if self.genesis_hint:  # a devnet: its genesis.json lies beside the keystore
            self.anchor_genesis_file(self.genesis_hint, trusting_period_ms=self._devnet_period())
            with open(self._anchor_file()) as f:
                return json.load(f)
        return None

    def _devnet_period(self) -> int:
        """A devnet on a simulated block clock (its devnet.json's ``time_step_ms``) runs ahead of the wall clock:
        no trusting period, no drift check (0).  Otherwise the default."""
        try:
            with open(os.path.join(os.path.dirname(self.genesis_hint), "devnet.json")) as f:
                if int(json.load(f).get("time_step_ms") or 0) > 0:
                    return 0
        except (OSError, ValueError, TypeError, AttributeError):
            pass
        return TRUSTING_PERIOD_MS

    def trusting_period_ms(self) -> int:
        """The anchor's trusting period (0: none); anchors written before it existed get the default."""
        a = self.anchor()
        return int(a.get("trusting_period_ms", TRUSTING_PERIOD_MS)) if a else TRUSTING_PERIOD_MS

    def chain_id(self) -> str | None:
        a = self.anchor()
        return a["chain_id"] if a else None

    def anchor_genesis_file(self, genesis_file: str, checkpoint: tuple[int, bytes] | None = None, client=None,
                            trusting_period_ms: int = TRUSTING_PERIOD_MS) -> dict:
        """Trust ``genesis_file`` (and the block ``checkpoint`` = (height, hash) the node at ``client`` serves).

        ``trusting_period_ms``: how old a trusted header may grow before the wallet stops verifying from it
        (0: no limit and no clock checks, for a chain on a simulated clock)."""
        if not isinstance(trusting_period_ms, int) or trusting_period_ms < 0:
            raise LightClientError(f"the trusting period must be a whole number of milliseconds >= 0, not {trusting_period_ms!r}")
        try:
            with open(genesis_file) as f:
                chain_id, genesis_hash, powers, *rest = self.load_genesis(f.read())
        except (OSError, ValueError) as e:
            raise LightClientError(f"cannot read the genesis {genesis_file}: {e}") from None
        gtime = int(rest[0]) if rest else None
        anchor = {"chain_id": chain_id, "genesis_hash": genesis_hash.hex(), "checkpoint": None,
                  "trusting_period_ms": trusting_period_ms,
                  "trusted": Trusted(0, genesis_hash, chain_id, b"", powers, gtime).to_json()}
        if checkpoint is not None:
            h, block_hash = checkpoint
            header, _commit = fetch_signed_header(client, h)
            if header.hash != block_hash:
                raise LightClientError(f"the node's block {h} has hash {header.hash.hex()}, not the checkpoint's")
            if header.chain_id != chain_id:
                raise LightClientError(f"the checkpoint block is of chain {header.chain_id!r}, not {chain_id!r}")
            nxt = client.validators(h + 1)
            np = {v.pubkey: v.power for v in nxt.validators}
            if validator_set_hash(np) != header.next_validators_hash:
                raise LightClientError("the node's next validator set does not match the checkpoint header")
            anchor["checkpoint"] = {"height": h, "hash": block_hash.hex()}
            anchor["trusted"] = Trusted(h, header.hash, header.chain_id, header.state_root, np, header.time_ms).to_json()
        os.makedirs(self.path, exist_ok=True)
        _write_json(self._anchor_file(), anchor)
        return {"chain_id": anchor["chain_id"], "genesis_hash": anchor["genesis_hash"], "checkpoint": anchor["checkpoint"],
                "trusting_period_ms": trusting_period_ms}

    # ---- verified headers ---------------------------------------------------
    def _hdir(self) -> str:
        return os.path.join(self.path, "headers")

    def latest(self) -> Trusted | None:
        """The highest verified header (or the anchor)."""
        a = self.anchor()
        if a is None:
            return None
        best = Trusted.from_json(a["trusted"])
        for h in self._heights():
            if h > best.height:
                try:
                    with open(os.path.join(self._hdir(), f"{h}.json")) as f:
                        t = Trusted.from_json(json.load(f))
                except (OSError, ValueError, KeyError):
                    continue
                if t.chain_id == best.chain_id:
                    best = t
        return best

    def _heights(self) -> list[int]:
        try:
            names = os.listdir(self._hdir())
        except FileNotFoundError:
            return []
        return sorted(int(n[:-5]) for n in names if n.endswith(".json") and n[:-5].isdigit())

    def save(self, t: Trusted) -> None:
        os.makedirs(self._hdir(), exist_ok=True)
        _write_json(os.path.join(self._hdir(), f"{t.height}.json"), t.to_json())
        hs = self._heights()
        for h in hs[:-KEEP]:
            try:
                os.remove(os.path.join(self._hdir(), f"{h}.json"))
            except OSError:
                pass


def _write_json(path: str, doc) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# fetching and checking
# --------------------------------------------------------------------------


def fetch_signed_header(client, height: int) -> tuple[Header, Commit]:
    """Header ``height`` and the commit that decided it (in the block, or in the next block's last_commit)."""
    from ledger.codec import CodecError

    try:
        b = client.block(height=height)
        header = Block.decode(b.block).header
        if b.commit:
            commit = Commit.decode(b.commit)
        else:
            nxt = Block.decode(client.block(height=height + 1).block)
            commit = nxt.last_commit
    except (CodecError, ValueError) as e:
        raise LightClientError(f"the node sent a malformed block {height}: {e}") from None
    if header.height != height:
        raise LightClientError(f"the node answered block {header.height} when asked for {height}")
    if commit is None:
        raise LightClientError(f"no commit for block {height} yet")
    return header, commit


def signed_power(powers: dict, chain_id: str, commit: Commit) -> int:
    """Power of ``powers`` whose valid precommit signatures are in ``commit`` (others ignored)."""
    from ledger.crypto import verify

    total = 0
    seen = set()
    for s in commit.signatures:
        p = powers.get(s.validator, 0)
        if p == 0 or s.validator in seen:
            continue
        seen.add(s.validator)
        sb = precommit_sign_bytes(commit.height, commit.round, commit.value_id, s.validator)
        if len(s.signature) == 64 and verify(s.validator, "vote", chain_id, sb, s.signature):
            total += p
    return total


@dataclasses.dataclass
class Verified:
    height: int
    state_root: bytes
    account: dict
    trusted_from: int
    header_checks: int


class LightClient:
    def __init__(self, client, store: TrustStore, now_ms=None):
        """``now_ms()``: this computer's clock in ms (default the wall clock); the light client is not part of
        consensus, so it may read it, as CometBFT's does for its trusting period."""
        self.client = client
        self.store = store
        self.checks = 0
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))

    @classmethod
    def for_keystore(cls, client, keystore: str, load_genesis=None) -> "LightClient":
        return cls(client, TrustStore.for_keystore(keystore, load_genesis))

    def _trusted(self) -> Trusted:
        t = self.store.latest()
        if t is None:
            raise LightClientError(
                f"the wallet trusts no genesis yet: run `esoc wallet trust GENESIS.json` (stored in {self.store.path}),"
                " or read with --no-verify")
        return t

    def _validators(self, height: int) -> dict:
        vals = self.client.validators(height)
        return {v.pubkey: v.power for v in vals.validators}

    def _check(self, trusted: Trusted, header: Header, commit: Commit, period: int) -> Trusted:
        """Verify ``header`` from ``trusted``; raise LightClientError, or _Bisect when the 1/3 rule fails."""
        self.checks += 1
        if self.checks > MAX_CHECKS:
            raise LightClientError(f"gave up after {MAX_CHECKS} header checks: the node never lets the set converge")
        h = header.height
        self._check_times(trusted, header, period)
        if header.chain_id != trusted.chain_id:
            raise LightClientError(f"the node served a header of chain {header.chain_id!r}; the wallet trusts {trusted.chain_id!r}")
        if commit.height != h or commit.value_id != header.hash:
            raise LightClientError(f"the commit the node sent for block {h} is for another block")
        powers = self._validators(h)
        if validator_set_hash(powers) != header.validators_hash:
            raise LightClientError(f"the validator set the node reports for block {h} is not the one its header names")
        if h == trusted.height + 1:
            if h == 1 and header.prev_hash != trusted.header_hash:
                raise LightClientError("block 1 does not follow from the trusted genesis (prev_hash is not the genesis hash)")
            if header.validators_hash != validator_set_hash(trusted.next_powers):
                raise LightClientError(
                    f"block {h}'s validator set does not follow from the trusted block {trusted.height} "
                    "(next_validators_hash differs): a forged validator set")
        else:
            tp = signed_power(trusted.next_powers, header.chain_id, commit)
            if not 3 * tp > sum(trusted.next_powers.values()):
                raise _Bisect()
        try:
            verify_commit_powers(powers, header.chain_id, h, header.hash, commit)
        except InvalidCommit as e:
            raise LightClientError(f"block {h} is not properly signed: {e}") from None
        nxt = self._validators(h + 1)
        if validator_set_hash(nxt) != header.next_validators_hash:
            raise LightClientError(f"the validator set the node reports for block {h + 1} does not follow from block {h} "
                                   "(that header names another next set): a forged validator set")
        return Trusted(h, header.hash, header.chain_id, header.state_root, nxt, header.time_ms)

    def _trusted_time(self, trusted: Trusted) -> int:
        """The trusted header's time; for one saved by an older wallet, read from the node's header of that
        height, which must hash to the trusted hash (the hash binds the time)."""
        if trusted.time_ms is not None:
            return trusted.time_ms
        if trusted.height == 0:
            raise LightClientError("the wallet's genesis anchor has no genesis time (written by an older esoc?): run "
                                   "`esoc wallet trust GENESIS.json` again")
        header, _commit = fetch_signed_header(self.client, trusted.height)
        if header.hash != trusted.header_hash:
            raise LightClientError(f"the node's block {trusted.height} is not the one the wallet trusts "
                                   f"(hash {header.hash.hex()[:16]}..., trusted {trusted.header_hash.hex()[:16]}...)")
        trusted.time_ms = header.time_ms
        return trusted.time_ms

    def _check_times(self, trusted: Trusted, header: Header, period: int) -> None:
        """The trusting period (``period`` ms, the anchor's) and the clock (CometBFT's light client): raise
        LightClientError."""
        if period == 0:
            return
        now = self.now_ms()
        t0 = self._trusted_time(trusted)
        if t0 + period <= now:
            raise LightClientError(
                f"the wallet's trusted header (height {trusted.height}) is {_ago(now - t0)} old, past its trusting "
                f"period of {_ago(period)}: its validators may have retired keys since. Get a recent block's height "
                "and hash from a source you trust and run `esoc wallet trust GENESIS.json --checkpoint HEIGHT:HASH`")
        if header.time_ms > now + MAX_CLOCK_DRIFT_MS:
            raise LightClientError(
                f"block {header.height} is dated {_ago(header.time_ms - now)} ahead of this computer's clock "
                f"(more than {MAX_CLOCK_DRIFT_MS // 1000} s): a header from the future, or this clock is wrong")
        if header.time_ms <= t0:
            raise LightClientError(f"block {header.height}'s time is not after the trusted block {trusted.height}'s: "
                                   "block time only moves forward")

    def verify_to(self, height: int) -> tuple[Trusted, int]:
        """A verified header at ``height`` (skipping, bisecting when needed); returns it and where trust began."""
        trusted = self._trusted()
        start = trusted.height
        if height <= trusted.height:
            if height == trusted.height:
                return trusted, start
            # an older height: verify it forward from the anchor would need another path; use the anchor's chain
            trusted = Trusted.from_json(self.store.anchor()["trusted"])
            start = trusted.height
            if height <= trusted.height:
                raise LightClientError(f"height {height} is at or before the wallet's anchor ({trusted.height})")
        period = self.store.trusting_period_ms()  # the anchor read once, not at every header check
        pending = [height]
        fetched: dict[int, tuple[Header, Commit]] = {}
        while pending:
            target = pending[-1]
            if target not in fetched:
                fetched[target] = fetch_signed_header(self.client, target)
            header, commit = fetched[target]
            try:
                trusted = self._check(trusted, header, commit, period)
            except _Bisect:
                mid = (trusted.height + target) // 2
                if mid <= trusted.height:
                    raise LightClientError(f"block {target} cannot be verified from block {trusted.height}") from None
                pending.append(mid)
                continue
            self.store.save(trusted)
            pending.pop()
        return trusted, start

    def latest_height(self) -> int:
        """The node's latest height whose commit is available (the tip's commit travels in the next block)."""
        top = self.client.status().height
        b = self.client.block(height=top)
        return top if b.commit else top - 1

    def account(self, addr: bytes, height: int = 0) -> Verified:
        """An account read at a verified height, decoded from the proven value only."""
        self.checks = 0
        h = height or self.latest_height()
        if h < 1:
            raise LightClientError("the chain has no signed block yet")
        trusted, start = self.verify_to(h)
        r = self.client.account(encode_address(addr), height=h, prove=True)
        if r.state_root != trusted.state_root:
            raise LightClientError(f"the node's state root at height {h} is not the one in the verified header")
        value = r.value if r.exists else None
        try:
            proof = Proof.decode(r.proof)
            ok = verify_proof(trusted.state_root, key_hash(path_bytes(acct_path(addr))),
                              value_hash(value) if value is not None else None, proof)
        except ValueError:
            ok = False
        if not ok:
            raise LightClientError(f"the node's answer for {encode_address(addr)} does not match its proof against the "
                                   f"verified state root at height {h}: a forged value")
        if value is None:
            acct = {"exists": False, "balance": 0, "nonce": 0, "kind": "", "roles": [], "name": ""}
        else:
            a = Account.decode(value)
            acct = {"exists": True, "balance": a.balance, "nonce": a.nonce, "kind": a.kind, "roles": list(a.roles),
                    "name": a.name}
        return Verified(h, trusted.state_root, acct, start, self.checks)


class _Bisect(Exception):
    pass


def verify_account(client, address: str, height: int = 0) -> dict:
    """The old one-shot check (proof, header, signatures of the set the header names), kept for scripts."""
    addr = decode_address(address)
    r = client.account(encode_address(addr), height=height, prove=True)
    out = {"height": r.height, "state_root": r.state_root.hex(), "proof_valid": False, "header_matches": False,
           "header_signed": False, "signed_power": None}
    out["proof_valid"] = verify_proof(r.state_root, key_hash(path_bytes(acct_path(addr))),
                                      value_hash(r.value) if r.exists else None, Proof.decode(r.proof))
    if r.height == 0:
        return out
    try:
        header, commit = fetch_signed_header(client, r.height)
    except LightClientError as e:
        out["reason"] = str(e)
        return out
    out["header_matches"] = header.state_root == r.state_root
    vals = client.validators(r.height)
    powers = {v.pubkey: v.power for v in vals.validators}
    if validator_set_hash(powers) != header.validators_hash:
        out["reason"] = "the validator set the node reports is not the one the header names"
        return out
    try:
        verify_commit_powers(powers, header.chain_id, r.height, header.hash, commit)
    except InvalidCommit as e:
        out["reason"] = str(e)
        return out
    out["header_signed"] = True
    out["signed_power"] = f"{signed_power(powers, header.chain_id, commit)}/{sum(powers.values())}"
    return out
