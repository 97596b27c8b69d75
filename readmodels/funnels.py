"""A generic funnel engine over the ``funnel_events`` table, computed in DuckDB SQL.

A funnel is ordered steps, each an event type with property filters, a
conversion window and a subject (whose journey is followed: the customer an
event concerns, or the aggregate it happened to). The rules, which the
property test checks against a brute-force Python computation:

* A subject *enters* at its first step-1 event (by time, then ``seq``) inside
  the period ``[start, end)``; that event is the anchor, and a breakdown
  property is read from it.
* Step k is reached at the first matching event strictly after the event that
  reached step k-1 (ordered by time, then ``seq``), and no later than the
  anchor time plus the window. One event never counts for two steps.
* Per step: subjects reached, conversion from the previous step and from the
  start, drop-off, and the median and mean seconds from the previous step.
  Overall: completed / entered, and median and mean seconds from entering to
  completing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb
import orjson

from readmodels.rows import positional

OPS = ("eq", "neq", "in", "contains", "gt", "gte", "lt", "lte")
SUBJECTS = {"customer": "customer_id", "aggregate": "aggregate_id"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
NONE = "(none)"
# Properties funnel_events keeps in columns of their own too (the built-in funnels filter on them).
TYPED = ("stage", "pipeline_id")


class FunnelError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Filter:
    property: str
    op: str
    value: Any


@dataclass(frozen=True)
class Step:
    name: str
    event_type: str
    filters: tuple[Filter, ...] = ()


@dataclass(frozen=True)
class Funnel:
    steps: tuple[Step, ...]
    window: timedelta
    subject: str = "customer"
    breakdown: str | None = None
    name: str = "custom"

    def check(self) -> None:
        if not 2 <= len(self.steps) <= 20:
            raise FunnelError("a funnel has 2 to 20 steps", "steps")
        if self.subject not in SUBJECTS:
            raise FunnelError(f"subject must be one of {', '.join(SUBJECTS)}", "subject")
        if self.window <= timedelta(0):
            raise FunnelError("the conversion window must be positive", "window")
        if self.breakdown is not None and not _NAME.match(self.breakdown):
            raise FunnelError("breakdown must be a property name", "breakdown")
        for i, step in enumerate(self.steps):
            for j, f in enumerate(step.filters):
                at = f"steps[{i}].filters[{j}]"
                if not _NAME.match(f.property):
                    raise FunnelError("a filter's property must be a property name", f"{at}.property")
                if f.op not in OPS:
                    raise FunnelError(f"op must be one of {', '.join(OPS)}", f"{at}.op")
                if f.op == "in" and not isinstance(f.value, list):
                    raise FunnelError("the value of an 'in' filter is a list", f"{at}.value")
                if f.op in ("gt", "gte", "lt", "lte") and not isinstance(f.value, (int, float)):
                    raise FunnelError("a comparison needs a number", f"{at}.value")


def _text(value: Any) -> str | None:
    """How a JSON property value compares: as the string json_extract_string gives."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def typed_columns(properties: dict[str, Any]) -> dict[str, str | None]:
    """An event's :data:`TYPED` columns: each property as json_extract_string reads it from the
    event's JSON properties, so that a filter on the column and on the JSON agree."""
    return {name: None if (value := properties.get(name)) is None else
            value if isinstance(value, str) else orjson.dumps(value).decode() for name in TYPED}


def _condition(f: Filter, extracted: str | None) -> tuple[str, list[Any]]:
    """The filter on ``extracted``, the column holding its property as json_extract_string
    gives it (``contains`` reads the JSON itself: no column)."""
    if f.op == "eq" and f.value is None:
        return f"{extracted} IS NULL", []
    if f.op == "eq":
        return f"{extracted} = ?", [_text(f.value)]
    if f.op == "neq":
        return f"{extracted} IS DISTINCT FROM ?", [_text(f.value)]
    if f.op == "in":
        return f"{extracted} IN (SELECT unnest(?::VARCHAR[]))", [[_text(v) for v in f.value]]
    if f.op == "contains":
        return ("coalesce(list_contains(TRY_CAST(json_extract(properties, ?) AS VARCHAR[]), ?), false)",
                [f"$.{f.property}", _text(f.value)])
    symbol = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[f.op]
    return f"TRY_CAST({extracted} AS DOUBLE) {symbol} ?", [float(f.value)]


