"""Closed-loop HTTP load: N clients each send their next request when the last one answered."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

# (method, path, json body or None) for the request number i of client c
RequestFor = Callable[[int, int], tuple[str, str, dict | None]]


async def _client(http: httpx.AsyncClient, c: int, request_for: RequestFor, stop_at: float,
                  latencies: list[float], errors: list[int]) -> None:
    i = 0
    while time.perf_counter() < stop_at:
        method, path, body = request_for(c, i)
        started = time.perf_counter()
        response = await http.request(method, path, json=body)
        latencies.append(time.perf_counter() - started)
        if response.status_code >= 400:
            errors.append(response.status_code)
        i += 1


async def _run(url: str, headers: dict, clients: int, seconds: float, request_for: RequestFor):
    latencies: list[float] = []
    errors: list[int] = []
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:
        started = time.perf_counter()
        await asyncio.gather(*(_client(http, c, request_for, started + seconds, latencies, errors)
                               for c in range(clients)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


def run(url: str, headers: dict, clients: int, seconds: float, request_for: RequestFor):
    """Returns (latencies in seconds, error status codes, elapsed seconds)."""
    return asyncio.run(_run(url, headers, clients, seconds, request_for))
