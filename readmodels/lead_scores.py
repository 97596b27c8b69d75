"""Lead scores: the tenant's current scoring rules applied to signals and attributes in SQL.

A score is 0-100: the points of every matching behaviour signal (each order,
message, engagement... up to a rule's ``max_times``) plus the points of every
matching attribute of the customer now, minus the silence rules' points for
each whole ``silence_days`` since the customer last did something (ordered,
engaged, or wrote in), clamped to 0..100. ``now`` is injectable.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from readmodels import cursor as keyset
from readmodels.leads import settings

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# What counts as the customer doing something, for silence.
_ACTIVITY = "(s.kind IN ('order', 'engagement') OR (s.kind = 'communication' AND s.direction = 'inbound'))"


def _with_customers(customers: list[UUID] | None) -> tuple[str, list]:
    """CTEs of some customers' signals and directory rows (``their_signals``, ``their_customers``),
    so that scoring a few customers reads their rows alone. One customer is looked up by
    equality: DuckDB 2 reads the ART index only when that equality is a scan's only filter, so
    the rules filter these CTEs instead."""
    if customers is None:
        return "", []
    match, value = ("= ?", customers[0]) if len(customers) == 1 else (
        "IN (SELECT unnest(?::UUID[]))", customers)
    return (f"their_signals AS MATERIALIZED (SELECT * FROM score_signals WHERE customer_id {match}), "
            f"their_customers AS MATERIALIZED (SELECT * FROM customers WHERE id {match}), ",
            [value, value])


def _sources(customers: list[UUID] | None) -> tuple[str, str]:
    """(signals table, customers table): those of :func:`_with_customers`, or the whole tables."""
    return ("score_signals", "customers") if customers is None else ("their_signals", "their_customers")


def _event_match(rule: dict, tenant_id: str) -> tuple[str, list]:
    """The condition a signal ``s`` meets to earn an event rule's points."""
    where, params = ["s.tenant_id = ?", "s.kind = ?"], [tenant_id, rule["event"]]
    for key, column in (("channel", "channel"), ("direction", "direction"), ("kind", "engagement")):
        if key in rule:
            where.append(f"s.{column} = ?")
            params.append(rule[key])
    if "min_amount" in rule:
        where.append("s.amount >= ?::DECIMAL(18,2)")
        params.append(rule["min_amount"])
    return " AND ".join(where), params


def _event_rule(rule: dict, tenant_id: str, customers: list[UUID] | None) -> tuple[str, list]:
    where, params = _event_match(rule, tenant_id)
    sql = (f"SELECT s.customer_id, ? AS rule, ? AS points, s.occurred_at, s.position "
           f"FROM {_sources(customers)[0]} s WHERE {where}")
    params = [rule["name"], rule["points"], *params]
    if "max_times" in rule:
        sql += (" QUALIFY row_number() OVER (PARTITION BY s.customer_id "
                "ORDER BY s.occurred_at, s.position) <= ?")
        params.append(rule["max_times"])
    return sql, params


def _attribute_match(rule: dict, tenant_id: str) -> tuple[str, list]:
    """The condition a customer ``c`` meets to earn an attribute rule's points."""
    where, params = ["c.tenant_id = ?"], [tenant_id]
    attribute = rule["attribute"]
    if attribute == "source":
        where.append("lower(c.source) = lower(?)")
        params.append(rule["equals"])
    elif attribute == "tag":
        where.append("list_contains(c.tags, lower(?))")
        params.append(rule["equals"])
    elif attribute in ("has_email", "has_phone"):
        where.append(f"c.{attribute[4:]} IS NOT NULL")
    elif attribute == "custom_field":
        where.append(
            "EXISTS (SELECT 1 FROM custom_field_values v WHERE v.customer_id = c.id AND v.key = ? "
            "AND (v.text_value = ? OR v.date_value::VARCHAR = ? OR v.bool_value::VARCHAR = lower(?) "
            "OR v.number_value = TRY_CAST(? AS DECIMAL(38,10)) OR list_contains(v.list_value, ?)))")
        params += [rule["key"]] + [rule["equals"]] * 5
    elif attribute == "bant_qualified":
        where.append("EXISTS (SELECT 1 FROM lifecycle l WHERE l.customer_id = c.id AND l.bant_qualified)")
    elif attribute == "lifecycle_stage":
        where.append("coalesce((SELECT l.stage FROM lifecycle l WHERE l.customer_id = c.id), "
                     "'customer') = ?")
        params.append(rule["equals"])
    return " AND ".join(where), params


