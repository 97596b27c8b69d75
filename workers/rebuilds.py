"""Rebuild jobs of a query node, and the backfill of projections new or changed since the file was made.

A projection deployed onto an existing read-model file has no position yet
while the others are far ahead, and one whose tables changed shape (a new
column) cannot take the new code's rows: the node builds either from the event
store in the background (the same exact rebuild an operator starts), so
shipping a read model needs neither downtime nor an operator remembering to
rebuild it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from commands.application import Crm
from workers.projector import Projector, rebuild_many

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

    def start(self, names: list[str], replacing_unfit: bool = False) -> None:
        """Rebuilds ``names`` in a background thread, in one pass over the log; progress in ``jobs``.

        ``replacing_unfit``: their live tables are missing or of an older shape, so
        live batches leave them out until the rebuild switches them in.
        """
        with self._lock:
            names = [name for name in names if not self.running(name)]
            for name in names:
                self.jobs[name] = {"state": "running", "position": 0, "total": 0, "error": None}
                if replacing_unfit:
                    self.projector.building.add(name)
        if names:
            threading.Thread(target=self._run, args=(names,), name="rebuilds", daemon=True).start()

    def _run(self, names: list[str]) -> None:
        jobs = [self.jobs[name] for name in names]

        def progress(position: int, total: int) -> None:
            for job in jobs:
                job.update(position=position, total=total)
        try:
            rebuild_many(self.crm, self.projector, names, progress)
            for job in jobs:
                job["state"] = "done"
        except Exception as error:  # reported through the status route and the log
            log.exception("rebuilding %s failed", ", ".join(names))
            for job in jobs:
                job.update(state="failed", error=repr(error))

    def backfill(self) -> list[str]:
        """Starts building every projection that is new to this file, or whose tables changed shape.

        Call it before the live projector starts, so a new projection is not
        mistaken for a live one once the first batch has recorded its position.
        """
        store = self.projector.store
        known = {row["projection"] for row in store.positions()}
        unfit = [name for name in self.projector.projections
                 if (known and name not in known) or store.reshaped(name)]
        if unfit:
            log.info("building from the event store (new or re-shaped): %s", ", ".join(unfit))
            self.start(unfit, replacing_unfit=True)
        return unfit
