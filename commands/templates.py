"""Template commands: create, revise, approve, reject, archive; and previews.

A version is checked against sample values of every variable the tenant's
templates can use, including its custom fields, so the check follows the
tenant's field definitions as they are when the version is saved.
"""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from commands.application import Crm, Idempotency, Outcome
from commands.base import Command
from commands.custom_fields import field_set
from commands.errors import Forbidden
from domain import rendering, sms
from domain.base import Meta
from domain.template import CHANNELS, Template

Channel = Literal[CHANNELS]  # type: ignore[valid-type]
Source = Field(default=None, max_length=200_000)


class CreateTemplate(Command):
    name: str = Field(max_length=200)
    channel: Channel
    subject: str | None = Field(default=None, max_length=2000, description="email only")
    html: str | None = Field(default=None, max_length=200_000, description="email only")
    text: str | None = Field(default=None, max_length=200_000,
                             description="the plain-text part of an email, or the SMS / WhatsApp text")


class ReviseTemplate(Command):
    subject: str | None = Field(default=None, max_length=2000)
    html: str | None = Field(default=None, max_length=200_000)
    text: str | None = Field(default=None, max_length=200_000)
    note: str | None = Field(default=None, max_length=1000, description="what changed")


class ApproveVersion(Command):
    note: str | None = Field(default=None, max_length=1000)


class RejectVersion(Command):
    reason: str = Field(max_length=1000)


class ArchiveTemplate(Command):
    pass


class PreviewTemplate(Command):
    customer_id: UUID
    version: int | None = Field(default=None, ge=1, description="default: the newest version")


class PreviewDraft(Command):
    """Renders unsaved parts, for an editor that previews as the author types."""

    customer_id: UUID
    channel: Channel
    subject: str | None = Field(default=None, max_length=2000)
    html: str | None = Field(default=None, max_length=200_000)
    text: str | None = Field(default=None, max_length=200_000)


def custom_field_types(crm: Crm, tenant_id: str) -> dict[str, dict[str, Any]]:
    """The tenant's active custom fields: key -> {type, options}."""
    found = field_set(crm, tenant_id)
    if found is None:
        return {}
    return {key: {"type": d["type"], "options": d["options"]}
            for key, d in found.fields.items() if not d["retired"]}


def sample(crm: Crm, tenant_id: str) -> dict[str, Any]:
    return rendering.sample_context(custom_field_types(crm, tenant_id))


def create(crm: Crm, meta: Meta, cmd: CreateTemplate, idem: Idempotency | None = None) -> Outcome:
    return crm.create(meta, lambda: Template.create(
        meta, cmd.name, cmd.channel, cmd.subject, cmd.html, cmd.text,
        sample(crm, meta.tenant_id)), idem)


def revise(crm: Crm, meta: Meta, template_id: UUID, cmd: ReviseTemplate,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    values = sample(crm, meta.tenant_id)
    return crm.change(Template, template_id, meta,
                      lambda t: t.revise(meta, cmd.subject, cmd.html, cmd.text, values, cmd.note),
                      expected_version, idem)


def approve(crm: Crm, meta: Meta, role: str, template_id: UUID, version: int, cmd: ApproveVersion,
            expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    """Only an owner approves: approval is the step that lets a text reach customers."""
    if role != "owner":
        raise Forbidden("only an owner key can approve a template version")
    return crm.change(Template, template_id, meta, lambda t: t.approve(meta, version, cmd.note),
                      expected_version, idem)


def reject(crm: Crm, meta: Meta, role: str, template_id: UUID, version: int, cmd: RejectVersion,
           expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    if role != "owner":
        raise Forbidden("only an owner key can reject a template version")
    return crm.change(Template, template_id, meta, lambda t: t.reject(meta, version, cmd.reason),
                      expected_version, idem)


def archive(crm: Crm, meta: Meta, template_id: UUID, cmd: ArchiveTemplate,
            expected_version: int | None = None, idem: Idempotency | None = None) -> Outcome:
    return crm.change(Template, template_id, meta, lambda t: t.archive(meta), expected_version, idem)


def preview(channel: str, parts: dict[str, str | None], values: dict[str, Any]) -> dict[str, Any]:
    """The message as this customer would receive it (without tracking), and its SMS length.

    Raises :class:`domain.rendering.TemplateError` (a 422 naming the part and line) when a
    variable is missing for this customer, e.g. an order variable for a customer with none.
    """
    rendered = rendering.render(parts, values)
    if channel == "email" and rendered["text"] is None and rendered["html"]:
        rendered["text"] = rendering.html_to_text(rendered["html"])
    return {"channel": channel, **rendered,
            "sms": sms.segments(rendered["text"] or "") if channel == "sms" else None,
            "characters": len(rendered["text"] or "")}
