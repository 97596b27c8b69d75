"""Tenants and their API keys.

A key's aggregate id is derived from the SHA-256 of the key itself, so that
authenticating a request is one lookup by id, and the store never holds a key
that could be used if the database leaked. Issuing and revoking keys are events
like any other: the audit trail shows who could act, and when.
"""

from __future__ import annotations

import hashlib
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

ROLES = ("owner", "member", "viewer")  # viewer may only read


def key_id(api_key: str) -> UUID:
    digest = hashlib.sha256(api_key.encode()).hexdigest()
    return uuid5(NAMESPACE_URL, f"craved-crm:api-key:{digest}")


class Tenant(CrmAggregate):
    """State: name."""

    class Created(CrmAggregate.Created):
        name: str

        def apply(self, tenant: Tenant) -> None:
            super().apply(tenant)
            tenant.name = self.name

    @classmethod
    def create(cls, meta: Meta, tenant_id: UUID, name: str) -> Tenant:
        return cls._start(cls.Created, meta, id=tenant_id, name=text(name, "name", 200, required=True))


class ApiKey(CrmAggregate):
    """State: role, label, revoked. Its id is ``key_id(secret)``."""

    class Issued(CrmAggregate.Created):
        role: str
        label: str | None

        def apply(self, key: ApiKey) -> None:
            super().apply(key)
            key.role = self.role
            key.label = self.label
            key.revoked = False

    class Revoked(CrmAggregate.Event):
        def apply(self, key: ApiKey) -> None:
            key.revoked = True

    @classmethod
    def issue(cls, meta: Meta, secret: str, role: str, label: str | None = None) -> ApiKey:
        if role not in ROLES:
            raise DomainError(f"role must be one of {', '.join(ROLES)}", "role")
        return cls._start(cls.Issued, meta, id=key_id(secret), role=role,
                          label=text(label, "label", 200))

    def revoke(self, meta: Meta) -> None:
        if self.revoked:
            raise InvalidTransition("the key is already revoked")
        self._record(self.Revoked, meta)
