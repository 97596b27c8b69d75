"""Reading a query node's DuckDB file, row for row, to compare it with a rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from readmodels.schema import TABLES


def snapshot(path: Path | str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model table (through its live view) and the applied versions, sorted."""
    db = duckdb.connect(str(path), read_only=True)
    try:
        db.execute("SET TimeZone = 'UTC'")
        tables = [table for projection in TABLES.values() for table in projection]
        return {table: db.execute(f"SELECT * FROM main.{table} ORDER BY ALL").fetchall()
                for table in [*tables, "applied_versions"]}
    finally:
        db.close()


def applied_events(path: Path | str) -> dict[str, int]:
    db = duckdb.connect(str(path), read_only=True)
    try:
        return dict(db.execute("SELECT projection, applied_events FROM projection_positions").fetchall())
    finally:
        db.close()


def differences(live: dict, rebuilt: dict) -> list[str]:
    """Human-readable differences (empty when equal row for row)."""
    found = []
    for table in sorted(set(live) | set(rebuilt)):
        a, b = live.get(table, []), rebuilt.get(table, [])
        if a != b:
            only_a = [row for row in a if row not in b][:3]
            only_b = [row for row in b if row not in a][:3]
            found.append(f"{table}: {len(a)} rows live vs {len(b)} rebuilt; "
                         f"only live {only_a}; only rebuilt {only_b}")
    return found
