"""How many SMS segments a text costs (3GPP TS 23.038 / 23.040).

A text written only in the GSM-7 default alphabet travels in 7-bit units: 160
fit one message, and a concatenated message carries 153 per segment (the rest
is the concatenation header). The characters of the extension table (``^ { }
\\ [ ~ ] | €`` and form feed) take two units (an escape plus the character), and
a segment never splits that pair. Any other character switches the whole
message to UCS-2: 70 UTF-16 code units in one message, 67 per segment, and a
segment never splits a surrogate pair (an emoji costs two units).
"""

from __future__ import annotations

from typing import Any

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}


def encoding(body: str) -> str:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in body) else "UCS-2"


def _units(body: str, kind: str) -> list[int]:
    """The cost of each character in the encoding's units."""
    if kind == "GSM-7":
        return [2 if c in GSM7_EXTENSION else 1 for c in body]
    return [2 if ord(c) > 0xFFFF else 1 for c in body]


def segments(body: str) -> dict[str, Any]:
    """``{encoding, units, segments, per_segment}`` for ``body`` sent as one SMS."""
    kind = encoding(body)
    costs = _units(body, kind)
    single, multi = LIMITS[kind]
    total = sum(costs)
    if total == 0:
        return {"encoding": kind, "units": 0, "segments": 0, "per_segment": single}
    if total <= single:
        return {"encoding": kind, "units": total, "segments": 1, "per_segment": single}
    count, used = 1, 0
    for cost in costs:  # a character whose units do not fit starts the next segment
        if used + cost > multi:
            count, used = count + 1, 0
        used += cost
    return {"encoding": kind, "units": total, "segments": count, "per_segment": multi}
