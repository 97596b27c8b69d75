"""A projection added to an existing read-model file is built from the event store by itself."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands import customers
from commands.application import Crm
from domain.base import Meta
from projections import PROJECTIONS
from readmodels.store import ReadStore
from tests.support import wait_until
from workers.projector import Projector, catch_up
from workers.rebuilds import Rebuilds


@pytest.fixture
def crm(event_store_url):
    app = Crm(event_store_url)
    yield app
    app.close()


def test_a_new_projection_is_backfilled_while_the_others_keep_their_rows(crm, tmp_path):
    meta = Meta(str(uuid4()), "test")
    for n in range(30):
        customer = customers.register(crm, meta, customers.RegisterCustomer(name=f"Customer {n}"))
        customers.add_note(crm, meta, customer.id, customers.AddNote(text="hello"))
    store = ReadStore(tmp_path / "readmodels.duckdb")
    without_timeline = {name: module for name, module in PROJECTIONS.items() if name != "timeline"}
    catch_up(crm, Projector(store, without_timeline))  # the file as an older version left it
    directory_before = store.reader().execute("SELECT count(*) FROM customers").fetchone()

    projector = Projector(store)
    rebuilds = Rebuilds(crm, projector)
    assert rebuilds.backfill() == ["timeline"]
    wait_until(lambda: not rebuilds.running("timeline"), "the timeline's rebuild", 60)

    assert rebuilds.get("timeline")["state"] == "done"
    reader = store.reader()
    assert reader.execute("SELECT count(*) FROM timeline").fetchone() == (60,)
    assert reader.execute("SELECT count(*) FROM customers").fetchone() == directory_before
    assert Rebuilds(crm, projector).backfill() == []  # once built, it is live like the others
    store.close()


def test_a_fresh_file_needs_no_backfill(crm, tmp_path):
    store = ReadStore(tmp_path / "readmodels.duckdb")
    assert Rebuilds(crm, Projector(store)).backfill() == []
    store.close()


def test_a_reshaped_projection_is_rebuilt_and_live_batches_skip_it_meanwhile(crm, tmp_path):
    meta = Meta(str(uuid4()), "test")
    first = customers.register(crm, meta, customers.RegisterCustomer(name="Before"))
    store = ReadStore(tmp_path / "readmodels.duckdb")
    projector = Projector(store)
    catch_up(crm, projector)
    # As if an older release had made the timeline's tables in another shape.
    store.db.execute("UPDATE projection_generations SET fingerprint = 'older' WHERE projection = 'timeline'")
    assert store.reshaped("timeline")

    rebuilds = Rebuilds(crm, projector)
    projector.building.add("timeline")  # what backfill does first: hold live writes off
    customers.add_note(crm, meta, first.id, customers.AddNote(text="while rebuilding"))
    catch_up(crm, projector)  # a live batch meanwhile leaves the timeline out
    assert store.reader().execute("SELECT count(*) FROM timeline").fetchone() == (1,)

    assert rebuilds.backfill() == ["timeline"]
    wait_until(lambda: not rebuilds.running("timeline"), "the timeline's rebuild", 60)

    assert rebuilds.get("timeline")["state"] == "done"
    assert not store.reshaped("timeline") and "timeline" not in projector.building
    assert store.reader().execute("SELECT count(*) FROM timeline").fetchone() == (2,)
    store.close()
