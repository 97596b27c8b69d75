"""A projection's declared-by-its-code interest never leaves out an event it handles."""

from __future__ import annotations

import types

from commands.application import Crm
from projections import PROJECTIONS
from projections.interest import Interest, interest
from workers.demo import load_demo
from workers.projector import read_log


def test_projections_return_nothing_for_the_event_types_they_are_not_interested_in(tmp_path):
    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        load_demo(crm, customers=60, seed=9)
        envelopes = read_log(crm, 0, limit=100_000)
    finally:
        crm.close()
    skipped = 0
    for name, module in PROJECTIONS.items():
        for e in envelopes:
            if not interest(module).wants(e.type):
                assert module.handle(e) == [], (name, e.type)
                skipped += 1
            else:
                module.handle(e)
    assert skipped > len(envelopes) * len(PROJECTIONS) / 2  # most projections ignore most events


def test_interest_comes_from_literals_in_code_and_data_or_from_handles():
    module = types.ModuleType("projections.example")
    exec(  # noqa: S102 - a made-up projection module
        "SUMMARY = {'Task.Created': 'created'}\n"
        "def handle(e):\n"
        "    if e.type.startswith('Quote.') or e.type == 'Customer.Registered': return [1]\n"
        "    return [2] if e.type in SUMMARY else []\n", module.__dict__)
    found = Interest(module)
    assert [found.wants(t) for t in ("Task.Created", "Quote.Sent", "Customer.Registered",
                                     "Customer.NoteAdded", "Opportunity.Won")] == \
        [True, True, True, False, False]
    module.HANDLES = ("Opportunity.",)
    assert Interest(module).wants("Opportunity.Won") and not Interest(module).wants("Task.Created")
    assert Interest(types.ModuleType("projections.anything")).wants("Any.Thing")  # no names: all
