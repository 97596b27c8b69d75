"""Queries of preferences and consent. No record for a channel means no consent: marketing
needs an opt-in."""

from __future__ import annotations

from typing import Any
from uuid import UUID

CHUNK = 1000


def lookup(db, tenant_id: str, channel: str, customer_ids: list[UUID]) -> list[dict[str, Any]]:
    """For each id of a customer of this tenant: its consent on ``channel`` and whether
    contacting it is allowed (opted in, and not archived). Ids of no customer here are left out."""
    ids = list(dict.fromkeys(customer_ids))
    found: list[dict[str, Any]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        result = db.execute(
            "SELECT c.id, coalesce(k.status, 'unknown'), k.source, k.occurred_at, c.status "
            "FROM customers c LEFT JOIN customer_consent k ON k.customer_id = c.id AND k.channel = ? "
            f"WHERE c.tenant_id = ? AND c.id IN ({', '.join('?' * len(chunk))})",
            [channel, tenant_id, *chunk])
        found += [{"customer_id": row[0], "channel": channel, "status": row[1], "source": row[2],
                   "occurred_at": row[3],
                   "allowed": row[1] == "opted_in" and row[4] != "archived"}
                  for row in result.fetchall()]
    order = {customer_id: index for index, customer_id in enumerate(ids)}
    return sorted(found, key=lambda row: order[row["customer_id"]])


def allowed(db, tenant_id: str, channel: str, customer_ids: list[UUID]) -> set[UUID]:
    """The customers among ``customer_ids`` who opted in to ``channel``: whom a campaign may reach."""
    return {row["customer_id"] for row in lookup(db, tenant_id, channel, customer_ids)
            if row["allowed"]}
