"""The read-model file keeps small row groups, so newest-first lists skip the older ones.

DuckDB skips a row group by its min/max only if the group is not the whole table: with its
default of 122,880 rows a 100k-customer tenant was one group (a checkpoint merges appends
into it), and the customer list read every row of it (readmodels/store.py, ROW_GROUP_ROWS).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from readmodels.customers import list_customers
from readmodels.store import ROW_GROUP_ROWS, ReadStore

START = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _register(store: ReadStore, first: int, count: int) -> None:
    """``count`` customers of tenant t, one a minute, numbered from ``first``, as the directory
    stores them (appended in the order they were registered)."""
    cursor = store.reader()
    cursor.execute(
        f"INSERT INTO {store.live_schema('customer_directory')}.customers BY NAME "
        "SELECT uuid() AS id, 't' AS tenant_id, 'c' || i AS name, 'c' || i AS name_lower, "
        "'active' AS status, $start + to_minutes(i) AS created_at, "
        "$start + to_minutes(i) AS updated_at FROM range($first, $first + $count) AS r(i)",
        {"start": START, "first": first, "count": count})


def _row_groups(store: ReadStore) -> list[int]:
    """Rows per row group of the live customers table."""
    schema = store.live_schema("customer_directory")
    return [rows for _, rows in store.reader().execute(
        f"SELECT row_group_id, sum(count) FROM pragma_storage_info('{schema}.customers') "
        "WHERE column_name = 'created_at' AND segment_type <> 'VALIDITY' "
        "GROUP BY 1 ORDER BY 1").fetchall()]


def test_rows_are_kept_in_small_row_groups_across_reopening_and_checkpoints(tmp_path):
    store = ReadStore(tmp_path / "readmodels.duckdb")
    _register(store, 0, 3 * ROW_GROUP_ROWS)
    store.close()
    store = ReadStore(tmp_path / "readmodels.duckdb")
    _register(store, 3 * ROW_GROUP_ROWS, 1000)
    store.reader().execute("CHECKPOINT")  # where DuckDB merges row groups up to its size

    groups = _row_groups(store)

    assert len(groups) >= 4 and max(groups) <= ROW_GROUP_ROWS


def test_the_newest_first_list_skips_the_older_row_groups(tmp_path):
    store = ReadStore(tmp_path / "readmodels.duckdb")
    _register(store, 0, 4 * ROW_GROUP_ROWS)
    store.reader().execute("CHECKPOINT")
    db = store.reader()

    page = list_customers(db, "t", limit=50)
    plan = db.execute("EXPLAIN ANALYZE SELECT id FROM customers WHERE tenant_id = 't' "
                      "ORDER BY created_at DESC, id DESC LIMIT 51").fetchall()[0][1]

    newest = START + timedelta(minutes=4 * ROW_GROUP_ROWS - 1)
    assert [c["created_at"] for c in page["items"]] == [newest - timedelta(minutes=n) for n in range(50)]
    # Two threads may each start on a row group before the first page is known.
    scanned, groups = map(int, re.search(r"Row Groups Scanned: (\d+) / (\d+)", plan).groups())
    assert groups == 4 and scanned < groups
