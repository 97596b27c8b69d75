"""DuckDB tables of the customer 360, lead management and segmentation read models.

Merged into :data:`readmodels.schema.TABLES`; same shape: projection name ->
{table: (column definitions, primary key or None, indexed columns)}.
"""

from __future__ import annotations

PROFILE_TABLES: dict[str, dict[str, tuple[str, tuple[str, ...] | None, tuple[str, ...]]]] = {
    "custom_fields": {
        "custom_field_definitions": ("""
            tenant_id VARCHAR, key VARCHAR, label VARCHAR, type VARCHAR, options VARCHAR[],
            required BOOLEAN, is_unique BOOLEAN, retired BOOLEAN, defined_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("tenant_id", "key"), ()),
        "custom_field_values": ("""
            customer_id UUID, key VARCHAR, tenant_id VARCHAR, type VARCHAR, value_json VARCHAR,
            text_value VARCHAR, number_value DECIMAL(38,10), date_value DATE, bool_value BOOLEAN,
            list_value VARCHAR[], updated_at TIMESTAMPTZ""", ("customer_id", "key"),
            ("tenant_id", "customer_id")),
    },
    "consent": {
        "customer_preferences": ("""
            customer_id UUID, tenant_id VARCHAR, preferred_channel VARCHAR, frequency VARCHAR,
            topics VARCHAR[], updated_at TIMESTAMPTZ""", ("customer_id",), ()),
        "customer_consent": ("""
            customer_id UUID, channel VARCHAR, tenant_id VARCHAR, status VARCHAR, source VARCHAR,
            occurred_at TIMESTAMPTZ, recorded_at TIMESTAMPTZ""", ("customer_id", "channel"),
            ("customer_id",)),
    },
    "leads": {
        "lifecycle": ("""
            customer_id UUID, tenant_id VARCHAR, stage VARCHAR, lead_since TIMESTAMPTZ,
            qualified_at TIMESTAMPTZ, converted_at TIMESTAMPTZ, churned_at TIMESTAMPTZ,
            owner VARCHAR, assignment_method VARCHAR, assigned_team VARCHAR, assigned_rule VARCHAR,
            assigned_at TIMESTAMPTZ, bant VARCHAR, bant_met INTEGER, bant_qualified BOOLEAN,
            updated_at TIMESTAMPTZ""", ("customer_id",), ("tenant_id",)),
        "lead_settings": ("""
            tenant_id VARCHAR, bant_rule VARCHAR, routing_rules VARCHAR, scoring_rules VARCHAR,
            updated_at TIMESTAMPTZ""", ("tenant_id",), ()),
        "teams": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, members VARCHAR[], turns INTEGER DEFAULT 0,
            formed_at TIMESTAMPTZ""", ("id",), ()),
    },
    "lead_scoring": {
        "score_signals": ("""
            tenant_id VARCHAR, customer_id UUID, position BIGINT, kind VARCHAR,
            occurred_at TIMESTAMPTZ, amount DECIMAL(18,2), currency VARCHAR, channel VARCHAR,
            direction VARCHAR, engagement VARCHAR""", None, ("customer_id",)),
    },
    "segments": {
        "segments": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, kind VARCHAR, rule VARCHAR,
            description VARCHAR, deleted BOOLEAN DEFAULT false, created_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
    },
    # Kept by the projector itself (readmodels/segment_membership.py), not by a projection.
    "segment_membership": {
        "segment_members": ("""
            segment_id UUID, customer_id UUID, tenant_id VARCHAR, is_member BOOLEAN,
            since TIMESTAMPTZ, left_at TIMESTAMPTZ""", ("segment_id", "customer_id"),
            ("customer_id",)),
        "segment_changes": ("""
            tenant_id VARCHAR, segment_id UUID, customer_id UUID, entered BOOLEAN, changed_at TIMESTAMPTZ,
            position BIGINT, reason VARCHAR""", None, ("customer_id", "segment_id")),
    },
    "documents": {
        "customer_documents": ("""
            id UUID, tenant_id VARCHAR, customer_id UUID, filename VARCHAR, content_type VARCHAR,
            size BIGINT, sha256 VARCHAR, attached_at TIMESTAMPTZ, attached_by VARCHAR,
            removed_at TIMESTAMPTZ""", ("id",), ("customer_id",)),
    },
}
