"""The API's routes, one module per part of the CRM, and how they join the app."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.routing import APIRoute


class Route(APIRoute):
    """A route whose synchronous endpoint runs in the thread pool from a coroutine of ours.

    FastAPI runs a synchronous endpoint in the thread pool and then, because the endpoint was
    synchronous, validates its answer against the response model in the thread pool too: a
    second hand-off between threads per request (~6% of a command node's CPU at 64 clients,
    docs/PERFORMANCE.md, "The response's hand-off"). Wrapped, the endpoint still runs in the
    pool, once, and the answer is validated on the event loop. ``functools.wraps`` keeps the
    name, docstring and signature (FastAPI reads the parameters and resolves their annotations
    through ``__wrapped__``), so the OpenAPI document is the same.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _in_thread_pool(endpoint), **kwargs)


def _in_thread_pool(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(endpoint):
        return endpoint

    @functools.wraps(endpoint)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(endpoint, *args, **kwargs)
    return run


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
