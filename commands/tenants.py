"""Tenants and API keys: creating a tenant issues its first (owner) key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError

from commands.application import Crm
from domain.base import Meta
from domain.tenant import ApiKey, Tenant, key_id


@dataclass(frozen=True)
class Caller:
    """Who an authenticated request is from."""

    tenant_id: str
    role: str
    key_id: UUID


def create_tenant(crm: Crm, name: str, actor: str = "cli") -> tuple[UUID, str]:
    """Creates a tenant and its owner key; returns (tenant id, the key, shown only now)."""
    tenant_id = uuid4()
    meta = Meta(tenant_id=str(tenant_id), actor=actor)
    secret = "crm_" + secrets.token_urlsafe(32)
    crm.save(Tenant.create(meta, tenant_id, name), ApiKey.issue(meta, secret, "owner", "initial owner key"))
    return tenant_id, secret


def issue_key(crm: Crm, meta: Meta, role: str, label: str | None = None) -> str:
    secret = "crm_" + secrets.token_urlsafe(32)
    crm.save(ApiKey.issue(meta, secret, role, label))
    return secret


def authenticate(crm: Crm, secret: str) -> Caller | None:
    try:
        key = crm.repository.get(key_id(secret))
    except AggregateNotFoundError:
        return None
    if not isinstance(key, ApiKey) or key.revoked:
        return None
    return Caller(tenant_id=key.tenant_id, role=key.role, key_id=key.id)
