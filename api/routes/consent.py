"""Preference and consent routes, and the consent lookup campaigns use before sending."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, ConsentStatus
from api.routes import Route
from commands import consent as handlers
from readmodels import consent as consents

command_router = APIRouter(route_class=Route, tags=["consent"])
query_router = APIRouter(route_class=Route, tags=["consent"])


@command_router.patch("/v1/customers/{customer_id}/preferences", response_model=CommandAccepted)
def change_preferences(customer_id: UUID, body: handlers.ChangePreferences, ctx: CommandDep):
    """Preferred channel, contact frequency and topics; fields left out stay as they are."""
    return handlers.change_preferences(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                       ctx.idem).as_dict()


@command_router.post("/v1/customers/{customer_id}/consent", status_code=201,
                     response_model=CommandAccepted)
def record_consent(customer_id: UUID, body: handlers.RecordConsent, ctx: CommandDep):
    """Records an opt-in or opt-out on one channel, with where and when the customer said so."""
    return handlers.record_consent(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                                   ctx.idem).as_dict()


class ConsentLookup(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channel: handlers.ConsentChannel
    customer_ids: list[UUID] = Field(min_length=1, max_length=100_000)


@query_router.post("/v1/consent/lookup", response_model=list[ConsentStatus])
def lookup(body: ConsentLookup, caller: CallerDep, db: ReaderDep):
    """Each customer's consent on the channel; `allowed` only after an opt-in (and not archived).
    Ids that are not this tenant's customers are left out."""
    return consents.lookup(db, caller.tenant_id, body.channel, body.customer_ids)
