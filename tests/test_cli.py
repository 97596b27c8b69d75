"""`crm`, the command line: tenants and keys, demo data, projection status and rebuilds."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli as cli_module
from api.app import create_app
from api.cli import app as cli
from api.local_node import DEFAULT_URL, NODE_URL_FILE, running_node_url
from commands.settings import Settings
from projections import PROJECTIONS
from tests.conftest import Tenant
from tests.support import walk
from workers import projector
from workers.projector import rebuild

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path, event_store_url, monkeypatch):
    """The environment a user's shell would have: CRM_* variables, a data directory not made yet."""
    data = tmp_path / "crm-data"
    monkeypatch.setenv("CRM_DATA_DIR", str(data))
    if event_store_url.startswith("sqlite"):
        monkeypatch.delenv("CRM_EVENT_STORE", raising=False)    # the embedded default: a file in it
    else:
        monkeypatch.setenv("CRM_EVENT_STORE", event_store_url)
    monkeypatch.setenv("CRM_ADMIN_TOKEN", "test-admin-token")
    return data


def crm(*args: str):
    result = runner.invoke(cli, list(args))
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result


def serve():
    """The service on the same data directory and event store, as `crm serve` would start it."""
    return TestClient(create_app(Settings()))


def test_tenant_create_prints_one_json_object_whose_key_works(data_dir):
    result = crm("tenant", "create", "Potter's Wheel")

    created = json.loads(result.stdout)              # the whole output is one JSON object
    assert set(created) == {"tenant_id", "api_key"}
    assert UUID(created["tenant_id"]) and created["api_key"].startswith("crm_")
    assert len(result.stdout.strip().splitlines()) == 1
    other = json.loads(crm("tenant", "create", "Candle Corner").stdout)
    assert other["tenant_id"] != created["tenant_id"] and other["api_key"] != created["api_key"]

    with serve() as client:
        shop = Tenant(created["tenant_id"], created["api_key"], client)
        ada = shop.register("Ada Potter", "ada@example.com")
        listed = shop.get("/v1/customers", token=ada["consistency_token"]).json()["items"]
        assert [c["id"] for c in listed] == [ada["id"]]
        history = shop.get(f"/v1/customers/{ada['id']}/history").json()
        assert history[0]["tenant_id"] == created["tenant_id"]
        theirs = Tenant(other["tenant_id"], other["api_key"], client)
        assert theirs.get("/v1/customers", token=ada["consistency_token"]).json()["items"] == []


def test_demo_loads_a_shop_that_the_api_then_serves(data_dir):
    result = crm("demo", "--customers", "20")

    key = (data_dir / "demo-api-key").read_text().strip()
    assert key in result.stderr                        # the user is told the key
    with serve() as client:
        demo = Tenant("demo", key, client)
        sync = demo.register("Walk-in", None)          # its token covers everything stored before it
        customers = [c for page in walk(demo, "/v1/customers", sync["consistency_token"], limit=7)
                     for c in page if c["id"] != sync["id"]]
        assert len(customers) == 20
        assert all(c["email"].endswith("@example.com") and c["source"] for c in customers)
        views = [demo.get(f"/v1/customers/{c['id']}").json() for c in customers]
        assert sum(v["order_count"] for v in views) > 20
        assert any(v["note_count"] for v in views) and any(v["campaigns_received"] for v in views)
        assert demo.get("/v1/opportunities").json()["items"]


def test_projection_status_and_rebuild_without_a_running_node(data_dir, monkeypatch):
    crm("demo", "--customers", "5")
    with serve() as client:                            # a node projects the demo, then stops
        demo = Tenant("demo", (data_dir / "demo-api-key").read_text().strip(), client)
        demo.get("/v1/customers", token=demo.register("Sync", None)["consistency_token"])

    status = json.loads(crm("projections", "status", "--json").stdout)
    assert {row["projection"] for row in status} == set(PROJECTIONS)
    assert all(row["lag"] == 0 and row["position"] > 0 and row["generation"] == 1 for row in status)

    frozen = []  # the objects frozen while the rebuild runs: its collector passes skip them
    monkeypatch.setattr(projector, "rebuild", lambda *args: frozen.append(gc.get_freeze_count())
                        or rebuild(*args))
    result = crm("projections", "rebuild", "timeline")
    assert "timeline rebuilt and switched" in result.stderr
    assert frozen[0] > 10_000 and gc.get_freeze_count() == 0     # and none once it is done
    status = json.loads(crm("projections", "status", "--json").stdout)
    assert {row["projection"]: row["generation"] for row in status}["timeline"] == 2

    unknown = runner.invoke(cli, ["projections", "rebuild", "no_such_projection"])
    assert unknown.exit_code == 2 and "no projection" in unknown.stderr


def test_the_status_table_shows_a_running_nodes_rebuilds(data_dir, monkeypatch):
    """An operator watching `crm projections status` sees how far a node's rebuild is, and why
    one failed, as the JSON already said."""
    monkeypatch.setenv("COLUMNS", "300")  # rich wraps a table to the terminal's width
    with serve() as node:
        node.headers["Authorization"] = "Bearer test-admin-token"
        monkeypatch.setattr(cli_module, "_node", lambda url, settings: node)
        node.app.state.rebuilds.jobs.update(
            timeline={"state": "running", "position": 840_000, "total": 2_000_000, "error": None},
            orders={"state": "failed", "position": 5, "total": 9, "error": "OperationalError('gone')"},
            tasks={"state": "running", "position": 0, "total": 0, "error": None},
            customer_summary={"state": "done", "position": 9, "total": 9, "error": None})
        table = crm("projections", "status", "--url", "http://node-1").stdout

    rows = {line.split("│")[2].strip(): line.split("│")[-2].strip()
            for line in table.splitlines() if line.count("│") > 3}
    assert rows["timeline"] == "840,000 of 2,000,000 (42%)"
    assert rows["orders"] == "failed: OperationalError('gone')"
    assert rows["tasks"] == "starting"
    assert rows["customer_summary"] == rows["customer_directory"] == "-"


HOLD = """
import os, sys
from readmodels.store import ReadStore
store = ReadStore(sys.argv[1])
store.reader().execute("INSERT INTO tenant_changes VALUES (?, gen_random_uuid())", [sys.argv[2]])
print("open", flush=True)
if sys.argv[2] == "crash":
    os._exit(0)  # no close: the write-ahead log stays beside the file
sys.stdin.read()
"""


def test_a_command_finds_the_running_node_by_the_files_lock_and_leaves_the_file_alone(
        data_dir):
    settings = Settings()
    assert running_node_url(settings) is None                    # no file yet: nothing runs

    path = str(settings.readmodel_path)
    node = subprocess.Popen([sys.executable, "-c", HOLD, path, "hold"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert node.stdout.readline() == "open\n"
        assert running_node_url(settings) == DEFAULT_URL
        (data_dir / NODE_URL_FILE).write_text("http://127.0.0.1:8123\n")
        assert running_node_url(settings) == "http://127.0.0.1:8123"
    finally:
        node.communicate("")

    crashed = subprocess.run([sys.executable, "-c", HOLD, path, "crash"], capture_output=True,
                             text=True, check=True)
    wal = settings.readmodel_path.with_suffix(".duckdb.wal")
    assert crashed.stdout == "open\n" and wal.exists()
    assert running_node_url(settings) is None
    assert wal.exists()  # read-only: left for the node's own open to fold in, with its row groups
