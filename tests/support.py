"""Small helpers the test modules share (assertions on problems, page walking, waiting for
what another thread or process does)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(response, status: int, field: str | None = None) -> dict[str, Any]:
    """Asserts an RFC 9457 problem with ``status`` (and an error naming ``field``); returns it."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"]
    if field is not None:
        fields = [error["field"] for error in body.get("errors", [])]
        assert field in fields, f"{field!r} not among {fields}: {body}"
    return body


def head(app) -> int:
    """The event store's newest notification id: unchanged means nothing was stored."""
    return app.state.crm.recorder.max_notification_id() or 0


def walk(tenant, path: str, token: str | None = None, **params) -> list[list[dict]]:
    """Follows next_cursor from the first page to the last; returns every page's items."""
    pages, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = tenant.get(path, token=token, params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 1000, "the cursor never ends"


def wait_until(condition: Callable[[], object], what: str, seconds: float = 30,
               every: float = 0.05) -> None:
    """Polls ``condition`` until it holds; the deadline only so a broken run ends, saying
    ``what`` it was waiting for."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"waited {seconds} s for {what}"
        time.sleep(every)
