"""Sales automation policies: pure functions from facts to the actions to take.

Each policy gets an event envelope (or a sweep's "now") plus the read-model
facts it needs (the deal, the pipeline's automation rules) and returns
actions; it does no I/O, so it is tested as a plain function. ``execute``
carries actions out through the command layer. Task ids derive from what
caused them (an event id, a deal's idle period, a contract's renewal date),
so running a policy twice creates one task.

Configured per pipeline (``PUT /v1/pipelines/{id}/automation``)::

    {"follow_up_on_enter": {"proposal": {"title": "Call about the proposal", "due_in_days": 2}},
     "idle_follow_up_days": 7, "notify_owner_when_rotting": true,
     "move_rules": [{"when": "quote_accepted", "to_stage": "negotiation"},
                    {"when": "value_at_least", "amount": "5000", "to_stage": "qualified",
                     "from_stages": ["lead"]}]}

The built-in default pipeline has no rules of its own: ``DEFAULT_AUTOMATION``.

Who runs them: ``on_event`` (through ``sales_automation``) belongs to the
automation policies, which see each event at least once in log order (the
Kafka consumer group, or the log-following runner of workers/policy_runner.py);
``run_sweep`` and ``run_renewal_reminders`` judge deals and contracts by a
node's read models, so they run on every node that has them, daily, as node
jobs (workers/sales_sweep.py, workers/node_jobs.py), and on demand from
``POST /v1/automation/sales-sweep`` and ``POST /v1/contracts/renewal-reminders``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from commands.application import Crm
from commands.errors import Conflict
from domain.base import DomainError, InvalidTransition, Meta
from domain.opportunity import Opportunity
from domain.pipeline import Pipeline
from domain.quote import Quote
from domain.task import Task
from projections.envelope import Envelope

DEFAULT_AUTOMATION: dict[str, Any] = {"follow_up_on_enter": {}, "idle_follow_up_days": None,
                                      "notify_owner_when_rotting": True, "move_rules": []}


def rules_of(automation: dict[str, Any] | None) -> dict[str, Any]:
    """A pipeline's automation rules, the defaults where it sets none."""
    return {**DEFAULT_AUTOMATION, **(automation or {})}


ENTERS_STAGE = ("Opportunity.Opened", "Opportunity.StageMoved", "Opportunity.Reopened")
VALUE_EVENTS = ("Opportunity.Opened", "Opportunity.ValueChanged", "Opportunity.LineItemsChanged")
QUOTE_TRIGGERS = {"Quote.Accepted": "quote_accepted", "Quote.Sent": "quote_sent"}


@dataclass(frozen=True)
class CreateTask:
    task_id: UUID
    title: str
    due_at: datetime | None
    policy: str
    priority: str = "normal"
    assignee: str | None = None
    customer_id: UUID | None = None
    opportunity_id: UUID | None = None


@dataclass(frozen=True)
class MoveDeal:
    deal_id: UUID
    stage: str
    policy: str
    from_stage: str | None = None  # only if the deal is still there (else nothing to do)


@dataclass(frozen=True)
class ExpireQuote:
    quote_id: UUID
    policy: str = "quote_expiry"


Action = CreateTask | MoveDeal | ExpireQuote


def _task_id(*parts: Any) -> UUID:
    return uuid5(NAMESPACE_URL, "craved-crm:policy-task:" + ":".join(str(p) for p in parts))


def _uuid(value: Any) -> UUID | None:
    return None if value is None else UUID(str(value))


@dataclass(frozen=True)
class DealFacts:
    """What the policies know of a deal (a row of the deals read model)."""

    id: UUID
    title: str
    status: str
    stage: str
    value: Decimal
    currency: str
    owner: str | None
    customer_id: UUID
    pipeline_id: UUID | None
    last_activity_at: datetime
    stage_entered_at: datetime
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DealFacts:
        return cls(id=_uuid(row["id"]), title=row["title"], status=row["status"], stage=row["stage"],
                   value=Decimal(str(row["value"])), currency=row["currency"], owner=row["owner"],
                   customer_id=_uuid(row["customer_id"]), pipeline_id=_uuid(row.get("pipeline_id")),
                   last_activity_at=row["last_activity_at"],
                   stage_entered_at=row["stage_entered_at"])


