"""`python -m bench.file_reads`: the in-process read probe runs on a file a service left behind,
times every part of the 360 view, and really changes the tenant's RFM inputs while it reads."""

from __future__ import annotations

from datetime import datetime, timezone

from fastapi.testclient import TestClient

from api.app import create_app
from commands.settings import Settings
from bench import file_reads
from tests.conftest import _tenant


def test_the_probe_times_each_part_of_the_360_view_while_the_tenant_changes(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", event_store=f"sqlite:///{tmp_path / 'e.sqlite3'}",
                        admin_token="test-admin-token", consistency_timeout=5.0)
    app = create_app(settings)
    with TestClient(app) as client:
        tenant = _tenant(app, client, "Potter's Wheel")
        for n in range(3):
            customer = tenant.register(f"C{n}", f"c{n}@example.com")["id"]
            ordered = tenant.post(f"/v1/customers/{customer}/orders", json={
                "order_id": f"o-{n}", "amount": "10.00", "currency": "GBP", "item_count": 1,
                "occurred_at": datetime.now(timezone.utc).isoformat()}).json()
        assert tenant.get(f"/v1/customers/{customer}", token=ordered["consistency_token"]).status_code == 200

    figures = file_reads.measure(settings.data_dir / "readmodels.duckdb", 0.3, changes_per_s=50)

    assert figures["tenant_customers"] == 3
    parts = figures["customer_360_parts"]
    assert set(parts) == {"profile", "lists", "lead_score", "rfm_breakpoints"}
    assert all(part["samples"] > 0 for part in parts.values())
    during = figures["customer_360_while_orders"]
    assert during["changes"] > 0 and during["customer_360"]["samples"] > 0
    assert during["customer_360_breakpoints_always_recomputed"]["samples"] > 0
