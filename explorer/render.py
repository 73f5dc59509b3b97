"""Jinja filters: money in yuan, UTC times, short hashes, highlighted source and diffs."""

from __future__ import annotations

import datetime as _dt
import json

from markupsafe import Markup, escape


def fen(v) -> str:
    """Integer fen as yuan with two decimals (no floats)."""
    if not isinstance(v, int) or isinstance(v, bool):
        return str(v)
    sign = "-" if v < 0 else ""
    v = abs(v)
    return f"{sign}{v // 100:,}.{v % 100:02d}"


def signed_fen(v) -> str:
    return ("+" if isinstance(v, int) and v > 0 else "") + fen(v)


def utc(ms) -> str:
    if not isinstance(ms, int):
        return ""
    return _dt.datetime.fromtimestamp(ms / 1000, tz=_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def short(h, n: int = 10) -> str:
    h = str(h or "")
    return h if len(h) <= 2 * n else f"{h[:n]}…{h[-4:]}"


def pretty(v) -> str:
    return json.dumps(v, indent=2, sort_keys=True, ensure_ascii=False)


def highlight(source: str, lexer: str = "python") -> Markup:
    from pygments import highlight as hl
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import DiffLexer, PythonLexer

    lx = PythonLexer() if lexer == "python" else DiffLexer()
    return Markup(hl(source or "", lx, HtmlFormatter(cssclass="hl", linenos="inline" if lexer == "python" else False)))


def paragraphs(text: str) -> Markup:
    """A docstring as paragraphs (blank lines split them; indented blocks stay preformatted)."""
    out = []
    for block in (text or "").split("\n\n"):
        if not block.strip():
            continue
        if all(line.startswith("    ") or not line.strip() for line in block.splitlines()):
            out.append(f"<pre>{escape(block)}</pre>")
        else:
            out.append(f"<p>{escape(' '.join(block.split()))}</p>")
    return Markup("\n".join(out))


def register_filters(env) -> None:
    env.filters.update(fen=fen, signed_fen=signed_fen, utc=utc, short=short, pretty=pretty, highlight=highlight,
                       paragraphs=paragraphs)