def on_event(e: Envelope, deal: DealFacts | None, automation: dict[str, Any]) -> list[Action]:
    """Reacts to one event about a deal (its own, or its quote's) under its pipeline's rules.

    ``deal`` is the deal as the read model has it (for a quote event: the
    quote's deal); the event's own data wins where they differ (a stage move
    the read model has not applied yet).
    """
    if deal is None:
        return []
    rules = rules_of(automation)
    d = e.data
    actions: list[Action] = []
    stage = d.get("stage", deal.stage) if e.type.startswith("Opportunity.") else deal.stage
    status = "open" if e.type in ENTERS_STAGE else deal.status
    if e.type in ENTERS_STAGE and stage in rules["follow_up_on_enter"]:
        follow_up = rules["follow_up_on_enter"][stage]
        when = datetime.fromisoformat(d.get("occurred_at") or e.occurred_at)
        actions.append(CreateTask(
            _task_id(e.event_id, "follow-up"), follow_up["title"],
            when + timedelta(days=follow_up.get("due_in_days", 1)), "follow_up_on_enter",
            follow_up.get("priority", "normal"), deal.owner, deal.customer_id, deal.id))
    if status != "open":
        return actions
    value = Decimal(d["value"]) if e.type in VALUE_EVENTS else deal.value
    for rule in rules["move_rules"]:
        trigger = rule["when"]
        holds = (QUOTE_TRIGGERS.get(e.type) == trigger
                 or (trigger == "value_at_least" and e.type in VALUE_EVENTS
                     and rule.get("amount") is not None and value >= Decimal(str(rule["amount"]))))
        if not holds or stage == rule["to_stage"]:
            continue
        if rule.get("from_stages") and stage not in rule["from_stages"]:
            continue
        actions.append(MoveDeal(deal.id, rule["to_stage"], f"move_rule:{trigger}", stage))
    return actions


def sweep(deals: list[DealFacts], pipelines: dict[UUID | None, dict[str, Any]],
          now: datetime) -> list[Action]:
    """Daily: follow-ups for open deals idle for N days, and alerts to owners of rotting deals.

    ``pipelines`` maps a pipeline id (None: the default pipeline) to its read-model
    dict (stages with rotting_days, and automation rules).
    """
    actions: list[Action] = []
    for deal in deals:
        pipeline = pipelines.get(deal.pipeline_id)
        if deal.status != "open" or pipeline is None:
            continue
        rules = rules_of(pipeline.get("automation"))
        idle_days = (now - deal.last_activity_at).total_seconds() / 86400
        idle_after = rules["idle_follow_up_days"]
        if idle_after and idle_days >= idle_after:
            actions.append(CreateTask(
                _task_id(deal.id, "idle", deal.last_activity_at.isoformat()),
                f"Follow up: no activity on {deal.title} for {int(idle_days)} days", now,
                "idle_follow_up", "normal", deal.owner, deal.customer_id, deal.id))
        stage = next((s for s in pipeline["stages"] if s["id"] == deal.stage), None)
        if (rules["notify_owner_when_rotting"] and stage and stage.get("rotting_days")
                and idle_days > stage["rotting_days"]):
            actions.append(CreateTask(
                _task_id(deal.id, "rotting", deal.last_activity_at.isoformat()),
                f"Rotting deal: {deal.title} has had no activity in {stage['name']} for "
                f"{int(idle_days)} days", now, "notify_owner_when_rotting", "high", deal.owner,
                deal.customer_id, deal.id))
    return actions


def idle_cutoff(pipelines: dict[UUID | None, dict[str, Any]], now: datetime) -> datetime | None:
    """The latest last activity that any of ``pipelines``' rules could act on at ``now`` (the
    shortest idle follow-up or rotting period), or None when no rule is on: the sweep reads only
    the deals idle since then. Reading every open deal held the interpreter ~1.4 s at 40,000
    deals (~27 µs a row to make Python values), which stalled a serving node's requests."""
    days = []
    for pipeline in pipelines.values():
        rules = rules_of(pipeline.get("automation"))
        if rules["idle_follow_up_days"]:
            days.append(rules["idle_follow_up_days"])
        if rules["notify_owner_when_rotting"]:
            days += [stage["rotting_days"] for stage in pipeline["stages"] if stage.get("rotting_days")]
    return now - timedelta(days=min(days)) if days else None


def renewal_reminders(contracts: list[dict[str, Any]], now: datetime) -> list[Action]:
    """One reminder per contract and renewal date, due on the renewal date's morning (09:00 UTC)."""
    actions: list[Action] = []
    for contract in contracts:
        renewal = contract["renewal_date"]
        due = datetime(renewal.year, renewal.month, renewal.day, 9, tzinfo=now.tzinfo)
        actions.append(CreateTask(
            _task_id(contract["id"], "renewal", renewal.isoformat()),
            f"Renewal due {renewal.isoformat()}: {contract['title']}", due, "renewal_reminder",
            "high" if (renewal - now.date()).days <= 7 else "normal", None,
            _uuid(contract["customer_id"]), _uuid(contract.get("opportunity_id"))))
    return actions


def expire_lapsed_quotes(quotes: list[dict[str, Any]], now: datetime) -> list[Action]:
    """Draft or sent quotes past their valid-until day get the expire command."""
    return [ExpireQuote(_uuid(q["id"])) for q in quotes
            if q["stored_status"] in ("draft", "sent") and now.date() > q["valid_until"]]


