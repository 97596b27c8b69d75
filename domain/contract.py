"""The Contract: an agreement with a customer for a period (a subscription, a wholesale term).

Its state machine: draft -> active -> cancelled, and ``renew`` extends an
active contract to a new end (and renewal) date. The renewal date is when the
vendor must decide about renewing (by default the end date); contracts coming
up for renewal are a query of the read model, and a policy turns them into
reminder tasks.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import money, text

TYPES = ("subscription", "wholesale", "commission", "service", "other")


def _dates(start: date, end: date, renewal: date | None) -> date:
    if end <= start:
        raise DomainError("end_date must be after start_date", "end_date")
    renewal = renewal or end
    if not start <= renewal <= end:
        raise DomainError("renewal_date must be between start_date and end_date", "renewal_date")
    return renewal


class Contract(CrmAggregate):
    """State: customer_id, opportunity_id, title, type, status, start_date, end_date,
    renewal_date, auto_renew, value, currency, renewals."""

    class Created(CrmAggregate.Created):
        customer_id: UUID
        opportunity_id: UUID | None
        title: str
        type: str
        start_date: date
        end_date: date
        renewal_date: date
        auto_renew: bool
        value: Decimal | None
        currency: str | None

        def apply(self, contract: Contract) -> None:
            super().apply(contract)
            for field in ("customer_id", "opportunity_id", "title", "type", "start_date",
                          "end_date", "renewal_date", "auto_renew", "value", "currency"):
                setattr(contract, field, getattr(self, field))
            contract.status = "draft"
            contract.renewals = 0

    class Activated(CrmAggregate.Event):
        customer_id: UUID

        def apply(self, contract: Contract) -> None:
            contract.status = "active"

    class Renewed(CrmAggregate.Event):
        customer_id: UUID
        previous_end_date: date
        end_date: date
        renewal_date: date
        renewals: int

        def apply(self, contract: Contract) -> None:
            contract.end_date = self.end_date
            contract.renewal_date = self.renewal_date
            contract.renewals = self.renewals

    class Cancelled(CrmAggregate.Event):
        customer_id: UUID
        reason: str | None

        def apply(self, contract: Contract) -> None:
            contract.status = "cancelled"

    @classmethod
    def create(cls, meta: Meta, customer_id: UUID, title: str, type: str, start_date: date,
               end_date: date, renewal_date: date | None = None, auto_renew: bool = False,
               value: Decimal | str | None = None, currency: str | None = None,
               opportunity_id: UUID | None = None) -> Contract:
        if type not in TYPES:
            raise DomainError(f"type must be one of {', '.join(TYPES)}", "type")
        if value is not None:
            value, currency = money(value, currency or "", "value")
        elif currency:
            raise DomainError("currency is given without a value", "currency")
        return cls._start(cls.Created, meta, customer_id=customer_id, opportunity_id=opportunity_id,
                          title=text(title, "title", 200, required=True), type=type,
                          start_date=start_date, end_date=end_date,
                          renewal_date=_dates(start_date, end_date, renewal_date),
                          auto_renew=auto_renew, value=value, currency=currency)

    def activate(self, meta: Meta) -> None:
        if self.status != "draft":
            raise InvalidTransition(f"cannot activate a {self.status} contract")
        self._record(self.Activated, meta, customer_id=self.customer_id)

    def renew(self, meta: Meta, end_date: date, renewal_date: date | None = None) -> None:
        if self.status != "active":
            raise InvalidTransition(f"only an active contract is renewed, not a {self.status} one")
        if end_date <= self.end_date:
            raise DomainError("a renewal must end after the current end_date "
                              f"({self.end_date.isoformat()})", "end_date")
        renewal = renewal_date or end_date
        if not self.end_date <= renewal <= end_date:
            raise DomainError("renewal_date must be between the current and the new end_date",
                              "renewal_date")
        self._record(self.Renewed, meta, customer_id=self.customer_id,
                     previous_end_date=self.end_date, end_date=end_date, renewal_date=renewal,
                     renewals=self.renewals + 1)

    def cancel(self, meta: Meta, reason: str | None = None) -> None:
        if self.status == "cancelled":
            raise InvalidTransition("the contract is already cancelled")
        self._record(self.Cancelled, meta, customer_id=self.customer_id,
                     reason=text(reason, "reason", 1000))
