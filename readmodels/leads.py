"""Queries of lead management: the lead queue, conversion over time, one customer's lead
state, the tenant's lead settings and teams."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

DEFAULT_BANT_RULE = {"required": [], "minimum": 4}
QUEUE_COLUMNS = ("c.id", "c.name", "c.email", "c.source", "l.stage", "l.owner", "l.lead_since",
                 "l.bant_qualified", "l.assigned_at")


def lead_queue(db, tenant_id: str, *, stage: str | None = None, owner: str | None = None,
               unassigned: bool = False, cursor: str | None = None,
               limit: int = 50) -> dict[str, Any]:
    """Leads and qualified leads, oldest first (a first-in, first-out queue)."""
    where = ["l.tenant_id = ?", "c.status = 'active'"]
    params: list[Any] = [tenant_id]
    if stage:
        where.append("l.stage = ?")
        params.append(stage)
    else:
        where.append("l.stage IN ('lead', 'qualified')")
    if owner is not None:
        where.append("l.owner = ?")
        params.append(owner)
    if unassigned:
        where.append("l.owner IS NULL")
    if cursor:
        lead_since, last_id = keyset.decode(cursor, 2)
        where.append("(l.lead_since, c.id) > (?::TIMESTAMPTZ, ?::UUID)")
        params += [lead_since, last_id]
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(QUEUE_COLUMNS)} FROM lifecycle l JOIN customers c ON c.id = l.customer_id "
        f"WHERE {' AND '.join(where)} ORDER BY l.lead_since, c.id LIMIT ?", params + [limit + 1]))
    for row in rows:
        row["bant_qualified"] = bool(row["bant_qualified"])
    return keyset.page(rows, limit, ("lead_since", "id"))


def conversion(db, tenant_id: str, period: str, since: datetime | None = None,
               until: datetime | None = None) -> list[dict[str, Any]]:
    """Per period: leads that entered the funnel, how many of them qualified and converted (so
    far), their conversion rate and mean days to convert, and the conversions that happened in
    the period (whichever cohort they came from)."""
    assert period in ("day", "week", "month", "quarter", "year")
    where, params = ["tenant_id = ?", "lead_since IS NOT NULL"], [tenant_id]
    bounds, bound_params = [], []
    if since:
        bounds.append("p >= date_trunc(?, ?::TIMESTAMPTZ)")
        bound_params += [period, since]
    if until:
        bounds.append("p < ?::TIMESTAMPTZ")
        bound_params.append(until)
    rows = as_dicts(db.execute(f"""
        WITH funnel AS (SELECT * FROM lifecycle WHERE {' AND '.join(where)}),
        cohorts AS (
            SELECT date_trunc(?, lead_since) AS p, count(*) AS leads, count(qualified_at) AS qualified,
                   count(converted_at) AS converted,
                   avg(epoch(converted_at - lead_since) / 86400.0) AS days_to_convert
            FROM funnel GROUP BY 1),
        activity AS (
            SELECT date_trunc(?, converted_at) AS p, count(*) AS conversions
            FROM funnel WHERE converted_at IS NOT NULL GROUP BY 1)
        SELECT p::DATE AS period_start, coalesce(leads, 0) AS leads,
               coalesce(qualified, 0) AS qualified, coalesce(converted, 0) AS converted,
               days_to_convert, coalesce(conversions, 0) AS conversions_in_period
        FROM cohorts FULL OUTER JOIN activity USING (p)
        {('WHERE ' + ' AND '.join(bounds)) if bounds else ''}
        ORDER BY p""", params + [period, period] + bound_params))
    for row in rows:
        row["conversion_rate"] = round(row["converted"] / row["leads"], 4) if row["leads"] else None
        if row["days_to_convert"] is not None:
            row["days_to_convert"] = round(row["days_to_convert"], 2)
    return rows


def settings(db, tenant_id: str) -> dict[str, Any]:
    row = db.execute("SELECT bant_rule, routing_rules, scoring_rules FROM lead_settings "
                     "WHERE tenant_id = ?", [tenant_id]).fetchone()
    bant, routing, scoring = row if row else (None, None, None)
    return {"bant_rule": orjson.loads(bant) if bant else DEFAULT_BANT_RULE,
            "routing_rules": orjson.loads(routing) if routing else [],
            "scoring_rules": orjson.loads(scoring) if scoring else []}


def teams(db, tenant_id: str) -> list[dict[str, Any]]:
    return as_dicts(db.execute("SELECT name, coalesce(members, []) AS members, turns FROM teams "
                            "WHERE tenant_id = ? ORDER BY name", [tenant_id]))
