"""Dependencies of the marketing routes: their settings and the tracking secret."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from commands.marketing_settings import MarketingSettings


def get_marketing(request: Request) -> MarketingSettings:
    """``app.state.marketing`` when set (tests set it), else from the environment, once."""
    state = request.app.state
    if getattr(state, "marketing", None) is None:
        state.marketing = MarketingSettings()
    return state.marketing


def get_tracking_secret(request: Request) -> bytes:
    state = request.app.state
    if getattr(state, "tracking_secret", None) is None:
        state.tracking_secret = get_marketing(request).secret(state.settings.data_dir)
    return state.tracking_secret


MarketingDep = Annotated[MarketingSettings, Depends(get_marketing)]
SecretDep = Annotated[bytes, Depends(get_tracking_secret)]
