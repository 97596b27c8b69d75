"""DuckDB tables of the sales read models (pipelines, deals, quotes, contracts, funnel events).

Merged into :data:`readmodels.schema.TABLES`; same shape: projection name ->
{table: (column definitions, primary key or None, indexed columns)}.
"""

from __future__ import annotations

SALES_TABLES: dict[str, dict[str, tuple[str, tuple[str, ...] | None, tuple[str, ...]]]] = {
    "pipelines": {
        "pipelines": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, automation VARCHAR, version INTEGER,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
        "pipeline_stages": ("""
            pipeline_id UUID, stage_id VARCHAR, tenant_id VARCHAR, position INTEGER, name VARCHAR,
            probability INTEGER, rotting_days INTEGER, kind VARCHAR, archived BOOLEAN""",
            ("pipeline_id", "stage_id"), ()),
    },
    "deals": {
        "deals": ("""
            id UUID, tenant_id VARCHAR, version INTEGER, pipeline_id UUID, customer_id UUID,
            title VARCHAR, value DECIMAL(18,2), currency VARCHAR, stage VARCHAR, status VARCHAR,
            probability INTEGER, owner VARCHAR, source VARCHAR, expected_close DATE,
            opened_at TIMESTAMPTZ, closed_at TIMESTAMPTZ, stage_entered_at TIMESTAMPTZ,
            last_activity_at TIMESTAMPTZ, reason VARCHAR, line_items VARCHAR,
            contact_ids UUID[]""", ("id",), ("tenant_id",)),
        "deal_history": ("""
            tenant_id VARCHAR, deal_id UUID, version INTEGER, changed_at TIMESTAMPTZ,
            change VARCHAR, actor VARCHAR, stage VARCHAR, previous_stage VARCHAR,
            amount DECIMAL(18,2), probability INTEGER, expected_close DATE, status VARCHAR""",
            None, ("deal_id",)),
    },
    "quotes": {
        "quotes": ("""
            id UUID, tenant_id VARCHAR, version INTEGER, opportunity_id UUID, customer_id UUID,
            number VARCHAR, revision INTEGER, status VARCHAR, currency VARCHAR,
            subtotal DECIMAL(18,2), tax_rate DECIMAL(5,2), tax DECIMAL(18,2), total DECIMAL(18,2),
            valid_until DATE, terms VARCHAR, lines VARCHAR, reason VARCHAR,
            created_at TIMESTAMPTZ, sent_at TIMESTAMPTZ, decided_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
    },
    "contracts": {
        "contracts": ("""
            id UUID, tenant_id VARCHAR, version INTEGER, customer_id UUID, opportunity_id UUID,
            title VARCHAR, type VARCHAR, status VARCHAR, start_date DATE, end_date DATE,
            renewal_date DATE, auto_renew BOOLEAN, value DECIMAL(18,2), currency VARCHAR,
            renewals INTEGER, reason VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""",
            ("id",), ("tenant_id",)),
    },
    # stage and pipeline_id: those properties again as text, so that the built-in funnels filter
    # on them without parsing each event's JSON (readmodels/funnels.py, TYPED).
    "funnel_events": {
        "funnel_events": ("""
            tenant_id VARCHAR, position BIGINT, seq BIGINT, event_id VARCHAR, event_type VARCHAR,
            occurred_at TIMESTAMPTZ, aggregate_id UUID, customer_id UUID, properties JSON,
            stage VARCHAR, pipeline_id VARCHAR""",
            None, ("tenant_id",)),
    },
}
