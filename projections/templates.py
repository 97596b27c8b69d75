"""Templates: one row per template, one per version (with its source, status and reviewer)."""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "templates"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    template = {"id": e.stream}
    touched = {"updated_at": e.occurred_at}
    match e.type:
        case "Template.Created":
            return [Upsert("templates", template, set={
                "tenant_id": e.tenant, "name": d["name"], "channel": d["channel"],
                "status": "active", "created_at": e.occurred_at, **touched})]
        case "Template.VersionDrafted":
            return [
                Upsert("template_versions", {"template_id": e.stream, "version": d["version"]}, set={
                    "tenant_id": e.tenant, "subject": d["subject"], "html": d["html"],
                    "text": d["text"], "sms": orjson.dumps(d["sms"]).decode() if d["sms"] else None,
                    "note": d["note"], "status": "draft", "drafted_at": e.occurred_at,
                    "drafted_by": e.actor}),
                Upsert("templates", template, set=touched, greatest={"latest_version": d["version"]})]
        case "Template.VersionApproved" | "Template.VersionRejected":
            approved = e.type == "Template.VersionApproved"
            changes: list[Change] = [Upsert(
                "template_versions", {"template_id": e.stream, "version": d["version"]}, set={
                    "status": "approved" if approved else "rejected", "reviewed_at": e.occurred_at,
                    "reviewed_by": e.actor,
                    "review_note": d["note"] if approved else d["reason"]})]
            greatest = {"approved_version": d["version"]} if approved else {}
            return changes + [Upsert("templates", template, set=touched, greatest=greatest)]
        case "Template.Archived":
            return [Upsert("templates", template, set={"status": "archived", **touched})]
    return []
