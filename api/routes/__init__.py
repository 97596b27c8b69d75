"""The API's routes, one module per part of the CRM, and how they join the app."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI


def include(app: FastAPI, routers: Iterable[APIRouter]) -> None:
    """Adds the routers' routes to the app itself, in order (the first full match wins).

    Not ``app.include_router``: since FastAPI 0.137 that keeps each router as one node, and a
    request walks every node route by route at several microseconds a route, without looking
    at the router's prefix first (fastapi/fastapi#16159, open). With ~170 routes that was most
    of a cheap request's cost: ~1 ms of /health's 1.5 ms in process (docs/PERFORMANCE.md,
    "The request path"). Our routers carry only a prefix and tags, which their routes already
    have, so the app's routes are the same either way; a flat list is what ``@app.get`` builds.
    """
    for router in routers:
        app.router.routes.extend(router.routes)
