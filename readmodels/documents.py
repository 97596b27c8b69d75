"""Queries of customers' documents."""

from __future__ import annotations

from typing import Any
from uuid import UUID

COLUMNS = ("id", "filename", "content_type", "size", "sha256", "attached_at", "attached_by")


def documents_of_customer(db, tenant_id: str, customer_id: UUID) -> list[dict[str, Any]]:
    result = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM customer_documents WHERE customer_id = ? "
        "AND tenant_id = ? AND removed_at IS NULL ORDER BY attached_at DESC, id", [customer_id, tenant_id])
    return [dict(zip(COLUMNS, row)) for row in result.fetchall()]


def document(db, tenant_id: str, customer_id: UUID, document_id: UUID) -> dict[str, Any] | None:
    row = db.execute(
        f"SELECT {', '.join(COLUMNS)} FROM customer_documents WHERE id = ? AND customer_id = ? "
        "AND tenant_id = ? AND removed_at IS NULL", [document_id, customer_id, tenant_id]).fetchone()
    return dict(zip(COLUMNS, row)) if row else None
