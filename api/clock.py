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


def clock_of(request: Request) -> Callable[[], datetime]:
    return getattr(request.app.state, "clock", None) or wall_clock


# The dependencies are async, as they only read the app's state: a sync dependency costs a
# hand-off to the thread pool (~0.3 ms here) on every request (docs/PERFORMANCE.md, "The
# request path").
async def get_clock(request: Request) -> Callable[[], datetime]:
    return clock_of(request)


async def get_now(request: Request) -> datetime:
    return clock_of(request)()


NowDep = Annotated[datetime, Depends(get_now)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
