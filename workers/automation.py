"""Automation: policies that react to events by issuing commands.

A policy is a function of one event envelope. It runs at least once per event,
so it must be idempotent: it derives the id of whatever it creates from the
causing event, and a duplicate create, refused by the event store, means
"already done". Who runs them:

* server mode with Kafka: ``crm worker automation``, competing consumers of one
  consumer group (workers/group_runner.py);
* without Kafka: ``crm worker automation`` with no ``CRM_KAFKA_BOOTSTRAP``, and
  the embedded ``crm serve`` (a thread, see workers/marketing.start_embedded),
  follow the event store's log with a saved position (workers/policy_runner.py).

Policies:

* **lost deal → follow-up task**: when an opportunity is lost, a task to
  follow up with the customer two weeks later, assigned to the deal's owner.
* **sales automation** (workers/sales_policies.py): the pipeline's rules for
  deals entering a stage, changing value, or their quotes being sent/accepted.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid5

from commands.application import Crm
from commands.errors import Conflict
from commands.settings import Settings
from domain.base import Meta
from domain.task import Task
from projections.envelope import Envelope
from workers.group_runner import GroupRunner
from workers.lifecycle import Heartbeat, freeze_start_up, stop_on_signals
from workers.logs import emit
from workers.policy_runner import PolicyRunner
from workers.sales_policies import sales_automation

log = logging.getLogger("crm.automation")

# Task ids are uuid5(FOLLOW_UP, causing event id): one task per lost deal, however often it runs.
FOLLOW_UP = UUID("6f1c1f43-52a9-4c53-9d0e-0b6f6b0f2a71")
FOLLOW_UP_AFTER = timedelta(days=14)
ACTOR = "automation: lost-deal follow-up"


def follow_up_lost_deal(crm: Crm, e: Envelope) -> str | None:
    """Creates the follow-up task of a lost deal; answers "created", "done before" or None (not mine)."""
    if e.type != "Opportunity.Lost":
        return None
    task_id = uuid5(FOLLOW_UP, e.event_id)
    meta = Meta(tenant_id=e.tenant, actor=ACTOR, correlation_id=e.correlation_id or "",
                causation_id=e.event_id)
    deal = crm.repository.get(e.aggregate_id, version=e.version)  # the deal as it was when lost

    def make() -> Task:
        return Task.create(meta, title=f"Follow up on lost deal: {deal.title}"[:300],
                           due_at=datetime.fromisoformat(e.occurred_at) + FOLLOW_UP_AFTER,
                           priority="normal", assignee=deal.owner,
                           customer_id=UUID(e.data["customer_id"]), opportunity_id=e.aggregate_id,
                           id=task_id)
    try:
        crm.create(meta, make)
    except Conflict:
        # The id exists: this event was handled before (a redelivery, or a crash after
        # the save and before the offset commit). Make sure it is our task, then move on.
        if not isinstance(crm.repository.get(task_id), Task):  # not found: a different conflict
            raise
        emit(log, "automation.task_exists", task_id=str(task_id), cause=e.event_id)
        return "done before"
    emit(log, "automation.task_created", task_id=str(task_id), cause=e.event_id,
         opportunity_id=e.stream, customer_id=e.data["customer_id"], tenant=e.tenant)
    return "created"


# Each runs for every envelope and answers None for events it does not follow.
POLICIES = (follow_up_lost_deal, sales_automation)


def handle(crm: Crm):
    def run_policies(e: Envelope) -> None:
        for policy in POLICIES:
            policy(crm, e)
    return run_policies


RUNNER = "automation"  # the log runner's name: its row in crm_policy_positions


def log_runner(crm: Crm, stopping: threading.Event | None = None,
               heartbeat: Heartbeat | None = None) -> PolicyRunner:
    """The policies following the event store's log (no Kafka), from the saved position.
    ``CRM_AUTOMATION_START=end`` makes a runner that never ran skip the events already stored."""
    start = os.environ.get("CRM_AUTOMATION_START") or "beginning"
    return PolicyRunner(crm, handle(crm), RUNNER, stopping, heartbeat, start=start)


def main(settings: Settings) -> None:
    """``crm worker automation``: runs until SIGTERM; a consumer group member with Kafka,
    a follower of the event store's log without it."""
    stopping = stop_on_signals()
    heartbeat = Heartbeat(Path(settings.data_dir) / "automation.alive")
    crm = Crm(settings.event_store_url, group_commit=False)
    freeze_start_up()
    try:
        policies = [p.__name__ for p in POLICIES]
        if settings.kafka_bootstrap:
            emit(log, "automation.started", group=settings.automation_group,
                 topic=settings.kafka_topic, policies=policies)
            GroupRunner(settings, settings.automation_group, handle(crm), stopping, heartbeat).run()
        else:
            emit(log, "automation.started", feed="event store log", runner=RUNNER,
                 policies=policies)
            log_runner(crm, stopping, heartbeat).run()
    finally:
        crm.close()
