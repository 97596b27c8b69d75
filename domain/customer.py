"""The Customer: a person who buys (or may buy) from the vendor.

The aggregate keeps only what its rules need: the profile, whether it is
archived, and which order ids it has seen (so that recording the same order
twice is a no-op rather than double revenue). Everything else about a customer
(counts, spend, the timeline) is derived by projections.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.custom_fields import CustomFieldSet
from domain.leads import BANT_CRITERIA, ENGAGEMENTS, bant_qualifies
from domain.values import email_address, money, phone_number, text, utc

CHANNELS = ("email", "sms", "phone", "meeting", "whatsapp", "social")
DIRECTIONS = ("inbound", "outbound")
PROFILE_FIELDS = ("name", "email", "phone", "source")
MAX_TAGS = 50
# Channels a customer can consent to (or refuse) being contacted on for marketing.
CONSENT_CHANNELS = ("email", "sms", "whatsapp", "phone", "post")
CONSENT_STATUSES = ("opted_in", "opted_out")
LIFECYCLE_STAGES = ("lead", "qualified", "customer", "churned")
# Which lifecycle moves a person may make by hand (an order also converts a lead).
LIFECYCLE_MOVES = {"lead": {"qualified", "customer"}, "qualified": {"lead", "customer"},
                   "customer": {"churned"}, "churned": {"customer"}}
ASSIGNMENT_METHODS = ("manual", "round_robin", "rule")
MAX_DOCUMENTS = 500
FREQUENCIES = ("any", "weekly", "monthly", "quarterly", "never")
MAX_TOPICS = 20


def _tag(tag: str, field: str) -> str:
    tag = (tag or "").strip().lower()
    if not tag or len(tag) > 50:
        raise DomainError("a tag must have 1 to 50 characters", field)
    return tag


class Customer(CrmAggregate):
    """State: name, email, phone, source, tags, archived, order_ids, note_count.

    (Not declared as class annotations: the library would turn them into
    constructor arguments, and state here is set only by events.)
    """

    class Registered(CrmAggregate.Created):
        name: str
        email: str | None
        phone: str | None
        source: str | None

        def apply(self, customer: Customer) -> None:
            super().apply(customer)
            customer.name = self.name
            customer.email = self.email
            customer.phone = self.phone
            customer.source = self.source
            customer.archived = False
            customer.order_ids = set()
            customer.note_count = 0
            customer.tags = []
            # Customer 360 and lead management (see the events at the end of the class).
            customer.custom_fields = {}
            customer.preferences = {"preferred_channel": None, "frequency": None, "topics": []}
            customer.consent = {}  # channel -> {"status", "source", "occurred_at"}
            customer.lifecycle_stage = "customer"
            customer.lead_since = None
            customer.owner = None
            customer.bant = {}
            customer.bant_qualified = False
            customer.documents = {}  # document id -> {"filename", "sha256"}

    class ProfileUpdated(CrmAggregate.Event):
        changes: dict

        def apply(self, customer: Customer) -> None:
            for field, value in self.changes.items():
                setattr(customer, field, value)

    class NoteAdded(CrmAggregate.Event):
        text: str

        def apply(self, customer: Customer) -> None:
            customer.note_count += 1

    class CommunicationLogged(CrmAggregate.Event):
        channel: str
        direction: str
        subject: str | None
        summary: str | None
        occurred_at: datetime

    class OrderRecorded(CrmAggregate.Event):
        order_id: str
        amount: Decimal
        currency: str
        item_count: int
        occurred_at: datetime

        def apply(self, customer: Customer) -> None:
            customer.order_ids.add(self.order_id)

    class TagsChanged(CrmAggregate.Event):
        tags: list[str]

        def apply(self, customer: Customer) -> None:
            customer.tags = list(self.tags)

    class Archived(CrmAggregate.Event):
        reason: str | None

        def apply(self, customer: Customer) -> None:
            customer.archived = True

    @classmethod
    def register(cls, meta: Meta, name: str, email: str | None = None, phone: str | None = None,
                 source: str | None = None, id: UUID | None = None) -> Customer:
        """``id``: an id derived from what identifies the customer elsewhere (an import's
        external id), so registering the same customer twice finds the first."""
        return cls._start(
            cls.Registered, meta, id=id,
            name=text(name, "name", 200, required=True),
            email=email_address(email),
            phone=phone_number(phone),
            source=text(source, "source", 100),
        )

    def update_profile(self, meta: Meta, **fields: str | None) -> None:
        """Changes the given profile fields; fields equal to the current value are ignored."""
        self._refuse_if_archived()
        normalised = {
            "name": lambda v: text(v, "name", 200, required=True),
            "email": email_address,
            "phone": phone_number,
            "source": lambda v: text(v, "source", 100),
        }
        changes = {}
        for field, value in fields.items():
            if field not in normalised:
                raise DomainError(f"{field} is not a profile field", field)
            value = normalised[field](value)
            if value != getattr(self, field):
                changes[field] = value
        if changes:
            self._record(self.ProfileUpdated, meta, changes=changes)

    def add_note(self, meta: Meta, note: str) -> None:
        self._refuse_if_archived()
        self._record(self.NoteAdded, meta, text=text(note, "text", 10_000, required=True))

    def log_communication(self, meta: Meta, channel: str, direction: str, subject: str | None,
                          summary: str | None, occurred_at: datetime | None) -> None:
        self._refuse_if_archived()
        if channel not in CHANNELS:
            raise DomainError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
        if direction not in DIRECTIONS:
            raise DomainError(f"direction must be one of {', '.join(DIRECTIONS)}", "direction")
        self._record(
            self.CommunicationLogged, meta, channel=channel, direction=direction,
            subject=text(subject, "subject", 500), summary=text(summary, "summary", 10_000),
            occurred_at=utc(occurred_at),
        )

    def record_order(self, meta: Meta, order_id: str, amount: Decimal | str, currency: str,
                     item_count: int, occurred_at: datetime | None) -> bool:
        """Records an order once; returns False (and records nothing) for a known order id."""
        order_id = text(order_id, "order_id", 100, required=True)
        if order_id in self.order_ids:
            return False
        self._refuse_if_archived()
        amount, currency = money(amount, currency)
        if item_count < 1 or item_count > 100_000:
            raise DomainError("item_count must be between 1 and 100000", "item_count")
        self._record(self.OrderRecorded, meta, order_id=order_id, amount=amount,
                     currency=currency, item_count=item_count, occurred_at=utc(occurred_at))
        if self.lifecycle_stage in ("lead", "qualified"):
            self._move_to(meta, "customer", "first order")
        elif self.lifecycle_stage == "churned":
            self._move_to(meta, "customer", "ordered again")
        return True

    def change_tags(self, meta: Meta, add: list[str], remove: list[str]) -> None:
        """Adds and removes tags (lower-cased, trimmed); records the resulting set if it changed."""
        self._refuse_if_archived()
        add = [_tag(t, f"add[{i}]") for i, t in enumerate(add)]
        remove = {_tag(t, f"remove[{i}]") for i, t in enumerate(remove)}
        tags = [t for t in dict.fromkeys(self.tags + add) if t not in remove]
        if len(tags) > MAX_TAGS:
            raise DomainError(f"a customer can have at most {MAX_TAGS} tags", "add")
        if tags != self.tags:
            self._record(self.TagsChanged, meta, tags=tags)

    def archive(self, meta: Meta, reason: str | None = None) -> None:
        self._refuse_if_archived()
        self._record(self.Archived, meta, reason=text(reason, "reason", 1000))

    def _refuse_if_archived(self) -> None:
        if self.archived:
            raise InvalidTransition("the customer is archived")

    # -- custom fields ---------------------------------------------------------------------

    class CustomFieldsChanged(CrmAggregate.Event):
        values: dict  # key -> the stored value (None: cleared)
        types: dict   # key -> the field's type, so the value is always read as written

        def apply(self, customer: Customer) -> None:
            for key, value in self.values.items():
                if value is None:
                    customer.custom_fields.pop(key, None)
                else:
                    customer.custom_fields[key] = value

    def set_custom_fields(self, meta: Meta, values: dict[str, Any], field_set: CustomFieldSet,
                          field: str = "values") -> dict[str, tuple[Any, Any]]:
        """Validates and sets custom field values; returns {key: (old, new)} of what changed."""
        self._refuse_if_archived()
        normalised = field_set.validate(values, field)
        changed = {key: (self.custom_fields.get(key), value) for key, value in normalised.items()
                   if self.custom_fields.get(key) != value}
        if changed:
            self._record(self.CustomFieldsChanged, meta,
                         values={key: new for key, (_, new) in changed.items()},
                         types={key: field_set.fields[key]["type"] for key in changed})
        return changed

    # -- preferences and consent ------------------------------------------------------------

    class PreferencesChanged(CrmAggregate.Event):
        preferred_channel: str | None
        frequency: str | None
        topics: list[str]

        def apply(self, customer: Customer) -> None:
            customer.preferences = {"preferred_channel": self.preferred_channel,
                                    "frequency": self.frequency, "topics": list(self.topics)}

    class ConsentRecorded(CrmAggregate.Event):
        channel: str
        status: str
        source: str
        occurred_at: datetime
        current: bool  # False when an older consent is recorded after a newer one

        def apply(self, customer: Customer) -> None:
            if self.current:
                customer.consent[self.channel] = {"status": self.status, "source": self.source,
                                                  "occurred_at": self.occurred_at}

    def change_preferences(self, meta: Meta, **changes: Any) -> None:
        """Changes the preferences given (preferred_channel, frequency, topics)."""
        self._refuse_if_archived()
        preferences = dict(self.preferences)
        for field, value in changes.items():
            if field == "preferred_channel":
                if value is not None and value not in CONSENT_CHANNELS:
                    raise DomainError(f"must be one of {', '.join(CONSENT_CHANNELS)}", field)
            elif field == "frequency":
                if value is not None and value not in FREQUENCIES:
                    raise DomainError(f"must be one of {', '.join(FREQUENCIES)}", field)
            elif field == "topics":
                value = list(dict.fromkeys(_tag(t, f"topics[{i}]") for i, t in enumerate(value or [])))
                if len(value) > MAX_TOPICS:
                    raise DomainError(f"at most {MAX_TOPICS} topics", field)
            else:
                raise DomainError(f"{field} is not a preference", field)
            preferences[field] = value
        if preferences != self.preferences:
            self._record(self.PreferencesChanged, meta, **preferences)

    def record_consent(self, meta: Meta, channel: str, status: str, source: str,
                       occurred_at: datetime | None, now: datetime) -> None:
        """Records an opt-in or opt-out. An opt-out is recorded even for an archived customer."""
        if channel not in CONSENT_CHANNELS:
            raise DomainError(f"channel must be one of {', '.join(CONSENT_CHANNELS)}", "channel")
        if status not in CONSENT_STATUSES:
            raise DomainError(f"status must be one of {', '.join(CONSENT_STATUSES)}", "status")
        if status == "opted_in":
            self._refuse_if_archived()
        moment = utc(occurred_at or now)
        if moment > now + timedelta(minutes=5):
            raise DomainError("consent cannot be recorded for a future time", "occurred_at")
        latest = self.consent.get(channel)
        self._record(self.ConsentRecorded, meta, channel=channel, status=status,
                     source=text(source, "source", 200, required=True), occurred_at=moment,
                     current=latest is None or moment >= latest["occurred_at"])

    class AddressBounced(CrmAggregate.Event):
        """A message to one of the customer's addresses came back as undeliverable for good
        (a hard bounce). Marketing stops using that address; a new address starts clean."""
        channel: str
        address: str
        reason: str

        def apply(self, customer: Customer) -> None:
            bounced = dict(getattr(customer, "bounced_addresses", {}))
            bounced[self.channel] = self.address
            customer.bounced_addresses = bounced

    def address_bounced(self, meta: Meta, channel: str, address: str, reason: str) -> None:
        """Records a hard bounce of ``address``, unless it is already known or no longer the
        customer's (a bounce of an address since replaced says nothing about the new one)."""
        current = self.email if channel == "email" else self.phone
        if address != current or getattr(self, "bounced_addresses", {}).get(channel) == address:
            return
        self._record(self.AddressBounced, meta, channel=channel, address=address,
                     reason=text(reason, "reason", 1000) or "bounced")

    # -- lead lifecycle, BANT qualification and assignment ---------------------------------------

    class LifecycleChanged(CrmAggregate.Event):
        stage: str
        previous_stage: str
        reason: str | None
        lead_since: datetime | None  # when the person entered the funnel (the cohort)
        converted: bool              # a lead or qualified lead became a customer

        def apply(self, customer: Customer) -> None:
            customer.lifecycle_stage = self.stage
            customer.lead_since = self.lead_since

    class BantAssessed(CrmAggregate.Event):
        criteria: dict  # budget/authority/need/timeline -> {"met": bool | None, "note": str | None}
        qualified: bool  # by the tenant's rule at the time

        def apply(self, customer: Customer) -> None:
            customer.bant = {k: dict(v) for k, v in self.criteria.items()}
            customer.bant_qualified = self.qualified

    class Assigned(CrmAggregate.Event):
        owner: str | None
        previous_owner: str | None
        method: str         # manual | round_robin | rule
        team: str | None
        rule: str | None

        def apply(self, customer: Customer) -> None:
            customer.owner = self.owner

    def start_as_lead(self, meta: Meta, stage: str) -> None:
        """Right after registering: the person enters the funnel as a lead (or qualified lead)."""
        if stage not in ("lead", "qualified"):
            raise DomainError("a new customer starts as lead, qualified or customer", "lifecycle_stage")
        if not any(isinstance(e, self.Registered) for e in self.pending_events):
            raise InvalidTransition("only a customer being registered starts as a lead")
        self.lead_since = self.created_on
        self._move_to(meta, stage, "registered as a lead")

    def change_lifecycle(self, meta: Meta, stage: str, reason: str | None = None) -> None:
        if stage not in LIFECYCLE_STAGES:
            raise DomainError(f"stage must be one of {', '.join(LIFECYCLE_STAGES)}", "stage")
        self._refuse_if_archived()
        if stage == self.lifecycle_stage:
            return
        if stage not in LIFECYCLE_MOVES[self.lifecycle_stage]:
            raise InvalidTransition(f"a {self.lifecycle_stage} cannot become {stage}")
        self._move_to(meta, stage, text(reason, "reason", 500))

    def _move_to(self, meta: Meta, stage: str, reason: str | None) -> None:
        previous = self.lifecycle_stage
        self._record(self.LifecycleChanged, meta, stage=stage, previous_stage=previous,
                     reason=reason, lead_since=self.lead_since,
                     converted=previous in ("lead", "qualified") and stage == "customer")

    def assess_bant(self, meta: Meta, criteria: dict[str, dict], rule: dict[str, Any]) -> None:
        """Updates the criteria given; qualifies a lead when the tenant's rule is met."""
        self._refuse_if_archived()
        merged = {name: dict(value) for name, value in self.bant.items()}
        for name, value in criteria.items():
            if name not in BANT_CRITERIA:
                raise DomainError(f"must be one of {', '.join(BANT_CRITERIA)}", name)
            current = merged.get(name, {"met": None, "note": None})
            note = text(value["note"], f"{name}.note", 2000) if "note" in value else current["note"]
            met = value["met"] if "met" in value else current["met"]
            if met is not None and not isinstance(met, bool):
                raise DomainError("met is true, false or null (unknown)", f"{name}.met")
            merged[name] = {"met": met, "note": note}
        qualified = bant_qualifies(rule, merged)
        if merged != self.bant or qualified != self.bant_qualified:
            self._record(self.BantAssessed, meta, criteria=merged, qualified=qualified)
        if qualified and self.lifecycle_stage == "lead":
            self._move_to(meta, "qualified", "BANT criteria met")

    def assign(self, meta: Meta, owner: str | None, method: str = "manual", team: str | None = None,
               rule: str | None = None) -> None:
        if method not in ASSIGNMENT_METHODS:
            raise DomainError(f"method must be one of {', '.join(ASSIGNMENT_METHODS)}", "method")
        self._refuse_if_archived()
        owner = text(owner, "owner", 200)
        if owner != self.owner or method != "manual":
            self._record(self.Assigned, meta, owner=owner, previous_owner=self.owner,
                         method=method, team=team, rule=rule)

    # -- engagement (what marketing tools report: opens, clicks, visits, forms) ------------------

    class EngagementTracked(CrmAggregate.Event):
        kind: str
        detail: str | None
        occurred_at: datetime

    def track_engagement(self, meta: Meta, kind: str, detail: str | None,
                         occurred_at: datetime | None) -> None:
        if kind not in ENGAGEMENTS:
            raise DomainError(f"kind must be one of {', '.join(ENGAGEMENTS)}", "kind")
        self._refuse_if_archived()
        self._record(self.EngagementTracked, meta, kind=kind, detail=text(detail, "detail", 500),
                     occurred_at=utc(occurred_at))

    # -- documents (the content is stored by the application, addressed by its SHA-256) ------

    class DocumentAttached(CrmAggregate.Event):
        document_id: UUID
        filename: str
        content_type: str
        size: int
        sha256: str

        def apply(self, customer: Customer) -> None:
            customer.documents[self.document_id] = {"filename": self.filename,
                                                    "sha256": self.sha256}

    class DocumentRemoved(CrmAggregate.Event):
        document_id: UUID
        filename: str

        def apply(self, customer: Customer) -> None:
            customer.documents.pop(self.document_id, None)

    def attach_document(self, meta: Meta, document_id: UUID, filename: str, content_type: str,
                        size: int, sha256: str) -> None:
        self._refuse_if_archived()
        if len(self.documents) >= MAX_DOCUMENTS:
            raise DomainError(f"a customer has at most {MAX_DOCUMENTS} documents", "file")
        name = text(filename, "filename", 255, required=True)
        if "/" in name or "\\" in name or name in (".", ".."):
            raise DomainError("a file name, not a path", "filename")
        self._record(self.DocumentAttached, meta, document_id=document_id, filename=name,
                     content_type=content_type, size=size, sha256=sha256)

    def remove_document(self, meta: Meta, document_id: UUID) -> None:
        document = self.documents.get(document_id)
        if document is None:
            raise DomainError(f"no document {document_id}", "document_id")
        self._record(self.DocumentRemoved, meta, document_id=document_id,
                     filename=document["filename"])
