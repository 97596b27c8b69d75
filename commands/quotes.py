"""Quote commands: draft on a deal, revise, send, accept (optionally updating the deal), reject, expire.

Every handler that depends on the date takes ``now`` from the caller's clock,
so expiry is decided against an injectable clock.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from commands.opportunities import LineItem
from domain.base import CrmAggregate, Meta
from domain.opportunity import Opportunity
from domain.quote import Quote


class DraftQuote(Command):
    lines: list[LineItem] | None = Field(
        default=None, max_length=200,
        description="Default: the deal's line items (or one line with its title and value)")
    tax_rate: DecimalString = Field(default=Decimal("0"), description="Percent, e.g. \"20\"")
    terms: str | None = Field(default=None, max_length=20_000)
    valid_until: date


class ReviseQuote(Command):
    lines: list[LineItem] | None = Field(default=None, max_length=200)
    tax_rate: DecimalString | None = None
    terms: str | None = Field(default=None, max_length=20_000)
    valid_until: date | None = None


class SendQuote(Command):
    pass


class AcceptQuote(Command):
    update_deal_value: bool = Field(
        default=True, description="Set the (open) deal's value to the quote's subtotal")


class RejectQuote(Command):
    reason: str | None = Field(default=None, max_length=1000)


class ExpireQuote(Command):
    pass


def draft(crm: Crm, meta: Meta, deal_id: UUID, cmd: DraftQuote, now: datetime,
          idem: Idempotency | None = None) -> Outcome:
    def make() -> Quote:
        deal = crm.load(Opportunity, deal_id, meta.tenant_id)
        if cmd.lines is not None:
            lines = [line.model_dump() for line in cmd.lines]
        elif deal.line_items:
            lines = [dict(item) for item in deal.line_items]
        else:
            lines = [{"name": deal.title, "quantity": 1, "unit_price": deal.value}]
        return Quote.draft(meta, deal.id, deal.customer_id, deal.currency, lines, cmd.tax_rate,
                           cmd.terms, cmd.valid_until, now.date())
    return crm.create(meta, make, idem)


def revise(crm: Crm, meta: Meta, quote_id: UUID, cmd: ReviseQuote, now: datetime,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    lines = None if cmd.lines is None else [line.model_dump() for line in cmd.lines]
    return crm.change(Quote, quote_id, meta,
                      lambda q: q.revise(meta, now.date(), lines, cmd.tax_rate, cmd.terms,
                                         cmd.valid_until), expected_version, idem)


def send(crm: Crm, meta: Meta, quote_id: UUID, cmd: SendQuote, now: datetime,
         expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Quote, quote_id, meta, lambda q: q.send(meta, now.date()),
                      expected_version, idem)


def accept(crm: Crm, meta: Meta, quote_id: UUID, cmd: AcceptQuote, now: datetime,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    """Accepts the quote and, in the same transaction, sets the open deal's value to its subtotal."""
    also: list[CrmAggregate] = []

    def act(quote: Quote) -> None:
        quote.accept(meta, now.date())
        if cmd.update_deal_value:
            deal = crm.load(Opportunity, quote.opportunity_id, meta.tenant_id)
            if deal.status == "open":  # a closed deal keeps the value it closed with
                deal.change_value(meta, quote.subtotal, quote.currency)
                also.append(deal)
    return crm.change(Quote, quote_id, meta, act, expected_version, idem, also=also)


def reject(crm: Crm, meta: Meta, quote_id: UUID, cmd: RejectQuote,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Quote, quote_id, meta, lambda q: q.reject(meta, cmd.reason),
                      expected_version, idem)


def expire(crm: Crm, meta: Meta, quote_id: UUID, cmd: ExpireQuote, now: datetime,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Quote, quote_id, meta, lambda q: q.expire(meta, now.date()),
                      expected_version, idem)
