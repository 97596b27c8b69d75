"""API keys of the caller's tenant: an owner issues and revokes them."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from api.deps import CommandDep
from api.routes import Route
from commands.base import Command
from commands.errors import Forbidden
from commands.tenants import issue_key, revoke_key
from domain.tenant import key_id

router = APIRouter(route_class=Route, prefix="/v1/api-keys", tags=["api keys"])


class IssueKey(Command):
    role: Literal["owner", "member", "viewer"]
    label: str | None = Field(default=None, max_length=200)


class IssuedKey(BaseModel):
    id: UUID
    api_key: str = Field(description="Shown only in this answer; the store keeps its hash.")
    role: str
    label: str | None


def _owner(ctx) -> None:
    if ctx.role != "owner":
        raise Forbidden("only an owner key can manage API keys")


@router.post("", status_code=201, response_model=IssuedKey)
def issue(body: IssueKey, ctx: CommandDep):
    _owner(ctx)
    secret = issue_key(ctx.crm, ctx.meta, body.role, body.label)
    return {"id": key_id(secret), "api_key": secret, "role": body.role, "label": body.label}


@router.delete("/{key}", status_code=204, response_class=Response)
def revoke(key: UUID, ctx: CommandDep, request: Request):
    """Revokes a key of this tenant at once on this node (within CRM_AUTH_CACHE_SECONDS elsewhere)."""
    _owner(ctx)
    revoke_key(ctx.crm, ctx.meta, key)
    request.app.state.callers.forget(key)
