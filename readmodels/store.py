"""The DuckDB file of a query node: opening it, writing batches of changes, bookkeeping.

One process writes a DuckDB file, so the node that projects also serves the
queries: readers take their own cursor and see committed snapshots (MVCC)
while the projector writes.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb

from readmodels.changes import Append, Change, Upsert
from readmodels.schema import (BOOKKEEPING, TABLES, create_statements, schema_name,
                               table_keys, view_statements)

ROWS_PER_STATEMENT = 400  # bounded so a statement's parameter list stays small


class ReadStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect(self.path)
        self.db.execute("SET TimeZone = 'UTC'")
        self.db.execute(BOOKKEEPING)
        self.committed = threading.Condition()
        for projection in TABLES:
            self._ensure_live(projection)

    def close(self) -> None:
        self.db.close()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request's queries (cursors are not shared across threads)."""
        cursor = self.db.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    # -- generations ------------------------------------------------------------------

    def generation(self, projection: str) -> int:
        row = self.db.cursor().execute(
            "SELECT generation FROM projection_generations WHERE projection = ?", [projection]).fetchone()
        return row[0] if row else 0

    def live_schema(self, projection: str) -> str:
        return schema_name(projection, self.generation(projection))

    def _ensure_live(self, projection: str) -> None:
        if self.generation(projection):
            return
        cursor = self.db.cursor()
        cursor.execute("BEGIN")
        for statement in create_statements(projection, 1) + view_statements(projection, 1):
            cursor.execute(statement)
        cursor.execute("INSERT INTO projection_generations VALUES (?, 1)", [projection])
        cursor.execute("COMMIT")

    def prepare_generation(self, projection: str) -> tuple[int, str]:
        """Creates empty tables for the next generation beside the live one."""
        generation = self.generation(projection) + 1
        cursor = self.db.cursor()
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema_name(projection, generation)} CASCADE")
        for statement in create_statements(projection, generation):
            cursor.execute(statement)
        return generation, schema_name(projection, generation)

    def switch_generation(self, cursor: duckdb.DuckDBPyConnection, projection: str,
                          generation: int) -> None:
        """Within the caller's transaction: points the views at ``generation``, drops the old one."""
        old = self.generation(projection)
        for statement in view_statements(projection, generation):
            cursor.execute(statement)
        cursor.execute("UPDATE projection_generations SET generation = ? WHERE projection = ?",
                       [generation, projection])
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema_name(projection, old)} CASCADE")

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self.db.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        cursor.execute("BEGIN")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        with self.committed:
            self.committed.notify_all()

    @staticmethod
    def write(cursor: duckdb.DuckDBPyConnection, projection: str, schema: str,
              changes: Iterable[Change]) -> None:
        """Applies a batch of one projection's changes with a few bulk statements."""
        keys = table_keys(projection)
        upserts: dict[str, dict[tuple, list]] = defaultdict(dict)
        appends: dict[str, list[dict]] = defaultdict(list)
        for change in changes:
            if isinstance(change, Append):
                appends[change.table].append(change.row)
            else:
                _coalesce(upserts[change.table], change, keys[change.table])
        for table, merged in upserts.items():
            _write_upserts(cursor, f"{schema}.{table}", keys[table], merged.values())
        for table, rows in appends.items():
            _write_appends(cursor, f"{schema}.{table}", rows)

    # -- bookkeeping ----------------------------------------------------------------------

    @staticmethod
    def applied_versions(cursor: duckdb.DuckDBPyConnection, ids: Iterable[UUID]) -> dict[UUID, int]:
        ids = list(set(ids))
        found: dict[UUID, int] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            found.update(cursor.execute(
                "SELECT aggregate_id, version FROM applied_versions WHERE aggregate_id IN "
                f"({', '.join('?' * len(chunk))})", chunk).fetchall())
        return found

    @staticmethod
    def record_applied(cursor: duckdb.DuckDBPyConnection, versions: dict[UUID, int]) -> None:
        _write_upserts(cursor, "applied_versions", ("aggregate_id",),
                       [({"aggregate_id": k}, {}, {}, {"version": v}, {}) for k, v in versions.items()])

    @staticmethod
    def record_position(cursor: duckdb.DuckDBPyConnection, projection: str, position: int,
                        events: int, newest_event_at: datetime | None) -> None:
        cursor.execute(
            "INSERT INTO projection_positions VALUES (?, ?, ?, ?, ?) ON CONFLICT (projection) DO UPDATE"
            " SET position = excluded.position,"
            " applied_events = projection_positions.applied_events + excluded.applied_events,"
            " newest_event_at = coalesce(excluded.newest_event_at, projection_positions.newest_event_at),"
            " updated_at = excluded.updated_at",
            [projection, position, events, newest_event_at, datetime.now(timezone.utc)])

    def position(self, projection: str) -> int:
        row = self.db.cursor().execute(
            "SELECT position FROM projection_positions WHERE projection = ?", [projection]).fetchone()
        return row[0] if row else 0

    def positions(self) -> list[dict[str, Any]]:
        cursor = self.db.cursor()
        rows = cursor.execute(
            "SELECT projection, position, applied_events, newest_event_at, updated_at "
            "FROM projection_positions ORDER BY projection").fetchall()
        return [dict(zip(("projection", "position", "applied_events", "newest_event_at",
                          "updated_at"), row)) for row in rows]

    def wait_for(self, aggregate_id: UUID, version: int, timeout: float) -> bool:
        """Blocks until the node applied ``version`` of the aggregate; False on timeout."""
        deadline = time.monotonic() + timeout
        cursor = self.db.cursor()
        query = "SELECT version FROM applied_versions WHERE aggregate_id = ?"
        while True:
            row = cursor.execute(query, [aggregate_id]).fetchone()
            if row and row[0] >= version:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self.committed:
                self.committed.wait(min(remaining, 0.05))


