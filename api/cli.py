"""`crm`: the one command line of Craved CRM (serving, tenants, projections, demo data)."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from api.cli_imports import import_app
from api.local_node import NODE_URL_FILE, running_node_url
from commands.settings import Settings

app = typer.Typer(help="Craved CRM: an event-sourced CRM for artisan vendors.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
tenant_app = typer.Typer(help="Tenants and their API keys.", no_args_is_help=True)
projections_app = typer.Typer(help="Read-model projections: status and rebuilds.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")
app.add_typer(projections_app, name="projections")
app.add_typer(import_app, name="import")
worker_app = typer.Typer(help="Background workers of the server mode.", no_args_is_help=True)
app.add_typer(worker_app, name="worker")
console = Console(stderr=True)


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeRemainingColumn(), console=console)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000,
          role: Annotated[str, typer.Option(help="all | command | query")] = "all",
          demo: Annotated[bool, typer.Option(help="load the demo shop first if the store is empty")] = False,
          workers: Annotated[int, typer.Option(
              min=1, help="processes serving the port (--role command only)")] = 1):
    """Starts the service (embedded default: commands, queries and projector in one process)."""
    import uvicorn

    from api.app import admin_token, create_app

    if role == "all":
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    else:  # server mode: one JSON object per log line, like the workers
        from workers import logs
        logs.setup()
    if role not in ("all", "command", "query"):
        console.print(f"[red]--role must be all, command or query, not {role!r}[/red]")
        raise typer.Exit(2)
    if workers > 1 and role != "command":  # a DuckDB file has one writing process
        console.print("[red]--workers needs --role command: a node with read models keeps them "
                      "in one DuckDB file, which one process writes[/red]")
        raise typer.Exit(2)
    settings = Settings()
    if demo:
        _load_demo(settings, only_if_empty=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    (settings.data_dir / NODE_URL_FILE).write_text(f"http://{host}:{port}")  # for `crm projections`
    if workers > 1:
        from api import command_workers
        admin_token(settings)  # made before the processes start, so that they all read this one
        command_workers.run(host, port, workers)
        return
    service = create_app(settings, role=role)
    embedded = None
    if role == "all":  # the embedded mode also runs the marketing workers and the policies
        from workers.marketing import start_embedded
        embedded = start_embedded(settings, service.state.store)
    try:
        uvicorn.run(service, host=host, port=port, log_level="info")
    finally:
        if embedded is not None:
            embedded.set()


@app.command()
def relay():
    """Publishes every stored event to Kafka in log order (server mode); stops on SIGTERM."""
    from workers import logs
    from workers.relay import main as run_relay

    logs.setup()
    run_relay(Settings())


@worker_app.command("automation")
def worker_automation():
    """Runs the automation policies: a competing consumer (Kafka group) with CRM_KAFKA_BOOTSTRAP,
    else a follower of the event store's log from its saved position; stops on SIGTERM."""
    from workers import logs
    from workers.automation import main as run_automation

    logs.setup()
    run_automation(Settings())


@app.command("demo")
def demo_command(customers: int = 300, seed: int = 7):
    """Loads a realistic artisan shop (customers, orders, notes, deals, a campaign)."""
    _load_demo(Settings(), only_if_empty=False, customers=customers, seed=seed)


def _load_demo(settings: Settings, only_if_empty: bool, customers: int = 300, seed: int = 7) -> None:
    from commands.application import Crm
    from workers.demo import load_demo

    crm = Crm(settings.event_store_url)
    try:
        if only_if_empty and crm.recorder.max_notification_id():
            console.print("[dim]event store not empty: demo data not loaded again[/dim]")
            return
        with _progress() as bar:
            task = bar.add_task("Loading demo shop", total=customers)
            tenant_id, api_key = load_demo(crm, customers=customers, seed=seed,
                                           progress=lambda done: bar.update(task, completed=done))
        # With PostgreSQL nothing else has made the data directory yet.
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        (settings.data_dir / "demo-api-key").write_text(api_key)
        console.print(f"Demo tenant [bold]{tenant_id}[/bold]; API key: [bold]{api_key}[/bold] "
                      f"(also in {settings.data_dir / 'demo-api-key'})")
    finally:
        crm.close()


@tenant_app.command("create")
def tenant_create(name: str):
    """Creates a tenant; prints {"tenant_id", "api_key"} as one JSON object."""
    from commands.application import Crm
    from commands.tenants import create_tenant

    crm = Crm(Settings().event_store_url)
    try:
        tenant_id, api_key = create_tenant(crm, name)
    finally:
        crm.close()
    print(json.dumps({"tenant_id": str(tenant_id), "api_key": api_key}))


def _node(url: str | None, settings: Settings) -> httpx.Client | None:
    """A client for the running node, or None when no node holds the read-model file."""
    url = url or running_node_url(settings)
    if url is None:
        return None
    from api.app import admin_token
    return httpx.Client(base_url=url, timeout=30,
                        headers={"Authorization": f"Bearer {admin_token(settings)}"})


