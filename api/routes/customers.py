"""Customer routes: commands, the directory, the 360 view, the timeline and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from api.deps import CallerDep, CommandDep, ReaderDep, get_crm
from api.models import (CommandAccepted, Customer360, CustomerRow, CustomerState, Page,
                        StoredEvent, TimelineEntry)
from api.routes import Route
from commands import customers as handlers
from commands.application import Crm
from commands.errors import NotFound
from domain.base import DomainError, event_data, event_type
from domain.customer import Customer
from projections.timeline import KINDS
from readmodels import customers as directory
from readmodels.custom_fields import BadFilter
from readmodels import timeline as timelines

# Command and query routes are separate routers: in server mode they run in different processes.
command_router = APIRouter(route_class=Route, prefix="/v1/customers", tags=["customers"])
query_router = APIRouter(route_class=Route, prefix="/v1/customers", tags=["customers"])
Limit = Annotated[int, Query(ge=1, le=200)]
CrmDep = Annotated[Crm, Depends(get_crm)]


@command_router.post("", status_code=201, response_model=CommandAccepted)
def register_customer(body: handlers.RegisterCustomer, ctx: CommandDep):
    return handlers.register(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.patch("/{customer_id}", response_model=CommandAccepted)
def update_profile(customer_id: UUID, body: handlers.UpdateProfile, ctx: CommandDep):
    return handlers.update_profile(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


@command_router.post("/{customer_id}/notes", status_code=201, response_model=CommandAccepted)
def add_note(customer_id: UUID, body: handlers.AddNote, ctx: CommandDep):
    return handlers.add_note(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                             ctx.idem).as_dict()


@command_router.post("/{customer_id}/communications", status_code=201, response_model=CommandAccepted)
def log_communication(customer_id: UUID, body: handlers.LogCommunication, ctx: CommandDep):
    return handlers.log_communication(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                      ctx.idem).as_dict()


@command_router.post("/{customer_id}/orders", status_code=201, response_model=CommandAccepted)
def record_order(customer_id: UUID, body: handlers.RecordOrder, ctx: CommandDep):
    """Recording an order id the customer already has changes nothing (same version back)."""
    return handlers.record_order(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                 ctx.idem).as_dict()


@command_router.post("/{customer_id}/tags", response_model=CommandAccepted)
def change_tags(customer_id: UUID, body: handlers.ChangeTags, ctx: CommandDep):
    return handlers.change_tags(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                ctx.idem).as_dict()


@command_router.post("/{customer_id}/archive", response_model=CommandAccepted)
def archive_customer(customer_id: UUID, ctx: CommandDep,
                     body: handlers.ArchiveCustomer = Body(default_factory=handlers.ArchiveCustomer)):
    return handlers.archive(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                            ctx.idem).as_dict()


@query_router.get("", response_model=Page[CustomerRow])
def list_customers(caller: CallerDep, db: ReaderDep, request: Request,
                   q: Annotated[str | None, Query(max_length=200, description="name or email prefix")] = None,
                   tag: Annotated[str | None, Query(max_length=50)] = None,
                   status: Literal["active", "archived"] | None = None,
                   created_from: datetime | None = None, created_to: datetime | None = None,
                   cursor: Annotated[str | None, Query(max_length=500)] = None, limit: Limit = 50):
    """Custom fields filter as `cf.<key>=<value>`, `cf.<key>.gte=`, `cf.<key>.lte=` (numbers
    and dates) and `cf.<key>.set=true|false`; a multi-select matches when it contains the value."""
    try:
        return directory.list_customers(db, caller.tenant_id, q=q, tag=tag, status=status,
                                        created_from=created_from, created_to=created_to,
                                        cursor=cursor, limit=limit,
                                        custom=custom_field_filters(request))
    except BadFilter as error:
        raise DomainError(str(error), error.field) from None


def custom_field_filters(request: Request) -> list[tuple[str, str, str]]:
    """``cf.color=red`` -> ("color", "eq", "red"); ``cf.size.gte=3`` -> ("size", "gte", "3")."""
    found = []
    for name, value in request.query_params.multi_items():
        if name.startswith("cf."):
            key, _, operator = name[3:].partition(".")
            found.append((key, operator or "eq", value))
    return found


@query_router.get("/{customer_id}", response_model=Customer360 | CustomerState,
            responses={200: {"description": "The 360 summary; with `as_of`, the state "
                                            "reconstructed from the event store"}})
def get_customer(customer_id: UUID, caller: CallerDep, db: ReaderDep, crm: CrmDep,
                 response: Response,
                 as_of: Annotated[str | None, Query(
                     max_length=64, description="an ISO 8601 time with offset, or a version number")] = None):
    if as_of is not None:
        return _state_at(crm, caller.tenant_id, customer_id, as_of)
    customer = directory.customer_360(db, caller.tenant_id, customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    response.headers["ETag"] = f'"{customer["version"]}"'
    return customer


def _state_at(crm: Crm, tenant_id: str, customer_id: UUID, as_of: str) -> dict:
    if as_of.isdigit():
        customer = crm.state_at(Customer, customer_id, tenant_id, version=int(as_of))
    else:
        try:
            moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
        except ValueError:
            raise DomainError("as_of must be an ISO 8601 time or a version number", "as_of") from None
        if moment.tzinfo is None:
            raise DomainError("as_of needs a timezone offset, e.g. 2026-01-31T12:00:00Z", "as_of")
        customer = crm.state_at(Customer, customer_id, tenant_id, moment=moment)
    return {"id": customer.id, "version": customer.version, "as_of": customer.modified_on,
            "name": customer.name, "email": customer.email, "phone": customer.phone,
            "source": customer.source, "tags": customer.tags, "archived": customer.archived,
            "order_count": len(customer.order_ids), "note_count": customer.note_count}


@query_router.get("/{customer_id}/timeline", response_model=Page[TimelineEntry])
def customer_timeline(customer_id: UUID, caller: CallerDep, db: ReaderDep,
                      kind: Annotated[list[Literal[tuple(KINDS)]] | None, Query()] = None,  # type: ignore[valid-type]
                      since: datetime | None = None, until: datetime | None = None,
                      cursor: Annotated[str | None, Query(max_length=500)] = None,
                      limit: Limit = 50):
    page = timelines.timeline(db, caller.tenant_id, customer_id, kinds=kind, since=since,
                              until=until, cursor=cursor, limit=limit)
    # Entries are the tenant's rows, so a page with any is the customer's: only an empty page
    # asks the directory whether the customer exists (a statement less on nearly every read).
    if not page["items"] and not directory.customer_exists(db, caller.tenant_id, customer_id):
        raise NotFound(f"no customer {customer_id}")
    return page


@query_router.get("/{customer_id}/history", response_model=list[StoredEvent])
def customer_history(customer_id: UUID, caller: CallerDep, crm: CrmDep):
    """Every stored event of the customer, read from the event store itself (not a read model)."""
    return [{"type": event_type(e), "version": e.originator_version, "occurred_at": e.timestamp,
             "actor": e.meta["actor"], "tenant_id": e.meta["tenant_id"],
             "correlation_id": e.meta.get("correlation_id"), "causation_id": e.meta.get("causation_id"),
             "data": event_data(e)}
            for e in crm.history(Customer, customer_id, caller.tenant_id)]
