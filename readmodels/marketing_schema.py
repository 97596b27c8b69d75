"""DuckDB tables of the campaigns and marketing automation read models.

Merged into :data:`readmodels.schema.TABLES`; same shape: projection name ->
{table: (column definitions, primary key or None, indexed columns)}.
"""

from __future__ import annotations

MARKETING_TABLES: dict[str, dict[str, tuple[str, tuple[str, ...] | None, tuple[str, ...]]]] = {
    "templates": {
        "templates": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, channel VARCHAR, status VARCHAR,
            latest_version INTEGER, approved_version INTEGER, created_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
        "template_versions": ("""
            template_id UUID, version INTEGER, tenant_id VARCHAR, subject VARCHAR, html VARCHAR,
            text VARCHAR, sms VARCHAR, note VARCHAR, status VARCHAR, drafted_at TIMESTAMPTZ,
            drafted_by VARCHAR, reviewed_at TIMESTAMPTZ, reviewed_by VARCHAR,
            review_note VARCHAR""", ("template_id", "version"), ()),
    },
}
