"""Several read statements that see one snapshot of the read models.

DuckDB transactions are snapshot isolated, so statements run inside one read
transaction see the same committed state even while the projector commits
batches. Queries that combine a cached figure with fresh rows (RFM breakpoints
with one customer's metrics, the 360 view's parts) read the cache's key and
the rows under one snapshot, so they never mix two states.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb


@contextmanager
def snapshot(db) -> Iterator[None]:
    """A read transaction on the cursor; inside one already (a caller's), that one serves."""
    try:
        db.execute("BEGIN TRANSACTION")
    except duckdb.TransactionException:
        yield
        return
    try:
        yield
    finally:
        db.execute("ROLLBACK")  # nothing was written; ends the snapshot
