"""The Template: a message a tenant writes once and sends many times, in approved versions.

An email template has a subject, an HTML part and a plain-text part; an SMS or
WhatsApp template has text only. Every part is a Jinja2 template (see
:mod:`domain.rendering`), checked when a version is saved by rendering it
against sample values of every variable the tenant has (its custom fields
included), so a misspelt variable is refused at once with its line, not found
later in a send.

Versions are immutable: changing a template drafts the next version. A
version is used by campaigns and automations only once it is approved; a
newer draft does not disturb the approved version in use.
"""

from __future__ import annotations

from typing import Any

from domain import rendering, sms
from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

CHANNELS = ("email", "sms", "whatsapp")
MAX_SOURCE = 200_000         # characters of one part's source
MAX_SMS_SEGMENTS = 10        # a longer SMS is almost certainly a mistake (and costs ten times)
MAX_WHATSAPP = 4096          # WhatsApp's limit on a message body
MAX_VERSIONS = 500


def check_parts(channel: str, subject: str | None, html: str | None, body: str | None,
                sample: dict[str, Any]) -> dict[str, Any]:
    """Validates a version's parts by rendering them against ``sample``; returns the parts
    (trimmed) and, for SMS, the segments the sample rendering takes."""
    parts = {"subject": subject or None, "html": html or None, "text": body or None}
    for field, source in parts.items():
        if source is not None and len(source) > MAX_SOURCE:
            raise DomainError(f"{field} is longer than {MAX_SOURCE} characters", field)
    if channel == "email":
        parts["subject"] = text(subject, "subject", 2000, required=True)
        if not parts["html"] and not parts["text"]:
            raise DomainError("an email template needs an HTML or a plain-text part", "html")
    else:
        for field in ("subject", "html"):
            if parts[field]:
                raise DomainError(f"a {channel} template has text only, no {field}", field)
        if not (parts["text"] or "").strip():
            raise DomainError(f"a {channel} template needs its text", "text")
    rendered = rendering.render(parts, sample)
    if rendered["subject"] is not None and ("\n" in rendered["subject"].strip()
                                            or len(rendered["subject"]) > 998):
        raise DomainError("the subject must render to one line of at most 998 characters", "subject")
    length = None
    if channel == "sms":
        length = sms.segments(rendered["text"])
        if length["segments"] > MAX_SMS_SEGMENTS:
            raise DomainError(f"the text takes {length['segments']} SMS segments with sample values "
                              f"({length['encoding']}); at most {MAX_SMS_SEGMENTS}", "text")
    if channel == "whatsapp" and len(rendered["text"]) > MAX_WHATSAPP:
        raise DomainError(f"a WhatsApp message has at most {MAX_WHATSAPP} characters", "text")
    return {**parts, "sms": length}


class Template(CrmAggregate):
    """State: name, channel, versions (number -> {subject, html, text, status}), archived."""

    class Created(CrmAggregate.Created):
        name: str
        channel: str

        def apply(self, template: Template) -> None:
            super().apply(template)
            template.name = self.name
            template.channel = self.channel
            template.versions = {}
            template.archived = False

    class VersionDrafted(CrmAggregate.Event):
        version: int
        subject: str | None
        html: str | None
        text: str | None
        sms: dict | None          # segments of the sample rendering (SMS templates)
        note: str | None

        def apply(self, template: Template) -> None:
            template.versions[self.version] = {"subject": self.subject, "html": self.html,
                                               "text": self.text, "status": "draft"}

    class VersionApproved(CrmAggregate.Event):
        version: int
        note: str | None

        def apply(self, template: Template) -> None:
            template.versions[self.version]["status"] = "approved"

    class VersionRejected(CrmAggregate.Event):
        version: int
        reason: str

        def apply(self, template: Template) -> None:
            template.versions[self.version]["status"] = "rejected"

    class Archived(CrmAggregate.Event):
        def apply(self, template: Template) -> None:
            template.archived = True

    @classmethod
    def create(cls, meta: Meta, name: str, channel: str, subject: str | None, html: str | None,
               body: str | None, sample: dict[str, Any]) -> Template:
        if channel not in CHANNELS:
            raise DomainError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        name = text(name, "name", 200, required=True)
        parts = check_parts(channel, subject, html, body, sample)
        template = cls._start(cls.Created, meta, name=name, channel=channel)
        template._record(cls.VersionDrafted, meta, version=1, note=None, **parts)
        return template

    def revise(self, meta: Meta, subject: str | None, html: str | None, body: str | None,
               sample: dict[str, Any], note: str | None = None) -> int:
        """Drafts the next version; returns its number."""
        self._refuse_if_archived()
        if len(self.versions) >= MAX_VERSIONS:
            raise DomainError(f"a template has at most {MAX_VERSIONS} versions", "text")
        parts = check_parts(self.channel, subject, html, body, sample)
        version = max(self.versions) + 1
        self._record(self.VersionDrafted, meta, version=version, note=text(note, "note", 1000),
                     **parts)
        return version

    def approve(self, meta: Meta, version: int, note: str | None = None) -> None:
        self._refuse_if_archived()
        self._draft(version)
        self._record(self.VersionApproved, meta, version=version, note=text(note, "note", 1000))

    def reject(self, meta: Meta, version: int, reason: str) -> None:
        self._refuse_if_archived()
        self._draft(version)
        self._record(self.VersionRejected, meta, version=version,
                     reason=text(reason, "reason", 1000, required=True))

    def archive(self, meta: Meta) -> None:
        self._refuse_if_archived()
        self._record(self.Archived, meta)

    # -- what users of a template ask ------------------------------------------------------

    @property
    def approved_version(self) -> int | None:
        approved = [n for n, v in self.versions.items() if v["status"] == "approved"]
        return max(approved) if approved else None

    def usable(self, version: int | None, field: str = "template_version") -> int:
        """The version a campaign may use: ``version`` if approved, else the latest approved."""
        if self.archived:
            raise DomainError("the template is archived", "template_id")
        if version is None:
            if self.approved_version is None:
                raise DomainError("the template has no approved version yet", field)
            return self.approved_version
        if version not in self.versions:
            raise DomainError(f"the template has no version {version}", field)
        if self.versions[version]["status"] != "approved":
            raise DomainError(f"version {version} is {self.versions[version]['status']}, "
                              "not approved", field)
        return version

    def parts(self, version: int) -> dict[str, str | None]:
        found = self.versions[version]
        return {"subject": found["subject"], "html": found["html"], "text": found["text"]}

    def _draft(self, version: int) -> None:
        if version not in self.versions:
            raise DomainError(f"the template has no version {version}", "version")
        status = self.versions[version]["status"]
        if status != "draft":
            raise InvalidTransition(f"version {version} is already {status}")

    def _refuse_if_archived(self) -> None:
        if self.archived:
            raise InvalidTransition("the template is archived")
