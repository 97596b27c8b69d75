"""The routers of the campaigns and marketing automation features, in one place, so that
api/app.py includes them with one line per process role."""

from __future__ import annotations

from api.routes import templates

COMMAND_ROUTERS = (templates.command_router,)
QUERY_ROUTERS = (templates.query_router,)
