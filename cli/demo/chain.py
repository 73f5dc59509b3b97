"""The demo's view of the chain: actors, batched submission with local nonces,
waiting for heights and months, reading laws and balances (gRPC only)."""

from __future__ import annotations


import datetime
import sys
import time

from ledger import codes
from ledger.address import address_of, encode_address
from ledger.block import Receipt
from ledger.codec import decode
from ledger.crypto import PrivateKey
from ledger.state import Supply
from ledger.tx import Call, sign_tx

YUAN = 100

GAS = 2_000_000
DRAW_GAS = 100_000_000
BATCH = 1000
EXPIRY_BLOCKS = 600
AGENCIES = ("central-bank", "treasury", "registrar", "planning-agency")
LAWS = ("tax", "welfare", "procurement", "allocation")


REGISTER_READ_LIMIT = 5_000  # the demo reads the welfare register record by record up to this size
HOUR_MS = 3_600_000
DAY_MS = 86_400_000
SIMULATED_STEP_MS = HOUR_MS  # consecutive blocks an hour or more apart: the chain's clock is simulated
MIN_SIMULATED_STEP_MS = 60_000  # closer than a minute, a month is over 43,200 blocks: hours of waiting
MAX_STEP_MS = 2 * DAY_MS  # the busiest month's work takes about 20 blocks, which must fit in the month


def _duration(ms: int) -> str:
    if ms >= DAY_MS and ms % DAY_MS == 0:
        return f"{ms // DAY_MS} day" + ("s" if ms != DAY_MS else "")
    if ms >= HOUR_MS:
        return f"{ms / HOUR_MS:g} h"
    return f"{ms / 1000:g} s"


class DemoError(Exception):
    pass


class Progress:
    def __init__(self, total: int, enabled: bool, out=None):
        self.total = max(1, total)
        self.done = 0
        self.enabled = enabled
        self.out = out if out is not None else sys.stderr
        self.tty = enabled and hasattr(out, "isatty") and out.isatty()
        self.t0 = time.monotonic()

    def step(self, label: str, txs: int) -> None:
        self.done = min(self.total, self.done + 1)
        if not self.enabled:
            return
        width = 30
        fill = self.done * width // self.total
        line = (f"[{'#' * fill}{'.' * (width - fill)}] {100 * self.done // self.total:3d}% "
                f"{time.monotonic() - self.t0:6.1f}s {txs:6d} tx  {label}")
        if self.tty:
            print("\r" + line[:110].ljust(110), end="", file=self.out, flush=True)
        else:
            print(line, file=self.out, flush=True)

    def note(self, label: str, txs: int) -> None:
        """A line without a step (something is being waited for)."""
        self.done -= 1
        self.step(label, txs)

    def finish(self, label: str, txs: int) -> None:
        self.done = self.total - 1
        self.step(label, txs)

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=self.out, flush=True)


# --------------------------------------------------------------------------
# talking to the node
# --------------------------------------------------------------------------


class Actor:
    def __init__(self, name: str, key: PrivateKey):
        self.name = name
        self.key = key
        self.raw = address_of(key.public)
        self.addr = encode_address(self.raw)


