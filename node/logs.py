"""The node's logs: text or JSON lines, to stderr and to ``HOME/node.log``.

``log_format = "json"`` writes one JSON object per line, for operators' log
pipelines::

    {"ts": "2026-12-04T20:05:01.123Z", "level": "info", "logger": "esoc.node",
     "msg": "committed height=12 txs=3 ok=3 root=9f2c...", "pid": 4242}

(``exc`` holds the traceback when there is one.)  ``log_file`` (default
``node.log``, relative to HOME; empty: none) receives the same lines,
rotated at ``LOG_FILE_BYTES`` with ``LOG_FILE_BACKUPS`` old files kept, so
the log cannot fill the disk.  When stderr already *is* that file (``esoc
devnet`` and the tests start nodes with their output redirected to it), the
file handler is skipped rather than writing every line twice.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import sys
import time

LOG_FILE_BYTES = 64 * 1024 * 1024
LOG_FILE_BACKUPS = 4
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z"
        doc = {"ts": ts, "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
               "pid": record.process}
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False, default=str)


def _formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def _same_file(stream, path: str) -> bool:
    try:
        a = os.fstat(stream.fileno())
        b = os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def log_file_path(home_path: str, log_file: str) -> str | None:
    if not log_file:
        return None
    return log_file if os.path.isabs(log_file) else os.path.join(home_path, log_file)


def setup_logging(level: str = "info", fmt: str = "text", file: str | None = None, stream=None) -> list[logging.Handler]:
    """Configure the root logger (replacing its handlers); returns the handlers installed."""
    if fmt not in FORMATS:
        raise ValueError(f"log_format must be one of {FORMATS}, not {fmt!r}")
    stream = stream if stream is not None else sys.stderr
    formatter = _formatter(fmt)
    handlers: list[logging.Handler] = [logging.StreamHandler(stream)]
    if file is not None and not _same_file(stream, file):
        os.makedirs(os.path.dirname(os.path.abspath(file)), exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(file, maxBytes=LOG_FILE_BYTES,
                                                             backupCount=LOG_FILE_BACKUPS, encoding="utf-8"))
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    for h in handlers:
        h.setFormatter(formatter)
        root.addHandler(h)
    root.setLevel(getattr(logging, level.upper(), logging.INFO))
    return handlers


__all__ = ["JsonFormatter", "LOG_FILE_BACKUPS", "LOG_FILE_BYTES", "log_file_path", "setup_logging"]
