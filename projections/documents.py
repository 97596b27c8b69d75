"""Documents: one row per document attached to a customer (removed ones are kept, marked)."""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "documents"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    if e.type == "Customer.DocumentAttached":
        return [Upsert("customer_documents", {"id": d["document_id"]}, set={
            "tenant_id": e.tenant, "customer_id": e.stream, "filename": d["filename"],
            "content_type": d["content_type"], "size": d["size"], "sha256": d["sha256"],
            "attached_at": e.occurred_at, "attached_by": e.actor, "removed_at": None})]
    if e.type == "Customer.DocumentRemoved":
        return [Upsert("customer_documents", {"id": d["document_id"]},
                       set={"removed_at": e.occurred_at})]
    return []
