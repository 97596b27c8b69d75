"""FastAPI dependencies: who is calling, what they send along, and read consistency."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Header, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from commands.application import Crm, Idempotency, parse_consistency_token
from commands.errors import Forbidden
from commands.tenants import Caller, CallerCache
from domain.base import DomainError, Meta
from readmodels.store import ReadStore


# The dependencies are async where they do not block: a sync dependency costs a hand-off to the
# thread pool (~0.3 ms here) on every request (docs/PERFORMANCE.md, "The request path").
async def get_crm(request: Request) -> Crm:
    return request.app.state.crm


async def get_store(request: Request) -> ReadStore:
    return request.app.state.store


async def get_caller(request: Request, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The caller of a remembered key is known on the event loop; a key not seen within the
    cache's ttl is looked up in the event store, in the thread pool."""
    scheme, _, secret = (authorization or "").partition(" ")
    secret = secret.strip()
    callers: CallerCache = request.app.state.callers
    caller = None
    if scheme.lower() == "bearer" and secret:
        known, caller = callers.remembered(secret)
        if not known:
            caller = await run_in_threadpool(callers.authenticate, secret)
    if caller is None:
        raise HTTPException(401, "A valid API key is required (Authorization: Bearer <key>)",
                            headers={"WWW-Authenticate": "Bearer"})
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


@dataclass(frozen=True)
class CommandContext:
    crm: Crm
    meta: Meta
    idem: Idempotency | None
    expected_version: int | None
    role: str = "member"


def _expected_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    if not value.isdigit():
        raise DomainError("If-Match must be the version number, e.g. \"3\"", "If-Match")
    return int(value)


async def command_context(
    request: Request, caller: CallerDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
    if_match: Annotated[str | None, Header()] = None,
    x_actor: Annotated[str | None, Header(max_length=200)] = None,
    x_correlation_id: Annotated[str | None, Header(max_length=200)] = None,
) -> CommandContext:
    if caller.role == "viewer":
        raise Forbidden("a viewer key can only read")
    key = caller.key_id.hex[:12]
    meta = Meta(tenant_id=caller.tenant_id, actor=f"{x_actor} (key {key})" if x_actor else f"key {key}",
                correlation_id=x_correlation_id or str(uuid4()))
    idem = None
    if idempotency_key:
        body = await request.body()
        fingerprint = hashlib.sha256(
            b"\n".join([request.method.encode(), request.url.path.encode(), body])).hexdigest()
        idem = Idempotency(idempotency_key, fingerprint)
    return CommandContext(request.app.state.crm, meta, idem, _expected_version(if_match), caller.role)


CommandDep = Annotated[CommandContext, Depends(command_context)]


async def consistent_reader(request: Request, caller: CallerDep,
                            x_consistency_token: Annotated[str | None, Header(max_length=100)] = None):
    """A read cursor, once the read model has caught up to the token (if one was sent): the
    wait, which blocks, in the thread pool."""
    store: ReadStore = request.app.state.store
    if x_consistency_token:
        try:
            aggregate_id, version = parse_consistency_token(x_consistency_token)
        except ValueError:
            raise DomainError("not a consistency token this service issued",
                              "X-Consistency-Token") from None
        timeout = request.app.state.settings.consistency_timeout
        if not await run_in_threadpool(store.wait_for, aggregate_id, version, timeout):
            raise HTTPException(503, f"The read model has not caught up within {timeout:g} s; retry",
                                headers={"Retry-After": "1"})
    return store.reader()


ReaderDep = Annotated[object, Depends(consistent_reader)]
