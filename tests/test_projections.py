"""Each projection as a pure function of hand-made envelopes, and the store's batch writer.

Only the last tests touch a database: an in-memory DuckDB, to show that the
row changes commute across aggregates and that a batch folds several changes
of one row into one.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from uuid import uuid4

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.base import Meta
from domain.customer import Customer
from projections import (PROJECTIONS, customer_directory, customer_summary, opportunities, orders,
                         timeline)
from projections.envelope import Envelope, from_event
from readmodels.changes import Append, Upsert
from readmodels.customers import customer_360
from readmodels.schema import TABLES
from readmodels.store import ReadStore
from workers.projector import Projector

TENANT = "tenant-1"
T0 = "2026-03-01T10:00:00+00:00"


def envelope(type_: str, stream: str, data: dict, *, version: int = 1, position: int = 1,
             occurred_at: str = T0, tenant: str = TENANT) -> Envelope:
    return Envelope(position=position, event_id=f"{stream}/{version}", stream=stream,
                    version=version, type=type_, tenant=tenant, actor="key abc",
                    occurred_at=occurred_at, schema=1, data=data, correlation_id="corr-1")


CUSTOMER = str(uuid4())
DEAL = str(uuid4())
CAMPAIGN = str(uuid4())
REGISTERED = envelope("Customer.Registered", CUSTOMER,
                      {"name": "Ada Potter", "email": "ada@example.com", "phone": None,
                       "source": "etsy"})
ORDER = envelope("Customer.OrderRecorded", CUSTOMER,
                 {"order_id": "A-1", "amount": "24.50", "currency": "GBP", "item_count": 2,
                  "occurred_at": "2025-12-01T09:00:00+00:00"}, version=2, position=2)
OPENED = envelope("Opportunity.Opened", DEAL,
                  {"customer_id": CUSTOMER, "title": "Café mugs", "value": "1200.00",
                   "currency": "GBP", "stage": "lead", "expected_close": "2026-06-01",
                   "owner": "tom"}, position=3)
LAUNCHED = envelope("Campaign.Launched", CAMPAIGN, {"customer_ids": [CUSTOMER, str(uuid4())]},
                    version=2, position=4)


# -- the envelope ---------------------------------------------------------------------------


def test_a_stored_event_becomes_a_plain_json_envelope():
    meta = Meta(tenant_id=TENANT, actor="maya", correlation_id="corr-9")
    ada = Customer.register(meta, "Ada", "ada@example.com")
    ada.record_order(meta, "A-1", "24.5", "GBP", 2, datetime(2026, 3, 1, 10, tzinfo=timezone.utc))
    registered, order = ada.collect_events()

    wrapped = from_event(order, position=42)

    assert (wrapped.position, wrapped.stream, wrapped.version, wrapped.type, wrapped.tenant,
            wrapped.actor, wrapped.correlation_id) == \
        (42, str(ada.id), 2, "Customer.OrderRecorded", TENANT, "maya", "corr-9")
    assert wrapped.data == {"order_id": "A-1", "amount": "24.50", "currency": "GBP",
                            "item_count": 2, "occurred_at": "2026-03-01T10:00:00+00:00"}
    assert datetime.fromisoformat(wrapped.occurred_at) == order.timestamp
    assert Envelope.from_json(wrapped.to_json()) == wrapped
    # the id is stable, so a re-published event is recognisably the same event
    assert from_event(order, position=99).event_id == wrapped.event_id != from_event(registered, 1).event_id


def test_every_projection_ignores_events_it_does_not_know():
    for name, module in PROJECTIONS.items():
        assert module.handle(envelope("Tenant.Created", str(uuid4()), {"name": "x"})) == [], name
        assert module.handle(envelope("AnsweredRequest.Answered", str(uuid4()),
                                      {"fingerprint": "f", "answer": {}})) == [], name


# -- customer directory ----------------------------------------------------------------------


def test_directory_registered_makes_an_active_row():
    [row] = customer_directory.handle(REGISTERED)
    assert row == Upsert("customers", {"id": CUSTOMER}, set={
        "tenant_id": TENANT, "name": "Ada Potter", "name_lower": "ada potter",
        "email": "ada@example.com", "phone": None, "source": "etsy", "tags": [],
        "status": "active", "created_at": T0, "updated_at": T0})


def test_directory_profile_updates_keep_the_search_name_in_step():
    later = "2026-03-02T10:00:00+00:00"
    [renamed] = customer_directory.handle(envelope(
        "Customer.ProfileUpdated", CUSTOMER, {"changes": {"name": "Ada BAKER", "phone": None}},
        version=2, occurred_at=later))
    assert renamed.set == {"name": "Ada BAKER", "name_lower": "ada baker", "phone": None,
                           "updated_at": later}
    [email_only] = customer_directory.handle(envelope(
        "Customer.ProfileUpdated", CUSTOMER, {"changes": {"email": "a@b.co"}}, version=3))
    assert "name_lower" not in email_only.set and email_only.set["email"] == "a@b.co"


def test_directory_tags_and_archive():
    [tags] = customer_directory.handle(envelope("Customer.TagsChanged", CUSTOMER,
                                                {"tags": ["vip", "local"]}, version=2))
    [archived] = customer_directory.handle(envelope("Customer.Archived", CUSTOMER,
                                                    {"reason": None}, version=3))
    assert tags.set["tags"] == ["vip", "local"]
    assert archived.set["status"] == "archived"
    assert customer_directory.handle(ORDER) == []


# -- customer summary ------------------------------------------------------------------------


def test_summary_counts_orders_and_spend_per_currency():
    summary, spend = customer_summary.handle(ORDER)
    assert summary == Upsert("customer_summaries", {"id": CUSTOMER}, set={"tenant_id": TENANT},
                             add={"order_count": 1},
                             greatest={"last_order_at": "2025-12-01T09:00:00+00:00",
                                       "last_interaction_at": "2025-12-01T09:00:00+00:00"},
                             least={"first_order_at": "2025-12-01T09:00:00+00:00"})
    assert spend == Upsert("customer_spend", {"customer_id": CUSTOMER, "currency": "GBP"},
                           set={"tenant_id": TENANT},
                           add={"total": Decimal("24.50"), "orders": 1})


def test_summary_of_notes_and_communications():
    [note] = customer_summary.handle(envelope("Customer.NoteAdded", CUSTOMER, {"text": "hi"},
                                              version=2, occurred_at="2026-03-05T00:00:00+00:00"))
    [call] = customer_summary.handle(envelope(
        "Customer.CommunicationLogged", CUSTOMER,
        {"channel": "phone", "direction": "inbound", "subject": None, "summary": None,
         "occurred_at": "2026-01-01T00:00:00+00:00"}, version=3))
    assert note.add == {"note_count": 1}
    assert note.greatest == {"last_interaction_at": "2026-03-05T00:00:00+00:00"}
    assert call.add == {"communication_count": 1}
    assert call.greatest == {"last_interaction_at": "2026-01-01T00:00:00+00:00"}  # when it happened


def test_summary_deal_events_update_the_customer_they_concern():
    [opened] = customer_summary.handle(OPENED)
    [won] = customer_summary.handle(envelope("Opportunity.Won", DEAL, {
        "customer_id": CUSTOMER, "value": "1200.00", "currency": "GBP"}, version=2))
    [lost] = customer_summary.handle(envelope("Opportunity.Lost", DEAL, {
        "customer_id": CUSTOMER, "reason": "price"}, version=2))
    assert {opened.key["id"], won.key["id"], lost.key["id"]} == {CUSTOMER}
    assert opened.add == {"open_opportunities": 1}
    assert won.add == {"open_opportunities": -1, "won_opportunities": 1}
    assert lost.add == {"open_opportunities": -1}
    assert customer_summary.handle(envelope("Opportunity.StageMoved", DEAL, {
        "customer_id": CUSTOMER, "previous_stage": "lead", "stage": "qualified"}, version=2)) == []


def test_summary_a_launch_reaches_every_audience_member():
    changes = customer_summary.handle(LAUNCHED)
    assert [c.key["id"] for c in changes] == LAUNCHED.data["customer_ids"]
    assert all(c.add == {"campaigns_received": 1} for c in changes)


# -- orders ------------------------------------------------------------------------------------


def test_orders_one_row_per_recorded_order():
    assert orders.handle(ORDER) == [Append("orders", {
        "tenant_id": TENANT, "customer_id": CUSTOMER, "order_id": "A-1",
        "amount": Decimal("24.50"), "currency": "GBP", "item_count": 2,
        "occurred_at": "2025-12-01T09:00:00+00:00"})]
    assert orders.handle(REGISTERED) == []


# -- timeline ------------------------------------------------------------------------------------


def test_timeline_entries_describe_the_event_for_people():
    [registered] = timeline.handle(REGISTERED)
    [order] = timeline.handle(ORDER)
    assert registered.row["summary"] == "Registered Ada Potter from etsy"
    assert registered.row["kind"] == "profile" and registered.row["customer_id"] == CUSTOMER
    assert order.row["summary"] == "Order A-1: 24.50 GBP, 2 item(s)"
    assert order.row["kind"] == "order"
    assert order.row["occurred_at"] == "2025-12-01T09:00:00+00:00"  # the order's time, not the store's
    assert (order.row["position"], order.row["version"], order.row["aggregate_id"],
            order.row["event_type"], order.row["actor"]) == (2, 2, CUSTOMER, "Customer.OrderRecorded",
                                                             "key abc")
    assert orjson.loads(order.row["data"])["amount"] == "24.50"


def test_timeline_deal_events_land_on_the_customer_timeline():
    [opened] = timeline.handle(OPENED)
    assert opened.row["customer_id"] == CUSTOMER and opened.row["aggregate_id"] == DEAL
    assert opened.row["kind"] == "opportunity"
    assert opened.row["summary"] == "Deal opened: Café mugs (1200.00 GBP, lead)"
    assert opened.row["occurred_at"] == T0
    [moved] = timeline.handle(envelope("Opportunity.StageMoved", DEAL, {
        "customer_id": CUSTOMER, "previous_stage": "lead", "stage": "qualified"}, version=2))
    assert moved.row["summary"] == "Deal moved lead → qualified"


def test_timeline_a_launch_adds_one_entry_per_audience_member_without_the_audience():
    entries = timeline.handle(LAUNCHED)
    assert [e.row["customer_id"] for e in entries] == LAUNCHED.data["customer_ids"]
    for entry in entries:
        assert entry.row["kind"] == "campaign" and entry.row["aggregate_id"] == CAMPAIGN
        assert "customer_ids" not in orjson.loads(entry.row["data"])


def test_timeline_kinds_cover_every_described_event():
    assert set(timeline.KINDS) >= {"profile", "note", "communication", "order", "opportunity",
                                   "campaign"}


# -- opportunities ---------------------------------------------------------------------------


def test_opportunity_rows_follow_the_deal():
    [opened] = opportunities.handle(OPENED)
    assert opened.key == {"id": DEAL}
    assert opened.set == {"tenant_id": TENANT, "customer_id": CUSTOMER, "title": "Café mugs",
                          "value": Decimal("1200.00"), "currency": "GBP", "stage": "lead",
                          "status": "open", "owner": "tom", "expected_close": "2026-06-01",
                          "opened_at": T0, "updated_at": T0}
    later = "2026-04-01T00:00:00+00:00"
    [lost] = opportunities.handle(envelope("Opportunity.Lost", DEAL, {
        "customer_id": CUSTOMER, "reason": "price"}, version=3, occurred_at=later))
    assert lost.set == {"status": "lost", "lost_reason": "price", "closed_at": later,
                        "updated_at": later}
    [value] = opportunities.handle(envelope("Opportunity.ValueChanged", DEAL, {
        "customer_id": CUSTOMER, "previous_value": "1200.00", "value": "900.00",
        "currency": "EUR"}, version=2))
    assert (value.set["value"], value.set["currency"]) == (Decimal("900.00"), "EUR")
    [won] = opportunities.handle(envelope("Opportunity.Won", DEAL, {
        "customer_id": CUSTOMER, "value": "900.00", "currency": "EUR"}, version=3))
    assert won.set["status"] == "won" and won.set["closed_at"] == T0


# -- through the store: cross-aggregate order does not matter -------------------------------


def _story() -> dict[str, list[Envelope]]:
    """One customer's events and the events of other aggregates that concern it, per stream."""
    customer, deal, lost, campaign = (str(uuid4()) for _ in range(4))
    position = iter(range(1, 100))

    def e(type_, stream, version, data, at):
        return envelope(type_, stream, data, version=version, position=next(position),
                        occurred_at=f"2026-03-{at:02d}T10:00:00+00:00")

    return {
        customer: [
            e("Customer.Registered", customer, 1, {"name": "Ada", "email": None, "phone": None,
                                                    "source": None}, 1),
            e("Customer.OrderRecorded", customer, 2, {
                "order_id": "A-1", "amount": "10.00", "currency": "GBP", "item_count": 1,
                "occurred_at": "2026-02-01T00:00:00+00:00"}, 2),
            e("Customer.NoteAdded", customer, 3, {"text": "hi"}, 9),
            e("Customer.OrderRecorded", customer, 4, {
                "order_id": "A-2", "amount": "5.25", "currency": "GBP", "item_count": 1,
                "occurred_at": "2026-01-01T00:00:00+00:00"}, 10),
            e("Customer.TagsChanged", customer, 5, {"tags": ["vip"]}, 11),
        ],
        deal: [
            e("Opportunity.Opened", deal, 1, {"customer_id": customer, "title": "Mugs",
                                              "value": "100.00", "currency": "GBP", "stage": "lead",
                                              "expected_close": None, "owner": None}, 3),
            e("Opportunity.StageMoved", deal, 2, {"customer_id": customer, "previous_stage": "lead",
                                                  "stage": "proposal"}, 4),
        ],
        lost: [
            e("Opportunity.Opened", lost, 1, {"customer_id": customer, "title": "Plates",
                                              "value": "50.00", "currency": "GBP", "stage": "lead",
                                              "expected_close": None, "owner": None}, 5),
            e("Opportunity.Lost", lost, 2, {"customer_id": customer, "reason": "price"}, 6),
        ],
        campaign: [
            e("Campaign.Drafted", campaign, 1, {"name": "W", "channel": "sms", "subject": None,
                                                "body": "b"}, 7),
            e("Campaign.Launched", campaign, 2, {"customer_ids": [customer]}, 8),
        ],
    }


