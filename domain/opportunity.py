"""The Opportunity: a deal the vendor is working on with one customer.

Status is ``open`` until the deal is won or lost; only open deals change value
or stage. Every stage move records the previous stage, so stage history and
time-in-stage can be derived without reading older events.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import money, text

# The stages every tenant starts with. Custom pipelines (their own aggregate)
# will replace this list; until then a stage must be one of these.
DEFAULT_STAGES = ("lead", "qualified", "proposal", "negotiation")


def _stage(stage: str) -> str:
    if stage not in DEFAULT_STAGES:
        raise DomainError(f"stage must be one of {', '.join(DEFAULT_STAGES)}", "stage")
    return stage


class Opportunity(CrmAggregate):
    """State: customer_id, title, value, currency, stage, expected_close, owner, status."""

    class Opened(CrmAggregate.Created):
        customer_id: UUID
        title: str
        value: Decimal
        currency: str
        stage: str
        expected_close: date | None
        owner: str | None

        def apply(self, deal: Opportunity) -> None:
            super().apply(deal)
            deal.customer_id = self.customer_id
            deal.title = self.title
            deal.value = self.value
            deal.currency = self.currency
            deal.stage = self.stage
            deal.expected_close = self.expected_close
            deal.owner = self.owner
            deal.status = "open"

    class ValueChanged(CrmAggregate.Event):
        customer_id: UUID
        previous_value: Decimal
        value: Decimal
        currency: str

        def apply(self, deal: Opportunity) -> None:
            deal.value = self.value
            deal.currency = self.currency

    class StageMoved(CrmAggregate.Event):
        customer_id: UUID
        previous_stage: str
        stage: str

        def apply(self, deal: Opportunity) -> None:
            deal.stage = self.stage

    class Won(CrmAggregate.Event):
        customer_id: UUID
        value: Decimal
        currency: str

        def apply(self, deal: Opportunity) -> None:
            deal.status = "won"

    class Lost(CrmAggregate.Event):
        customer_id: UUID
        reason: str

        def apply(self, deal: Opportunity) -> None:
            deal.status = "lost"

    @classmethod
    def open(cls, meta: Meta, customer_id: UUID, title: str, value: Decimal | str, currency: str,
             stage: str = DEFAULT_STAGES[0], expected_close: date | None = None,
             owner: str | None = None) -> Opportunity:
        value, currency = money(value, currency, "value")
        return cls._start(
            cls.Opened, meta, customer_id=customer_id,
            title=text(title, "title", 200, required=True), value=value, currency=currency,
            stage=_stage(stage), expected_close=expected_close, owner=text(owner, "owner", 200),
        )

    def change_value(self, meta: Meta, value: Decimal | str, currency: str | None = None) -> None:
        self._refuse_unless_open()
        value, currency = money(value, currency or self.currency, "value")
        if (value, currency) != (self.value, self.currency):
            self._record(self.ValueChanged, meta, customer_id=self.customer_id,
                         previous_value=self.value, value=value, currency=currency)

    def move_stage(self, meta: Meta, stage: str) -> None:
        self._refuse_unless_open()
        stage = _stage(stage)
        if stage != self.stage:
            self._record(self.StageMoved, meta, customer_id=self.customer_id,
                         previous_stage=self.stage, stage=stage)

    def win(self, meta: Meta) -> None:
        self._refuse_unless_open()
        self._record(self.Won, meta, customer_id=self.customer_id, value=self.value,
                     currency=self.currency)

    def lose(self, meta: Meta, reason: str) -> None:
        self._refuse_unless_open()
        self._record(self.Lost, meta, customer_id=self.customer_id,
                     reason=text(reason, "reason", 1000, required=True))

    def _refuse_unless_open(self) -> None:
        if self.status != "open":
            raise InvalidTransition(f"the opportunity is already {self.status}")