def _coalesce(merged: dict[tuple, list], change: Upsert, key_columns: tuple[str, ...]) -> None:
    """Folds several upserts of one row into one, so a statement never touches a row twice."""
    key = tuple(change.key[column] for column in key_columns)
    if key not in merged:
        merged[key] = [dict(change.key), dict(change.set), dict(change.add),
                       dict(change.greatest), dict(change.least)]
        return
    _, sets, adds, greatest, least = merged[key]
    sets.update(change.set)
    for column, delta in change.add.items():
        adds[column] = adds.get(column, 0) + delta
    for column, value in change.greatest.items():
        greatest[column] = _pick(max, greatest.get(column), value)
    for column, value in change.least.items():
        least[column] = _pick(min, least.get(column), value)


def _pick(choose, old, new):
    """max/min that ignore None, as SQL's greatest/least do."""
    if old is None or new is None:
        return new if old is None else old
    return choose(old, new)


# How each kind of upsert column merges with the stored value.
_MERGE = ("{c} = excluded.{c}", "{c} = coalesce({t}.{c}, 0) + excluded.{c}",
          "{c} = greatest({t}.{c}, excluded.{c})", "{c} = least({t}.{c}, excluded.{c})")


def _write_upserts(cursor, table: str, key_columns: tuple[str, ...], rows: Iterable) -> None:
    groups: dict[tuple, list] = defaultdict(list)
    for key, *kinds in rows:
        groups[tuple(tuple(kind) for kind in kinds)].append((key, *kinds))
    name = table.rpartition(".")[2]
    for column_kinds, members in groups.items():
        columns = list(key_columns) + [c for kind in column_kinds for c in kind]
        updates = [template.format(c=c, t=name)
                   for template, kind in zip(_MERGE, column_kinds) for c in kind]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        for start in range(0, len(members), ROWS_PER_STATEMENT):
            chunk = members[start:start + ROWS_PER_STATEMENT]
            params: list[Any] = []
            for key, *kinds in chunk:
                params += [key[c] for c in key_columns]
                params += [values[c] for values in kinds for c in values]
            placeholders = ", ".join([f"({', '.join('?' * len(columns))})"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {table} AS {name} ({', '.join(columns)}) VALUES {placeholders} "
                f"ON CONFLICT ({', '.join(key_columns)}) {action}", params)


def _write_appends(cursor, table: str, rows: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row)].append(row)
    for columns, members in groups.items():
        for start in range(0, len(members), ROWS_PER_STATEMENT):
            chunk = members[start:start + ROWS_PER_STATEMENT]
            params = [row[c] for row in chunk for c in columns]
            placeholders = ", ".join([f"({', '.join('?' * len(columns))})"] * len(chunk))
            cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) VALUES {placeholders}", params)