class Chain:
    """Batches of signed transactions, local nonces, receipts read from blocks."""

    def __init__(self, client):
        self.c = client
        st = client.status()
        self.chain_id = st.chain_id
        self.scanned = st.height  # receipts of blocks up to here were read
        self.nonces: dict[bytes, int] = {}
        self.queue: list[tuple] = []
        self.records: list[dict] = []  # one per committed transaction
        self.submitted = 0

    def height(self) -> int:
        return self.c.status().height

    def nonce(self, actor: Actor, fresh: bool = False) -> int:
        if actor.raw not in self.nonces:
            self.nonces[actor.raw] = 0 if fresh else self.c.account(actor.addr).nonce
        n = self.nonces[actor.raw]
        self.nonces[actor.raw] = n + 1
        return n

    # queueing ------------------------------------------------------------
    def add(self, actor: Actor, kind: str, payload, tag: str, expect: int = 0, info=None, fresh: bool = False) -> None:
        self.queue.append((actor, kind, payload, tag, expect, info, fresh))

    def call(self, actor: Actor, law: str, entry: str, args: dict, tag: str | None = None, expect: int = 0,
             info=None, gas: int = GAS, fresh: bool = False) -> None:
        self.add(actor, "call", Call(contract=law, entry=entry, args=args, gas_limit=gas), tag or f"{law}.{entry}",
                 expect, info, fresh)

    def flush(self, timeout: float = 300.0) -> list[dict]:
        """Sign, submit and wait for everything queued; return its records in order."""
        if not self.queue:
            return []
        queue, self.queue = self.queue, []
        expiry = self.height() + EXPIRY_BLOCKS
        txs = []
        meta = {}
        for actor, kind, payload, tag, expect, info, fresh in queue:
            tx = sign_tx(actor.key, self.chain_id, kind, payload, self.nonce(actor, fresh), expiry)
            txs.append(tx)
            meta[tx.hash] = {"tag": tag, "expect": expect, "info": info, "kind": kind, "sender": actor.name}
        for i in range(0, len(txs), BATCH):
            chunk = txs[i:i + BATCH]
            for attempt in range(50):
                r = self.c.submit_batch(chunk)
                bad = [(t, x) for t, x in zip(chunk, r.results) if x.code != 0 and x.code != codes.DUPLICATE]
                if not bad:
                    break
                if all(x.code in (codes.RATE_LIMITED, codes.MEMPOOL_FULL) for _, x in bad):
                    # back-pressure: resubmit only what was refused (what was admitted may be committed by
                    # then, and a committed transaction sent again is a stale nonce, not a duplicate)
                    chunk = [t for t, _ in bad]
                    time.sleep(0.5)
                    continue
                t, x = bad[0]
                raise DemoError(f"the node refused {meta[t.hash]['tag']} from {meta[t.hash]['sender']}: "
                                f"{codes.name(x.code)}: {x.reason}")
            else:
                raise DemoError("the node kept refusing transactions (mempool full or rate limited)")
        self.submitted += len(txs)
        found = self._wait({t.hash for t in txs}, timeout)
        out = []
        for t in txs:
            rec = dict(meta[t.hash], hash=t.hash, **found[t.hash])
            out.append(rec)
            self.records.append(rec)
        return out

    def _wait(self, hashes: set, timeout: float) -> dict:
        found: dict[bytes, dict] = {}
        deadline = time.monotonic() + timeout
        while True:
            top = self.height()
            while self.scanned < top:
                h = self.scanned + 1
                b = self.c.block(height=h)
                receipts = [Receipt.from_obj(x) for x in decode(b.receipts)] if b.receipts else []
                for th, rc in zip(b.tx_hashes, receipts):
                    if th in hashes:
                        found[th] = {"height": h, "code": rc.code, "result": rc.result, "events": list(rc.events),
                                     "gas": rc.gas_used}
                self.scanned = h
            if len(found) == len(hashes):
                return found
            if time.monotonic() > deadline:
                raise DemoError(f"{len(hashes) - len(found)} transaction(s) not committed within {timeout:.0f}s")
            time.sleep(0.1)

    def wait_height(self, h: int, timeout: float = 120.0) -> int:
        deadline = time.monotonic() + timeout
        while True:
            top = self.height()
            if top >= h:
                return top
            if time.monotonic() > deadline:
                raise DemoError(f"the chain did not reach height {h} within {timeout:.0f}s")
            time.sleep(0.1)

    # the chain's clock ---------------------------------------------------
    def clock(self, samples: int = 4, timeout: float = 60.0) -> dict:
        """How the chain stamps its blocks, read from the last few headers.

        ``step_ms`` is the smallest gap between consecutive block times (a
        stalled and resumed wall-clock chain shows one long gap, never only
        long gaps; a simulated clock shows the same step every time)."""
        top = self.wait_height(samples + 1, timeout)
        times = [self.c.block(height=h).time_ms for h in range(top - samples, top + 1)]
        gaps = [b - a for a, b in zip(times, times[1:])]
        return {"step_ms": min(gaps), "heights": [top - samples, top], "time_ms": times[-1]}

    def wait_month(self, month: tuple, stall: float = 60.0):
        """Poll the tip until its block time is in ``month`` (year, month) or later; return its status.

        The deadline is a stall: no new block for ``stall`` seconds."""
        last, deadline = -1, 0.0
        while True:
            st = self.c.status()
            if month_of(st.time_ms) >= month:
                return st
            now = time.monotonic()
            if st.height != last:
                last, deadline = st.height, now + stall
            elif now > deadline:
                raise DemoError(f"the chain made no block for {stall:.0f}s while the demo waited for "
                                f"{month[0]}-{month[1]:02d} (last block {st.height} at {_ymd(st.time_ms)})")
            time.sleep(0.1)

    # reads (``height`` 0: the latest block; any other: the state after that block) ------------
    def view(self, law: str, func: str, args: dict | None = None, height: int = 0):
        r = self.c.eval_law(law, func, args or {}, height=height)
        if r.code != 0:
            raise DemoError(f"{law}.{func} failed: {r.error} (code {r.code})")
        return decode(r.value) if r.value else None

    def balance(self, addr: str, height: int = 0) -> int:
        return self.c.account(addr, height=height).balance

    def supply(self, height: int = 0) -> Supply:
        r = self.c.state(("supply",), height=height)
        return Supply.decode(r.value) if r.exists else Supply()


def month_of(time_ms: int) -> tuple:
    """(year, month) of a block time, in UTC as the laws read it."""
    d = datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.timezone.utc)
    return d.year, d.month


def _ymd(time_ms: int) -> str:
    return datetime.datetime.fromtimestamp(time_ms // 1000, tz=datetime.timezone.utc).strftime("%Y-%m-%d")


def add_months(month: tuple, k: int) -> tuple:
    p = month[0] * 12 + month[1] - 1 + k
    return p // 12, p % 12 + 1


def law_address(name: str) -> str:
    from chain.contract_host import contract_account  # the same derivation every node uses; a pure function

    return encode_address(contract_account(name))


def law_events(rec: dict, name: str) -> list[dict]:
    return [e["data"] for e in rec["events"] if isinstance(e, dict) and e.get("type") == "law" and e.get("name") == name]


# --------------------------------------------------------------------------
# the economy
# --------------------------------------------------------------------------


def _seed(rng) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(32))


def _raw(addr: str) -> bytes:
    from ledger.address import decode_address

    return decode_address(addr)
