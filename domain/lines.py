"""Line items shared by deals and quotes: product, quantity, unit price, discount, total.

A line's total is quantity x unit price less the discount (a percentage),
rounded half-up to the cent once per line, so the sum of the lines printed on a
quote is exactly the subtotal.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from domain.base import DomainError
from domain.values import MAX_AMOUNT, money, text

CENT = Decimal("0.01")
MAX_LINES = 200


def _decimal(value: Any, field: str, places: int, low: Decimal, high: Decimal) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise DomainError(f"{value!r} is not a decimal number", field) from None
    if not number.is_finite() or number != number.quantize(Decimal(1).scaleb(-places)):
        raise DomainError(f"must be a number with at most {places} decimal places", field)
    if not low <= number <= high:
        raise DomainError(f"must be from {low} to {high}", field)
    return number


def line_total(quantity: Decimal, unit_price: Decimal, discount: Decimal) -> Decimal:
    gross = quantity * unit_price * (Decimal(100) - discount) / Decimal(100)
    return gross.quantize(CENT, rounding=ROUND_HALF_UP)


def line_items(items: list[dict[str, Any]], currency: str, field: str = "line_items") -> list[dict]:
    """Validated line items, each with its ``total``; money as Decimal, discount in percent."""
    if len(items) > MAX_LINES:
        raise DomainError(f"at most {MAX_LINES} line items", field)
    made = []
    for index, item in enumerate(items):
        at = f"{field}[{index}]"
        unit_price, _ = money(item.get("unit_price"), currency, f"{at}.unit_price")
        quantity = _decimal(item.get("quantity", 1), f"{at}.quantity", 3, Decimal("0.001"),
                            Decimal("1000000"))
        discount = _decimal(item.get("discount") or 0, f"{at}.discount", 2, Decimal(0), Decimal(100))
        total = line_total(quantity, unit_price, discount)
        if total > MAX_AMOUNT:
            raise DomainError(f"a line total must be at most {MAX_AMOUNT}", at)
        made.append({"product_id": text(item.get("product_id"), f"{at}.product_id", 100),
                     "name": text(item.get("name"), f"{at}.name", 300, required=True),
                     "quantity": quantity, "unit_price": unit_price, "discount": discount,
                     "total": total})
    return made


def subtotal(items: list[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(item["total"])) for item in items), Decimal("0.00")).quantize(CENT)
