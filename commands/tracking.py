"""Signed tokens of the tracking links, and the signature of a Twilio status callback.

A tracking token is ``base64url(kind, message id, [url], HMAC-SHA256 tag)``:
the message id says whose open or click it is, and the 128-bit tag, keyed
with ``CRM_TRACKING_SECRET``, makes tokens unforgeable (message ids derive
from ids that are not secret, so without the tag they could be guessed). A
click token carries its target URL, so a redirect can only go where the
message linked to: no open redirect.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from uuid import UUID

KINDS = {"open": b"o", "click": b"c", "unsubscribe": b"u", "status": b"s", "bounce": b"b"}
TAG = 16  # bytes of HMAC-SHA256 kept


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def sign(secret: bytes, kind: str, message_id: UUID, url: str | None = None) -> str:
    payload = KINDS[kind] + message_id.bytes + (url or "").encode()
    return _b64(payload + hmac.new(secret, payload, hashlib.sha256).digest()[:TAG])


def verify(secret: bytes, kind: str, token: str) -> tuple[UUID, str | None] | None:
    """(message id, url) of a genuine token of ``kind``; None for anything else."""
    try:
        raw = _unb64(token)
    except (ValueError, TypeError):
        return None
    if len(raw) < 1 + 16 + TAG or raw[:1] != KINDS[kind]:
        return None
    payload, tag = raw[:-TAG], raw[-TAG:]
    if not hmac.compare_digest(tag, hmac.new(secret, payload, hashlib.sha256).digest()[:TAG]):
        return None
    try:
        url = payload[17:].decode() or None
    except UnicodeDecodeError:
        return None
    return UUID(bytes=payload[1:17]), url


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """X-Twilio-Signature: base64(HMAC-SHA1(auth token, URL + each POST name+value, sorted by
    name)). The URL is the full one Twilio called, query string included."""
    data = url + "".join(f"{name}{value}" for name, value in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_signature_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]],
                           signature: str | None) -> bool:
    if not auth_token or not signature:
        return False
    return hmac.compare_digest(twilio_signature(auth_token, url, params), signature)
