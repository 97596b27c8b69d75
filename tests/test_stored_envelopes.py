"""Envelopes built straight from stored JSON equal those built through domain event objects."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import given
from hypothesis import strategies as st

from commands.application import Crm
from domain.base import Meta
from domain.opportunity import Opportunity
from projections.envelope import Envelope, from_event
from projections.stored import StoredEnvelopes, _Unsure, event_id
from workers.demo import load_demo
from workers.projector import read_log

META = Meta(tenant_id="tenant-1", actor="maya", correlation_id="corr-1", causation_id="cause-1")


def _old_deal_events(crm: Crm) -> None:
    """A deal written as version 1 of its events were (before fields were added): upcast on read."""
    deal = Opportunity.open(META, uuid4(), "Mugs", "120", "GBP", stage="proposal")
    deal.move_stage(META, "negotiation")
    deal.win(META)
    added = {"Opened": ("pipeline_id", "probability", "source", "contact_ids", "line_items",
                        "occurred_at"),
             "StageMoved": ("pipeline_id", "amount", "probability", "expected_close", "occurred_at"),
             "Won": ("reason", "pipeline_id", "previous_stage", "stage", "occurred_at")}
    old = []
    for event in deal.collect_events():
        stored = crm.mapper.to_stored_event(event)
        state = crm.mapper.transcoder.decode(stored.state)
        state.pop("class_version")
        for field in added[stored.topic.rpartition(".")[2]]:
            del state[field]
        old.append(StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                               crm.mapper.transcoder.encode(state)))
    crm.recorder.insert_events(old)


def _odd_values(crm: Crm) -> None:
    """Tagged values nested in lists and dicts, a non-UTC time, dates, decimals with exponents."""
    deal = Opportunity.open(META, uuid4(), "Ünïcødé ☕ \"quoted\"", "1E+2", "EUR", stage="lead",
                            expected_close=date(2026, 6, 1),
                            occurred_at=datetime(2026, 3, 1, 10, 0, 0, 1,
                                                 tzinfo=timezone(timedelta(hours=5, minutes=30))))
    crm.save(deal)


@pytest.fixture(params=["sqlite", "postgres"])
def crm(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'events.sqlite3'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_schema_url"))
    crm = Crm(url)
    load_demo(crm, customers=40, seed=5)
    _old_deal_events(crm)
    _odd_values(crm)
    yield crm
    crm.close()


def test_every_stored_event_gives_the_same_envelope_both_ways(crm):
    notifications = crm.recorder.select_notifications(start=1, limit=100_000)
    fast = StoredEnvelopes(crm.mapper)
    assert fast.enabled
    types, upcast = set(), 0
    for n in notifications:
        expected = from_event(crm.mapper.to_domain_event(n), n.id)
        envelope = fast.envelope(n)
        assert envelope == expected
        assert envelope.to_json() == expected.to_json()  # the data's key order too
        assert envelope.aggregate_id == expected.aggregate_id
        types.add(envelope.type)
        try:
            fast._fast(n)
        except _Unsure:
            upcast += 1  # only the version 1 deal events go the library's way
    assert upcast == 3
    assert {"Customer.Registered", "Customer.OrderRecorded", "Opportunity.Opened",
            "Opportunity.Won", "Campaign.Launched", "Tenant.Created"} <= types
    assert len(types) >= 12
    assert read_log(crm, 0, limit=100_000) == [fast.envelope(n) for n in notifications]


def test_a_tag_this_process_does_not_know_goes_the_librarys_way(tmp_path):
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        _odd_values(crm)
        [n] = crm.recorder.select_notifications(start=1, limit=10)
        fast = StoredEnvelopes(crm.mapper)
        del fast.tags["decimal_str"]
        assert fast.envelope(n) == from_event(crm.mapper.to_domain_event(n), n.id)
        with pytest.raises(_Unsure):
            fast._fast(n)
    finally:
        crm.close()


@given(st.uuids(), st.integers(min_value=0, max_value=2**40))
def test_event_ids_are_the_uuid5_of_stream_and_version(stream: UUID, version: int):
    assert event_id(str(stream), version) == str(uuid5(NAMESPACE_URL, f"{stream}/{version}"))


def test_an_envelope_read_from_kafka_equals_the_one_written(tmp_path):
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        _odd_values(crm)
        [envelope] = read_log(crm, 0)
    finally:
        crm.close()
    raw = envelope.to_json()
    assert Envelope.from_json(raw) == envelope
    assert Envelope.from_json(raw).aggregate_id == envelope.aggregate_id
    newer = orjson.loads(raw) | {"added_later": 1}
    del newer["causation_id"]  # a default field may be left out
    assert Envelope.from_json(orjson.dumps(newer)) == replace(envelope, causation_id=None)
    del newer["stream"]
    with pytest.raises(TypeError, match="stream"):
        Envelope.from_json(orjson.dumps(newer))
