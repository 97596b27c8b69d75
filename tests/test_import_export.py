"""CSV import (column mapping, dry run, bad rows with their lines, deduplication, idempotent
re-runs, the CLI with its progress) and export of lists and segments to CSV and XLSX."""

from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook
from typer.testing import CliRunner

CUSTOMERS = '''Full name,E-mail,Phone,Source,Customer ID,Tags,Region
Ada Potter,ada@example.com,+44 7911 123456,etsy,C-1,vip;local,north
Bad Email,not-an-email,,etsy,C-9,,north
Ben Carver,ben@example.com,,"craft
fair",C-2,,east
Old Friend,OLD@example.com,,market,C-7,,south
,nameless@example.com,,,,,
Cal Dyer,cal@example.com,0000,,C-3,,
Ada Again,ada2@example.com,,,C-1,,north
'''
MAPPING = ["name=Full name", "email=E-mail", "external_id=Customer ID", "custom.region=Region"]
EXPECTED_ERRORS = [(3, "email"), (4, "custom.region"), (7, "name"), (8, "phone"),
                   (9, "external_id")]


def _ok(response, status: int = 200):
    assert response.status_code == status, response.text
    return response.json()


def _import(tenant, kind: str, body: str, dry_run: bool = False, mapping=MAPPING) -> dict:
    return _ok(tenant.client.post(f"/v1/imports/{kind}", content=body.encode(), params={
        "map": mapping, "dry_run": dry_run}, headers={**tenant.headers, "Content-Type": "text/csv"}))


def test_import_then_export(tenant, other_tenant, app):
    _ok(tenant.post("/v1/custom-fields", {"key": "region", "label": "Region", "type": "select",
                                          "options": ["north", "south"]}), 201)
    old = tenant.register("Old Friend", "old@example.com", source="website")
    tenant.get(f"/v1/customers/{old['id']}", token=old["consistency_token"])  # in the directory
    head = app.state.crm.recorder.max_notification_id()

    dry = _import(tenant, "customers", CUSTOMERS, dry_run=True)
    assert (dry["rows"], dry["created"], dry["updated"], dry["failed"]) == (7, 1, 1, 5)
    assert [(e["line"], e["field"]) for e in dry["errors"]] == EXPECTED_ERRORS
    assert app.state.crm.recorder.max_notification_id() == head  # a dry run stores nothing

    done = _import(tenant, "customers", CUSTOMERS)
    assert (done["created"], done["updated"], done["failed"]) == (1, 1, 5)
    again = _import(tenant, "customers", CUSTOMERS)
    assert (again["created"], again["updated"], again["unchanged"], again["failed"]) == (0, 0, 2, 5)

    orders = ("customer_external_id,customer_email,order_id,amount,currency,occurred_at\n"
              "C-1,,O-1,50.00,GBP,2026-02-01T10:00:00Z\n"
              "C-7,,O-2,20.00,GBP,\n"
              "C-404,,O-3,10.00,GBP,\n"
              "C-1,,O-4,lots,GBP,\n")
    report = _import(tenant, "orders", orders, mapping=[])
    assert (report["created"], report["failed"]) == (2, 2)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(4, "customer_external_id"),
                                                                   (5, "amount")]
    assert _import(tenant, "orders", orders, mapping=[])["unchanged"] == 2

    # The imported and updated customers, as the directory and the 360 view show them.
    listed = {c["name"]: c for c in _ok(tenant.get("/v1/customers", token=report[
        "consistency_token"], params={"limit": 200}))["items"]}
    assert sorted(listed) == ["Ada Potter", "Old Friend"]  # no duplicate of Old Friend
    assert listed["Ada Potter"]["tags"] == ["vip", "local"]
    assert listed["Old Friend"]["source"] == "market"
    ada = _ok(tenant.get(f"/v1/customers/{listed['Ada Potter']['id']}"))
    assert ada["phone"] == "+447911123456" and ada["order_count"] == 1
    assert {f["key"]: f["value"] for f in ada["custom_fields"]} == {"region": "north"}

    # Export: the whole list as CSV, a segment as XLSX.
    exported = tenant.get("/v1/exports/customers")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["name"] for r in rows] == ["Old Friend", "Ada Potter"]
    assert rows[1]["custom.region"] == "north" and rows[1]["tags"] == "vip; local"
    assert rows[0]["lifetime_spend"] == "20.00" and rows[0]["order_count"] == "1"
    north = tenant.get("/v1/exports/customers", params={"cf.region": "north"})
    assert [r["name"] for r in csv.DictReader(io.StringIO(north.text))] == ["Ada Potter"]
    segment = _ok(tenant.post("/v1/segments", {"name": "Spent 30+", "rule": {
        "field": "lifetime_spend", "op": "gte", "value": "30"}}), 201)
    xlsx = tenant.get("/v1/exports/customers", token=segment["consistency_token"],
                      params={"segment_id": segment["id"], "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = list(sheet.values)
    assert values[0][:3] == ("id", "name", "email") and [v[1] for v in values[1:]] == ["Ada Potter"]

    # Bad requests, other tenants.
    bad = tenant.get("/v1/exports/customers", params={"cf.colour": "red"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cf.colour"
    assert other_tenant.get("/v1/exports/customers",
                            params={"segment_id": segment["id"]}).status_code == 404
    assert list(csv.reader(io.StringIO(other_tenant.get("/v1/exports/customers").text)))[1:] == []
    unmapped = tenant.client.post("/v1/imports/customers", content=b"a,b\n1,2\n", params={
        "map": ["name=Name"]}, headers={**tenant.headers, "Content-Type": "text/csv"})
    assert unmapped.status_code == 422 and unmapped.json()["errors"][0]["field"] == "map.name"


def test_the_cli_imports_with_progress_and_reports_bad_rows(tmp_path, monkeypatch):
    from api.cli import app as cli

    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("CRM_EVENT_STORE", raising=False)
    runner = CliRunner()
    created = runner.invoke(cli, ["tenant", "create", "Potter's Wheel"])
    assert created.exit_code == 0, created.output
    key = json.loads(created.stdout.strip().splitlines()[-1])["api_key"]
    path = tmp_path / "customers.csv"
    path.write_text("Full name,email,phone\nAda,ada@example.com,\nBad,nope,\nBen,ben@example.com,"
                    "\nCal,cal@example.com,0000\nDot,dot@example.com,\n")
    command = ["import", "customers", str(path), "--api-key", key, "--map", "name=Full name",
               "--chunk-rows", "2"]

    dry = runner.invoke(cli, [*command, "--dry-run"])
    assert dry.exit_code == 1 and "Dry run" in dry.stdout, dry.output
    first = runner.invoke(cli, command)
    assert first.exit_code == 1, first.output  # two rows were bad
    lines = first.stdout.splitlines()
    assert "Rows not imported" in first.stdout
    assert _cells(lines, "rows") == ["5", "3", "0", "0", "2"]
    assert [cells[:2] for cells in map(_split, lines) if len(cells) == 3] == [
        ["3", "email"], ["5", "phone"]]
    again = runner.invoke(cli, command)
    assert _cells(again.stdout.splitlines(), "rows") == ["5", "0", "0", "3", "2"]


def _split(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip("│┃ ").split("│")] if "│" in line else []


def _cells(lines: list[str], header: str) -> list[str]:
    """The values row under a rich table whose first column is ``header``."""
    index = next(i for i, line in enumerate(lines) if line.strip("┃ ").startswith(header))
    return next(_split(line) for line in lines[index + 1:] if _split(line))
