"""Task routes: create, complete, reopen, reassign; my open / overdue / due-today lists."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Header, Query

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, Page, TaskRow
from api.routes import Route
from commands import tasks as handlers
from commands.errors import NotFound
from domain.base import DomainError
from readmodels import tasks as task_lists

command_router = APIRouter(route_class=Route, prefix="/v1/tasks", tags=["tasks"])
query_router = APIRouter(route_class=Route, prefix="/v1/tasks", tags=["tasks"])
Limit = Annotated[int, Query(ge=1, le=200)]
Due = Literal["overdue", "today"]
NowParam = Annotated[datetime | None, Query(
    description="the moment to judge overdue / today against (default: the server's clock); "
                "with a timezone offset")]
TzParam = Annotated[str, Query(max_length=64, description="IANA time zone whose calendar day "
                                                          "`due=today` means, e.g. Europe/London")]


@command_router.post("", status_code=201, response_model=CommandAccepted)
def create_task(body: handlers.CreateTask, ctx: CommandDep):
    return handlers.create(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.post("/{task_id}/complete", response_model=CommandAccepted)
def complete_task(task_id: UUID, body: handlers.CompleteTask, ctx: CommandDep):
    return handlers.complete(ctx.crm, ctx.meta, task_id, body, ctx.expected_version,
                             ctx.idem).as_dict()


@command_router.post("/{task_id}/reopen", response_model=CommandAccepted)
def reopen_task(task_id: UUID, body: handlers.ReopenTask, ctx: CommandDep):
    return handlers.reopen(ctx.crm, ctx.meta, task_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/{task_id}/reassign", response_model=CommandAccepted)
def reassign_task(task_id: UUID, body: handlers.ReassignTask, ctx: CommandDep):
    return handlers.reassign(ctx.crm, ctx.meta, task_id, body, ctx.expected_version,
                             ctx.idem).as_dict()


def _moment(now: datetime | None, tz: str) -> tuple[datetime, datetime]:
    """(now, the start of now's calendar day in ``tz``), both aware."""
    if now is None:
        now = datetime.now(timezone.utc)
    elif now.tzinfo is None:
        raise DomainError("now needs a timezone offset, e.g. 2026-01-31T12:00:00Z", "now")
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise DomainError(f"{tz!r} is not an IANA time zone", "tz") from None
    local = now.astimezone(zone)
    return now, local.replace(hour=0, minute=0, second=0, microsecond=0)


@query_router.get("", response_model=Page[TaskRow])
def list_tasks(caller: CallerDep, db: ReaderDep,
               assignee: Annotated[str | None, Query(max_length=200)] = None,
               unassigned: bool = False,
               status: Literal["open", "done"] | None = None,
               due: Annotated[Due | None, Query(description="open tasks overdue, or due today")] = None,
               customer_id: UUID | None = None, opportunity_id: UUID | None = None,
               now: NowParam = None, tz: TzParam = "UTC",
               cursor: Annotated[str | None, Query(max_length=500)] = None, limit: Limit = 50):
    """Soonest due first; tasks without a due time last."""
    now, day_start = _moment(now, tz)
    return task_lists.list_tasks(db, caller.tenant_id, now=now, day_start=day_start,
                                 assignee=assignee, unassigned=unassigned, status=status, due=due,
                                 customer_id=customer_id, opportunity_id=opportunity_id,
                                 cursor=cursor, limit=limit)


@query_router.get("/mine", response_model=Page[TaskRow])
def my_tasks(caller: CallerDep, db: ReaderDep,
             x_actor: Annotated[str | None, Header(max_length=200,
                                                   description="who \"me\" is")] = None,
             due: Due | None = None, now: NowParam = None, tz: TzParam = "UTC",
             cursor: Annotated[str | None, Query(max_length=500)] = None, limit: Limit = 50):
    """The open tasks assigned to the person named in `X-Actor` (all, overdue, or due today)."""
    if not x_actor or not x_actor.strip():
        raise DomainError("X-Actor must name the person whose tasks to list", "X-Actor")
    now, day_start = _moment(now, tz)
    return task_lists.list_tasks(db, caller.tenant_id, now=now, day_start=day_start,
                                 assignee=x_actor.strip(), status="open", due=due,
                                 cursor=cursor, limit=limit)


@query_router.get("/{task_id}", response_model=TaskRow)
def get_task(task_id: UUID, caller: CallerDep, db: ReaderDep):
    task = task_lists.get_task(db, caller.tenant_id, task_id)
    if task is None:
        raise NotFound(f"no task {task_id}")
    task["overdue"] = (task["status"] == "open" and task["due_at"] is not None
                       and task["due_at"] < datetime.now(timezone.utc))
    return task
