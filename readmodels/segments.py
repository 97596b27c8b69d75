"""Segments on the read side: rule trees compiled to SQL, members, analytics.

A rule (validated by domain/segment.py) becomes one SQL condition over the
active customers ``c`` of a tenant, joined with their summary ``s``, main
spend ``sp``, lifecycle ``l`` and, when the rule needs them, lead scores
``ls`` and RFM ``r`` (both computed as of ``now``). Membership is kept by
:mod:`readmodels.segment_membership`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import orjson

from readmodels import cursor as keyset
from readmodels import lead_scores, rfm

FIELD_SQL = {
    "name": "c.name", "email": "c.email", "phone": "c.phone", "source": "c.source",
    "created_at": "c.created_at", "tag": "c.tags",
    "lifecycle_stage": "coalesce(l.stage, 'customer')", "lead_score": "coalesce(ls.score, 0)",
    "rfm_segment": "r.segment", "lifetime_spend": "coalesce(sp.total, 0)",
    "order_count": "coalesce(s.order_count, 0)", "last_order_at": "s.last_order_at",
    "communication_count": "coalesce(s.communication_count, 0)",
    "last_interaction_at": "s.last_interaction_at",
}
CUSTOM_COLUMN = {"text": "text_value", "select": "text_value", "number": "number_value",
                 "date": "date_value", "boolean": "bool_value", "multi_select": "list_value"}
TEXT_FIELDS = ("name", "email", "phone", "source")


class Compiler:
    """Turns one rule tree into (condition, params) for a tenant at ``now``."""

    def __init__(self, db, tenant_id: str, now: datetime) -> None:
        self.db, self.tenant_id, self.now = db, tenant_id, now
        self.uses: set[str] = set()
        self._kinds: dict[str, str] | None = None

    def custom_kind(self, key: str) -> str | None:
        if self._kinds is None:
            self._kinds = dict(self.db.execute(
                "SELECT key, type FROM custom_field_definitions WHERE tenant_id = ?",
                [self.tenant_id]).fetchall())
        return self._kinds.get(key)

    def compile(self, node: dict[str, Any]) -> tuple[str, list]:
        if "and" in node or "or" in node:
            key = "and" if "and" in node else "or"
            parts = [self.compile(child) for child in node[key]]
            return (f" {key.upper()} ".join(f"({sql})" for sql, _ in parts),
                    [p for _, params in parts for p in params])
        if "not" in node:
            sql, params = self.compile(node["not"])
            return f"NOT coalesce(({sql}), false)", params
        return self.condition(node["field"], node["op"], node.get("value"))

    def condition(self, field: str, op: str, value: Any) -> tuple[str, list]:
        if field.startswith("custom."):
            return self.custom(field[7:], op, value)
        if field.startswith("consent."):
            expr = ("coalesce((SELECT k.status FROM customer_consent k WHERE k.customer_id = c.id "
                    "AND k.channel = ?), 'unknown')")
            return self.compare(expr, [field[8:]], op, value, "choice")
        if field == "lead_score":
            self.uses.add("scores")
        if field == "rfm_segment":
            self.uses.add("rfm")
        if field == "tag":
            sql = "list_contains(c.tags, ?)"
            return (sql if op == "contains" else f"NOT {sql}"), [value]
        kind = ("time" if field in ("created_at", "last_order_at", "last_interaction_at") else
                "text" if field in TEXT_FIELDS else
                "number" if field in ("lead_score", "lifetime_spend", "order_count",
                                      "communication_count") else "choice")
        return self.compare(FIELD_SQL[field], [], op, value, kind)

    def custom(self, key: str, op: str, value: Any) -> tuple[str, list]:
        kind = self.custom_kind(key)
        if kind is None:
            return "false", []
        lookup = "FROM custom_field_values v WHERE v.customer_id = c.id AND v.key = ?"
        if op in ("is_set", "is_not_set"):
            sql = f"EXISTS (SELECT 1 {lookup} AND v.value_json IS NOT NULL)"
            return (sql if op == "is_set" else f"NOT {sql}"), [key]
        column = CUSTOM_COLUMN[kind]
        expr = f"(SELECT v.{column} {lookup})"
        if kind == "multi_select":
            sql = f"coalesce(list_contains({expr}, ?), false)"
            return (sql if op == "contains" else f"NOT {sql}"), [key, value]
        compare_kind = {"number": "number", "date": "date", "boolean": "boolean"}.get(kind, "text")
        return self.compare(expr, [key], op, value, compare_kind)

    def compare(self, expr: str, expr_params: list, op: str, value: Any,
                kind: str) -> tuple[str, list]:
        """``expr`` (whose own parameters are ``expr_params``) compared by ``op``."""
        if op == "is_set":
            return f"{expr} IS NOT NULL", expr_params
        if op == "is_not_set":
            return f"{expr} IS NULL", expr_params
        if kind in ("time", "date"):
            return self.moment(expr, expr_params, op, value, kind)

        def cast(v: Any) -> Any:
            if kind == "number":
                return Decimal(v)
            return v.lower() if kind == "text" else v
        left = f"lower({expr})" if kind == "text" else expr
        if op == "in":
            return (f"{left} IN ({', '.join('?' * len(value))})",
                    expr_params + [cast(v) for v in value])
        if op == "starts_with":
            return f"starts_with({left}, ?)", expr_params + [cast(value)]
        symbol = {"eq": "=", "ne": "IS DISTINCT FROM", "gt": ">", "gte": ">=", "lt": "<",
                  "lte": "<="}[op]
        return f"{left} {symbol} ?", expr_params + [cast(value)]

    def moment(self, expr: str, params: list, op: str, value: Any, kind: str) -> tuple[str, list]:
        if op in ("within_days", "not_within_days"):
            start = self.now - timedelta(days=value)
            bound: Any = start.date() if kind == "date" else start
            if op == "within_days":
                return f"{expr} >= ?", params + [bound]
            return f"({expr} IS NULL OR {expr} < ?)", params + [bound]
        day = date.fromisoformat(value)
        if kind == "time":  # whole UTC days: before 3 March = earlier than 3 March 00:00
            edge = datetime.combine(day if op == "before" else day + timedelta(days=1),
                                    datetime.min.time(), timezone.utc)
        else:
            edge = day if op == "before" else day + timedelta(days=1)
        return f"{expr} {'<' if op == 'before' else '>='} ?", params + [edge]


def members_sql(db, tenant_id: str, rule: dict[str, Any], now: datetime,
                candidates: list[UUID] | None = None,
                breakpoints: Callable[[], rfm.Breakpoints] | None = None) -> tuple[str, list]:
    """SELECT id of the tenant's active customers (among ``candidates``) that match ``rule``.

    For ``candidates`` (the customers of a batch) the spend, lead scores and RFM metrics are
    computed for them alone, with RFM now against the tenant's cached breakpoints
    (:func:`readmodels.rfm.breakpoints`): the projector evaluates every dynamic segment of a
    tenant after each batch, so that cost must follow the batch, not the tenant's size.
    ``breakpoints`` gives them when the caller shares one lookup among several segments
    (each lookup reads the tenant's change token: a statement)."""
    compiler = Compiler(db, tenant_id, now)
    condition, condition_params = compiler.compile(rule)
    spend_of, spend_params = ("tenant_id = ?", [tenant_id]) if candidates is None else (
        "customer_id IN (SELECT unnest(?::UUID[]))", [candidates])
    ctes = [f"spend AS (SELECT customer_id, total FROM customer_spend WHERE {spend_of} "
            "QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY orders DESC, total DESC) = 1)"]
    params: list[Any] = spend_params
    joins = ["LEFT JOIN customer_summaries s ON s.id = c.id",
             "LEFT JOIN spend sp ON sp.customer_id = c.id",
             "LEFT JOIN lifecycle l ON l.customer_id = c.id"]
    if "scores" in compiler.uses:
        sql, more = lead_scores.scores_sql(db, tenant_id, now, candidates)
        ctes.append(f"scores AS ({sql})")
        params += more
        joins.append("LEFT JOIN scores ls ON ls.id = c.id")
    if "rfm" in compiler.uses:
        moment = _rfm_moment(now)
        if moment is None:
            found = breakpoints() if breakpoints else rfm.breakpoints(db, tenant_id, now)
            sql, more = rfm.rfm_sql(tenant_id, None, breakpoints=found, now=now,
                                    customers=candidates)
        else:
            sql, more = rfm.rfm_sql(tenant_id, moment)
        ctes.append(f"rfm_now AS ({sql})")
        params += more
        joins.append("LEFT JOIN rfm_now r ON r.customer_id = c.id")
    where = "c.tenant_id = ? AND c.status = 'active'"
    params.append(tenant_id)
    if candidates is not None:
        where += " AND c.id IN (SELECT unnest(?::UUID[]))"
        params.append(candidates)
    return (f"WITH {', '.join(ctes)} SELECT c.id FROM customers c {' '.join(joins)} "
            f"WHERE {where} AND coalesce(({condition}), false)", params + condition_params)


def _rfm_moment(now: datetime) -> datetime | None:
    """None (RFM from the summaries: fast) when ``now`` is the present; the moment itself (RFM
    from the orders as of then: exact) when replaying history."""
    return None if now >= datetime.now(timezone.utc) - timedelta(hours=1) else now


def uses_relative_fields(rule: dict[str, Any]) -> bool:
    """True if membership can change without an event about the customer (scores relative to
    others or to time): such segments are re-evaluated for everyone."""
    text = orjson.dumps(rule).decode()
    return any(f'"{needle}"' in text for needle in (
        "rfm_segment", "lead_score", "within_days", "not_within_days"))


# -- queries -------------------------------------------------------------------------------------

SEGMENT_COLUMNS = ("id", "name", "kind", "rule", "description", "created_at", "updated_at")


def list_segments(db, tenant_id: str, segment_id: UUID | None = None) -> list[dict[str, Any]]:
    """The tenant's segments with their sizes (or only ``segment_id``: its members alone are
    counted)."""
    only, params = (" AND g.id = ?", [segment_id]) if segment_id else ("", [])
    result = db.execute(
        f"SELECT {', '.join('g.' + c for c in SEGMENT_COLUMNS)}, "
        "(SELECT count(*) FROM segment_members m WHERE m.segment_id = g.id AND m.is_member) AS size "
        f"FROM segments g WHERE g.tenant_id = ? AND NOT g.deleted{only} ORDER BY g.name, g.id",
        [tenant_id, *params])
    return [_segment(dict(zip((*SEGMENT_COLUMNS, "size"), row))) for row in result.fetchall()]


def get_segment(db, tenant_id: str, segment_id: UUID) -> dict[str, Any] | None:
    found = list_segments(db, tenant_id, segment_id)
    return found[0] if found else None


def _segment(row: dict[str, Any]) -> dict[str, Any]:
    row["rule"] = orjson.loads(row["rule"]) if row["rule"] else None
    return row


def members(db, tenant_id: str, segment_id: UUID, *, cursor: str | None = None,
            limit: int = 50) -> dict[str, Any]:
    where, params = ["m.segment_id = ?", "m.is_member", "c.tenant_id = ?"], [segment_id, tenant_id]
    if cursor:
        name, last_id = keyset.decode(cursor, 2)
        where.append("(c.name, c.id) > (?, ?::UUID)")
        params += [name, last_id]
    result = db.execute(
        "SELECT c.id, c.name, c.email, m.since FROM segment_members m JOIN customers c "
        f"ON c.id = m.customer_id WHERE {' AND '.join(where)} ORDER BY c.name, c.id LIMIT ?",
        params + [limit + 1])
    rows = [dict(zip(("id", "name", "email", "since"), row)) for row in result.fetchall()]
    return keyset.page(rows, limit, ("name", "id"))


def analytics(db, tenant_id: str, segment_id: UUID, now: datetime,
              since: datetime | None = None, until: datetime | None = None) -> dict[str, Any]:
    """Size over time (after each day with entries or exits), the current members' revenue and
    average order value per currency (orders in [since, until) if given), and their RFM mix."""
    sizes = [{"day": day, "size": size} for day, size in db.execute(
        "SELECT day, sum(delta) OVER (ORDER BY day)::INTEGER FROM (SELECT changed_at::DATE AS day, "
        "sum(CASE WHEN entered THEN 1 ELSE -1 END) AS delta FROM segment_changes "
        "WHERE segment_id = ? GROUP BY 1) ORDER BY day", [segment_id]).fetchall()]
    window, params = "", [segment_id, tenant_id]
    if since:
        window += " AND o.occurred_at >= ?"
        params.append(since)
    if until:
        window += " AND o.occurred_at < ?"
        params.append(until)
    revenue = [{"currency": currency, "revenue": str(total), "orders": orders,
                "average_order_value": str((total / orders).quantize(Decimal("0.01")))}
               for currency, total, orders in db.execute(
                   "SELECT o.currency, sum(o.amount), count(*) FROM orders o JOIN segment_members m "
                   "ON m.customer_id = o.customer_id AND m.segment_id = ? AND m.is_member "
                   f"WHERE o.tenant_id = ?{window} GROUP BY o.currency ORDER BY 3 DESC, 1",
                   params).fetchall()]
    size = db.execute("SELECT count(*) FROM segment_members WHERE segment_id = ? AND is_member",
                      [segment_id]).fetchone()[0]
    sql, rfm_params = rfm.rfm_sql(tenant_id, _rfm_moment(now))
    mix = dict(db.execute(
        f"SELECT r.segment, count(*) FROM ({sql}) r JOIN segment_members m ON m.customer_id = "
        "r.customer_id AND m.segment_id = ? AND m.is_member GROUP BY 1",
        rfm_params + [segment_id]).fetchall())
    with_orders = sum(mix.values())
    return {"size": size, "size_over_time": sizes, "revenue": revenue,
            "rfm_share": [{"segment": name, "customers": mix.get(name, 0),
                           "share": round(mix.get(name, 0) / with_orders, 4) if with_orders else 0.0}
                          for name in rfm.SEGMENT_NAMES],
            "without_orders": size - with_orders}
