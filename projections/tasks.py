"""Tasks: one row per task, for "my open / overdue / due today" lists and the customer 360."""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "tasks"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    updated = {"updated_at": e.occurred_at}
    match e.type:
        case "Task.Created":
            row = {"tenant_id": e.tenant, "title": d["title"], "due_at": d["due_at"],
                   "priority": d["priority"], "assignee": d["assignee"],
                   "customer_id": d["customer_id"], "opportunity_id": d["opportunity_id"],
                   "status": "open", "created_at": e.occurred_at, "completed_at": None, **updated}
        case "Task.Completed":
            row = {"status": "done", "completed_at": e.occurred_at, **updated}
        case "Task.Reopened":
            row = {"status": "open", "completed_at": None, **updated}
        case "Task.Reassigned":
            row = {"assignee": d["assignee"], **updated}
        case _:
            return []
    return [Upsert("tasks", {"id": e.stream}, set=row)]
