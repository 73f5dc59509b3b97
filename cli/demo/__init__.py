"""``esoc demo economy``: a year of a small economy on a running devnet.

The demo is an outside client: it talks to one node over gRPC only
(:class:`wallet.client.Client`), signs with keys it creates (citizens,
enterprises) and with the devnet's agency keys from the keystore, submits
in batches (``SubmitTxBatch``) with each sender's nonces counted locally,
and waits for every transaction to be committed (reading the receipts from
the blocks).  It then prints what happened: taxes by kind, welfare paid,
procurement settled, ration coupons issued and redeemed, the transactions
and their failures by code, and whether the money adds up.

How months are simulated
------------------------
Each law keys its periods its own way, and the demo follows each law:

* ``procurement``: the period is an argument (the demo passes ``YYYYMM`` of
  the simulated month) and the opt-in and order windows are **heights**;
* ``allocation``: expiries, application close and draw are **heights**;
* ``tax`` (``pay_wage``, ``declare_profit``) and ``welfare`` (pensions,
  relief, vouchers): the month and the year are those of the **block time**,
  which a client cannot move.  So the demo first reads how the chain stamps
  its blocks, over gRPC like everything else: the block times of the last
  few headers.

**A simulated clock** (``esoc devnet --time-step-ms N``: each block is
stamped the previous block's time + N; blocks an hour or more apart are
taken as one; ``--simulated-clock`` says so for a smaller step).  The demo
follows the chain's calendar.  Its year is a calendar year of block time,
so that it is one tax year: it starts with the next calendar month of block
time, or with the next January when the months would not fit in that year
(waiting for it takes up to a simulated year: about three minutes at one
day per block).
For each simulated month it polls the tip's header (the deadline is a stall:
no new block for a minute; nothing sleeps for a fixed time) until the block
time is in that month, then submits the month's wages, purchases, vouchers,
layoffs, profit declarations and the state's programmes; the welfare law's
``on_block`` pays each month's pensions and relief by itself.  The setup
(registrations, funding, hiring) happens in the first month too, so the
tax law counts one month of employment per monthly wage and welfare pays
one period per simulated month: the summary shows both against the months
simulated, and checks them.  With one day per block and 500 ms blocks a
month passes in about 15 s of wall time; the year ends with the last
month's work (the summary is read at one height, inside it).  If the
chain's clock passes a month before the demo has started it (a step of more
than about two days, or a slow node), the demo stops and says so.
Afterwards the registrar closes the demo's citizens' welfare records (on
any chain whose blocks are an hour or more apart, ``--wall-clock`` or not):
on a simulated clock their pensions would otherwise go on every few seconds
and drain the fund that later runs pay from.

**The wall clock** (the default of a devnet, and ``--wall-clock``).  A run
of a few minutes stays inside one (rarely two) calendar months of block
time, and the months run back to back: the tax law counts the twelve
simulated monthly wages of an employee as pay of the month(s) of block time
they fell in (cumulative withholding with that many basic deductions,
exactly as the law says for several payments in one month), and the
welfare law pays one month of pensions and relief per calendar month of
block time.  The summary reports the law months seen
(``months_counted_by_tax_law``, ``welfare_periods``) so nobody mistakes the
figures for a calendar year.

Either way the money checks include one on withholding: per employee and
tax year, the tax withheld equals the law's ``annual_tax`` of the income
less the deductions and the basic deduction for the months the law counted
(for twelve months, the annual basic deduction): cumulative withholding
telescopes to the annual table.

Version 1 of the welfare law as first written moved its payout cursor to a
new month only when it passed a citizen, so on an empty register the first
citizens registered later were paid for every month since (fixed in the law:
the cursor now keeps up on an empty register).  On a register whose cursor
lags block time the demo still first registers one resident without a cash
benefit and waits until the cursor has caught up, which is harmless now.

Everything it does is an ordinary transaction any client could send.
"""

from __future__ import annotations


import random
import time

from .chain import (
    AGENCIES, DAY_MS, MAX_STEP_MS, MIN_SIMULATED_STEP_MS, SIMULATED_STEP_MS, Chain, DemoError, _duration,
)
from .economy import Economy
from .report import render, summary_json

__all__ = ["DemoError", "Economy", "add_demo_commands", "render", "run_economy", "summary_json"]


def add_demo_commands(sub, common, CliError, emit) -> None:
    demo = sub.add_parser("demo", help="demonstrations on a running devnet").add_subparsers(dest="sub", metavar="SUB")
    demo.required = True
    p = demo.add_parser("economy", parents=[common], help="run a year of a small economy (citizens, enterprises, the laws)")
    p.add_argument("--citizens", type=int, default=200)
    p.add_argument("--enterprises", type=int, default=10)
    p.add_argument("--months", type=int, default=12, help="simulated months (1..12)")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: a new one each run)")
    p.add_argument("--password", default=None, help="keystore password of the agency keys (default: ESOC_PASSWORD or 'devnet')")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    clock = p.add_mutually_exclusive_group()
    clock.add_argument("--simulated-clock", dest="clock", action="store_const", const="simulated",
                       help="follow the chain's calendar month by month (default when its blocks are an hour or more apart)")
    clock.add_argument("--wall-clock", dest="clock", action="store_const", const="wall",
                       help="run the months back to back, compressed into the calendar month(s) of block time")
    p.set_defaults(fn=lambda a: _cmd_economy(a, CliError, emit), clock="auto")


