"""The 360 view reads its lists of one customer's rows, and the rows its lead score is added up
from, in one UNION ALL
(readmodels/customer360.py). DuckDB unites the parts' struct types by field name, so a field
that two parts gave different types would be cast to a common one without a word: a date
turned text, a UUID turned text. Each part's own types must come through the union."""

from __future__ import annotations

from uuid import uuid4

from readmodels import lead_scores
from readmodels.customer360 import PARTS, lists_sql
from readmodels.store import ReadStore

RULES = [{"name": "any order", "event": "order", "points": 5, "max_times": 3},
         {"name": "has phone", "attribute": "has_phone", "points": 5},
         {"name": "silence", "points": -5, "silence_days": 30}]


def _fields(result) -> dict[str, str]:
    """The fields of a result's one list-of-struct column (the last), with their types."""
    return {name: str(kind) for name, kind in result.description[-1][1].child.children}


def test_every_part_keeps_its_own_field_types_in_the_union():
    db = ReadStore(":memory:").reader()
    params = {"customer": uuid4(), "tenant": "t"}
    united = _fields(db.execute(*lists_sql("t", params["customer"], RULES)))
    for name, (fields, sql) in PARTS.items():
        own = _fields(db.execute(f"SELECT {sql}", {k: v for k, v in params.items() if f"${k}" in sql}))
        assert tuple(own) == fields, name  # the names the view picks are the part's own
        assert {field: united[field] for field in own} == own, name
    for part, (fields, more), source in (
            ("score_signals", lead_scores.signal_fields(RULES, "t"), "score_signals s"),
            ("score_attributes", lead_scores.attribute_fields(RULES, "t"), "customers c")):
        own = _fields(db.execute(f"SELECT list(struct_pack({', '.join(fields)})) FROM {source}", more))
        assert {field: united[field] for field in own} == own, part
