"""Segment routes: define dynamic (rule) and static (by hand) segments, their members,
analytics, and re-evaluating time-dependent rules."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import (CommandAccepted, Page, SegmentAnalytics, SegmentMember, SegmentRefreshed,
                        SegmentView)
from api.routes import Route
from commands import segments as handlers
from commands.errors import Forbidden, NotFound
from readmodels import segment_membership, segments

command_router = APIRouter(route_class=Route, prefix="/v1/segments", tags=["segmentation"])
query_router = APIRouter(route_class=Route, prefix="/v1/segments", tags=["segmentation"])


@command_router.post("", status_code=201, response_model=CommandAccepted)
def define_segment(body: handlers.DefineSegment, ctx: CommandDep):
    """A dynamic segment's members follow its rule as events arrive (docs/SEGMENTS.md); a
    static segment's are added and removed by hand."""
    return handlers.define(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.put("/{segment_id}/rule", response_model=CommandAccepted)
def change_rule(segment_id: UUID, body: handlers.ChangeRule, ctx: CommandDep):
    return handlers.change_rule(ctx.crm, ctx.meta, segment_id, body, ctx.expected_version,
                                ctx.idem).as_dict()


@command_router.patch("/{segment_id}", response_model=CommandAccepted)
def rename_segment(segment_id: UUID, body: handlers.RenameSegment, ctx: CommandDep):
    return handlers.rename(ctx.crm, ctx.meta, segment_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{segment_id}/members", response_model=CommandAccepted)
def change_members(segment_id: UUID, body: handlers.ChangeMembers, ctx: CommandDep):
    """Static segments: `{"add": [ids], "remove": [ids]}` (up to 1000 each per call)."""
    return handlers.change_members(ctx.crm, ctx.meta, segment_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


@command_router.delete("/{segment_id}", response_model=CommandAccepted)
def delete_segment(segment_id: UUID, ctx: CommandDep):
    """Everyone leaves the segment; its history stays."""
    return handlers.delete(ctx.crm, ctx.meta, segment_id, ctx.expected_version, ctx.idem).as_dict()


@query_router.get("", response_model=list[SegmentView])
def list_segments(caller: CallerDep, db: ReaderDep):
    return segments.list_segments(db, caller.tenant_id)


@query_router.post("/refresh", response_model=SegmentRefreshed)
def refresh_segments(caller: CallerDep, request: Request):
    """Re-evaluates every dynamic segment now, for rules that change with time alone
    ("within 30 days", lead-score silence); the scheduler calls this too."""
    if caller.role == "viewer":
        raise Forbidden("a viewer key can only read")
    projector = request.app.state.projector
    store = projector.store
    with projector.lock, store.transaction() as cursor:
        position = max((row["position"] for row in store.positions()), default=0)
        changes = segment_membership.refresh_tenant(store, cursor, caller.tenant_id,
                                                    datetime.now(timezone.utc), position)
    return {"changes": changes}


@query_router.get("/{segment_id}", response_model=SegmentView)
def get_segment(segment_id: UUID, caller: CallerDep, db: ReaderDep):
    segment = segments.get_segment(db, caller.tenant_id, segment_id)
    if segment is None:
        raise NotFound(f"no segment {segment_id}")
    return segment


@query_router.get("/{segment_id}/members", response_model=Page[SegmentMember])
def segment_members(segment_id: UUID, caller: CallerDep, db: ReaderDep,
                    cursor: Annotated[str | None, Query(max_length=500)] = None,
                    limit: Annotated[int, Query(ge=1, le=1000)] = 50):
    page = segments.members(db, caller.tenant_id, segment_id, cursor=cursor, limit=limit)
    # Members are the tenant's customers, so a page with any is of the tenant's segment: only an
    # empty page asks whether the segment exists (counting its members cost ~7 ms at 45k).
    if not page["items"]:
        get_segment(segment_id, caller, db)
    return page


@query_router.get("/{segment_id}/analytics", response_model=SegmentAnalytics)
def segment_analytics(segment_id: UUID, caller: CallerDep, db: ReaderDep,
                      since: datetime | None = None, until: datetime | None = None):
    """Size over time, the members' revenue and average order value (orders in [since, until)
    if given), and how the members with orders split into RFM segments."""
    get_segment(segment_id, caller, db)
    return segments.analytics(db, caller.tenant_id, segment_id, datetime.now(timezone.utc),
                              since, until)
