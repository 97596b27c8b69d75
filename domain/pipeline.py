"""The Pipeline: an ordered list of stages a vendor's deals move through.

A tenant has several pipelines (wholesale orders, custom commissions,
subscriptions). Each stage has a stable id (deals and history refer to it), a
name people see, a default win probability, the days without activity after
which a deal in it is "rotting", and a kind: ``open`` stages hold deals being
worked on, a ``won`` or ``lost`` stage holds closed deals.

Stages are never deleted, only archived: deals already in an archived stage
stay there and their history keeps its meaning, but no deal moves into it.

Deals opened without a pipeline use :data:`DEFAULT_STAGES` (lead, qualified,
proposal, negotiation): the tenant's built-in default pipeline, which has no
aggregate of its own.
"""

from __future__ import annotations

import re
from typing import Any

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

KINDS = ("open", "won", "lost")
MAX_STAGES = 50
_STAGE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}$")

# The built-in default pipeline: (id, name, probability %, rotting days).
DEFAULT_STAGES: tuple[dict[str, Any], ...] = tuple(
    {"id": stage_id, "name": name, "probability": probability, "rotting_days": rotting,
     "kind": "open", "archived": False}
    for stage_id, name, probability, rotting in (
        ("lead", "Lead", 10, 30), ("qualified", "Qualified", 25, 21),
        ("proposal", "Proposal", 50, 14), ("negotiation", "Negotiation", 75, 14)))


def default_stage(stage_id: str) -> dict[str, Any]:
    """A stage of the built-in default pipeline, or a DomainError naming the allowed ones."""
    for stage in DEFAULT_STAGES:
        if stage["id"] == stage_id:
            return stage
    raise DomainError(f"stage must be one of {', '.join(s['id'] for s in DEFAULT_STAGES)}", "stage")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:50] or "stage"