def _tables(store: ReadStore) -> dict[str, list[tuple]]:
    cursor = store.reader()
    return {table: cursor.execute(f"SELECT * FROM {table} ORDER BY ALL").fetchall()
            for tables in TABLES.values() for table in tables}


def _project(order: list[Envelope], batch: int) -> ReadStore:
    store = ReadStore(":memory:")
    projector = Projector(store)
    for start in range(0, len(order), batch):
        chunk = order[start:start + batch]
        projector.apply(chunk, max(e.position for e in chunk))
    return store


STORY = _story()
IN_LOG_ORDER = sorted((e for events in STORY.values() for e in events), key=lambda e: e.position)
EXPECTED = _tables(_project(IN_LOG_ORDER, batch=1))


def test_the_story_in_log_order_gives_the_expected_360():
    store = _project(IN_LOG_ORDER, batch=len(IN_LOG_ORDER))
    customer = next(iter(STORY))
    view = customer_360(store.reader(), TENANT, customer)
    assert (view["order_count"], view["note_count"], view["open_opportunities"],
            view["won_opportunities"], view["campaigns_received"]) == (2, 1, 1, 0, 1)
    assert view["lifetime_spend"] == "15.25" and view["currency"] == "GBP"
    assert view["first_order_at"] == datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert view["last_order_at"] == datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert view["last_interaction_at"] == datetime(2026, 3, 9, 10, tzinfo=timezone.utc)
    assert view["tags"] == ["vip"]
    assert [d["title"] for d in view["open_opportunities_list"]] == ["Mugs"]
    assert _tables(store) == EXPECTED  # one batch or one event at a time: the same rows


