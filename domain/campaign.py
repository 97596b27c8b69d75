"""The Campaign: one message sent to an audience of customers.

Its state machine: draft → scheduled → running → completed, and cancelled from
any state before completion. The audience is frozen at launch (the customer ids
are in the ``Launched`` event) so that "who did this campaign reach" never
changes after the fact.

Sending (see the end of the class and :mod:`domain.message`): the content is
an approved template version (or the campaign's own subject and body), the
audience a list or a segment chosen beforehand, or a list sent with the
launch; a segment's members are frozen at the launch. At launch the
audience is filtered by consent for the channel (``Dispatched`` names who was
left out and why) and one Message per remaining customer is queued, spread
over time at the channel's rate. A scheduled campaign is launched by the
scheduler worker; if it cannot be (no audience, no approved template), the
campaign returns to draft with the reason (``LaunchFailed``).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.template import CHANNELS, Template, check_parts
from domain.values import text, utc

MAX_AUDIENCE = 100_000

# Which commands each status allows; anything else is an InvalidTransition.
ALLOWED = {
    "draft": {"schedule", "launch", "cancel", "configure"},
    "scheduled": {"schedule", "launch", "cancel", "configure", "fail_launch"},
    "running": {"complete", "cancel"},
    "completed": set(),
    "cancelled": set(),
}


class Campaign(CrmAggregate):
    """State: name, channel, subject, body, status, scheduled_for, audience_size,
    template_id, template_version, audience (chosen customer ids), segment_id, dispatched."""

    class Drafted(CrmAggregate.Created):
        name: str
        channel: str
        subject: str | None
        body: str

        def apply(self, campaign: Campaign) -> None:
            super().apply(campaign)
            campaign.name = self.name
            campaign.channel = self.channel
            campaign.subject = self.subject
            campaign.body = self.body
            campaign.status = "draft"
            campaign.scheduled_for = None
            campaign.audience_size = 0
            campaign.template_id = None
            campaign.template_version = None
            campaign.audience = []
            campaign.segment_id = None
            campaign.dispatched = False

    class Scheduled(CrmAggregate.Event):
        scheduled_for: datetime

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "scheduled"
            campaign.scheduled_for = self.scheduled_for

    class Launched(CrmAggregate.Event):
        customer_ids: list[UUID]

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "running"
            campaign.audience_size = len(self.customer_ids)

    class Completed(CrmAggregate.Event):
        def apply(self, campaign: Campaign) -> None:
            campaign.status = "completed"

    class Cancelled(CrmAggregate.Event):
        reason: str | None

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "cancelled"

    @classmethod
    def draft(cls, meta: Meta, name: str, channel: str, subject: str | None, body: str | None,
              template: Template | None = None, template_version: int | None = None, *,
              sample: dict) -> Campaign:
        """With a template, the subject and body come from it and may be left out.

        The campaign's own subject and body are checked as a template version's parts are
        (:func:`domain.template.check_parts`: rendered against ``sample``, every variable a
        template may use; an SMS at most 10 segments; a subject one line): a misspelt
        variable is refused now, naming the field and line, rather than failing every
        message of the launch at the sender."""
        if channel not in CHANNELS:
            raise DomainError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        inline = template is None
        subject = text(subject, "subject", 500, required=inline and channel == "email")
        body = text(body, "body", 100_000, required=inline)
        if inline:
            _check_content(channel, subject, body, sample)
        campaign = cls._start(cls.Drafted, meta, name=text(name, "name", 200, required=True),
                              channel=channel, subject=subject, body=body)
        if template is not None:
            campaign.use_template(meta, template, template_version)
        return campaign

    def schedule(self, meta: Meta, scheduled_for: datetime, now: datetime) -> None:
        self._allow("schedule")
        when = utc(scheduled_for, "scheduled_for")
        if when <= now:
            raise DomainError("scheduled_for must be in the future", "scheduled_for")
        self._record(self.Scheduled, meta, scheduled_for=when)

    def launch(self, meta: Meta, customer_ids: list[UUID]) -> None:
        self._allow("launch")
        audience = list(dict.fromkeys(customer_ids))  # de-duplicated, order kept
        if not audience:
            raise DomainError("the audience is empty", "customer_ids")
        if len(audience) > MAX_AUDIENCE:
            raise DomainError(f"the audience is larger than {MAX_AUDIENCE}", "customer_ids")
        self._record(self.Launched, meta, customer_ids=audience)

    def complete(self, meta: Meta) -> None:
        self._allow("complete")
        self._record(self.Completed, meta)

    def cancel(self, meta: Meta, reason: str | None = None) -> None:
        self._allow("cancel")
        self._record(self.Cancelled, meta, reason=text(reason, "reason", 1000))

    def _allow(self, command: str) -> None:
        if command not in ALLOWED[self.status]:
            raise InvalidTransition(f"cannot {command} a {self.status} campaign")

    # -- content, audience and sending --------------------------------------------------------

    class TemplateChosen(CrmAggregate.Event):
        template_id: UUID
        template_version: int

        def apply(self, campaign: Campaign) -> None:
            campaign.template_id = self.template_id
            campaign.template_version = self.template_version

    class AudienceChosen(CrmAggregate.Event):
        customer_ids: list[UUID]

        def apply(self, campaign: Campaign) -> None:
            campaign.audience = list(self.customer_ids)
            campaign.segment_id = None

    class SegmentChosen(CrmAggregate.Event):
        segment_id: UUID

        def apply(self, campaign: Campaign) -> None:
            campaign.segment_id = self.segment_id
            campaign.audience = []

    class Dispatched(CrmAggregate.Event):
        recipients: int
        suppressed: dict          # customer id -> why it gets nothing (opted_out, no_consent, ...)
        per_minute: int
        starts_at: datetime

        def apply(self, campaign: Campaign) -> None:
            campaign.dispatched = True

    class LaunchFailed(CrmAggregate.Event):
        reason: str

        def apply(self, campaign: Campaign) -> None:
            campaign.status = "draft"
            campaign.scheduled_for = None

    def use_template(self, meta: Meta, template: Template, version: int | None = None) -> None:
        """Sends an approved version of ``template`` (default: its latest approved one)."""
        self._allow("configure")
        if template.channel != self.channel:
            raise DomainError(f"the template is for {template.channel}, the campaign for "
                              f"{self.channel}", "template_id")
        self._record(self.TemplateChosen, meta, template_id=template.id,
                     template_version=template.usable(version))

    def choose_audience(self, meta: Meta, customer_ids: list[UUID]) -> None:
        self._allow("configure")
        audience = list(dict.fromkeys(customer_ids))
        if len(audience) > MAX_AUDIENCE:
            raise DomainError(f"the audience is larger than {MAX_AUDIENCE}", "customer_ids")
        self._record(self.AudienceChosen, meta, customer_ids=audience)

    def choose_segment(self, meta: Meta, segment_id: UUID, deleted: bool = False) -> None:
        """The audience is the segment's members at the moment of the launch."""
        self._allow("configure")
        if deleted:
            raise DomainError("the segment is deleted", "segment_id")
        self._record(self.SegmentChosen, meta, segment_id=segment_id)

    def dispatch(self, meta: Meta, suppressed: dict[str, str], per_minute: int,
                 starts_at: datetime) -> int:
        """Right after the launch: records who is left out and the pace; returns recipients."""
        if self.status != "running" or self.dispatched:
            raise InvalidTransition("a campaign is dispatched once, when it is launched")
        if per_minute < 1:
            raise DomainError("per_minute must be at least 1", "per_minute")
        recipients = self.audience_size - len(suppressed)
        self._record(self.Dispatched, meta, recipients=recipients, suppressed=dict(suppressed),
                     per_minute=per_minute, starts_at=starts_at)
        return recipients

    def fail_launch(self, meta: Meta, reason: str) -> None:
        self._allow("fail_launch")
        self._record(self.LaunchFailed, meta, reason=text(reason, "reason", 1000) or "failed")


def _check_content(channel: str, subject: str | None, body: str | None, sample: dict) -> None:
    """A template's checks on a campaign's own content, whose text part is its ``body`` (an SMS
    or WhatsApp campaign's subject is never sent, so it is not checked)."""
    try:
        check_parts(channel, subject if channel == "email" else None, None, body, sample)
    except DomainError as error:
        error.field = "body" if error.field == "text" else error.field
        raise
