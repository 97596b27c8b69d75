"""Builds the FastAPI application for one process role.

``all`` (the embedded default) serves commands and queries and runs the
projector on the local event store's log in the same process. ``command`` and
``query`` are the server-mode roles (see docs/OPERATIONS.md). Every node with
read models (``all``, ``query``) also runs the node jobs (workers/node_jobs.py).
"""

from __future__ import annotations

import logging
import secrets
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from api import problems
from api.limits import BodySizeLimit
from api.routes.documents import DOCUMENT_UPLOADS
from commands.documents import max_document_bytes
from api.routes import Route, admin, campaigns, customers, include, keys, opportunities, profile
from api.routes import sales
from api.routes import marketing
from commands.application import Crm
from commands.settings import Settings
from commands.tenants import CallerCache
from readmodels.store import ReadStore
from workers.kafka_feed import KafkaFeed
from workers.lifecycle import frozen
from workers.node_jobs import NodeJobs, caught_up, node_jobs
from workers.projector import LogTailer, Projector, wait_for_head
from workers.rebuilds import Rebuilds
from workers.segment_refresher import SegmentRefresher, also_running

log = logging.getLogger("crm.api")

DESCRIPTION = """Event-sourced CRM for artisan e-commerce vendors.

Every request needs `Authorization: Bearer <api key>`. Commands answer
`{id, version, consistency_token}`; send the token back as
`X-Consistency-Token` on a query to read your own write. `If-Match: <version>`
makes a command conditional (409 on conflict); `Idempotency-Key` makes a retry
return the first answer. Errors are `application/problem+json`.
"""


def admin_token(settings: Settings) -> str:
    """CRM_ADMIN_TOKEN, or one generated once and kept in the data directory (mode 0600)."""
    if settings.admin_token:
        return settings.admin_token
    path = Path(settings.data_dir) / "admin-token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def create_app(settings: Settings | None = None, role: str = "all") -> FastAPI:
    settings = settings or Settings()
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    crm = Crm(settings.event_store_url, group_commit=settings.group_commit)
    store = ReadStore(settings.readmodel_path) if role in ("all", "query") else None
    projector = Projector(store) if store else None
    # Server mode: a query node is fed from Kafka; without a broker it follows the log itself.
    feed = KafkaFeed(settings, crm, projector) if role == "query" and settings.kafka_bootstrap else None
    tailer = LogTailer(crm, projector) if role == "all" or (role == "query" and not feed) else None
    rebuilds = Rebuilds(crm, projector) if projector else None

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # Frozen before the backfill and the catch-up, which can take minutes on a large store:
        # their collections then leave the app's long-lived objects alone (workers/lifecycle.py).
        with frozen():
            if rebuilds:
                rebuilds.backfill()  # before the live feed runs: see Rebuilds.backfill
            for worker in (tailer, feed):
                if worker:
                    worker.start()
            if tailer:
                wait_for_head(crm, store, settings.startup_catch_up)
            yield
        for worker in (tailer, feed):
            if worker:
                worker.stop()
        if store:
            store.close()
        crm.close()

    refresher = SegmentRefresher(projector) if projector else None  # time-dependent segments
    # Daily sales jobs and the like: they judge by the read models, so every such node runs them.
    jobs = NodeJobs(node_jobs(crm, store), ready=caught_up(crm, store, feed)) if store else None
    app = FastAPI(title="Craved CRM", version="0.1.0", description=DESCRIPTION,
                  lifespan=also_running(lifespan, refresher, jobs))
    app.router.route_class = Route  # for the routes declared on the app itself
    app.state.settings = settings
    app.state.crm = crm
    app.state.callers = CallerCache(crm, settings.auth_cache_seconds)
    app.state.store = store
    app.state.projector = projector
    app.state.segment_refresher = refresher
    app.state.node_jobs = jobs
    app.state.rebuilds = rebuilds
    app.state.admin_token = admin_token(settings)
    app.state.head_position = lambda: crm.recorder.max_notification_id() or 0
    app.state.feed = feed  # its lag (events in Kafka not yet applied) is the node's lag
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       larger=((DOCUMENT_UPLOADS, max_document_bytes),))
    problems.install(app)
    if role in ("all", "command"):
        include(app, (customers.command_router, opportunities.command_router, campaigns.router,
                      keys.router, *profile.COMMAND_ROUTERS, *marketing.COMMAND_ROUTERS))
    if role in ("all", "query"):
        include(app, (customers.query_router, opportunities.query_router, admin.router,
                      *profile.QUERY_ROUTERS, *marketing.QUERY_ROUTERS))
    sales.install(app, role)  # pipelines, deal extras, quotes, contracts, funnels

    @app.get("/health", tags=["operations"])
    async def health() -> dict:
        return {"status": "ok", "role": role, **({"feed": feed.health()} if feed else {})}

    return app


def command_node() -> FastAPI:
    """The app of one process of `crm serve --role command --workers N`: uvicorn starts each
    from this name, so its settings come from the environment and it sets up its own logs."""
    from workers import logs
    logs.setup()
    return create_app(Settings(), role="command")
