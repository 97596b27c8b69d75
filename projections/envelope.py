"""The envelope every projection consumes, whether the event came from Kafka or the local log.

It is plain JSON data (decimals and times as strings), so a projection sees
exactly the same input in the embedded mode and through Kafka, and a rebuild
from the event store equals what the live node built.
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, dataclass, fields
from decimal import Decimal
from functools import cached_property
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson

from domain.base import event_data, event_type

ENVELOPE_VERSION = 1


@dataclass(frozen=True)
class Envelope:
    position: int         # the event's place in the event store's notification log
    event_id: str         # stable across re-publishing: derived from (stream, version)
    stream: str           # aggregate id
    version: int          # aggregate version this event produced
    type: str             # e.g. "Customer.OrderRecorded"
    tenant: str
    actor: str
    occurred_at: str      # ISO 8601, UTC
    schema: int           # the event class's class_version
    data: dict[str, Any]
    correlation_id: str | None = None
    causation_id: str | None = None
    envelope_version: int = ENVELOPE_VERSION

    @cached_property
    def aggregate_id(self) -> UUID:
        return UUID(self.stream)

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: bytes) -> Envelope:
        # Fields a newer envelope version added are ignored, so consumers upgrade after producers.
        values = {k: v for k, v in orjson.loads(raw).items() if k in _FIELDS}
        if not _REQUIRED <= values.keys():
            return cls(**values)  # the constructor names what is missing
        # A query node reads thousands a second: skip the frozen dataclass's per-field setattr.
        envelope = object.__new__(cls)
        envelope.__dict__.update(_DEFAULTS, **values)
        return envelope

    def headers(self) -> list[tuple[str, bytes]]:
        """Kafka record headers: what a consumer can route or filter on without parsing the value."""
        return [("type", self.type.encode()), ("tenant", self.tenant.encode()),
                ("envelope_version", str(self.envelope_version).encode())]


_FIELDS = frozenset(field.name for field in fields(Envelope))
_DEFAULTS = {field.name: field.default for field in fields(Envelope) if field.default is not MISSING}
_REQUIRED = _FIELDS - _DEFAULTS.keys()


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set):
        return sorted(value)
    raise TypeError(f"cannot put {type(value).__name__} in an envelope")


def from_event(event: Any, position: int) -> Envelope:
    """Wraps a stored domain event; its data goes through JSON so both paths see the same."""
    meta = event.meta
    return Envelope(
        position=position,
        event_id=str(uuid5(NAMESPACE_URL, f"{event.originator_id}/{event.originator_version}")),
        stream=str(event.originator_id),
        version=event.originator_version,
        type=event_type(event),
        tenant=meta["tenant_id"],
        actor=meta["actor"],
        occurred_at=event.timestamp.isoformat(),
        schema=getattr(type(event), "class_version", 1),
        data=orjson.loads(orjson.dumps(event_data(event), default=_plain)),
        correlation_id=meta.get("correlation_id"),
        causation_id=meta.get("causation_id"),
    )
