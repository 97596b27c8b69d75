"""Segments: one row per segment definition (name, kind, rule). Membership is kept by the
projector after each batch (readmodels/segment_membership.py), not here."""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "segments"


def handle(e: Envelope) -> list[Change]:
    d = e.data
    match e.type:
        case "Segment.Defined":
            row = {"tenant_id": e.tenant, "name": d["name"], "kind": d["kind"],
                   "rule": orjson.dumps(d["rule"]).decode() if d["rule"] is not None else None,
                   "description": d["description"], "deleted": False, "created_at": e.occurred_at}
        case "Segment.RuleChanged":
            row = {"rule": orjson.dumps(d["rule"]).decode()}
        case "Segment.Renamed":
            row = {"name": d["name"]}
        case "Segment.Deleted":
            row = {"deleted": True}
        case _:
            return []
    return [Upsert("segments", {"id": e.stream}, set={**row, "updated_at": e.occurred_at})]
