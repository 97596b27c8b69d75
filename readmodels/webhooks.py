"""Queries of webhooks: subscriptions, a subscription's deliveries (with each attempt: the
delivery log), and the tenant's dead letters."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

SUBSCRIPTION_COLUMNS = ("id", "url", "event_types", "description", "status", "secret_rotated_at",
                        "created_at", "updated_at")
DELIVERY_COLUMNS = ("id", "subscription_id", "event_id", "event_type", "position", "status",
                    "attempts", "last_status_code", "last_error", "next_attempt_at",
                    "delivered_at", "dead_at", "dead_reason", "replayed_at", "replayed_by",
                    "created_at", "updated_at")
ATTEMPT_COLUMNS = ("attempt", "worker", "started_at", "finished_at", "outcome", "status_code",
                   "error", "duration_ms")


def list_subscriptions(db, tenant_id: str, include_deleted: bool = False) -> list[dict[str, Any]]:
    where = "" if include_deleted else " AND status <> 'deleted'"
    return as_dicts(db.execute(f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM webhook_subscriptions "
                            f"WHERE tenant_id = ?{where} ORDER BY created_at, id", [tenant_id]))


def get_subscription(db, tenant_id: str, subscription_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(SUBSCRIPTION_COLUMNS)} FROM webhook_subscriptions "
                             "WHERE id = ? AND tenant_id = ?", [subscription_id, tenant_id]))
    if not found:
        return None
    subscription = found[0]
    counts = dict(db.execute("SELECT status, count(*) FROM webhook_deliveries "
                             "WHERE subscription_id = ? GROUP BY status", [subscription_id]).fetchall())
    subscription["deliveries"] = {status: counts.get(status, 0)
                                  for status in ("delivering", "waiting", "delivered", "dead")}
    return subscription


def _attempts(db, delivery_ids: list) -> dict[Any, list[dict[str, Any]]]:
    if not delivery_ids:
        return {}
    found: dict[Any, list] = {delivery_id: [] for delivery_id in delivery_ids}
    for row in as_dicts(db.execute(
            f"SELECT delivery_id, {', '.join(ATTEMPT_COLUMNS)} FROM webhook_attempts WHERE "
            f"delivery_id IN ({', '.join('?' * len(delivery_ids))}) ORDER BY delivery_id, attempt",
            delivery_ids)):
        found[row.pop("delivery_id")].append(row)
    return found


def deliveries(db, tenant_id: str, *, subscription_id: UUID | None = None,
               status: str | None = None, cursor: str | None = None,
               limit: int = 50) -> dict[str, Any]:
    """Newest event first, each with its attempts."""
    where, params = ["tenant_id = ?"], [tenant_id]
    if subscription_id:
        where.append("subscription_id = ?")
        params.append(subscription_id)
    if status:
        where.append("status = ?")
        params.append(status)
    if cursor:
        position, last_id = keyset.decode(cursor, 2)
        where.append("(position, id) < (?, ?::UUID)")
        params += [position, last_id]
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM webhook_deliveries WHERE {' AND '.join(where)} "
        "ORDER BY position DESC, id DESC LIMIT ?", params + [limit + 1]))
    result = keyset.page(rows, limit, ("position", "id"))
    attempts = _attempts(db, [row["id"] for row in result["items"]])
    for row in result["items"]:
        row["attempt_log"] = attempts[row["id"]]
    return result


def get_delivery(db, tenant_id: str, delivery_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM webhook_deliveries "
                             "WHERE id = ? AND tenant_id = ?", [delivery_id, tenant_id]))
    if not found:
        return None
    found[0]["attempt_log"] = _attempts(db, [delivery_id])[delivery_id]
    return found[0]
