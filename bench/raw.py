"""The hardware's own limits, measured in the same run: raw PostgreSQL writes, raw log reads."""

from __future__ import annotations

import os
import time
import uuid

import psycopg

from workers.log_reader import log_read as log_read_of

# The shape of the event store's table: what one event costs to store, minus the library.
TABLE = """CREATE TABLE IF NOT EXISTS bench_raw_events (
    originator_id uuid NOT NULL, originator_version bigint NOT NULL, topic text, state bytea,
    notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"""
STATE = os.urandom(300)  # about the size of a stored Customer event


def _rows(n: int):
    return [(uuid.uuid4(), 1, "domain.customer:Customer.Registered", STATE) for _ in range(n)]


def single_row_commits(dsn: str, seconds: float) -> float:
    """Rows/s when every row is its own transaction (one fsync each)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(TABLE)
        conn.commit()
        count, stop = 0, time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < stop:
            conn.execute("INSERT INTO bench_raw_events (originator_id, originator_version, topic, state) "
                         "VALUES (%s, %s, %s, %s)", _rows(1)[0])
            conn.commit()
            count += 1
        return count / (time.perf_counter() - started)


def batched_inserts(dsn: str, seconds: float, batch: int = 1000) -> float:
    """Rows/s with `batch` rows per transaction (pipelined executemany)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(TABLE)
        conn.commit()
        count, stop = 0, time.perf_counter() + seconds
        started = time.perf_counter()
        while time.perf_counter() < stop:
            with conn.cursor() as cursor:
                cursor.executemany("INSERT INTO bench_raw_events (originator_id, originator_version, "
                                   "topic, state) VALUES (%s, %s, %s, %s)", _rows(batch))
            conn.commit()
            count += batch
        return count / (time.perf_counter() - started)


def log_read(crm, batch: int = 1000) -> float:
    """Notifications/s reading the whole notification log, without decoding them, the way
    rebuilds and catch-ups read it (``workers.log_reader.log_read``: on PostgreSQL tuples
    from the events table, faster than the library's ``select_notifications``; the figures
    before 2026-11-27 night read through the library)."""
    read = log_read_of(crm)
    started, position, count = time.perf_counter(), 0, 0
    while notifications := read(position + 1, batch):
        position = notifications[-1].id
        count += len(notifications)
    return count / (time.perf_counter() - started)
