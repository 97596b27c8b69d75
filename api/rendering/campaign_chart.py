"""The funnel of a campaign (or automation step) as an SVG picture: one centred bar per stage,
narrowing as the audience drops off, with the count and the share of the audience."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

WIDTH, BAR, GAP, TOP, SIDE = 640, 34, 8, 52, 150
COLOURS = ("#264653", "#2a9d8f", "#8ab17d", "#e9c46a", "#f4a261", "#e76f51")


def funnel_svg(title: str, stages: list[dict[str, Any]], footer: str = "") -> str:
    top = max((stage["count"] for stage in stages), default=0) or 1
    span = WIDTH - 2 * SIDE
    height = TOP + len(stages) * (BAR + GAP) + (40 if footer else 16)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
             f'viewBox="0 0 {WIDTH} {height}" font-family="Helvetica, Arial, sans-serif" '
             'font-size="13">', f"<title>{escape(title)}</title>",
             f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
             f'<text x="{WIDTH / 2}" y="30" font-size="17" font-weight="bold" '
             f'text-anchor="middle">{escape(title)}</text>']
    for index, stage in enumerate(stages):
        y = TOP + index * (BAR + GAP)
        width = max(span * stage["count"] / top, 2 if stage["count"] else 0)
        share = stage.get("rate_from_start")
        caption = f"{stage['count']:,}" + (f" ({share * 100:.1f}%)" if share is not None else "")
        colour = COLOURS[index % len(COLOURS)]
        parts += [
            f'<text x="{SIDE - 12}" y="{y + BAR / 2 + 5}" text-anchor="end">'
            f'{escape(stage["name"].capitalize())}</text>',
            f'<rect x="{(WIDTH - width) / 2:.1f}" y="{y}" width="{width:.1f}" height="{BAR}" '
            f'rx="4" fill="{colour}"><title>{escape(stage["name"])}: {escape(caption)}</title></rect>',
            f'<text x="{WIDTH - SIDE + 12}" y="{y + BAR / 2 + 5}">{escape(caption)}</text>']
    if footer:
        parts.append(f'<text x="{WIDTH / 2}" y="{height - 14}" text-anchor="middle" '
                     f'fill="#555555">{escape(footer)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