def _attribute_rule(rule: dict, tenant_id: str, customers: list[UUID] | None) -> tuple[str, list]:
    where, params = _attribute_match(rule, tenant_id)
    sql = (f"SELECT c.id AS customer_id, ? AS rule, ? AS points, NULL::TIMESTAMPTZ AS occurred_at, "
           f"NULL::BIGINT AS position FROM {_sources(customers)[1]} c WHERE {where}")
    return sql, [rule["name"], rule["points"], *params]


def _points(rules: list[dict], tenant_id: str, customers: list[UUID] | None) -> tuple[str, list]:
    """One row per point-earning match: (customer_id, rule, points, occurred_at, position).
    For some customers, the SQL reads the CTEs of :func:`_with_customers`."""
    parts, params = [], []
    for rule in rules:
        if "event" in rule:
            sql, more = _event_rule(rule, tenant_id, customers)
        elif "attribute" in rule:
            sql, more = _attribute_rule(rule, tenant_id, customers)
        else:
            continue
        parts.append(f"({sql})")
        params += more
    if not parts:
        return ("SELECT NULL::UUID AS customer_id, NULL::VARCHAR AS rule, 0 AS points, "
                "NULL::TIMESTAMPTZ AS occurred_at, NULL::BIGINT AS position WHERE false"), []
    return " UNION ALL ".join(parts), params


def _scores_sql(rules: list[dict], tenant_id: str, now: datetime,
                customers: list[UUID] | None = None, reasons: bool = False) -> tuple[str, list]:
    """SELECT id, name, email, earned, silence_points, last_activity_at, score of the tenant's
    active customers (or of ``customers`` among them; with ``reasons``, for one customer: a list
    of [rule, points, times])."""
    with_them, params = _with_customers(customers)
    points_sql, more = _points(rules, tenant_id, customers)
    params += more
    signals, directory = _sources(customers)
    silence = " + ".join(
        f"({int(rule['points'])} * floor((floor(epoch(?::TIMESTAMPTZ) / 86400) "
        f"- floor(epoch(last_activity_at) / 86400)) / {int(rule['silence_days'])}))"
        for rule in rules if "silence_days" in rule) or "0"
    silence_params = [now] * sum(1 for rule in rules if "silence_days" in rule)
    why = (", (SELECT list([rule, total::VARCHAR, times::VARCHAR] ORDER BY total DESC, rule) "
           "FROM (SELECT rule, sum(points) AS total, count(*) AS times FROM points GROUP BY rule)) "
           "AS reasons" if reasons else "")
    sql = f"""
        WITH {with_them}points AS ({points_sql}),
        earned AS (SELECT customer_id, sum(points) AS earned FROM points GROUP BY 1),
        activity AS (
            SELECT s.customer_id, max(s.occurred_at) AS last_at FROM {signals} s
            WHERE s.tenant_id = ? AND {_ACTIVITY} AND s.occurred_at <= ? GROUP BY 1),
        base AS (
            SELECT c.id, c.name, c.email, coalesce(e.earned, 0) AS earned,
                   greatest(c.created_at, a.last_at) AS last_activity_at
            FROM {directory} c LEFT JOIN earned e ON e.customer_id = c.id
            LEFT JOIN activity a ON a.customer_id = c.id
            WHERE c.tenant_id = ? AND c.status = 'active'),
        silenced AS (SELECT *, least(0, {silence})::INTEGER AS silence_points FROM base)
        SELECT id, name, email, earned::INTEGER AS earned, silence_points, last_activity_at,
               least(100, greatest(0, earned + silence_points))::INTEGER AS score{why}
        FROM silenced"""
    params += [tenant_id, now, tenant_id, *silence_params]
    return sql, params


