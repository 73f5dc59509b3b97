"""``esoc plan``: plan guidance from ledger data (docs/planning.md).

The planning agency computes guidance off chain and publishes it in one
signed transaction per period (``compute --publish``); anyone recomputes it
(``verify``) and reads it (``show``, ``products``, ``scorecard``);
citizens and enterprises reserve, request and follow new products, and
producers declare (``reserve``, ``request``, ``follow``, ``declare``).

Register with ``root.add_command(cli.plan.plan)``.
"""

from __future__ import annotations

import os

import click

from ledger import codes
from ledger.block import Receipt
from ledger.codec import decode
from ledger.tx import Call

from .output import UserError, emit, global_options, pass_settings, progress

GAS = 200_000_000  # publish and close walk every product: give them room (the node caps a call's gas)
AGENCY_KEY = "planning-agency"


def _client(settings):
    """A client of the node the settings name: TLS with ``--tls-ca`` (or ``ESOC_TLS_CA``) as every command.

    A bad CA file or node address is a :class:`UserError` (one line)."""
    from wallet.client import Client, ClientError

    try:
        return Client(settings.node, timeout=60, tls_ca=settings.tls_ca)
    except ClientError as e:
        raise UserError(str(e)) from None


def _reader(client):
    from planning.guidance import ClientReader

    return ClientReader(client)


def _period(text: str | int) -> int:
    try:
        p = int(text)
    except (TypeError, ValueError):
        raise UserError(f"a period is a month YYYYMM, not {text!r}") from None
    if not 100001 <= p <= 999912 or not 1 <= p % 100 <= 12:
        raise UserError(f"a period is a month YYYYMM, not {text!r}")
    return p


def _guard(fn, *a, **kw):
    """Run ``fn``; a node or chain refusal becomes one line for the user."""
    from planning.guidance import GuidanceError
    from wallet.client import ClientError

    try:
        return fn(*a, **kw)
    except (GuidanceError, ClientError) as e:
        raise UserError(str(e)) from None


def _password(password: str | None, name: str) -> str:
    if password is not None:
        return password
    env = os.environ.get("ESOC_PASSWORD")
    if env is not None:
        return env
    return click.prompt(f"password for {name}", hide_input=True, err=True)


def send(settings, sender: str, entry: str, args: dict, password: str | None = None) -> dict:
    """Sign a call of the planning law as ``sender`` (a keystore name), wait for it; its result or a UserError."""
    from wallet.client import ClientError
    from wallet.keystore import Keystore

    ks = Keystore(settings.keystore)
    try:
        key = ks.unlock(sender, _password(password, sender))
    except Exception as e:  # noqa: BLE001 - a wrong password or a missing key: one line
        raise UserError(f"cannot unlock {sender!r} in {settings.keystore}: {e}") from None
    with _client(settings) as c:
        try:
            tx = c.sign(key, "call", Call(contract="planning", entry=entry, args=args, gas_limit=GAS))
            h = c.submit(tx)
            r = c.wait_for_tx(h, timeout=120)
        except ClientError as e:
            raise UserError(str(e)) from None
    rc = Receipt.decode(r.receipt) if r.receipt else None
    result = rc.result if rc is not None else None
    if r.code != 0:
        detail = result.get("detail") if isinstance(result, dict) else ""
        raise UserError(f"planning.{entry} failed at height {r.height}: {codes.name(r.code)} (code {r.code})"
                        + (f": {detail}" if detail else ""))
    return {"hash": h.hex(), "height": r.height, "result": result}


@click.group("plan")
def plan():
    """Plan guidance: demand forecasts with intervals, published on chain and verifiable by anyone."""


# ---------------------------------------------------------------- reading
@plan.command("products")
@global_options
@pass_settings
def products(settings):
    """The catalogue kept by the planning agency, with each product's producers."""
    with _client(settings) as c:
        read = _reader(c)
        items = _guard(read, "products", {})
        for p in items:
            p["producers"] = _guard(read, "producers", {"product": p["code"]})
    lines = [f"{'code':<16} {'unit':<10} {'producers':>9}  name"]
    lines += [f"{p['code']:<16} {p['unit']:<10} {len(p['producers']):>9}  {p['name']}" for p in items]
    emit(settings, items, "\n".join(lines) if items else "the catalogue is empty")