def _local():
    from commands.application import Crm
    from readmodels.store import ReadStore
    from workers.projector import Projector

    settings = Settings()
    crm = Crm(settings.event_store_url)
    return crm, Projector(ReadStore(settings.readmodel_path))


@projections_app.command("status")
def projections_status(
        url: Annotated[list[str] | None, typer.Option(
            help="a running node's base URL; repeat it to see several nodes")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False):
    """Per node and projection: position, lag (events), age of the newest applied event."""
    settings = Settings()
    rows: list[dict] = []
    for one in url or [None]:
        client = _node(one, settings)
        if client:
            rows += client.get("/v1/admin/projections").raise_for_status().json()
        else:
            rows += _local_status(settings)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table("node", "projection", "position", "lag (events)", "newest event", "age",
                  "generation", "rebuilding")
    for row in rows:
        table.add_row(row.get("node") or "-", row["projection"], str(row["position"]),
                      f"{row['lag']} ({row.get('lag_source', 'event store')})",
                      str(row.get("newest_event_at") or "-"), _age(row.get("newest_event_age_seconds")),
                      str(row["generation"]), _rebuilding(row.get("rebuilding")))
    Console().print(table)


def _rebuilding(job: dict | None) -> str:
    """A node's rebuild of the projection, as an operator watching the table wants it."""
    if not job or job["state"] == "done":
        return "-"
    if job["state"] == "failed":
        return f"failed: {job.get('error')}"
    done, total = job.get("position") or 0, job.get("total") or 0
    return f"{done:,} of {total:,} ({done / total:.0%})" if total else "starting"


def _local_status(settings: Settings) -> list[dict]:
    """Status read from the DuckDB file itself, when no node has it open."""
    from datetime import datetime, timezone

    from projections import PROJECTIONS
    crm, projector = _local()
    head = crm.recorder.max_notification_id() or 0
    positions = {r["projection"]: r for r in projector.store.positions()}
    now = datetime.now(timezone.utc)
    rows = []
    for name in PROJECTIONS:
        row = positions.get(name, {})
        newest = row.get("newest_event_at")
        rows.append({"node": f"{settings.node_name} (file)", "projection": name,
                     "position": row.get("position", 0), "lag": max(0, head - row.get("position", 0)),
                     "lag_source": "event store", "newest_event_at": newest,
                     "newest_event_age_seconds": (now - newest).total_seconds() if newest else None,
                     "generation": projector.store.generation(name)})
    return rows


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s"


@projections_app.command("rebuild")
def projections_rebuild(name: str,
                        url: Annotated[str | None, typer.Option(help="a running node's base URL")] = None):
    """Builds NAME anew from position 0 beside the live one, then switches, with progress."""
    from projections import PROJECTIONS
    if name not in PROJECTIONS:
        console.print(f"[red]no projection {name!r}[/red]; known: {', '.join(PROJECTIONS)}")
        raise typer.Exit(2)
    settings = Settings()
    client = _node(url, settings)
    with _progress() as bar:
        task = bar.add_task(f"Rebuilding {name}", total=None)
        if client is None:
            from workers.lifecycle import frozen
            from workers.projector import catch_up, rebuild
            crm, projector = _local()
            with frozen():  # as a node does before its catch-up: passes skip the loaded code
                catch_up(crm, projector)
                rebuild(crm, projector, name,
                        lambda done, total: bar.update(task, completed=done, total=total))
        else:
            client.post(f"/v1/admin/projections/{name}/rebuild").raise_for_status()
            while True:
                row = next(r for r in client.get("/v1/admin/projections").raise_for_status().json()
                           if r["projection"] == name)
                job = row["rebuilding"] or {}
                bar.update(task, completed=job.get("position", 0), total=job.get("total") or None)
                if job.get("state") == "failed":
                    console.print(f"[red]rebuild failed:[/red] {job.get('error')}")
                    raise typer.Exit(1)
                if job.get("state") == "done":
                    break
                time.sleep(0.2)
    console.print(f"{name} rebuilt and switched.")


@worker_app.command("sender")
def worker_sender():
    """Sends due campaign and automation messages (competing consumer); stops on SIGTERM."""
    from workers.marketing import main as run
    run("sender")


@worker_app.command("scheduler")
def worker_scheduler():
    """Launches scheduled campaigns (apscheduler, rebuilt from the events) and advances
    automation runs; stops on SIGTERM."""
    from workers.marketing import main as run
    run("scheduler")


@worker_app.command("bounces")
def worker_bounces():
    """Receives bounce reports by SMTP for CRM_BOUNCE_DOMAIN (point its MX here) and marks the
    messages and addresses bounced; stops on SIGTERM."""
    from workers import logs
    from workers.bounces import main as run
    from workers.lifecycle import stop_on_signals

    logs.setup()
    run(stop_on_signals())


@worker_app.command("webhooks")
def worker_webhooks():
    """Delivers events to webhook subscriptions (competing consumer); stops on SIGTERM."""
    from workers.marketing import main as run
    run("webhooks")


def main() -> None:
    try:
        app()
    except httpx.HTTPError as error:
        console.print(f"[red]could not reach the node:[/red] {error} (pass --url?)")
        sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