def _probability(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise DomainError("probability must be a whole percentage from 0 to 100", field)
    return value


def _rotting_days(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise DomainError("rotting_days must be a whole number of days from 1 to 3650", field)
    return value


def _stage(raw: dict[str, Any], taken: set[str], field: str) -> dict[str, Any]:
    name = text(raw.get("name"), f"{field}.name", 100, required=True)
    kind = raw.get("kind") or "open"
    if kind not in KINDS:
        raise DomainError(f"kind must be one of {', '.join(KINDS)}", f"{field}.kind")
    stage_id = raw.get("id")
    if stage_id is None:
        stage_id, n = slug(name), 2
        while stage_id in taken:
            stage_id, n = f"{slug(name)[:46]}-{n}", n + 1
    elif not _STAGE_ID.match(stage_id):
        raise DomainError("a stage id has 1 to 50 lower-case letters, digits, '-' or '_'", f"{field}.id")
    elif stage_id in taken:
        raise DomainError(f"stage id {stage_id!r} is already used in this pipeline", f"{field}.id")
    default = {"open": 10, "won": 100, "lost": 0}[kind]
    probability = raw.get("probability")
    return {"id": stage_id, "name": name, "kind": kind, "archived": False,
            "probability": _probability(default if probability is None else probability,
                                        f"{field}.probability"),
            "rotting_days": _rotting_days(raw.get("rotting_days"), f"{field}.rotting_days")}


def _check_kinds(stages: list[dict[str, Any]], field: str) -> None:
    active = [s for s in stages if not s["archived"]]
    if not any(s["kind"] == "open" for s in active):
        raise DomainError("a pipeline needs at least one open stage", field)
    for kind in ("won", "lost"):
        if sum(s["kind"] == kind for s in active) > 1:
            raise DomainError(f"a pipeline has at most one {kind} stage", field)


class Pipeline(CrmAggregate):
    """State: name, stages (ordered list of stage dicts), automation (rules dict)."""

    class Created(CrmAggregate.Created):
        name: str
        stages: list[dict]

        def apply(self, pipeline: Pipeline) -> None:
            super().apply(pipeline)
            pipeline.name = self.name
            pipeline.stages = [dict(s) for s in self.stages]
            pipeline.automation = {}

    class Renamed(CrmAggregate.Event):
        previous_name: str
        name: str

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.name = self.name

    class StageAdded(CrmAggregate.Event):
        stage: dict
        position: int
        order: list[str]  # every stage id, in order, after the addition

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.stages.insert(self.position, dict(self.stage))

    class StageUpdated(CrmAggregate.Event):
        stage_id: str
        changes: dict

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.stage(self.stage_id).update(self.changes)

    class StagesReordered(CrmAggregate.Event):
        previous_order: list[str]
        order: list[str]

        def apply(self, pipeline: Pipeline) -> None:
            by_id = {s["id"]: s for s in pipeline.stages}
            pipeline.stages = [by_id[stage_id] for stage_id in self.order]

    class StageArchived(CrmAggregate.Event):
        stage_id: str

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.stage(self.stage_id)["archived"] = True

    class StageRestored(CrmAggregate.Event):
        stage_id: str

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.stage(self.stage_id)["archived"] = False

    class AutomationConfigured(CrmAggregate.Event):
        rules: dict

        def apply(self, pipeline: Pipeline) -> None:
            pipeline.automation = dict(self.rules)

    # -- commands ---------------------------------------------------------------------------

    @classmethod
    def create(cls, meta: Meta, name: str, stages: list[dict[str, Any]]) -> Pipeline:
        if not stages:
            raise DomainError("a pipeline needs at least one stage", "stages")
        if len(stages) > MAX_STAGES:
            raise DomainError(f"a pipeline has at most {MAX_STAGES} stages", "stages")
        made: list[dict[str, Any]] = []
        for index, raw in enumerate(stages):
            made.append(_stage(raw, {s["id"] for s in made}, f"stages[{index}]"))
        _check_kinds(made, "stages")
        return cls._start(cls.Created, meta, name=text(name, "name", 200, required=True), stages=made)

    def rename(self, meta: Meta, name: str) -> None:
        name = text(name, "name", 200, required=True)
        if name != self.name:
            self._record(self.Renamed, meta, previous_name=self.name, name=name)

    def add_stage(self, meta: Meta, stage: dict[str, Any], position: int | None = None) -> str:
        if len(self.stages) >= MAX_STAGES:
            raise DomainError(f"a pipeline has at most {MAX_STAGES} stages", "stages")
        made = _stage(stage, {s["id"] for s in self.stages}, "stage")
        if position is None:
            position = len(self.stages)
        if not 0 <= position <= len(self.stages):
            raise DomainError(f"position must be from 0 to {len(self.stages)}", "position")
        _check_kinds(self.stages + [made], "kind")
        order = [s["id"] for s in self.stages]
        order.insert(position, made["id"])
        self._record(self.StageAdded, meta, stage=made, position=position, order=order)
        return made["id"]

    def update_stage(self, meta: Meta, stage_id: str, **fields: Any) -> None:
        """Changes a stage's name, default probability or rotting days (only what differs)."""
        stage = self._known(stage_id)
        checks = {"name": lambda v: text(v, "name", 100, required=True),
                  "probability": lambda v: _probability(v, "probability"),
                  "rotting_days": lambda v: _rotting_days(v, "rotting_days")}
        changes = {}
        for field, value in fields.items():
            if field not in checks:
                raise DomainError(f"{field} cannot be changed on a stage", field)
            value = checks[field](value)
            if value != stage[field]:
                changes[field] = value
        if changes:
            self._record(self.StageUpdated, meta, stage_id=stage_id, changes=changes)

    def reorder_stages(self, meta: Meta, order: list[str]) -> None:
        current = [s["id"] for s in self.stages]
        if sorted(order) != sorted(current) or len(set(order)) != len(order):
            missing = sorted(set(current) - set(order))
            unknown = sorted(set(order) - set(current))
            detail = "; ".join(filter(None, [missing and f"missing {', '.join(missing)}",
                                             unknown and f"unknown {', '.join(unknown)}"]))
            raise DomainError("order must list every stage id of the pipeline exactly once"
                              + (f" ({detail})" if detail else ""), "order")
        if order != current:
            self._record(self.StagesReordered, meta, previous_order=current, order=list(order))

    def archive_stage(self, meta: Meta, stage_id: str) -> None:
        stage = self._known(stage_id)
        if stage["archived"]:
            raise InvalidTransition(f"stage {stage_id!r} is already archived")
        _check_kinds([s if s is not stage else {**s, "archived": True} for s in self.stages],
                     "stage_id")
        self._record(self.StageArchived, meta, stage_id=stage_id)

    def restore_stage(self, meta: Meta, stage_id: str) -> None:
        stage = self._known(stage_id)
        if not stage["archived"]:
            raise InvalidTransition(f"stage {stage_id!r} is not archived")
        _check_kinds([s if s is not stage else {**s, "archived": False} for s in self.stages],
                     "stage_id")
        self._record(self.StageRestored, meta, stage_id=stage_id)

    def configure_automation(self, meta: Meta, rules: dict[str, Any]) -> None:
        for stage_id in rules.get("follow_up_on_enter", {}):
            self._known(stage_id, "follow_up_on_enter")
        for index, rule in enumerate(rules.get("move_rules", [])):
            self._known(rule["to_stage"], f"move_rules[{index}].to_stage")
        if rules != self.automation:
            self._record(self.AutomationConfigured, meta, rules=rules)

    # -- what deals ask of their pipeline ----------------------------------------------------

    def stage(self, stage_id: str) -> dict[str, Any]:
        for stage in self.stages:
            if stage["id"] == stage_id:
                return stage
        raise KeyError(stage_id)

    def target(self, stage_id: str) -> dict[str, Any]:
        """The stage a deal may move into now; refuses unknown and archived stages clearly."""
        stage = self._known(stage_id, "stage")
        if stage["archived"]:
            raise DomainError(f"stage {stage_id!r} ({stage['name']}) is archived in pipeline "
                              f"{self.name!r}: deals can no longer move into it", "stage")
        return stage

    def closing_stage(self, kind: str) -> dict[str, Any] | None:
        """The active won (or lost) stage deals move to when they close, if the pipeline has one."""
        return next((s for s in self.stages if s["kind"] == kind and not s["archived"]), None)

    def _known(self, stage_id: str, field: str = "stage_id") -> dict[str, Any]:
        try:
            return self.stage(stage_id)
        except KeyError:
            raise DomainError(f"pipeline {self.name!r} has no stage {stage_id!r} (its stages: "
                              f"{', '.join(s['id'] for s in self.stages)})", field) from None
