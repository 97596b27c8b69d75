"""Custom field commands: define, change and retire fields; set values on a customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from domain.base import CrmAggregate, DomainError, Meta
from domain.custom_fields import FIELD_TYPES, CustomFieldSet, UniqueClaim, claim_id, field_set_id
from domain.customer import Customer

FieldType = Literal[FIELD_TYPES]  # type: ignore[valid-type]


class DefineField(Command):
    key: str = Field(max_length=40, description="lower-case letters, digits and _; never changes")
    label: str = Field(max_length=100)
    type: FieldType
    options: list[str] | None = Field(default=None, max_length=200)
    required: bool = False
    unique: bool = False


class ChangeField(Command):
    label: str | None = Field(default=None, max_length=100)
    options: list[str] | None = Field(default=None, max_length=200)
    required: bool | None = None
    type: FieldType | None = Field(default=None, description="refused unless unchanged")
    unique: bool | None = Field(default=None, description="refused unless unchanged")


class RetireField(Command):
    pass


class SetCustomFields(Command):
    values: dict[str, Any] = Field(max_length=100, description="key -> value; null clears")


def field_set(crm: Crm, tenant_id: str, recent: bool = False) -> CustomFieldSet | None:
    """The tenant's field definitions, or None if it never defined any; with ``recent``, a
    copy read at most a second ago (commands.recent_reads), to be read and not changed."""
    return crm.of_tenant(CustomFieldSet, field_set_id(tenant_id), tenant_id, recent)


def decided(crm: Crm, tenant_id: str, decide: Callable[[CustomFieldSet | None], Outcome]) -> Outcome:
    """``decide`` on a recent copy of the tenant's field definitions, and a refusal again on the
    current ones: a command whose values validate costs no read of the store, and a field
    defined (or made optional) a moment ago on another node is never refused."""
    try:
        return decide(field_set(crm, tenant_id, recent=True))
    except DomainError:
        return decide(field_set(crm, tenant_id))


def _existing_field_set(crm: Crm, meta: Meta) -> CustomFieldSet:
    found = field_set(crm, meta.tenant_id)
    if found is None:
        raise DomainError("this tenant has no custom fields yet", "key")
    return found


def define(crm: Crm, meta: Meta, cmd: DefineField, idem: Idempotency | None = None) -> Outcome:
    existing = field_set(crm, meta.tenant_id)
    if existing is None:
        def make() -> CustomFieldSet:
            fields = CustomFieldSet.start(meta)
            fields.define(meta, **cmd.model_dump())
            return fields
        return crm.create(meta, make, idem)
    return crm.change(CustomFieldSet, existing.id, meta, lambda f: f.define(meta, **cmd.model_dump()),
                      None, idem)


def change(crm: Crm, meta: Meta, key: str, cmd: ChangeField, expected_version: int | None = None,
           idem: Idempotency | None = None) -> Outcome:
    fields = _existing_field_set(crm, meta)
    return crm.change(CustomFieldSet, fields.id, meta,
                      lambda f: f.change(meta, key, **cmd.model_dump(exclude_unset=True)),
                      expected_version, idem)


def retire(crm: Crm, meta: Meta, key: str, cmd: RetireField, expected_version: int | None = None,
           idem: Idempotency | None = None) -> Outcome:
    fields = _existing_field_set(crm, meta)
    return crm.change(CustomFieldSet, fields.id, meta, lambda f: f.retire(meta, key),
                      expected_version, idem)


def apply_values(crm: Crm, meta: Meta, customer: Customer, values: dict[str, Any],
                 fields: CustomFieldSet | None, also: list[CrmAggregate],
                 field: str = "values") -> None:
    """Sets values on ``customer``; the uniqueness claims it takes or frees go into ``also``."""
    if not values:
        return
    if fields is None:
        key = next(iter(values))
        raise DomainError(f"no custom field {key!r}", f"{field}.{key}")
    for key, (old, new) in customer.set_custom_fields(meta, values, fields, field).items():
        if not fields.fields[key]["unique"]:
            continue
        if new is not None:
            also.append(_claim(crm, meta, key, new, customer.id, f"{field}.{key}"))
        if old is not None:
            freed = crm.repository.get(claim_id(meta.tenant_id, key, old))
            freed.release(meta, customer.id)
            also.append(freed)


def _claim(crm: Crm, meta: Meta, key: str, value: Any, owner: UUID, field: str) -> UniqueClaim:
    try:
        claim = crm.repository.get(claim_id(meta.tenant_id, key, value))
    except AggregateNotFoundError:
        return UniqueClaim.claim(meta, key, value, owner)
    claim.take(meta, owner, field)
    return claim


def set_values(crm: Crm, meta: Meta, customer_id: UUID, cmd: SetCustomFields,
               expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    def decide(fields: CustomFieldSet | None) -> Outcome:
        also: list[CrmAggregate] = []
        return crm.change(Customer, customer_id, meta,
                          lambda c: apply_values(crm, meta, c, cmd.values, fields, also),
                          expected_version, idem, also)
    return decided(crm, meta.tenant_id, decide)
