"""Reading the notification log in batches, the next batch fetched while this one is worked on.

A rebuild or a catch-up alternates between waiting for PostgreSQL (the query,
the rows over the socket) and applying a batch to DuckDB, each of which leaves
the interpreter free some of the time. Asking for batch n+1 from a thread while
batch n is applied overlaps the two, on a machine where the database server
has a core of its own (docs/PERFORMANCE.md, "Reading ahead").

Only a full batch is followed by a read ahead: a short one means the log's head
was reached, so a node following the head (the embedded tailer, called on every
save) never starts a thread.

On PostgreSQL the rows come straight from the event store's table as tuples
(:class:`LogRow`): the library's ``select_notifications`` runs the same query
but makes a dict of each row and then a ``Notification``, which cost as much
CPU again as the read (docs/PERFORMANCE.md, "Reading the log as tuples"). A
``LogRow`` has a ``Notification``'s attributes, so whatever takes one takes
the other.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.utils import retry
from psycopg.rows import args_row

if TYPE_CHECKING:
    from commands.application import Crm

T = TypeVar("T")
# (first position, how many[, last position]) -> notifications
Read = Callable[..., Sequence[Any]]


_LAST = 2**63 - 1  # the largest BIGINT: no upper bound


class LogRow(NamedTuple):
    """One notification as read from the events table (a ``Notification``'s attributes)."""
    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


def log_read(crm: Crm) -> Read:
    """How ``crm``'s log is read: the events table as tuples on PostgreSQL, else the library.
    ``read(start, limit, stop=None)``: up to ``limit`` notifications from ``start`` to ``stop``."""
    recorder = crm.recorder
    if not crm.on_postgres:
        return lambda start, limit, stop=None: recorder.select_notifications(
            start=start, limit=limit, stop=stop)
    datastore = recorder.datastore
    query = ("SELECT notification_id, originator_id, originator_version, topic, state "
             f"FROM {crm.events_table} WHERE notification_id BETWEEN %s AND %s "
             "ORDER BY notification_id LIMIT %s")

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)  # as the library's read
    def read(start: int, limit: int, stop: int | None = None) -> list[LogRow]:
        with datastore.get_connection() as connection, \
                connection.cursor(row_factory=args_row(LogRow)) as cursor:
            cursor.execute(query, (start, _LAST if stop is None else stop, limit), prepare=True)
            return cursor.fetchall()
    return read


def batches(read: Read, after: int, limit: int,
            convert: Callable[[list], T] = list) -> Iterator[T]:
    """``convert`` of each batch of up to ``limit`` notifications after position ``after``,
    until the log's head; the next batch is read (and converted) while the caller holds this one.

    Positions continue from the last notification of each batch, so what is yielded
    equals reading batch after batch in the caller's thread.
    """
    def read_from(start: int) -> tuple[T, int, int]:
        notifications = read(start, limit)
        last = notifications[-1].id if notifications else start - 1
        return convert(notifications), len(notifications), last

    batch, count, last = read_from(after + 1)
    if count < limit:  # at the head: no thread
        if count:
            yield batch
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="log-read-ahead") as pool:
        while count:
            ahead = pool.submit(read_from, last + 1) if count == limit else None
            yield batch
            if ahead is None:
                return
            batch, count, last = ahead.result()
