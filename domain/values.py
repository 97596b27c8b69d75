"""Value rules shared by the aggregates: money, email, phone, time.

They raise :class:`DomainError` naming the field, so the API can say exactly
which input was wrong.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from domain.base import DomainError

# ISO 4217 codes accepted for money. A vendor's currency outside this list is a
# one-line change here; a typo such as "EURO" is refused instead of stored.
CURRENCIES = frozenset(
    "AUD BRL CAD CHF CNY CZK DKK EUR GBP HKD HUF IDR ILS INR ISK JPY KRW MXN MYR "
    "NOK NZD PHP PLN RON SEK SGD THB TRY USD ZAR".split()
)
MAX_AMOUNT = Decimal("1000000000")  # one billion: anything larger is a typo


def money(amount: Decimal | str | int, currency: str, field: str = "amount") -> tuple[Decimal, str]:
    """Returns (amount, currency) with the amount as an exact two-place Decimal."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise DomainError(f"{amount!r} is not a decimal number", field) from None
    if not value.is_finite():
        raise DomainError("amount must be a finite number", field)
    if value < 0:
        raise DomainError("amount must not be negative", field)
    if value > MAX_AMOUNT:
        raise DomainError(f"amount must be at most {MAX_AMOUNT}", field)
    if value != value.quantize(Decimal("0.01")):
        raise DomainError("amount has more than two decimal places", field)
    code = (currency or "").upper()
    if code not in CURRENCIES:
        raise DomainError(f"{currency!r} is not a supported ISO 4217 currency", "currency")
    return value.quantize(Decimal("0.01")), code


def email_address(value: str | None, field: str = "email") -> str | None:
    """Normalises an email address (lower-cased domain, IDNA) or refuses it."""
    if value is None or value == "":
        return None
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise DomainError(f"invalid email address: {error}", field) from None
    local, _, domain = result.normalized.rpartition("@")
    return f"{local}@{domain.lower()}"


def phone_number(value: str | None, default_region: str = "GB", field: str = "phone") -> str | None:
    """Normalises a phone number to E.164; numbers without +country use ``default_region``."""
    if value is None or value == "":
        return None
    try:
        parsed = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException as error:
        raise DomainError(f"invalid phone number: {error}", field) from None
    if not phonenumbers.is_valid_number(parsed):
        raise DomainError(f"{value!r} is not a valid phone number", field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def utc(moment: datetime | None, field: str = "occurred_at") -> datetime:
    """A timezone-aware UTC datetime; naive datetimes are refused, not guessed."""
    if moment is None:
        return datetime.now(timezone.utc)
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise DomainError("time must include a timezone offset (e.g. 2026-01-31T12:00:00Z)", field)
    return moment.astimezone(timezone.utc)


def text(value: str | None, field: str, max_length: int, required: bool = False) -> str | None:
    """Trims text, refusing empty required values and overlong ones."""
    value = (value or "").strip()
    if not value:
        if required:
            raise DomainError(f"{field} is required", field)
        return None
    if len(value) > max_length:
        raise DomainError(f"{field} is longer than {max_length} characters", field)
    return value
