"""The explorer's own index: one small interface, SQLite or PostgreSQL behind it.

Rules:

1. One block is written in one database transaction, rows keyed by
   (height, index, ...) and inserted without ``ON CONFLICT``: a block
   is in the index whole or not at all, and never twice.  The next height
   to index is ``max(height) + 1``, so a restart resumes exactly there.
2. Every row is a pure function of the verified block (and the law records
   read at that height), so re-indexing from genesis gives the same rows.
3. Every read is bounded: list queries take a ``limit`` the web layer caps,
   search looks up exact keys with a limit, and the figures a page sums
   (counts, monthly money, validator records) are running totals kept in
   ``stats``, ``money_month`` and ``validator_stats``, updated in the block's
   own transaction (the one place ``ON CONFLICT ... DO UPDATE`` is used);
   :meth:`Index.check_totals` recomputes them from the rows.

SQL is written once with ``?`` placeholders; the PostgreSQL backend turns
them into ``%s``.  JSON values are stored as text (canonical: sorted keys).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from typing import Any, Iterable

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS blocks (
        height BIGINT PRIMARY KEY, hash TEXT NOT NULL UNIQUE, time_ms BIGINT NOT NULL, proposer TEXT NOT NULL,
        proposer_key TEXT NOT NULL, tx_count INTEGER NOT NULL, state_root TEXT NOT NULL,
        validators_hash TEXT NOT NULL, next_validators_hash TEXT NOT NULL, validators INTEGER NOT NULL,
        total_power BIGINT NOT NULL, evidence INTEGER NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS txs (
        hash TEXT PRIMARY KEY, height BIGINT NOT NULL, idx INTEGER NOT NULL, kind TEXT NOT NULL,
        sender TEXT NOT NULL, signer TEXT NOT NULL, nonce BIGINT NOT NULL, code INTEGER NOT NULL,
        code_name TEXT NOT NULL, gas_used BIGINT NOT NULL, tax BIGINT NOT NULL, law_version INTEGER,
        time_ms BIGINT NOT NULL, payload TEXT NOT NULL, events TEXT NOT NULL, result TEXT NOT NULL,
        UNIQUE (height, idx))""",
    """CREATE TABLE IF NOT EXISTS history (
        address TEXT NOT NULL, height BIGINT NOT NULL, idx INTEGER NOT NULL, tx_hash TEXT NOT NULL,
        kind TEXT NOT NULL, counterparty TEXT NOT NULL, delta BIGINT NOT NULL, code INTEGER NOT NULL,
        time_ms BIGINT NOT NULL, PRIMARY KEY (address, height, idx))""",
    """CREATE TABLE IF NOT EXISTS money (
        height BIGINT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL, month TEXT NOT NULL,
        kind TEXT NOT NULL, sub TEXT NOT NULL, party TEXT NOT NULL, amount BIGINT NOT NULL,
        PRIMARY KEY (height, idx, seq))""",
    """CREATE TABLE IF NOT EXISTS signatures (
        height BIGINT NOT NULL, validator TEXT NOT NULL, PRIMARY KEY (height, validator))""",
    """CREATE TABLE IF NOT EXISTS evidence (
        height BIGINT NOT NULL, seq INTEGER NOT NULL, validator TEXT NOT NULL, vote_height BIGINT NOT NULL,
        data TEXT NOT NULL, PRIMARY KEY (height, seq))""",
    """CREATE TABLE IF NOT EXISTS names (
        address TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, height BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS law_versions (
        name TEXT NOT NULL, version INTEGER NOT NULL, code_hash TEXT NOT NULL, since_height BIGINT NOT NULL,
        summary TEXT NOT NULL, source TEXT NOT NULL, entries TEXT NOT NULL, views TEXT NOT NULL,
        seen_height BIGINT NOT NULL, PRIMARY KEY (name, version))""",
    "CREATE TABLE IF NOT EXISTS stats (k TEXT PRIMARY KEY, v BIGINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS money_month (
        kind TEXT NOT NULL, sub TEXT NOT NULL, month TEXT NOT NULL, amount BIGINT NOT NULL, n BIGINT NOT NULL,
        PRIMARY KEY (kind, sub, month))""",
    """CREATE TABLE IF NOT EXISTS validator_stats (
        validator TEXT PRIMARY KEY, proposed BIGINT NOT NULL, signed BIGINT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS law_events (
        height BIGINT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL, law TEXT NOT NULL, name TEXT NOT NULL,
        tx_hash TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (height, idx, seq))""",
    """CREATE TABLE IF NOT EXISTS law_refs (
        kind TEXT NOT NULL, ref TEXT NOT NULL, height BIGINT NOT NULL, idx INTEGER NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (kind, ref, height, idx, seq))""",
    "CREATE INDEX IF NOT EXISTS law_events_name ON law_events (law, name, height DESC, idx DESC, seq DESC)",
    "CREATE INDEX IF NOT EXISTS money_party ON money (party, kind)",
    "CREATE INDEX IF NOT EXISTS history_addr ON history (address, height DESC, idx DESC)",
    "CREATE INDEX IF NOT EXISTS txs_height ON txs (height DESC, idx DESC)",
    "CREATE INDEX IF NOT EXISTS money_kind ON money (kind, month)",
    "CREATE INDEX IF NOT EXISTS names_name ON names (name)",
]

TABLES = ("meta", "blocks", "txs", "history", "money", "signatures", "evidence", "names", "law_versions", "stats",
          "money_month", "validator_stats", "law_events", "law_refs")

# What a law event is about, for the governance pages: {law: {data key: ref kind}}, with per-event overrides.
# A ref is (kind, text): "proposal"/"3", "delegate"/address, "agency"/address, "post"/"7", ...
_REF_KEYS = {
    "congress": {"id": "proposal", "target": "proposal", "delegate": "delegate", "election": "election",
                 "elected": "delegate", "proposer": "account", "citizen": "account", "voter": "account",
                 "candidate": "account"},
    "forum": {"id": "post", "to": "post", "topic": "post", "author": "account", "account": "account",
              "citizen": "account"},
    "tickets": {"id": "ticket", "agency": "agency", "to": "agency", "by": "account", "official": "account"},
    "assembly": {"id": "assembly", "assembly": "assembly", "topic": "post", "voter": "account",
                 "candidate": "account", "members": "account"},
}
_REF_OVERRIDES = {
    ("congress", "election_open"): {"id": "election", "constituency": "constituency"},
    ("congress", "constituency"): {"id": "constituency"},
    ("congress", "assigned"): {"citizen": "account", "constituency": "constituency"},
    ("forum", "poll"): {"id": "poll"},
    ("assembly", "resolution"): {"assembly": "assembly"},
    ("assembly", "decided"): {"assembly": "assembly"},
}
MAX_REF = 128
MAX_EVENT_DATA = 16_000  # characters of an event's data kept in law_events (a longer one is cut, marked)


def _ref_values(v) -> list[str]:
    if isinstance(v, bool):
        return []
    if isinstance(v, int):
        return [str(v)] if 0 < v < 2**62 else []
    if isinstance(v, str):
        return [v] if 0 < len(v) <= MAX_REF else []
    if isinstance(v, list):
        return [x for item in v[:64] for x in _ref_values(item) if not isinstance(item, list)]
    return []


def law_event_rows(t: dict) -> tuple[list[tuple], list[tuple]]:
    """(law_events rows, law_refs rows) of one indexed transaction: a pure function of its events
    (and, for a forum post about a proposal, its call's arguments).  Refused transactions have none."""
    if t["code"] != 0 or not isinstance(t["events"], list):
        return [], []
    events, refs = [], set()
    p = t["payload"] if isinstance(t["payload"], dict) else {}
    args = p.get("args") if isinstance(p.get("args"), dict) else {}
    for seq, e in enumerate(t["events"]):
        if not (isinstance(e, dict) and e.get("type") == "law" and isinstance(e.get("contract"), str)
                and isinstance(e.get("name"), str)):
            continue
        law, name, data = e["contract"][:64], e["name"][:64], e.get("data")
        text = dumps(data)
        if len(text) > MAX_EVENT_DATA:
            text = dumps({"truncated": True, "chars": len(text)})
        events.append((t["height"], t["idx"], seq, law, name, t["hash"], text))
        keys = _REF_OVERRIDES.get((law, name), _REF_KEYS.get(law, {}))
        if isinstance(data, dict):
            for k in sorted(keys):
                for v in _ref_values(data.get(k)):
                    refs.add((keys[k], v, t["height"], t["idx"], seq))
        if (law, name) == ("forum", "posted") and p.get("contract") == "forum" and p.get("entry") == "post":
            for v in _ref_values(args.get("proposal")):
                refs.add(("proposal", v, t["height"], t["idx"], seq))
    return events, sorted(refs)
_BUMP = {
    "stats": "INSERT INTO stats (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = stats.v + excluded.v",
    "money_month": "INSERT INTO money_month (kind, sub, month, amount, n) VALUES (?, ?, ?, ?, ?) ON CONFLICT "
                   "(kind, sub, month) DO UPDATE SET amount = money_month.amount + excluded.amount, "
                   "n = money_month.n + excluded.n",
    "validator_stats": "INSERT INTO validator_stats (validator, proposed, signed) VALUES (?, ?, ?) ON CONFLICT "
                       "(validator) DO UPDATE SET proposed = validator_stats.proposed + excluded.proposed, "
                       "signed = validator_stats.signed + excluded.signed",
}


def dumps(v: Any) -> str:
    return json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class _Backend:
    """One connection and its lock (sqlite3 or psycopg)."""

    paramstyle = "?"

    def __init__(self, conn):
        self.conn = conn
        self.lock = threading.Lock()

    def sql(self, q: str) -> str:
        return q if self.paramstyle == "?" else q.replace("?", "%s")

    def query(self, q: str, params: Iterable = ()) -> list[tuple]:
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute(self.sql(q), tuple(params))
                return list(cur.fetchall())
            finally:
                cur.close()

    def close(self) -> None:
        with self.lock:
            self.conn.close()


class _Sqlite(_Backend):
    def write(self, statements: list[tuple[str, tuple]]) -> None:
        with self.lock:
            cur = self.conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                for q, p in statements:
                    cur.execute(q, p)
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()


class _Postgres(_Backend):
    paramstyle = "%s"

    def write(self, statements: list[tuple[str, tuple]]) -> None:
        with self.lock:
            with self.conn.transaction():
                with self.conn.cursor() as cur:
                    for q, p in statements:
                        cur.execute(self.sql(q), p)


def _open(url: str) -> tuple[_Backend, _Backend, str]:
    """(writer, reader, kind) for a database URL."""
    if url.startswith(("postgresql://", "postgres://")):
        try:
            import psycopg
        except ImportError:  # pragma: no cover - a dependency
            raise SystemExit("PostgreSQL needs the psycopg package (pip install 'psycopg[binary]')") from None
        w = psycopg.connect(url, autocommit=True)
        r = psycopg.connect(url, autocommit=True)
        return _Postgres(w), _Postgres(r), "postgresql"
    path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else url
    if path in ("", ":memory:"):
        raise ValueError("the SQLite index needs a file path (a reader and a writer share it)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    w = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    w.execute("PRAGMA journal_mode=WAL")
    w.execute("PRAGMA synchronous=NORMAL")
    r = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    return _Sqlite(w), _Sqlite(r), "sqlite"


class Index:
    """The explorer's index (see the module's rules)."""

    def __init__(self, url: str):
        self.url = url
        self.w, self.r, self.kind = _open(url)
        for q in SCHEMA:
            self.w.write([(q, ())])
        if self.get_meta("law_events") is None:
            self._backfill_law_events()

    def _backfill_law_events(self, batch: int = 500) -> None:
        """An index written before ``law_events`` existed: derive its rows from the stored transactions
        (the same function :meth:`add_block` applies), in bounded batches, once."""
        s = self.w.sql
        after = (0, -1)
        while True:
            rows = self._txs(self.r.query(f"SELECT {self._TX} FROM txs WHERE height > ? OR (height = ? AND "
                                          "idx > ?) ORDER BY height, idx LIMIT ?", (after[0], after[0], after[1], batch)))
            if not rows:
                break
            st: list[tuple[str, tuple]] = []
            for t in rows:
                if self.r.query("SELECT 1 FROM law_events WHERE height = ? AND idx = ? LIMIT 1", (t["height"], t["idx"])):
                    continue
                evs, refs = law_event_rows(t)
                st += [(s("INSERT INTO law_events (height, idx, seq, law, name, tx_hash, data) VALUES (?,?,?,?,?,?,?)"),
                        r) for r in evs]
                st += [(s("INSERT INTO law_refs (kind, ref, height, idx, seq) VALUES (?,?,?,?,?)"), r) for r in refs]
            if st:
                self.w.write(st)
            after = (rows[-1]["height"], rows[-1]["idx"])
        self.set_meta("law_events", "1")

    def close(self) -> None:
        self.w.close()
        self.r.close()

    # ---- meta -----------------------------------------------------------------
    def get_meta(self, k: str) -> str | None:
        rows = self.r.query("SELECT v FROM meta WHERE k = ?", (k,))
        return rows[0][0] if rows else None

    def set_meta(self, k: str, v: str) -> None:
        self.w.write([(self.w.sql("DELETE FROM meta WHERE k = ?"), (k,)),
                      (self.w.sql("INSERT INTO meta (k, v) VALUES (?, ?)"), (k, v))])

    # ---- writing ----------------------------------------------------------------
    def height(self) -> int:
        rows = self.r.query("SELECT MAX(height) FROM blocks")
        return int(rows[0][0] or 0)

    def add_block(self, block: dict, txs: list[dict], hist: list[dict], money: list[dict], signers: list[str],
                  names: list[dict], laws: list[dict], evidence: list[dict] = ()) -> None:
        """Write one verified block and everything derived from it, atomically."""
        s = self.w.sql
        st: list[tuple[str, tuple]] = []
        b = block
        st.append((s("INSERT INTO blocks (height, hash, time_ms, proposer, proposer_key, tx_count, state_root, "
                     "validators_hash, next_validators_hash, validators, total_power, evidence) "
                     "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"),
                   (b["height"], b["hash"], b["time_ms"], b["proposer"], b["proposer_key"], b["tx_count"],
                    b["state_root"], b["validators_hash"], b["next_validators_hash"], b["validators"],
                    b["total_power"], b["evidence"])))
        for t in txs:
            st.append((s("INSERT INTO txs (hash, height, idx, kind, sender, signer, nonce, code, code_name, gas_used, "
                         "tax, law_version, time_ms, payload, events, result) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"),
                       (t["hash"], t["height"], t["idx"], t["kind"], t["sender"], t["signer"], t["nonce"], t["code"],
                        t["code_name"], t["gas_used"], t["tax"], t["law_version"], t["time_ms"], dumps(t["payload"]),
                        dumps(t["events"]), dumps(t["result"]))))
        for h in hist:
            st.append((s("INSERT INTO history (address, height, idx, tx_hash, kind, counterparty, delta, code, time_ms) "
                         "VALUES (?,?,?,?,?,?,?,?,?)"),
                       (h["address"], h["height"], h["idx"], h["tx_hash"], h["kind"], h["counterparty"], h["delta"],
                        h["code"], h["time_ms"])))
        for m in money:
            st.append((s("INSERT INTO money (height, idx, seq, month, kind, sub, party, amount) VALUES (?,?,?,?,?,?,?,?)"),
                       (m["height"], m["idx"], m["seq"], m["month"], m["kind"], m["sub"], m["party"], m["amount"])))
        for v in signers:
            st.append((s("INSERT INTO signatures (height, validator) VALUES (?, ?)"), (b["height"] - 1, v)))
        for i, e in enumerate(evidence):
            st.append((s("INSERT INTO evidence (height, seq, validator, vote_height, data) VALUES (?,?,?,?,?)"),
                       (b["height"], i, e["validator"], e["vote_height"], dumps(e["data"]))))
        for n in names:
            st.append((s("DELETE FROM names WHERE address = ?"), (n["address"],)))
            st.append((s("INSERT INTO names (address, name, kind, height) VALUES (?,?,?,?)"),
                       (n["address"], n["name"], n["kind"], b["height"])))
        # running totals (rule 3)
        new_accounts = sum(1 for a in sorted({h["address"] for h in hist})
                           if not self.r.query("SELECT 1 FROM history WHERE address = ? LIMIT 1", (a,)))
        for k, v in (("blocks", 1), ("transactions", len(txs)), ("accounts_seen", new_accounts),
                     ("signed_heights", 1 if signers else 0)):
            st.append((s(_BUMP["stats"]), (k, v)))
        months: dict[tuple, list[int]] = {}
        for m in money:
            t = months.setdefault((m["kind"], m["sub"], m["month"]), [0, 0])
            t[0] += m["amount"]
            t[1] += 1
        for key in sorted(months):
            st.append((s(_BUMP["money_month"]), (*key, *months[key])))
        vals = {v: [0, 1] for v in signers}
        vals.setdefault(b["proposer_key"], [0, 0])[0] += 1
        for v in sorted(vals):
            st.append((s(_BUMP["validator_stats"]), (v, *vals[v])))
        for t in txs:
            evs, refs = law_event_rows(t)
            for row in evs:
                st.append((s("INSERT INTO law_events (height, idx, seq, law, name, tx_hash, data) "
                             "VALUES (?,?,?,?,?,?,?)"), row))
            for row in refs:
                st.append((s("INSERT INTO law_refs (kind, ref, height, idx, seq) VALUES (?,?,?,?,?)"), row))
        for lv in laws:
            st.append((s("INSERT INTO law_versions (name, version, code_hash, since_height, summary, source, entries, "
                         "views, seen_height) VALUES (?,?,?,?,?,?,?,?,?)"),
                       (lv["name"], lv["version"], lv["code_hash"], lv["since_height"], lv["summary"], lv["source"],
                        dumps(lv["entries"]), dumps(lv["views"]), b["height"])))
        self.w.write(st)

    # ---- reading ----------------------------------------------------------------
    _BLOCK = ("height, hash, time_ms, proposer, proposer_key, tx_count, state_root, validators_hash, "
              "next_validators_hash, validators, total_power, evidence")
    _TX = ("hash, height, idx, kind, sender, signer, nonce, code, code_name, gas_used, tax, law_version, time_ms, "
           "payload, events, result")

    def _blocks(self, rows) -> list[dict]:
        keys = [k.strip() for k in self._BLOCK.split(",")]
        return [dict(zip(keys, r)) for r in rows]

    def _txs(self, rows) -> list[dict]:
        keys = [k.strip() for k in self._TX.split(",")]
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            for k in ("payload", "events", "result"):
                d[k] = json.loads(d[k])
            out.append(d)
        return out

    def block(self, height: int) -> dict | None:
        b = self._blocks(self.r.query(f"SELECT {self._BLOCK} FROM blocks WHERE height = ?", (height,)))
        return b[0] if b else None

    def block_by_hash(self, h: str) -> dict | None:
        b = self._blocks(self.r.query(f"SELECT {self._BLOCK} FROM blocks WHERE hash = ?", (h,)))
        return b[0] if b else None

    def blocks(self, before: int | None, limit: int) -> list[dict]:
        if before is None:
            rows = self.r.query(f"SELECT {self._BLOCK} FROM blocks ORDER BY height DESC LIMIT ?", (limit,))
        else:
            rows = self.r.query(f"SELECT {self._BLOCK} FROM blocks WHERE height < ? ORDER BY height DESC LIMIT ?",
                                (before, limit))
        return self._blocks(rows)

    def block_txs(self, height: int, offset: int, limit: int) -> list[dict]:
        return self._txs(self.r.query(f"SELECT {self._TX} FROM txs WHERE height = ? ORDER BY idx LIMIT ? OFFSET ?",
                                      (height, limit, offset)))

    def tx(self, h: str) -> dict | None:
        t = self._txs(self.r.query(f"SELECT {self._TX} FROM txs WHERE hash = ?", (h,)))
        return t[0] if t else None

    def latest_txs(self, limit: int) -> list[dict]:
        return self._txs(self.r.query(f"SELECT {self._TX} FROM txs ORDER BY height DESC, idx DESC LIMIT ?", (limit,)))

    def txs_between(self, after: int, upto: int, limit: int) -> list[dict]:
        """Transactions in blocks after ``after`` up to ``upto``, newest first."""
        return self._txs(self.r.query(f"SELECT {self._TX} FROM txs WHERE height > ? AND height <= ? "
                                      "ORDER BY height DESC, idx DESC LIMIT ?", (after, upto, limit)))

    def history(self, address: str, offset: int, limit: int) -> list[dict]:
        rows = self.r.query("SELECT height, idx, tx_hash, kind, counterparty, delta, code, time_ms FROM history "
                            "WHERE address = ? ORDER BY height DESC, idx DESC LIMIT ? OFFSET ?",
                            (address, limit, offset))
        keys = ("height", "idx", "tx_hash", "kind", "counterparty", "delta", "code", "time_ms")
        return [dict(zip(keys, r)) for r in rows]

    def history_count(self, address: str) -> int:
        return int(self.r.query("SELECT COUNT(*) FROM history WHERE address = ?", (address,))[0][0])

    def taxes_paid(self, address: str) -> list[dict]:
        rows = self.r.query("SELECT sub, SUM(amount), COUNT(*) FROM money WHERE kind = 'tax' AND party = ? "
                            "GROUP BY sub ORDER BY sub", (address,))
        return [{"kind": r[0], "amount": int(r[1]), "count": int(r[2])} for r in rows]

    def benefits_used(self, address: str) -> list[dict]:
        """Coupons (allocation schemes) and welfare vouchers this account used, by kind."""
        rows = self.r.query("SELECT kind, sub, SUM(amount), COUNT(*) FROM money WHERE party = ? AND "
                            "(kind = 'allocation' OR (kind = 'welfare' AND idx >= 0)) GROUP BY kind, sub "
                            "ORDER BY kind, sub", (address,))
        return [{"programme": r[0], "kind": r[1], "amount": int(r[2]), "count": int(r[3])} for r in rows]

    def name_of(self, address: str) -> dict | None:
        rows = self.r.query("SELECT name, kind FROM names WHERE address = ?", (address,))
        return {"name": rows[0][0], "kind": rows[0][1]} if rows else None

    def find_names(self, name: str, limit: int) -> list[dict]:
        rows = self.r.query("SELECT address, name, kind FROM names WHERE name = ? ORDER BY address LIMIT ?",
                            (name, limit))
        return [{"address": r[0], "name": r[1], "kind": r[2]} for r in rows]

    def _stats(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.r.query("SELECT k, v FROM stats")}

    def counts(self) -> dict:
        s = self._stats()
        return {k: s.get(k, 0) for k in ("blocks", "transactions", "accounts_seen")}

    def money_by_month(self, kind: str) -> list[dict]:
        rows = self.r.query("SELECT month, sub, amount, n FROM money_month WHERE kind = ? ORDER BY month, sub", (kind,))
        return [{"month": r[0], "kind": r[1], "amount": int(r[2]), "count": int(r[3])} for r in rows]

    def supply_by_month(self) -> list[dict]:
        rows = self.r.query("SELECT month, kind, SUM(amount) FROM money_month WHERE kind IN ('issue', 'retire') "
                            "GROUP BY month, kind ORDER BY month, kind")
        months: dict[str, dict] = {}
        for month, kind, amt in rows:
            m = months.setdefault(month, {"month": month, "issued": 0, "retired": 0})
            m["issued" if kind == "issue" else "retired"] += int(amt)
        out, supply = [], 0
        for m in sorted(months):
            supply += months[m]["issued"] - months[m]["retired"]
            out.append({**months[m], "supply": supply})
        return out

    def proposer_stats(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.r.query("SELECT validator, proposed FROM validator_stats LIMIT 10000")}

    def signature_stats(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.r.query("SELECT validator, signed FROM validator_stats LIMIT 10000")}

    def evidence(self, limit: int) -> list[dict]:
        rows = self.r.query("SELECT height, seq, validator, vote_height, data FROM evidence "
                            "ORDER BY height DESC, seq DESC LIMIT ?", (limit,))
        return [{"height": int(r[0]), "seq": int(r[1]), "validator": r[2], "vote_height": int(r[3]),
                 "data": json.loads(r[4])} for r in rows]

    def evidence_counts(self) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in self.r.query("SELECT validator, COUNT(*) FROM evidence GROUP BY validator")}

    def signed_heights(self) -> int:
        return self._stats().get("signed_heights", 0)

    def check_totals(self) -> list[str]:
        """Recompute the running totals from the rows (full scans: for tests and audits, not pages)."""
        q, bad = self.r.query, []
        want = {"blocks": q("SELECT COUNT(*) FROM blocks")[0][0], "transactions": q("SELECT COUNT(*) FROM txs")[0][0],
                "accounts_seen": q("SELECT COUNT(DISTINCT address) FROM history")[0][0],
                "signed_heights": q("SELECT COUNT(DISTINCT height) FROM signatures")[0][0]}
        have = self._stats()
        bad += [f"stats {k}: {have.get(k, 0)} != {int(v)}" for k, v in want.items() if have.get(k, 0) != int(v)]
        months = {(r[0], r[1], r[2]): (int(r[3]), int(r[4])) for r in q(
            "SELECT kind, sub, month, SUM(amount), COUNT(*) FROM money GROUP BY kind, sub, month")}
        kept = {(r[0], r[1], r[2]): (int(r[3]), int(r[4])) for r in q("SELECT kind, sub, month, amount, n FROM money_month")}
        if months != kept:
            bad.append(f"money_month differs: {sorted(set(months.items()) ^ set(kept.items()))[:5]}")
        vals: dict[str, list[int]] = {}
        for v, n in q("SELECT proposer_key, COUNT(*) FROM blocks GROUP BY proposer_key"):
            vals.setdefault(v, [0, 0])[0] = int(n)
        for v, n in q("SELECT validator, COUNT(*) FROM signatures GROUP BY validator"):
            vals.setdefault(v, [0, 0])[1] = int(n)
        kept_v = {r[0]: [int(r[1]), int(r[2])] for r in q("SELECT validator, proposed, signed FROM validator_stats")}
        if vals != kept_v:
            bad.append("validator_stats differ")
        return bad

    def laws(self) -> list[dict]:
        rows = self.r.query("SELECT name, MAX(version), COUNT(*) FROM law_versions GROUP BY name ORDER BY name")
        out = []
        for name, latest, n in rows:
            v = self.law_version(name, int(latest))
            out.append({"name": name, "version": int(latest), "versions": int(n), "summary": v["summary"],
                        "since_height": v["since_height"], "code_hash": v["code_hash"]})
        return out

    def law_versions(self, name: str) -> list[dict]:
        rows = self.r.query("SELECT version, code_hash, since_height, summary, seen_height FROM law_versions "
                            "WHERE name = ? ORDER BY version", (name,))
        return [{"version": int(r[0]), "code_hash": r[1], "since_height": int(r[2]), "summary": r[3],
                 "seen_height": int(r[4])} for r in rows]

    def law_version(self, name: str, version: int) -> dict | None:
        rows = self.r.query("SELECT version, code_hash, since_height, summary, source, entries, views FROM law_versions "
                            "WHERE name = ? AND version = ?", (name, version))
        if not rows:
            return None
        r = rows[0]
        return {"name": name, "version": int(r[0]), "code_hash": r[1], "since_height": int(r[2]), "summary": r[3],
                "source": r[4], "entries": json.loads(r[5]), "views": json.loads(r[6])}

    # ---- law events (governance pages) --------------------------------------------
    _EV = "e.height, e.idx, e.seq, e.law, e.name, e.tx_hash, e.data"

    def _events(self, rows) -> list[dict]:
        return [{"height": int(r[0]), "idx": int(r[1]), "seq": int(r[2]), "law": r[3], "name": r[4], "tx_hash": r[5],
                 "data": json.loads(r[6])} for r in rows]

    @staticmethod
    def _names_clause(names: tuple) -> tuple[str, tuple]:
        if not names:
            return "", ()
        return " AND e.name IN (" + ",".join("?" * len(names)) + ")", tuple(names)

    def law_events(self, law: str, names: tuple = (), offset: int = 0, limit: int = 25, kind: str | None = None,
                   ref: str | None = None, oldest_first: bool = False) -> list[dict]:
        """A law's events, newest first (optionally only those about ``kind``/``ref``)."""
        nc, np = self._names_clause(tuple(names))
        order = "ASC" if oldest_first else "DESC"
        tail = f" ORDER BY e.height {order}, e.idx {order}, e.seq {order} LIMIT ? OFFSET ?"
        if ref is None:
            rows = self.r.query(f"SELECT {self._EV} FROM law_events e WHERE e.law = ?{nc}{tail}",
                                (law, *np, limit, offset))
        else:
            rows = self.r.query(f"SELECT {self._EV} FROM law_refs r JOIN law_events e ON e.height = r.height AND "
                                f"e.idx = r.idx AND e.seq = r.seq WHERE r.kind = ? AND r.ref = ? AND e.law = ?{nc}{tail}",
                                (kind, ref, law, *np, limit, offset))
        return self._events(rows)

    def law_events_count(self, law: str, names: tuple = (), kind: str | None = None, ref: str | None = None) -> int:
        nc, np = self._names_clause(tuple(names))
        if ref is None:
            rows = self.r.query(f"SELECT COUNT(*) FROM law_events e WHERE e.law = ?{nc}", (law, *np))
        else:
            rows = self.r.query(f"SELECT COUNT(*) FROM law_refs r JOIN law_events e ON e.height = r.height AND "
                                f"e.idx = r.idx AND e.seq = r.seq WHERE r.kind = ? AND r.ref = ? AND e.law = ?{nc}",
                                (kind, ref, law, *np))
        return int(rows[0][0])

    def law_refs(self, kind: str, offset: int = 0, limit: int = 25) -> list[dict]:
        """The distinct things of one kind the law events are about (agencies, delegates...), with event counts."""
        rows = self.r.query("SELECT ref, COUNT(*) FROM law_refs WHERE kind = ? GROUP BY ref ORDER BY ref "
                            "LIMIT ? OFFSET ?", (kind, limit, offset))
        return [{"ref": r[0], "events": int(r[1])} for r in rows]

    def law_refs_count(self, kind: str) -> int:
        return int(self.r.query("SELECT COUNT(DISTINCT ref) FROM law_refs WHERE kind = ?", (kind,))[0][0])

    def names_of_kind(self, kind: str, limit: int) -> list[dict]:
        rows = self.r.query("SELECT address, name FROM names WHERE kind = ? ORDER BY address LIMIT ?", (kind, limit))
        return [{"address": r[0], "name": r[1]} for r in rows]

    def known_law_versions(self) -> set[tuple[str, int]]:
        return {(r[0], int(r[1])) for r in self.r.query("SELECT name, version FROM law_versions")}

    def dump(self, upto: int | None = None) -> dict[str, list]:
        """Every row of every table but meta, in key order, up to a height (for comparing two indexes)."""
        order = {"blocks": ("height", "height"), "txs": ("height, idx", "height"),
                 "history": ("address, height, idx", "height"), "money": ("height, idx, seq", "height"),
                 "signatures": ("height, validator", "height"), "names": ("address", "height"),
                 "evidence": ("height, seq", "height"),
                 "law_versions": ("name, version", "seen_height"), "law_events": ("height, idx, seq", "height"),
                 "law_refs": ("kind, ref, height, idx, seq", "height")}
        cap = 2**62 if upto is None else upto
        return {t: [tuple(r) for r in self.r.query(f"SELECT * FROM {t} WHERE {h} <= ? ORDER BY {o}", (cap,))]
                for t, (o, h) in order.items()}
