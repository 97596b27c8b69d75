"""Queries of custom fields: definitions and directory filters. A customer's values are a
part of the 360 view (readmodels/customer360.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

DEFINITION_COLUMNS = ("key", "label", "type", "options", "required", "is_unique", "retired",
                      "defined_at", "updated_at")
OPERATORS = ("eq", "gte", "lte", "set")


class BadFilter(ValueError):
    """A custom field filter that names no field or carries a value of the wrong type."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def definitions(db, tenant_id: str, include_retired: bool = False) -> list[dict[str, Any]]:
    where = "" if include_retired else " AND NOT retired"
    result = db.execute(
        f"SELECT {', '.join(DEFINITION_COLUMNS)} FROM custom_field_definitions "
        f"WHERE tenant_id = ?{where} ORDER BY defined_at, key", [tenant_id])
    rows = [dict(zip(DEFINITION_COLUMNS, row)) for row in result.fetchall()]
    for row in rows:
        row["unique"] = row.pop("is_unique")
    return rows


def _typed(kind: str, raw: str, field: str) -> Any:
    try:
        if kind == "number":
            return Decimal(raw)
        if kind == "date":
            return date.fromisoformat(raw)
        if kind == "boolean":
            if raw.lower() not in ("true", "false"):
                raise ValueError
            return raw.lower() == "true"
    except (InvalidOperation, ValueError):
        raise BadFilter(f"{raw!r} is not a valid {kind}", field) from None
    return raw


def filters(db, tenant_id: str, conditions: list[tuple[str, str, str]],
            customer_column: str = "id") -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for ``(key, operator, value)`` filters.

    ``eq`` matches a value (text case-insensitively; a multi-select that contains
    it); ``gte``/``lte`` compare numbers and dates; ``set`` is ``true``/``false``.
    """
    if not conditions:
        return [], []
    kinds = {row["key"]: row["type"] for row in definitions(db, tenant_id)}
    where, params = [], []
    for key, operator, raw in conditions:
        field = f"cf.{key}" + ("" if operator == "eq" else f".{operator}")
        if key not in kinds:
            raise BadFilter(f"no custom field {key!r}", field)
        if operator not in OPERATORS:
            raise BadFilter(f"the operator must be one of {', '.join(OPERATORS)}", field)
        kind = kinds[key]
        exists = ("EXISTS (SELECT 1 FROM custom_field_values v WHERE v.customer_id = "
                  f"{customer_column} AND v.key = ? AND v.value_json IS NOT NULL{{}})")
        if operator == "set":
            wanted = _typed("boolean", raw, field)
            where.append(("" if wanted else "NOT ") + exists.format(""))
            params.append(key)
            continue
        if operator in ("gte", "lte") and kind not in ("number", "date"):
            raise BadFilter(f"{operator} compares numbers and dates, not {kind}", field)
        value = _typed(kind, raw, field)
        column = {"text": "lower(v.text_value)", "select": "v.text_value",
                  "number": "v.number_value", "date": "v.date_value",
                  "boolean": "v.bool_value"}.get(kind)
        if kind == "multi_select":
            test = " AND list_contains(v.list_value, ?)"
        else:
            test = f" AND {column} {({'eq': '=', 'gte': '>=', 'lte': '<='})[operator]} ?"
            value = value.lower() if kind == "text" else value
        where.append(exists.format(test))
        params += [key, value]
    return where, params