def execute(crm: Crm, meta: Meta, actions: list[Action],
            now: datetime | None = None, made: Collection[UUID] = ()) -> dict[str, list[UUID]]:
    """Carries actions out through the command layer; each action is its own command.

    A task that exists already (the policy ran before: in ``made``, or found by the
    store) is reported, not created twice; a move the deal no longer allows (it
    moved on, or closed) is skipped.
    """
    report: dict[str, list[UUID]] = {"created": [], "already_existed": [], "moved": [],
                                     "expired_quotes": [], "skipped": []}
    for action in actions:
        if isinstance(action, CreateTask):
            if action.task_id in made:
                report["already_existed"].append(action.task_id)
                continue
            try:
                crm.create(meta, lambda a=action: Task.create(
                    meta, a.title, a.due_at, a.priority, a.assignee, a.customer_id,
                    a.opportunity_id, id=a.task_id))
                report["created"].append(action.task_id)
            except Conflict:
                report["already_existed"].append(action.task_id)
        elif isinstance(action, ExpireQuote):
            today = (now or datetime.now(timezone.utc)).date()
            try:
                crm.change(Quote, action.quote_id, meta, lambda q: q.expire(meta, today))
                report["expired_quotes"].append(action.quote_id)
            except (DomainError, Conflict):
                report["skipped"].append(action.quote_id)
        else:
            def move(deal: Opportunity, a: MoveDeal = action) -> None:
                if a.from_stage is not None and deal.stage != a.from_stage:
                    raise InvalidTransition("the deal moved on")
                pipeline = (crm.load(Pipeline, deal.pipeline_id, meta.tenant_id)
                            if deal.pipeline_id else None)
                deal.move_stage(meta, a.stage, pipeline)
            try:
                crm.change(Opportunity, action.deal_id, meta, move)
                report["moved"].append(action.deal_id)
            except (DomainError, Conflict):
                report["skipped"].append(action.deal_id)
    return report


# -- for the automation worker (workers/automation.py): a policy of one envelope ------------------

ACTOR = "automation: sales policies"


def sales_automation(crm: Crm, e: Envelope) -> str | None:
    """The event policies with their facts read from the event store (the worker has no read
    model): the deal as of this event (or the quote's deal now) and its pipeline's rules.
    Answers what it did ("acted", "nothing") or None for events it does not follow."""
    if e.type not in ENTERS_STAGE + VALUE_EVENTS and e.type not in QUOTE_TRIGGERS:
        return None
    if e.type.startswith("Opportunity."):
        deal = crm.repository.get(e.aggregate_id, version=e.version)
    else:
        deal = crm.repository.get(UUID(e.data["opportunity_id"]))
    automation = (crm.repository.get(deal.pipeline_id).automation if deal.pipeline_id
                  else DEFAULT_AUTOMATION)
    facts = DealFacts(id=deal.id, title=deal.title, status=deal.status, stage=deal.stage,
                      value=deal.value, currency=deal.currency, owner=deal.owner,
                      customer_id=deal.customer_id, pipeline_id=deal.pipeline_id,
                      last_activity_at=deal.changed_at, stage_entered_at=deal.changed_at)
    actions = on_event(e, facts, automation)
    if not actions:
        return "nothing"
    meta = Meta(tenant_id=e.tenant, actor=ACTOR, correlation_id=e.correlation_id or "",
                causation_id=e.event_id)
    execute(crm, meta, actions)
    return "acted"


def run_sweep(crm: Crm, db, meta: Meta, now: datetime) -> dict[str, list[UUID]]:
    """One tenant's sweep over the read models (``db``, a read cursor): each pipeline's idle
    and rotting policies over the open deals, and quotes past their valid-until day."""
    from readmodels import deals, pipelines, quotes  # the read side, only where a store is

    by_id = {p["id"]: p for p in pipelines.list_pipelines(db, meta.tenant_id)}
    cutoff = idle_cutoff(by_id, now)
    facts = ([DealFacts.from_row(row) for row in deals.open_deals(db, meta.tenant_id, cutoff)]
             if cutoff else [])
    actions = sweep(facts, by_id, now)
    actions += expire_lapsed_quotes(quotes.lapsed_quotes(db, meta.tenant_id, now), now)
    return _execute_daily(crm, db, meta, actions, now)


def _execute_daily(crm: Crm, db, meta: Meta, actions: list[Action],
                   now: datetime) -> dict[str, list[UUID]]:
    """``execute`` for the daily jobs, which know the tasks made already from the read model.
    Every day a rotting deal or a coming renewal asks for the same task again: a tenant with
    thousands of them cost as many failed creates (a transaction each). One that the read model
    has not shown yet is still created, and found there by the store."""
    from readmodels import tasks  # the read side, only where a store is

    made = tasks.existing(db, meta.tenant_id,
                          [a.task_id for a in actions if isinstance(a, CreateTask)])
    return execute(crm, meta, actions, now, made)


RENEWAL_WINDOW_DAYS = 30  # the daily reminders look this far ahead (the route's default too)


def run_renewal_reminders(crm: Crm, db, meta: Meta, now: datetime,
                          within_days: int = RENEWAL_WINDOW_DAYS) -> dict[str, list[UUID]]:
    """One tenant's renewal reminders over the read models (``db``, a read cursor): a task per
    active contract whose renewal date falls within ``within_days``; once per renewal date."""
    from readmodels import contracts  # the read side, only where a store is

    actions = renewal_reminders(contracts.up_for_renewal(db, meta.tenant_id, now.date(), within_days),
                                now)
    return _execute_daily(crm, db, meta, actions, now)
