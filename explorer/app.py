"""The explorer's web side: Starlette pages and their JSON twins, served by
Hypercorn on trio beside the follower.

Every page is declared once in :data:`ROUTES` with its parameters; the
declaration checks the query (a malformed one is a 400 with the reason),
serves the HTML page at ``path`` and the JSON twin at ``/api`` + ``path``,
and writes the OpenAPI document (``/openapi.json``).

Entry points: :func:`serve_explorer` (a trio service:
``await nursery.start(serve_explorer, node, db_url, port)``), :func:`run`
(blocking), and ``python -m explorer``.
"""

from __future__ import annotations

import csv
import io
import logging
import os

import anyio
import trio
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response, \
    StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import views
from .index import Index
from .openapi import RESPONSES
from .render import register_filters
from .routing import LIMIT, PAGE, Page, Param, PathParam
from .views import BadRequest, Ctx, NotFound

log = logging.getLogger("esoc.explorer")
HERE = os.path.dirname(os.path.abspath(__file__))
MAX_SSE_CLIENTS = 200
SSE_LIFETIME_S = 300  # a live stream ends after this; htmx reconnects
CSV_MAX_ROWS = 100_000


def _blocks_csv(d: dict) -> list[list]:
    keys = ["height", "hash", "time_ms", "proposer", "tx_count", "state_root", "validators", "total_power", "evidence"]
    return [keys] + [[b[k] for k in keys] for b in d["items"]]


def _validators_csv(d: dict) -> list[list]:
    keys = ["name", "pubkey", "address", "power", "proposed", "signed", "missed", "evidence"]
    return [keys] + [[v[k] for k in keys] for v in d["items"]]


def _dashboards_csv(d: dict) -> list[list]:
    rows = [["table", "month", "kind", "count", "amount_fen"]]
    for m in d["supply"]:
        rows += [["supply", m["month"], "issued", "", m["issued"]], ["supply", m["month"], "retired", "", m["retired"]],
                 ["supply", m["month"], "supply", "", m["supply"]]]
    for t in ("tax", "welfare", "procurement", "allocation"):
        rows += [[t, m["month"], m["kind"], m["count"], m["amount"]] for m in d[t]]
    return rows


def _laws_csv(d: dict) -> list[list]:
    keys = ["name", "version", "versions", "since_height", "code_hash", "summary"]
    return [keys] + [[x[k] for k in keys] for x in d["items"]]


CORE_ROUTES: list[Page] = [
    Page("/", views.home, "home.html", "Home: chain figures, latest blocks and transactions"),
    Page("/status", views.status, "status.html", "The index's height, the chain it follows and whether its genesis is pinned"),
    Page("/blocks", views.blocks, "blocks.html", "Blocks, newest first",
         (Param("before", default=None, lo=1, hi=views.MAX_HEIGHT, doc="only blocks below this height"), LIMIT),
         csv=_blocks_csv),
    Page("/block/{height:int}", views.block, "block.html", "One block and its transactions", (PAGE, LIMIT),
         (PathParam("height", "int", "block height"),)),
    Page("/tx/{tx_hash}", views.tx, "tx.html", "One transaction: payload, receipt, events, tax withheld", (),
         (PathParam("tx_hash", "hash", "transaction hash, hex"),)),
    Page("/account/{address}", views.account, "account.html", "An account: balance, history, taxes paid",
         (PAGE, LIMIT), (PathParam("address", "address", "account address (esc1...)"),)),
    Page("/laws", views.laws, "laws.html", "The laws in force", csv=_laws_csv),
    Page("/laws/{name}", views.law, "law.html", "A law: source in force, docstring, parameters, versions and diffs",
         (Param("version", default=None, lo=1, hi=1_000_000, doc="show this version (and its diff to the previous)"),),
         (PathParam("name", "law", "law name"),)),
    Page("/validators", views.validators, "validators.html", "Validators: power, proposals, missed signatures",
         csv=_validators_csv),
    Page("/dashboards", views.dashboards, "dashboards.html",
         "Money supply, tax revenue by kind and month, welfare paid, procurement settled", csv=_dashboards_csv),
    Page("/search", views.search, "search.html", "Search by height, block or tx hash, address, name or law name",
         (Param("q", kind="str", default="", max_len=256, doc="what to look for"),
          Param("limit", default=20, lo=1, hi=50, doc="results (at most 50)"))),
]