@st.composite
def interleavings(draw):
    """Any delivery order that keeps each aggregate's own order (like Kafka partitions)."""
    queues = [list(events) for events in STORY.values()]
    order = []
    while any(queues):
        queue = draw(st.sampled_from([q for q in queues if q]))
        order.append(queue.pop(0))
    return order, draw(st.integers(min_value=1, max_value=len(order)))


@settings(max_examples=5, deadline=None)
@given(interleavings())
def test_cross_aggregate_arrival_order_does_not_change_the_read_models(case):
    order, batch = case
    assert _tables(_project(order, batch)) == EXPECTED


def test_deal_and_campaign_events_before_the_registration_are_kept():
    customer, deal, lost, campaign = STORY
    early = STORY[deal] + STORY[lost] + STORY[campaign] + STORY[customer]
    store = _project(early, batch=2)
    view = customer_360(store.reader(), TENANT, customer)
    assert (view["open_opportunities"], view["campaigns_received"], view["name"]) == (1, 1, "Ada")
    assert _tables(store) == EXPECTED


def test_redelivered_events_are_applied_once():
    store = _project(IN_LOG_ORDER + IN_LOG_ORDER[3:9] + IN_LOG_ORDER, batch=4)
    assert _tables(store) == EXPECTED


# -- the store's batch writer: coalescing -------------------------------------------------------


