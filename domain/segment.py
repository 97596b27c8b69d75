"""The Segment: a named group of customers, by a rule (dynamic) or by hand (static).

A dynamic segment holds a rule tree: ``{"and": [...]}``, ``{"or": [...]}``,
``{"not": node}`` or a condition ``{"field": ..., "op": ..., "value": ...}``.
The rule is validated here (fields, operators, value types); the query node
compiles it to SQL and keeps the membership current as events arrive
(readmodels/segments.py). A static segment's members are added and removed
by hand, and those changes are its events.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

KINDS = ("dynamic", "static")
MAX_CONDITIONS = 50
MAX_DEPTH = 6
MAX_STATIC_CHANGE = 10_000
RFM_SEGMENTS = ("Champions", "Loyal", "Potential Loyalist", "New", "Promising", "Need Attention",
                "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating")
LIFECYCLE = ("lead", "qualified", "customer", "churned")
CONSENT = ("opted_in", "opted_out", "unknown")

# field -> kind of value. Custom fields ("custom.<key>") and consent ("consent.<channel>")
# are checked against the tenant's definitions / channels by the caller.
FIELDS = {
    "name": "text", "email": "text", "phone": "text", "source": "text", "created_at": "time",
    "tag": "tags", "lifecycle_stage": "choice", "lead_score": "number",
    "rfm_segment": "choice", "lifetime_spend": "number", "order_count": "number",
    "last_order_at": "time", "communication_count": "number", "last_interaction_at": "time",
}
CHOICES = {"lifecycle_stage": LIFECYCLE, "rfm_segment": RFM_SEGMENTS}
OPERATORS = {
    "text": ("eq", "ne", "in", "starts_with", "is_set", "is_not_set"),
    "choice": ("eq", "ne", "in"),
    "number": ("eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"),
    "time": ("before", "after", "within_days", "not_within_days", "is_set", "is_not_set"),
    "date": ("before", "after", "within_days", "not_within_days", "is_set", "is_not_set"),
    "tags": ("contains", "not_contains"),
    "boolean": ("eq", "is_set", "is_not_set"),
    "select": ("eq", "ne", "in", "is_set", "is_not_set"),
    "multi_select": ("contains", "not_contains", "is_set", "is_not_set"),
    "consent": ("eq", "ne"),
}
# Custom field types -> value kinds for the operators above.
CUSTOM_KINDS = {"text": "text", "number": "number", "date": "date", "boolean": "boolean",
                "select": "select", "multi_select": "multi_select"}


def _value(kind: str, op: str, value: Any, where: str, choices: tuple[str, ...] = ()) -> Any:
    """The normalised value of a condition, or a DomainError naming ``where``."""
    if op in ("is_set", "is_not_set"):
        if value is not None:
            raise DomainError(f"{op} takes no value", f"{where}.value")
        return None
    if op in ("within_days", "not_within_days"):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 36500:
            raise DomainError("a number of days from 0 to 36500", f"{where}.value")
        return value
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > 500:
            raise DomainError("a list of 1 to 500 values", f"{where}.value")
        return [_value(kind, "eq", v, f"{where}.value[{i}]", choices) for i, v in enumerate(value)]
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise DomainError("a number", f"{where}.value")
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise DomainError(f"{value!r} is not a number", f"{where}.value") from None
        if not number.is_finite():
            raise DomainError("a finite number", f"{where}.value")
        return str(number)
    if kind in ("time", "date"):
        try:
            return date.fromisoformat(str(value)[:10]).isoformat()
        except ValueError:
            raise DomainError("a date such as 2026-01-31", f"{where}.value") from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise DomainError("true or false", f"{where}.value")
        return value
    if not isinstance(value, str) or not value.strip() or len(value) > 500:
        raise DomainError("a text of 1 to 500 characters", f"{where}.value")
    value = value.strip()
    if choices and value not in choices:
        raise DomainError(f"one of {', '.join(choices)}", f"{where}.value")
    return value.lower() if kind == "tags" else value


def validate_rule(rule: Any, custom_fields: dict[str, dict], consent_channels: tuple[str, ...],
                  where: str = "rule") -> dict[str, Any]:
    """The normalised rule tree; ``custom_fields`` are the tenant's active definitions."""
    count = 0

    def node(item: Any, path: str, depth: int) -> dict[str, Any]:
        nonlocal count
        if not isinstance(item, dict):
            raise DomainError("a rule is an object: and / or / not / a condition", path)
        if depth > MAX_DEPTH:
            raise DomainError(f"rules nest at most {MAX_DEPTH} deep", path)
        if "and" in item or "or" in item:
            key = "and" if "and" in item else "or"
            children = item[key]
            if len(item) != 1 or not isinstance(children, list) or not children:
                raise DomainError(f"{key} holds a non-empty list of rules, and nothing else", path)
            return {key: [node(child, f"{path}.{key}[{i}]", depth + 1)
                          for i, child in enumerate(children)]}
        if "not" in item:
            if len(item) != 1:
                raise DomainError("not holds one rule, and nothing else", path)
            return {"not": node(item["not"], f"{path}.not", depth + 1)}
        count += 1
        if count > MAX_CONDITIONS:
            raise DomainError(f"a rule has at most {MAX_CONDITIONS} conditions", path)
        unknown = set(item) - {"field", "op", "value"}
        if unknown:
            raise DomainError(f"unknown key {sorted(unknown)[0]!r}", path)
        field, op = item.get("field"), item.get("op")
        if not isinstance(field, str):
            raise DomainError("a condition names a field", f"{path}.field")
        choices: tuple[str, ...] = CHOICES.get(field, ())
        if field.startswith("custom."):
            definition = custom_fields.get(field[7:])
            if definition is None:
                raise DomainError(f"no custom field {field[7:]!r}", f"{path}.field")
            kind = CUSTOM_KINDS[definition["type"]]
            choices = tuple(definition.get("options") or ())
        elif field.startswith("consent."):
            if field[8:] not in consent_channels:
                raise DomainError(f"consent channels: {', '.join(consent_channels)}", f"{path}.field")
            kind, choices = "consent", CONSENT
        elif field in FIELDS:
            kind = FIELDS[field]
        else:
            raise DomainError(f"unknown field {field!r}", f"{path}.field")
        if op not in OPERATORS[kind]:
            raise DomainError(f"{field} takes {', '.join(OPERATORS[kind])}", f"{path}.op")
        value_kind = {"select": "text", "multi_select": "text", "consent": "text"}.get(kind, kind)
        return {"field": field, "op": op,
                "value": _value(value_kind, op, item.get("value"), path, choices)}

    return node(rule, where, 1)


