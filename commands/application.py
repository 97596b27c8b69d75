"""The Craved CRM application: loads aggregates, lets them decide, saves their events.

One ``Crm`` instance per process. Every command goes through :meth:`Crm.create`
or :meth:`Crm.change`, which is where tenancy, optimistic concurrency and
idempotency are enforced once for all commands.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, RecordConflictError, Transcoding

from commands.aggregate_batches import current_aggregates
from commands.aggregate_turns import AggregateTurns
from commands.errors import Conflict, IdempotencyKeyReused, NotFound
from commands.group_commit import GroupCommit
from commands.idempotency import AnsweredRequest, request_id
from commands.recent_reads import RecentReads
from domain.base import CrmAggregate, DomainError, Meta

A = TypeVar("A", bound=CrmAggregate)

# An unconditional command that lost a race for its aggregate is decided again for up to
# this long. Each round of a race has one winner, so n writers racing for one customer need n
# rounds: a count of retries starved the unlucky ones of a busy aggregate (24 writers: 409s).
# Within a process they take turns instead (AggregateTurns), so this decides between processes.
RETRY_FOR_S = 3.0
# Between tries a loser waits a random share of this, doubling per try up to 32 ms, so the
# racers spread out instead of colliding again at once.
RETRY_WAIT_S = 0.001


@dataclass(frozen=True)
class Outcome:
    """What every command answers: the aggregate, its new version, and a token for reads."""

    id: UUID
    version: int

    @property
    def consistency_token(self) -> str:
        return consistency_token(self.id, self.version)

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "version": self.version,
                "consistency_token": self.consistency_token}


def consistency_token(aggregate_id: UUID, version: int) -> str:
    """``<aggregate id>.<version>``: a read model has caught up once it applied that version.

    Per-aggregate rather than a log position, because in server mode a query
    node consumes Kafka partitions, which have no single global position.
    """
    return f"{aggregate_id.hex}.{version}"


def parse_consistency_token(token: str) -> tuple[UUID, int]:
    aggregate, _, version = token.partition(".")
    return UUID(hex=aggregate), int(version)


@dataclass(frozen=True)
class Idempotency:
    key: str
    fingerprint: str


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


def event_store_env(url: str) -> dict[str, str]:
    """Translates the one ``CRM_EVENT_STORE`` URL into the library's settings."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
                "SQLITE_LOCK_TIMEOUT": "10"}
    if parsed.scheme in ("postgresql", "postgres"):
        query = parse_qs(parsed.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": parsed.path.lstrip("/") or "postgres",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_POOL_SIZE": query.get("pool_size", ["10"])[0],
            "POSTGRES_MAX_OVERFLOW": query.get("max_overflow", ["10"])[0],
            # The library's recorder, but a large insert leaves pipeline mode (it hung).
            "APPLICATION_RECORDER_TOPIC": "commands.event_recorder:EventRecorder",
        }
        if "schema" in query:
            env["POSTGRES_SCHEMA"] = query["schema"][0]
        return env
    raise ValueError(f"CRM_EVENT_STORE must be a sqlite:/// or postgresql:// URL, not {url!r}")


