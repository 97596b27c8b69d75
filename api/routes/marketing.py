"""The routers of the campaigns and marketing automation features, in one place, so that
api/app.py includes them with one line per process role."""

from __future__ import annotations

from api.routes import automations, campaign_reports, templates, tracking, webhooks

# Tracking links and provider callbacks record events, so they live with the commands.
COMMAND_ROUTERS = (templates.command_router, tracking.public_router, webhooks.command_router,
                   automations.command_router)
QUERY_ROUTERS = (templates.query_router, campaign_reports.query_router, webhooks.query_router,
                 automations.query_router)
