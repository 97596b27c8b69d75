"""Segment membership, kept current by the projector as events arrive.

:func:`refresh` runs inside the projector's transaction right after the
projections have applied a batch, so it sees the batch's effects and its own
writes commit (or not) with them: a query that waited for an event's
consistency token also sees the memberships that event changed.

* a segment defined or whose rule changed is evaluated for every customer;
* a static segment's ``MembersAdded`` / ``MembersRemoved`` are applied as they are;
* any other event about customers re-evaluates the tenant's dynamic segments for
  those customers — or for everyone, for rules that depend on other customers
  or on time (RFM segment, lead score, "within N days"); on a large tenant
  those are evaluated for everyone at most every ``large_tenants.LAG`` of the
  events' time, and for the batch's customers in between
  (:mod:`readmodels.large_tenants`);
* ``refresh_tenant`` re-evaluates everything (time passes without events; the
  ``POST /v1/segments/refresh`` route and the scheduler call it).

Each entry and exit is appended to ``segment_changes`` (the customer's timeline
shows them) with the time and log position of the event that caused it. The
node's ``SegmentEntries`` job reads them back in the order they were appended
(:func:`changes_after`) and records them as ``SegmentMembership`` events, for the
workers that follow the event store rather than a read model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache, partial
from typing import Any
from uuid import UUID

import orjson

from readmodels import large_tenants, rfm
from readmodels.segments import members_sql, uses_relative_fields

PROJECTION = "segment_membership"
_SEGMENT_EVENTS = ("Segment.Defined", "Segment.RuleChanged", "Segment.Deleted",
                   "Segment.MembersAdded", "Segment.MembersRemoved")


def _customers(e) -> list[str]:
    if e.type.startswith("SegmentMembership."):
        return []  # membership recorded as events: the cause, not a change to re-evaluate
    if e.type.startswith("Customer."):
        return [e.stream]
    if e.type == "Campaign.Launched":
        return list(e.data["customer_ids"])
    customer = e.data.get("customer_id") if isinstance(e.data, dict) else None
    return [customer] if customer else []


def refresh(store, cursor, envelopes: list) -> None:
    """Applies a batch's effect on segment membership (see the module docstring)."""
    if not envelopes:
        return
    schema = store.live_schema(PROJECTION)
    touched: dict[str, dict[str, Any]] = defaultdict(lambda: {"customers": set(), "trigger": None,
                                                              "rescore": False})
    for e in envelopes:
        if e.type in _SEGMENT_EVENTS:
            _segment_event(cursor, schema, e)
            continue
        if e.type == "LeadSettings.ScoringRulesSet":
            touched[e.tenant]["rescore"] = True
        customers = _customers(e)
        if customers or e.type == "LeadSettings.ScoringRulesSet":
            entry = touched[e.tenant]
            entry["customers"].update(customers)
            entry["trigger"] = e
    for tenant_id, entry in touched.items():
        trigger = entry["trigger"]
        moment = _moment(trigger)
        # The batch is applied: the tenant's RFM breakpoints stay what they are for all its
        # segments, so they are looked up once, when the first RFM segment needs them.
        breakpoints = cache(partial(rfm.breakpoints, cursor, tenant_id, moment))
        for offset, (segment_id, rule) in enumerate(_dynamic_segments(cursor, tenant_id), 1):
            everyone = entry["rescore"] or (
                uses_relative_fields(rule)
                and not _lately_evaluated(cursor, schema, tenant_id, segment_id, moment))
            if not everyone and not entry["customers"]:
                continue
            evaluate(cursor, schema, tenant_id, segment_id, rule, moment, trigger.position,
                     None if everyone else [UUID(c) for c in entry["customers"]],
                     "segment rules", offset, breakpoints)


# In memory, per generation's schema: a restarted node evaluates each relative segment for
# everyone on its first batch, and a rebuild's generation keeps its own entries. A process holds
# one node's read models.
# (schema, segment) -> when it was last evaluated for everyone, in the events' time.
_evaluated_for_everyone: dict[tuple[str, UUID], datetime] = {}
# (schema, tenant) -> (when counted, the tenant's active customers): counted at most once per
# LAG, not after every batch.
_tenant_customers: dict[tuple[str, str], tuple[datetime, int]] = {}


