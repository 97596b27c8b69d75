"""A LogWorker decodes only the events some job wants, asks in log order (so a job's interest
can change with what it learned), and still moves past everything it skipped."""

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


def test_only_wanted_events_are_decoded_and_the_position_passes_the_rest(event_store_url):
    crm = Crm(event_store_url)
    try:
        meta = Meta(str(uuid4()), "test")
        customer = customers.register(crm, meta, customers.RegisterCustomer(name="Ada")).id
        customers.add_note(crm, meta, customer, customers.AddNote(text="before"))
        customers.change_tags(crm, meta, customer, customers.ChangeTags(add=["vip"]))
        customers.add_note(crm, meta, customer, customers.AddNote(text="after"))
        job = NotesAfterTagging()
        worker = LogWorker(crm, [job])
        decoded = []
        decode = worker.envelopes.envelope
        worker.envelopes.envelope = lambda n: decoded.append(n.id) or decode(n)

        assert worker.catch_up() == 4

        assert job.asked == ["Customer.Registered", "Customer.NoteAdded", "Customer.TagsChanged",
                             "Customer.NoteAdded"]
        assert job.observed == ["Customer.TagsChanged", "Customer.NoteAdded"]
        assert len(decoded) == 2
        assert worker.position == crm.recorder.max_notification_id()
        assert worker.catch_up() == 0
    finally:
        crm.close()
