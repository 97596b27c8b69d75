"""What a log worker's jobs knew at a position of the log, kept beside the events, so a worker
restarts from there instead of reading the whole log again.

A sender learns what is outstanding from every message's queued, claimed and
finished events; on a store with millions of messages sent, reading them all
again took minutes on each start, and nothing was sent meanwhile. The
scheduler and the webhooks worker read fewer events, but PostgreSQL finds them
by scanning the whole event table (seconds at 20M events). What a job learned
at a position is a small state (the messages not yet finished, the campaigns
still scheduled, the subscriptions and automations and what they have yet to
start), and the same for every worker that read the log that far, so one row
per job serves all the competing workers of that job.

A checkpoint is only a shortcut: it holds exactly what reading the log up to its
position would give (the jobs save only what they learned from the log, never
their work in hand), so a worker that finds none, or one of another format (the
job's code changed what it keeps), reads the log from the start as before. The
row only moves forward: a worker that is behind does not overwrite a later one.
A row beyond the log's head belongs to another history (events restored without
it): it is deleted, or it would be taken up once the new log grew past it.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

import orjson

from commands.application import Crm
from workers.store_table import StoreTable

TABLE = "crm_worker_checkpoints"
SAVE_EVERY_S = 30.0  # at most this much of the log is read again after a crash


def share_key(job: str, tenants: set[str] | None) -> str:
    """A job's row name: workers dedicated to some tenants learn only theirs, so each share of
    the work has its own."""
    return job + (f"[{','.join(sorted(tenants))}]" if tenants else "")


def rows_of(items: dict, uuid_fields: tuple[str, ...] = ()) -> list[list]:
    """``{UUID: dict}`` as JSON-able ``[[id, dict], ...]``, the dicts' ``uuid_fields`` as
    strings: how a job's checkpoint keeps what it holds by aggregate id."""
    return [[str(key), {**value, **{f: str(value[f]) for f in uuid_fields}}]
            for key, value in items.items()]


def items_of(rows: list[list], uuid_fields: tuple[str, ...] = ()) -> dict:
    """The inverse of :func:`rows_of`."""
    return {UUID(key): {**value, **{f: UUID(value[f]) for f in uuid_fields}}
            for key, value in rows}


class Checkpoints:
    def __init__(self, crm: Crm) -> None:
        self.table = StoreTable(crm, TABLE, "name TEXT PRIMARY KEY, format TEXT NOT NULL, "
                                            "position BIGINT NOT NULL, state TEXT NOT NULL, "
                                            "updated_at TEXT NOT NULL")

    def load(self, name: str, format: str) -> tuple[int, Any] | None:
        """(position, state) of ``name`` as last saved in this ``format``; None if there is none."""
        with self.table.transaction(commit=False) as cursor:
            cursor.execute(self.table.sql(
                f"SELECT position, state FROM {self.table.name} WHERE name = ? AND format = ?"),
                (name, format))
            row = cursor.fetchone()
        return (row["position"], orjson.loads(row["state"])) if row else None

    def discard(self, name: str) -> None:
        with self.table.transaction(commit=True) as cursor:
            cursor.execute(self.table.sql(f"DELETE FROM {self.table.name} WHERE name = ?"),
                           (name,))

    def save(self, name: str, format: str, position: int, state: Any) -> None:
        with self.table.transaction(commit=True) as cursor:
            cursor.execute(self.table.sql(
                f"INSERT INTO {self.table.name} AS saved (name, format, position, state, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET format = excluded.format, "
                "position = excluded.position, state = excluded.state, "
                "updated_at = excluded.updated_at "
                "WHERE excluded.position > saved.position OR excluded.format <> saved.format"),
                (name, format, position, orjson.dumps(state).decode(),
                 datetime.now(timezone.utc).isoformat()))
