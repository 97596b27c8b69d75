"""DuckDB tables of every read model, and the node's own bookkeeping tables.

Each projection owns its tables (``TABLES[name]``), kept in a schema of their
own per *generation* (``customer_directory_g1``...). Queries read them through
views in the main schema. A rebuild fills the next generation beside the live
one, then re-points the views and drops the old schema in one transaction, so
readers never see a half-built read model.
"""

from __future__ import annotations

from readmodels.profile_schema import PROFILE_TABLES
from readmodels.sales_schema import SALES_TABLES
from readmodels.marketing_schema import MARKETING_TABLES

# projection name -> {table: (column definitions, primary key or None, indexed columns)}
# An index serves lookups of one value: DuckDB 2 scans an ART index only when an equality on
# the indexed column is the scan's only filter (a composite primary key serves no lookup by
# its first column), so queries of one customer's rows filter by customer_id alone first.
TABLES: dict[str, dict[str, tuple[str, tuple[str, ...] | None, tuple[str, ...]]]] = {
    "customer_directory": {
        "customers": ("""
            id UUID, tenant_id VARCHAR, name VARCHAR, name_lower VARCHAR, email VARCHAR,
            phone VARCHAR, source VARCHAR, tags VARCHAR[], status VARCHAR,
            created_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""", ("id",), ("tenant_id",)),
    },
    "customer_summary": {
        "customer_summaries": ("""
            id UUID, tenant_id VARCHAR,
            note_count INTEGER DEFAULT 0, communication_count INTEGER DEFAULT 0,
            order_count INTEGER DEFAULT 0, open_opportunities INTEGER DEFAULT 0,
            won_opportunities INTEGER DEFAULT 0, campaigns_received INTEGER DEFAULT 0,
            first_order_at TIMESTAMPTZ, last_order_at TIMESTAMPTZ,
            last_interaction_at TIMESTAMPTZ""", ("id",), ()),
        "customer_spend": ("""
            customer_id UUID, currency VARCHAR, tenant_id VARCHAR,
            total DECIMAL(18,2) DEFAULT 0, orders INTEGER DEFAULT 0""",
            ("customer_id", "currency"), ("customer_id",)),
    },
    "orders": {
        "orders": ("""
            tenant_id VARCHAR, customer_id UUID, order_id VARCHAR, amount DECIMAL(18,2),
            currency VARCHAR, item_count INTEGER, occurred_at TIMESTAMPTZ""", None, ("customer_id",)),
    },
    "timeline": {
        "timeline": ("""
            tenant_id VARCHAR, customer_id UUID, position BIGINT, occurred_at TIMESTAMPTZ,
            kind VARCHAR, event_type VARCHAR, aggregate_id UUID, version INTEGER,
            actor VARCHAR, summary VARCHAR, data VARCHAR""", None, ("customer_id",)),
    },
    "opportunities": {
        "opportunities": ("""
            id UUID, tenant_id VARCHAR, customer_id UUID, title VARCHAR, value DECIMAL(18,2),
            currency VARCHAR, stage VARCHAR, status VARCHAR, owner VARCHAR,
            expected_close DATE, lost_reason VARCHAR, opened_at TIMESTAMPTZ,
            updated_at TIMESTAMPTZ, closed_at TIMESTAMPTZ""", ("id",), ("tenant_id", "customer_id")),
    },
    "tasks": {
        "tasks": ("""
            id UUID, tenant_id VARCHAR, title VARCHAR, due_at TIMESTAMPTZ, priority VARCHAR,
            assignee VARCHAR, customer_id UUID, opportunity_id UUID, status VARCHAR,
            created_at TIMESTAMPTZ, completed_at TIMESTAMPTZ, updated_at TIMESTAMPTZ""",
            ("id",), ("tenant_id", "customer_id")),
    },
    **PROFILE_TABLES,
    **SALES_TABLES,
    **MARKETING_TABLES,
}

# Bookkeeping of the node: how far each projection got, the newest version of
# every aggregate applied (for consistency tokens and de-duplicating redeliveries),
# and in server mode the next Kafka offset of every partition (written in the same
# transaction as the rows, with the id of the topic incarnation they belong to), and per
# tenant a token renewed by each batch that changes its orders or customers
# (readmodels/tenant_changes.py).
BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS projection_positions (
    projection VARCHAR PRIMARY KEY, position BIGINT, applied_events BIGINT,
    newest_event_at TIMESTAMPTZ, updated_at TIMESTAMPTZ);
CREATE TABLE IF NOT EXISTS applied_versions (aggregate_id UUID PRIMARY KEY, version INTEGER);
CREATE TABLE IF NOT EXISTS projection_generations (projection VARCHAR PRIMARY KEY, generation INTEGER);
CREATE TABLE IF NOT EXISTS tenant_changes (tenant_id VARCHAR PRIMARY KEY, token UUID);
CREATE TABLE IF NOT EXISTS kafka_offsets (
    topic VARCHAR, partition INTEGER, next_offset BIGINT, topic_id VARCHAR,
    PRIMARY KEY (topic, partition));
"""


def schema_name(projection: str, generation: int) -> str:
    return f"{projection}_g{generation}"


def create_statements(projection: str, generation: int) -> list[str]:
    schema = schema_name(projection, generation)
    statements = [f"CREATE SCHEMA IF NOT EXISTS {schema}"]
    for table, (columns, key, indexes) in TABLES[projection].items():
        pk = f", PRIMARY KEY ({', '.join(key)})" if key else ""
        statements.append(f"CREATE TABLE IF NOT EXISTS {schema}.{table} ({columns}{pk})")
        for column in indexes:
            statements.append(f"CREATE INDEX IF NOT EXISTS {table}_{column} ON {schema}.{table} ({column})")
    return statements


def view_statements(projection: str, generation: int) -> list[str]:
    schema = schema_name(projection, generation)
    return [f"CREATE OR REPLACE VIEW main.{table} AS SELECT * FROM {schema}.{table}"
            for table in TABLES[projection]]


def table_keys(projection: str) -> dict[str, tuple[str, ...] | None]:
    return {table: key for table, (_, key, _) in TABLES[projection].items()}
