"""Pipelines: one row per pipeline and one per stage (its current position, name, probability).

The built-in default pipeline has no events and so no rows here; its stages
come from :data:`domain.pipeline.DEFAULT_STAGES` at query time.
"""

from __future__ import annotations

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "pipelines"


def _stage(e: Envelope, stage_id: str, **row) -> Upsert:
    return Upsert("pipeline_stages", {"pipeline_id": e.stream, "stage_id": stage_id},
                  set={"tenant_id": e.tenant, **row})


def _positions(e: Envelope, order: list[str]) -> list[Change]:
    return [_stage(e, stage_id, position=index) for index, stage_id in enumerate(order)]


def handle(e: Envelope) -> list[Change]:
    if not e.type.startswith("Pipeline."):
        return []
    d = e.data
    pipeline = {"tenant_id": e.tenant, "updated_at": e.occurred_at, "version": e.version}
    changes: list[Change] = []
    match e.type:
        case "Pipeline.Created":
            pipeline.update(name=d["name"], created_at=e.occurred_at, automation="{}")
            changes = [_stage(e, s["id"], position=i, name=s["name"], probability=s["probability"],
                              rotting_days=s["rotting_days"], kind=s["kind"], archived=s["archived"])
                       for i, s in enumerate(d["stages"])]
        case "Pipeline.Renamed":
            pipeline["name"] = d["name"]
        case "Pipeline.StageAdded":
            s = d["stage"]
            changes = [_stage(e, s["id"], name=s["name"], probability=s["probability"],
                              rotting_days=s["rotting_days"], kind=s["kind"], archived=False),
                       *_positions(e, d["order"])]
        case "Pipeline.StageUpdated":
            changes = [_stage(e, d["stage_id"], **d["changes"])]
        case "Pipeline.StagesReordered":
            changes = _positions(e, d["order"])
        case "Pipeline.StageArchived":
            changes = [_stage(e, d["stage_id"], archived=True)]
        case "Pipeline.StageRestored":
            changes = [_stage(e, d["stage_id"], archived=False)]
        case "Pipeline.AutomationConfigured":
            pipeline["automation"] = orjson.dumps(d["rules"]).decode()
    return [Upsert("pipelines", {"id": e.stream}, set=pipeline), *changes]