def _lately_evaluated(cursor, schema: str, tenant_id: str, segment_id: UUID,
                      moment: datetime) -> bool:
    """Whether a large tenant's segment was evaluated for everyone less than LAG before."""
    return (large_tenants.within_lag(_evaluated_for_everyone.get((schema, segment_id)), moment)
            and _active_customers(cursor, schema, tenant_id, moment) >= large_tenants.CUSTOMERS)


def _active_customers(cursor, schema: str, tenant_id: str, moment: datetime) -> int:
    counted = _tenant_customers.get((schema, tenant_id))
    if counted is None or not large_tenants.within_lag(counted[0], moment):
        counted = moment, cursor.execute(
            "SELECT count(*) FROM customers WHERE tenant_id = ? AND status = 'active'",
            [tenant_id]).fetchone()[0]
        _tenant_customers[schema, tenant_id] = counted
    return counted[1]


def refresh_tenant(store, cursor, tenant_id: str, now: datetime, position: int) -> int:
    """Re-evaluates every dynamic segment of the tenant as of ``now``; returns changes made."""
    schema = store.live_schema(PROJECTION)
    return sum(evaluate(cursor, schema, tenant_id, segment_id, rule, now, position, None,
                        "segment rules", offset)
               for offset, (segment_id, rule) in enumerate(_dynamic_segments(cursor, tenant_id), 1))


def _moment(e) -> datetime:
    return datetime.fromisoformat(e.occurred_at)


def _dynamic_segments(cursor, tenant_id: str) -> list[tuple[UUID, dict]]:
    return [(segment_id, orjson.loads(rule)) for segment_id, rule in cursor.execute(
        "SELECT id, rule FROM segments WHERE tenant_id = ? AND kind = 'dynamic' AND NOT deleted "
        "ORDER BY id",
        [tenant_id]).fetchall()]


def _segment_event(cursor, schema: str, e) -> None:
    segment_id, d, at = UUID(e.stream), e.data, _moment(e)
    if e.type in ("Segment.Defined", "Segment.RuleChanged"):
        if d.get("rule") is not None:
            evaluate(cursor, schema, e.tenant, segment_id, d["rule"], at, e.position, None,
                     "segment rules")
    elif e.type == "Segment.MembersAdded":
        _write(cursor, schema, e.tenant, segment_id, [UUID(c) for c in d["customer_ids"]], [],
               at, e.position, e.actor)
    elif e.type == "Segment.MembersRemoved":
        _write(cursor, schema, e.tenant, segment_id, [], [UUID(c) for c in d["customer_ids"]],
               at, e.position, e.actor)
    elif e.type == "Segment.Deleted":
        current = [row[0] for row in cursor.execute(
            f"SELECT customer_id FROM {schema}.segment_members WHERE segment_id = ? AND is_member",
            [segment_id]).fetchall()]
        _write(cursor, schema, e.tenant, segment_id, [], current, at, e.position, "segment deleted")


def evaluate(cursor, schema: str, tenant_id: str, segment_id: UUID, rule: dict, now: datetime,
             position: int, candidates: list[UUID] | None, reason: str, offset: int = 1,
             breakpoints: Callable[[], rfm.Breakpoints] | None = None) -> int:
    """Brings the segment's membership (among ``candidates``, or everyone) in line with its rule
    (``breakpoints``: see :func:`readmodels.segments.members_sql`)."""
    sql, params = members_sql(cursor, tenant_id, rule, now, candidates, breakpoints)
    matching = {row[0] for row in cursor.execute(sql, params).fetchall()}
    where, more = "", []
    if candidates is not None:
        where, more = " AND customer_id IN (SELECT unnest(?::UUID[]))", [candidates]
    current = {row[0] for row in cursor.execute(
        f"SELECT customer_id FROM {schema}.segment_members WHERE segment_id = ? AND is_member{where}",
        [segment_id, *more]).fetchall()}
    entered, left = sorted(matching - current), sorted(current - matching)
    _write(cursor, schema, tenant_id, segment_id, entered, left, now, position, reason, offset)
    if candidates is None:
        _evaluated_for_everyone[schema, segment_id] = now
    return len(entered) + len(left)


