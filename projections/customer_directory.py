"""Customer directory: one row per customer for listing and searching."""

from __future__ import annotations

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "customer_directory"


def handle(e: Envelope) -> list[Change]:
    key = {"id": e.stream}
    if e.type == "Customer.Registered":
        d = e.data
        return [Upsert("customers", key, set={
            "tenant_id": e.tenant, "name": d["name"], "name_lower": d["name"].lower(),
            "email": d["email"], "phone": d["phone"], "source": d["source"], "tags": [],
            "status": "active", "created_at": e.occurred_at, "updated_at": e.occurred_at})]
    if e.type == "Customer.ProfileUpdated":
        changes = dict(e.data["changes"])
        if "name" in changes:
            changes["name_lower"] = changes["name"].lower()
        return [Upsert("customers", key, set={**changes, "updated_at": e.occurred_at})]
    if e.type == "Customer.TagsChanged":
        return [Upsert("customers", key, set={"tags": e.data["tags"], "updated_at": e.occurred_at})]
    if e.type == "Customer.Archived":
        return [Upsert("customers", key, set={"status": "archived", "updated_at": e.occurred_at})]
    return []
