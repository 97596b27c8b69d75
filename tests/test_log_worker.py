"""A LogWorker reads from the store only the events some job wants, notices when a job's
interest grows with what it learned, and still moves past everything it skipped."""

from __future__ import annotations

from uuid import uuid4

from commands import customers
from commands.application import Crm
from domain.base import Meta
from workers.log_worker import LogWorker


class NotesAfterTagging:
    """Wants tag changes always, and notes only once it has seen a tag change."""
    name = "notes after tagging"

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.observed: list[str] = []

    def wants(self, event_type: str) -> bool:
        self.asked.append(event_type)
        return event_type == "Customer.TagsChanged" or (
            event_type == "Customer.NoteAdded" and "Customer.TagsChanged" in self.observed)

    def observe(self, envelope) -> None:
        self.observed.append(envelope.type)

    def due(self, now):
        return []


def _fetched(worker: LogWorker) -> list[int]:
    """Records the notification ids the worker's store queries return."""
    ids: list[int] = []
    select = worker.crm.recorder.select_notifications

    def recording(*args, **kwargs):
        batch = select(*args, **kwargs)
        ids.extend(n.id for n in batch)
        return batch
    worker.crm.recorder.select_notifications = recording
    return ids


def test_only_wanted_events_are_read_and_the_position_passes_the_rest(event_store_url):
    crm = Crm(event_store_url)
    try:
        meta = Meta(str(uuid4()), "test")
        customer = customers.register(crm, meta, customers.RegisterCustomer(name="Ada")).id
        customers.add_note(crm, meta, customer, customers.AddNote(text="before"))
        customers.change_tags(crm, meta, customer, customers.ChangeTags(add=["vip"]))
        customers.add_note(crm, meta, customer, customers.AddNote(text="after"))
        job = NotesAfterTagging()
        worker = LogWorker(crm, [job])
        fetched = _fetched(worker)
        decoded = []
        decode = worker.envelopes.envelope
        worker.envelopes.envelope = lambda n: decoded.append(n.id) or decode(n)
        head = crm.recorder.max_notification_id()

        assert worker.catch_up() == head

        # The tag change widened the job's interest to notes: the note after it is
        # observed, the one before it never left the store.
        assert job.observed == ["Customer.TagsChanged", "Customer.NoteAdded"]
        assert fetched == decoded == [head - 1, head]
        assert worker.position == head
        assert worker.catch_up() == 0
        customers.add_note(crm, meta, customer, customers.AddNote(text="later"))
        assert worker.catch_up() == 1
        assert job.observed[-1] == "Customer.NoteAdded"
    finally:
        crm.close()


class Nothing:
    name = "nothing"

    def wants(self, event_type: str) -> bool:
        return False


def test_a_worker_whose_jobs_want_nothing_reads_nothing_and_moves_to_the_head(event_store_url):
    crm = Crm(event_store_url)
    try:
        meta = Meta(str(uuid4()), "test")
        customers.register(crm, meta, customers.RegisterCustomer(name="Ada"))
        worker = LogWorker(crm, [Nothing()])
        fetched = _fetched(worker)

        assert worker.catch_up() == crm.recorder.max_notification_id() == worker.position
        assert fetched == []
    finally:
        crm.close()


def test_the_catalog_names_every_stored_topic(event_store_url):
    """A topic missing from the catalog would never be asked for: every event the demo
    writes must be in it, under the name envelopes give it."""
    from domain.catalog import event_topics
    from projections.stored import stored_envelopes
    from workers.demo import load_demo
    crm = Crm(event_store_url)
    try:
        load_demo(crm, customers=40)
        names = stored_envelopes(crm.mapper)
        stored = {n.topic for n in crm.recorder.select_notifications(start=1, limit=100_000)}
        catalog = event_topics()
        assert stored <= set(catalog.values())
        assert all(catalog[names.type_name(topic)] == topic for topic in stored)
    finally:
        crm.close()


class FlakyDeliveries:
    """Hands out one item once (as a job does: forgotten once due); its first perform raises."""
    name = "flaky"

    def __init__(self) -> None:
        self.pending = {"item"}
        self.attempts = 0
        self.done: list[str] = []

    def wants(self, event_type: str) -> bool:
        return False

    def due(self, now):
        due, self.pending = sorted(self.pending), set()
        return due

    def perform(self, key, now) -> None:
        self.attempts += 1
        if self.attempts == 1:
            raise ConnectionError("the store went away mid-item")
        self.done.append(key)


def test_an_item_whose_perform_raised_is_tried_again_later(event_store_url):
    from datetime import datetime, timezone

    from workers.log_worker import RETRY_AFTER
    crm = Crm(event_store_url)
    try:
        now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
        job = FlakyDeliveries()
        worker = LogWorker(crm, [job], clock=lambda: now[0])

        assert worker.run_once() == 1 and job.done == []
        assert worker.run_once() == 0  # not before its time
        now[0] += RETRY_AFTER
        assert worker.run_once() == 1

        assert job.done == ["item"] and job.attempts == 2
        assert worker.run_until_idle() == 0
    finally:
        crm.close()


class Notes:
    """Wants notes, always: says so, so the worker does not ask it again after each note."""
    name = "notes"
    interest_grows = False

    def __init__(self) -> None:
        self.asked = 0
        self.observed = 0

    def wants(self, event_type: str) -> bool:
        self.asked += 1
        return event_type == "Customer.NoteAdded"

    def observe(self, envelope) -> None:
        self.observed += 1


def test_a_job_whose_interest_is_fixed_is_not_asked_again_after_each_event(event_store_url):
    from domain.catalog import event_topics
    crm = Crm(event_store_url)
    try:
        meta = Meta(str(uuid4()), "test")
        customer = customers.register(crm, meta, customers.RegisterCustomer(name="Ada")).id
        for text in ("one", "two", "three"):
            customers.add_note(crm, meta, customer, customers.AddNote(text=text))
        job = Notes()

        LogWorker(crm, [job]).catch_up()

        # Once per type to choose the batch's topics, then once per note read: not the
        # other types again after each note.
        assert job.observed == 3
        assert job.asked == len(event_topics()) + 3
    finally:
        crm.close()
