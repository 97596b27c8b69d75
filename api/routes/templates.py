"""Template routes: create, revise (new version), approve, reject, archive; list, read, preview."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from api.deps import CallerDep, CommandDep, ReaderDep, get_crm
from api.marketing_deps import MarketingDep
from api.marketing_models import Preview, TemplateDetail, TemplateRow
from api.models import CommandAccepted, Page
from api.routes import Route
from commands import templates as handlers
from commands.application import Crm
from commands.errors import NotFound
from domain import rendering
from domain.base import DomainError
from domain.tenant import Tenant
from readmodels import templates as queries

command_router = APIRouter(route_class=Route, prefix="/v1/templates", tags=["templates"])
query_router = APIRouter(route_class=Route, prefix="/v1/templates", tags=["templates"])
Version = Annotated[int, Path(ge=1)]
CrmDep = Annotated[Crm, Depends(get_crm)]


@command_router.post("", status_code=201, response_model=CommandAccepted)
def create_template(body: handlers.CreateTemplate, ctx: CommandDep):
    """Creates the template with version 1 as a draft. Every part is rendered against sample
    values of every variable (custom fields included): a misspelt one is a 422 naming the
    part and line."""
    return handlers.create(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.post("/{template_id}/versions", status_code=201, response_model=CommandAccepted)
def revise_template(template_id: UUID, body: handlers.ReviseTemplate, ctx: CommandDep):
    """Drafts the next version; the approved version stays in use until this one is approved."""
    return handlers.revise(ctx.crm, ctx.meta, template_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{template_id}/versions/{version}/approve", response_model=CommandAccepted)
def approve_version(template_id: UUID, version: Version, body: handlers.ApproveVersion,
                    ctx: CommandDep):
    """Owner keys only. An approved version can be used by campaigns and automations."""
    return handlers.approve(ctx.crm, ctx.meta, ctx.role, template_id, version, body,
                            ctx.expected_version, ctx.idem).as_dict()


@command_router.post("/{template_id}/versions/{version}/reject", response_model=CommandAccepted)
def reject_version(template_id: UUID, version: Version, body: handlers.RejectVersion,
                   ctx: CommandDep):
    return handlers.reject(ctx.crm, ctx.meta, ctx.role, template_id, version, body,
                           ctx.expected_version, ctx.idem).as_dict()


@command_router.post("/{template_id}/archive", response_model=CommandAccepted)
def archive_template(template_id: UUID, body: handlers.ArchiveTemplate, ctx: CommandDep):
    return handlers.archive(ctx.crm, ctx.meta, template_id, body, ctx.expected_version,
                            ctx.idem).as_dict()


@query_router.get("", response_model=Page[TemplateRow])
def list_templates(caller: CallerDep, db: ReaderDep,
                   channel: Literal["email", "sms", "whatsapp"] | None = None,
                   status: Literal["active", "archived"] | None = None,
                   cursor: Annotated[str | None, Query(max_length=500)] = None,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50):
    return queries.list_templates(db, caller.tenant_id, channel=channel, status=status,
                                  cursor=cursor, limit=limit)


@query_router.get("/{template_id}", response_model=TemplateDetail)
def get_template(template_id: UUID, caller: CallerDep, db: ReaderDep):
    template = queries.get_template(db, caller.tenant_id, template_id)
    if template is None:
        raise NotFound(f"no template {template_id}")
    return template


def _values(db, crm: Crm, tenant_id: str, customer_id: UUID, marketing) -> dict[str, Any]:
    found = queries.customer_values(db, tenant_id, customer_id)
    if found is None:
        raise DomainError(f"no customer {customer_id}", "customer_id")
    shop = crm.load(Tenant, UUID(tenant_id), tenant_id).name
    return rendering.context(found["customer"], found["custom"], found["order"],
                             campaign={"name": "Preview"}, shop={"name": shop},
                             unsubscribe_url=f"{marketing.public_url}/v1/t/u/preview")


@query_router.post("/preview", response_model=Preview)
def preview_draft(body: handlers.PreviewDraft, caller: CallerDep, db: ReaderDep, crm: CrmDep,
                  marketing: MarketingDep):
    """Renders unsaved parts for a real customer (an editor's live preview)."""
    values = _values(db, crm, caller.tenant_id, body.customer_id, marketing)
    parts = {"subject": body.subject, "html": body.html, "text": body.text}
    return {**handlers.preview(body.channel, parts, values), "variables": values}


@query_router.post("/{template_id}/preview", response_model=Preview)
def preview_template(template_id: UUID, body: handlers.PreviewTemplate, caller: CallerDep,
                     db: ReaderDep, crm: CrmDep, marketing: MarketingDep):
    """A version (default: the newest) as this customer would receive it, with its SMS length.
    A variable this customer lacks (an order variable, no order yet) is a 422 naming it."""
    template = queries.get_template(db, caller.tenant_id, template_id)
    if template is None:
        raise NotFound(f"no template {template_id}")
    versions = {v["version"]: v for v in template["versions"]}
    number = body.version or max(versions)
    if number not in versions:
        raise DomainError(f"the template has no version {number}", "version")
    version = versions[number]
    values = _values(db, crm, caller.tenant_id, body.customer_id, marketing)
    parts = {"subject": version["subject"], "html": version["html"], "text": version["text"]}
    return {**handlers.preview(template["channel"], parts, values), "variables": values}