def _write(cursor, schema: str, tenant_id: str, segment_id: UUID, entered: list[UUID],
           left: list[UUID], at: datetime, position: int, reason: str, offset: int = 1) -> None:
    if not entered and not left:
        return
    # A few microseconds after the cause (one more per segment), so the entries sort right
    # after it on the timeline and never tie with each other.
    at = at + timedelta(microseconds=offset)
    rows = [(customer, True) for customer in entered] + [(customer, False) for customer in left]
    cursor.execute(
        f"INSERT INTO {schema}.segment_members AS m (segment_id, customer_id, tenant_id, is_member, "
        "since, left_at) SELECT ?, unnest(?::UUID[]), ?, unnest(?::BOOLEAN[]), ?, NULL "
        "ON CONFLICT (segment_id, customer_id) DO UPDATE SET is_member = excluded.is_member, "
        "since = CASE WHEN excluded.is_member THEN excluded.since ELSE m.since END, "
        "left_at = CASE WHEN excluded.is_member THEN NULL ELSE excluded.since END",
        [segment_id, [c for c, _ in rows], tenant_id, [m for _, m in rows], at])
    cursor.execute(
        f"INSERT INTO {schema}.segment_changes (tenant_id, segment_id, customer_id, entered, changed_at, "
        "position, reason) SELECT ?, ?, unnest(?::UUID[]), unnest(?::BOOLEAN[]), ?, ?, ?",
        [tenant_id, segment_id, [c for c, _ in rows], [m for _, m in rows], at, position, reason])


# -- reading the changes back, for the SegmentEntries job ---------------------------------------

# The job's own bookkeeping, beside the node's (readmodels/schema.py BOOKKEEPING): the last
# ``segment_changes`` row (its DuckDB rowid within the live generation) it recorded as events.
ENTRIES_CURSOR = """
CREATE TABLE IF NOT EXISTS segment_entries_cursor (
    job VARCHAR PRIMARY KEY, generation INTEGER, last_row BIGINT, updated_at TIMESTAMPTZ);
"""


@dataclass(frozen=True)
class MembershipChange:
    row: int                # the order the node appended it in
    tenant_id: str
    segment_id: UUID
    customer_id: UUID
    entered: bool
    at: datetime
    reason: str


def create_entries_cursor(store) -> None:
    store.db.cursor().execute(ENTRIES_CURSOR)


def entries_cursor(store, job: str) -> int:
    """The last row ``job`` recorded (-1: none) in the live generation of the changes."""
    row = store.reader().execute(
        "SELECT generation, last_row FROM segment_entries_cursor WHERE job = ?", [job]).fetchone()
    if not row or row[0] != store.generation(PROJECTION):
        return -1  # never ran, or the tables were made anew: their rows are all new to it
    return row[1]


def move_entries_cursor(store, job: str, last_row: int) -> None:
    with store.transaction() as cursor:
        cursor.execute(
            "INSERT INTO segment_entries_cursor VALUES (?, ?, ?, ?) ON CONFLICT (job) DO UPDATE "
            "SET generation = excluded.generation, last_row = excluded.last_row, "
            "updated_at = excluded.updated_at",
            [job, store.generation(PROJECTION), last_row, datetime.now(timezone.utc)])


def changes_after(store, last_row: int, limit: int) -> list[MembershipChange]:
    """Entries and exits appended after ``last_row``, oldest first.

    ``segment_changes`` is append-only and only written under the projector's lock,
    one transaction at a time, so DuckDB's rowid grows in the order rows were
    committed and a row once read never changes its rowid.
    """
    schema = store.live_schema(PROJECTION)
    rows = store.reader().execute(
        f"SELECT rowid, tenant_id, segment_id, customer_id, entered, changed_at, reason "
        f"FROM {schema}.segment_changes WHERE rowid > ? ORDER BY rowid LIMIT ?",
        [last_row, limit]).fetchall()
    return [MembershipChange(*row) for row in rows]
