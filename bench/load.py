"""Closed-loop HTTP load: N clients each send their next request when the last one answered.

aiohttp rather than httpx: httpx's async pool costs grow with the number of
connections, so at 64 clients the load generator, not the service, was the
bottleneck (measured: /health fell from ~500 to ~130 req/s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

# (method, path, json body or None) for the request number i of client c
RequestFor = Callable[[int, int], tuple[str, str, dict | None]]


async def _client(http: aiohttp.ClientSession, url: str, c: int, request_for: RequestFor,
                  stop_at: float, latencies: list[float], errors: list[int]) -> None:
    i = 0
    while time.perf_counter() < stop_at:
        method, path, body = request_for(c, i)
        started = time.perf_counter()
        async with http.request(method, url + path, json=body) as response:
            await response.read()
            status = response.status
        latencies.append(time.perf_counter() - started)
        if status >= 400:
            errors.append(status)
        i += 1


async def _run(url: str, headers: dict, clients: int, seconds: float, request_for: RequestFor):
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(headers=headers, connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_client(http, url, c, request_for, started + seconds, latencies, errors)
                               for c in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def run(url: str, headers: dict, clients: int, seconds: float, request_for: RequestFor):
    """Returns (latencies in seconds, error status codes, elapsed seconds)."""
    return asyncio.run(_run(url, headers, clients, seconds, request_for))
