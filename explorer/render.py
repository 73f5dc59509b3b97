"""Jinja filters: money in yuan, UTC times, short hashes, highlighted source and diffs."""

from __future__ import annotations

import datetime as _dt
import json
import re

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


_INLINE = [
    (re.compile(r"``(.+?)``"), r"<code>\1</code>"),
    (re.compile(r":[a-z]+:`(.+?)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*(.+?)\*\*"), r"<b>\1</b>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<i>\1</i>"),
]
_ITEM = re.compile(r"^(\d+)\.\s+|^[-*]\s+")


def _inline(text: str) -> str:
    s = str(escape(" ".join(text.split())))
    for rx, rep in _INLINE:
        s = rx.sub(rep, s)
    return s


def paragraphs(text: str) -> Markup:
    """A docstring (reStructuredText-ish) as HTML: headings underlined with ---/===, numbered and
    bulleted items, indented blocks preformatted, ``code``, **bold** and *emphasis*; all escaped first."""
    out = []
    for block in (text or "").split("\n\n"):
        lines = block.splitlines()
        if not block.strip():
            continue
        if len(lines) >= 2 and set(lines[1].strip()) <= {"-", "="} and len(lines[1].strip()) >= 3:
            out.append(f"<h3>{_inline(lines[0])}</h3>")
            lines = lines[2:]
            if not any(line.strip() for line in lines):
                continue
        if all(line.startswith("    ") or not line.strip() for line in lines):
            out.append(f"<pre>{escape(chr(10).join(lines))}</pre>")
            continue
        items: list[str] = []
        for line in lines:
            if _ITEM.match(line.strip()) and (items or line is lines[0]):
                items.append(_ITEM.sub("", line.strip()))
            elif items:
                items[-1] += " " + line.strip()
            else:
                items = []
                break
        if items and len(items) >= 1 and _ITEM.match(lines[0].strip()):
            tag = "ol" if lines[0].strip()[0].isdigit() else "ul"
            start = _ITEM.match(lines[0].strip()).group(1) if tag == "ol" else None
            attr = f' start="{int(start)}"' if start and start != "1" else ""
            out.append(f"<{tag}{attr}>" + "".join(f"<li>{_inline(i)}</li>" for i in items) + f"</{tag}>")
        else:
            out.append(f"<p>{_inline(' '.join(lines))}</p>")
    return Markup("\n".join(out))


def register_filters(env) -> None:
    env.filters.update(fen=fen, signed_fen=signed_fen, utc=utc, short=short, pretty=pretty, highlight=highlight,
                       paragraphs=paragraphs)
