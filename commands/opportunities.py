"""Opportunity commands: open, value, line items, details, contacts, stage, win, lose, reopen."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from domain.base import Meta
from domain.customer import Customer
from domain.opportunity import DEFAULT_STAGES, Opportunity
from domain.pipeline import Pipeline


class LineItem(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    product_id: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=300)
    quantity: DecimalString = Field(default=Decimal("1"), description="Up to 3 decimal places, e.g. \"2\"")
    unit_price: DecimalString
    discount: DecimalString = Field(default=Decimal("0"), description="A percentage from 0 to 100")


class OpenOpportunity(Command):
    customer_id: UUID
    title: str = Field(max_length=200)
    value: DecimalString | None = Field(
        default=None, description="Set by hand; omit it to derive the value from line_items")
    currency: str = Field(min_length=3, max_length=3)
    stage: str | None = Field(default=None, max_length=100,
                              description=f"Default: the pipeline's first stage ({DEFAULT_STAGES[0]} "
                                          "without a pipeline)")
    expected_close: date | None = None
    owner: str | None = Field(default=None, max_length=200)
    pipeline_id: UUID | None = Field(default=None, description="Omit for the default pipeline")
    source: str | None = Field(default=None, max_length=100)
    contact_ids: list[UUID] = Field(default_factory=list, max_length=50)
    line_items: list[LineItem] = Field(default_factory=list, max_length=200)
    probability: int | None = Field(default=None, ge=0, le=100,
                                    description="Default: the stage's probability")
    occurred_at: datetime | None = Field(default=None,
                                         description="When the deal was opened, for imported history")


class ChangeValue(Command):
    value: DecimalString
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class SetLineItems(Command):
    line_items: list[LineItem] = Field(max_length=200)


class ChangeDetails(Command):
    title: str | None = Field(default=None, max_length=200)
    owner: str | None = Field(default=None, max_length=200)
    source: str | None = Field(default=None, max_length=100)
    expected_close: date | None = None
    probability: int | None = Field(default=None, ge=0, le=100)


class LinkContact(Command):
    contact_id: UUID


class MoveStage(Command):
    stage: str = Field(max_length=100)
    reason: str | None = Field(default=None, max_length=1000,
                               description="Required when the stage is the pipeline's lost stage")
    occurred_at: datetime | None = None


class WinOpportunity(Command):
    reason: str | None = Field(default=None, max_length=1000)
    occurred_at: datetime | None = None


class LoseOpportunity(Command):
    reason: str = Field(max_length=1000)
    occurred_at: datetime | None = None


class ReopenOpportunity(Command):
    stage: str | None = Field(default=None, max_length=100,
                              description="Default: the open stage the deal was last in")
    occurred_at: datetime | None = None


def _pipeline(crm: Crm, meta: Meta, deal: Opportunity) -> Pipeline | None:
    return crm.load(Pipeline, deal.pipeline_id, meta.tenant_id) if deal.pipeline_id else None


def open_opportunity(crm: Crm, meta: Meta, cmd: OpenOpportunity,
                     idem: Idempotency | None = None) -> Outcome:
    def make() -> Opportunity:
        crm.load(Customer, cmd.customer_id, meta.tenant_id)  # must exist in this tenant
        for contact_id in cmd.contact_ids:
            crm.load(Customer, contact_id, meta.tenant_id)
        fields = cmd.model_dump(exclude={"pipeline_id"})
        pipeline = crm.load(Pipeline, cmd.pipeline_id, meta.tenant_id) if cmd.pipeline_id else None
        return Opportunity.open(meta, pipeline=pipeline, **fields)
    return crm.create(meta, make, idem)


def change_value(crm: Crm, meta: Meta, deal_id: UUID, cmd: ChangeValue,
                 expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.change_value(meta, cmd.value, cmd.currency), expected_version, idem)


def set_line_items(crm: Crm, meta: Meta, deal_id: UUID, cmd: SetLineItems,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    items = [item.model_dump() for item in cmd.line_items]
    return crm.change(Opportunity, deal_id, meta, lambda d: d.set_line_items(meta, items),
                      expected_version, idem)


def change_details(crm: Crm, meta: Meta, deal_id: UUID, cmd: ChangeDetails,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    fields = cmd.model_dump(exclude_unset=True)
    return crm.change(Opportunity, deal_id, meta, lambda d: d.change_details(meta, **fields),
                      expected_version, idem)


def link_contact(crm: Crm, meta: Meta, deal_id: UUID, cmd: LinkContact,
                 expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    crm.load(Customer, cmd.contact_id, meta.tenant_id)
    return crm.change(Opportunity, deal_id, meta, lambda d: d.link_contact(meta, cmd.contact_id),
                      expected_version, idem)


def unlink_contact(crm: Crm, meta: Meta, deal_id: UUID, contact_id: UUID,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta, lambda d: d.unlink_contact(meta, contact_id),
                      expected_version, idem)


def move_stage(crm: Crm, meta: Meta, deal_id: UUID, cmd: MoveStage,
               expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.move_stage(meta, cmd.stage, _pipeline(crm, meta, d), cmd.reason,
                                             cmd.occurred_at),
                      expected_version, idem)


def win(crm: Crm, meta: Meta, deal_id: UUID, cmd: WinOpportunity,
        expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.win(meta, _pipeline(crm, meta, d), cmd.reason, cmd.occurred_at),
                      expected_version, idem)


def lose(crm: Crm, meta: Meta, deal_id: UUID, cmd: LoseOpportunity,
         expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.lose(meta, cmd.reason, _pipeline(crm, meta, d), cmd.occurred_at),
                      expected_version, idem)


def reopen(crm: Crm, meta: Meta, deal_id: UUID, cmd: ReopenOpportunity,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.reopen(meta, cmd.stage, _pipeline(crm, meta, d), cmd.occurred_at),
                      expected_version, idem)
