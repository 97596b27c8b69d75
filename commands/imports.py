"""CSV import of customers and their orders.

Every row is validated by the same domain rules as the API and saved on its own
(one transaction per row, with any uniqueness claims it takes): good rows land,
bad rows are reported with their line and reason and write nothing. A dry run
does all of it except saving.

Deduplication: a row is identified by its external id, else its email. The
first import of an external id records which customer it names (a claim
aggregate, saved with the row), a new customer's id derives from (tenant, key),
and a customer registered through the API is found by its email
(``find_by_email``, a read-model lookup the caller provides). An existing
customer is updated with the row's non-empty values; values already equal record
nothing, so re-running a file changes nothing. Orders name their customer by
external id or email and are recorded once per order id.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from commands import custom_fields, leads
from commands.application import Crm
from commands.errors import Conflict, NotFound
from domain.base import CrmAggregate, DomainError, InvalidTransition, Meta
from domain.custom_fields import UniqueClaim, claim_id
from domain.customer import Customer
from domain.values import email_address

CUSTOMER_FIELDS = ("name", "email", "phone", "source", "external_id", "tags", "lifecycle_stage")
ORDER_FIELDS = ("customer_external_id", "customer_email", "order_id", "amount", "currency",
                "item_count", "occurred_at")
MAX_ROWS = 100_000
EXTERNAL_ID = "import:external_id"  # the key of the claims linking external ids to customers

FindByEmail = Callable[[str], UUID | None]


@dataclass
class Report:
    dry_run: bool
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    # Of the last write: a query sending it back sees everything this import stored.
    consistency_token: str | None = None

    @property
    def failed(self) -> int:
        return len({error["line"] for error in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "rows": self.rows, "created": self.created,
                "updated": self.updated, "unchanged": self.unchanged, "failed": self.failed,
                "errors": self.errors, "consistency_token": self.consistency_token}


class BadFile(DomainError):
    """The file as a whole cannot be read (no header, unknown mapping...)."""


def customer_id_for(tenant_id: str, key_kind: str, key: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"craved-crm:import:{tenant_id}:{key_kind}:{key}")


def read_rows(content: str, mapping: dict[str, str], allowed: tuple[str, ...],
              first_line: int = 2) -> Iterator[tuple[int, dict[str, str]]]:
    """(file line, {target field: value}) for each data row. ``mapping`` maps target fields
    (``custom.<key>`` included) to column names; unmapped columns named like a field map to it.
    ``first_line`` is the file line of the content's first data row (parts of a large file are
    sent with their header line and their own first line)."""
    reader = csv.reader(io.StringIO(content.lstrip("\ufeff")))
    try:
        header = [column.strip() for column in next(reader)]
    except StopIteration:
        raise BadFile("the file is empty: the first line must name the columns", "file") from None
    header_lines = reader.line_num
    for target in mapping:
        if target not in allowed and not target.startswith("custom."):
            raise BadFile(f"{target!r} is not a field to import; fields: {', '.join(allowed)}, "
                          "custom.<key>", f"map.{target}")
        if mapping[target] not in header:
            raise BadFile(f"no column {mapping[target]!r} in the header", f"map.{target}")
    columns = {target: header.index(column) for target, column in mapping.items()}
    for index, column in enumerate(header):
        target = column.lower().replace(" ", "_")
        if (target in allowed or target.startswith("custom.")) and target not in columns:
            columns[target] = index
    rows, previous = 0, header_lines
    try:
        for values in reader:
            start, previous = previous + 1, reader.line_num  # a quoted value may span lines
            if not any(value.strip() for value in values):
                continue
            rows += 1
            if rows > MAX_ROWS:
                raise BadFile(f"at most {MAX_ROWS} rows per import", "file")
            yield first_line + start - header_lines - 1, {
                target: values[index].strip() if index < len(values) else ""
                for target, index in columns.items()}
    except csv.Error as error:
        raise BadFile(f"line {first_line + reader.line_num - header_lines - 1}: {error}",
                      "file") from None


def _key(row: dict[str, str]) -> tuple[str, str]:
    if row.get("external_id"):
        return "external", row["external_id"]
    if row.get("email"):
        email = email_address(row["email"])
        return "email", email.lower()
    raise DomainError("a row needs an email or an external id (they identify the customer)",
                      "email")


def _existing(crm: Crm, meta: Meta, customer_id: UUID) -> Customer | None:
    try:
        return crm.load(Customer, customer_id, meta.tenant_id)
    except NotFound:
        return None


def import_customers(crm: Crm, meta: Meta, content: str, mapping: dict[str, str],
                     find_by_email: FindByEmail, dry_run: bool = False,
                     first_line: int = 2) -> Report:
    report = Report(dry_run)
    fields = custom_fields.field_set(crm, meta.tenant_id)
    settings = leads.lead_settings(crm, meta.tenant_id)
    seen: dict[tuple[str, str], int] = {}
    for line, row in read_rows(content, mapping, CUSTOMER_FIELDS, first_line):
        report.rows += 1
        try:
            key = _key(row)
            if key in seen:
                raise DomainError(f"the same {key[0]} as line {seen[key]}",
                                  "external_id" if key[0] == "external" else "email")
            seen[key] = line
            outcome, token = _import_customer(crm, meta, row, key, fields, settings, find_by_email,
                                              dry_run)
        except (DomainError, InvalidTransition) as error:
            report.errors.append({"line": line, "field": _field(error.field), "reason": error.message})
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.consistency_token = token or report.consistency_token
    return report


def _field(name: str | None) -> str:
    return name or "row"


def _import_customer(crm: Crm, meta: Meta, row: dict[str, str], key: tuple[str, str],
                     fields, settings, find_by_email: FindByEmail,
                     dry_run: bool) -> tuple[str, str | None]:
    custom = {target[7:]: _custom_value(fields, target[7:], value)
              for target, value in row.items() if target.startswith("custom.") and value}
    tags = [tag for tag in row.get("tags", "").replace(";", ",").split(",") if tag.strip()]
    stage = row.get("lifecycle_stage") or "customer"
    if stage not in ("lead", "qualified", "customer"):
        raise DomainError("lifecycle_stage must be lead, qualified or customer", "lifecycle_stage")
    also: list[CrmAggregate] = []
    customer_id = customer_id_for(meta.tenant_id, *key)
    customer = _existing(crm, meta, customer_id)
    link = _external_link(crm, meta, row.get("external_id"))
    if customer is None and link is not None:
        customer = _existing(crm, meta, link.owner)
    email = email_address(row.get("email") or None)
    if customer is None and email and (found := find_by_email(email.lower())):
        customer = _existing(crm, meta, found)  # registered before, through the API or so
    if customer is None:
        # The import's own id: running the file again finds this customer.
        customer = Customer.register(meta, **_profile(row, required=True), id=customer_id)
        if fields:
            fields.missing_required(custom, "custom")
        custom_fields.apply_values(crm, meta, customer, custom, fields, also, "custom")
        if tags:
            customer.change_tags(meta, tags, [])
        if stage != "customer":
            customer.start_as_lead(meta, stage)
            leads.route(crm, meta, customer, settings, also, "lifecycle_stage")
        outcome = "created"
    else:
        customer.update_profile(meta, **_profile(row, required=False))
        custom_fields.apply_values(crm, meta, customer, custom, fields, also, "custom")
        if tags:
            customer.change_tags(meta, tags, [])
        outcome = "updated" if customer.pending_events else "unchanged"
    if row.get("external_id") and link is None:  # remember which customer the id is
        also.append(UniqueClaim.claim(meta, EXTERNAL_ID, row["external_id"], customer.id))
    if not dry_run and (customer.pending_events or also):
        return outcome, _save(crm, meta, customer, also)
    return outcome, None


def _external_link(crm: Crm, meta: Meta, external_id: str | None) -> UniqueClaim | None:
    """The record of which customer an external id belongs to, if it was imported before."""
    if not external_id:
        return None
    return crm.of_tenant(UniqueClaim, claim_id(meta.tenant_id, EXTERNAL_ID, external_id),
                         meta.tenant_id)


def _save(crm: Crm, meta: Meta, customer: Customer, also: list[CrmAggregate]) -> str:
    """One row, one transaction (the customer and the claims or team turns it took)."""
    try:
        return crm.create(meta, lambda: customer, None, also).consistency_token
    except Conflict:
        raise DomainError("the customer was changed at the same time; run the import again",
                          "row") from None


def _profile(row: dict[str, str], required: bool) -> dict[str, Any]:
    """The profile fields of a row: all of them for a new customer; the non-empty ones (which
    overwrite) for an existing one."""
    return {name: row.get(name) or None for name in ("name", "email", "phone", "source")
            if required or row.get(name)}


def _custom_value(fields, key: str, raw: str) -> Any:
    """CSV text to the JSON value a custom field takes (the domain validates it after)."""
    definition = fields.fields.get(key) if fields else None
    if definition is None:
        return raw
    kind = definition["type"]
    if kind == "boolean":
        lowered = raw.lower()
        if lowered in ("true", "yes", "1", "y"):
            return True
        if lowered in ("false", "no", "0", "n"):
            return False
        return raw
    if kind == "multi_select":
        return [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
    return raw


def import_orders(crm: Crm, meta: Meta, content: str, mapping: dict[str, str],
                  find_by_email: FindByEmail, dry_run: bool = False, first_line: int = 2) -> Report:
    report = Report(dry_run)
    for line, row in read_rows(content, mapping, ORDER_FIELDS, first_line):
        report.rows += 1
        try:
            outcome, token = _import_order(crm, meta, row, find_by_email, dry_run)
        except (DomainError, InvalidTransition) as error:
            report.errors.append({"line": line, "field": error.field or "row",
                                  "reason": error.message})
            continue
        setattr(report, outcome, getattr(report, outcome) + 1)
        report.consistency_token = token or report.consistency_token
    return report


def _import_order(crm: Crm, meta: Meta, row: dict[str, str], find_by_email: FindByEmail,
                  dry_run: bool) -> tuple[str, str | None]:
    customer = None
    if row.get("customer_external_id"):
        link = _external_link(crm, meta, row["customer_external_id"])
        customer = _existing(crm, meta, link.owner) if link else None
        where = "customer_external_id"
    elif row.get("customer_email"):
        email = email_address(row["customer_email"], "customer_email").lower()
        customer = _existing(crm, meta, customer_id_for(meta.tenant_id, "email", email))
        if customer is None and (found := find_by_email(email)):
            customer = _existing(crm, meta, found)
        where = "customer_email"
    else:
        raise DomainError("a row needs customer_external_id or customer_email", "customer_email")
    if customer is None:
        raise DomainError("no such customer (import the customers first)", where)
    try:
        item_count = int(row.get("item_count") or 1)
    except ValueError:
        raise DomainError("item_count must be a whole number", "item_count") from None
    occurred_at = None
    if row.get("occurred_at"):
        try:
            occurred_at = datetime.fromisoformat(row["occurred_at"].replace("Z", "+00:00"))
        except ValueError:
            raise DomainError("occurred_at must be an ISO 8601 time", "occurred_at") from None
    if not row.get("amount"):
        raise DomainError("amount is required", "amount")
    recorded = customer.record_order(meta, row.get("order_id") or "", row["amount"],
                                     row.get("currency") or "", item_count, occurred_at)
    if not recorded:
        return "unchanged", None
    if not dry_run:
        return "created", _save(crm, meta, customer, [])
    return "created", None
