"""Idempotent commands: a retried request returns the first answer, storing nothing new.

The record of an answered request is itself an aggregate, saved in the same
transaction as the command's events. Its id is derived from (tenant, key), so
two concurrent retries race to create version 1 of the same aggregate: the
store lets exactly one win, and the loser reads the winner's answer.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, Meta


def request_id(tenant_id: str, key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:idempotency:{tenant_id}:{key}")


class AnsweredRequest(CrmAggregate):
    """State: fingerprint (a hash of the request) and answer (the command's outcome)."""

    class Answered(CrmAggregate.Created):
        fingerprint: str
        answer: dict

        def apply(self, request: AnsweredRequest) -> None:
            super().apply(request)
            request.fingerprint = self.fingerprint
            request.answer = self.answer

    @classmethod
    def record(cls, meta: Meta, key: str, fingerprint: str, answer: dict) -> AnsweredRequest:
        return cls._start(cls.Answered, meta, id=request_id(meta.tenant_id, key),
                          fingerprint=fingerprint, answer=answer)
