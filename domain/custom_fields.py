"""Custom fields: the attributes a tenant adds to its customers, and the values' rules.

A tenant has one ``CustomFieldSet`` (its id derives from the tenant id) that
holds every field's definition. A field's key and type never change once
defined, and a retired key is never reused: a stored value is always read with
the type it was written with, so editing a definition (label, options,
required) can never reinterpret or corrupt values already stored. Removing a
select option leaves the customers who chose it with their value.

``UniqueClaim`` makes "unique" fields unique: the claim's id derives from
(tenant, field, value), so two customers claiming the same value race to
create (or take) the same aggregate and the event store lets one win.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.values import text

FIELD_TYPES = ("text", "number", "date", "boolean", "select", "multi_select")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 100
MAX_OPTIONS = 200
MAX_TEXT = 1000
MAX_NUMBER = Decimal("1e15")
NUMBER_PLACES = 10
UNIQUE_TYPES = ("text", "number", "date")


def field_set_id(tenant_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:custom-fields:{tenant_id}")


def _options(options: list[str] | None, field: str = "options") -> list[str]:
    cleaned = []
    for index, option in enumerate(options or []):
        option = text(option, f"{field}[{index}]", 100, required=True)
        if option in cleaned:
            raise DomainError(f"option {option!r} is listed twice", f"{field}[{index}]")
        cleaned.append(option)
    if len(cleaned) > MAX_OPTIONS:
        raise DomainError(f"a field can have at most {MAX_OPTIONS} options", field)
    return cleaned


def normalise(definition: dict[str, Any], value: Any, field: str) -> Any:
    """The stored form of ``value`` for a field, or a DomainError naming ``field``.

    Stored forms are plain JSON: text and select as strings, numbers as
    canonical decimal strings (exact), dates as ISO strings, booleans, and
    multi-selects as lists in the order of the field's options. None clears.
    """
    kind = definition["type"]
    if value is None or (isinstance(value, str) and not value.strip() and kind != "boolean"):
        return None
    if kind == "text":
        if not isinstance(value, str):
            raise DomainError("must be text", field)
        return text(value, field, MAX_TEXT)
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise DomainError("must be a number", field)
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise DomainError(f"{value!r} is not a number", field) from None
        if not number.is_finite() or abs(number) >= MAX_NUMBER:
            raise DomainError(f"must be a finite number below {MAX_NUMBER:,.0f}", field)
        if number != number.quantize(Decimal(1).scaleb(-NUMBER_PLACES)):
            raise DomainError(f"has more than {NUMBER_PLACES} decimal places", field)
        canonical = format(number.normalize(), "f")
        return canonical if canonical != "-0" else "0"
    if kind == "date":
        if not isinstance(value, str):
            raise DomainError("must be a date such as 2026-01-31", field)
        try:
            return date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            raise DomainError(f"{value!r} is not a date such as 2026-01-31", field) from None
    if kind == "boolean":
        if not isinstance(value, bool):
            raise DomainError("must be true or false", field)
        return value
    if kind == "select":
        if not isinstance(value, str) or value.strip() not in definition["options"]:
            raise DomainError(f"must be one of {', '.join(definition['options'])}", field)
        return value.strip()
    if kind == "multi_select":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DomainError("must be a list of options", field)
        chosen = {v.strip() for v in value}
        unknown = sorted(chosen - set(definition["options"]))
        if unknown:
            raise DomainError(f"{', '.join(map(repr, unknown))} not among the options "
                              f"{', '.join(definition['options'])}", field)
        return [option for option in definition["options"] if option in chosen] or None
    raise DomainError(f"unknown field type {kind!r}", field)  # pragma: no cover


class CustomFieldSet(CrmAggregate):
    """State: fields (key -> {label, type, options, required, unique, retired})."""

    class Started(CrmAggregate.Created):
        def apply(self, field_set: CustomFieldSet) -> None:
            super().apply(field_set)
            field_set.fields = {}

    class FieldDefined(CrmAggregate.Event):
        key: str
        label: str
        type: str
        options: list[str]
        required: bool
        unique: bool

        def apply(self, field_set: CustomFieldSet) -> None:
            field_set.fields[self.key] = {
                "label": self.label, "type": self.type, "options": list(self.options),
                "required": self.required, "unique": self.unique, "retired": False}

    class FieldChanged(CrmAggregate.Event):
        key: str
        changes: dict

        def apply(self, field_set: CustomFieldSet) -> None:
            field_set.fields[self.key].update(self.changes)

    class FieldRetired(CrmAggregate.Event):
        key: str

        def apply(self, field_set: CustomFieldSet) -> None:
            field_set.fields[self.key]["retired"] = True

    @classmethod
    def start(cls, meta: Meta) -> CustomFieldSet:
        return cls._start(cls.Started, meta, id=field_set_id(meta.tenant_id))

    def define(self, meta: Meta, key: str, label: str, type: str, options: list[str] | None = None,
               required: bool = False, unique: bool = False) -> None:
        if not KEY_PATTERN.match(key or ""):
            raise DomainError("a key has 1 to 40 lower-case letters, digits or _, starting with a "
                              "letter", "key")
        if key in self.fields:
            state = "retired (a retired key is never reused)" if self.fields[key]["retired"] \
                else "defined"
            raise DomainError(f"the field {key!r} is already {state}", "key")
        if sum(not f["retired"] for f in self.fields.values()) >= MAX_FIELDS:
            raise DomainError(f"a tenant can have at most {MAX_FIELDS} custom fields", "key")
        if type not in FIELD_TYPES:
            raise DomainError(f"type must be one of {', '.join(FIELD_TYPES)}", "type")
        options = _options(options)
        if type in ("select", "multi_select") and not options:
            raise DomainError("a select field needs at least one option", "options")
        if type not in ("select", "multi_select") and options:
            raise DomainError(f"a {type} field has no options", "options")
        if unique and type not in UNIQUE_TYPES:
            raise DomainError(f"only {', '.join(UNIQUE_TYPES)} fields can be unique", "unique")
        self._record(self.FieldDefined, meta, key=key, label=text(label, "label", 100, required=True),
                     type=type, options=options, required=bool(required), unique=bool(unique))

    def change(self, meta: Meta, key: str, **changes: Any) -> None:
        """Changes label, options or required. Type and uniqueness are fixed at definition."""
        current = self.active(key)
        if "type" in changes and changes["type"] != current["type"]:
            raise DomainError("a field's type cannot change (stored values keep their type); "
                              "define a new field instead", "type")
        if "unique" in changes and bool(changes["unique"]) != current["unique"]:
            raise DomainError("uniqueness is chosen when a field is defined", "unique")
        normalised: dict[str, Any] = {}
        if changes.get("label") is not None:
            normalised["label"] = text(changes["label"], "label", 100, required=True)
        if changes.get("options") is not None:
            if current["type"] not in ("select", "multi_select"):
                raise DomainError(f"a {current['type']} field has no options", "options")
            normalised["options"] = _options(changes["options"])
            if not normalised["options"]:
                raise DomainError("a select field needs at least one option", "options")
        if changes.get("required") is not None:
            normalised["required"] = bool(changes["required"])
        normalised = {k: v for k, v in normalised.items() if v != current[k]}
        if normalised:
            self._record(self.FieldChanged, meta, key=key, changes=normalised)

    def retire(self, meta: Meta, key: str) -> None:
        self.active(key)
        self._record(self.FieldRetired, meta, key=key)

    def active(self, key: str, field: str = "key") -> dict[str, Any]:
        definition = self.fields.get(key)
        if definition is None or definition["retired"]:
            raise DomainError(f"no custom field {key!r}", field)
        return definition

    def validate(self, values: dict[str, Any], field: str = "values") -> dict[str, Any]:
        """Normalises values for active fields; a required field may not be cleared."""
        normalised = {}
        for key, value in values.items():
            where = f"{field}.{key}"
            definition = self.active(key, where)
            normalised[key] = normalise(definition, value, where)
            if normalised[key] is None and definition["required"]:
                raise DomainError(f"{definition['label']} is required", where)
        return normalised

    def missing_required(self, values: dict[str, Any], field: str = "custom_fields") -> None:
        for key, definition in self.fields.items():
            if definition["required"] and not definition["retired"] and values.get(key) is None:
                raise DomainError(f"{definition['label']} is required", f"{field}.{key}")


def claim_id(tenant_id: str, key: str, value: Any) -> UUID:
    canonical = value.casefold() if isinstance(value, str) else str(value)
    return uuid5(NAMESPACE_URL, f"craved-crm:unique:{tenant_id}:{key}:{canonical}")


class UniqueClaim(CrmAggregate):
    """State: key, value, owner (the customer holding the value, or None once released)."""

    class Claimed(CrmAggregate.Created):
        key: str
        value: Any
        owner: UUID

        def apply(self, claim: UniqueClaim) -> None:
            super().apply(claim)
            claim.key, claim.value, claim.owner = self.key, self.value, self.owner

    class Taken(CrmAggregate.Event):
        owner: UUID

        def apply(self, claim: UniqueClaim) -> None:
            claim.owner = self.owner

    class Released(CrmAggregate.Event):
        def apply(self, claim: UniqueClaim) -> None:
            claim.owner = None

    @classmethod
    def claim(cls, meta: Meta, key: str, value: Any, owner: UUID) -> UniqueClaim:
        return cls._start(cls.Claimed, meta, id=claim_id(meta.tenant_id, key, value),
                          key=key, value=value, owner=owner)

    def take(self, meta: Meta, owner: UUID, field: str) -> None:
        if self.owner == owner:
            return
        if self.owner is not None:
            raise DomainError(f"{self.value!r} is already used by another customer", field)
        self._record(self.Taken, meta, owner=owner)

    def release(self, meta: Meta, owner: UUID) -> None:
        if self.owner != owner:
            raise InvalidTransition("only the holder releases a claim")  # pragma: no cover
        self._record(self.Released, meta)
