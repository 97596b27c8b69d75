"""Queries of the pipelines read model and the pipeline board.

A pipeline id of ``None`` is the tenant's built-in default pipeline (deals
opened without a pipeline); its stages come from the domain's constants.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from uuid import UUID

import orjson

from domain.pipeline import DEFAULT_STAGES
from readmodels import cursor as keyset
from readmodels.rows import as_dicts

DEFAULT_NAME = "Default"
CENT = Decimal("0.01")


def percent_of(amount: Decimal, percent: int | Decimal) -> Decimal:
    """``amount x percent / 100`` rounded half-up to the cent (weighted values)."""
    return (Decimal(amount) * Decimal(percent) / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def _stages(db, pipeline_ids: list[UUID]) -> dict[UUID, list[dict[str, Any]]]:
    found: dict[UUID, list[dict[str, Any]]] = {pid: [] for pid in pipeline_ids}
    if not pipeline_ids:
        return found
    for row in as_dicts(db.execute(
            "SELECT pipeline_id, stage_id AS id, name, probability, rotting_days, kind, archived, "
            "position FROM pipeline_stages WHERE pipeline_id IN "
            f"({', '.join('?' * len(pipeline_ids))}) ORDER BY pipeline_id, position",
            pipeline_ids)):
        found[row.pop("pipeline_id")].append(row)
    return found


def default_pipeline() -> dict[str, Any]:
    return {"id": None, "name": DEFAULT_NAME, "version": 0, "automation": {},
            "stages": [{**stage, "position": i} for i, stage in enumerate(DEFAULT_STAGES)]}


def list_pipelines(db, tenant_id: str) -> list[dict[str, Any]]:
    """The default pipeline first, then the tenant's own by name."""
    rows = as_dicts(db.execute("SELECT id, name, version, automation FROM pipelines "
                            "WHERE tenant_id = ? ORDER BY name, id", [tenant_id]))
    stages = _stages(db, [row["id"] for row in rows])
    for row in rows:
        row["automation"] = orjson.loads(row["automation"] or "{}")
        row["stages"] = stages[row["id"]]
    return [default_pipeline(), *rows]


def get_pipeline(db, tenant_id: str, pipeline_id: UUID | None) -> dict[str, Any] | None:
    if pipeline_id is None:
        return default_pipeline()
    rows = as_dicts(db.execute("SELECT id, name, version, automation FROM pipelines "
                            "WHERE id = ? AND tenant_id = ?", [pipeline_id, tenant_id]))
    if not rows:
        return None
    pipeline = rows[0]
    pipeline["automation"] = orjson.loads(pipeline["automation"] or "{}")
    pipeline["stages"] = _stages(db, [pipeline_id])[pipeline_id]
    return pipeline


DEAL_COLUMNS = ("id", "version", "customer_id", "title", "value", "currency", "stage", "status",
                "probability", "owner", "source", "expected_close", "opened_at",
                "stage_entered_at", "last_activity_at", "closed_at")


def _deal(row: dict[str, Any], rotting_days: int | None, as_of: datetime) -> dict[str, Any]:
    idle = (as_of - row["last_activity_at"]).total_seconds() / 86400 if row["last_activity_at"] else 0
    row["idle_days"] = round(max(idle, 0.0), 2)
    row["rotting"] = bool(row["status"] == "open" and rotting_days and idle > rotting_days)
    row["weighted_value"] = str(percent_of(row["value"], row["probability"]))
    row["value"] = str(row["value"])
    return row


def board(db, tenant_id: str, pipeline: dict[str, Any], as_of: datetime, stage: str | None = None,
          cursor: str | None = None, limit: int = 20) -> dict[str, Any]:
    """Per stage, in the pipeline's order: a page of deals, their count, total and weighted total.

    Open stages show open deals; a won or lost stage shows the deals closed into it.
    Archived stages appear only while deals are in them. Totals are per currency.
    """
    pid = pipeline["id"]
    totals = as_dicts(db.execute(
        "SELECT stage, currency, count(*) AS count, sum(value) AS total, "
        "sum(value * probability) AS weighted FROM deals "
        "WHERE tenant_id = ? AND pipeline_id IS NOT DISTINCT FROM ? AND "
        "(status = 'open' OR stage IN (SELECT unnest(?::VARCHAR[]))) "
        "GROUP BY stage, currency ORDER BY stage, currency",
        [tenant_id, pid, [s["id"] for s in pipeline["stages"] if s["kind"] != "open"]]))
    by_stage: dict[str, list[dict[str, Any]]] = {}
    for row in totals:
        weighted = row.pop("weighted")
        by_stage.setdefault(row.pop("stage"), []).append(
            {**row, "total": str(row["total"]), "weighted_total": str(percent_of(weighted, 1))})
    shown = [s for s in pipeline["stages"] if (stage is None or s["id"] == stage)
             and not (s["archived"] and s["id"] not in by_stage and stage is None)]
    pages = _pages(db, tenant_id, pid, shown, as_of, cursor if stage else None, limit)
    columns = [{"stage": s["id"], "name": s["name"], "kind": s["kind"],
                "probability": s["probability"], "rotting_days": s["rotting_days"],
                "archived": s["archived"],
                "count": sum(t["count"] for t in by_stage.get(s["id"], [])),
                "totals": by_stage.get(s["id"], []),
                "deals": pages[s["id"]]["items"], "next_cursor": pages[s["id"]]["next_cursor"]}
               for s in shown]
    return {"pipeline_id": pid, "name": pipeline["name"], "as_of": as_of, "stages": columns}


def _pages(db, tenant_id: str, pid: UUID | None, stages: list[dict[str, Any]], as_of: datetime,
           cursor: str | None, limit: int) -> dict[str, dict[str, Any]]:
    """Stage id -> the first page of its deals (after ``cursor``). One statement, a ``UNION ALL``
    of a top-N per stage: a statement per stage cost its planning each, and one window over all
    the deals sorted them all (docs/PERFORMANCE.md). An open stage lists its open deals, a won or
    lost stage the deals closed into it."""
    after, after_params = "", []
    if cursor:
        entered_at, last_id = keyset.decode(cursor, 2)
        after = " AND (stage_entered_at, id) > (?::TIMESTAMPTZ, ?::UUID)"
        after_params = [entered_at, last_id]
    parts, params = [], []
    for s in stages:
        only_open = " AND status = 'open'" if s["kind"] == "open" else ""
        parts.append(f"(SELECT {', '.join(DEAL_COLUMNS)} FROM deals WHERE tenant_id = ? "
                     f"AND pipeline_id IS NOT DISTINCT FROM ? AND stage = ?{only_open}{after} "
                     "ORDER BY stage_entered_at, id LIMIT ?)")
        params += [tenant_id, pid, s["id"], *after_params, limit + 1]
    rows = as_dicts(db.execute(f"{' UNION ALL '.join(parts)} ORDER BY stage, stage_entered_at, id",
                               params)) if parts else []
    by_stage: dict[str, list[dict[str, Any]]] = {s["id"]: [] for s in stages}
    for row in rows:
        by_stage[row["stage"]].append(row)
    pages = {}
    for s in stages:
        page = keyset.page(by_stage[s["id"]], limit, ("stage_entered_at", "id"))
        page["items"] = [_deal(row, s["rotting_days"], as_of) for row in page["items"]]
        pages[s["id"]] = page
    return pages
