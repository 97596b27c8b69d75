"""Bookkeeping rows (projection positions, Kafka offsets, tenant tokens) are written in every
batch's transaction, so they are written the way DuckDB does cheapest."""

from __future__ import annotations


def update_else_insert(cursor, update: str, insert_missing: str, params: list,
                       expected: int) -> None:
    """Writes bookkeeping rows that exist after their first write: UPDATE them by key, and only
    when it found fewer than ``expected`` rows, INSERT the missing ones (``insert_missing``
    selects just the rows whose key is not in the table; both take the same parameters).

    Why not INSERT … ON CONFLICT DO UPDATE: in DuckDB 2 on these cores that costs ~6 ms a
    statement against ~2 ms for an UPDATE by key, and these statements run in every batch's
    transaction: on a query node applying a few events per batch, the batch's upserts of
    offsets, positions and tokens were a third of its time (py-spy, docs/PERFORMANCE.md).
    """
    if cursor.execute(update, params).fetchone()[0] < expected:
        cursor.execute(insert_missing, params)
