"""Lead routes: lifecycle, BANT, assignment, the lead queue, conversion over time; the
tenant's lead settings (BANT rule, routing and scoring rules) and teams."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import (CommandAccepted, ConversionPeriod, LeadRow, LeadScore, LeadSettingsView,
                        Page, ScoreRow, TeamView)
from api.routes import Route
from commands import leads as handlers
from commands.errors import NotFound
from domain.base import DomainError
from readmodels import lead_scores, leads

command_router = APIRouter(route_class=Route, tags=["leads"])
query_router = APIRouter(route_class=Route, tags=["leads"])
TeamName = Annotated[str, Path(max_length=50)]


@command_router.post("/v1/customers/{customer_id}/lifecycle", response_model=CommandAccepted)
def change_lifecycle(customer_id: UUID, body: handlers.ChangeLifecycle, ctx: CommandDep):
    """lead → qualified → customer, customer → churned → customer (an order also converts)."""
    return handlers.change_lifecycle(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                     ctx.idem).as_dict()


@command_router.patch("/v1/customers/{customer_id}/bant", response_model=CommandAccepted)
def assess_bant(customer_id: UUID, body: handlers.AssessBant, ctx: CommandDep):
    """Budget, authority, need, timeline (each met/not met/unknown, with a note). A lead that
    meets the tenant's BANT rule becomes qualified."""
    return handlers.assess_bant(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                ctx.idem).as_dict()


@command_router.post("/v1/customers/{customer_id}/assign", response_model=CommandAccepted)
def assign(customer_id: UUID, body: handlers.AssignLead, ctx: CommandDep):
    """`{"owner": "maya"}` (null unassigns), `{"team": "sales"}` (round robin) or
    `{"by_rule": true}` (the first matching routing rule)."""
    return handlers.assign(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                           ctx.idem).as_dict()


@command_router.post("/v1/customers/{customer_id}/engagements", status_code=201,
                     response_model=CommandAccepted)
def track_engagement(customer_id: UUID, body: handlers.TrackEngagement, ctx: CommandDep):
    """An email opened, a link clicked, a page visited, a form submitted (for lead scoring)."""
    return handlers.track_engagement(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                     ctx.idem).as_dict()


@command_router.put("/v1/lead-settings/bant-rule", response_model=CommandAccepted)
def set_bant_rule(body: handlers.SetBantRule, ctx: CommandDep):
    """Qualified when every `required` criterion and at least `minimum` criteria are met
    (default: all four)."""
    return handlers.set_bant_rule(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.put("/v1/lead-settings/routing-rules", response_model=CommandAccepted)
def set_routing_rules(body: handlers.SetRoutingRules, ctx: CommandDep):
    """Ordered rules; the first whose `when` matches (source, and/or a custom field's value)
    assigns a new lead to its `owner` or round-robin within its `team`."""
    return handlers.set_routing_rules(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.put("/v1/lead-settings/scoring-rules", response_model=CommandAccepted)
def set_scoring_rules(body: handlers.SetScoringRules, ctx: CommandDep):
    """Lead-scoring rules (see docs/LEADS.md). Every score follows the new rules at once."""
    return handlers.set_scoring_rules(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.put("/v1/teams/{name}", response_model=CommandAccepted)
def set_team(name: TeamName, body: handlers.SetTeam, ctx: CommandDep):
    return handlers.set_team(ctx.crm, ctx.meta, name, body, ctx.idem).as_dict()


@query_router.get("/v1/leads", response_model=Page[LeadRow])
def lead_queue(caller: CallerDep, db: ReaderDep,
               stage: Literal["lead", "qualified"] | None = None,
               owner: Annotated[str | None, Query(max_length=200)] = None,
               unassigned: bool = False,
               cursor: Annotated[str | None, Query(max_length=500)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Open leads, oldest first; `unassigned=true` is the queue of leads nobody owns."""
    return leads.lead_queue(db, caller.tenant_id, stage=stage, owner=owner, unassigned=unassigned,
                            cursor=cursor, limit=limit)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise DomainError("now needs a timezone offset, e.g. 2026-01-31T12:00:00Z", "now")
    return now


NowParam = Annotated[datetime | None, Query(description="score as of this moment (silence is "
                                                         "counted up to it); default: now")]


@query_router.get("/v1/leads/scores", response_model=Page[ScoreRow])
def top_scores(caller: CallerDep, db: ReaderDep, now: NowParam = None,
               min_score: Annotated[int, Query(ge=0, le=100)] = 0,
               cursor: Annotated[str | None, Query(max_length=500)] = None,
               limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Active customers by lead score, highest first."""
    return lead_scores.top_scores(db, caller.tenant_id, _now(now), min_score=min_score,
                                  cursor=cursor, limit=limit)


@query_router.get("/v1/customers/{customer_id}/lead-score", response_model=LeadScore)
def lead_score(customer_id: UUID, caller: CallerDep, db: ReaderDep, now: NowParam = None):
    """The score, the points of each rule behind it, and its history under the current rules."""
    score = lead_scores.score_of_customer(db, caller.tenant_id, customer_id, _now(now))
    if score is None:
        raise NotFound(f"no active customer {customer_id}")
    return score


@query_router.get("/v1/leads/conversion", response_model=list[ConversionPeriod])
def conversion(caller: CallerDep, db: ReaderDep,
               period: Literal["day", "week", "month", "quarter", "year"] = "month",
               since: datetime | None = None, until: datetime | None = None):
    """Conversion rate over time: per period, the leads that entered the funnel and how many
    of them qualified and became customers; also the conversions that happened in the period."""
    return leads.conversion(db, caller.tenant_id, period, since, until)


@query_router.get("/v1/lead-settings", response_model=LeadSettingsView)
def lead_settings(caller: CallerDep, db: ReaderDep):
    return leads.settings(db, caller.tenant_id)


@query_router.get("/v1/teams", response_model=list[TeamView])
def list_teams(caller: CallerDep, db: ReaderDep):
    return leads.teams(db, caller.tenant_id)
