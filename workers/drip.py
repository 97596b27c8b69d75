"""Automation runs: starting them on their trigger, and walking each customer through the steps.

A job of the scheduler worker (time matters: waits). It follows the log: an
event matching an active automation's trigger starts a run for the customer
the event is about (a run's id derives from the automation, the event and the
customer, so a trigger seen twice starts one run); a schedule trigger starts
runs at its time; a segment entry trigger starts one on each
``SegmentMembership.Entered`` of its segment (each entry is a new version of
the membership aggregate, so a customer who leaves and enters again starts a
new run). A run advances step by step; before every step its exit
conditions are checked, so a customer who clicked (or ordered, or
unsubscribed...) leaves the sequence there.

Every step's effect is saved in one transaction with the run's ``StepDone``
(a queued Message, a created Task, the customer's new tags), so a step happens
once however many workers compete or crash; the two effects outside the store
are idempotent by (run, step): a deal's stage move uses the command's
idempotency key, and a webhook call carries a ``Webhook-Id`` (at least once).
Messages are sent by the sender like any other, consent checked at send time.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import httpx
import orjson
from eventsourcing.application import AggregateNotFoundError

from commands import opportunities
from commands.application import Crm, Idempotency
from commands.errors import NotFound
from commands.marketing_settings import MarketingSettings
from commands.webhook_urls import RefusedAddress
from domain.automation import AutomationRun, condition_holds, run_id
from domain.base import CrmAggregate, DomainError, Meta
from domain.customer import Customer
from domain.message import Message
from domain.task import Task
from domain.webhook import NOW
from projections.envelope import Envelope
from workers.checkpoints import items_of, rows_of, share_key
from workers.log_worker import DueTimes
from workers.sender import backoff, save
from workers.webhooks import post_checked, signature

log = logging.getLogger("crm.automation-runs")

MAX_STEPS_AT_ONCE = 100
STARTS_UUIDS = ("automation_id", "customer_id")  # the ids in a run-to-start's arguments


def _triggers(automation: dict[str, Any], e: Envelope) -> bool:
    """Whether the event is the active automation's trigger.

    A segment entry counts from the automation's activation on: an entry that happened
    before it, recorded late by a lagging query node, starts nothing.
    """
    trigger = automation["trigger"]
    if trigger["kind"] == "segment_entry":
        return (e.type == "SegmentMembership.Entered"
                and e.data["segment_id"] == str(trigger["segment_id"])
                and datetime.fromisoformat(e.data["at"])
                >= datetime.fromisoformat(automation["activated_at"]))
    return (trigger["kind"] == "event" and trigger["event_type"] == e.type
            and all(condition_holds(c, e.data) for c in trigger["conditions"]))


class StepNotDone(Exception):
    """The step could not be done now (a webhook receiver down): try the run again later."""


class AutomationRuns:
    name = "automations"

    def __init__(self, crm: Crm, settings: MarketingSettings, client: httpx.Client | None = None,
                 tenants: set[str] | None = None, rng: random.Random | None = None) -> None:
        self.crm = crm
        self.settings = settings
        self.client = client or httpx.Client(follow_redirects=False)
        self.tenants = tenants
        self.rng = rng or random.Random()
        # What the log says (the automations, the runs to start with what to start them with,
        # pending.logged): what the checkpoint keeps (workers/checkpoints.py).
        self.automations: dict[UUID, dict[str, Any]] = {}
        self.starts: dict[UUID, dict[str, Any]] = {}
        self.pending = DueTimes()
        self.retries: dict[UUID, int] = {}
        self.outcomes: dict[str, int] = {}
        self.checkpoint_key = share_key("automations", tenants)

    # -- what is outstanding ---------------------------------------------------------------

    def wants(self, event_type: str) -> bool:
        """Its own aggregates' events, and any other only while an automation is active (its
        trigger may take it)."""
        return event_type.startswith(("Automation.", "AutomationRun.")) or any(
            automation["status"] == "active" for automation in self.automations.values())

    def observe(self, e: Envelope) -> None:
        if self.tenants and e.tenant not in self.tenants:
            return
        kind, _, what = e.type.partition(".")
        if kind == "Automation":
            self._automation(e, what)
        elif kind == "AutomationRun":
            if what in ("Started", "StepDone"):
                self.starts.pop(e.aggregate_id, None)
                self.pending.look_at(e.aggregate_id, NOW)
            elif what == "Waiting":
                self.pending.look_at(e.aggregate_id, datetime.fromisoformat(e.data["until"]))
            else:
                self.pending.done(e.aggregate_id)
        else:
            self._maybe_trigger(e)

    def _automation(self, e: Envelope, what: str) -> None:
        d, key = e.data, e.aggregate_id
        if what == "Created":
            self.automations[key] = {"tenant": e.tenant, "status": "draft", "trigger": d["trigger"],
                                     "after": e.position}
            return
        automation = self.automations.get(key)
        if automation is None:
            return
        if what == "Changed":
            automation["trigger"] = d["trigger"]
        elif what == "Activated":
            automation.update(status="active", after=e.position, activated_at=e.occurred_at)
            trigger = automation["trigger"]
            if trigger["kind"] == "schedule":
                at = datetime.fromisoformat(trigger["at"])
                for customer in trigger["customer_ids"]:
                    run = run_id(key, f"schedule:{trigger['at']}", UUID(customer))
                    self.starts[run] = {"automation_id": key, "customer_id": UUID(customer),
                                        "cause": f"schedule:{trigger['at']}",
                                        "context": {"schedule": trigger["at"]}}
                    self.pending.look_at(run, at)
        elif what in ("Paused", "Archived"):
            automation["status"] = what.lower()
            for run in [run for run, start in self.starts.items() if start["automation_id"] == key]:
                del self.starts[run]  # runs not yet started never will be
                self.pending.done(run)

    def _maybe_trigger(self, e: Envelope) -> None:
        for key, automation in self.automations.items():
            if (automation["status"] != "active" or automation["tenant"] != e.tenant
                    or e.position <= automation["after"] or not _triggers(automation, e)):
                continue
            customer = e.stream if e.type.startswith("Customer.") else e.data.get("customer_id")
            if not customer:
                continue
            run = run_id(key, e.event_id, UUID(customer))
            self.starts[run] = {"automation_id": key, "customer_id": UUID(customer),
                                "cause": e.event_id,
                                "context": {"event_type": e.type, "event_id": e.event_id,
                                            "stream": e.stream, "occurred_at": e.occurred_at,
                                            "data": e.data}}
            self.pending.look_at(run, NOW)

    # -- the checkpoint (workers/checkpoints.py) ----------------------------------------------

    checkpoint_format = 1

    def state(self) -> dict:
        return {"automations": rows_of(self.automations),
                "starts": rows_of(self.starts, STARTS_UUIDS),
                "pending": self.pending.state()}

    def restore(self, state: dict) -> None:
        self.automations = items_of(state["automations"])
        self.starts = items_of(state["starts"], STARTS_UUIDS)
        self.pending.restore(state["pending"])

    def due(self, now: datetime) -> list[UUID]:
        return self.pending.due(now)

    def next_time(self) -> datetime | None:
        return self.pending.next_time()

    # -- advancing a run ---------------------------------------------------------------------

    def perform(self, key: UUID, now: datetime) -> None:
        outcome = self._perform(key, now)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        log.info("automation run %s: %s", key, outcome)

    def _perform(self, key: UUID, now: datetime) -> str:
        try:
            run = self.crm.repository.get(key)
        except AggregateNotFoundError:
            start = self.starts.get(key)
            if start is None:
                return "unknown"
            automation = self.crm.repository.get(start["automation_id"])
            if automation.status != "active":
                return f"automation {automation.status}"
            meta = Meta(tenant_id=automation.tenant_id, actor=f"automation {automation.name}",
                        causation_id=start["cause"])
            run = AutomationRun.start(meta, automation, start["customer_id"], start["cause"],
                                      start["context"])
            if not save(self.crm, run):  # kept in `starts` until the log shows it started
                return "lost race"
        return self.advance(run, now)

    def advance(self, run: AutomationRun, now: datetime) -> str:
        meta = Meta(tenant_id=run.tenant_id, actor=f"automation {run.automation_name}",
                    causation_id=str(run.id))
        for _ in range(MAX_STEPS_AT_ONCE):
            if run.finished:
                return run.status
            if run.status == "waiting" and now < run.waiting_until:
                self.pending.set(run.id, run.waiting_until)
                return "waiting"
            if reason := self.exit_reason(run):
                run.leave(meta, reason)
                return "exited: " + reason if save(self.crm, run) else "lost race"
            step = run.steps[run.step]
            effects: list[CrmAggregate] = []
            if step["kind"] == "wait" and run.status != "waiting":
                until = run.wait(meta, now)
                if not save(self.crm, run):
                    return "lost race"
                if until > now:
                    self.pending.set(run.id, until)
                    return "waiting"
                continue
            try:
                outcome = {} if step["kind"] == "wait" else self.effect(run, step, meta, now, effects)
            except StepNotDone as error:
                tries = self.retries[run.id] = self.retries.get(run.id, 0) + 1
                if tries < self.settings.webhook_attempts:
                    self.pending.set(run.id, now + backoff(tries, self.settings.webhook_backoff,
                                                           self.settings.webhook_backoff_cap, self.rng))
                    return f"retry: {error}"
                run.fail(meta, str(error))
                return "failed" if save(self.crm, run) else "lost race"
            except (DomainError, NotFound) as error:
                run.fail(meta, f"step {run.step} ({step['kind']}): {error}")
                return "failed" if save(self.crm, run) else "lost race"
            run.done(meta, outcome)
            if not save(self.crm, run, *effects):
                return "lost race"
            self.retries.pop(run.id, None)
        self.pending.set(run.id, now)
        return "more steps"

    def exit_reason(self, run: AutomationRun) -> str | None:
        if not run.exit:
            return None
        messages = [self.crm.repository.get(m) for m in run.message_ids]
        for condition in run.exit:
            if condition == "clicked" and any(m.clicked for m in messages):
                return "clicked"
            if condition == "opened" and any(m.opened for m in messages):
                return "opened"
            if condition == "unsubscribed" and any(m.unsubscribed for m in messages):
                return "unsubscribed"
        wanted = {"Customer.OrderRecorded" if c == "ordered" else c["event_type"]
                  for c in run.exit if c == "ordered" or isinstance(c, dict)}
        if wanted:
            for event in self.crm.events.get(run.customer_id):
                name = type(event).__qualname__
                if name in wanted and event.timestamp > run.started_at:
                    return "ordered" if name == "Customer.OrderRecorded" else name
        return None

    # -- the steps' effects ------------------------------------------------------------------

    def effect(self, run: AutomationRun, step: dict[str, Any], meta: Meta, now: datetime,
               effects: list[CrmAggregate]) -> dict[str, Any]:
        index = run.step
        key = uuid5(NAMESPACE_URL, f"craved-crm:automation-step:{run.id}:{index}")
        kind = step["kind"]
        if kind == "send":
            context = run.context.get("data") or {}
            extra: dict[str, Any] = {"automation_name": run.automation_name}
            if run.context.get("event_type") == "Customer.OrderRecorded":
                extra["order"] = {k: context[k] for k in ("order_id", "amount", "currency",
                                                            "item_count", "occurred_at")}
            message = Message.queue(meta, customer_id=run.customer_id, channel=step["channel"],
                                    step=str(index), not_before=now, automation_id=run.automation_id,
                                    template_id=step["template_id"],
                                    template_version=step["template_version"], extra=extra,
                                    run_id=run.id)
            effects.append(message)
            return {"message_id": str(message.id)}
        if kind == "create_task":
            due = now + timedelta(days=step["due_in_days"]) if step["due_in_days"] else None
            task = Task.create(meta, step["title"], due_at=due, priority=step["priority"],
                               assignee=step["assignee"], customer_id=run.customer_id, id=key)
            effects.append(task)
            return {"task_id": str(task.id)}
        if kind == "add_tag":
            customer = self.crm.load(Customer, run.customer_id, run.tenant_id)
            customer.change_tags(meta, add=[step["tag"]], remove=[])
            effects.append(customer)
            return {"tag": step["tag"]}
        if kind == "move_deal_stage":
            if not run.context.get("event_type", "").startswith("Opportunity."):
                raise DomainError("the trigger is not about a deal", "stage")
            deal = UUID(run.context["stream"])
            command = opportunities.MoveStage(stage=step["stage"])
            fingerprint = hashlib.sha256(f"{deal}:{step['stage']}".encode()).hexdigest()
            outcome = opportunities.move_stage(self.crm, meta, deal, command,
                                               idem=Idempotency(f"automation-step:{key}", fingerprint))
            return {"deal_id": str(deal), "stage": step["stage"], "version": outcome.version}
        if kind == "call_webhook":
            return self._call(run, step, key, now)
        raise DomainError(f"unknown step {kind}", "steps")

    def _call(self, run: AutomationRun, step: dict[str, Any], key: UUID, now: datetime) -> dict:
        subscription = self.crm.repository.get(step["subscription_id"])
        if subscription.status == "deleted":
            raise DomainError("the webhook subscription is deleted", "subscription_id")
        body = orjson.dumps({"type": "AutomationRun.Step", "automation_id": run.automation_id,
                             "automation": run.automation_name, "run_id": run.id,
                             "step": run.step, "customer_id": run.customer_id,
                             "trigger": run.context, "tenant": run.tenant_id})
        timestamp = int(now.timestamp())
        headers = {"Content-Type": "application/json", "Webhook-Id": str(key),
                   "Idempotency-Key": str(key), "Webhook-Timestamp": str(timestamp),
                   "Webhook-Signature": signature(subscription.secret, timestamp, body),
                   "Webhook-Event-Type": "AutomationRun.Step"}
        try:
            response = post_checked(self.client, subscription.url,
                                    self.settings.webhooks_allow_private, body, headers,
                                    self.settings.webhook_timeout)
        except RefusedAddress as refused:
            raise StepNotDone(str(refused)) from None
        except httpx.HTTPError as error:
            raise StepNotDone(f"{type(error).__name__}: {error}") from None
        if not 200 <= response.status_code < 300:
            raise StepNotDone(f"HTTP {response.status_code}")
        return {"status_code": response.status_code}
