"""Forecast against outcome as a small SVG chart (for ``esoc plan show --svg`` and the explorer).

Input: the rows of the planning law's ``track`` view.  Drawn per period:
the 95 % and 80 % intervals of the published guidance (bands), its point
forecast (dots) and the realised sales (a line).  No dependencies: a
string of SVG 1.1.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

W, H, PAD = 720, 300, 40


def svg(rows: list[dict], title: str) -> str:
    rows = [r for r in rows if r["sales"] or r["guidance"]]
    top = max([r["sales"] for r in rows] + [r["guidance"]["hi95"] for r in rows if r["guidance"]] + [1])
    n = max(1, len(rows) - 1)

    def x(i: int) -> float:
        return PAD + (W - 2 * PAD) * i / n

    def y(v: int) -> float:
        return H - PAD - (H - 2 * PAD) * v / top

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}">',
           f'<title>{escape(title)}</title>',
           f'<text x="{PAD}" y="20" font-family="sans-serif" font-size="13">{escape(title)}</text>',
           f'<line x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}" stroke="#888"/>']
    for lo, hi, colour, name in (("lo95", "hi95", "#dbe8f6", "95 %"), ("lo80", "hi80", "#a9c8ec", "80 %")):
        for i, r in enumerate(rows):
            g = r["guidance"]
            if g:
                half = (W - 2 * PAD) / n / 3 if len(rows) > 1 else 10
                out.append(f'<rect class="band{name[:2]}" x="{x(i) - half:.1f}" y="{y(g[hi]):.1f}" width="{2 * half:.1f}" '
                           f'height="{max(0.5, y(g[lo]) - y(g[hi])):.1f}" fill="{colour}"><title>{r["period"]}: '
                           f'{name} {g[lo]}..{g[hi]}</title></rect>')
    for i, r in enumerate(rows):
        if r["guidance"]:
            out.append(f'<circle class="forecast" cx="{x(i):.1f}" cy="{y(r["guidance"]["forecast"]):.1f}" r="3" '
                       f'fill="#1f5fa8"><title>{r["period"]}: forecast {r["guidance"]["forecast"]}</title></circle>')
    sold = [(i, r) for i, r in enumerate(rows) if r["sales"] or r.get("closed")]
    if sold:
        pts = " ".join(f"{x(i):.1f},{y(r['sales']):.1f}" for i, r in sold)
        out.append(f'<polyline class="realised" points="{pts}" fill="none" stroke="#c0392b" stroke-width="2"/>')
    for i, r in enumerate(rows):
        if i % max(1, len(rows) // 8) == 0:
            out.append(f'<text x="{x(i):.1f}" y="{H - PAD + 16}" font-family="sans-serif" font-size="10" '
                       f'text-anchor="middle">{r["period"]}</text>')
    out.append(f'<text x="{W - PAD}" y="20" font-family="sans-serif" font-size="11" text-anchor="end">'
               'line: realised sales; dots: forecast; bands: 80 % and 95 % intervals</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
