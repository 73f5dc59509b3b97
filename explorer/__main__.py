"""``python -m explorer --node HOST:PORT [--db URL] [--port N] [--host H] [--genesis FILE] [--genesis-hash HEX]``:
index a node and serve the explorer."""

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
    ap.add_argument("--genesis", metavar="FILE", default=None,
                    help="the chain's genesis file, as validators get it: the explorer refuses a node of another "
                         "genesis and checks block 1 against its validators (default: trust the node on first use)")
    ap.add_argument("--genesis-hash", metavar="HEX", default=None,
                    help="the chain's genesis hash (64 hex digits): refuse a node of another genesis")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from .app import redact, run
    from .index import Index

    try:
        pin = genesis_pin(a.genesis, a.genesis_hash)
    except ValueError as e:
        print(f"explorer: {e}")
        return 2
    try:
        Index(a.db).close()  # fail early, with the reason, if the index cannot be opened
    except Exception as e:  # sqlite3 / psycopg errors
        print(f"explorer: cannot open the index {redact(a.db)}: {e}".splitlines()[0])
        return 2
    try:
        run(a.node, a.db, a.port, a.host, follow=not a.no_follow, pin=pin)
    except (OSError, BaseExceptionGroup) as e:  # trio reports a failed bind inside an exception group
        first = _first(e)
        if not isinstance(first, OSError):
            raise
        print(f"explorer: cannot serve on {a.host}:{a.port}: {first}")
        return 2
    return 0


def genesis_pin(genesis_file: str | None, genesis_hash: str | None):
    """The :class:`~explorer.verify.GenesisPin` of ``--genesis`` / ``--genesis-hash`` (None: not pinned)."""
    from .verify import join_pins, pin_from_genesis, pin_from_hash

    file_pin = None
    if genesis_file:
        try:
            with open(genesis_file, encoding="utf-8") as f:
                text = f.read(64 << 20)
        except (OSError, UnicodeDecodeError) as e:
            raise ValueError(f"cannot read the genesis file {genesis_file}: {e}") from None
        try:
            file_pin = pin_from_genesis(text, f"genesis file {genesis_file}")
        except ValueError as e:
            raise ValueError(f"{genesis_file}: {e}") from None
    hash_pin = None
    if genesis_hash:
        try:
            hash_pin = pin_from_hash(genesis_hash)
        except ValueError as e:
            raise ValueError(f"--genesis-hash: {e}") from None
    return join_pins(file_pin, hash_pin)


def _first(e: BaseException) -> BaseException:
    while isinstance(e, BaseExceptionGroup) and e.exceptions:
        e = e.exceptions[0]
    return e


if __name__ == "__main__":
    raise SystemExit(main())
