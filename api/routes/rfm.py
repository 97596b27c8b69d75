"""RFM routes: each customer's recency, frequency and monetary scores and named segment, and
the size of every segment, as of any moment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone  # noqa: F401
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from api.deps import CallerDep, ReaderDep
from api.models import Page, RfmRow, RfmSegment
from api.routes import Route
from domain.base import DomainError
from domain.values import CURRENCIES
from readmodels import rfm

query_router = APIRouter(route_class=Route, prefix="/v1/rfm", tags=["segmentation"])
AsOf = Annotated[str | None, Query(max_length=64, description=(
    "an ISO 8601 time with offset, or a date (meaning the end of that day, UTC); default: now"))]
Currency = Annotated[str | None, Query(min_length=3, max_length=3, description=(
    "the currency of the monetary value (default: the one most orders were paid in)"))]
Segment = Literal[rfm.SEGMENT_NAMES]  # type: ignore[valid-type]


def as_of_moment(as_of: str | None) -> datetime | None:
    """The moment asked for; None for now (RFM from the summaries, see readmodels/rfm.py)."""
    if as_of is None:
        return None
    try:
        if len(as_of) == 10:
            day = date.fromisoformat(as_of)
            return datetime.combine(day + timedelta(days=1), time(), timezone.utc) - timedelta(
                microseconds=1)
        moment = datetime.fromisoformat(as_of.replace("Z", "+00:00"))
    except ValueError:
        raise DomainError("as_of must be an ISO 8601 time or date", "as_of") from None
    if moment.tzinfo is None:
        raise DomainError("as_of needs a timezone offset, e.g. 2026-01-31T12:00:00Z", "as_of")
    return moment


def _currency(currency: str | None) -> str | None:
    if currency is not None and currency.upper() not in CURRENCIES:
        raise DomainError(f"{currency!r} is not a supported ISO 4217 currency", "currency")
    return currency.upper() if currency else None


@query_router.get("", response_model=Page[RfmRow])
def rfm_customers(caller: CallerDep, db: ReaderDep, as_of: AsOf = None, currency: Currency = None,
                  segment: Segment | None = None,
                  cursor: Annotated[str | None, Query(max_length=500)] = None,
                  limit: Annotated[int, Query(ge=1, le=200)] = 50):
    """Customers with orders at `as_of`, scored 1-5 by quintile; biggest spenders first."""
    return rfm.customers(db, caller.tenant_id, as_of_moment(as_of), currency=_currency(currency),
                         segment=segment, cursor=cursor, limit=limit)


@query_router.get("/segments", response_model=list[RfmSegment])
def rfm_segments(caller: CallerDep, db: ReaderDep, as_of: AsOf = None, currency: Currency = None):
    """How many customers are in each named segment (rules in docs/SEGMENTS.md)."""
    return rfm.segments(db, caller.tenant_id, as_of_moment(as_of), _currency(currency))