def _table(items: list) -> str:
    head = f"{'product':<14} {'method':<15} {'n':>3} {'forecast':>9} {'80 %':>15} {'95 %':>15} {'recommend':>9} {'price (fen)':>17}  back-test"
    lines = [head]
    for it in items:
        bt = it["backtest"]
        btxt = "—" if not bt.get("origins") else (
            f"{bt['origins']} origins, MASE {bt['mase_e3'] / 1000:.2f} (naive {bt['naive_mase_e3'] / 1000:.2f}), "
            f"cover 80 % {bt['cov80_bps'] / 100:.0f} %, 95 % {bt['cov95_bps'] / 100:.0f} %"
            + "".join(f"; h{h} MASE {bt[f'h{h}_mase_e3'] / 1000:.2f}, 80 % {bt[f'h{h}_cov80_bps'] / 100:.0f} %"
                      for h in range(2, 13) if f"h{h}_n" in bt))
        lines.append(f"{it['product']:<14} {it['method']:<15} {it['n']:>3} {it['forecast']:>9} "
                     f"{str(it['lo80']) + '..' + str(it['hi80']):>15} {str(it['lo95']) + '..' + str(it['hi95']):>15} "
                     f"{it['recommended']:>9} {str(it['price_lo']) + '..' + str(it['price_hi']):>17}  {btxt}")
        lines += [f"{'':<14} {'  then ' + str(a['period']):<15} {'':>3} " + _bounds(a) for a in it.get("ahead") or []]
    return "\n".join(lines)


def _bounds(b: dict) -> str:
    """A forecast and its intervals in the columns of the tables: ``forecast  lo80..hi80  lo95..hi95``."""
    return (f"{b['forecast']:>9} {str(b['lo80']) + '..' + str(b['hi80']):>15} "
            f"{str(b['lo95']) + '..' + str(b['hi95']):>15}")


@plan.command("compute")
@click.argument("period")
@click.option("--height", type=int, default=0, help="Read the data at this height (default: the tip).")
@click.option("--origins", type=int, default=12, show_default=True, help="Rolling origins of the back-test (0: none).")
@click.option("--horizon", type=int, default=None,
              help="Periods forecast: PERIOD and the ones after it (1..6; default 3). Published as each item's 'ahead'.")
@click.option("--product", "products", multiple=True,
              help="Only these products (repeatable; default: every product without guidance for PERIOD).")
@click.option("--publish", is_flag=True, help="Sign and publish the guidance (the planning agency's key).")
@click.option("--as", "sender", default=AGENCY_KEY, show_default=True, help="Keystore name that publishes.")
@click.option("--password", default=None, help="Keystore password (default: ESOC_PASSWORD, else asked).")
@global_options
@pass_settings
def compute(settings, period, height, origins, horizon, products, publish, sender, password):
    """Compute guidance for PERIOD (YYYYMM) and the periods after it from the chain's data; with --publish, publish it."""
    from planning import guidance, model

    p = _period(period)
    if origins < 0 or origins > 60:
        raise UserError("--origins must be in 0..60")
    horizon = model.HORIZON if horizon is None else horizon
    if not 1 <= horizon <= model.MAX_HORIZON:
        raise UserError(f"--horizon must be in 1..{model.MAX_HORIZON}")
    with _client(settings) as c:
        h = height or _guard(c.status).height
        progress(f"reading the planning law at height {h}, fitting each product ...")
        args = _guard(guidance.compute, _reader(c), p, h, origins, list(products) or None, horizon)
    out = {"publish": args}
    if publish:
        out["published"] = send(settings, sender, "publish", args, password)
        progress(f"published guidance for {p} at height {out['published']['height']}")
    emit(settings, out, f"guidance for {p} (data: heights {args['data_from']}..{args['data_to']}; "
                        f"{args['model_version']})\n" + _table(args["items"])
         + ("" if not publish else f"\npublished in {out['published']['hash']} at height {out['published']['height']}"))


