"""Customer commands: register, update the profile, note, communication, order, archive."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from commands import custom_fields, leads
from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from domain.base import CrmAggregate, Meta
from domain.custom_fields import CustomFieldSet
from domain.customer import Customer


class RegisterCustomer(Command):
    name: str = Field(max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    source: str | None = Field(default=None, max_length=100)
    custom_fields: dict[str, Any] | None = Field(
        default=None, max_length=100, description="values of the tenant's custom fields, by key")
    lifecycle_stage: Literal["lead", "qualified", "customer"] = Field(
        default="customer", description="lead or qualified: a lead, routed by the tenant's rules")


class UpdateProfile(Command):
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    source: str | None = Field(default=None, max_length=100)


class AddNote(Command):
    text: str = Field(max_length=10_000)


class LogCommunication(Command):
    channel: Literal["email", "sms", "phone", "meeting", "whatsapp", "social"]
    direction: Literal["inbound", "outbound"]
    subject: str | None = Field(default=None, max_length=500)
    summary: str | None = Field(default=None, max_length=10_000)
    occurred_at: datetime | None = None


class RecordOrder(Command):
    order_id: str = Field(max_length=100)
    amount: DecimalString
    currency: str = Field(min_length=3, max_length=3)
    item_count: int = Field(ge=1, le=100_000)
    occurred_at: datetime | None = None


class ArchiveCustomer(Command):
    reason: str | None = Field(default=None, max_length=1000)


def register(crm: Crm, meta: Meta, cmd: RegisterCustomer, idem: Idempotency | None = None) -> Outcome:
    profile = cmd.model_dump(exclude={"custom_fields", "lifecycle_stage"})

    def decide(fields: CustomFieldSet | None) -> Outcome:
        also: list[CrmAggregate] = []

        def make() -> Customer:
            customer = Customer.register(meta, **profile)
            if fields:
                fields.missing_required(cmd.custom_fields or {})
            custom_fields.apply_values(crm, meta, customer, cmd.custom_fields or {}, fields, also,
                                       "custom_fields")
            if cmd.lifecycle_stage != "customer":
                customer.start_as_lead(meta, cmd.lifecycle_stage)
                settings = leads.lead_settings(crm, meta.tenant_id, recent=True)
                leads.route(crm, meta, customer, settings, also, "lifecycle_stage")
            return customer
        return crm.create(meta, make, idem, also)
    return custom_fields.decided(crm, meta.tenant_id, decide)


def update_profile(crm: Crm, meta: Meta, customer_id: UUID, cmd: UpdateProfile,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    # Only the fields the client sent: an absent field is "leave it", an explicit null is "clear it".
    fields = cmd.model_dump(exclude_unset=True)
    return crm.change(Customer, customer_id, meta, lambda c: c.update_profile(meta, **fields),
                      expected_version, idem)


def add_note(crm: Crm, meta: Meta, customer_id: UUID, cmd: AddNote,
             expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta, lambda c: c.add_note(meta, cmd.text),
                      expected_version, idem)


def log_communication(crm: Crm, meta: Meta, customer_id: UUID, cmd: LogCommunication,
                      expected_version: int | None = None,
                      idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta,
                      lambda c: c.log_communication(meta, **cmd.model_dump()),
                      expected_version, idem)


def record_order(crm: Crm, meta: Meta, customer_id: UUID, cmd: RecordOrder,
                 expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta, lambda c: c.record_order(meta, **cmd.model_dump()),
                      expected_version, idem)


def archive(crm: Crm, meta: Meta, customer_id: UUID, cmd: ArchiveCustomer,
            expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta, lambda c: c.archive(meta, cmd.reason),
                      expected_version, idem)


class ChangeTags(Command):
    add: list[str] = Field(default_factory=list, max_length=50)
    remove: list[str] = Field(default_factory=list, max_length=50)


def change_tags(crm: Crm, meta: Meta, customer_id: UUID, cmd: ChangeTags,
                expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Customer, customer_id, meta, lambda c: c.change_tags(meta, cmd.add, cmd.remove),
                      expected_version, idem)


def address_bounced(crm: Crm, meta: Meta, customer_id: UUID, channel: str, address: str,
                    reason: str) -> Outcome:
    """A hard bounce reported by a channel (at once by the SMTP server, or days later by a
    bounce report): marketing stops using that address until the customer has a new one."""
    return crm.change(Customer, customer_id, meta,
                      lambda c: c.address_bounced(meta, channel, address, reason))
