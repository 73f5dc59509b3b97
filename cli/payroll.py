"""``esoc payroll preview|run FILE.csv --from EMPLOYER``: wages through the tax law, in bulk.

The CSV's columns are found by their header names: ``employee`` (an address
or a keystore name) and ``gross`` (fen) are required; ``social_insurance``,
``special_additional`` and ``other_deductions`` (fen) are optional and
default to 0.  The month is the block time's, as for any wage payment.

A bad row (an unknown employee, a negative or non-integer amount) is
reported with its line number and stops nothing else.

**Idempotency.**  Each row gets a ``payment_id``: a hash of the pay period
(``--period``, by default the month of the chain's latest block time), the
employee, the amounts and the row's occurrence among identical rows.  The
tax law records every payment made with an id and refuses a second one
(``E_ALREADY_PAID``); before submitting, ``run`` asks the chain which ids
are already paid and skips them.  Re-running the same file, or a file with
rows fixed or added, pays nobody twice; editing the line order changes
nothing either.

``run`` signs every payment with consecutive nonces, submits them in
batches (``SubmitTxBatch``) keeping at most ``--in-flight`` uncommitted,
reads the receipts from the committed blocks, and writes a per-row result
file (``FILE.results.csv`` unless ``--results``): status (``paid``,
``already_paid``, ``failed``, ``bad_row``, ``not_submitted``, ``unconfirmed``:
submitted but not seen committed before ``--timeout``; a re-run settles it), tax, net,
transaction hash, height, error.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import click

from node.admission import retry_after_ms

from ledger import codes
from ledger.address import AddressError, decode_address, encode_address
from ledger.block import Receipt
from ledger.codec import decode
from ledger.tx import Call, sign_tx

from . import txflow
from .output import UserError, client, emit, fen, global_options, is_tty, keystore, pass_settings, password, progress

REQUIRED = ("employee", "gross")
OPTIONAL = ("social_insurance", "special_additional", "other_deductions")
GAS = 1_000_000
MAX_ROWS = 100_000
SIMULATE_CHUNK = 500  # the node's SimulateTx limit


@dataclasses.dataclass
class Row:
    line: int
    employee_text: str
    employee: str = ""  # address
    gross: int = 0
    social_insurance: int = 0
    special_additional: int = 0
    other_deductions: int = 0
    payment_id: str = ""
    status: str = "pending"
    tax: int | None = None
    net: int | None = None
    tx: str = ""
    height: int | None = None
    error: str = ""
    error_detail: str = ""

    def args(self) -> dict:
        return {"employee": self.employee, "gross": self.gross, "social_insurance": self.social_insurance,
                "special_additional": self.special_additional, "other_deductions": self.other_deductions,
                "payment_id": self.payment_id}

    def out(self) -> dict:
        return {"line": self.line, "employee": self.employee or self.employee_text, "gross": self.gross,
                "status": self.status, "tax": self.tax, "net": self.net, "tx": self.tx or None, "height": self.height,
                "error": self.error or None, "payment_id": self.payment_id or None}


def read_rows(settings, path: str, period: str) -> list[Row]:
    ks = keystore(settings)
    names: dict[str, str] = {}
    try:
        f = open(path, newline="", encoding="utf-8-sig")
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    rows: list[Row] = []
    seen: dict[tuple, int] = {}
    with f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise UserError(f"{path}: the header row has no column {', '.join(missing)} (need employee and gross; "
                            f"optional {', '.join(OPTIONAL)})")
        reader.fieldnames = header
        for rec in reader:
            if len(rows) >= MAX_ROWS:
                raise UserError(f"{path}: more than {MAX_ROWS} rows; split the file")
            line = reader.line_num
            if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
                continue  # a blank line
            r = Row(line=line, employee_text=(rec.get("employee") or "").strip())
            try:
                r.employee = _employee(ks, names, r.employee_text)
                r.gross = _amount(rec, "gross", required=True)
                for c in OPTIONAL:
                    setattr(r, c, _amount(rec, c))
                if r.gross == 0:
                    raise ValueError("gross is 0")
                if r.social_insurance > r.gross:
                    raise ValueError("social_insurance exceeds gross")
            except ValueError as e:
                r.status, r.error = "bad_row", f"line {line}: {e}"
                rows.append(r)
                continue
            ident = (r.employee, r.gross, r.social_insurance, r.special_additional, r.other_deductions)
            seen[ident] = seen.get(ident, 0) + 1
            r.payment_id = "pr-" + hashlib.sha256(repr((period, *ident, seen[ident])).encode()).hexdigest()[:40]
            rows.append(r)
    if not rows:
        raise UserError(f"{path} has no rows")
    return rows


def _employee(ks, cache: dict, text: str) -> str:
    if not text:
        raise ValueError("no employee")
    if text in cache:
        return cache[text]
    try:
        addr = encode_address(decode_address(text))
    except AddressError:
        try:
            addr = ks.info(text)["address"] if ks.exists(text) else None
        except Exception:  # noqa: BLE001
            addr = None
        if addr is None:
            raise ValueError(f"employee {text!r} is neither an address nor a key in {ks.path}") from None
    cache[text] = addr
    return addr


def _amount(rec: dict, col: str, required: bool = False) -> int:
    raw = (rec.get(col) or "").strip()
    if raw == "":
        if required:
            raise ValueError(f"no {col}")
        return 0
    if not raw.isdigit():
        raise ValueError(f"{col} {raw!r} is not a whole number of fen >= 0")
    v = int(raw)
    if v >= 2**63:
        raise ValueError(f"{col} is too large")
    return v


class Progress:
    """A rich bar on a terminal, a line per tenth otherwise (stderr)."""

    def __init__(self, total: int, what: str, enabled: bool = True):
        self.total, self.what, self.done, self.enabled = total, what, 0, enabled
        self.bar = None
        self.next_mark = 0.1
        if enabled and is_tty(err=True):
            from rich.progress import Progress as RP

            self.bar = RP(transient=False)
            self.bar.start()
            self.task = self.bar.add_task(what, total=total)

    def advance(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(self.task, completed=self.done)
        elif self.enabled and self.total and self.done / self.total >= self.next_mark:
            progress(f"{self.what}: {self.done}/{self.total}")
            while self.next_mark <= self.done / self.total:
                self.next_mark += 0.1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _period(c, period: str | None) -> str:
    if period:
        if not (len(period) == 6 and period.isdigit() and 1 <= int(period[4:]) <= 12):
            raise UserError("--period is YYYYMM")
        return period
    import datetime

    t = datetime.datetime.fromtimestamp(c.status().time_ms / 1000, tz=datetime.timezone.utc)
    return f"{t.year:04d}{t.month:02d}"


def _already_paid(c, employer: str, rows: list[Row], workers: int = 8) -> None:
    """Ask the tax law which payment ids are already paid (the chain is the record)."""
    todo = [r for r in rows if r.status == "pending"]

    def check(r: Row):
        res = c.eval_law("tax", "payment", {"employer": employer, "payment_id": r.payment_id})
        return r, (decode(res.value) if res.code == 0 and res.value else None), res

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for r, rec, res in pool.map(check, todo):
            if res.code != 0:
                raise UserError(f"the tax law on this node cannot check payments ({res.error}): is it the version "
                                "with payment ids?")
            if isinstance(rec, dict):
                r.status, r.tax, r.net, r.height = "already_paid", rec.get("tax"), rec.get("net"), rec.get("height")


def _summary(rows: list[Row], elapsed: float) -> dict:
    by = {}
    for r in rows:
        by[r.status] = by.get(r.status, 0) + 1
    paid = [r for r in rows if r.status in ("paid", "would_pay")]
    return {"rows": len(rows), "by_status": dict(sorted(by.items())),
            "gross": sum(r.gross for r in paid), "tax": sum(r.tax or 0 for r in paid),
            "net": sum(r.net or 0 for r in paid), "social_insurance": sum(r.social_insurance for r in paid),
            "bad_rows": [r.error for r in rows if r.status == "bad_row"],
            "seconds": round(elapsed, 2)}


def _human(summary: dict, verb: str) -> str:
    lines = [f"{summary['rows']} rows: " + ", ".join(f"{n} {k}" for k, n in summary["by_status"].items()),
             f"  {verb:<9} gross {fen(summary['gross'])}",
             f"  tax withheld    {fen(summary['tax'])}",
             f"  social insur.   {fen(summary['social_insurance'])}",
             f"  net pay         {fen(summary['net'])}",
             f"  time            {summary['seconds']} s"]
    lines += [f"  bad row: {e}" for e in summary["bad_rows"][:20]]
    if len(summary["bad_rows"]) > 20:
        lines.append(f"  ... and {len(summary['bad_rows']) - 20} more bad rows (see the result file)")
    return "\n".join(lines)


def _write_results(path: str, rows: list[Row]) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0].out()))
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.out().items()})
    os.replace(tmp, path)


def _common(f):
    f = click.option("--period", metavar="YYYYMM", default=None,
                     help="The pay period in the rows' idempotency keys (default: the month of the chain's block time).")(f)
    f = click.option("--from", "employer_key", required=True, metavar="KEY", help="The employer's key in the keystore.")(f)
    f = click.argument("file", type=click.Path(dir_okay=False))(f)
    return f


@click.group()
def payroll():
    """Enterprise payroll: preview and run a CSV of wages through the tax law."""


@payroll.command("preview")
@_common
@click.option("--rows/--no-rows", "show_rows", default=True, help="List every row (for people), not only the summary.")
@global_options
@pass_settings
def payroll_preview(settings, file, employer_key, period, show_rows):
    """Show the whole run's tax, net pay and problems before anything is signed for the chain.

    Each unpaid row is executed on the node against the latest state (as --dry-run does).
    """
    t0 = time.monotonic()
    key = keystore(settings).unlock(employer_key, password(employer_key))
    employer = keystore(settings).info(employer_key)["address"]
    with client(settings) as c:
        period = _period(c, period)
        rows = read_rows(settings, file, period)
        _already_paid(c, employer, rows)
        st = c.status()
        nonce = c.account(employer).nonce

        # rows of one employee stay in one simulation, in file order (the law's withholding is cumulative)
        by_emp: dict[str, list[Row]] = {}
        for r in rows:
            if r.status == "pending":
                by_emp.setdefault(r.employee, []).append(r)
        chunks: list[list[Row]] = [[]]
        for whole in by_emp.values():
            for k in range(0, len(whole), SIMULATE_CHUNK):  # (over 500 rows for one employee: previewed in parts)
                group = whole[k: k + SIMULATE_CHUNK]
                if chunks[-1] and len(chunks[-1]) + len(group) > SIMULATE_CHUNK:
                    chunks.append([])
                chunks[-1].extend(group)

        def sim(chunk: list[Row]):
            txs = [sign_tx(key, st.chain_id, "call", Call(contract="tax", entry="pay_wage", args=r.args(), gas_limit=GAS),
                           nonce + i, st.height + 300) for i, r in enumerate(chunk)]
            res = c.simulate(txs)
            return [(r, txflow.simulated(c, tx, x, res.height)) for r, tx, x in zip(chunk, txs, res.results)]

        with ThreadPoolExecutor(max_workers=4) as pool:
            for done in pool.map(sim, [ch for ch in chunks if ch]):
                for r, o in done:
                    if o["code"] == 0 and isinstance(o["result"], dict):
                        r.status, r.tax, r.net = "would_pay", o["result"]["tax"], o["result"]["net"]
                    else:
                        err = o["error"] or {}
                        r.status, r.error = "would_fail", f"{err.get('name')}: {err.get('detail') or ''}".strip(": ")
    summary = _summary(rows, time.monotonic() - t0)
    summary["period"] = period
    data = {"summary": summary, "rows": [r.out() for r in rows]}
    human = _human(summary, "to pay")
    if show_rows:
        human = "\n".join(f"line {r.line:<5} {r.employee_text:<20} {r.status:<12} gross {r.gross:>10} "
                          f"tax {'' if r.tax is None else r.tax:>9} net {'' if r.net is None else r.net:>10} {r.error}".rstrip()
                          for r in rows) + "\n" + human
    emit(settings, data, human)


@payroll.command("run")
@_common
@click.option("--results", metavar="FILE", default=None, help="The per-row result file (default: FILE.results.csv).")
@click.option("--batch-size", type=click.IntRange(1, 5000), default=300, show_default=True,
              help="Transactions per SubmitTxBatch call.")
@click.option("--in-flight", type=click.IntRange(1, 4500), default=300, show_default=True,
              help="At most this many payments submitted but not yet committed (bounds the block size).")
@click.option("--no-progress", is_flag=True, help="No progress bar or lines on stderr.")
@click.option("--timeout", type=click.FloatRange(1), default=300.0, show_default=True,
              help="Give up waiting when no block has come for this many seconds.")
@global_options
@pass_settings
def payroll_run(settings, file, employer_key, period, results, batch_size, in_flight, no_progress, timeout):
    """Pay every row of FILE.csv through the tax law (in batches); write a per-row result file."""
    t0 = time.monotonic()
    ks = keystore(settings)
    key = ks.unlock(employer_key, password(employer_key))
    employer = ks.info(employer_key)["address"]
    results = results or (os.path.splitext(file)[0] + ".results.csv")
    with client(settings) as c:
        period = _period(c, period)
        rows = read_rows(settings, file, period)
        _already_paid(c, employer, rows)
        todo = [r for r in rows if r.status == "pending"]
        st = c.status()
        nonce = c.account(employer).nonce
        expiry = st.height + 1000 + len(todo) // 100
        signed = []
        for i, r in enumerate(todo):
            tx = sign_tx(key, st.chain_id, "call", Call(contract="tax", entry="pay_wage", args=r.args(), gas_limit=GAS),
                         nonce + i, expiry)
            r.tx = tx.hash.hex()
            signed.append((r, tx))
        bar = Progress(len(todo), "payroll", enabled=not no_progress)
        try:
            _submit_and_wait(c, signed, batch_size, in_flight, timeout, bar, st.height + 1)
        finally:
            bar.close()
        names = txflow.law_error_names(c, "tax")
    for r in rows:
        if r.status == "failed" and r.error.isdigit():
            n = int(r.error)
            r.status = "already_paid" if names.get(n) == "E_ALREADY_PAID" else r.status
            r.error = names.get(n, r.error) + (f" ({r.error_detail})" if r.error_detail else "")
    _write_results(results, rows)
    summary = _summary(rows, time.monotonic() - t0)
    summary.update(period=period, results=results)
    emit(settings, {"summary": summary}, _human(summary, "paid") + f"\n  results in {results}")
    if any(r.status in ("failed", "not_submitted", "unconfirmed") for r in rows):
        raise SystemExit(1)


# Long by design: one loop with three states (submit within the in-flight bound, back off at capacity, read receipts from new blocks); split, the states' shared bookkeeping would travel between functions.
def _submit_and_wait(c, signed: list, batch_size: int, in_flight: int, timeout: float, bar: Progress, next_height: int):
    queue = list(signed)
    pos = 0
    inflight: dict[bytes, Row] = {}
    last_block = time.monotonic()
    stopped = False
    while pos < len(queue) or inflight:
        while not stopped and pos < len(queue) and len(inflight) < in_flight:
            chunk = queue[pos: pos + min(batch_size, in_flight - len(inflight))]
            resp = c.submit_batch([tx for _, tx in chunk])
            backoff = None
            for k, ((r, tx), res) in enumerate(zip(chunk, resp.results)):
                if res.code == 0:
                    inflight[tx.hash] = r
                elif res.code in (codes.MEMPOOL_FULL, codes.RATE_LIMITED):
                    # the node is at capacity: back off for its hint, then go on from this row
                    backoff = (retry_after_ms(res.reason) or 500) / 1000
                    chunk = chunk[:k]
                    break
                else:  # later nonces cannot be admitted after a refusal: stop submitting
                    r.status, r.error = "not_submitted", f"refused by the node: {res.reason}"
                    stopped = True
            pos += len(chunk)
            if backoff is not None:
                time.sleep(min(backoff, 5.0))
                break
            if stopped:
                for r, _ in queue[pos:]:
                    r.status, r.error = "not_submitted", "not submitted after an earlier refusal"
                pos = len(queue)
        if not inflight:
            if stopped or pos >= len(queue):
                break
            continue  # everything was refused for capacity: the back-off has passed, submit again
        top = c.status().height
        if top < next_height:
            if time.monotonic() - last_block > timeout:
                for r in inflight.values():  # submitted, not seen committed: a re-run finds them if they were
                    r.status, r.error = "unconfirmed", f"not seen committed within {timeout:.0f}s (no new block); re-run to settle"
                for r, _ in queue[pos:]:
                    r.status, r.error = "not_submitted", "not submitted: the chain made no block"
                return
            time.sleep(0.05)
            continue
        last_block = time.monotonic()
        for h in range(next_height, top + 1):
            b = c.block(height=h)
            if not b.tx_hashes:
                continue
            receipts = decode(b.receipts) if b.receipts else []
            n = 0
            for th, ro in zip(b.tx_hashes, receipts):
                r = inflight.pop(th, None)
                if r is None:
                    continue
                n += 1
                rc = Receipt.from_obj(ro)
                r.height = h
                if rc.code == 0 and isinstance(rc.result, dict):
                    r.status, r.tax, r.net = "paid", rc.result.get("tax"), rc.result.get("net")
                else:
                    err = txflow.law_error(rc.code, rc.result) or {}
                    r.status, r.error = "failed", str(err.get("name"))
                    r.error_detail = err.get("detail") or ""
            bar.advance(n)
        next_height = top + 1
