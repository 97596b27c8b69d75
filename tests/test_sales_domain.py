"""Domain rules of pipelines, deals, quotes and contracts that HTTP tests do not reach, and
old (version 1) deal events staying readable."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from commands.application import Crm
from domain.base import DomainError, InvalidTransition, Meta
from domain.opportunity import Opportunity
from domain.pipeline import Pipeline
from domain.quote import Quote, totals

META = Meta(tenant_id="t1", actor="test")


def pipeline() -> Pipeline:
    return Pipeline.create(META, "Wholesale", [{"name": "New"}, {"name": "Samples", "probability": 40},
                                               {"name": "Won", "kind": "won"}])


def test_stage_ids_are_derived_and_unique_and_kinds_are_checked():
    p = Pipeline.create(META, "P", [{"name": "Sample Sent!"}, {"name": "sample sent"}])
    assert [s["id"] for s in p.stages] == ["sample-sent", "sample-sent-2"]
    p.add_stage(META, {"name": "W1", "kind": "won"})
    with pytest.raises(DomainError):
        p.add_stage(META, {"name": "W2", "kind": "won"})
    with pytest.raises(DomainError):  # the last open stage cannot go
        Pipeline.create(META, "P", [{"name": "Only"}]).archive_stage(META, "only")


def test_a_deal_in_a_pipeline_needs_that_pipeline_to_move():
    p = pipeline()
    deal = Opportunity.open(META, uuid4(), "Mugs", "10", "GBP", pipeline=p)
    assert (deal.stage, deal.probability) == ("new", 10)
    with pytest.raises(ValueError):
        deal.move_stage(META, "samples")  # the handler must pass the pipeline
    deal.move_stage(META, "samples", p)
    with pytest.raises(DomainError):
        Opportunity.open(META, uuid4(), "Mugs", "10", "GBP", pipeline=p, stage="won")


def test_quote_totals_round_each_line_then_the_tax_half_up():
    lines = [{"name": "a", "quantity": Decimal("3"), "unit_price": Decimal("0.35"),
              "discount": Decimal("5"), "total": Decimal("1.00")},  # 1.0 (0.9975 -> 1.00)
             {"name": "b", "quantity": Decimal("1"), "unit_price": Decimal("0.05"),
              "discount": Decimal("0"), "total": Decimal("0.05")}]
    assert totals(lines, Decimal("12.5")) == {"subtotal": Decimal("1.05"), "tax": Decimal("0.13"),
                                              "total": Decimal("1.18")}
    quote = Quote.draft(META, uuid4(), uuid4(), "GBP", [{"name": "a", "unit_price": "10"}], "0", None,
                        date(2026, 3, 1), date(2026, 2, 1))
    with pytest.raises(InvalidTransition):
        quote.expire(META, date(2026, 3, 1))  # its last valid day
    quote.expire(META, date(2026, 3, 2))
    assert quote.status == "expired"


def test_version_1_deal_events_are_upcast_when_read(tmp_path):
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        deal = Opportunity.open(META, uuid4(), "Mugs", "120", "GBP", stage="proposal")
        deal.move_stage(META, "negotiation")
        deal.win(META)
        old = []
        for event in deal.collect_events():
            stored = crm.mapper.to_stored_event(event)
            state = crm.mapper.transcoder.decode(stored.state)
            added = {"Opened": ("pipeline_id", "probability", "source", "contact_ids", "line_items",
                                "occurred_at"),
                     "StageMoved": ("pipeline_id", "amount", "probability", "expected_close",
                                    "occurred_at"),
                     "Won": ("reason", "pipeline_id", "previous_stage", "stage", "occurred_at")}
            assert state.pop("class_version") == 2  # written as the first version was:
            for field in added[stored.topic.rpartition(".")[2]]:
                del state[field]
            old.append(StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                                   crm.mapper.transcoder.encode(state)))
        crm.recorder.insert_events(old)

        read = crm.repository.get(deal.id)
        assert (read.status, read.stage, read.pipeline_id, read.probability, read.line_items,
                read.contact_ids, read.value) == ("won", "negotiation", None, 100, [], [],
                                                   Decimal("120.00"))
        events = list(crm.events.get(deal.id))
        assert events[1].previous_stage == "proposal" and events[1].amount is None
        assert events[2].reason is None and events[2].stage is None
    finally:
        crm.close()
