"""Automations (drip sequences and behavioural triggers), and their runs per customer.

An **Automation** holds a trigger, steps and exit conditions:

* trigger ``{"kind": "event", "event_type": "Customer.ConsentRecorded", "conditions":
  [{"field": "channel", "op": "eq", "value": "email"}]}``: a run starts for the
  customer an event is about (a ``Customer.*`` event, or one whose data names a
  ``customer_id``), if every condition holds for the event's data; or
  ``{"kind": "schedule", "at": <time>, "customer_ids": [...]}``: runs start at a time;
  ``{"kind": "segment_entry", "segment_id": ...}``: a run starts for each customer who
  enters the tenant's segment (a ``SegmentMembership.Entered`` event, recorded from the
  query nodes' membership by workers/segment_entries.py); one who leaves and enters
  again starts another run.
* steps, in order: ``wait`` (``days``/``hours``/``minutes``), ``send``
  (``template_id``, optional ``template_version``: an approved one), ``create_task``
  (``title``, ``due_in_days``, ``assignee``, ``priority``), ``add_tag`` (``tag``),
  ``move_deal_stage`` (``stage``: the deal the trigger event is about), ``call_webhook``
  (``subscription_id``: POSTs the run's step to that subscription's URL, signed with its
  secret like every webhook).
* exit conditions, checked before every step: ``clicked`` / ``opened`` (any
  message of this run), ``unsubscribed``, ``ordered`` (since the run started), or
  ``{"event_type": "..."}`` (the customer had such an event since the run started).

An **AutomationRun** is one customer's way through the steps (a snapshot of
them taken at start, so editing the automation never changes a run under way).
Its id derives from (automation, triggering event or schedule, customer): a
trigger handled twice starts one run. (A segment entry's triggering event is one
version of the membership aggregate: the same entry seen twice is one run, a
later re-entry is another.) Each step's effect derives its id or
idempotency key from (run, step), so a step redone after a crash has one effect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text, utc

TRIGGERS = ("event", "schedule", "segment_entry")
STEPS = ("wait", "send", "create_task", "add_tag", "move_deal_stage", "call_webhook")
EXITS = ("clicked", "opened", "unsubscribed", "ordered")
OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "exists")
MAX_STEPS = 50
MAX_WAIT = timedelta(days=366)


def run_id(automation_id: UUID, cause: str, customer_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:automation-run:{automation_id}:{cause}:{customer_id}")


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def condition_holds(condition: dict[str, Any], data: dict[str, Any]) -> bool:
    """One condition on an event's data; numbers compare as numbers, the rest as given."""
    op, expected = condition["op"], condition.get("value")
    present = condition["field"] in data
    actual = data.get(condition["field"])
    if op == "exists":
        return present and actual is not None
    if op in ("eq", "ne"):
        same = actual == expected or (_number(actual) is not None and _number(actual) == _number(expected))
        return same if op == "eq" else not same
    if op == "in":
        return actual in (expected or [])
    if op == "contains":
        return isinstance(actual, (list, str)) and expected in actual
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def _trigger(trigger: dict[str, Any], refs: dict[UUID, Any]) -> dict[str, Any]:
    """The validated trigger; ``refs`` holds the Segment a segment_entry trigger names."""
    kind = trigger.get("kind")
    if kind not in TRIGGERS:
        raise DomainError(f"trigger.kind must be one of {', '.join(TRIGGERS)}", "trigger.kind")
    if kind == "segment_entry":
        segment = refs.get(trigger.get("segment_id"))
        if segment is None or type(segment).__name__ != "Segment":
            raise DomainError("a segment_entry trigger needs segment_id, a segment of yours",
                              "trigger.segment_id")
        if segment.deleted:
            raise DomainError("the segment is deleted", "trigger.segment_id")
        return {"kind": kind, "segment_id": segment.id}
    if kind == "schedule":
        at = trigger.get("at")
        if not isinstance(at, datetime):
            raise DomainError("a schedule trigger needs `at`, a time with offset", "trigger.at")
        customers = list(dict.fromkeys(trigger.get("customer_ids") or []))
        if not customers:
            raise DomainError("a schedule trigger needs customer_ids", "trigger.customer_ids")
        return {"kind": kind, "at": utc(at, "trigger.at"), "customer_ids": customers}
    event_type = text(trigger.get("event_type"), "trigger.event_type", 100, required=True)
    if "." not in event_type or event_type.startswith(("Automation", "Message.", "Webhook")):
        raise DomainError("an event type such as Customer.OrderRecorded (not the automation's "
                          "own or message events)", "trigger.event_type")
    conditions = []
    for index, condition in enumerate(trigger.get("conditions") or []):
        where = f"trigger.conditions[{index}]"
        if not isinstance(condition, dict) or condition.get("op") not in OPERATORS:
            raise DomainError(f"op must be one of {', '.join(OPERATORS)}", where)
        conditions.append({"field": text(condition.get("field"), f"{where}.field", 100,
                                         required=True),
                           "op": condition["op"], "value": condition.get("value")})
    return {"kind": kind, "event_type": event_type, "conditions": conditions}