def top_scores(db, tenant_id: str, now: datetime, *, min_score: int = 0,
               cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Active customers by score, highest first."""
    rules = settings(db, tenant_id)["scoring_rules"]
    sql, params = _scores_sql(rules, tenant_id, now)
    where, more = ["score >= ?"], [min_score]
    if cursor:
        score, last_id = keyset.decode(cursor, 2)
        where.append("(score < ? OR (score = ? AND id > ?::UUID))")
        more += [int(score), int(score), last_id]
    rows = db.execute(f"SELECT id, name, email, score, last_activity_at FROM ({sql}) "
                      f"WHERE {' AND '.join(where)} ORDER BY score DESC, id LIMIT ?",
                      params + more + [limit + 1])
    columns = [d[0] for d in rows.description]
    return keyset.page([dict(zip(columns, row)) for row in rows.fetchall()], limit, ("score", "id"))


SCORE_FIELDS = ("score", "earned", "silence_points", "last_activity_at", "reasons")


def customer_score_sql(rules: list[dict], tenant_id: str, customer_id: UUID,
                       now: datetime) -> tuple[str, list]:
    """One customer's row of :data:`SCORE_FIELDS` (and more), for :func:`score_result`; no row
    for an archived or unknown customer. The 360 view reads it in the statement of its lists."""
    return _scores_sql(rules, tenant_id, now, [customer_id], reasons=True)


def score_result(row: dict[str, Any]) -> dict[str, Any]:
    """The score of a :func:`customer_score_sql` row, with its reasons: points per rule, then
    the silence rules' points."""
    return _result(row["score"], row["earned"], row["silence_points"], row["last_activity_at"],
                   [(rule, int(total), int(times)) for rule, total, times in row["reasons"] or []])


def _result(score: int, earned: int, silence_points: int, last_activity_at: datetime | None,
            reasons: list[tuple[str, int, int]]) -> dict[str, Any]:
    listed = [{"rule": rule, "points": total, "times": times} for rule, total, times in reasons]
    if silence_points:
        listed.append({"rule": "silence", "points": silence_points, "times": 1})
    return {"score": score, "earned": earned, "silence_points": silence_points,
            "last_activity_at": last_activity_at, "reasons": listed}


# -- one customer's score from their rows, for the 360 view --------------------------------
#
# The 360 view's lists are one statement, and DuckDB plans a statement afresh each time: the
# scoring SQL above, for one customer, planned in ~6 ms of the view's ~17 (docs/PERFORMANCE.md,
# "The lead score added up from the customer's rows"). So the view reads the customer's
# signals and directory row as two more lists of its statement, each row flagged by SQL with
# the rules it matches (the conditions above, :func:`_event_match` and
# :func:`_attribute_match`: what matches is decided in one place), and :func:`customer_score`
# adds the points up the way :func:`_scores_sql` does. tests/test_lead_score_paths.py holds
# the two sums equal.

SIGNAL_ORDER = "s.occurred_at, s.position"  # max_times counts a rule's first signals in this order


def _flags(conditions: list[tuple[str, list]]) -> tuple[str, list]:
    if not conditions:
        return "matches := []::BOOLEAN[]", []
    return (f"matches := list_value({', '.join(f'({sql})' for sql, _ in conditions)})",
            [p for _, params in conditions for p in params])


def signal_fields(rules: list[dict], tenant_id: str) -> tuple[tuple[str, ...], list]:
    """The fields of one customer's ``score_signals s`` rows for :func:`customer_score`: when,
    the log position, whether it counts as activity (for silence), and a flag per event rule."""
    flags, params = _flags([_event_match(rule, tenant_id) for rule in rules if "event" in rule])
    return ("s.occurred_at", "s.position", f"active := {_ACTIVITY}", flags), params


def attribute_fields(rules: list[dict], tenant_id: str) -> tuple[tuple[str, ...], list]:
    """The field of the customer's ``customers c`` row for :func:`customer_score`: a flag per
    attribute rule."""
    flags, params = _flags([_attribute_match(rule, tenant_id) for rule in rules
                            if "attribute" in rule])
    return (flags,), params


def customer_score(rules: list[dict], signals: list[dict], attribute_matches: list,
                   created_at: datetime, status: str, now: datetime) -> dict[str, Any] | None:
    """One customer's score from the rows of :func:`signal_fields` (in ``SIGNAL_ORDER``) and
    the flags of :func:`attribute_fields`: what :func:`score_of_customer` answers without its
    history; None for an archived customer."""
    if status != "active":
        return None
    earned_by: dict[str, list[int]] = {}  # rule name -> [points, times], as the SQL groups them

    def earn(rule: dict, times: int) -> None:
        if times:
            entry = earned_by.setdefault(rule["name"], [0, 0])
            entry[0] += rule["points"] * times
            entry[1] += times

    for index, rule in enumerate(r for r in rules if "event" in r):
        earn(rule, len([s for s in signals if s["matches"][index]][:rule.get("max_times")]))
    for index, rule in enumerate(r for r in rules if "attribute" in r):
        earn(rule, 1 if attribute_matches[index] else 0)
    earned = sum(points for points, _ in earned_by.values())
    # greatest() and max() pass over NULLs: a silence of unknown length costs nothing.
    last = max([s["occurred_at"] for s in signals if s["active"] and s["occurred_at"] is not None
                and s["occurred_at"] <= now] + ([created_at] if created_at else []), default=None)
    elapsed = _day(now) - _day(last) if last else None
    silence = 0 if elapsed is None else min(0, sum(
        rule["points"] * (elapsed // rule["silence_days"]) for rule in rules if "silence_days" in rule))
    reasons = sorted(((rule, points, times) for rule, (points, times) in earned_by.items()),
                     key=lambda reason: (-reason[1], reason[0]))
    return _result(min(100, max(0, earned + silence)), earned, silence, last, reasons)


def _day(moment: datetime) -> int:
    """Whole days since the epoch, as ``floor(epoch(moment) / 86400)`` in the SQL above."""
    return (moment - _EPOCH) // timedelta(days=1)


def score_of_customer(db, tenant_id: str, customer_id: UUID, now: datetime,
                      history: bool = True, rules: list[dict] | None = None) -> dict[str, Any] | None:
    """The score with its reasons (points per rule) and its history (the score after each
    scored event, under the current rules); None for an archived or unknown customer.
    ``rules``: the tenant's scoring rules when the caller read them already."""
    rules = settings(db, tenant_id)["scoring_rules"] if rules is None else rules
    sql, params = customer_score_sql(rules, tenant_id, customer_id, now)
    row = db.execute(f"SELECT {', '.join(SCORE_FIELDS)} FROM ({sql})", params).fetchone()
    if row is None:
        return None
    result = score_result(dict(zip(SCORE_FIELDS, row)))
    if history:
        with_them, one_params = _with_customers([customer_id])
        points_sql, points_params = _points(rules, tenant_id, [customer_id])
        result["history"] = [
            {"occurred_at": at, "rule": rule, "points": points, "score": after}
            for at, rule, points, after in db.execute(f"""
                WITH {with_them}points AS ({points_sql}),
                attributes AS (SELECT coalesce(sum(points), 0) AS total FROM points
                               WHERE occurred_at IS NULL)
                SELECT occurred_at, rule, points,
                       least(100, greatest(0, (SELECT total FROM attributes) + sum(points) OVER (
                           ORDER BY occurred_at, position, rule ROWS UNBOUNDED PRECEDING)))::INTEGER
                FROM points WHERE occurred_at IS NOT NULL ORDER BY occurred_at, position, rule""",
                one_params + points_params).fetchall()]
    return result


def scores_sql(db, tenant_id: str, now: datetime,
               customers: list[UUID] | None = None) -> tuple[str, list]:
    """SELECT id, name, email, earned, silence_points, last_activity_at, score (under the
    tenant's current rules; of ``customers`` alone if given) — for queries that filter or join
    on scores."""
    return _scores_sql(settings(db, tenant_id)["scoring_rules"], tenant_id, now, customers)