class Segment(CrmAggregate):
    """State: name, kind, rule (dynamic), members (static), deleted."""

    class Defined(CrmAggregate.Created):
        name: str
        kind: str
        rule: dict | None
        description: str | None

        def apply(self, segment: Segment) -> None:
            super().apply(segment)
            segment.name = self.name
            segment.kind = self.kind
            segment.rule = self.rule
            segment.members = set()
            segment.deleted = False

    class RuleChanged(CrmAggregate.Event):
        rule: dict

        def apply(self, segment: Segment) -> None:
            segment.rule = self.rule

    class Renamed(CrmAggregate.Event):
        name: str

        def apply(self, segment: Segment) -> None:
            segment.name = self.name

    class MembersAdded(CrmAggregate.Event):
        customer_ids: list[UUID]

        def apply(self, segment: Segment) -> None:
            segment.members.update(self.customer_ids)

    class MembersRemoved(CrmAggregate.Event):
        customer_ids: list[UUID]

        def apply(self, segment: Segment) -> None:
            segment.members.difference_update(self.customer_ids)

    class Deleted(CrmAggregate.Event):
        def apply(self, segment: Segment) -> None:
            segment.deleted = True

    @classmethod
    def define(cls, meta: Meta, name: str, kind: str, rule: dict | None,
               description: str | None = None) -> Segment:
        if kind not in KINDS:
            raise DomainError(f"kind must be one of {', '.join(KINDS)}", "kind")
        if kind == "dynamic" and rule is None:
            raise DomainError("a dynamic segment needs a rule", "rule")
        if kind == "static" and rule is not None:
            raise DomainError("a static segment has no rule: add members by hand", "rule")
        return cls._start(cls.Defined, meta, name=text(name, "name", 200, required=True), kind=kind,
                          rule=rule, description=text(description, "description", 2000))

    def change_rule(self, meta: Meta, rule: dict) -> None:
        self._refuse_if_deleted()
        if self.kind != "dynamic":
            raise InvalidTransition("a static segment has no rule")
        if rule != self.rule:
            self._record(self.RuleChanged, meta, rule=rule)

    def rename(self, meta: Meta, name: str) -> None:
        self._refuse_if_deleted()
        name = text(name, "name", 200, required=True)
        if name != self.name:
            self._record(self.Renamed, meta, name=name)

    def add_members(self, meta: Meta, customer_ids: list[UUID]) -> None:
        self._refuse_unless_static()
        new = [c for c in dict.fromkeys(customer_ids) if c not in self.members]
        if len(new) > MAX_STATIC_CHANGE:
            raise DomainError(f"at most {MAX_STATIC_CHANGE} customers at a time", "customer_ids")
        if new:
            self._record(self.MembersAdded, meta, customer_ids=new)

    def remove_members(self, meta: Meta, customer_ids: list[UUID]) -> None:
        self._refuse_unless_static()
        gone = [c for c in dict.fromkeys(customer_ids) if c in self.members]
        if gone:
            self._record(self.MembersRemoved, meta, customer_ids=gone)

    def delete(self, meta: Meta) -> None:
        self._refuse_if_deleted()
        self._record(self.Deleted, meta)

    def _refuse_unless_static(self) -> None:
        self._refuse_if_deleted()
        if self.kind != "static":
            raise InvalidTransition("members of a dynamic segment follow its rule")

    def _refuse_if_deleted(self) -> None:
        if self.deleted:
            raise InvalidTransition("the segment is deleted")
