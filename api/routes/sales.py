"""Registers the sales routes: pipelines, deal extras, quotes, contracts, funnels."""

from __future__ import annotations

from fastapi import FastAPI

from api.routes import contracts, deals, funnels, include, pipelines, quotes, sales_automation

COMMAND_ROUTERS = (pipelines.command_router, deals.command_router, quotes.command_router,
                   contracts.command_router)
QUERY_ROUTERS = (pipelines.query_router, deals.query_router, quotes.query_router,
                 contracts.query_router, funnels.router, sales_automation.router)


def install(app: FastAPI, role: str) -> None:
    """Call after the opportunity routers, so ``/v1/opportunities/by-stage`` matches first."""
    if role in ("all", "command"):
        include(app, COMMAND_ROUTERS)
    if role in ("all", "query"):
        include(app, QUERY_ROUTERS)
