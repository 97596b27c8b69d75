"""Runs every figure of the benchmark in one go and writes a table and a JSON file.

Usage: python -m bench [--scale tiny|small|medium|large] [--repeat 3] [--seconds 5]

Everything is measured in the same run on the same machine, so the ratios
between our figures and the baselines (naive saves, raw PostgreSQL, raw log
reads) mean something even where absolute numbers do not travel.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from uuid import uuid4

import psycopg
from rich.console import Console
from rich.table import Table

from bench import load, raw
from bench.server import Server
from commands.application import Crm
from projections import PROJECTIONS
from readmodels.store import ReadStore
from workers.demo import load_demo
from workers.projector import Projector, catch_up, rebuild

SCALES = {"tiny": 500, "small": 10_000, "medium": 100_000, "large": 1_000_000}
CLIENTS = (1, 8, 64)
ADMIN = "bench-admin-token"
console = Console(stderr=True)


def spread(runs: list[float]) -> dict:
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE")
                                                       * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "packages": {p: version(p) for p in ("eventsourcing", "duckdb", "fastapi", "uvicorn",
                                                 "psycopg", "kafka-python")}}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed load run")
    parser.add_argument("--postgres", default=os.environ.get(
        "CRM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    started = datetime.now(timezone.utc)
    out = args.out or Path("bench/results") / f"{args.scale}-{started:%Y%m%dT%H%M%S}.json"
    schema = f"bench_{uuid4().hex[:10]}"
    with psycopg.connect(args.postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    url = f"{args.postgres}?schema={schema}"
    work = Path(tempfile.mkdtemp(prefix="crm-bench-"))
    result = {"scale": args.scale, "customers": SCALES[args.scale], "repeat": args.repeat,
              "seconds_per_run": args.seconds, "started": started.isoformat(), "machine": machine(),
              "figures": {}}
    try:
        run_all(args, url, work, result["figures"])
    finally:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute("DROP TABLE IF EXISTS bench_raw_events")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    show(result)
    console.print(f"figures written to {out}")


def run_all(args, url: str, work: Path, figures: dict) -> None:
    crm = Crm(url)
    console.print(f"populating {SCALES[args.scale]:,} customers ...")
    t0 = time.perf_counter()
    _, demo_key = load_demo(crm, customers=SCALES[args.scale], seed=1, name="Bench Shop")
    events = crm.recorder.max_notification_id() or 0
    figures["population"] = {"events": events, "events_per_s": events / (time.perf_counter() - t0)}

    console.print("raw PostgreSQL limits ...")
    dsn = args.postgres
    figures["raw_single_row_commits_per_s"] = spread(
        [raw.single_row_commits(dsn, args.seconds) for _ in range(args.repeat)])
    figures["raw_batched_inserts_rows_per_s"] = spread(
        [raw.batched_inserts(dsn, args.seconds) for _ in range(args.repeat)])
    figures["raw_log_read_events_per_s"] = spread([raw.log_read(crm) for _ in range(args.repeat)])

    console.print("projections: catch-up and rebuilds ...")
    store = ReadStore(work / "readmodels.duckdb")
    projector = Projector(store)
    t0 = time.perf_counter()
    applied = catch_up(crm, projector)
    figures["catch_up_all_projections_events_per_s"] = applied / (time.perf_counter() - t0)
    figures["rebuild_events_per_s"] = {}
    for name in PROJECTIONS:
        runs = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            read = rebuild(crm, projector, name)
            runs.append(read / (time.perf_counter() - t0))
        figures["rebuild_events_per_s"][name] = spread(runs)
    store.close()

    tenant_key = _tenant_key(crm)
    crm.close()
    headers = {"Authorization": f"Bearer {tenant_key}"}
    figures["commands_per_s"] = {}
    for mode, flag in (("group_commit", "1"), ("naive_save", "0")):
        console.print(f"commands through HTTP ({mode}) ...")
        server = Server("command", {"CRM_EVENT_STORE": url, "CRM_GROUP_COMMIT": flag,
                                    "CRM_DATA_DIR": str(work / "cmd")}, work / f"{mode}.log")
        try:
            for clients in CLIENTS:
                runs = []
                for _ in range(args.repeat):
                    latencies, errors, elapsed = load.run(server.url, headers, clients, args.seconds,
                                                          _register)
                    if errors:
                        raise RuntimeError(f"{len(errors)} commands failed: {errors[:5]}")
                    runs.append(len(latencies) / elapsed)
                figures["commands_per_s"][f"{mode}/{clients}"] = spread(runs)
        finally:
            server.stop()

    console.print("queries under load ...")
    server = Server("all", {"CRM_EVENT_STORE": url, "CRM_DATA_DIR": str(work),
                            "CRM_ADMIN_TOKEN": ADMIN}, work / "query.log")
    try:
        _wait_caught_up(server)
        figures["queries_ms"] = _queries(server, {"Authorization": f"Bearer {demo_key}"}, args)
        figures["peak_memory_mib"] = {"embedded_node": server.peak_memory_mib()}
    finally:
        server.stop()


def _tenant_key(crm: Crm) -> str:
    from commands.tenants import create_tenant
    return create_tenant(crm, "Bench load")[1]


def _register(client: int, i: int):
    return "POST", "/v1/customers", {"name": f"Load {client}-{i}", "email": f"l{client}.{i}@example.com"}


def _wait_caught_up(server: Server) -> None:
    import httpx
    admin = {"Authorization": f"Bearer {ADMIN}"}
    while True:
        rows = httpx.get(f"{server.url}/v1/admin/projections", headers=admin, timeout=30).json()
        if all(row["lag"] == 0 for row in rows):
            return
        time.sleep(0.5)


def _queries(server: Server, demo: dict, args) -> dict:
    """p50/p99 of each query with 8 concurrent clients, on ids of the populated tenant."""
    import httpx
    ids = [row["id"] for row in httpx.get(f"{server.url}/v1/customers?limit=200", headers=demo,
                                           timeout=30).json()["items"]]
    rng = random.Random(3)
    queries = {
        "customer_list": lambda c, i: ("GET", "/v1/customers?limit=50", None),
        "customer_search": lambda c, i: ("GET", f"/v1/customers?q={rng.choice('abcdefghijklmnopqrstuvwxyz')}", None),
        "customer_360": lambda c, i: ("GET", f"/v1/customers/{rng.choice(ids)}", None),
        "timeline": lambda c, i: ("GET", f"/v1/customers/{rng.choice(ids)}/timeline", None),
        "opportunities_by_stage": lambda c, i: ("GET", "/v1/opportunities?stage=proposal", None),
        "stage_totals": lambda c, i: ("GET", "/v1/opportunities/by-stage", None),
        "rfm": lambda c, i: ("GET", "/v1/rfm?limit=50", None),
        "pipeline_board": lambda c, i: ("GET", "/v1/pipelines/default/board", None),
        "lead_funnel": lambda c, i: ("GET", "/v1/funnels/leads", None),
    }
    figures = {}
    for name, request_for in queries.items():
        p50s, p99s, rates = [], [], []
        for _ in range(args.repeat):
            latencies, errors, elapsed = load.run(server.url, demo, 8, args.seconds, request_for)
            if errors:
                raise RuntimeError(f"{name}: {len(errors)} queries failed: {errors[:5]}")
            p50s.append(percentile(latencies, 0.5) * 1000)
            p99s.append(percentile(latencies, 0.99) * 1000)
            rates.append(len(latencies) / elapsed)
        figures[name] = {"p50": spread(p50s), "p99": spread(p99s), "per_s": spread(rates)}
    return figures


def show(result: dict) -> None:
    f = result["figures"]
    table = Table(title=f"Craved CRM benchmark — scale {result['scale']} "
                        f"({result['customers']:,} customers, {f['population']['events']:,} events)")
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("spread (min–max)", justify="right")

    def row(label: str, s: dict, unit: str = "") -> None:
        table.add_row(label, f"{s['median']:,.1f}{unit}", f"{s['min']:,.1f} – {s['max']:,.1f}")

    for key, s in f["commands_per_s"].items():
        row(f"commands/s {key} clients", s)
    row("raw PG single-row commits/s", f["raw_single_row_commits_per_s"])
    row("raw PG batched inserts rows/s", f["raw_batched_inserts_rows_per_s"])
    row("raw notification log read events/s", f["raw_log_read_events_per_s"])
    for name, s in f["rebuild_events_per_s"].items():
        row(f"rebuild {name} events/s", s)
    for name, q in f.get("queries_ms", {}).items():
        row(f"{name} p50 ms", q["p50"])
        row(f"{name} p99 ms", q["p99"])
    for name, mib in f.get("peak_memory_mib", {}).items():
        table.add_row(f"peak memory {name} MiB", f"{mib:,.0f}", "")
    Console().print(table)
