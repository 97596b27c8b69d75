"""Large saves on PostgreSQL: a campaign to thousands of recipients is one transaction of
thousands of events, which the library's pipelined insert never finished (psycopg waited for
the server, the server for the rest of the query). See commands/event_recorder.py."""

from __future__ import annotations

import multiprocessing
from datetime import datetime, timezone
from uuid import uuid4

import pytest

from commands import campaigns
from commands.application import Crm
from commands.event_recorder import PIPELINED_BYTES, EventRecorder
from domain.base import Meta
from domain.campaign import Campaign
from domain.customer import Customer
from domain.rendering import sample_context


def _finishes(url: str, work) -> None:
    """Runs ``work(crm)`` in a child process with a Crm of its own: if it has not finished
    after two minutes (the hang this guards against), the child is killed and the test fails
    instead of hanging the suite."""
    def child() -> None:
        crm = Crm(url)
        try:
            work(crm)
        finally:
            crm.close()
    process = multiprocessing.get_context("fork").Process(target=child, daemon=True)
    process.start()
    process.join(120)
    if process.is_alive():
        process.kill()
        process.join()
        pytest.fail("the save never finished")
    assert process.exitcode == 0, "the save failed (its traceback is in the captured output)"


def _customers(meta: Meta, count: int) -> list[Customer]:
    now = datetime.now(timezone.utc)
    customers = []
    for n in range(count):
        customer = Customer.register(meta, f"Reader {n}", f"reader.{n}@example.com", None, "web")
        customer.record_consent(meta, "email", "opted_in", "signup form", None, now)
        customers.append(customer)
    return customers


def test_a_save_of_twenty_thousand_events_commits_with_contiguous_ids(postgres_schema_url):
    meta = Meta(str(uuid4()), "test")
    small = _customers(meta, 2)
    large = _customers(meta, 10_000)  # 20,000 events, several MB of state
    _finishes(postgres_schema_url, lambda crm: crm.save(*small))  # the library's pipelined path
    _finishes(postgres_schema_url, lambda crm: crm.save(*large))
    crm = Crm(postgres_schema_url)
    try:
        assert isinstance(crm.recorder, EventRecorder)
        stored = crm.recorder.select_notifications(start=1, limit=30_000)
        assert sum(len(n.state) for n in stored[4:]) > PIPELINED_BYTES
        assert [n.id for n in stored] == list(range(1, 20_005))
        assert {n.originator_id for n in stored[4:]} == {c.id for c in large}
    finally:
        crm.close()


def test_a_campaign_to_twelve_thousand_recipients_launches(postgres_schema_url):
    meta = Meta(str(uuid4()), "test")
    audience = _customers(meta, 12_000)
    campaign = Campaign.draft(meta, "Winter market", "email", "Hello", "Hello {{ customer.first_name }}",
                              sample=sample_context({}))

    def sign_up(crm: Crm) -> None:
        for start in range(0, len(audience), 1_000):
            crm.save(*audience[start:start + 1_000])
        crm.save(campaign)
    _finishes(postgres_schema_url, sign_up)

    _finishes(postgres_schema_url, lambda crm: campaigns.launch(
        crm, meta, campaign.id, campaigns.LaunchCampaign(customer_ids=[c.id for c in audience])))

    crm = Crm(postgres_schema_url)
    try:
        launched = crm.load(Campaign, campaign.id, meta.tenant_id)
        assert launched.status == "running" and launched.audience_size == 12_000
        queued = crm.recorder.select_notifications(
            start=1, limit=100_000, topics=["domain.message:Message.Queued"])
        assert len(queued) == 12_000
    finally:
        crm.close()


def test_processes_starting_together_on_a_new_store_all_start(postgres_schema_url):
    """Six at once on an empty schema: without the lock every such start failed one or more of
    them ("tuple concurrently updated", a duplicate pg_type key, "relation already exists")."""
    from workers.checkpoints import Checkpoints  # a bookkeeping table of its own as well

    def start() -> None:
        crm = Crm(postgres_schema_url)
        Checkpoints(crm)
        crm.close()

    context = multiprocessing.get_context("fork")
    starting = [context.Process(target=start, daemon=True) for _ in range(6)]
    for process in starting:
        process.start()
    for process in starting:
        process.join(60)
    assert [p.exitcode for p in starting] == [0] * 6
