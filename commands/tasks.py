"""Task commands: create, complete, reopen, reassign."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from domain.base import Meta
from domain.customer import Customer
from domain.opportunity import Opportunity
from domain.task import Task


class CreateTask(Command):
    title: str = Field(max_length=300)
    due_at: datetime | None = None
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    assignee: str | None = Field(default=None, max_length=200)
    customer_id: UUID | None = None
    opportunity_id: UUID | None = None


class CompleteTask(Command):
    pass


class ReopenTask(Command):
    pass


class ReassignTask(Command):
    assignee: str | None = Field(max_length=200)


def create(crm: Crm, meta: Meta, cmd: CreateTask, idem: Idempotency | None = None) -> Outcome:
    def make() -> Task:
        fields = cmd.model_dump()
        # Linked records must exist in the caller's tenant (another tenant's id is "not found").
        if cmd.customer_id:
            crm.load(Customer, cmd.customer_id, meta.tenant_id)
        if cmd.opportunity_id:
            deal = crm.load(Opportunity, cmd.opportunity_id, meta.tenant_id)
            # A deal's task is also about the deal's customer, so it shows on their timeline.
            fields["customer_id"] = cmd.customer_id or deal.customer_id
        return Task.create(meta, **fields)
    return crm.create(meta, make, idem)


def complete(crm: Crm, meta: Meta, task_id: UUID, cmd: CompleteTask,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Task, task_id, meta, lambda t: t.complete(meta), expected_version, idem)


def reopen(crm: Crm, meta: Meta, task_id: UUID, cmd: ReopenTask,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Task, task_id, meta, lambda t: t.reopen(meta), expected_version, idem)


def reassign(crm: Crm, meta: Meta, task_id: UUID, cmd: ReassignTask,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Task, task_id, meta, lambda t: t.reassign(meta, cmd.assignee),
                      expected_version, idem)
