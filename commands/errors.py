"""Errors the service layer raises; api/ maps each to one HTTP status."""

from domain.base import DomainError, InvalidTransition  # noqa: F401  (re-exported for api/)


class NotFound(Exception):
    """No such aggregate for this tenant (another tenant's id is simply not found)."""


class Conflict(Exception):
    """The aggregate changed since the version the client based its command on."""

    def __init__(self, message: str, current_version: int | None = None):
        super().__init__(message)
        self.current_version = current_version


class IdempotencyKeyReused(Exception):
    """An Idempotency-Key was sent again with a different request."""


class Forbidden(Exception):
    """The caller's role does not allow this command."""
