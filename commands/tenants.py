"""Tenants and API keys: creating a tenant issues its first (owner) key."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from uuid import UUID, uuid4

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
    key = crm.found(key_id(secret))
    if not isinstance(key, ApiKey) or key.revoked:
        return None
    return Caller(tenant_id=key.tenant_id, role=key.role, key_id=key.id)


def revoke_key(crm: Crm, meta: Meta, key: UUID) -> None:
    """Revokes one of the caller's tenant's keys (another tenant's key is not found)."""
    crm.change(ApiKey, key, meta, lambda k: k.revoke(meta))


class CallerCache:
    """Remembers authenticated callers for ``ttl`` seconds, sparing a store read per request.

    A key revoked through this process is forgotten at once; one revoked
    elsewhere (another node, the CLI) stops working within ``ttl``.
    """

    def __init__(self, crm: Crm, ttl: float, size: int = 10_000) -> None:
        self.crm, self.ttl, self.size = crm, ttl, size
        self._callers: dict[str, tuple[float, Caller | None]] = {}

    def remembered(self, secret: str) -> tuple[bool, Caller | None]:
        """(True, the caller or None for an unknown key) if looked up within ``ttl``; else
        (False, None). Reads no store: the API answers it on its event loop."""
        cached = self._callers.get(secret)
        if cached and cached[0] > time.monotonic():
            return True, cached[1]
        return False, None

    def authenticate(self, secret: str) -> Caller | None:
        known, caller = self.remembered(secret)
        if known:
            return caller
        now = time.monotonic()
        caller = authenticate(self.crm, secret)
        if self.ttl > 0:
            if len(self._callers) >= self.size:
                self._callers.clear()
            self._callers[secret] = (now + self.ttl, caller)
        return caller

    def forget(self, key: UUID) -> None:
        for secret, (_, caller) in list(self._callers.items()):
            if caller is not None and caller.key_id == key:
                self._callers.pop(secret, None)
