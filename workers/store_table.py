"""A small bookkeeping table kept in the event store's own database (SQLite or PostgreSQL).

Workers that follow the log keep where they got to beside the events (not in
Kafka, not in a local file): a worker restarted anywhere resumes from the
right place, and backing up the event store backs the positions up too.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from commands.application import Crm
from commands.event_recorder import CREATING_TABLES_LOCK


class StoreTable:
    def __init__(self, crm: Crm, name: str, columns: str) -> None:
        """Creates ``name`` (with ``columns``, the DDL between the parentheses) if missing."""
        self.datastore = crm.recorder.datastore
        self.postgres = crm.on_postgres
        self.name = f'"{self.datastore.schema}".{name}' if self.postgres else name
        with self.transaction(commit=True) as cursor:
            if self.postgres:  # else two processes starting together may both create it
                cursor.execute(CREATING_TABLES_LOCK)
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.name} ({columns})")

    def sql(self, statement: str) -> str:
        """Statements are written with ``?`` placeholders; psycopg wants ``%s``."""
        return statement.replace("?", "%s") if self.postgres else statement

    def transaction(self, commit: bool) -> AbstractContextManager:
        return self.datastore.transaction(commit=commit)