def _steps(steps: list[dict[str, Any]], refs: dict[UUID, Any]) -> list[dict[str, Any]]:
    """Validated steps; ``refs`` maps the ids steps name to their aggregates (the Template of
    a send, the WebhookSubscription of a call; the trigger's Segment)."""
    if not steps:
        raise DomainError("an automation needs at least one step", "steps")
    if len(steps) > MAX_STEPS:
        raise DomainError(f"at most {MAX_STEPS} steps", "steps")
    cleaned = []
    for index, step in enumerate(steps):
        where = f"steps[{index}]"
        kind = step.get("kind")
        if kind == "wait":
            wait = timedelta(days=step.get("days") or 0, hours=step.get("hours") or 0,
                             minutes=step.get("minutes") or 0)
            if not timedelta(0) < wait <= MAX_WAIT:
                raise DomainError("a wait is between a minute and a year", where)
            cleaned.append({"kind": kind, "seconds": int(wait.total_seconds())})
        elif kind == "send":
            template = refs.get(step.get("template_id"))
            if template is None or type(template).__name__ != "Template":
                raise DomainError("no such template", f"{where}.template_id")
            version = template.usable(step.get("template_version"), f"{where}.template_version")
            cleaned.append({"kind": kind, "template_id": template.id, "template_version": version,
                            "channel": template.channel})
        elif kind == "create_task":
            cleaned.append({"kind": kind,
                            "title": text(step.get("title"), f"{where}.title", 300, required=True),
                            "due_in_days": int(step.get("due_in_days") or 0),
                            "assignee": text(step.get("assignee"), f"{where}.assignee", 200),
                            "priority": step.get("priority") or "normal"})
        elif kind == "add_tag":
            cleaned.append({"kind": kind,
                            "tag": text(step.get("tag"), f"{where}.tag", 50, required=True).lower()})
        elif kind == "move_deal_stage":
            cleaned.append({"kind": kind,
                            "stage": text(step.get("stage"), f"{where}.stage", 100, required=True)})
        elif kind == "call_webhook":
            subscription = refs.get(step.get("subscription_id"))
            if subscription is None or type(subscription).__name__ != "WebhookSubscription":
                raise DomainError("no such webhook subscription", f"{where}.subscription_id")
            cleaned.append({"kind": kind, "subscription_id": subscription.id})
        else:
            raise DomainError(f"kind must be one of {', '.join(STEPS)}", f"{where}.kind")
    return cleaned


def _exits(exits: list[Any]) -> list[Any]:
    cleaned = []
    for index, condition in enumerate(exits or []):
        if condition in EXITS:
            cleaned.append(condition)
        elif isinstance(condition, dict) and isinstance(condition.get("event_type"), str):
            cleaned.append({"event_type": condition["event_type"]})
        else:
            raise DomainError(f"an exit is one of {', '.join(EXITS)} or {{\"event_type\": ...}}",
                              f"exit[{index}]")
    return cleaned


