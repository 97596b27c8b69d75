"""Small SVG bar charts (a tiny template, no plotting library): the pipeline board and funnels."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape

WIDTH, BAR_HEIGHT, GAP, LABEL, TOP = 720, 26, 10, 190, 44


def _bars(title: str, rows: list[tuple[str, float, str]]) -> str:
    """One horizontal bar per (label, value, caption); bars scale to the largest value."""
    top = max((value for _, value, _ in rows), default=0) or 1
    span = WIDTH - LABEL - 170
    height = TOP + len(rows) * (BAR_HEIGHT + GAP) + 12
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
             'font-size="13">',
             f'<title>{escape(title)}</title>',
             f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
             f'<text x="12" y="26" font-size="16" font-weight="bold">{escape(title)}</text>']
    for i, (label, value, caption) in enumerate(rows):
        y = TOP + i * (BAR_HEIGHT + GAP)
        width = max(span * value / top, 1 if value else 0)
        parts += [f'<text x="{LABEL - 8}" y="{y + 18}" text-anchor="end">{escape(label)}</text>',
                  f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR_HEIGHT}" '
                  f'fill="#3a7ca5" rx="3"><title>{escape(label)}: {escape(caption)}</title></rect>',
                  f'<text x="{LABEL + width + 8:.1f}" y="{y + 18}">{escape(caption)}</text>']
    parts.append("</svg>")
    return "\n".join(parts)


def board_svg(board: dict[str, Any]) -> str:
    """Each stage's open value (first currency) with its deal count and weighted total."""
    rows = []
    for column in board["stages"]:
        totals = column["totals"][0] if column["totals"] else None
        total = Decimal(totals["total"]) if totals else Decimal(0)
        caption = (f"{column['count']} deals, {totals['currency']} {totals['total']} "
                   f"(weighted {totals['weighted_total']})" if totals else "0 deals")
        rows.append((column["name"], float(total), caption))
    return _bars(f"Pipeline: {board['name']}", rows)


def funnel_svg(funnel: dict[str, Any]) -> str:
    """Each step's subjects reached, with the conversion from the start."""
    rows = []
    for step in funnel["steps"]:
        rate = step["conversion_from_start"]
        caption = f"{step['reached']}" + ("" if rate is None else f" ({rate * 100:.1f}%)")
        rows.append((step["name"], float(step["reached"]), caption))
    return _bars(f"Funnel: {funnel['name']}", rows)