def _all_routes() -> list[Page]:
    from . import governance, plan

    return CORE_ROUTES + governance.ROUTES + plan.ROUTES


ROUTES: list[Page] = _all_routes()


def _kwargs(page: Page, request: Request) -> dict:
    kw = {p.name: p.parse(request) for p in page.params}
    for p in page.path_params:
        kw[p.name] = request.path_params[p.name]
    return kw


class Explorer:
    """The web app around one index and one node client."""

    def __init__(self, ctx: Ctx):
        self.ctx = ctx
        self.latest = ctx.index.height()  # bumped by the follower thread
        self.sse_clients = 0
        self.env = Environment(loader=FileSystemLoader(os.path.join(HERE, "templates")),
                               autoescape=select_autoescape(["html"]), auto_reload=False)
        register_filters(self.env)
        routes = [Route("/openapi.json", self.openapi), Route("/events", self.events),
                  Route("/account/{address}/history.csv", self.account_csv),
                  Route("/api/account/{address}/history.csv", self.account_csv),
                  Route("/static/pygments.css", self.pygments_css),
                  Mount("/static", app=StaticFiles(directory=os.path.join(HERE, "static")), name="static")]
        for p in ROUTES:
            if p.csv is not None:
                routes.append(Route(p.path + ".csv", self._handler(p, html=False, as_csv=True)))
                routes.append(Route("/api" + p.path + ".csv", self._handler(p, html=False, as_csv=True)))
            if p.template is not None:
                routes.append(Route(p.path, self._handler(p, html=True)))
            routes.append(Route("/api" + (p.path if p.path != "/" else "/home"), self._handler(p, html=False)))
        self.app = Starlette(routes=routes, exception_handlers={404: self.not_found, 405: self.not_found,
                                                                500: self.server_error})
        self.app.add_middleware(_Headers)

    def bump(self, height: int) -> None:
        self.latest = height

    # ---- rendering ------------------------------------------------------------------
    def render(self, template: str, http_status: int = 200, **data) -> HTMLResponse:
        html = self.env.get_template(template).render(**data)
        return HTMLResponse(html, status_code=http_status)

    def error(self, request: Request, status: int, reason: str) -> Response:
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"error": reason, "status": status}, status_code=status)
        return self.render("error.html", http_status=status, status_code=status, reason=reason,
                           q=request.query_params.get("q", "")[:256])

    async def not_found(self, request: Request, exc) -> Response:
        code = getattr(exc, "status_code", 404)
        reason = "no such page" if code == 404 else "method not allowed"
        return self.error(request, code, reason)

    async def server_error(self, request: Request, exc) -> Response:
        log.exception("explorer: error serving %s", request.url.path, exc_info=exc)
        return self.error(request, 500, "internal error")

    def _handler(self, page: Page, html: bool, as_csv: bool = False):
        async def handle(request: Request) -> Response:
            try:
                kw = _kwargs(page, request)
                data = await anyio.to_thread.run_sync(lambda: page.view(self.ctx, **kw))
            except BadRequest as e:
                return self.error(request, 400, str(e))
            except NotFound as e:
                return self.error(request, 404, str(e))
            if as_csv:
                return csv_response(page.csv(data), "-".join([page.path.strip("/").split("/")[0]]
                                                             + [str(v) for v in request.path_params.values()]) + ".csv")
            if not html:
                return JSONResponse(data)
            if page.view is views.search and request.query_params.get("go") != "0" and len(data["items"]) == 1:
                return RedirectResponse(data["items"][0]["url"], status_code=303)
            return self.render(page.template, path=request.url.path, query=dict(request.query_params), **data)
        return handle

    # ---- extras -----------------------------------------------------------------------
    async def account_csv(self, request: Request) -> Response:
        address = request.path_params["address"]
        try:
            limit = Param("limit", default=CSV_MAX_ROWS, lo=1, hi=CSV_MAX_ROWS).parse(request)
            rows = await anyio.to_thread.run_sync(lambda: list(views.account_csv_rows(self.ctx, address, limit)))
        except BadRequest as e:
            return self.error(request, 400, str(e))
        except NotFound as e:
            return self.error(request, 404, str(e))
        return csv_response(rows, f"{views.check_address(address)}-history.csv")

    async def pygments_css(self, request: Request) -> Response:
        from pygments.formatters import HtmlFormatter

        return Response(HtmlFormatter(style="default").get_style_defs(".hl"), media_type="text/css")

    async def events(self, request: Request) -> Response:
        """Server-sent events: each newly indexed block as an HTML table row (event ``block``)."""
        try:
            after = Param("after", default=None, lo=0, hi=views.MAX_HEIGHT).parse(request)
        except BadRequest as e:
            return self.error(request, 400, str(e))
        if self.sse_clients >= MAX_SSE_CLIENTS:
            return PlainTextResponse("too many live clients; reload later", status_code=503)

        async def stream():
            self.sse_clients += 1
            try:
                seen = self.latest if after is None or after > self.latest else after
                with anyio.move_on_after(SSE_LIFETIME_S):
                    yield ": live\n\n"
                    while True:
                        await anyio.sleep(0.2)
                        if await request.is_disconnected():
                            return
                        top = self.latest
                        if top <= seen:
                            continue
                        ix, since = self.ctx.index, seen
                        new, txs = await anyio.to_thread.run_sync(
                            lambda: (ix.blocks(top + 1, min(10, top - since)), ix.txs_between(since, top, 10)))
                        seen = top
                        for b in reversed(new):
                            row = self.env.get_template("_block_row.html").render(b=b).replace("\n", "")
                            yield f"event: block\ndata: {row}\n\n"
                        for t in reversed(txs):
                            row = self.env.get_template("_tx_row.html").render(t=t).replace("\n", "")
                            yield f"event: tx\ndata: {row}\n\n"
            finally:
                self.sse_clients -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document())


