"""Automation commands: create, change, activate, pause, archive (see domain/automation.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from commands.errors import NotFound
from domain.automation import Automation
from domain.base import DomainError, Meta
from domain.segment import Segment
from domain.template import Template
from domain.webhook import WebhookSubscription


class CreateAutomation(Command):
    name: str = Field(max_length=200)
    trigger: dict[str, Any] = Field(description="event (event_type, conditions), schedule "
                                                "(at, customer_ids) or segment_entry "
                                                "(segment_id)")
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=50,
                                        description="wait, send, create_task, add_tag, "
                                                    "move_deal_stage, call_webhook")
    exit: list[Any] = Field(default_factory=list, max_length=20,
                            description="clicked, opened, unsubscribed, ordered, or "
                                        "{\"event_type\": ...}")


class ChangeAutomation(Command):
    trigger: dict[str, Any]
    steps: list[dict[str, Any]] = Field(min_length=1, max_length=50)
    exit: list[Any] = Field(default_factory=list, max_length=20)


class Empty(Command):
    pass


REFERENCES = {"send": ("template_id", Template), "call_webhook": ("subscription_id",
                                                                   WebhookSubscription)}


def _templates(crm: Crm, meta: Meta, steps: list[dict[str, Any]]) -> dict[UUID, Any]:
    """The aggregates the steps name (templates, webhook subscriptions), of the caller's tenant."""
    found: dict[UUID, Any] = {}
    for index, step in enumerate(steps):
        if step.get("kind") not in REFERENCES:
            continue
        field, kind = REFERENCES[step["kind"]]
        try:
            ref = UUID(str(step.get(field)))
            found[ref] = crm.load(kind, ref, meta.tenant_id)
        except (ValueError, NotFound):
            raise DomainError(f"no such {kind.__name__}", f"steps[{index}].{field}") from None
        step[field] = ref
    return found


def _segment(crm: Crm, meta: Meta, trigger: dict[str, Any], refs: dict[UUID, Any]) -> None:
    """A segment_entry trigger's segment, of the caller's tenant, into ``refs`` (the domain
    refuses a missing or deleted one, naming ``trigger.segment_id``)."""
    if trigger.get("kind") != "segment_entry":
        return
    try:
        segment_id = UUID(str(trigger.get("segment_id")))
        refs[segment_id] = crm.load(Segment, segment_id, meta.tenant_id)
    except (ValueError, NotFound):
        raise DomainError("no such segment", "trigger.segment_id") from None
    trigger["segment_id"] = segment_id


def _trigger(trigger: dict[str, Any]) -> dict[str, Any]:
    """JSON to the domain's types: a schedule's time and customer ids."""
    from datetime import datetime
    trigger = dict(trigger)
    if trigger.get("kind") == "schedule":
        try:
            if isinstance(trigger.get("at"), str):
                trigger["at"] = datetime.fromisoformat(trigger["at"].replace("Z", "+00:00"))
            trigger["customer_ids"] = [UUID(str(c)) for c in trigger.get("customer_ids") or []]
        except ValueError as error:
            raise DomainError(f"not a time or customer id: {error}", "trigger") from None
    return trigger


def create(crm: Crm, meta: Meta, cmd: CreateAutomation, idem: Idempotency | None = None) -> Outcome:
    steps, trigger = [dict(step) for step in cmd.steps], _trigger(cmd.trigger)
    refs = _templates(crm, meta, steps)
    _segment(crm, meta, trigger, refs)
    return crm.create(meta, lambda: Automation.create(meta, cmd.name, trigger, steps, cmd.exit,
                                                      refs), idem)


def change(crm: Crm, meta: Meta, automation_id: UUID, cmd: ChangeAutomation,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    steps, trigger = [dict(step) for step in cmd.steps], _trigger(cmd.trigger)
    refs = _templates(crm, meta, steps)
    _segment(crm, meta, trigger, refs)
    return crm.change(Automation, automation_id, meta,
                      lambda a: a.change(meta, trigger, steps, cmd.exit, refs),
                      expected_version, idem)


def activate(crm: Crm, meta: Meta, automation_id: UUID, expected_version: int | None = None,
             idem: Idempotency | None = None) -> Outcome:
    return crm.change(Automation, automation_id, meta, lambda a: a.activate(meta),
                      expected_version, idem)


def pause(crm: Crm, meta: Meta, automation_id: UUID, expected_version: int | None = None,
          idem: Idempotency | None = None) -> Outcome:
    return crm.change(Automation, automation_id, meta, lambda a: a.pause(meta),
                      expected_version, idem)


def archive(crm: Crm, meta: Meta, automation_id: UUID, expected_version: int | None = None,
            idem: Idempotency | None = None) -> Outcome:
    return crm.change(Automation, automation_id, meta, lambda a: a.archive(meta),
                      expected_version, idem)
