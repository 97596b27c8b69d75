"""Contract commands: create, activate, renew, cancel."""

from __future__ import annotations

from datetime import date
from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from domain.base import DomainError, Meta
from domain.contract import Contract
from domain.customer import Customer
from domain.opportunity import Opportunity


class CreateContract(Command):
    customer_id: UUID
    opportunity_id: UUID | None = None
    title: str = Field(max_length=200)
    type: Literal["subscription", "wholesale", "commission", "service", "other"]
    start_date: date
    end_date: date
    renewal_date: date | None = Field(default=None, description="Default: the end date")
    auto_renew: bool = False
    value: DecimalString | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)


class ActivateContract(Command):
    pass


class RenewContract(Command):
    end_date: date
    renewal_date: date | None = None


class CancelContract(Command):
    reason: str | None = Field(default=None, max_length=1000)


def create(crm: Crm, meta: Meta, cmd: CreateContract, idem: Idempotency | None = None) -> Outcome:
    def make() -> Contract:
        crm.load(Customer, cmd.customer_id, meta.tenant_id)
        if cmd.opportunity_id:
            deal = crm.load(Opportunity, cmd.opportunity_id, meta.tenant_id)
            if deal.customer_id != cmd.customer_id:
                raise DomainError("the opportunity belongs to another customer", "opportunity_id")
        return Contract.create(meta, **cmd.model_dump())
    return crm.create(meta, make, idem)


def activate(crm: Crm, meta: Meta, contract_id: UUID, cmd: ActivateContract,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Contract, contract_id, meta, lambda c: c.activate(meta), expected_version, idem)


def renew(crm: Crm, meta: Meta, contract_id: UUID, cmd: RenewContract,
          expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Contract, contract_id, meta,
                      lambda c: c.renew(meta, cmd.end_date, cmd.renewal_date), expected_version, idem)


def cancel(crm: Crm, meta: Meta, contract_id: UUID, cmd: CancelContract,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Contract, contract_id, meta, lambda c: c.cancel(meta, cmd.reason),
                      expected_version, idem)
