"""Queries of automations and their runs: where every customer is in every sequence."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

AUTOMATION_COLUMNS = ("id", "name", "trigger", "steps", "exit", "status", "created_at",
                      "updated_at")
RUN_COLUMNS = ("id", "automation_id", "customer_id", "status", "step", "steps_total",
               "trigger_event", "waiting_until", "exit_reason", "error", "started_at", "ended_at",
               "updated_at")
RUN_STATUSES = ("running", "waiting", "completed", "exited", "failed")


def _automation(row: dict[str, Any]) -> dict[str, Any]:
    for column in ("trigger", "steps", "exit"):
        row[column] = orjson.loads(row[column])
    return row


def list_automations(db, tenant_id: str) -> list[dict[str, Any]]:
    return [_automation(row) for row in as_dicts(db.execute(
        f"SELECT {', '.join(AUTOMATION_COLUMNS)} FROM automations WHERE tenant_id = ? "
        "ORDER BY created_at, id", [tenant_id]))]


def get_automation(db, tenant_id: str, automation_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(AUTOMATION_COLUMNS)} FROM automations "
                             "WHERE id = ? AND tenant_id = ?", [automation_id, tenant_id]))
    if not found:
        return None
    automation = _automation(found[0])
    counts = dict(db.execute("SELECT status, count(*) FROM automation_runs WHERE automation_id = ? "
                             "GROUP BY status", [automation_id]).fetchall())
    automation["runs"] = {status: counts.get(status, 0) for status in RUN_STATUSES}
    at_step = dict(db.execute(
        "SELECT step, count(*) FROM automation_runs WHERE automation_id = ? "
        "AND status IN ('running', 'waiting') GROUP BY step", [automation_id]).fetchall())
    automation["active_runs_by_step"] = {str(step): count for step, count in sorted(at_step.items())}
    return automation


def runs(db, tenant_id: str, *, automation_id: UUID | None = None, customer_id: UUID | None = None,
         status: str | None = None, cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    where, params = ["tenant_id = ?"], [tenant_id]
    for column, value in (("automation_id", automation_id), ("customer_id", customer_id),
                          ("status", status)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    if cursor:
        started_at, last_id = keyset.decode(cursor, 2)
        where.append("(started_at, id) > (?::TIMESTAMPTZ, ?::UUID)")
        params += [started_at, last_id]
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(RUN_COLUMNS)} FROM automation_runs WHERE {' AND '.join(where)} "
        "ORDER BY started_at, id LIMIT ?", params + [limit + 1]))
    return keyset.page(rows, limit, ("started_at", "id"))


def get_run(db, tenant_id: str, run_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(RUN_COLUMNS)} FROM automation_runs "
                             "WHERE id = ? AND tenant_id = ?", [run_id, tenant_id]))
    if not found:
        return None
    run = found[0]
    run["steps_done"] = [{**row, "outcome": orjson.loads(row["outcome"])} for row in as_dicts(db.execute(
        "SELECT index, kind, outcome, done_at FROM automation_run_steps WHERE run_id = ? "
        "ORDER BY index", [run_id]))]
    return run
