"""Rebuild jobs of a query node, and the backfill of projections added since the file was made.

A projection deployed onto an existing read-model file has no position yet
while the others are far ahead: the node builds it from the event store in the
background (the same exact rebuild an operator starts), so adding a read model
needs neither downtime nor an operator remembering to rebuild it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from commands.application import Crm
from workers.projector import Projector, rebuild

log = logging.getLogger("crm.rebuilds")


class Rebuilds:
    def __init__(self, crm: Crm, projector: Projector) -> None:
        self.crm, self.projector = crm, projector
        self.jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> dict[str, Any] | None:
        return self.jobs.get(name)

    def running(self, name: str) -> bool:
        return (self.jobs.get(name) or {}).get("state") == "running"

    def start(self, names: list[str]) -> None:
        """Rebuilds ``names`` one after another in a background thread; progress in ``jobs``."""
        with self._lock:
            names = [name for name in names if not self.running(name)]
            for name in names:
                self.jobs[name] = {"state": "running", "position": 0, "total": 0, "error": None}
        if names:
            threading.Thread(target=self._run, args=(names,), name="rebuilds", daemon=True).start()

    def _run(self, names: list[str]) -> None:
        for name in names:
            job = self.jobs[name]
            try:
                rebuild(self.crm, self.projector, name,
                        lambda position, total: job.update(position=position, total=total))
                self._mark_live(name)
                job["state"] = "done"
            except Exception as error:  # reported through the status route and the log
                log.exception("rebuilding %s failed", name)
                job.update(state="failed", error=repr(error))

    def _mark_live(self, name: str) -> None:
        """Gives a just-built projection the node's position, so a restart sees it as live."""
        store = self.projector.store
        positions = {row["projection"]: row["position"] for row in store.positions()}
        if name not in positions:
            with self.projector.lock, store.transaction() as cursor:
                store.record_positions(cursor, [name], max(positions.values(), default=0), 0, None)

    def backfill(self) -> list[str]:
        """Starts building every projection that has never applied an event on a node that has."""
        known = {row["projection"] for row in self.projector.store.positions()}
        new = [name for name in self.projector.projections if known and name not in known]
        if new:
            log.info("building new projections from the event store: %s", ", ".join(new))
            self.start(new)
        return new