@plan.command("verify")
@click.argument("period", required=False)
@click.option("--no-refit", is_flag=True, help="Only the exact recompute from the published parameters.")
@click.option("--no-backtest", is_flag=True, help="Re-fit, but do not re-run the back-test.")
@global_options
@pass_settings
def verify(settings, period, no_refit, no_backtest):
    """Recompute published guidance (the latest period when PERIOD is omitted); exit 1 if it disagrees."""
    from planning import guidance

    p = None if period is None else _period(period)
    with _client(settings) as c:
        rep = _guard(guidance.verify, _reader(c), p, not no_refit, not no_backtest)
    lines = [f"guidance {rep['period']}, publication #{h['id']} (data heights {h['data_from']}..{h['data_to']}, "
             f"{h['model_version']}; here {rep['local_model_version']})" for h in rep["publications"]]
    for x in rep["products"]:
        state = "agree" if x["agree"] else "DISAGREE"
        how = f"exact {'yes' if x['exact'] else 'no'}, re-fit " + (
            "skipped" if x["refit"] is None else ("within tolerance" if x["refit"] else "outside tolerance"))
        lines.append(f"  {x['product']:<14} {state:<9} ({x['method']}; {how})")
        for where, d in x["differences"].items():
            for k, v in d.items():
                lines.append(f"      {where} {k}: published {v['published']}, recomputed {v['recomputed']}")
    emit(settings, rep, "\n".join(lines))
    if not rep["agree"]:
        raise SystemExit(1)


