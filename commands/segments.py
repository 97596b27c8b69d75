"""Segment commands: define (dynamic with a rule, or static), change the rule, rename, add and
remove members of a static segment, delete."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from commands import custom_fields
from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from domain.base import Meta
from domain.customer import CONSENT_CHANNELS, Customer
from domain.segment import Segment, validate_rule

MAX_MEMBERS_PER_CALL = 1000


class DefineSegment(Command):
    name: str = Field(max_length=200)
    kind: Literal["dynamic", "static"] = "dynamic"
    rule: dict[str, Any] | None = Field(default=None, description="see docs/SEGMENTS.md")
    description: str | None = Field(default=None, max_length=2000)


class ChangeRule(Command):
    rule: dict[str, Any]


class RenameSegment(Command):
    name: str = Field(max_length=200)


class ChangeMembers(Command):
    add: list[UUID] = Field(default_factory=list, max_length=MAX_MEMBERS_PER_CALL)
    remove: list[UUID] = Field(default_factory=list, max_length=MAX_MEMBERS_PER_CALL)


def _rule(crm: Crm, meta: Meta, rule: dict[str, Any]) -> dict[str, Any]:
    fields = custom_fields.field_set(crm, meta.tenant_id)
    active = {key: d for key, d in (fields.fields.items() if fields else ()) if not d["retired"]}
    return validate_rule(rule, active, CONSENT_CHANNELS)


def define(crm: Crm, meta: Meta, cmd: DefineSegment, idem: Idempotency | None = None) -> Outcome:
    rule = _rule(crm, meta, cmd.rule) if cmd.rule is not None else None
    return crm.create(meta, lambda: Segment.define(meta, cmd.name, cmd.kind, rule, cmd.description),
                      idem)


def change_rule(crm: Crm, meta: Meta, segment_id: UUID, cmd: ChangeRule,
                expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    rule = _rule(crm, meta, cmd.rule)
    return crm.change(Segment, segment_id, meta, lambda s: s.change_rule(meta, rule),
                      expected_version, idem)


def rename(crm: Crm, meta: Meta, segment_id: UUID, cmd: RenameSegment,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Segment, segment_id, meta, lambda s: s.rename(meta, cmd.name),
                      expected_version, idem)


def change_members(crm: Crm, meta: Meta, segment_id: UUID, cmd: ChangeMembers,
                   expected_version: int | None = None,
                   idem: Idempotency | None = None) -> Outcome:
    def act(segment: Segment) -> None:
        crm.load_each(Customer, cmd.add, meta.tenant_id, "add")
        segment.add_members(meta, cmd.add)
        segment.remove_members(meta, cmd.remove)
    return crm.change(Segment, segment_id, meta, act, expected_version, idem)


def delete(crm: Crm, meta: Meta, segment_id: UUID, expected_version: int | None = None,
           idem: Idempotency | None = None) -> Outcome:
    return crm.change(Segment, segment_id, meta, lambda s: s.delete(meta), expected_version, idem)