def _write(store: ReadStore, projection: str, changes) -> None:
    with store.transaction() as cursor:
        store.write(cursor, projection, store.live_schema(projection), changes)


def test_several_upserts_of_one_row_in_a_batch_fold_into_one():
    store = ReadStore(":memory:")
    key = {"id": str(uuid4())}
    _write(store, "customer_summary", [
        Upsert("customer_summaries", key, set={"tenant_id": "a"}, add={"note_count": 1},
               greatest={"last_interaction_at": "2026-03-01T00:00:00+00:00"},
               least={"first_order_at": "2026-03-01T00:00:00+00:00"}),
        Upsert("customer_summaries", key, set={"tenant_id": "b"}, add={"note_count": 2},
               greatest={"last_interaction_at": "2026-01-01T00:00:00+00:00"},
               least={"first_order_at": None}),
        Upsert("customer_summaries", key, add={"note_count": 4, "order_count": 1},
               greatest={"last_interaction_at": "2026-05-01T00:00:00+00:00"},
               least={"first_order_at": "2026-02-01T00:00:00+00:00"}),
    ])
    row = store.reader().execute(
        "SELECT tenant_id, note_count, order_count, last_interaction_at, first_order_at "
        "FROM customer_summaries").fetchall()
    assert row == [("b", 7, 1, datetime(2026, 5, 1, tzinfo=timezone.utc),
                    datetime(2026, 2, 1, tzinfo=timezone.utc))]


