"""The clock routes judge time by (quote expiry, renewals, rotting): injectable for tests.

``app.state.clock``, when set, is a callable returning an aware UTC datetime;
otherwise it is the wall clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, Request


def wall_clock() -> datetime:
    return datetime.now(timezone.utc)


def get_clock(request: Request) -> Callable[[], datetime]:
    return getattr(request.app.state, "clock", None) or wall_clock


def get_now(request: Request) -> datetime:
    return get_clock(request)()


NowDep = Annotated[datetime, Depends(get_now)]