class Automation(CrmAggregate):
    """State: name, trigger, steps, exit, status (draft, active, paused, archived)."""

    class Created(CrmAggregate.Created):
        name: str
        trigger: dict
        steps: list[dict]
        exit: list

        def apply(self, automation: Automation) -> None:
            super().apply(automation)
            automation.name = self.name
            automation.trigger = self.trigger
            automation.steps = self.steps
            automation.exit = self.exit
            automation.status = "draft"

    class Changed(CrmAggregate.Event):
        trigger: dict
        steps: list[dict]
        exit: list

        def apply(self, automation: Automation) -> None:
            automation.trigger, automation.steps, automation.exit = self.trigger, self.steps, self.exit

    class Activated(CrmAggregate.Event):
        def apply(self, automation: Automation) -> None:
            automation.status = "active"

    class Paused(CrmAggregate.Event):
        def apply(self, automation: Automation) -> None:
            automation.status = "paused"

    class Archived(CrmAggregate.Event):
        def apply(self, automation: Automation) -> None:
            automation.status = "archived"

    @classmethod
    def create(cls, meta: Meta, name: str, trigger: dict, steps: list[dict], exit: list,
               refs: dict[UUID, Any]) -> Automation:
        return cls._start(cls.Created, meta, name=text(name, "name", 200, required=True),
                          trigger=_trigger(trigger, refs), steps=_steps(steps, refs),
                          exit=_exits(exit))

    def change(self, meta: Meta, trigger: dict, steps: list[dict], exit: list,
               refs: dict[UUID, Any]) -> None:
        """Only while not active: runs under way keep the steps they started with."""
        if self.status not in ("draft", "paused"):
            raise InvalidTransition(f"pause the automation before changing it (it is {self.status})")
        self._record(self.Changed, meta, trigger=_trigger(trigger, refs),
                     steps=_steps(steps, refs), exit=_exits(exit))

    def activate(self, meta: Meta) -> None:
        if self.status not in ("draft", "paused"):
            raise InvalidTransition(f"the automation is {self.status}")
        self._record(self.Activated, meta)

    def pause(self, meta: Meta) -> None:
        if self.status != "active":
            raise InvalidTransition(f"the automation is {self.status}")
        self._record(self.Paused, meta)

    def archive(self, meta: Meta) -> None:
        if self.status == "archived":
            raise InvalidTransition("the automation is archived")
        self._record(self.Archived, meta)


class AutomationRun(CrmAggregate):
    """State: automation_id, customer_id, cause (event id or schedule), context, steps, exit,
    step (the next step's index), status (running, waiting, completed, exited, failed),
    waiting_until, message_ids, started_at."""

    class Started(CrmAggregate.Created):
        automation_id: UUID
        automation_name: str
        customer_id: UUID
        cause: str
        context: dict          # what the trigger knew: event type, id, data (an order)
        steps: list[dict]
        exit: list

        def apply(self, run: AutomationRun) -> None:
            super().apply(run)
            for field in ("automation_id", "automation_name", "customer_id", "cause", "context",
                          "steps", "exit"):
                setattr(run, field, getattr(self, field))
            run.step = 0
            run.status = "running"
            run.waiting_until = None
            run.message_ids = []
            run.started_at = self.timestamp

    class Waiting(CrmAggregate.Event):
        index: int
        until: datetime

        def apply(self, run: AutomationRun) -> None:
            run.status = "waiting"
            run.waiting_until = self.until

    class StepDone(CrmAggregate.Event):
        index: int
        kind: str
        customer_id: UUID
        outcome: dict          # message_id, task_id, tag, status_code...

        def apply(self, run: AutomationRun) -> None:
            run.step = self.index + 1
            run.status = "running"
            run.waiting_until = None
            if self.outcome.get("message_id"):
                run.message_ids.append(UUID(str(self.outcome["message_id"])))

    class Exited(CrmAggregate.Event):
        index: int
        customer_id: UUID
        reason: str

        def apply(self, run: AutomationRun) -> None:
            run.status = "exited"

    class Completed(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, run: AutomationRun) -> None:
            run.status = "completed"

    class Failed(CrmAggregate.Event):
        index: int
        customer_id: UUID
        error: str

        def apply(self, run: AutomationRun) -> None:
            run.status = "failed"

    @classmethod
    def start(cls, meta: Meta, automation: Automation, customer_id: UUID, cause: str,
              context: dict) -> AutomationRun:
        return cls._start(cls.Started, meta, id=run_id(automation.id, cause, customer_id),
                          automation_id=automation.id, automation_name=automation.name,
                          customer_id=customer_id, cause=cause, context=context,
                          steps=automation.steps, exit=automation.exit)

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "exited", "failed")

    def wait(self, meta: Meta, now: datetime) -> datetime:
        step = self.steps[self.step]
        until = now + timedelta(seconds=step["seconds"])
        self._record(self.Waiting, meta, index=self.step, until=until)
        return until

    def done(self, meta: Meta, outcome: dict | None = None) -> None:
        if self.finished:
            raise InvalidTransition(f"the run is {self.status}")
        self._record(self.StepDone, meta, index=self.step, kind=self.steps[self.step]["kind"],
                     customer_id=self.customer_id, outcome=outcome or {})
        if self.step >= len(self.steps):
            self._record(self.Completed, meta, customer_id=self.customer_id)

    def leave(self, meta: Meta, reason: str) -> None:
        self._record(self.Exited, meta, index=self.step, customer_id=self.customer_id,
                     reason=reason)

    def fail(self, meta: Meta, error: str) -> None:
        self._record(self.Failed, meta, index=self.step, customer_id=self.customer_id,
                     error=error[:1000])
