"""Pipeline analytics, empirical stage probabilities and forecasts, over the deals read model.

Every figure is for one pipeline (``None``: the default pipeline) and one
currency; formulas are in docs/PIPELINE.md. "Reached stage k" means the deal
was ever in stage k or in a stage after it (in the pipeline's current order),
or was won: skipping a stage does not make a deal drop out of it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from readmodels.pipelines import CENT, percent_of
from readmodels.rows import as_dicts

DAY = 86400
STAGE_ENTRIES = "('opened', 'stage', 'won', 'lost', 'reopened')"


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def main_currency(db, tenant_id: str, pipeline_id) -> str | None:
    row = db.execute("SELECT currency FROM deals WHERE tenant_id = ? AND pipeline_id IS NOT "
                     "DISTINCT FROM ? AND opened_at IS NOT NULL GROUP BY currency "
                     "ORDER BY count(*) DESC, currency LIMIT 1", [tenant_id, pipeline_id]).fetchone()
    return row[0] if row else None


class _Scope:
    """The deals of one pipeline in one currency: a WHERE clause on ``deals d`` and its params."""

    def __init__(self, tenant_id: str, pipeline: dict[str, Any], currency: str | None) -> None:
        self.pipeline = pipeline
        self.where = ("d.tenant_id = ? AND d.pipeline_id IS NOT DISTINCT FROM ? "
                      "AND d.opened_at IS NOT NULL"
                      + (" AND d.currency = ?" if currency else ""))
        self.params: list[Any] = [tenant_id, pipeline["id"]] + ([currency] if currency else [])
        self.open_stages = [s for s in pipeline["stages"] if s["kind"] == "open"]

    def deepest(self, db, extra: str = "", params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Per deal in scope (and ``extra``): its status and the index of the furthest open stage
        it reached (won deals reached them all)."""
        stages = [s["id"] for s in self.open_stages]
        last = len(stages) - 1
        return as_dicts(db.execute(f"""
            WITH idx AS (SELECT unnest(?::VARCHAR[]) AS stage, unnest(?::INTEGER[]) AS idx)
            SELECT d.id, d.status,
                   CASE WHEN d.status = 'won' THEN {last} ELSE max(i.idx) END AS deepest
            FROM deals d LEFT JOIN deal_history h ON h.deal_id = d.id
                         LEFT JOIN idx i ON i.stage = h.stage
            WHERE {self.where} {extra} GROUP BY d.id, d.status""",
            [stages, list(range(len(stages))), *self.params, *(params or [])]))


def analytics(db, tenant_id: str, pipeline: dict[str, Any], start: datetime, end: datetime,
              as_of: datetime, currency: str | None) -> dict[str, Any]:
    scope = _Scope(tenant_id, pipeline, currency)
    in_period = "closed_at >= ? AND closed_at < ?"
    totals = as_dicts(db.execute(f"""
        SELECT count(*) FILTER (WHERE status = 'won' AND {in_period}) AS won,
               count(*) FILTER (WHERE status = 'lost' AND {in_period}) AS lost,
               sum(value) FILTER (WHERE status = 'won' AND {in_period}) AS won_value,
               sum(epoch(closed_at - opened_at)) FILTER (WHERE status = 'won' AND {in_period})
                   AS cycle_seconds,
               count(*) FILTER (WHERE status = 'open') AS open_deals,
               sum(value) FILTER (WHERE status = 'open') AS open_value,
               count(*) FILTER (WHERE opened_at >= ? AND opened_at < ?) AS opened
        FROM deals d WHERE {scope.where}""",
        [start, end] * 4 + [start, end] + scope.params))[0]
    won, lost, opened = totals["won"], totals["lost"], totals["opened"]
    average_size = totals["won_value"] / won if won else None
    cycle_days = Decimal(str(totals["cycle_seconds"])) / won / DAY if won else None
    velocity = None
    if won and cycle_days:
        velocity = totals["open_deals"] * average_size * won / (won + lost) / cycle_days
    return {
        "pipeline_id": pipeline["id"], "currency": currency, "from": start, "to": end,
        "as_of": as_of, "opened": opened, "won": won, "lost": lost,
        "win_rate": _ratio(won, won + lost),
        "won_value": _money(totals["won_value"] or 0),
        "average_deal_size": _money(average_size),
        "average_cycle_days": None if cycle_days is None else round(float(cycle_days), 4),
        "open_deals": totals["open_deals"], "open_value": _money(totals["open_value"] or 0),
        "sales_velocity_per_day": _money(velocity),
        "stage_conversion": _conversion(db, scope, start, end),
        "time_in_stage": _time_in_stage(db, scope, start, end),
        "rotting": rotting_deals(db, tenant_id, pipeline, as_of, currency),
    }


