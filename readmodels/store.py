"""The DuckDB file of a query node: opening it, writing batches of changes, bookkeeping.

One process writes a DuckDB file, so the node that projects also serves the
queries: readers take their own cursor and see committed snapshots (MVCC)
while the projector writes.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb

from readmodels import tenant_changes
from readmodels.bookkeeping import update_else_insert
from readmodels.changes import Append, Change, Upsert
from readmodels.schema import (BOOKKEEPING, TABLES, create_statements, schema_name,
                               table_keys, view_statements)


RECENT = 50_000  # aggregates whose latest applied version wait_for finds in memory

# How much write-ahead log DuckDB gathers before it checkpoints (writes the changed tables and
# indexes into the file) at a commit. A checkpoint's cost grows with the tables, hardly with
# the log it folds in: on the 1M-customer shop's first 4M events, DuckDB's default of 16 MB
# checkpointed every ~13k events at ~0.25 s each (~18% of the catch-up); at 256 MB every
# ~500k events at ~1 s each, and the catch-up was 22% faster. Costs: memory (the catch-up's
# peak +13%), a WAL of up to this size on disk, ~1 s to replay it after a crash. Figures:
# docs/PERFORMANCE.md, "Checkpoints".
CHECKPOINT_WAL = "256MB"

# Rows per row group, the unit DuckDB skips by its min/max: a newest-first top-N (the customer
# list and search, by created_at, the order rows are appended in) reads the newest groups and
# skips the rest. DuckDB's default of 122,880 rows holds a whole 100k-customer tenant
# in one row group (appends fill the last group), so the list read every row of it: twice as
# long as on a file where a catch-up's commits happened to start new groups (medium-15, -16).
# With 16,384: 8.4 -> 3.9 ms and 10.4 -> 4.8 ms p50 in process at 100k customers; the lead
# funnel, which scans eight times as many groups, ~5% slower (docs/PERFORMANCE.md, "Row
# groups"). The size is an option of ATTACH, not of the file, so the file is attached to an
# in-memory instance on every open.
ROW_GROUP_ROWS = 16_384
CATALOG = "readmodels"  # the attached file's name in SQL


class ReadStore:
    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.db = duckdb.connect()
        file = self.path.replace("'", "''")
        self.db.execute(f"ATTACH '{file}' AS {CATALOG} (ROW_GROUP_SIZE {ROW_GROUP_ROWS})")
        # With the in-memory database gone, every new cursor starts in the file; otherwise each
        # would need a USE of its own (~0.18 ms, a request's cursor every time).
        self.db.execute(f"USE {CATALOG}")
        self.db.execute("DETACH memory")
        # GLOBAL: every cursor of this file's instance (a request's, a batch's) then starts in
        # UTC; a SET of its own was a statement (~0.2-0.5 ms) on every request.
        self.db.execute("SET GLOBAL TimeZone = 'UTC'")
        self.db.execute(f"SET GLOBAL checkpoint_threshold = '{CHECKPOINT_WAL}'")
        self.db.execute(BOOKKEEPING)
        # Files made before fingerprints existed get the column (NULL: rebuilt once).
        self.db.execute("ALTER TABLE projection_generations ADD COLUMN IF NOT EXISTS fingerprint VARCHAR")
        self.committed = threading.Condition()
        # aggregate (its id's int) -> version, of the latest applied batches. Ints, not UUIDs: a
        # dict of ints alone is not tracked by the garbage collector, 50k UUIDs were most of
        # what a serving node's full collections walked (docs/PERFORMANCE.md, "Pauses").
        self._recent: dict[int, int] = {}
        self._generations: dict[str, int] = {}
        for projection in TABLES:
            self._ensure_live(projection)
        tenant_changes.seed(self.db)

    def close(self) -> None:
        self.db.close()

    def reader(self) -> duckdb.DuckDBPyConnection:
        """A cursor for one request's queries (cursors are not shared across threads)."""
        return self.db.cursor()

    # -- generations ------------------------------------------------------------------

    def generation(self, projection: str) -> int:
        # Cached: only this process writes the file, and only switch_generation changes it.
        if projection not in self._generations:
            row = self.db.cursor().execute(
                "SELECT generation FROM projection_generations WHERE projection = ?",
                [projection]).fetchone()
            if not row:
                return 0
            self._generations[projection] = row[0]
        return self._generations[projection]

    def reshaped(self, projection: str) -> bool:
        """True when the live tables were made by another version of the projection's DDL."""
        row = self.db.cursor().execute(
            "SELECT fingerprint FROM projection_generations WHERE projection = ?", [projection]).fetchone()
        return bool(row) and row[0] != fingerprint(projection)

    def live_schema(self, projection: str) -> str:
        return schema_name(projection, self.generation(projection))

    def _ensure_live(self, projection: str) -> None:
        if self.generation(projection):
            return
        cursor = self.db.cursor()
        cursor.execute("BEGIN")
        for statement in create_statements(projection, 1) + view_statements(projection, 1):
            cursor.execute(statement)
        cursor.execute("INSERT INTO projection_generations VALUES (?, 1, ?)",
                       [projection, fingerprint(projection)])
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
        cursor.execute("UPDATE projection_generations SET generation = ?, fingerprint = ? "
                       "WHERE projection = ?", [generation, fingerprint(projection), projection])
        tenant_changes.renew(cursor, projection)  # tenant-wide caches (RFM) start over
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema_name(projection, old)} CASCADE")
        # Only the projector (paused by the caller) writes by generation; readers use views.
        self._generations[projection] = generation

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        cursor = self.db.cursor()
        cursor.execute("BEGIN")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            self._generations.clear()  # a rolled-back switch must not stay cached
            raise
        cursor.execute("COMMIT")
        with self.committed:
            self.committed.notify_all()

    @staticmethod
    def write(cursor: duckdb.DuckDBPyConnection, projection: str, schema: str,
              changes: Iterable[Change]) -> None:
        """Applies a batch of one projection's changes with a few bulk statements."""
        keys = table_keys(projection)
        changes = list(changes)
        tenant_changes.record(cursor, projection, changes)  # keys of tenant-wide caches (RFM)
        upserts: dict[str, dict[tuple, list]] = defaultdict(dict)
        appends: dict[str, list[dict]] = defaultdict(list)
        copied: set[int] = set()  # merged rows whose dicts are this batch's own copies
        for change in changes:
            if type(change) is Append:
                appends[change.table].append(change.row)
            else:
                _coalesce(upserts[change.table], change, keys[change.table], copied)
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
    def record_applied(cursor: duckdb.DuckDBPyConnection, versions: dict[UUID, int],
                       first: Collection[UUID] = ()) -> None:
        """``first``: aggregates the caller knows have no row yet (it read them in this
        transaction); they are inserted, which costs DuckDB less than the upsert the rest need."""
        new = [(k, v) for k, v in versions.items() if k in first]
        if new:
            cursor.execute("INSERT INTO applied_versions SELECT unnest($1::UUID[]), unnest($2::INTEGER[])",
                           [[k for k, _ in new], [v for _, v in new]])
        _write_upserts(cursor, "applied_versions", ("aggregate_id",),
                       [({"aggregate_id": k}, {}, {}, {"version": v}, {})
                        for k, v in versions.items() if k not in first])

    @staticmethod
    def record_positions(cursor: duckdb.DuckDBPyConnection, projections: list[str], position: int,
                         events: int, newest_event_at: datetime | None) -> None:
        """Records how far ``projections`` got (it runs once per batch)."""
        update_else_insert(
            cursor,
            "UPDATE projection_positions SET position = $2, applied_events = applied_events + $3, "
            "newest_event_at = coalesce($4::TIMESTAMPTZ, newest_event_at), updated_at = $5 "
            "WHERE projection IN (SELECT unnest($1::VARCHAR[]))",
            "INSERT INTO projection_positions SELECT p, $2, $3, $4::TIMESTAMPTZ, $5 "
            "FROM unnest($1::VARCHAR[]) AS u(p) "
            "WHERE p NOT IN (SELECT projection FROM projection_positions)",
            [projections, position, events, newest_event_at, datetime.now(timezone.utc)],
            len(projections))

    @staticmethod
    def all_applied_versions(cursor: duckdb.DuckDBPyConnection) -> dict[UUID, int]:
        return dict(cursor.execute("SELECT aggregate_id, version FROM applied_versions").fetchall())

    @staticmethod
    def record_offsets(cursor: duckdb.DuckDBPyConnection, topic: str, topic_id: str,
                       offsets: dict[int, int]) -> None:
        """Within the batch's transaction: the next offset to read of each partition in the batch."""
        if offsets:
            update_else_insert(
                cursor,
                "UPDATE kafka_offsets SET next_offset = v.o, topic_id = $2 FROM (SELECT "
                "unnest($3::INTEGER[]) AS p, unnest($4::BIGINT[]) AS o) AS v "
                "WHERE kafka_offsets.topic = $1 AND kafka_offsets.partition = v.p",
                "INSERT INTO kafka_offsets SELECT $1, v.p, v.o, $2 FROM (SELECT "
                "unnest($3::INTEGER[]) AS p, unnest($4::BIGINT[]) AS o) AS v "
                "WHERE v.p NOT IN (SELECT partition FROM kafka_offsets WHERE topic = $1)",
                [topic, topic_id, list(offsets), list(offsets.values())], len(offsets))

    @staticmethod
    def reset_offsets(cursor: duckdb.DuckDBPyConnection, topic: str, topic_id: str | None,
                      offsets: dict[int, int]) -> None:
        """Forgets the topic's offsets and starts over at ``offsets`` (none: from the beginning)."""
        cursor.execute("DELETE FROM kafka_offsets WHERE topic = ?", [topic])
        if topic_id is not None:
            ReadStore.record_offsets(cursor, topic, topic_id, offsets)

    def kafka_offsets(self, topic: str) -> tuple[str | None, dict[int, int]]:
        """(topic id, {partition: next offset}) as last committed; (None, {}) if never consumed."""
        rows = self.reader().execute(
            "SELECT topic_id, partition, next_offset FROM kafka_offsets WHERE topic = ?",
            [topic]).fetchall()
        return (rows[0][0] if rows else None), {partition: offset for _, partition, offset in rows}

    def node_position(self, cursor=None) -> int:
        """How far the node's live projections got (the furthest of them): read in ``cursor``'s
        transaction, else on a cursor of its own (waiting for the node to catch up polls this)."""
        own = cursor is None
        cursor = self.reader() if own else cursor
        try:
            return cursor.execute(
                "SELECT coalesce(max(position), 0) FROM projection_positions").fetchone()[0]
        finally:
            if own:
                cursor.close()

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

    def note_applied(self, versions: dict[UUID, int]) -> None:
        """Called after a batch committed: the versions it applied, for :meth:`wait_for`.

        A request waiting for its consistency token then wakes on the batch that carries its
        event and sees it here, instead of asking DuckDB once per committed batch: with a few
        dozen requests waiting on a node applying small batches, those queries were about a
        quarter of the node's samples (py-spy of the end-to-end run at 20/s). Only the latest
        ~50k aggregates are kept; an older one is found in ``applied_versions``."""
        with self.committed:
            for aggregate_id, applied in versions.items():
                # Re-inserted, so the latest stay at the end; max, as two batches may report
                # out of order.
                key = aggregate_id.int
                self._recent[key] = max(applied, self._recent.pop(key, 0))
            if len(self._recent) > RECENT:
                for key in list(itertools.islice(self._recent, RECENT // 2)):
                    del self._recent[key]
            self.committed.notify_all()

    def wait_for(self, aggregate_id: UUID, version: int, timeout: float) -> bool:
        """Blocks until the node applied ``version`` of the aggregate; False on timeout.

        Wakes on every batch :meth:`note_applied` reports; asks DuckDB only when memory does
        not have the version, at the start and then every quarter second (an aggregate applied
        long ago, or by a rebuild's top-up)."""
        deadline = time.monotonic() + timeout
        cursor = self.db.cursor()
        query = "SELECT version FROM applied_versions WHERE aggregate_id = ?"

        def noted() -> bool:
            return self._recent.get(aggregate_id.int, 0) >= version

        while True:
            if noted():
                return True
            row = cursor.execute(query, [aggregate_id]).fetchone()
            if row and row[0] >= version:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            with self.committed:
                if self.committed.wait_for(noted, min(remaining, 0.25)):
                    return True


def fingerprint(projection: str) -> str:
    """A digest of the projection's tables, columns, keys and indexes."""
    return hashlib.sha256(repr(TABLES[projection]).encode()).hexdigest()[:16]


def _coalesce(merged: dict[tuple, list], change: Upsert, key_columns: tuple[str, ...],
              copied: set[int]) -> None:
    """Folds several upserts of one row into one, so a statement never touches a row twice.

    A row's first change is kept as it is (most rows of a batch have only one);
    its dicts are copied only when a second change must be folded into them.
    """
    key = tuple([change.key[column] for column in key_columns])
    row = merged.get(key)
    if row is None:
        merged[key] = [change.key, change.set, change.add, change.greatest, change.least]
        return
    if id(row) not in copied:
        row[1:] = [dict(row[1]), dict(row[2]), dict(row[3]), dict(row[4])]
        copied.add(id(row))
    _, sets, adds, greatest, least = row
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
    """One statement per distinct set of ``set`` columns in the batch.

    Add, greatest and least columns are padded to the batch's union with
    neutral values (0, NULL: greatest/least ignore NULL), so rows touched by
    different kinds of events still share a statement; per-statement cost, not
    per-row cost, is what dominates DuckDB upserts of small groups.
    """
    rows = list(rows)
    merged_kinds = [sorted({c for row in rows for c in row[k]}) for k in (2, 3, 4)]
    groups: dict[tuple, list] = defaultdict(list)
    for key, sets, *merges in rows:
        padded = [{c: values.get(c, neutral) for c in union}
                  for values, union, neutral in zip(merges, merged_kinds, (0, None, None))]
        groups[tuple(sets)].append((key, sets, *padded))
    name = table.rpartition(".")[2]
    for set_columns, members in groups.items():
        column_kinds = (set_columns, *(tuple(kind) for kind in merged_kinds))
        columns = list(key_columns) + [c for kind in column_kinds for c in kind]
        updates = [template.format(c=c, t=name)
                   for template, kind in zip(_MERGE, column_kinds) for c in kind]
        action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
        values = [[key[c] for key, *_ in members] for c in key_columns]
        values += [[member[1 + k][c] for member in members]
                   for k, kind in enumerate(column_kinds) for c in kind]
        cursor.execute(f"INSERT INTO {table} AS {name} ({', '.join(columns)}) "
                       f"{_unnest(cursor, table, columns)} "
                       f"ON CONFLICT ({', '.join(key_columns)}) {action}", values)


def _write_appends(cursor, table: str, rows: list[dict]) -> None:
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[tuple(row)].append(row)
    for columns, members in groups.items():
        values = [[row[c] for row in members] for c in columns]
        cursor.execute(f"INSERT INTO {table} ({', '.join(columns)}) "
                       f"{_unnest(cursor, table, columns)}", values)


def _unnest(cursor, table: str, columns) -> str:
    """``SELECT unnest($1)::T1, ...``: each column travels as one list parameter.

    Binding one list per column is an order of magnitude faster in DuckDB than
    a row of parameters per row; the casts give ON CONFLICT's ``excluded``
    values the table's types (a timestamp arrives as an ISO string).
    """
    types = _column_types(cursor, table)
    return "SELECT " + ", ".join(f"CAST(unnest(${n}) AS {types[c]})"
                                 for n, c in enumerate(columns, start=1))


_TYPES: dict[str, dict[str, str]] = {}


def _column_types(cursor, table: str) -> dict[str, str]:
    if table not in _TYPES:
        schema, _, name = table.rpartition(".")
        _TYPES[table] = dict(cursor.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
            "AND schema_name = ?", [name, schema or "main"]).fetchall())
    return _TYPES[table]
