"""Routes customers' mail clients and the SMS provider call, without an API key.

* ``GET /v1/t/o/{token}.gif`` — the open pixel: a 1x1 transparent GIF, always
  (a bad token is not told apart, and the image is never cached).
* ``GET /v1/t/c/{token}`` — a tracked link: records the click, redirects (302) to
  the target the token carries. A forged or damaged token is a 404, never a
  redirect, so the route cannot be used to redirect anywhere else.
* ``GET /v1/t/u/{token}`` — the unsubscribe page, one button; ``POST`` to the same
  URL unsubscribes at once (the button, and the one-click ``List-Unsubscribe-Post``
  of RFC 8058 that mail clients send). A GET alone changes nothing, because link
  scanners and previews fetch every link of a message.
* ``POST /v1/providers/twilio/status/{token}`` — Twilio's status callback, only
  with a valid ``X-Twilio-Signature`` (HMAC-SHA1 with the auth token over the
  URL and the sorted form parameters).

Tokens are signed (HMAC-SHA256 with ``CRM_TRACKING_SECRET``), see commands/tracking.py.
"""

from __future__ import annotations

import base64
import logging
from html import escape
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Header, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.clock import ClockDep
from api.marketing_deps import MarketingDep, SecretDep
from api.routes import Route
from commands import engagement
from commands.errors import NotFound
from commands.tracking import twilio_signature_valid, verify

public_router = APIRouter(route_class=Route, tags=["tracking"])
log = logging.getLogger("crm.tracking")

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}


@public_router.get("/v1/t/o/{token}.gif", response_class=Response,
                   responses={200: {"content": {"image/gif": {}}}})
def open_pixel(token: str, request: Request, secret: SecretDep):
    found = verify(secret, "open", token)
    if found:
        try:
            engagement.record_open(request.app.state.crm, found[0])
        except Exception:  # the picture is shown whatever happens to the bookkeeping
            log.exception("recording an open of %s failed", found[0])
    return Response(PIXEL, media_type="image/gif", headers=NO_CACHE)


@public_router.get("/v1/t/c/{token}", response_class=RedirectResponse, status_code=302)
def click(token: str, request: Request, secret: SecretDep):
    found = verify(secret, "click", token)
    if not found or not found[1]:
        raise NotFound("no such link")
    message_id, url = found
    try:
        engagement.record_click(request.app.state.crm, message_id, url)
    except Exception:  # the link works whatever happens to the bookkeeping
        log.exception("recording a click of %s failed", message_id)
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


def _unsubscribe_page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f"<!doctype html><html><head><meta charset=\"utf-8\"><title>{escape(title)}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width\"></head><body "
        f"style=\"font-family:sans-serif;max-width:32em;margin:3em auto\">{body}</body></html>",
        status_code=status, headers=NO_CACHE)


@public_router.get("/v1/t/u/{token}", response_class=HTMLResponse)
def unsubscribe_page(token: str, secret: SecretDep):
    if not verify(secret, "unsubscribe", token):
        return _unsubscribe_page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _unsubscribe_page("Unsubscribe", (
        "<h1>Unsubscribe</h1><p>Stop receiving these messages?</p>"
        f"<form method=\"post\" action=\"{escape(token)}\"><button type=\"submit\" "
        "name=\"List-Unsubscribe\" value=\"One-Click\">Unsubscribe</button></form>"))


@public_router.post("/v1/t/u/{token}", response_class=HTMLResponse)
def unsubscribe(token: str, request: Request, secret: SecretDep, clock: ClockDep):
    """One click: the customer is opted out of the message's channel before this answers."""
    found = verify(secret, "unsubscribe", token)
    if not found:
        return _unsubscribe_page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    try:
        message = engagement.unsubscribe(request.app.state.crm, found[0], clock(), "unsubscribe link")
    except NotFound:
        return _unsubscribe_page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    return _unsubscribe_page("Unsubscribed", f"<h1>Unsubscribed</h1><p>You will not receive "
                                             f"{escape(message.channel)} messages from us any more.</p>")


@public_router.post("/v1/providers/twilio/status/{token}", status_code=204, response_class=Response)
async def twilio_status(token: str, request: Request, marketing: MarketingDep, secret: SecretDep,
                        x_twilio_signature: Annotated[str | None, Header()] = None):
    """Twilio's delivery report for one message (MessageStatus delivered / undelivered /
    failed / read). The URL signed is the public one Twilio was given."""
    params = parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True)
    url = f"{marketing.public_url}{request.url.path}" + (f"?{request.url.query}" if request.url.query else "")
    if not twilio_signature_valid(marketing.twilio_auth_token, url, params, x_twilio_signature):
        raise HTTPException(403, "X-Twilio-Signature does not match this request")
    found = verify(secret, "status", token)
    if not found:
        raise NotFound("no such message")
    form = dict(params)
    try:
        await run_in_threadpool(engagement.provider_status, request.app.state.crm, found[0],
                                form.get("MessageStatus", ""), form.get("ErrorCode"))
    except NotFound:
        pass
    return Response(status_code=204)