def _events(funnel: Funnel, grouped: bool,
            typed: bool) -> tuple[str, dict[str, str], str, list[Any]]:
    """The ``ev`` CTE: the tenant's events of the steps' types that the period and window admit,
    with a column per property a filter reads. A property of :data:`TYPED` is the table's own
    column (with ``typed``); any other is extracted once per event, only from the events of the
    steps that read it, rather than by every step and by the filters DuckDB pushes into the
    CTE. Parsing JSON was most of the lead funnel's time (docs/PERFORMANCE.md), and a funnel
    whose filters and breakdown are all typed does not read the JSON at all. Returns (SQL,
    property -> its column, the breakdown's expression over ``ev`` or NULL, params)."""
    read: dict[str, set[str]] = {}
    for step in funnel.steps:
        for f in step.filters:
            if f.op != "contains":
                read.setdefault(f.property, set()).add(step.event_type)
    columns, extracts, params = {}, [], []
    for name in sorted(read):
        if typed and name in TYPED:
            columns[name] = name
            extracts.append(f", {name}")
            continue
        columns[name] = column = f"p{len(columns)}"
        types = sorted(read[name])
        extracts.append(f", CASE WHEN event_type IN ({', '.join('?' for _ in types)}) "
                        f"THEN json_extract_string(properties, ?) END AS {column}")
        params += [*types, f"$.{name}"]
    group = "NULL"
    if grouped and typed and funnel.breakdown in TYPED:
        group = funnel.breakdown
        if group not in columns:
            extracts.append(f", {group}")
    elif grouped:
        group = "json_extract_string(properties, $breakdown)"
    if "properties" in group or any(f.op == "contains" for step in funnel.steps
                                    for f in step.filters):
        extracts.append(", properties")
    types = sorted({step.event_type for step in funnel.steps})
    params += types
    subject = SUBJECTS[funnel.subject]
    # Only the events that can count: an anchor is in [start, end), and every later step is
    # after its anchor and within the window of it, so before $until = end + window.
    return (f"ev AS MATERIALIZED (SELECT {subject} AS subject, occurred_at AS t, seq, event_type"
            f"{''.join(extracts)} FROM funnel_events WHERE tenant_id = $tenant "
            f"AND occurred_at >= $start AND occurred_at <= $until "
            f"AND {subject} IS NOT NULL AND event_type IN ({', '.join('?' for _ in types)}))",
            columns, group, params)


def _sql(funnel: Funnel, grouped: bool, typed: bool) -> tuple[str, list[Any]]:
    """The whole funnel as one statement: a CTE per step, then one row per (group, step)."""
    ev, columns, group, params = _events(funnel, grouped, typed)
    ctes = [ev]
    for k, step in enumerate(funnel.steps, start=1):
        where = ["event_type = ?"]
        params.append(step.event_type)
        for f in step.filters:
            condition, values = _condition(f, columns.get(f.property))
            where.append(condition)
            params += values
        ctes.append(f"s{k} AS (SELECT * FROM ev WHERE {' AND '.join(where)})")
    ctes.append(f"r1 AS (SELECT subject, t, seq, t AS t0, {group} AS grp FROM s1 "
                "WHERE t >= $start AND t < $end "
                "QUALIFY row_number() OVER (PARTITION BY subject ORDER BY t, seq) = 1)")
    for k in range(2, len(funnel.steps) + 1):
        ctes.append(
            f"r{k} AS (SELECT p.subject, s.t, s.seq, p.t0 FROM r{k - 1} p JOIN s{k} s "
            "ON s.subject = p.subject AND (s.t > p.t OR (s.t = p.t AND s.seq > p.seq)) "
            "AND epoch(s.t - p.t0) <= $window "
            "QUALIFY row_number() OVER (PARTITION BY p.subject ORDER BY s.t, s.seq) = 1)")
    n = len(funnel.steps)
    joins = " ".join(f"LEFT JOIN r{k} ON r{k}.subject = r1.subject" for k in range(2, n + 1))
    times = ", ".join(f"r{k}.t AS t{k}" for k in range(1, n + 1))
    ctes.append(f"journeys AS (SELECT r1.grp, {times} FROM r1 {joins})")
    parts = ["SELECT grp, 1 AS step, count(t1) AS reached, NULL::DOUBLE AS median_prev, "
             "NULL::DOUBLE AS mean_prev, NULL::DOUBLE AS median_start, NULL::DOUBLE AS mean_start "
             "FROM journeys GROUP BY grp"]
    for k in range(2, n + 1):
        prev, start = f"epoch(t{k} - t{k - 1})", f"epoch(t{k} - t1)"
        parts.append(f"SELECT grp, {k}, count(t{k}), quantile_cont({prev}, 0.5), avg({prev}), "
                     f"quantile_cont({start}, 0.5), avg({start}) FROM journeys GROUP BY grp")
    sql = "WITH " + ",\n".join(ctes) + "\n" + "\nUNION ALL\n".join(parts)
    return sql, params


