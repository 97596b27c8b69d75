"""Durable commands/s through the service layer alone: threads calling
``commands.customers.register`` on one ``Crm``, with group commit and with the naive save (one
``Application.save`` per command), on the same PostgreSQL store.

Why a figure of its own beside the HTTP one: through HTTP on two shared cores the request
path's CPU (the server, pydantic, the load generator) bounds both modes near the same rate, and
that hides what group commit does to the write path. Here a command costs only what the service
layer does (the command's validation, the aggregate, the event encoding) plus its commit; the two
modes differ in the commits alone. The threads share the interpreter, so the figure is what one
command-node process can do, not what the database could take.
"""

from __future__ import annotations

import threading
import time

from commands.application import Crm
from commands.customers import RegisterCustomer, register
from domain.base import Meta


def commands_per_s(url: str, tenant_id: str, threads: int, seconds: float, group_commit: bool,
                   run: str) -> float:
    """Registrations committed per second by ``threads`` callers over ``seconds``; ``run``
    keeps the names of different runs apart. Raises the first command's error, if any."""
    crm = Crm(url, group_commit=group_commit)
    done = [0] * threads
    errors: list[BaseException] = []
    stop_at = time.perf_counter() + seconds

    def caller(c: int) -> None:
        meta = Meta(tenant_id=tenant_id, actor="bench")
        try:
            while time.perf_counter() < stop_at and not errors:
                command = RegisterCustomer(name=f"Service {run}-{c}-{done[c]}",
                                           email=f"s.{run}.{c}.{done[c]}@example.com")
                register(crm, meta, command)
                done[c] += 1
        except BaseException as error:  # reported to the caller of commands_per_s
            errors.append(error)

    try:
        callers = [threading.Thread(target=caller, args=(c,), name=f"bench-caller-{c}")
                   for c in range(threads)]
        started = time.perf_counter()
        for thread in callers:
            thread.start()
        for thread in callers:
            thread.join()
        elapsed = time.perf_counter() - started
    finally:
        crm.close()
    if errors:
        raise errors[0]
    return sum(done) / elapsed
