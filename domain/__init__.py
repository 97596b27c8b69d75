"""The CRM's aggregates and their events: pure Python on `eventsourcing`, no I/O."""
