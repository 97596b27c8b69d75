"""Custom fields: the tenant's definitions, and one typed row per (customer, field) value.

Values are written into the column of the type they were written with (the
event says which), so the directory can filter numbers and dates as numbers
and dates, and a later change of the definition never reinterprets them.
"""

from __future__ import annotations

from decimal import Decimal

import orjson

from projections.envelope import Envelope
from readmodels.changes import Change, Upsert

NAME = "custom_fields"
_EMPTY = {"text_value": None, "number_value": None, "date_value": None, "bool_value": None,
          "list_value": None}


def _value_row(kind: str, value) -> dict:
    row = dict(_EMPTY, type=kind, value_json=None if value is None else orjson.dumps(value).decode())
    if value is None:
        return row
    column = {"text": "text_value", "select": "text_value", "number": "number_value",
              "date": "date_value", "boolean": "bool_value", "multi_select": "list_value"}[kind]
    row[column] = Decimal(value) if kind == "number" else value
    return row


def handle(e: Envelope) -> list[Change]:
    d = e.data
    match e.type:
        case "CustomFieldSet.FieldDefined":
            return [Upsert("custom_field_definitions", {"tenant_id": e.tenant, "key": d["key"]}, set={
                "label": d["label"], "type": d["type"], "options": d["options"],
                "required": d["required"], "is_unique": d["unique"], "retired": False,
                "defined_at": e.occurred_at, "updated_at": e.occurred_at})]
        case "CustomFieldSet.FieldChanged":
            changes = {("is_unique" if k == "unique" else k): v for k, v in d["changes"].items()}
            return [Upsert("custom_field_definitions", {"tenant_id": e.tenant, "key": d["key"]},
                           set={**changes, "updated_at": e.occurred_at})]
        case "CustomFieldSet.FieldRetired":
            return [Upsert("custom_field_definitions", {"tenant_id": e.tenant, "key": d["key"]},
                           set={"retired": True, "updated_at": e.occurred_at})]
        case "Customer.CustomFieldsChanged":
            return [Upsert("custom_field_values", {"customer_id": e.stream, "key": key},
                           set={"tenant_id": e.tenant, **_value_row(d["types"][key], value),
                                "updated_at": e.occurred_at})
                    for key, value in d["values"].items()]
    return []
