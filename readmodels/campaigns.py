"""Queries of campaigns: the list, one campaign with its counts, its recipients and who was
left out at launch."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from readmodels import cursor as keyset
from readmodels.rows import as_dicts

CAMPAIGN_COLUMNS = ("id", "name", "channel", "subject", "status", "template_id",
                    "template_version", "audience_chosen", "segment_id", "scheduled_for",
                    "launch_error", "audience_size", "recipients", "suppressed", "per_minute",
                    "launched_at", "completed_at", "created_at", "updated_at")
MESSAGE_COLUMNS = ("id", "customer_id", "channel", "step", "status", "attempts", "error",
                   "to_address", "provider_id", "queued_at", "not_before", "sent_at",
                   "delivered_at", "bounced_at", "failed_at", "opened_at", "clicked_at", "clicks",
                   "unsubscribed_at")
STATUSES = ("queued", "sending", "sent", "delivered", "bounced", "failed", "suppressed")


def list_campaigns(db, tenant_id: str, *, status: str | None = None, cursor: str | None = None,
                   limit: int = 50) -> dict[str, Any]:
    where, params = ["tenant_id = ?"], [tenant_id]
    if status:
        where.append("status = ?")
        params.append(status)
    clause, values = keyset.older_than(cursor, "created_at")
    where += clause
    params += values
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(CAMPAIGN_COLUMNS)} FROM campaigns WHERE {' AND '.join(where)} "
        "ORDER BY created_at DESC, id DESC LIMIT ?", params + [limit + 1]))
    return keyset.page(rows, limit, ("created_at", "id"))


def message_counts(db, where: str, params: list) -> dict[str, int]:
    """Messages by current status, and how many were ever opened, clicked, unsubscribed."""
    statuses = ", ".join(f"count(*) FILTER (WHERE status = '{s}') AS {s}" for s in STATUSES)
    row = as_dicts(db.execute(
        f"SELECT count(*) AS messages, {statuses}, count(opened_at) AS opened, "
        "count(clicked_at) AS clicked, coalesce(sum(clicks), 0) AS clicks, "
        f"count(unsubscribed_at) AS unsubscribed FROM campaign_messages WHERE {where}", params))[0]
    return {key: int(value or 0) for key, value in row.items()}


def get_campaign(db, tenant_id: str, campaign_id: UUID) -> dict[str, Any] | None:
    found = as_dicts(db.execute(f"SELECT {', '.join(CAMPAIGN_COLUMNS)} FROM campaigns "
                             "WHERE id = ? AND tenant_id = ?", [campaign_id, tenant_id]))
    if not found:
        return None
    campaign = found[0]
    campaign["messages"] = message_counts(db, "campaign_id = ?", [campaign_id])
    return campaign


def recipients(db, tenant_id: str, campaign_id: UUID, *, status: str | None = None,
               cursor: str | None = None, limit: int = 50) -> dict[str, Any]:
    """Each recipient's message and where it got to, in the order they were queued."""
    where, params = ["campaign_id = ?", "tenant_id = ?"], [campaign_id, tenant_id]
    if status in ("opened", "clicked", "unsubscribed"):
        where.append(f"{status}_at IS NOT NULL")
    elif status:
        where.append("status = ?")
        params.append(status)
    if cursor:
        queued_at, last_id = keyset.decode(cursor, 2)
        where.append("(queued_at, id) > (?::TIMESTAMPTZ, ?::UUID)")
        params += [queued_at, last_id]
    rows = as_dicts(db.execute(
        f"SELECT {', '.join(MESSAGE_COLUMNS)}, queued_at AS sort_queued FROM campaign_messages "
        f"WHERE {' AND '.join(where)} ORDER BY queued_at, id LIMIT ?", params + [limit + 1]))
    result = keyset.page(rows, limit, ("sort_queued", "id"))
    for row in result["items"]:
        del row["sort_queued"]
    return result


def suppressed(db, tenant_id: str, campaign_id: UUID) -> list[dict[str, Any]]:
    return as_dicts(db.execute(
        "SELECT customer_id, reason FROM campaign_suppressed WHERE campaign_id = ? "
        "AND tenant_id = ? ORDER BY reason, customer_id", [campaign_id, tenant_id]))


def messages_of_customer(db, tenant_id: str, customer_id: UUID, limit: int = 50) -> list[dict[str, Any]]:
    return as_dicts(db.execute(
        f"SELECT {', '.join(MESSAGE_COLUMNS)}, campaign_id, automation_id FROM campaign_messages "
        "WHERE customer_id = ? AND tenant_id = ? ORDER BY queued_at DESC, id LIMIT ?",
        [customer_id, tenant_id, limit]))


def segment_member_ids(db, tenant_id: str, segment_id: UUID) -> list[UUID]:
    """A segment's members now (the segments feature keeps ``segment_members`` current)."""
    return [row[0] for row in db.execute(
        "SELECT m.customer_id FROM segment_members m JOIN customers c ON c.id = m.customer_id "
        "WHERE m.segment_id = ? AND m.is_member AND c.tenant_id = ? ORDER BY m.since, "
        "m.customer_id", [segment_id, tenant_id]).fetchall()]


def segment_lookup(store):
    """For commands and workers that hold a read store: (tenant, segment) -> member ids."""
    if store is None:
        return None
    return lambda tenant_id, segment_id: segment_member_ids(store.reader(), tenant_id, segment_id)
