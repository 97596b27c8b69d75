"""The Quote: a priced offer on a deal that the customer accepts or rejects.

Its state machine: draft -> sent -> accepted | rejected | expired. Revising a
quote that is not accepted makes a new *revision* (v1, v2...) in draft, to be
sent again; every revision's lines, terms and totals are in its event, so any
version sent can be shown again. A quote is valid through its ``valid_until``
day: after it, it can no longer be accepted and may be marked expired. "Now"
is passed in by the caller (an injectable clock), never read here.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.lines import CENT, line_items, subtotal
from domain.values import money, text

TAX_CAP = Decimal(100)


def _tax_rate(value: Any) -> Decimal:
    try:
        rate = Decimal(str(value))
    except ArithmeticError:
        raise DomainError(f"{value!r} is not a percentage", "tax_rate") from None
    if not rate.is_finite() or not 0 <= rate <= TAX_CAP or rate != rate.quantize(CENT):
        raise DomainError("tax_rate must be a percentage from 0 to 100 with at most 2 places",
                          "tax_rate")
    return rate.quantize(CENT)


def totals(lines: list[dict[str, Any]], tax_rate: Decimal) -> dict[str, Decimal]:
    net = subtotal(lines)
    tax = (net * tax_rate / Decimal(100)).quantize(CENT, rounding=ROUND_HALF_UP)
    return {"subtotal": net, "tax": tax, "total": net + tax}


class Quote(CrmAggregate):
    """State: opportunity_id, customer_id, number, revision, status, currency, lines, tax_rate,
    terms, valid_until, subtotal, tax, total."""

    class Drafted(CrmAggregate.Created):
        opportunity_id: UUID
        customer_id: UUID
        number: str
        currency: str
        lines: list
        tax_rate: Decimal
        terms: str | None
        valid_until: date
        subtotal: Decimal
        tax: Decimal
        total: Decimal

        def apply(self, quote: Quote) -> None:
            super().apply(quote)
            quote.opportunity_id = self.opportunity_id
            quote.customer_id = self.customer_id
            quote.number = self.number
            quote.currency = self.currency
            quote.revision = 1
            quote.status = "draft"
            Quote._terms(quote, self)

    class Revised(CrmAggregate.Event):
        opportunity_id: UUID
        revision: int
        lines: list
        tax_rate: Decimal
        terms: str | None
        valid_until: date
        subtotal: Decimal
        tax: Decimal
        total: Decimal

        def apply(self, quote: Quote) -> None:
            quote.revision = self.revision
            quote.status = "draft"
            Quote._terms(quote, self)

    class Sent(CrmAggregate.Event):
        opportunity_id: UUID
        revision: int

        def apply(self, quote: Quote) -> None:
            quote.status = "sent"

    class Accepted(CrmAggregate.Event):
        opportunity_id: UUID
        customer_id: UUID
        revision: int
        subtotal: Decimal
        total: Decimal
        currency: str

        def apply(self, quote: Quote) -> None:
            quote.status = "accepted"

    class Rejected(CrmAggregate.Event):
        opportunity_id: UUID
        revision: int
        reason: str | None

        def apply(self, quote: Quote) -> None:
            quote.status = "rejected"

    class Expired(CrmAggregate.Event):
        opportunity_id: UUID
        revision: int
        valid_until: date

        def apply(self, quote: Quote) -> None:
            quote.status = "expired"

    @staticmethod
    def _terms(quote: Quote, event: Any) -> None:
        quote.lines = [dict(line) for line in event.lines]
        quote.tax_rate = event.tax_rate
        quote.terms = event.terms
        quote.valid_until = event.valid_until
        quote.subtotal, quote.tax, quote.total = event.subtotal, event.tax, event.total

    # -- commands ---------------------------------------------------------------------------

    @classmethod
    def draft(cls, meta: Meta, opportunity_id: UUID, customer_id: UUID, currency: str,
              lines: list[dict[str, Any]], tax_rate: Decimal | str, terms: str | None,
              valid_until: date, today: date, id: UUID | None = None) -> Quote:
        _, currency = money(0, currency)
        offer = cls._offer(lines, currency, tax_rate, terms, valid_until, today)
        id = id or uuid4()
        return cls._start(cls.Drafted, meta, id=id, opportunity_id=opportunity_id,
                          customer_id=customer_id, number=f"Q-{id.hex[:8].upper()}",
                          currency=currency, **offer)

    def revise(self, meta: Meta, today: date, lines: list[dict[str, Any]] | None = None,
               tax_rate: Decimal | str | None = None, terms: str | None = None,
               valid_until: date | None = None) -> None:
        """A new revision in draft; what is not given is kept from the current one."""
        if self.status == "accepted":
            raise InvalidTransition("an accepted quote cannot be revised")
        offer = self._offer(self.lines if lines is None else lines, self.currency,
                            self.tax_rate if tax_rate is None else tax_rate,
                            self.terms if terms is None else terms,
                            valid_until or self.valid_until, today)
        self._record(self.Revised, meta, opportunity_id=self.opportunity_id,
                     revision=self.revision + 1, **offer)

    def send(self, meta: Meta, today: date) -> None:
        self._require("draft", "send")
        if today > self.valid_until:
            raise InvalidTransition(f"the quote was valid until {self.valid_until.isoformat()}; "
                                    "revise it with a new valid_until before sending")
        self._record(self.Sent, meta, opportunity_id=self.opportunity_id, revision=self.revision)

    def accept(self, meta: Meta, today: date) -> None:
        self._require("sent", "accept")
        if today > self.valid_until:
            raise InvalidTransition(f"the quote expired on {self.valid_until.isoformat()} and can "
                                    "no longer be accepted")
        self._record(self.Accepted, meta, opportunity_id=self.opportunity_id,
                     customer_id=self.customer_id, revision=self.revision, subtotal=self.subtotal,
                     total=self.total, currency=self.currency)

    def reject(self, meta: Meta, reason: str | None = None) -> None:
        self._require("sent", "reject")
        self._record(self.Rejected, meta, opportunity_id=self.opportunity_id,
                     revision=self.revision, reason=text(reason, "reason", 1000))

    def expire(self, meta: Meta, today: date) -> None:
        if self.status not in ("draft", "sent"):
            raise InvalidTransition(f"a {self.status} quote cannot expire")
        if today <= self.valid_until:
            raise InvalidTransition(f"the quote is valid until {self.valid_until.isoformat()}")
        self._record(self.Expired, meta, opportunity_id=self.opportunity_id,
                     revision=self.revision, valid_until=self.valid_until)

    def is_expired(self, now: datetime) -> bool:
        return self.status in ("draft", "sent") and now.date() > self.valid_until

    @staticmethod
    def _offer(lines: list[dict[str, Any]], currency: str, tax_rate: Decimal | str,
               terms: str | None, valid_until: date, today: date) -> dict[str, Any]:
        made = line_items(lines, currency, "lines")
        if not made:
            raise DomainError("a quote needs at least one line", "lines")
        if valid_until < today:
            raise DomainError("valid_until must not be in the past", "valid_until")
        rate = _tax_rate(tax_rate)
        return {"lines": made, "tax_rate": rate, "terms": text(terms, "terms", 20_000),
                "valid_until": valid_until, **totals(made, rate)}

    def _require(self, status: str, command: str) -> None:
        if self.status != status:
            raise InvalidTransition(f"cannot {command} a {self.status} quote")