def _summary(rows: list[tuple], steps: tuple[Step, ...]) -> dict[str, Any]:
    by_step = {row[1]: row for row in rows}
    entered = by_step[1][2] if 1 in by_step else 0
    result, previous = [], entered
    for k, step in enumerate(steps, start=1):
        row = by_step.get(k)
        reached = row[2] if row else 0
        result.append({
            "name": step.name, "event_type": step.event_type, "reached": reached,
            "conversion_from_previous": round(reached / previous, 4) if previous else None,
            "conversion_from_start": round(reached / entered, 4) if entered else None,
            "drop_off": previous - reached if k > 1 else 0,
            "median_seconds_from_previous": None if not row or row[3] is None else round(row[3], 3),
            "mean_seconds_from_previous": None if not row or row[4] is None else round(row[4], 3)})
        previous = reached
    last = by_step.get(len(steps))
    completed = result[-1]["reached"]
    return {"entered": entered, "completed": completed,
            "overall_conversion": round(completed / entered, 4) if entered else None,
            "median_seconds_to_convert": None if not last or last[5] is None else round(last[5], 3),
            "mean_seconds_to_convert": None if not last or last[6] is None else round(last[6], 3),
            "steps": result}


def run(db, tenant_id: str, funnel: Funnel, start: datetime, end: datetime) -> dict[str, Any]:
    funnel.check()
    named = {"tenant": tenant_id, "start": start, "end": end, "until": end + funnel.window,
             "window": funnel.window.total_seconds(), "breakdown": f"$.{funnel.breakdown}"}
    try:
        return _run(db, funnel, named, typed=True)
    except duckdb.BinderException:
        # A file made before the TYPED columns serves its old table until the rebuild to the
        # new shape (started at startup, workers/rebuilds.py) switches it in.
        return _run(db, funnel, named, typed=False)


def _run(db, funnel: Funnel, named: dict[str, Any], typed: bool) -> dict[str, Any]:
    sql, params = positional(*_sql(funnel, False, typed), named)
    overall = _summary(db.execute(sql, params).fetchall(), funnel.steps)
    result = {"name": funnel.name, "subject": funnel.subject, "from": named["start"],
              "to": named["end"], "window_seconds": funnel.window.total_seconds(), **overall}
    if funnel.breakdown:
        sql, params = positional(*_sql(funnel, True, typed), named)
        groups: dict[Any, list[tuple]] = {}
        for row in db.execute(sql, params).fetchall():
            groups.setdefault(row[0], []).append(row)
        result["breakdown_property"] = funnel.breakdown
        result["breakdown"] = [{"value": NONE if value is None else value,
                                **_summary(rows, funnel.steps)}
                               for value, rows in sorted(groups.items(),
                                                         key=lambda kv: (kv[0] is None, str(kv[0])))]
    return result


# -- the built-in funnels ----------------------------------------------------------------------

def lead_funnel(window: timedelta, breakdown: str | None = None) -> Funnel:
    """lead -> qualified -> opportunity -> won, per customer, on the default pipeline's stages:
    registered, a deal of theirs entered "qualified", then "proposal" or "negotiation", then won."""
    entered = "Opportunity.StageEntered"
    return Funnel(name="leads", subject="customer", window=window, breakdown=breakdown, steps=(
        Step("lead", "Customer.Registered"),
        Step("qualified", entered, (Filter("stage", "eq", "qualified"),)),
        Step("opportunity", entered, (Filter("stage", "in", ["proposal", "negotiation"]),)),
        Step("won", "Opportunity.Won"),
    ))


def stage_funnel(pipeline: dict[str, Any], window: timedelta, breakdown: str | None = None) -> Funnel:
    """Each active open stage of the pipeline in order, then won, per deal."""
    pid = None if pipeline["id"] is None else str(pipeline["id"])
    in_pipeline = Filter("pipeline_id", "eq", pid)
    steps = [Step(s["name"], "Opportunity.StageEntered", (in_pipeline, Filter("stage", "eq", s["id"])))
             for s in pipeline["stages"] if s["kind"] == "open" and not s["archived"]]
    steps.append(Step("won", "Opportunity.Won", (in_pipeline,)))
    return Funnel(name=f"stages of {pipeline['name']}", subject="aggregate", window=window,
                  breakdown=breakdown, steps=tuple(steps))
