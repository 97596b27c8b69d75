"""Automations and their runs: one row per automation, one per run (where the customer is in
the sequence, and why it ended), one per step a run did."""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "automations"

STATUS = {"Automation.Activated": "active", "Automation.Paused": "paused",
          "Automation.Archived": "archived"}


def _json(value) -> str:
    return orjson.dumps(value).decode()


def handle(e: Envelope) -> list[Change]:
    d = e.data
    touched = {"updated_at": e.occurred_at}
    if e.type == "Automation.Created":
        return [Upsert("automations", {"id": e.stream}, set={
            "tenant_id": e.tenant, "name": d["name"], "trigger": _json(d["trigger"]),
            "steps": _json(d["steps"]), "exit": _json(d["exit"]), "status": "draft",
            "created_at": e.occurred_at, **touched})]
    if e.type == "Automation.Changed":
        return [Upsert("automations", {"id": e.stream}, set={
            "trigger": _json(d["trigger"]), "steps": _json(d["steps"]), "exit": _json(d["exit"]),
            **touched})]
    if e.type in STATUS:
        return [Upsert("automations", {"id": e.stream}, set={"status": STATUS[e.type], **touched})]
    if not e.type.startswith("AutomationRun."):
        return []
    run = {"id": e.stream}
    match e.type:
        case "AutomationRun.Started":  # step: DEFAULT 0 (StepDone raises it with greatest)
            return [Upsert("automation_runs", run, set={
                "tenant_id": e.tenant, "automation_id": d["automation_id"],
                "customer_id": d["customer_id"], "status": "running",
                "steps_total": len(d["steps"]), "trigger_event": d["context"].get("event_type"),
                "started_at": e.occurred_at, **touched})]
        case "AutomationRun.Waiting":
            return [Upsert("automation_runs", run, set={
                "status": "waiting", "waiting_until": d["until"], **touched})]
        case "AutomationRun.StepDone":
            return [Upsert("automation_runs", run, set={
                "status": "running", "waiting_until": None, **touched},
                greatest={"step": d["index"] + 1}),
                Upsert("automation_run_steps", {"run_id": e.stream, "index": d["index"]}, set={
                    "tenant_id": e.tenant, "kind": d["kind"], "outcome": _json(d["outcome"]),
                    "done_at": e.occurred_at})]
        case "AutomationRun.Exited":
            return [Upsert("automation_runs", run, set={
                "status": "exited", "exit_reason": d["reason"], "ended_at": e.occurred_at,
                **touched})]
        case "AutomationRun.Completed":
            return [Upsert("automation_runs", run, set={
                "status": "completed", "ended_at": e.occurred_at, **touched})]
        case "AutomationRun.Failed":
            return [Upsert("automation_runs", run, set={
                "status": "failed", "error": d["error"], "ended_at": e.occurred_at, **touched})]
    return []
