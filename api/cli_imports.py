"""`crm import customers|orders FILE`: CSV imports through the API, with a progress bar.

The file is sent in parts of whole rows (each with the header line and the file
line it starts at, so every reported line is the file's). When no node holds
the data directory, the service runs inside the command for the import.
"""

from __future__ import annotations

import csv
import io
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.local_node import running_node_url
from commands.settings import Settings

import_app = typer.Typer(help="Import customers and orders from CSV files.", no_args_is_help=True)
console = Console(stderr=True)
ApiKey = Annotated[str, typer.Option(envvar="CRM_API_KEY", help="the tenant's API key")]
Map = Annotated[list[str] | None, typer.Option(
    "--map", help="field=Column (repeat), e.g. --map email='E-mail address'")]
DryRun = Annotated[bool, typer.Option(help="check every row and report; store nothing")]
Url = Annotated[str | None, typer.Option(help="a running node's base URL")]
ChunkRows = Annotated[int, typer.Option(help="rows per request", min=1, max=5000)]


@import_app.command("customers")
def import_customers(file: Path, api_key: ApiKey, map: Map = None, dry_run: DryRun = False,
                     url: Url = None, chunk_rows: ChunkRows = 500):
    """Customers: name, email, phone, source, external_id, tags, lifecycle_stage, custom.<key>.
    Rows are matched by external_id or email; running a file again changes nothing."""
    _run("customers", file, api_key, map or [], dry_run, url, chunk_rows)


@import_app.command("orders")
def import_orders(file: Path, api_key: ApiKey, map: Map = None, dry_run: DryRun = False,
                  url: Url = None, chunk_rows: ChunkRows = 500):
    """Orders: customer_external_id or customer_email, order_id, amount, currency, item_count,
    occurred_at. An order id already recorded is left alone."""
    _run("orders", file, api_key, map or [], dry_run, url, chunk_rows)


def parts(text: str, chunk_rows: int) -> tuple[str, list[tuple[int, str, int]]]:
    """(header text, [(first file line, text of whole rows, rows)]) for a CSV file's text."""
    lines = text.lstrip("\ufeff").splitlines(keepends=True)
    reader = csv.reader(io.StringIO("".join(lines)))
    try:
        next(reader)
    except StopIteration:
        return "", []
    header_end = reader.line_num
    bounds = [header_end]
    for _ in reader:
        bounds.append(reader.line_num)
    chunks = []
    for index in range(0, len(bounds) - 1, chunk_rows):
        start, end = bounds[index], bounds[min(index + chunk_rows, len(bounds) - 1)]
        chunks.append((start + 1, "".join(lines[start:end]), min(chunk_rows, len(bounds) - 1 - index)))
    return "".join(lines[:header_end]), chunks


@contextmanager
def _service(url: str | None, settings: Settings):
    """An HTTP client of the running node, or of the service started in this process."""
    url = url or running_node_url(settings)
    if url:
        with httpx.Client(base_url=url, timeout=120) as client:
            yield client
        return
    with warnings.catch_warnings():  # starlette's suggestion of httpx2: not for this use
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from api.app import create_app
    with TestClient(create_app(settings)) as client:
        yield client


def _run(kind: str, file: Path, api_key: str, mapping: list[str], dry_run: bool, url: str | None,
         chunk_rows: int) -> None:
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        console.print(f"[red]cannot read {file}:[/red] {error}")
        raise typer.Exit(2) from None
    header, chunks = parts(text, chunk_rows)
    total = {"rows": 0, "created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    errors: list[dict] = []
    settings = Settings()
    with _service(url, settings) as client, Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task(f"{'Checking' if dry_run else 'Importing'} {kind}",
                            total=sum(rows for _, _, rows in chunks))
        for first_line, body, rows in chunks:
            response = client.post(
                f"/v1/imports/{kind}", content=(header + body).encode("utf-8"),
                params={"map": mapping, "dry_run": dry_run, "first_line": first_line},
                headers={"Authorization": f"Bearer {api_key}", "Content-Type": "text/csv"})
            if response.status_code != 200:
                bar.stop()
                console.print(f"[red]import refused ({response.status_code}):[/red] {response.text}")
                raise typer.Exit(2)
            report = response.json()
            for key in total:
                total[key] += report[key]
            errors += report["errors"]
            bar.advance(task, rows)
    table = Table("rows", "created", "updated", "unchanged", "failed",
                  title="Dry run (nothing stored)" if dry_run else f"Imported {kind}")
    table.add_row(*(str(total[key]) for key in ("rows", "created", "updated", "unchanged", "failed")))
    Console().print(table)
    if errors:
        bad = Table("line", "field", "reason", title="Rows not imported")
        for error in errors:
            bad.add_row(str(error["line"]), error["field"], error["reason"])
        Console().print(bad)
        raise typer.Exit(1)