def csv_response(rows: list[list], filename: str) -> Response:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})


class _Headers:
    """Security headers on every response (no inline script is used)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send2(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [(b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
                                                         b"style-src 'self' 'unsafe-inline'"),
                            (b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send2)


def openapi_document() -> dict:
    paths: dict = {}
    err = {"description": "error", "content": {"application/json": {"schema": {
        "type": "object", "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}}}}
    for p in ROUTES:
        path = "/api" + (p.openapi_path if p.path != "/" else "/home")
        paths[path] = {"get": {
            "summary": p.summary, "operationId": path.strip("/").replace("/", "_").replace("{", "").replace("}", ""),
            "parameters": [q.schema() for q in p.path_params] + [q.schema() for q in p.params],
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": p.schema or RESPONSES.get(p.path, {"type": "object"})}}}, "400": err, "404": err}}}
    for p in ROUTES:
        if p.csv is not None:
            paths["/api" + p.openapi_path + ".csv"] = {"get": {
                "summary": p.summary + " (CSV)",
                "operationId": "api_" + p.openapi_path.strip("/").replace("/", "_").replace("{", "").replace("}", "")
                               + "_csv",
                "parameters": [q.schema() for q in p.path_params] + [q.schema() for q in p.params],
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                              "400": err}}}
    paths["/api/account/{address}/history.csv"] = {"get": {
        "summary": "An account's history as CSV", "operationId": "api_account_history_csv",
        "parameters": [PathParam("address", "address").schema(),
                       Param("limit", default=CSV_MAX_ROWS, lo=1, hi=CSV_MAX_ROWS, doc="rows").schema()],
        "responses": {"200": {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                      "400": err, "404": err}}}
    return {"openapi": "3.0.3", "info": {"title": "esoc explorer API", "version": "1",
                                         "description": "Every page of the explorer as JSON. Amounts are integers in fen."},
            "paths": paths}


# --------------------------------------------------------------------------
# Running it
# --------------------------------------------------------------------------


def build(index: Index, node: str | None, follower=None) -> Explorer:
    from wallet.client import Client

    client = Client(node, timeout=3) if node else None
    return Explorer(Ctx(index, client, follower))


async def serve_explorer(node: str, db_url: str, port: int, host: str = "127.0.0.1", follow: bool = True,
                         pin=None, task_status=trio.TASK_STATUS_IGNORED) -> None:
    """Index ``node`` (HOST:PORT of its gRPC API) into ``db_url`` and serve the explorer on ``host:port``.

    ``pin`` (an :class:`explorer.verify.GenesisPin`) is the genesis the
    operator trusts; without it the node's genesis is trusted on first use.

    A trio service: ``await nursery.start(serve_explorer, ...)`` returns the
    URL once the web server listens; cancelling the scope stops both.
    """
    from hypercorn.config import Config
    from hypercorn.trio import serve

    from .follower import Follower

    index = Index(db_url)
    ex = build(index, node)
    follower = Follower(index, node, notify=lambda h: ex.bump(h), pin=pin) if follow else None
    ex.ctx.follower = follower
    ex.ctx.pin = pin
    cfg = Config()
    cfg.bind = [f"{host}:{port}"]
    cfg.graceful_timeout = 1.0
    cfg.accesslog = None
    cfg.errorlog = log
    try:
        async with trio.open_nursery() as nursery:
            if follower is not None:
                nursery.start_soon(_follow, follower)
            else:
                nursery.start_soon(_watch_index, ex)
            binds = await nursery.start(lambda task_status: serve(ex.app, cfg, task_status=task_status))
            url = binds[0] if binds else f"http://{host}:{port}"
            task_status.started(url)
    finally:
        if follower is not None:
            follower.stop()
            with trio.CancelScope(shield=True):  # let a block being written finish before the index closes
                await trio.to_thread.run_sync(follower.finished.wait, 10)
        if ex.ctx.client is not None:
            ex.ctx.client.close()
        index.close()


async def _follow(follower) -> None:
    try:
        await trio.to_thread.run_sync(follower.run, abandon_on_cancel=True)
    finally:
        follower.stop()


def redact(db_url: str) -> str:
    """A database URL fit to print: the password hidden."""
    import re

    return re.sub(r"^([a-z]+://[^:/@]*):[^@]*@", r"\1:***@", db_url)


async def _watch_index(ex: Explorer, every: float = 1.0) -> None:
    """Without a follower (another process writes the index): notice new blocks for the live page."""
    while True:
        await trio.sleep(every)
        ex.bump(await trio.to_thread.run_sync(ex.ctx.index.height))


def run(node: str, db_url: str = "sqlite:///explorer.sqlite", port: int = 8080, host: str = "127.0.0.1",
        follow: bool = True, pin=None) -> None:
    """Blocking: :func:`serve_explorer` until interrupted."""

    import signal

    async def main():
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as n:
                url = await n.start(serve_explorer, node, db_url, port, host, follow, pin)
                trust = (f"genesis pinned: {pin.genesis_hash.hex()[:16]}… from {pin.source}" if pin is not None
                         else "genesis NOT pinned: trusting the node's on first use (see --genesis)")
                print(f"explorer: {url} (indexing {node} into {redact(db_url)}; {trust})", flush=True)
                async for _ in signals:  # stop cleanly: the follower's last block is whole or absent anyway
                    n.cancel_scope.cancel()
                    break

    try:
        trio.run(main)
    except KeyboardInterrupt:
        pass


__all__ = ["Explorer", "ROUTES", "build", "openapi_document", "run", "serve_explorer"]