def test_a_later_batch_merges_with_the_stored_row():
    store = ReadStore(":memory:")
    key = {"id": str(uuid4())}
    first = Upsert("customer_summaries", key, set={"tenant_id": "a"}, add={"note_count": 3},
                   greatest={"last_interaction_at": "2026-03-01T00:00:00+00:00"},
                   least={"first_order_at": "2026-03-01T00:00:00+00:00"})
    _write(store, "customer_summary", [first])
    _write(store, "customer_summary", [
        Upsert("customer_summaries", key, add={"note_count": -1, "order_count": 2},
               greatest={"last_interaction_at": "2026-02-01T00:00:00+00:00"},
               least={"first_order_at": "2026-01-15T00:00:00+00:00"}),
        Upsert("customer_summaries", key, add={"note_count": 5})])
    assert store.reader().execute(
        "SELECT tenant_id, note_count, order_count, last_interaction_at, first_order_at "
        "FROM customer_summaries").fetchall() == [
        ("a", 7, 2, datetime(2026, 3, 1, tzinfo=timezone.utc),
         datetime(2026, 1, 15, tzinfo=timezone.utc))]


def test_a_batch_updates_the_stored_rows_and_inserts_the_new_ones():
    """One statement per batch both merges into the stored rows and creates the new ones; with
    nothing to set or add, a stored row stays as it is and a missing one is made."""
    store = ReadStore(":memory:")
    stored, new, bare = (str(uuid4()) for _ in range(3))
    _write(store, "customer_summary", [
        Upsert("customer_summaries", {"id": stored}, set={"tenant_id": "a"}, add={"note_count": 1})])
    _write(store, "customer_summary", [
        Upsert("customer_summaries", {"id": stored}, set={"tenant_id": "a"}, add={"note_count": 2}),
        Upsert("customer_summaries", {"id": new}, set={"tenant_id": "b"}, add={"note_count": 5})])
    # Nothing to set or add: a stored row stays as it is, a missing one is made.
    _write(store, "customer_summary", [Upsert("customer_summaries", {"id": stored}),
                                       Upsert("customer_summaries", {"id": bare})])
    rows = store.reader().execute(
        "SELECT id::VARCHAR, tenant_id, note_count FROM customer_summaries").fetchall()
    assert sorted(rows, key=str) == sorted([(stored, "a", 3), (new, "b", 5), (bare, None, 0)], key=str)


