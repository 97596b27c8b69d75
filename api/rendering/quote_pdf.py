"""A quote as a PDF a customer could receive (fpdf2, core fonts: no font files needed).

The core PDF fonts cover Latin-1; characters outside it are replaced, and
money is written with its ISO code (``GBP 1,234.50``) rather than a symbol.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos


def _latin1(value: Any) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _money(amount: Any, currency: str) -> str:
    return f"{currency} {Decimal(str(amount)):,.2f}"


def _number(value: Any) -> str:
    number = Decimal(str(value))
    return f"{number.normalize():f}" if number == number.to_integral() else f"{number:f}"


def render_quote(quote: dict[str, Any], vendor: str, customer: dict[str, Any],
                 deal_title: str) -> bytes:
    """``quote``: number, revision, currency, lines, subtotal, tax_rate, tax, total, valid_until,
    terms, status; ``customer``: name, email."""
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Quote {quote['number']}"))
    pdf.set_author(_latin1(vendor))
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.add_page()
    currency = quote["currency"]
    line = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}

    pdf.set_font("Helvetica", "B", 20)
    pdf.cell(0, 10, _latin1(vendor), **line)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, _latin1(f"Quote {quote['number']} (revision {quote['revision']})"), **line)
    valid: date = quote["valid_until"]
    pdf.cell(0, 6, _latin1(f"Valid until {valid.isoformat()}"), **line)
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 6, "Prepared for", **line)
    pdf.set_font("Helvetica", "", 11)
    pdf.cell(0, 6, _latin1(customer["name"]), **line)
    if customer.get("email"):
        pdf.cell(0, 6, _latin1(customer["email"]), **line)
    pdf.cell(0, 6, _latin1(f"Regarding: {deal_title}"), **line)
    pdf.ln(6)

    widths = (80, 20, 30, 20, 40)
    pdf.set_font("Helvetica", "B", 10)
    pdf.set_fill_color(235, 235, 235)
    for width, title, align in zip(widths, ("Item", "Qty", "Unit price", "Discount", "Amount"),
                                   ("L", "R", "R", "R", "R")):
        pdf.cell(width, 8, title, border="B", align=align, fill=True)
    pdf.ln(8)
    pdf.set_font("Helvetica", "", 10)
    for item in quote["lines"]:
        name = item["name"] + (f" ({item['product_id']})" if item.get("product_id") else "")
        discount = Decimal(str(item["discount"]))
        cells = (_latin1(name)[:48], _number(item["quantity"]), _money(item["unit_price"], currency),
                 f"{_number(discount)}%" if discount else "", _money(item["total"], currency))
        for width, value, align in zip(widths, cells, ("L", "R", "R", "R", "R")):
            pdf.cell(width, 7, value, align=align)
        pdf.ln(7)
    pdf.ln(2)
    for label, value, bold in (("Subtotal", quote["subtotal"], False),
                               (f"Tax ({_number(quote['tax_rate'])}%)", quote["tax"], False),
                               ("Total", quote["total"], True)):
        pdf.set_font("Helvetica", "B" if bold else "", 11 if bold else 10)
        pdf.cell(sum(widths[:-1]), 7, label, align="R")
        pdf.cell(widths[-1], 7, _money(value, currency), align="R", **line)
    if quote.get("terms"):
        pdf.ln(6)
        pdf.set_font("Helvetica", "B", 11)
        pdf.cell(0, 6, "Terms", **line)
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 5, _latin1(quote["terms"]), **line)
    return bytes(pdf.output())