def _cmd_economy(args, CliError, emit):
    import os

    from wallet.keystore import Keystore

    if args.citizens < 10 or args.enterprises < 6 or not 1 <= args.months <= 12:
        raise CliError("need --citizens >= 10, --enterprises >= 6 and --months in 1..12")
    pw = args.password or os.environ.get("ESOC_PASSWORD") or "devnet"
    ks = Keystore(args.keystore)
    try:
        keys = {name: ks.unlock(name, pw) for name in AGENCIES}
    except Exception as e:  # noqa: BLE001 - one line for the user
        raise CliError(f"cannot unlock the devnet's agency keys in {args.keystore}: {e}") from None
    try:
        summary = run_economy(args.node, keys, citizens=args.citizens, enterprises=args.enterprises,
                              months=args.months, seed=args.seed, progress=not args.no_progress,
                              clock=args.clock)
    except DemoError as e:
        raise CliError(str(e)) from None
    emit(args, summary, render(summary))
    if summary["transactions"]["unexpected_failures"] or not summary["checks"]["all_ok"]:
        raise SystemExit(1)


# --------------------------------------------------------------------------
# progress
# --------------------------------------------------------------------------


def run_economy(node: str, agency_keys: dict, citizens: int = 200, enterprises: int = 10, months: int = 12,
                seed: int | None = None, progress: bool = True, clock: str = "auto") -> dict:
    """Run the demo against the node at ``node``; return the summary (a dict).

    ``clock``: ``"auto"`` (read it from the block headers), ``"simulated"`` (follow the
    chain's calendar) or ``"wall"`` (months back to back)."""
    from wallet.client import Client

    t0 = time.monotonic()
    seed = random.SystemRandom().randrange(1 << 30) if seed is None else seed
    rng = random.Random(seed)
    tag = f"{seed:08x}"[-6:]
    with Client(node, timeout=30) as client:
        chain = Chain(client)
        sim = Economy(chain, agency_keys, citizens, enterprises, months, rng, tag, progress, resolve_clock(chain, clock))
        summary = sim.run()
    summary["seed"] = seed
    summary["elapsed_s"] = round(time.monotonic() - t0, 1)
    return summary


def resolve_clock(chain: Chain, mode: str = "auto") -> dict:
    """Whether the demo follows the chain's calendar (a simulated clock) or compresses its months."""
    c = chain.clock()
    step = c["step_ms"]
    seen = f"blocks {c['heights'][0]}..{c['heights'][1]} are {_duration(step)} apart"
    if mode == "auto":
        simulated = step >= SIMULATED_STEP_MS
        how = f"detected: {seen}"
    elif mode in ("simulated", "wall"):
        simulated = mode == "simulated"
        how = f"--{mode}-clock ({seen})"
    else:
        raise DemoError(f"unknown clock mode {mode!r}")
    if simulated and step < MIN_SIMULATED_STEP_MS:
        raise DemoError(f"--simulated-clock, but {seen}: a month of block time would take hours; "
                        "start the devnet with --time-step-ms (86400000 is a day per block)")
    if simulated and step > MAX_STEP_MS:
        raise DemoError(f"{seen}: a month is only {30 * DAY_MS // step} blocks, too few for a month's work "
                        f"(about 20 blocks); use a devnet with --time-step-ms {DAY_MS} (a day per block) or less")
    return {"simulated": simulated, "step_ms": step, "how": how}


# ---- the click command (cli/main.py registers ``demo_group``) ---------------------------------

import click as _click  # noqa: E402


@_click.group("demo")
def demo_group():
    """Demonstrations on a running devnet."""


@demo_group.command("economy")
@_click.option("--citizens", type=int, default=200, show_default=True, help="Citizens to create (>= 10).")
@_click.option("--enterprises", type=int, default=10, show_default=True, help="Enterprises to create (>= 6).")
@_click.option("--months", type=int, default=12, show_default=True, help="Simulated months (1..12).")
@_click.option("--seed", type=int, default=None, help="Random seed (default: a new one each run).")
@_click.option("--password", default=None, help="Keystore password of the agency keys (default: ESOC_PASSWORD or 'devnet').")
@_click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@_click.option("--simulated-clock", "clock", flag_value="simulated",
               help="Follow the chain's calendar month by month (default when its blocks are an hour or more apart).")
@_click.option("--wall-clock", "clock", flag_value="wall",
               help="Run the months back to back, compressed into the calendar month(s) of block time.")
@_click.pass_context
def _economy_click(ctx, citizens, enterprises, months, seed, password, no_progress, clock):
    """Run a year of a small economy (citizens, enterprises, the laws) and check that the money adds up."""
    import argparse

    from ..output import Settings, UserError, emit

    settings = ctx.ensure_object(Settings)
    if settings.tls_ca:  # no option accepted and ignored
        raise UserError("esoc demo economy talks to a devnet without TLS; --tls-ca is not supported here")
    args = argparse.Namespace(node=settings.node, keystore=settings.keystore, json=settings.json, citizens=citizens,
                              enterprises=enterprises, months=months, seed=seed, password=password,
                              no_progress=no_progress, clock=clock or "auto")
    _cmd_economy(args, UserError, lambda a, data, human=None: emit(settings, data, human))


from ..output import global_options as _global_options  # noqa: E402

_economy_click = _global_options(_economy_click)
