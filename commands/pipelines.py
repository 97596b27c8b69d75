"""Pipeline commands: create, rename, add / update / reorder / archive / restore stages, automation."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command, DecimalString
from domain.base import Meta
from domain.pipeline import MAX_STAGES, Pipeline


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class StageIn(_Strict):
    id: str | None = Field(default=None, max_length=50,
                           description="Stable id deals refer to; derived from the name if omitted")
    name: str = Field(max_length=100)
    probability: int | None = Field(default=None, ge=0, le=100,
                                    description="Default win probability in percent")
    rotting_days: int | None = Field(default=None, ge=1, le=3650,
                                     description="Days without activity after which a deal rots")
    kind: Literal["open", "won", "lost"] = "open"


class CreatePipeline(Command):
    name: str = Field(max_length=200)
    stages: list[StageIn] = Field(min_length=1, max_length=MAX_STAGES)


class RenamePipeline(Command):
    name: str = Field(max_length=200)


class AddStage(StageIn):
    position: int | None = Field(default=None, ge=0, description="Default: after the last stage")


class UpdateStage(Command):
    name: str | None = Field(default=None, max_length=100)
    probability: int | None = Field(default=None, ge=0, le=100)
    rotting_days: int | None = Field(default=None, ge=1, le=3650)


class ReorderStages(Command):
    order: list[str] = Field(min_length=1, max_length=MAX_STAGES)


class FollowUp(_Strict):
    title: str = Field(max_length=300)
    due_in_days: int = Field(default=1, ge=0, le=365)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"


class MoveRule(_Strict):
    when: Literal["quote_accepted", "quote_sent", "value_at_least"]
    to_stage: str = Field(max_length=50)
    from_stages: list[str] = Field(default_factory=list, max_length=MAX_STAGES,
                                   description="Only from these stages (empty: any open stage)")
    amount: DecimalString | None = Field(default=None, description="For value_at_least")


class ConfigureAutomation(Command):
    follow_up_on_enter: dict[str, FollowUp] = Field(
        default_factory=dict, description="stage id -> the task to create when a deal enters it")
    idle_follow_up_days: int | None = Field(
        default=None, ge=1, le=365, description="A follow-up task after this many days without activity")
    notify_owner_when_rotting: bool = True
    move_rules: list[MoveRule] = Field(default_factory=list, max_length=20)


class Empty(Command):
    pass


def create(crm: Crm, meta: Meta, cmd: CreatePipeline, idem: Idempotency | None = None) -> Outcome:
    stages = [stage.model_dump() for stage in cmd.stages]
    return crm.create(meta, lambda: Pipeline.create(meta, cmd.name, stages), idem)


def rename(crm: Crm, meta: Meta, pipeline_id: UUID, cmd: RenamePipeline,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.rename(meta, cmd.name),
                      expected_version, idem)


def add_stage(crm: Crm, meta: Meta, pipeline_id: UUID, cmd: AddStage,
              expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    stage = cmd.model_dump(exclude={"position"})
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.add_stage(meta, stage, cmd.position),
                      expected_version, idem)


def update_stage(crm: Crm, meta: Meta, pipeline_id: UUID, stage_id: str, cmd: UpdateStage,
                 expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    fields = cmd.model_dump(exclude_unset=True)
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.update_stage(meta, stage_id, **fields),
                      expected_version, idem)


def reorder_stages(crm: Crm, meta: Meta, pipeline_id: UUID, cmd: ReorderStages,
                   expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.reorder_stages(meta, cmd.order),
                      expected_version, idem)


def archive_stage(crm: Crm, meta: Meta, pipeline_id: UUID, stage_id: str,
                  expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.archive_stage(meta, stage_id),
                      expected_version, idem)


def restore_stage(crm: Crm, meta: Meta, pipeline_id: UUID, stage_id: str,
                  expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.restore_stage(meta, stage_id),
                      expected_version, idem)


def configure_automation(crm: Crm, meta: Meta, pipeline_id: UUID, cmd: ConfigureAutomation,
                         expected_version: int | None = None,
                         idem: Idempotency | None = None) -> Outcome:
    rules = cmd.model_dump(mode="json")
    return crm.change(Pipeline, pipeline_id, meta, lambda p: p.configure_automation(meta, rules),
                      expected_version, idem)
