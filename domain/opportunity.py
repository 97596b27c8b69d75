"""The Opportunity: a deal the vendor is working on with one customer.

Status is ``open`` until the deal is won or lost, and ``open`` again when it
is reopened; only open deals change value or stage. A deal belongs to one
pipeline (``pipeline_id``), or to the tenant's built-in default pipeline
(lead, qualified, proposal, negotiation) when it has none; the handler passes
the deal's :class:`~domain.pipeline.Pipeline` in, so a stage is checked
against the pipeline as it is now (an archived stage takes no new deals).

Like Salesforce's opportunity history, every stage move records the previous
and new stage with the deal's amount, probability and expected close date at
that moment, so history, time in stage and forecasts as of any past day are
derived without reading older events. Deal events may carry ``occurred_at``
(imported history from another tool); times only move forward per deal.

Its value is either derived from its line items (``value_mode`` "items") or
set by hand ("manual"); setting line items derives it again.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.lines import line_items, subtotal
from domain.pipeline import DEFAULT_STAGES as DEFAULT_PIPELINE_STAGES
from domain.pipeline import Pipeline, default_stage
from domain.values import money, text, utc

# The stage ids of the built-in default pipeline, for deals opened without a pipeline.
DEFAULT_STAGES = tuple(stage["id"] for stage in DEFAULT_PIPELINE_STAGES)
MAX_CONTACTS = 50
EDITABLE = ("title", "owner", "source", "expected_close", "probability")


def _stage(stage: str) -> str:
    return default_stage(stage)["id"]


def _default_probability(stage_id: str) -> int:
    return next((s["probability"] for s in DEFAULT_PIPELINE_STAGES if s["id"] == stage_id), 10)


def _probability(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise DomainError("probability must be a whole percentage from 0 to 100", "probability")
    return value


class Opportunity(CrmAggregate):
    """State: customer_id, title, value, currency, stage, expected_close, owner, status,
    pipeline_id, probability, source, contact_ids, line_items, value_mode, open_stage,
    reason, changed_at (the business time of the latest change)."""

    class Opened(CrmAggregate.Created):
        class_version = 2
        customer_id: UUID
        title: str
        value: Decimal
        currency: str
        stage: str
        expected_close: date | None
        owner: str | None
        pipeline_id: UUID | None
        probability: int | None
        source: str | None
        contact_ids: list
        line_items: list
        occurred_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(pipeline_id=None, probability=None, source=None, contact_ids=[],
                         line_items=[], occurred_at=None)

        def apply(self, deal: Opportunity) -> None:
            super().apply(deal)
            deal.customer_id = self.customer_id
            deal.title = self.title
            deal.value = self.value
            deal.currency = self.currency
            deal.stage = self.stage
            deal.open_stage = self.stage
            deal.expected_close = self.expected_close
            deal.owner = self.owner
            deal.status = "open"
            deal.pipeline_id = self.pipeline_id
            deal.probability = (self.probability if self.probability is not None
                                else _default_probability(self.stage))
            deal.source = self.source
            deal.contact_ids = list(self.contact_ids)
            deal.line_items = [dict(item) for item in self.line_items]
            deal.value_mode = "items" if self.line_items and self.value == subtotal(self.line_items) \
                else "manual"
            deal.reason = None
            deal.changed_at = self.occurred_at or self.timestamp

    class ValueChanged(CrmAggregate.Event):
        customer_id: UUID
        previous_value: Decimal
        value: Decimal
        currency: str

        def apply(self, deal: Opportunity) -> None:
            deal.value = self.value
            deal.currency = self.currency
            deal.value_mode = "manual"

    class LineItemsChanged(CrmAggregate.Event):
        customer_id: UUID
        line_items: list
        previous_value: Decimal
        value: Decimal
        currency: str

        def apply(self, deal: Opportunity) -> None:
            deal.line_items = [dict(item) for item in self.line_items]
            deal.value = self.value
            deal.value_mode = "items" if self.line_items else deal.value_mode

    class DetailsChanged(CrmAggregate.Event):
        customer_id: UUID
        changes: dict

        def apply(self, deal: Opportunity) -> None:
            for field, value in self.changes.items():
                setattr(deal, field, value)

    class ContactLinked(CrmAggregate.Event):
        customer_id: UUID
        contact_id: UUID
        contact_ids: list  # all linked contacts after the change

        def apply(self, deal: Opportunity) -> None:
            deal.contact_ids = list(self.contact_ids)

    class ContactUnlinked(CrmAggregate.Event):
        customer_id: UUID
        contact_id: UUID
        contact_ids: list

        def apply(self, deal: Opportunity) -> None:
            deal.contact_ids = list(self.contact_ids)

    class StageMoved(CrmAggregate.Event):
        class_version = 2
        customer_id: UUID
        previous_stage: str
        stage: str
        pipeline_id: UUID | None
        amount: Decimal | None
        probability: int | None
        expected_close: date | None
        occurred_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(pipeline_id=None, amount=None, probability=None, expected_close=None,
                         occurred_at=None)

        def apply(self, deal: Opportunity) -> None:
            deal.stage = self.stage
            deal.open_stage = self.stage
            if self.probability is not None:
                deal.probability = self.probability
            deal.changed_at = self.occurred_at or self.timestamp

    class Won(CrmAggregate.Event):
        class_version = 2
        customer_id: UUID
        value: Decimal
        currency: str
        reason: str | None
        pipeline_id: UUID | None
        previous_stage: str | None
        stage: str | None
        occurred_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(reason=None, pipeline_id=None, previous_stage=None, stage=None,
                         occurred_at=None)

        def apply(self, deal: Opportunity) -> None:
            deal.status = "won"
            deal.reason = self.reason
            deal.probability = 100
            deal.stage = self.stage or deal.stage
            deal.changed_at = self.occurred_at or self.timestamp

    class Lost(CrmAggregate.Event):
        class_version = 2
        customer_id: UUID
        reason: str
        pipeline_id: UUID | None
        previous_stage: str | None
        stage: str | None
        occurred_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state.update(pipeline_id=None, previous_stage=None, stage=None, occurred_at=None)

        def apply(self, deal: Opportunity) -> None:
            deal.status = "lost"
            deal.reason = self.reason
            deal.probability = 0
            deal.stage = self.stage or deal.stage
            deal.changed_at = self.occurred_at or self.timestamp

    class Reopened(CrmAggregate.Event):
        customer_id: UUID
        previous_status: str
        pipeline_id: UUID | None
        previous_stage: str
        stage: str
        probability: int
        occurred_at: datetime | None

        def apply(self, deal: Opportunity) -> None:
            deal.status = "open"
            deal.reason = None
            deal.stage = self.stage
            deal.open_stage = self.stage
            deal.probability = self.probability
            deal.changed_at = self.occurred_at or self.timestamp

    # -- commands ---------------------------------------------------------------------------

    @classmethod
    def open(cls, meta: Meta, customer_id: UUID, title: str, value: Decimal | str | None,
             currency: str, stage: str | None = None, expected_close: date | None = None,
             owner: str | None = None, pipeline: Pipeline | None = None, source: str | None = None,
             contact_ids: list[UUID] | tuple = (), line_items: list[dict] | None = None,
             probability: int | None = None, occurred_at: datetime | None = None) -> Opportunity:
        """Opens a deal; without ``value`` its value is the sum of its line items."""
        _, currency = money(0, currency, "value")
        items = _items(line_items or [], currency)
        if value is None:
            if not items:
                raise DomainError("value is required unless line items are given", "value")
            value = subtotal(items)
        value, currency = money(value, currency, "value")
        if pipeline is None:
            target = default_stage(stage or DEFAULT_STAGES[0])
        else:
            stage = stage or next(s["id"] for s in pipeline.stages
                                  if s["kind"] == "open" and not s["archived"])
            target = pipeline.target(stage)
            if target["kind"] != "open":
                raise DomainError(f"a deal opens in an open stage, not the {target['kind']} stage "
                                  f"{stage!r}", "stage")
        contacts = list(dict.fromkeys(contact_ids))
        if len(contacts) > MAX_CONTACTS:
            raise DomainError(f"a deal has at most {MAX_CONTACTS} linked contacts", "contact_ids")
        return cls._start(
            cls.Opened, meta, customer_id=customer_id,
            title=text(title, "title", 200, required=True), value=value, currency=currency,
            stage=target["id"], expected_close=expected_close, owner=text(owner, "owner", 200),
            pipeline_id=pipeline.id if pipeline else None,
            probability=target["probability"] if probability is None else _probability(probability),
            source=text(source, "source", 100), contact_ids=contacts, line_items=items,
            occurred_at=_past(occurred_at) if occurred_at else None,
        )

    def change_value(self, meta: Meta, value: Decimal | str, currency: str | None = None) -> None:
        """Sets the value by hand (it is no longer derived from the line items)."""
        self._refuse_unless_open()
        value, currency = money(value, currency or self.currency, "value")
        if (value, currency) != (self.value, self.currency):
            self._record(self.ValueChanged, meta, customer_id=self.customer_id,
                         previous_value=self.value, value=value, currency=currency)

    def set_line_items(self, meta: Meta, items: list[dict[str, Any]]) -> None:
        """Replaces the line items; the value becomes their sum (unless the list is empty)."""
        self._refuse_unless_open()
        made = _items(items, self.currency)
        value = subtotal(made) if made else self.value
        if made != self.line_items or value != self.value:
            self._record(self.LineItemsChanged, meta, customer_id=self.customer_id, line_items=made,
                         previous_value=self.value, value=value, currency=self.currency)

    def change_details(self, meta: Meta, **fields: Any) -> None:
        """Title, owner, source, expected close date, probability; only what differs is recorded."""
        self._refuse_unless_open()
        checks = {"title": lambda v: text(v, "title", 200, required=True),
                  "owner": lambda v: text(v, "owner", 200),
                  "source": lambda v: text(v, "source", 100),
                  "expected_close": _close_date, "probability": _probability}
        changes = {}
        for field, value in fields.items():
            if field not in checks:
                raise DomainError(f"{field} cannot be changed here", field)
            value = checks[field](value)
            if value != getattr(self, field):
                changes[field] = value
        if changes:
            self._record(self.DetailsChanged, meta, customer_id=self.customer_id, changes=changes)

    def link_contact(self, meta: Meta, contact_id: UUID) -> None:
        if contact_id in self.contact_ids:
            return
        if len(self.contact_ids) >= MAX_CONTACTS:
            raise DomainError(f"a deal has at most {MAX_CONTACTS} linked contacts", "contact_id")
        self._record(self.ContactLinked, meta, customer_id=self.customer_id, contact_id=contact_id,
                     contact_ids=[*self.contact_ids, contact_id])

    def unlink_contact(self, meta: Meta, contact_id: UUID) -> None:
        if contact_id not in self.contact_ids:
            raise DomainError(f"contact {contact_id} is not linked to this deal", "contact_id")
        self._record(self.ContactUnlinked, meta, customer_id=self.customer_id, contact_id=contact_id,
                     contact_ids=[c for c in self.contact_ids if c != contact_id])

    def move_stage(self, meta: Meta, stage: str, pipeline: Pipeline | None = None,
                   reason: str | None = None, occurred_at: datetime | None = None) -> None:
        """Moves an open deal; moving it into a won (lost) stage wins (loses) it."""
        self._refuse_unless_open()
        target = self._target(stage, pipeline)
        if target["kind"] == "won":
            return self.win(meta, pipeline, reason, occurred_at)
        if target["kind"] == "lost":
            if not reason:
                raise DomainError(f"moving a deal to the lost stage {stage!r} needs a reason",
                                  "reason")
            return self.lose(meta, reason, pipeline, occurred_at)
        if target["id"] != self.stage:
            self._record(self.StageMoved, meta, customer_id=self.customer_id,
                         previous_stage=self.stage, stage=target["id"],
                         pipeline_id=self.pipeline_id, amount=self.value, probability=target["probability"],
                         expected_close=self.expected_close, occurred_at=self._when(occurred_at))

    def win(self, meta: Meta, pipeline: Pipeline | None = None, reason: str | None = None,
            occurred_at: datetime | None = None) -> None:
        self._refuse_unless_open()
        closing = pipeline.closing_stage("won") if pipeline else None
        self._record(self.Won, meta, customer_id=self.customer_id, value=self.value,
                     currency=self.currency, reason=text(reason, "reason", 1000),
                     pipeline_id=self.pipeline_id, previous_stage=self.stage,
                     stage=closing["id"] if closing else self.stage,
                     occurred_at=self._when(occurred_at))

    def lose(self, meta: Meta, reason: str, pipeline: Pipeline | None = None,
             occurred_at: datetime | None = None) -> None:
        self._refuse_unless_open()
        reason = text(reason, "reason", 1000, required=True)
        closing = pipeline.closing_stage("lost") if pipeline else None
        self._record(self.Lost, meta, customer_id=self.customer_id, reason=reason,
                     pipeline_id=self.pipeline_id, previous_stage=self.stage,
                     stage=closing["id"] if closing else self.stage,
                     occurred_at=self._when(occurred_at))

    def reopen(self, meta: Meta, stage: str | None = None, pipeline: Pipeline | None = None,
               occurred_at: datetime | None = None) -> None:
        """Opens a won or lost deal again, in ``stage`` or the open stage it was last in."""
        if self.status == "open":
            raise InvalidTransition("the opportunity is already open")
        target = self._target(stage or self.open_stage, pipeline)
        if target["kind"] != "open":
            raise DomainError(f"a deal reopens in an open stage, not the {target['kind']} stage "
                              f"{target['id']!r}", "stage")
        self._record(self.Reopened, meta, customer_id=self.customer_id,
                     previous_status=self.status, pipeline_id=self.pipeline_id,
                     previous_stage=self.stage, stage=target["id"],
                     probability=target["probability"], occurred_at=self._when(occurred_at))

    # -- rules ------------------------------------------------------------------------------

    def _target(self, stage: str, pipeline: Pipeline | None) -> dict[str, Any]:
        if self.pipeline_id is None:
            return default_stage(stage)
        if pipeline is None or pipeline.id != self.pipeline_id:
            raise ValueError("the deal's pipeline must be passed to check its stages")
        return pipeline.target(stage)

    def _when(self, occurred_at: datetime | None) -> datetime | None:
        """A business time for imported history: not in the future, not before the last change."""
        if occurred_at is None:
            return None
        when = _past(occurred_at)
        if when < self.changed_at:
            raise DomainError(f"occurred_at must not be before the deal's latest change "
                              f"({self.changed_at.isoformat()})", "occurred_at")
        return when

    def _refuse_unless_open(self) -> None:
        if self.status != "open":
            raise InvalidTransition(f"the opportunity is already {self.status}")


def _items(items: list[dict[str, Any]], currency: str) -> list[dict]:
    return line_items(items, currency)


def _close_date(value: Any) -> date:
    if not isinstance(value, date):
        raise DomainError("expected_close must be a date (it can be changed, not cleared)",
                          "expected_close")
    return value


def _past(moment: datetime) -> datetime:
    when = utc(moment, "occurred_at")
    if when > datetime.now(timezone.utc) + timedelta(minutes=5):
        raise DomainError("occurred_at must not be in the future", "occurred_at")
    return when
