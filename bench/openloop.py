"""Open-loop load with a visibility check: commands issued at a fixed rate whatever the answers,
and for a sample of them, how long until a query node shows the write.

Closed-loop clients slow down when the service does, which hides queueing; an
open loop keeps the arrival rate, as real traffic does. If the service falls
behind, requests in flight pile up to MAX_IN_FLIGHT and the generator then
holds back, so the rate achieved is reported beside the rate asked for.

Visibility of a sampled command: right after its 201, a query to the query node
carrying the command's `X-Consistency-Token` (the node answers once it applied
that version of the aggregate). The figure is the time from the 201 arriving at
the client to that query's answer arriving, so it includes one query round
trip on the query node and nothing of the command's own latency.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import aiohttp

MAX_IN_FLIGHT = 256
CHECKS_PER_S = 25  # visibility queries per second: enough samples, little load on the query node

Command = Callable[[int], tuple[str, dict]]  # i -> (path, json body)
Visible = Callable[[dict], str]  # the command's answer -> a query path that shows the write


@dataclass
class Outcome:
    target_per_s: float
    seconds: float
    issued: int = 0
    accepted: int = 0
    held_back: int = 0  # moments the generator waited because MAX_IN_FLIGHT were unanswered
    failures: list[str] = field(default_factory=list)
    command_latencies: list[float] = field(default_factory=list)
    visible_latencies: list[float] = field(default_factory=list)
    # sampled commands: (aggregate id, when the 201 arrived, when it showed on the query node)
    samples: list[tuple[str, float, float | None]] = field(default_factory=list)
    not_visible: int = 0  # token queries that timed out (503) or did not show the write
    first_accepted: float | None = None  # time.monotonic() of the first and last 201
    last_accepted: float | None = None
    issue_seconds: float = 0.0  # time taken to issue them all
    drain_seconds: float = 0.0  # until the last command and check answered


async def _one(i: int, commands: aiohttp.ClientSession, queries: aiohttp.ClientSession,
               command_url: str, query_url: str, command: Command, visible: Visible,
               check: bool, out: Outcome) -> None:
    path, body = command(i)
    started = time.monotonic()
    try:
        async with commands.post(command_url + path, json=body) as response:
            answer = await response.json(content_type=None)
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError) as error:
        out.failures.append(repr(error))
        return
    accepted = time.monotonic()
    if status >= 400:
        out.failures.append(f"{status} {str(answer)[:200]}")
        return
    out.accepted += 1
    out.command_latencies.append(accepted - started)
    out.first_accepted = min(out.first_accepted or accepted, accepted)
    out.last_accepted = max(out.last_accepted or accepted, accepted)
    if not check:
        return
    try:
        async with queries.get(query_url + visible(answer),
                               headers={"X-Consistency-Token": answer["consistency_token"]}) as shown:
            page = await shown.json(content_type=None)
            ok = shown.status == 200 and bool(page.get("items"))
    except (aiohttp.ClientError, asyncio.TimeoutError):
        ok = False
    shown_at = time.monotonic() if ok else None
    out.samples.append((str(answer["id"]), accepted, shown_at))
    if shown_at is not None:
        out.visible_latencies.append(shown_at - accepted)
    else:
        out.not_visible += 1


async def _run(command_url: str, query_url: str, headers: dict, rate: float, seconds: float,
               command: Command, visible: Visible) -> Outcome:
    out = Outcome(rate, seconds)
    total = max(1, int(rate * seconds))
    check_every = max(1, round(rate / CHECKS_PER_S))
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)) as commands, \
            aiohttp.ClientSession(headers=headers, timeout=timeout,
                                  connector=aiohttp.TCPConnector(limit=64)) as queries:
        tasks: set[asyncio.Task] = set()
        started = time.monotonic()
        while out.issued < total:
            due = min(total, int((time.monotonic() - started) * rate) + 1)
            while out.issued < due:
                if len(tasks) >= MAX_IN_FLIGHT:
                    out.held_back += 1
                    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                    continue
                i = out.issued
                task = asyncio.create_task(_one(i, commands, queries, command_url, query_url,
                                                command, visible, i % check_every == 0, out))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                out.issued += 1
            await asyncio.sleep(0.001)
        out.issue_seconds = time.monotonic() - started
        if tasks:
            await asyncio.wait(tasks)
        out.drain_seconds = time.monotonic() - started
    return out


def accepted_per_s(out: Outcome) -> float:
    """The rate achieved: how fast the 201s came, first to last. At a rate the service carries
    it equals the rate asked; past that it is the service's own rate."""
    if out.accepted < 2 or out.last_accepted == out.first_accepted:
        return 0.0
    return (out.accepted - 1) / (out.last_accepted - out.first_accepted)


def run(command_url: str, query_url: str, headers: dict, rate: float, seconds: float,
        command: Command, visible: Visible) -> Outcome:
    return asyncio.run(_run(command_url, query_url, headers, rate, seconds, command, visible))
