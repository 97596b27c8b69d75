"""Custom field routes: the tenant's definitions, and setting values on a customer."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from api.deps import CallerDep, CommandDep, ReaderDep
from api.models import CommandAccepted, CustomFieldDefinition
from api.routes import Route
from commands import custom_fields as handlers
from readmodels import custom_fields as definitions

command_router = APIRouter(route_class=Route, tags=["custom fields"])
query_router = APIRouter(route_class=Route, tags=["custom fields"])
Key = Annotated[str, Path(max_length=40)]


@command_router.post("/v1/custom-fields", status_code=201, response_model=CommandAccepted)
def define_field(body: handlers.DefineField, ctx: CommandDep):
    """Adds a field to every customer of the tenant. Its key and type never change."""
    return handlers.define(ctx.crm, ctx.meta, body, ctx.idem).as_dict()


@command_router.patch("/v1/custom-fields/{key}", response_model=CommandAccepted)
def change_field(key: Key, body: handlers.ChangeField, ctx: CommandDep):
    """Changes the label, options or `required`; stored values are kept as they are."""
    return handlers.change(ctx.crm, ctx.meta, key, body, ctx.expected_version, ctx.idem).as_dict()


@command_router.delete("/v1/custom-fields/{key}", response_model=CommandAccepted)
def retire_field(key: Key, ctx: CommandDep):
    """Hides the field; its values stay in the event history and the key is never reused."""
    return handlers.retire(ctx.crm, ctx.meta, key, handlers.RetireField(), ctx.expected_version,
                           ctx.idem).as_dict()


@query_router.get("/v1/custom-fields", response_model=list[CustomFieldDefinition])
def list_fields(caller: CallerDep, db: ReaderDep, include_retired: bool = False):
    return definitions.definitions(db, caller.tenant_id, include_retired)


@command_router.patch("/v1/customers/{customer_id}/custom-fields", response_model=CommandAccepted)
def set_custom_fields(customer_id: UUID, body: handlers.SetCustomFields, ctx: CommandDep):
    """Sets the values given (null clears one); each is validated against its definition."""
    return handlers.set_values(ctx.crm, ctx.meta, customer_id, body, ctx.expected_version,
                               ctx.idem).as_dict()
