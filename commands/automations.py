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
from domain.template import Template
from domain.webhook import WebhookSubscription


class CreateAutomation(Command):
    name: str = Field(max_length=200)
    trigger: dict[str, Any] = Field(description="event (event_type, conditions) or schedule "
                                                "(at, customer_ids)")
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
    steps = [dict(step) for step in cmd.steps]
    templates = _templates(crm, meta, steps)
    return crm.create(meta, lambda: Automation.create(meta, cmd.name, _trigger(cmd.trigger), steps,
                                                      cmd.exit, templates), idem)


def change(crm: Crm, meta: Meta, automation_id: UUID, cmd: ChangeAutomation,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    steps = [dict(step) for step in cmd.steps]
    templates = _templates(crm, meta, steps)
    return crm.change(Automation, automation_id, meta,
                      lambda a: a.change(meta, _trigger(cmd.trigger), steps, cmd.exit, templates),
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
