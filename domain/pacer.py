"""The ChannelPacer: a tenant's sending pace on one channel, shared by all its campaigns.

Each launch reserves a span of time on the channel, from when the channel is
next free, long enough to send its messages at the channel's rate; its n-th
message is queued not before ``start + n / rate``. Two campaigns launched
together on one channel therefore queue one after the other instead of adding
up. The pacer's id derives from (tenant, channel), and a reservation is an
event at the version read, so two launches racing for the same span cannot
both get it (the loser's launch is a conflict, and is retried).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, Meta


def pacer_id(tenant_id: str, channel: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:pacer:{tenant_id}:{channel}")


class ChannelPacer(CrmAggregate):
    """State: channel, free_at (when the channel's last reservation ends)."""

    class Opened(CrmAggregate.Created):
        channel: str

        def apply(self, pacer: ChannelPacer) -> None:
            super().apply(pacer)
            pacer.channel = self.channel
            pacer.free_at = None

    class Reserved(CrmAggregate.Event):
        campaign_id: UUID
        messages: int
        per_minute: int
        starts_at: datetime
        ends_at: datetime

        def apply(self, pacer: ChannelPacer) -> None:
            pacer.free_at = self.ends_at

    @classmethod
    def open(cls, meta: Meta, channel: str) -> ChannelPacer:
        return cls._start(cls.Opened, meta, id=pacer_id(meta.tenant_id, channel), channel=channel)

    def reserve(self, meta: Meta, campaign_id: UUID, messages: int, per_minute: int,
                now: datetime) -> datetime:
        """Reserves the time ``messages`` take at ``per_minute``; returns when they start."""
        if per_minute < 1:
            raise DomainError("per_minute must be at least 1", "per_minute")
        start = max(now, self.free_at) if self.free_at else now
        if messages:
            self._record(self.Reserved, meta, campaign_id=campaign_id, messages=messages,
                         per_minute=per_minute, starts_at=start,
                         ends_at=start + timedelta(seconds=messages * 60 / per_minute))
        return start
