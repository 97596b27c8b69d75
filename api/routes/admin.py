"""Operator routes: projection status and rebuilds. Guarded by the node's admin token."""

from __future__ import annotations

import hmac
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Request

from api.models import ProjectionStatus
from api.routes import Route
from projections import PROJECTIONS

router = APIRouter(route_class=Route, prefix="/v1/admin", tags=["operations"])


async def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    token = request.app.state.admin_token
    scheme, _, secret = (authorization or "").partition(" ")
    if not token or scheme.lower() != "bearer" or not hmac.compare_digest(secret.strip(), token):
        raise HTTPException(401, "The node's admin token is required",
                            headers={"WWW-Authenticate": "Bearer"})


Admin = Depends(require_admin)


def projection_status(request: Request) -> list[dict[str, Any]]:
    """Per projection: position, lag in events, age of the newest applied event, rebuilds.

    The lag is the node's Kafka consumer lag when it is fed from Kafka (all its
    projections share the feed), else how far its position is behind the event store.
    """
    store = request.app.state.store
    head = request.app.state.head_position()
    rebuilds = request.app.state.rebuilds
    feed = getattr(request.app.state, "feed", None)
    consumer_lag = feed.lag if feed is not None else None
    now = datetime.now(timezone.utc)
    by_name = {row["projection"]: row for row in store.positions()}
    rows = []
    for name in PROJECTIONS:
        row = by_name.get(name, {})
        newest = row.get("newest_event_at")
        rows.append({
            "projection": name, "node": request.app.state.settings.node_name,
            "position": row.get("position", 0), "applied_events": row.get("applied_events", 0),
            "lag": consumer_lag if consumer_lag is not None else max(0, head - row.get("position", 0)),
            "lag_source": "kafka" if consumer_lag is not None else "event store",
            "newest_event_at": newest,
            "newest_event_age_seconds": round((now - newest).total_seconds(), 3) if newest else None,
            "updated_at": row.get("updated_at"),
            "generation": store.generation(name), "rebuilding": rebuilds.get(name)})
    return rows


@router.get("/projections", response_model=list[ProjectionStatus], dependencies=[Admin])
def status(request: Request):
    """Each projection's position, lag behind the event store, and any rebuild in progress."""
    return projection_status(request)


@router.post("/projections/{name}/rebuild", status_code=202, response_model=ProjectionStatus,
             dependencies=[Admin])
def start_rebuild(name: str, request: Request):
    """Starts building ``name`` anew beside the live tables; readers are never blocked."""
    if name not in PROJECTIONS:
        raise HTTPException(404, f"no projection {name!r}; known: {', '.join(PROJECTIONS)}")
    rebuilds = request.app.state.rebuilds
    if rebuilds.running(name):
        raise HTTPException(409, f"{name} is already being rebuilt")
    rebuilds.start([name])
    return next(row for row in projection_status(request) if row["projection"] == name)