def test_composite_keys_and_decimal_sums_coalesce_per_key():
    store = ReadStore(":memory:")
    customer = str(uuid4())
    _write(store, "customer_summary", [
        Upsert("customer_spend", {"customer_id": customer, "currency": currency},
               set={"tenant_id": "a"}, add={"total": Decimal(amount), "orders": 1})
        for currency, amount in (("GBP", "0.10"), ("EUR", "1.00"), ("GBP", "0.20"), ("GBP", "0.05"))])
    assert store.reader().execute(
        "SELECT currency, total, orders FROM customer_spend ORDER BY currency").fetchall() == [
        ("EUR", Decimal("1.00"), 1), ("GBP", Decimal("0.35"), 3)]


@pytest.mark.parametrize("rows", [1, 399, 401, 1507])
def test_big_batches_are_split_into_statements_without_losing_rows(rows):
    store = ReadStore(":memory:")
    ids = [str(uuid4()) for _ in range(rows)]
    _write(store, "customer_summary",
           [Upsert("customer_summaries", {"id": i}, set={"tenant_id": "a"}, add={"note_count": 1})
            for i in ids + ids[:50]])
    _write(store, "orders", [Append("orders", {"tenant_id": "a", "customer_id": i, "order_id": "x",
                                               "amount": Decimal("1.00"), "currency": "GBP",
                                               "item_count": 1, "occurred_at": T0}) for i in ids])
    cursor = store.reader()
    assert cursor.execute("SELECT count(*), sum(note_count) FROM customer_summaries").fetchone() == \
        (rows, rows + min(rows, 50))
    assert cursor.execute("SELECT count(*) FROM orders").fetchone() == (rows,)
