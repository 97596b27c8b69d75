"""Per-tenant change tokens: the keys of caches of tenant-wide figures (RFM quintiles).

A figure computed over all of a tenant's customers (the RFM breakpoints) is
costly at 100k customers and changes only when that tenant's orders, spend or
customer statuses change. :func:`record` runs inside each batch's transaction
(called by :meth:`readmodels.store.ReadStore.write`) and gives every tenant the
batch touched in those tables a new random token (a rebuild's switch renews
all of them), so a reader that reads the token in the same snapshot as the
figure can cache the figure under it: a later batch that changes the figure
also changes the token. Tokens live in DuckDB (not in process memory) for
exactly that snapshot consistency.
"""

from __future__ import annotations

from collections.abc import Iterable

from readmodels.bookkeeping import update_else_insert
from readmodels.changes import Append, Change


def _relevant(projection: str, change: Change) -> bool:
    """Whether the change can move a tenant's RFM figures (orders, spend, active or archived)."""
    if isinstance(change, Append):
        return False
    if projection == "customer_summary":
        return change.table == "customer_spend" or "order_count" in change.add
    return projection == "customer_directory" and "status" in change.set


WATCHED = ("customer_summary", "customer_directory")


def record(cursor, projection: str, changes: Iterable[Change]) -> None:
    """Within a batch's transaction: a new token for every tenant whose RFM inputs it changes."""
    if projection not in WATCHED:
        return
    tenants: set[str] = set()
    unknown: list = []
    for change in changes:
        if _relevant(projection, change):
            tenant = change.set.get("tenant_id")
            if tenant is None:
                unknown.append(change.key.get("id"))
            else:
                tenants.add(tenant)
    if unknown:  # an archived customer: its event carries no tenant; the directory knows it
        tenants.update(row[0] for row in cursor.execute(
            "SELECT DISTINCT tenant_id FROM customers WHERE id IN (SELECT unnest(?::UUID[]))",
            [unknown]).fetchall())
    if tenants:
        touch(cursor, tenants)


def touch(cursor, tenants: Iterable[str]) -> None:
    """A new token for each of the tenants (their RFM inputs changed)."""
    tenants = sorted(tenants)
    update_else_insert(
        cursor,
        "UPDATE tenant_changes SET token = gen_random_uuid() "
        "WHERE tenant_id IN (SELECT unnest($1::VARCHAR[]))",
        "INSERT INTO tenant_changes SELECT t, gen_random_uuid() FROM unnest($1::VARCHAR[]) AS u(t) "
        "WHERE t NOT IN (SELECT tenant_id FROM tenant_changes)",
        [tenants], len(tenants))


def seed(cursor) -> None:
    """On opening a file made before tokens existed: a token for every tenant with customers."""
    cursor.execute("INSERT INTO tenant_changes SELECT DISTINCT tenant_id, gen_random_uuid() "
                   "FROM customer_summaries WHERE tenant_id IS NOT NULL ON CONFLICT DO NOTHING")


def renew(cursor, projection: str) -> None:
    """Within a rebuild's switch: the live tables change for every tenant at once."""
    if projection in WATCHED:
        cursor.execute("UPDATE tenant_changes SET token = gen_random_uuid()")


def token_sql(tenant: str = "?") -> str:
    """A scalar subquery: the tenant's token (parameter: the tenant id). Random, so two files
    open in one process never share one; NULL for a tenant never seen changing (a file made
    before tokens existed): nothing may be cached under it."""
    return f"(SELECT token::VARCHAR FROM tenant_changes WHERE tenant_id = {tenant})"
