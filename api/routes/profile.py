"""The routers of the customer 360, lead management and segmentation features, in one place,
so that api/app.py includes them with one line per process role."""

from __future__ import annotations

from api.routes import consent, custom_fields, documents, imports, leads, rfm, segments, tasks

COMMAND_ROUTERS = (tasks.command_router, custom_fields.command_router, consent.command_router,
                   leads.command_router, segments.command_router, imports.command_router,
                   documents.command_router)
QUERY_ROUTERS = (tasks.query_router, custom_fields.query_router, consent.query_router,
                 leads.query_router, rfm.query_router, segments.query_router,
                 imports.query_router, documents.query_router)
