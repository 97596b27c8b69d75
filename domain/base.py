"""What every Craved CRM aggregate and event shares.

Every event carries a ``meta`` dict (tenant, actor, correlation and causation
ids) so that the audit trail can answer "who did this, on whose behalf, as part
of what" for any stored event without consulting anything else. ``timestamp``
(from the library) is when the event occurred, timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate


class DomainError(Exception):
    """A business rule refused a command. ``field`` names the input at fault."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """The aggregate's state machine does not allow this command now."""


@dataclass(frozen=True)
class Meta:
    """Who is acting, for which tenant, and as part of which request."""

    tenant_id: str
    actor: str
    correlation_id: str = ""
    causation_id: str | None = None

    def __post_init__(self) -> None:
        # Chosen once per Meta, not per event: the events of one request must share it.
        if not self.correlation_id:
            object.__setattr__(self, "correlation_id", str(uuid4()))

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "actor": self.actor,
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
        }


class CrmAggregate(Aggregate):
    """Base aggregate: knows its tenant and stamps ``meta`` on every event."""

    def __init__(self) -> None:
        """State is set by the events' ``apply`` methods, not by constructor arguments."""

    class Event(Aggregate.Event):
        meta: dict

    class Created(Event, Aggregate.Created):
        def apply(self, aggregate: CrmAggregate) -> None:
            aggregate.tenant_id = self.meta["tenant_id"]

    @classmethod
    def _start(cls, event_class: type[Created], meta: Meta, id: UUID | None = None, **fields: Any):
        return cls._create(event_class, id=id or uuid4(), meta=meta.as_dict(), **fields)

    def _record(self, event_class: type[Event], meta: Meta, **fields: Any) -> None:
        self.trigger_event(event_class, meta=meta.as_dict(), **fields)


# The library's own attributes of an event; everything else is the event's data.
_ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic", "meta"})


def event_data(event: CrmAggregate.Event) -> dict[str, Any]:
    """The business data of an event (its fields minus identity, version, time and meta)."""
    return {k: v for k, v in vars(event).items() if k not in _ENVELOPE_FIELDS}


def event_type(event: CrmAggregate.Event) -> str:
    """A stable, readable type name such as ``Customer.OrderRecorded``."""
    return type(event).__qualname__
