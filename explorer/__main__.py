"""``python -m explorer --node HOST:PORT [--db URL] [--port N] [--host H]``: index a node and serve the explorer."""

from __future__ import annotations

import argparse
import logging
import os


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m explorer", description="The esoc block explorer: index a node, serve the web pages.")
    ap.add_argument("--node", default=os.environ.get("ESOC_NODE", "127.0.0.1:50051"), help="gRPC address of the node (HOST:PORT)")
    ap.add_argument("--db", default="sqlite:///explorer.sqlite",
                    help="index database: sqlite:///PATH (default sqlite:///explorer.sqlite) or postgresql://...")
    ap.add_argument("--port", type=int, default=8080, help="HTTP port (default 8080)")
    ap.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for public)")
    ap.add_argument("--no-follow", action="store_true", help="serve the index as it is, without following the node")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from .app import redact, run
    from .index import Index

    try:
        Index(a.db).close()  # fail early, with the reason, if the index cannot be opened
    except Exception as e:  # sqlite3 / psycopg errors
        print(f"explorer: cannot open the index {redact(a.db)}: {e}".splitlines()[0])
        return 2
    try:
        run(a.node, a.db, a.port, a.host, follow=not a.no_follow)
    except (OSError, BaseExceptionGroup) as e:  # trio reports a failed bind inside an exception group
        first = _first(e)
        if not isinstance(first, OSError):
            raise
        print(f"explorer: cannot serve on {a.host}:{a.port}: {first}")
        return 2
    return 0


def _first(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


if __name__ == "__main__":
    raise SystemExit(main())
