"""Refuses request bodies over the configured size before they are read into memory."""

from __future__ import annotations

import re
from collections.abc import Callable

from api.problems import problem


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length, and counts chunked bodies as they stream.

    ``larger`` lists (path pattern, limit or a function giving it) for the routes that take
    bigger bodies, such as document uploads.
    """

    def __init__(self, app, max_bytes: int,
                 larger: tuple[tuple[str, int | Callable[[], int]], ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = [(re.compile(pattern), limit) for pattern, limit in larger]

    def limit(self, path: str) -> int:
        for pattern, limit in self.larger:
            if pattern.fullmatch(path):
                return limit() if callable(limit) else limit
        return self.max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limit(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            return await self._refuse(scope, receive, send, limit)
        seen, started, refused = 0, False, False

        async def counting_receive():
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # Answer here: the framework turns any error while reading the body into its
                    # own 400, so _TooLarge would not reach us; that 400 is dropped below.
                    if not started and not refused:
                        refused = True
                        await self._refuse(scope, receive, send, limit)
                    raise _TooLarge
            return message

        async def guarded_send(message):
            nonlocal started
            if not refused:
                started = True
                await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _TooLarge:
            if not refused:
                raise

    async def _refuse(self, scope, receive, send, limit: int):
        response = problem(413, "body-too-large", "Request body too large",
                           f"bodies are limited to {limit} bytes")
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