@plan.command("show")
@click.argument("product")
@click.option("--last", "last", default=None, help="Last period shown (default: the latest published period).")
@click.option("--months", type=click.IntRange(1, 120), default=24, show_default=True, help="How many months of history to show.")
@click.option("--svg", "svg_file", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write a forecast-against-outcome chart (SVG) to this file.")
@global_options
@pass_settings
def show(settings, product, last, months, svg_file):
    """A product's history, guidance (forecast and intervals) and realised values per period."""
    from planning import guidance

    with _client(settings) as c:
        read = _reader(c)
        if last is None:
            head = _guard(read, "latest", {})
            if head is None:
                raise UserError("no guidance is published yet: give --last YYYYMM")
            lp = head["period"]
        else:
            lp = _period(last)
        data = _guard(guidance.show, read, product, lp, months)
    if svg_file:
        from planning.chart import svg

        with open(svg_file, "w", encoding="utf-8") as f:
            f.write(svg(data["periods"], f"{product}: forecast and intervals against realised sales"))
        progress(f"chart written to {svg_file}")
    lines = [f"{data['product']['code']} ({data['product']['name']}, {data['product']['unit']})",
             f"{'period':<7} {'sales':>7} {'reserved':>8} {'forecast':>8} {'80 %':>13} {'95 %':>13}  outcome"]
    for row in data["periods"]:
        g, o = row["guidance"], row["outcome"]
        if g is None and not row["sales"] and not row["reserved"]:
            continue
        gtxt = (f"{g['forecast']:>8} {str(g['lo80']) + '..' + str(g['hi80']):>13} "
                f"{str(g['lo95']) + '..' + str(g['hi95']):>13}") if g else f"{'':>8} {'':>13} {'':>13}"
        otxt = "" if o is None else (f"error {o['error']:+d}, " + ("inside 80 %" if o["in80"] else (
            "inside 95 %" if o["in95"] else "outside 95 %")))
        lines.append(f"{row['period']:<7} {row['sales']:>7} {row['reserved']:>8} {gtxt}  {otxt}")
    lines += _ahead_lines(data["periods"])
    emit(settings, data, "\n".join(lines))


def _ahead_lines(rows: list) -> list[str]:
    """The forecasts ahead of the latest guidance shown: the periods after it, with their intervals."""
    latest = next((r for r in reversed(rows) if r["guidance"] and r["guidance"].get("ahead")), None)
    if latest is None:
        return []
    out = [f"ahead (guidance for {latest['period']}):"]
    for a in latest["guidance"]["ahead"]:
        out.append(f"{a['period']:<7} {'':>7} {'':>8} {a['forecast']:>8} {str(a['lo80']) + '..' + str(a['hi80']):>13} "
                   f"{str(a['lo95']) + '..' + str(a['hi95']):>13}")
    return out


@plan.command("scorecard")
@global_options
@pass_settings
def scorecard(settings):
    """How good the plan was: error and interval coverage over the closed periods."""
    with _client(settings) as c:
        sc = _guard(_reader(c), "scorecard", {})

    def line(name, s):
        if not s or not s["n"]:
            return f"{name:<14} no closed period"
        mape = f"{s['ape_bps_sum'] / s['ape_n'] / 100:.1f} %" if s["ape_n"] else "—"
        return (f"{name:<14} {s['n']:>3} period(s), mean abs error {s['abs_error'] / s['n']:.1f}, MAPE {mape}, "
                f"inside 80 % {100 * s['in80'] / s['n']:.0f} %, inside 95 % {100 * s['in95'] / s['n']:.0f} %")

    lines = [line("overall", sc["overall"])] + [line(k, v) for k, v in sc["products"].items()]
    emit(settings, sc, "\n".join(lines))


@plan.command("suggestions")
@click.option("--min-followers", type=click.IntRange(0), default=10, show_default=True, help="Only requests with at least this many followers.")
@global_options
@pass_settings
def suggestions(settings, min_followers):
    """New-demand requests with many followers: R&D suggestions for the producers of the nearest product."""
    with _client(settings) as c:
        items = _guard(_reader(c), "suggestions", {"min_followers": min_followers})
    lines = [f"#{s['request']['id']} {s['request']['code']} ({s['request']['followers']} followers"
             + (f", near {s['request']['near']}: {len(s['enterprises'])} producers" if s["request"]["near"] else "")
             + f"): {s['request']['description']}" for s in items]
    emit(settings, items, "\n".join(lines) if lines else "no request has that many followers")


# ---------------------------------------------------------------- writing
def _write(settings, sender, password, entry, args, human):
    out = send(settings, sender, entry, args, password)
    emit(settings, out, f"{human} (height {out['height']}, {out['hash']})")


@plan.command("reserve")
@click.argument("product")
@click.argument("period")
@click.argument("quantity", type=int)
@click.option("--from", "sender", required=True, help="Keystore name of the citizen or enterprise.")
@click.option("--password", default=None, help="The keystore password (default: ESOC_PASSWORD, or asked in a terminal).")
@global_options
@pass_settings
def reserve(settings, product, period, quantity, sender, password):
    """Reserve QUANTITY of PRODUCT for PERIOD (YYYYMM); 0 withdraws the reservation."""
    _write(settings, sender, password, "reserve", {"product": product, "period": _period(period), "quantity": quantity},
           f"reserved {quantity} {product} for {period}")


@plan.command("request")
@click.argument("code")
@click.argument("description")
@click.option("--near", default="", help="The nearest existing product (its producers get the suggestion).")
@click.option("--from", "sender", required=True, help="The signing account (a keystore name or an address).")
@click.option("--password", default=None, help="The keystore password (default: ESOC_PASSWORD, or asked in a terminal).")
@global_options
@pass_settings
def request(settings, code, description, near, sender, password):
    """Ask for a product that does not exist yet (you follow it)."""
    out = send(settings, sender, "request", {"code": code, "description": description, "near": near}, password)
    emit(settings, out, f"request #{out['result']['id']} for {code} (height {out['height']})")


@plan.command("follow")
@click.argument("request_id", type=int)
@click.option("--from", "sender", required=True, help="The signing account (a keystore name or an address).")
@click.option("--password", default=None, help="The keystore password (default: ESOC_PASSWORD, or asked in a terminal).")
@global_options
@pass_settings
def follow(settings, request_id, sender, password):
    """Follow a new-demand request."""
    _write(settings, sender, password, "follow", {"request_id": request_id}, f"following request #{request_id}")


@plan.command("declare")
@click.argument("product")
@click.argument("period")
@click.option("--production", type=int, required=True, help="Declared production (units).")
@click.option("--inventory", type=int, required=True, help="Unsold stock at the period's end.")
@click.option("--stockout", type=int, default=0, help="Demand that could not be served.")
@click.option("--from", "sender", required=True, help="Keystore name of the producing enterprise.")
@click.option("--password", default=None, help="The keystore password (default: ESOC_PASSWORD, or asked in a terminal).")
@global_options
@pass_settings
def declare(settings, product, period, production, inventory, stockout, sender, password):
    """A producer declares its production, inventory and stock-outs of PRODUCT for PERIOD."""
    _write(settings, sender, password, "declare",
           {"product": product, "period": _period(period), "production": production, "inventory": inventory,
            "stockout": stockout}, f"declared {product} for {period}")


@plan.command("close")
@click.argument("period")
@click.option("--as", "sender", default=AGENCY_KEY, show_default=True, help="The planning agency's account that signs (keystore name).")
@click.option("--password", default=None, help="The keystore password (default: ESOC_PASSWORD, or asked in a terminal).")
@global_options
@pass_settings
def close(settings, period, sender, password):
    """The planning agency closes PERIOD for its products with guidance: their data is frozen and the guidance judged."""
    out = send(settings, sender, "close_period", {"period": _period(period)}, password)
    emit(settings, out, f"closed {period}: {len(out['result']['outcomes'])} products judged (height {out['height']})")


__all__ = ["plan", "send"]
