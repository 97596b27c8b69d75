"""A pytest plugin that checks every envelope built from the store against the library's way.

Run any tests with ``-p tests.envelope_check``: each envelope the fast path
(projections/stored.py) builds is compared, field by field and as JSON bytes,
with ``from_event(mapper.to_domain_event(...))``, and every projection not
interested in its type (projections/interest.py) must return nothing for it.
A difference fails the test that read the event.
"""

from __future__ import annotations

from projections import stored
from projections.envelope import from_event

_fast = stored.StoredEnvelopes.envelope
checked = {"events": 0}


def _checked(self, notification):
    envelope = _fast(self, notification)
    expected = from_event(self.mapper.to_domain_event(notification), notification.id)
    assert envelope == expected, (envelope, expected)
    assert envelope.to_json() == expected.to_json(), (envelope, expected)
    assert envelope.aggregate_id == expected.aggregate_id
    checked["events"] += 1
    return envelope


def pytest_terminal_summary(terminalreporter):
    terminalreporter.write_line(f"envelope_check: {checked['events']} envelopes compared")


def _interest_checked(self, notification):
    envelope = _checked(self, notification)
    from projections import PROJECTIONS
    from projections.interest import interest
    for name, module in PROJECTIONS.items():
        if not interest(module).wants(envelope.type):
            assert module.handle(envelope) == [], (name, envelope.type)
    return envelope


def pytest_configure(config):
    stored.StoredEnvelopes.envelope = _interest_checked
