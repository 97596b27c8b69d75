"""Queries of the deals read model: one deal, its change history and time in each stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from readmodels.rows import as_dicts

DETAIL_COLUMNS = ("id", "version", "pipeline_id", "customer_id", "title", "value", "currency",
                  "stage", "status", "probability", "owner", "source", "expected_close",
                  "opened_at", "closed_at", "stage_entered_at", "last_activity_at", "reason",
                  "line_items", "contact_ids")
HISTORY_COLUMNS = ("version", "changed_at", "change", "actor", "stage", "previous_stage", "amount",
                   "probability", "expected_close", "status")


def get_deal(db, tenant_id: str, deal_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(DETAIL_COLUMNS)} FROM deals "
                             "WHERE id = ? AND tenant_id = ? AND opened_at IS NOT NULL",
                             [deal_id, tenant_id]))
    if not found:
        return None
    deal = found[0]
    deal["value"] = str(deal["value"])
    deal["line_items"] = orjson.loads(deal["line_items"] or "[]")
    deal["contact_ids"] = deal["contact_ids"] or []
    return deal


def stage_history(db, tenant_id: str, deal_id: UUID, as_of: datetime) -> dict[str, Any]:
    """Every tracked change, the stage intervals, and the days spent in each stage while open.

    An interval runs from entering a stage to the next stage change or closing
    (or ``as_of`` while the deal is still there). Days are fractional.
    """
    changes = as_dicts(db.execute(
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM deal_history WHERE deal_id = ? AND tenant_id = ? "
        "ORDER BY version", [deal_id, tenant_id]))
    for row in changes:
        row["amount"] = None if row["amount"] is None else str(row["amount"])
    intervals = as_dicts(db.execute("""
        WITH h AS (
            SELECT version, changed_at, change,
                   last_value(stage IGNORE NULLS) OVER w AS stage,
                   last_value(status IGNORE NULLS) OVER w AS status
            FROM deal_history WHERE deal_id = ? AND tenant_id = ?
            WINDOW w AS (ORDER BY version ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        e AS (SELECT * FROM h WHERE change IN ('opened', 'stage', 'won', 'lost', 'reopened'))
        SELECT stage, status, changed_at AS entered_at,
               lead(changed_at) OVER (ORDER BY version) AS left_at
        FROM e ORDER BY version""", [deal_id, tenant_id]))
    time_in_stage: dict[str, dict[str, Any]] = {}
    for interval in intervals:
        if interval["status"] != "open":
            interval["days"] = None
            continue
        end = interval["left_at"] or as_of
        interval["days"] = round(max((end - interval["entered_at"]).total_seconds(), 0) / 86400, 4)
        spent = time_in_stage.setdefault(interval["stage"], {"stage": interval["stage"], "days": 0.0,
                                                             "visits": 0})
        spent["days"] = round(spent["days"] + interval["days"], 4)
        spent["visits"] += 1
    return {"deal_id": deal_id, "as_of": as_of, "changes": changes, "stages": intervals,
            "time_in_stage": list(time_in_stage.values())}


def open_deals(db, tenant_id: str, idle_since: datetime) -> list[dict[str, Any]]:
    """The open deals without activity since ``idle_since``, with what the automation sweep
    needs (their activity and stage times)."""
    return as_dicts(db.execute(
        "SELECT id, title, status, stage, value, currency, owner, customer_id, pipeline_id, "
        "last_activity_at, stage_entered_at FROM deals WHERE tenant_id = ? AND status = 'open' "
        "AND opened_at IS NOT NULL AND last_activity_at <= ? ORDER BY id", [tenant_id, idle_since]))


def tenants_with_deals(db) -> list[str]:
    """Every tenant with a deal (open ones are swept; any may have a quote to expire)."""
    return [row[0] for row in db.execute("SELECT DISTINCT tenant_id FROM deals ORDER BY 1").fetchall()]
