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
    "campaigns": {
        "campaigns": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, channel VARCHAR, subject VARCHAR,
            status VARCHAR, template_id UUID, template_version INTEGER, audience_chosen INTEGER,
            segment_id UUID, scheduled_for TIMESTAMPTZ, launch_error VARCHAR, audience_size INTEGER,
            recipients INTEGER, suppressed INTEGER, per_minute INTEGER, launched_at TIMESTAMPTZ,
            completed_at TIMESTAMPTZ, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""",
            ("id",), ("tenant_id",)),
        "campaign_messages": ("""
            id UUID, tenant_id VARCHAR, campaign_id UUID, automation_id UUID, step VARCHAR,
            customer_id UUID, channel VARCHAR, template_id UUID, template_version INTEGER,
            status VARCHAR, attempts INTEGER DEFAULT 0, error VARCHAR, to_address VARCHAR,
            provider_id VARCHAR, queued_at TIMESTAMPTZ, not_before TIMESTAMPTZ,
            sent_at TIMESTAMPTZ, delivered_at TIMESTAMPTZ, bounced_at TIMESTAMPTZ,
            failed_at TIMESTAMPTZ, opened_at TIMESTAMPTZ, clicked_at TIMESTAMPTZ,
            clicks INTEGER DEFAULT 0, unsubscribed_at TIMESTAMPTZ, updated_at TIMESTAMPTZ,
            parts INTEGER""",
            ("id",), ("campaign_id", "customer_id", "automation_id")),
        "campaign_suppressed": ("""
            campaign_id UUID, tenant_id VARCHAR, customer_id UUID, reason VARCHAR""",
            None, ("campaign_id",)),
    },
    "webhooks": {
        "webhook_subscriptions": ("""
            id UUID, tenant_id VARCHAR, url VARCHAR, event_types VARCHAR[], description VARCHAR,
            status VARCHAR, secret_rotated_at TIMESTAMPTZ, created_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
        "webhook_deliveries": ("""
            id UUID, tenant_id VARCHAR, subscription_id UUID, event_id VARCHAR,
            event_type VARCHAR, position BIGINT, status VARCHAR, attempts INTEGER,
            last_status_code INTEGER, last_error VARCHAR, next_attempt_at TIMESTAMPTZ,
            delivered_at TIMESTAMPTZ, dead_at TIMESTAMPTZ, dead_reason VARCHAR,
            replayed_at TIMESTAMPTZ, replayed_by VARCHAR, created_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ""", ("id",), ("subscription_id", "tenant_id")),
        "webhook_attempts": ("""
            delivery_id UUID, attempt INTEGER, tenant_id VARCHAR, worker VARCHAR,
            started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, outcome VARCHAR,
            status_code INTEGER, error VARCHAR, duration_ms INTEGER""",
            ("delivery_id", "attempt"), ()),
    },
    "automations": {
        "automations": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, trigger VARCHAR, steps VARCHAR,
            exit VARCHAR, status VARCHAR, created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""",
            ("id",), ("tenant_id",)),
        "automation_runs": ("""
            id UUID, tenant_id VARCHAR, automation_id UUID, customer_id UUID, status VARCHAR,
            step INTEGER DEFAULT 0, steps_total INTEGER, trigger_event VARCHAR,
            waiting_until TIMESTAMPTZ, exit_reason VARCHAR, error VARCHAR,
            started_at TIMESTAMPTZ, ended_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""", ("id",), ("automation_id", "customer_id")),
        "automation_run_steps": ("""
            run_id UUID, index INTEGER, tenant_id VARCHAR, kind VARCHAR, outcome VARCHAR,
            done_at TIMESTAMPTZ""", ("run_id", "index"), ()),
    },
}
