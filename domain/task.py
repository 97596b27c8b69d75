"""The Task: something a person has to do, by a time, about a customer or a deal.

Tasks are created by people and by policies (a lost deal schedules a follow-up).
A policy derives the task's id from the event that caused it, so running the
policy twice for one event creates one task.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text, utc

PRIORITIES = ("low", "normal", "high", "urgent")


class Task(CrmAggregate):
    """State: title, due_at, priority, assignee, customer_id, opportunity_id, status."""

    class Created(CrmAggregate.Created):
        title: str
        due_at: datetime | None
        priority: str
        assignee: str | None
        customer_id: UUID | None
        opportunity_id: UUID | None

        def apply(self, task: Task) -> None:
            super().apply(task)
            task.title = self.title
            task.due_at = self.due_at
            task.priority = self.priority
            task.assignee = self.assignee
            task.customer_id = self.customer_id
            task.opportunity_id = self.opportunity_id
            task.status = "open"

    # The follow-up events repeat the task's title and customer, so that a
    # projection (the customer's timeline) can place them without older events.

    class Completed(CrmAggregate.Event):
        title: str
        customer_id: UUID | None

        def apply(self, task: Task) -> None:
            task.status = "done"

    class Reopened(CrmAggregate.Event):
        title: str
        customer_id: UUID | None

        def apply(self, task: Task) -> None:
            task.status = "open"

    class Reassigned(CrmAggregate.Event):
        title: str
        customer_id: UUID | None
        previous_assignee: str | None
        assignee: str | None

        def apply(self, task: Task) -> None:
            task.assignee = self.assignee

    @classmethod
    def create(cls, meta: Meta, title: str, due_at: datetime | None = None, priority: str = "normal",
               assignee: str | None = None, customer_id: UUID | None = None,
               opportunity_id: UUID | None = None, id: UUID | None = None) -> Task:
        if priority not in PRIORITIES:
            raise DomainError(f"priority must be one of {', '.join(PRIORITIES)}", "priority")
        return cls._start(cls.Created, meta, id=id, title=text(title, "title", 300, required=True),
                          due_at=utc(due_at, "due_at") if due_at else None, priority=priority,
                          assignee=text(assignee, "assignee", 200), customer_id=customer_id,
                          opportunity_id=opportunity_id)

    def complete(self, meta: Meta) -> None:
        if self.status == "done":
            raise InvalidTransition("the task is already done")
        self._record(self.Completed, meta, title=self.title, customer_id=self.customer_id)

    def reopen(self, meta: Meta) -> None:
        if self.status == "open":
            raise InvalidTransition("the task is already open")
        self._record(self.Reopened, meta, title=self.title, customer_id=self.customer_id)

    def reassign(self, meta: Meta, assignee: str | None) -> None:
        assignee = text(assignee, "assignee", 200)
        if assignee != self.assignee:
            self._record(self.Reassigned, meta, title=self.title, customer_id=self.customer_id,
                         previous_assignee=self.assignee, assignee=assignee)