def _conversion(db, scope: _Scope, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Of the deals opened in the period: how many reached each stage, and each step's rate."""
    cohort = scope.deepest(db, "AND d.opened_at >= ? AND d.opened_at < ?", [start, end])
    steps = [(s["id"], sum(1 for d in cohort if d["deepest"] is not None and d["deepest"] >= i))
             for i, s in enumerate(scope.open_stages)]
    steps.append(("won", sum(1 for d in cohort if d["status"] == "won")))
    return [{"from_stage": a, "to_stage": b, "reached_from": na, "reached_to": nb,
             "rate": _ratio(nb, na)} for (a, na), (b, nb) in zip(steps, steps[1:])]


def _time_in_stage(db, scope: _Scope, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Average days in each stage over the stays that began in the period and have ended."""
    rows = as_dicts(db.execute(f"""
        WITH h AS (
            SELECT h.deal_id, h.version, h.changed_at, h.change,
                   last_value(h.stage IGNORE NULLS) OVER w AS stage,
                   last_value(h.status IGNORE NULLS) OVER w AS status
            FROM deal_history h JOIN deals d ON d.id = h.deal_id WHERE {scope.where}
            WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.version
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        e AS (SELECT *, lead(changed_at) OVER (PARTITION BY deal_id ORDER BY version) AS left_at
              FROM h WHERE change IN {STAGE_ENTRIES})
        SELECT stage, count(*) AS stays, avg(epoch(left_at - changed_at)) / {DAY} AS average_days
        FROM e WHERE status = 'open' AND left_at IS NOT NULL AND changed_at >= ? AND changed_at < ?
        GROUP BY stage""", [*scope.params, start, end]))
    found = {row["stage"]: row for row in rows}
    return [{"stage": s["id"], "stays": found.get(s["id"], {}).get("stays", 0),
             "average_days": None if s["id"] not in found
             else round(found[s["id"]]["average_days"], 4)} for s in scope.open_stages]


def rotting_deals(db, tenant_id: str, pipeline: dict[str, Any], as_of: datetime,
                  currency: str | None = None) -> list[dict[str, Any]]:
    """Open deals whose last activity is older than their stage's rotting days, stalest first."""
    scope = _Scope(tenant_id, pipeline, currency)
    stages = [s for s in scope.open_stages if s["rotting_days"]]
    if not stages:
        return []
    rows = as_dicts(db.execute(f"""
        WITH s AS (SELECT unnest(?::VARCHAR[]) AS stage, unnest(?::INTEGER[]) AS rotting_days)
        SELECT d.id, d.title, d.stage, d.owner, d.customer_id, d.value, d.currency,
               d.last_activity_at, s.rotting_days,
               epoch(?::TIMESTAMPTZ - d.last_activity_at) / {DAY} AS idle_days
        FROM deals d JOIN s ON s.stage = d.stage
        WHERE {scope.where} AND d.status = 'open'
          AND epoch(?::TIMESTAMPTZ - d.last_activity_at) > s.rotting_days * {DAY}
        ORDER BY d.last_activity_at, d.id""",
        [[s["id"] for s in stages], [s["rotting_days"] for s in stages], as_of, *scope.params,
         as_of]))
    for row in rows:
        row["value"] = str(row["value"])
        row["idle_days"] = round(row["idle_days"], 4)
    return rows


def probabilities(db, tenant_id: str, pipeline: dict[str, Any], start: datetime | None = None,
                  end: datetime | None = None) -> dict[str, Any]:
    """Per open stage: its default probability beside the empirical one, the share of the closed
    deals that reached the stage and were won (all currencies; closed in the period if given)."""
    scope = _Scope(tenant_id, pipeline, None)
    extra, params = "AND d.status IN ('won', 'lost')", []
    if start and end:
        extra += " AND d.closed_at >= ? AND d.closed_at < ?"
        params = [start, end]
    closed = scope.deepest(db, extra, params)
    stages = []
    for i, s in enumerate(scope.open_stages):
        reached = [d for d in closed if d["deepest"] is not None and d["deepest"] >= i]
        won = sum(1 for d in reached if d["status"] == "won")
        rate = _ratio(won, len(reached))
        stages.append({"stage": s["id"], "name": s["name"], "archived": s["archived"],
                       "default_probability": s["probability"],
                       "empirical_probability": None if rate is None else round(rate * 100, 2),
                       "closed_deals": len(reached), "won_deals": won})
    return {"pipeline_id": pipeline["id"], "closed_deals": len(closed), "stages": stages}


def _months(first: date, count: int) -> list[date]:
    months, year, month = [], first.year, first.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def forecast(db, tenant_id: str, pipeline: dict[str, Any], first_month: date, months: int,
             commit_threshold: int, currency: str | None) -> dict[str, Any]:
    """Per expected-close month: the open pipeline (total, weighted), what closed, the best /
    commit / worst cases, and the weighted forecast as it stood when the month began."""
    scope = _Scope(tenant_id, pipeline, currency)
    month_list = _months(first_month, months)
    open_rows = {r["month"]: r for r in as_dicts(db.execute(f"""
        SELECT CAST(date_trunc('month', d.expected_close) AS DATE) AS month, count(*) AS deals,
               sum(d.value) AS total, sum(d.value * d.probability) AS weighted,
               coalesce(sum(d.value) FILTER (WHERE d.probability >= ?), 0) AS commit
        FROM deals d WHERE {scope.where} AND d.status = 'open' AND d.expected_close IS NOT NULL
        GROUP BY 1""", [commit_threshold, *scope.params]))}
    won_rows = {r["month"]: r for r in as_dicts(db.execute(f"""
        SELECT CAST(date_trunc('month', d.closed_at) AS DATE) AS month, count(*) AS deals,
               sum(d.value) AS total
        FROM deals d WHERE {scope.where} AND d.status = 'won' GROUP BY 1""", scope.params))}
    then_rows = {r["month"]: r for r in as_dicts(db.execute(f"""
        WITH h AS (
            SELECT h.deal_id, h.version, h.changed_at,
                   last_value(h.amount IGNORE NULLS) OVER w AS amount,
                   last_value(h.probability IGNORE NULLS) OVER w AS probability,
                   last_value(h.expected_close IGNORE NULLS) OVER w AS expected_close,
                   last_value(h.status IGNORE NULLS) OVER w AS status
            FROM deal_history h JOIN deals d ON d.id = h.deal_id WHERE {scope.where}
            WINDOW w AS (PARTITION BY h.deal_id ORDER BY h.version
                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)),
        m AS (SELECT unnest(?::DATE[]) AS month),
        snap AS (SELECT m.month, h.* FROM m JOIN h ON h.changed_at < CAST(m.month AS TIMESTAMPTZ)
                 QUALIFY row_number() OVER (PARTITION BY m.month, h.deal_id
                                            ORDER BY h.version DESC) = 1)
        SELECT month, count(*) AS deals, sum(amount * probability) AS weighted FROM snap
        WHERE status = 'open' AND CAST(date_trunc('month', expected_close) AS DATE) = month
        GROUP BY month""", [*scope.params, month_list]))}
    unscheduled = as_dicts(db.execute(
        f"SELECT count(*) AS deals, coalesce(sum(d.value), 0) AS total, "
        f"coalesce(sum(d.value * d.probability), 0) AS weighted FROM deals d WHERE {scope.where} "
        "AND d.status = 'open' AND d.expected_close IS NULL", scope.params))[0]
    zero = Decimal("0.00")
    result = []
    for month in month_list:
        o = open_rows.get(month, {})
        closed = won_rows.get(month, {}).get("total") or zero
        weighted = percent_of(o.get("weighted") or 0, 1)
        then = then_rows.get(month, {})
        result.append({
            "month": month.isoformat()[:7],
            "open_deals": o.get("deals", 0), "pipeline": _money(o.get("total") or 0),
            "weighted": _money(weighted),
            "closed_won": _money(closed), "closed_won_deals": won_rows.get(month, {}).get("deals", 0),
            "worst": _money(closed), "commit": _money(closed + (o.get("commit") or 0)),
            "best": _money(closed + (o.get("total") or 0)),
            "expected": _money(closed + weighted),
            "forecast_at_month_start": _money(percent_of(then.get("weighted") or 0, 1)),
            "forecast_deals_at_month_start": then.get("deals", 0),
        })
    return {"pipeline_id": pipeline["id"], "currency": currency, "commit_threshold": commit_threshold,
            "months": result,
            "unscheduled": {"open_deals": unscheduled["deals"], "pipeline": _money(unscheduled["total"]),
                            "weighted": _money(percent_of(unscheduled["weighted"], 1))}}