class Crm(Application):
    name = "crm"

    def __init__(self, event_store_url: str, group_commit: bool = True) -> None:
        self.event_store_url = event_store_url
        self._saved = threading.Condition()
        self._turns = AggregateTurns()  # unconditional commands on one aggregate queue up
        super().__init__(env=event_store_env(event_store_url))
        # Without group commit every command is its own transaction (the library's
        # plain save): kept switchable so the benchmark can measure the difference.
        self._write = GroupCommit(self.events.put).commit if group_commit else self.events.put
        self.recent = RecentReads(self.found)

    def register_transcodings(self, transcoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    @property
    def on_postgres(self) -> bool:
        """Whether the event store is PostgreSQL (its datastore has a schema) rather than SQLite."""
        return hasattr(self.recorder.datastore, "schema")

    @property
    def events_table(self) -> str:
        """The stored events' table as SQL names it, for the queries that read it directly:
        schema-qualified and quoted on PostgreSQL, the bare name on SQLite."""
        name = self.recorder.events_table_name
        return f'"{self.recorder.datastore.schema}"."{name}"' if self.on_postgres else name

    def refresh_statistics(self) -> None:
        """ANALYZE the event table after a bulk load (the demo shop, the benchmark's population).

        PostgreSQL's planner needs statistics to load an aggregate through the primary key.
        Without them (autovacuum off, as on the project's own machine, or not yet run on a
        freshly loaded table) it guessed 159k events per aggregate at 7M events and chose a
        parallel bitmap scan with JIT: 144 ms per aggregate load instead of 0.2 ms, and commands
        at 10-80/s instead of hundreds (the large benchmark, docs/PERFORMANCE.md). Autovacuum
        keeps them fresh afterwards; SQLite needs nothing."""
        if self.on_postgres:
            with self.recorder.datastore.get_connection() as connection:  # autocommit
                connection.execute(f"ANALYZE {self.events_table}")

    # -- the two ways a command touches the store --------------------------------------

    def create(self, meta: Meta, make: Callable[[], A],
               idempotency: Idempotency | None = None,
               also: list[CrmAggregate] | None = None) -> Outcome:
        """Runs a command that creates an aggregate.

        ``also`` collects further aggregates the command changed (a uniqueness
        claim, a team's round-robin turn); they are saved in the same transaction.
        """
        if idempotency and (answer := self._answered(meta, idempotency)):
            return answer
        return self._save(make(), meta, idempotency, also)

    def change(self, kind: type[A], aggregate_id: UUID, meta: Meta, act: Callable[[A], Any],
               expected_version: int | None = None,
               idempotency: Idempotency | None = None,
               also: list[CrmAggregate] | None = None) -> Outcome:
        """Runs a command on an existing aggregate of ``kind`` that belongs to the caller's tenant.

        ``act`` may append further changed aggregates to ``also``: all are saved atomically.

        Without ``expected_version`` the command is unconditional: if another request saved
        the aggregate between this one's load and save, it is decided again on the new state
        rather than answered with a conflict the client never asked about. Not when the
        caller put aggregates of its own in ``also``: those it must reload itself.
        """
        if idempotency and (answer := self._answered(meta, idempotency)):
            return answer
        retry = expected_version is None and not also
        with self._turns.turn(aggregate_id, RETRY_FOR_S) if retry else nullcontext():
            give_up_at = time.monotonic() + RETRY_FOR_S
            for attempt in itertools.count():
                if retry and also:
                    also.clear()  # what act added last time
                aggregate = self.load(kind, aggregate_id, meta.tenant_id)
                if expected_version is not None and expected_version != aggregate.version:
                    raise Conflict(f"the {kind.__name__.lower()} is at version {aggregate.version}, "
                                   f"not {expected_version}", aggregate.version)
                act(aggregate)
                try:
                    return self._save(aggregate, meta, idempotency, also)
                except Conflict:
                    if not retry or time.monotonic() > give_up_at:
                        raise
                    time.sleep(random.uniform(0, RETRY_WAIT_S * 2 ** min(attempt, 5)))
        raise AssertionError("unreachable")

    def load(self, kind: type[A], aggregate_id: UUID, tenant_id: str,
             version: int | None = None) -> A:
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}") from None
        if not isinstance(aggregate, kind) or aggregate.tenant_id != tenant_id:
            raise NotFound(f"no {kind.__name__.lower()} {aggregate_id}")
        return aggregate

    def found(self, aggregate_id: UUID) -> CrmAggregate | None:
        """The aggregate, or None if there is none; whose it is, the caller checks."""
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def of_tenant(self, kind: type[A], aggregate_id: UUID, tenant_id: str,
                  recent: bool = False) -> A | None:
        """The tenant's ``kind`` with this id, or None if there is none of the tenant's (a
        tenant's settings it never set, another tenant's id); with ``recent``, a copy read at
        most a second ago (commands.recent_reads), to be read and not changed."""
        found = self.recent.get(aggregate_id) if recent else self.found(aggregate_id)
        return found if isinstance(found, kind) and found.tenant_id == tenant_id else None

    def load_each(self, kind: type[A], ids: list[UUID], tenant_id: str, field: str) -> list[A]:
        """Each of ``ids`` (repeats once) as a ``kind`` of the tenant, read a thousand per query:
        a campaign's recipients would otherwise cost a round trip each. An id that is not one
        is refused as ``field[index]``, its place in ``ids``."""
        unique = list(dict.fromkeys(ids))
        found = current_aggregates(self, unique)
        for index, aggregate_id in enumerate(ids):
            aggregate = found.get(aggregate_id)
            if not isinstance(aggregate, kind) or aggregate.tenant_id != tenant_id:
                raise DomainError(f"no {kind.__name__.lower()} {aggregate_id}", f"{field}[{index}]")
        return [found[aggregate_id] for aggregate_id in unique]

    def _save(self, aggregate: CrmAggregate, meta: Meta, idempotency: Idempotency | None,
              also: list[CrmAggregate] | None = None) -> Outcome:
        outcome = Outcome(aggregate.id, aggregate.version)
        records: list[CrmAggregate] = [aggregate, *(also or ())]
        if idempotency:
            records.append(AnsweredRequest.record(meta, idempotency.key, idempotency.fingerprint,
                                                  {"id": str(outcome.id), "version": outcome.version}))
        try:
            self._write([e for record in records for e in record.collect_events()])
        except (IntegrityError, RecordConflictError):
            if idempotency and (answer := self._answered(meta, idempotency)):
                return answer  # a concurrent retry with the same key won the race
            current = self.repository.get(aggregate.id).version if aggregate.version > 1 else None
            raise Conflict("the aggregate was changed by another request; reload and retry",
                           current) from None
        self.recent.forget(record.id for record in records)
        self.notify_saved()
        return outcome

    def _answered(self, meta: Meta, idempotency: Idempotency) -> Outcome | None:
        request = self.found(request_id(meta.tenant_id, idempotency.key))
        if request is None:
            return None
        if request.fingerprint != idempotency.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
        return Outcome(UUID(request.answer["id"]), request.answer["version"])

    # -- for the embedded projector: wake up as soon as something was saved --------------

    def wait_for_save(self, timeout: float) -> None:
        with self._saved:
            self._saved.wait(timeout)

    def notify_saved(self) -> None:
        """Wakes whoever waits in :meth:`wait_for_save` (the embedded projector)."""
        with self._saved:
            self._saved.notify_all()

    # -- audit ----------------------------------------------------------------------------

    def history(self, kind: type[A], aggregate_id: UUID, tenant_id: str) -> list[CrmAggregate.Event]:
        self.load(kind, aggregate_id, tenant_id)  # tenancy and existence
        return list(self.events.get(aggregate_id))

    def state_at(self, kind: type[A], aggregate_id: UUID, tenant_id: str,
                 version: int | None = None, moment: datetime | None = None) -> A:
        """The aggregate as it was at ``version``, or as of ``moment`` (the last event at or before it)."""
        if moment is not None:
            version = None
            for event in self.events.get(aggregate_id):
                if event.timestamp > moment:
                    break
                version = event.originator_version
            if version is None:
                raise NotFound(f"the {kind.__name__.lower()} did not exist at {moment.isoformat()}")
        return self.load(kind, aggregate_id, tenant_id, version=version)

