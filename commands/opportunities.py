"""Opportunity commands: open, change value, move stage, win, lose."""

from __future__ import annotations

from datetime import date
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from domain.base import Meta
from domain.customer import Customer
from domain.opportunity import DEFAULT_STAGES, Opportunity


class OpenOpportunity(Command):
    customer_id: UUID
    title: str = Field(max_length=200)
    value: DecimalString
    currency: str = Field(min_length=3, max_length=3)
    stage: str = Field(default=DEFAULT_STAGES[0], max_length=100)
    expected_close: date | None = None
    owner: str | None = Field(default=None, max_length=200)


class ChangeValue(Command):
    value: DecimalString
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class MoveStage(Command):
    stage: str = Field(max_length=100)


class WinOpportunity(Command):
    pass


class LoseOpportunity(Command):
    reason: str = Field(max_length=1000)


def open_opportunity(crm: Crm, meta: Meta, cmd: OpenOpportunity,
                     idem: Idempotency | None = None) -> Outcome:
    def make() -> Opportunity:
        crm.load(Customer, cmd.customer_id, meta.tenant_id)  # must exist in this tenant
        return Opportunity.open(meta, **cmd.model_dump())
    return crm.create(meta, make, idem)


def change_value(crm: Crm, meta: Meta, deal_id: UUID, cmd: ChangeValue,
                 expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta,
                      lambda d: d.change_value(meta, cmd.value, cmd.currency), expected_version, idem)


def move_stage(crm: Crm, meta: Meta, deal_id: UUID, cmd: MoveStage,
               expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta, lambda d: d.move_stage(meta, cmd.stage),
                      expected_version, idem)


def win(crm: Crm, meta: Meta, deal_id: UUID, cmd: WinOpportunity,
        expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta, lambda d: d.win(meta), expected_version, idem)


def lose(crm: Crm, meta: Meta, deal_id: UUID, cmd: LoseOpportunity,
         expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Opportunity, deal_id, meta, lambda d: d.lose(meta, cmd.reason),
                      expected_version, idem)
