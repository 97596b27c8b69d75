"""The writer's two ways of passing a column to DuckDB (a JSON text, a Python list) store the same."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import duckdb
import pytest

from commands.application import Crm
from projections import PROJECTIONS
from readmodels import store as store_module
from readmodels.schema import TABLES
from readmodels.store import ReadStore
from workers.demo import load_demo
from workers.projector import Projector, catch_up


def _tables(store: ReadStore) -> dict[str, list]:
    cursor = store.reader()
    return {table: sorted(map(repr, cursor.execute(f"SELECT * FROM {table}").fetchall()))
            for projection in TABLES for table in TABLES[projection]}


def test_every_read_model_is_the_same_whichever_way_columns_travel(tmp_path, monkeypatch):
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        load_demo(crm, customers=60, seed=13)
        as_json = ReadStore(tmp_path / "json.duckdb")
        catch_up(crm, Projector(as_json, PROJECTIONS), batch_size=300)
        monkeypatch.setattr(store_module, "_as_json", lambda kind, values: None)
        as_lists = ReadStore(tmp_path / "lists.duckdb")
        catch_up(crm, Projector(as_lists, PROJECTIONS), batch_size=300)
    finally:
        crm.close()
    json_tables, list_tables = _tables(as_json), _tables(as_lists)
    assert sum(map(len, json_tables.values())) > 500
    assert json_tables == list_tables


UTC, EAST = timezone.utc, timezone(timedelta(hours=5, minutes=30))
VALUES = [  # (column type, values)
    ("DECIMAL(18,2)", [Decimal("12.345"), Decimal("-12.345"), Decimal("1E+2"), Decimal("0.005"), 7,
                       "3.999", None]),
    ("TIMESTAMPTZ", ["2026-03-01T10:00:00+00:00", datetime(2026, 3, 1, 23, 30, tzinfo=EAST),
                     datetime(2026, 3, 1, 10, 0, 0, 5), date(2026, 3, 1), "2026-03-01T10:00:00Z", None]),
    ("DATE", ["2026-03-01", date(1999, 12, 31), None]),
    ("BOOLEAN", [True, False, "true", None]),
    ("INTEGER", [0, -5, 2**31 - 1, "42", None]),
    ("BIGINT", [2**62, -1, None]),
    ("UUID", [uuid4(), str(uuid4()), uuid4().hex, None]),
    ("VARCHAR", ["", "Ünïcødé ☕ \"quoted\" \\ back\nline", None]),
    ("VARCHAR", [5, -6, None]),
    ("VARCHAR", [uuid4(), None]),
    ("JSON", ['{"a": [1, 2]}', "null", None]),
    ("VARCHAR[]", [["a", "b c", ""], [], None, ["\"x\""]]),
]


@pytest.mark.parametrize("kind,values", VALUES)
def test_each_column_type_stores_the_same_values_either_way(kind, values):
    db = duckdb.connect()
    db.execute("SET TimeZone = 'UTC'")
    db.execute(f"CREATE TABLE t (v {kind})")
    text = store_module._as_json(db.execute("SELECT data_type FROM duckdb_columns() "
                                            "WHERE table_name = 't'").fetchone()[0], values)
    assert text is not None  # these all travel as JSON
    store_module._TYPES.pop("t", None)
    for way in ("json", "list"):
        select, params = store_module._unnest(db, "t", ["v"], [values])
        if way == "list":
            select, params = f"SELECT CAST(unnest($1) AS {kind})", [values]
        db.execute(f"CREATE TABLE {way} AS {select}", params)
    assert db.execute("SELECT * FROM json").fetchall() == db.execute("SELECT * FROM list").fetchall()


def test_values_json_would_change_are_bound_as_lists():
    assert store_module._as_json("VARCHAR", [1.5]) is None        # a float
    assert store_module._as_json("JSON", [{"a": 1}]) is None      # a dict
    assert store_module._as_json("DATE", [datetime(2026, 3, 1, 23, tzinfo=EAST)]) is None
    assert store_module._as_json("INTEGER", [True]) is None
    assert store_module._as_json("BIGINT", [2**70]) is None       # beyond 64 bits
    assert store_module._as_json("VARCHAR[]", [[1, 2]]) is None
    assert store_module._as_json("HUGEINT", [1]) is None          # a type not listed
