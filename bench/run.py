"""Runs every figure of the benchmark in one go and writes a table and a JSON file.

Usage: python -m bench [--scale tiny|small|medium|large] [--repeat 3] [--seconds 5] ...
(`python -m bench --help` lists every option; docs/PERFORMANCE.md says what each figure includes).

Everything is measured in the same run on the same machine, so the ratios
between our figures and the baselines (naive saves, raw PostgreSQL, raw log
reads, the bare DuckDB RFM query) mean something even where absolute numbers do not travel.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
from rich.console import Console

from bench import (e2e, load, marketing, projection_speed, queries, raw, rfm_baseline,
                   segments, service_commands)
from bench.phases import Phases
from bench.targets import verdicts
from bench.server import QUICK_NODE_JOBS, Server
from bench.stats import spread
from bench.table import show
from commands.application import Crm
from projections import PROJECTIONS
from readmodels.store import ReadStore
from workers.demo import load_demo
from workers.lifecycle import frozen
from workers.projector import Projector

SCALES = {"tiny": 500, "small": 10_000, "medium": 100_000, "large": 1_000_000}
FULL_REBUILDS = ("tiny", "small")  # above these, a subset is rebuilt unless --rebuilds all
CLIENTS = (1, 8, 64)
POSTGRES = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
# The two ways a command node commits (CRM_GROUP_COMMIT): group commit, and the naive
# baseline, one `Application.save` per command.
COMMIT_MODES = (("group_commit", "1"), ("naive_save", "0"))
ADMIN = e2e.ADMIN
console = Console(stderr=True)


def machine() -> dict:
    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpus": os.cpu_count(), "memory_gib": round(os.sysconf("SC_PAGE_SIZE")
                                                       * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "packages": {p: version(p) for p in ("eventsourcing", "duckdb", "fastapi", "uvicorn",
                                                 "psycopg", "kafka-python")}}


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--scale", choices=SCALES, default="small")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each timed figure")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each timed load run")
    parser.add_argument("--command-processes", default="1,2",
                        type=lambda v: tuple(int(n) for n in v.split(",")),
                        help="command node processes (crm serve --workers) to measure commands "
                             "through HTTP with, comma-separated")
    parser.add_argument("--rebuild-repeat", type=int, default=None,
                        help="rebuilds of each read model (default: --repeat)")
    parser.add_argument("--rebuilds", default=None,
                        help=f"which read models to rebuild: all, subset "
                             f"({', '.join(projection_speed.SUBSET)}) or names separated by commas "
                             f"(default: all at tiny and small, else subset)")
    parser.add_argument("--e2e-rates", default="1000,200,20",
                        help="target commands/s of the open-loop end-to-end runs through Kafka")
    parser.add_argument("--e2e-seconds", type=float, default=10.0,
                        help="length of each end-to-end run")
    parser.add_argument("--kafka-history", choices=("all", "none"), default=None,
                        help="run the Kafka stack on the populated store (all: the query node "
                             "consumes the whole history) or on an empty one (default: none at large)")
    parser.add_argument("--segment-orders", type=int, default=40,
                        help="orders timed from command to segment membership")
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--resume", type=Path, default=None, metavar="JSON",
                        help="finish a run that stopped: the JSON it wrote names its event store "
                             "schema and work directory (both kept when a run fails, or with "
                             "--keep-work); the steps it finished are not run again, and its "
                             "settings are used. With --steps: runs those steps (again) on the "
                             "kept store, e.g. to measure a change on the same data")
    parser.add_argument("--steps", default=None,
                        help="run only these steps (names separated by commas) and those they "
                             f"need: {', '.join(STEPS)} (default: all)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the work directory (DuckDB files, process logs) and the event "
                             "store schema, for --resume with more --steps; both are kept anyway "
                             "when the run fails")
    args = parser.parse_args()
    args.rebuild_repeat = args.rebuild_repeat or args.repeat
    args.rebuilds = args.rebuilds or ("all" if args.scale in FULL_REBUILDS else "subset")
    named = {"all": list(PROJECTIONS), "subset": [n for n in PROJECTIONS if n in projection_speed.SUBSET]}
    args.rebuild_names = named.get(args.rebuilds) or [n.strip() for n in args.rebuilds.split(",")]
    unknown = set(args.rebuild_names) - set(PROJECTIONS)
    if unknown:
        parser.error(f"no read model {', '.join(sorted(unknown))}; they are: {', '.join(PROJECTIONS)}")
    args.kafka_history = args.kafka_history or ("none" if args.scale == "large" else "all")
    args.steps_asked = [name.strip() for name in (args.steps or "").split(",") if name.strip()]
    try:
        args.steps = chosen_steps(args.steps)
    except ValueError as error:
        parser.error(str(error))
    try:
        args.e2e_rates = tuple(float(rate) for rate in args.e2e_rates.split(",") if rate.strip())
    except ValueError:
        parser.error(f"--e2e-rates takes numbers separated by commas, not {args.e2e_rates!r}")
    if not args.e2e_rates or min(args.e2e_rates) <= 0:
        parser.error("--e2e-rates needs at least one rate above 0")
    return args


def main() -> None:
    args = arguments()
    if args.resume:
        result = json.loads(args.resume.read_text())
        steps, again = args.steps, set(args.steps_asked) - {"population"}
        for key, value in result["settings"].items():
            setattr(args, key, tuple(value) if key == "e2e_rates" else value)
        if again:  # steps on a kept store: the ones named are measured again, on its data as is
            args.steps = result["settings"]["steps"] = steps
            result["resume"]["done"] = [d for d in result["resume"]["done"] if d not in again]
        out, schema, work = args.resume, result["resume"]["schema"], Path(result["resume"]["work"])
        if "population" not in result["resume"]["done"]:
            raise SystemExit("that run stopped during the population: start a new run")
        console.print(f"resuming {out}: done already {', '.join(result['resume']['done']) or 'nothing'}")
    else:
        started = datetime.now(timezone.utc)
        out = args.out or Path("bench/results") / f"{args.scale}-{started:%Y%m%dT%H%M%S}.json"
        schema = f"bench_{uuid4().hex[:10]}"
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        work = Path(tempfile.mkdtemp(prefix="crm-bench-"))
        settings = {key: value for key, value in vars(args).items()
                    if key not in ("postgres", "out", "keep_work", "resume", "steps_asked")}
        result = {"scale": args.scale, "customers": SCALES[args.scale], "repeat": args.repeat,
                  "seconds_per_run": args.seconds, "settings": settings,
                  "started": started.isoformat(), "machine": machine(), "figures": {},
                  "phases_s": {}, "resume": {"schema": schema, "work": str(work), "done": []}}
    url = f"{args.postgres}?schema={schema}"
    phases = Phases(console, result["phases_s"])
    out.parent.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        out.write_text(json.dumps(result, indent=2, default=str))
    console.print(f"work directory {work}, event store schema {schema}, figures so far in {out}")
    # A stopped run (SIGTERM as well as Ctrl-C) unwinds: its nodes and broker are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        run_all(args, url, work, result, phases, save)
    except BaseException:
        save()
        console.print(f"[red]the run stopped; the processes' logs are in {work}. The event store "
                      f"schema {schema} and the work directory are kept: finish the run with "
                      f"`python -m bench --resume {out}`, or drop them (DROP SCHEMA {schema} "
                      f"CASCADE; rm -r {work}).[/red]")
        raise
    result["total_s"] = round(sum(result["phases_s"].values()), 1)
    result["targets"] = verdicts(result)
    if args.keep_work:
        console.print(f"kept: the event store schema {schema} and {work}; add steps with "
                      f"`python -m bench --resume {out} --steps ...`, or drop them (DROP SCHEMA "
                      f"{schema} CASCADE; rm -r {work}).")
    else:
        with psycopg.connect(args.postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute("DROP TABLE IF EXISTS bench_raw_events")
        shutil.rmtree(work, ignore_errors=True)
        del result["resume"]
    save()
    show(result)
    console.print(f"figures written to {out}")


# The steps of a run in order, and the earlier steps each needs besides the population.
STEPS = ("population", "baselines", "marketing workers start", "projections", "tenants",
         "commands", "service commands", "embedded node", "query node and end to end",
         # Last: the messages it queues would keep the nodes of the steps above sending.
         "campaign launch")
NEEDS = {"commands": ("tenants",), "service commands": ("tenants",),
         "query node and end to end": ("embedded node", "tenants")}  # its load tenant


def chosen_steps(names: str | None) -> list[str]:
    """``--steps``: the named steps, the steps they need, and the population; all if None."""
    if names is None:
        return list(STEPS)
    wanted = {name.strip() for name in names.split(",") if name.strip()}
    unknown = wanted - set(STEPS)
    if unknown:
        raise ValueError(f"no step {', '.join(sorted(unknown))}; they are: {', '.join(STEPS)}")
    wanted |= {"population", *(need for name in wanted for need in NEEDS.get(name, ()))}
    return [name for name in STEPS if name in wanted]


def run_all(args, url: str, work: Path, result: dict, phases: Phases, save) -> None:
    """The chosen steps in order, each saved to the JSON as it finishes; a resumed run starts
    with the first step the earlier one did not finish. Each step stops the processes it
    started, also when it fails."""
    done, figures = result["resume"]["done"], result["figures"]
    ids = result["resume"].setdefault("ids", {})  # tenants, keys and the segment later steps use
    steps = {
        "population": lambda: ids.update(_population(args, url, figures, phases)),
        "baselines": lambda: _baselines(args, url, figures, phases),
        "marketing workers start": lambda: _workers_start(args, url, figures, phases),
        "projections": lambda: _projections(args, url, work, ids["demo_tenant"], figures, phases),
        "tenants": lambda: ids.update(load_key=_new_tenant(url, "Bench load")[1],
                                      service_tenant=_new_tenant(url, "Bench service")[0]),
        "commands": lambda: _commands(args, url, work, {"Authorization": f"Bearer {ids['load_key']}"},
                                      figures, phases),
        "service commands": lambda: _service_commands(args, url, ids["service_tenant"], figures,
                                                      phases),
        "embedded node": lambda: ids.update(segment=_embedded_node(args, url, work, _demo(ids),
                                                                   figures, phases)),
        "query node and end to end": lambda: _query_node_and_e2e(args, url, work, ids, figures,
                                                                 phases),
        "campaign launch": lambda: _launch(args, url, ids["demo_tenant"], figures, phases)}
    for name in args.steps:
        if name in done:
            continue
        steps[name]()
        done.append(name)
        save()


def _demo(ids: dict) -> dict:
    return {"Authorization": f"Bearer {ids['demo_key']}"}


def _query_node_and_e2e(args, url: str, work: Path, ids: dict, figures: dict,
                        phases: Phases) -> None:
    demo, segment_id = _demo(ids), ids["segment"]
    for made in ("e2e", "query-log"):  # a resumed run starts these nodes anew
        shutil.rmtree(work / made, ignore_errors=True)
    (work / "e2e").mkdir()
    if args.kafka_history == "all":
        def on_query_node(node: Server) -> None:
            figures["query_node_feed"] = "Kafka"
            with phases("query node settles"):
                _wait_settled(node)
            with phases("queries on the query node"):
                figures["queries_ms_query_node"] = queries.measure(node.url, demo, segment_id, 1,
                                                                   args.seconds, clients=(1, 8))

        e2e.run(url, e2e.log_head(url), work / "e2e", ids["load_key"], args.e2e_rates,
                args.e2e_seconds, phases, figures, on_query_node)
    else:
        _query_node_following_log(args, url, work, demo, segment_id, phases, figures)
        _e2e_on_empty_store(args, work / "e2e", phases, figures)


def _population(args, url: str, figures: dict, phases: Phases) -> dict:
    customers = SCALES[args.scale]
    crm = Crm(url)
    try:
        with phases("population", total=customers) as advance:
            started = time.perf_counter()
            tenant_id, demo_key = load_demo(crm, customers=customers, seed=1, name="Bench Shop",
                                            progress=advance)
            events = crm.recorder.max_notification_id() or 0
            figures["population"] = {"events": events,
                                     "events_per_s": events / (time.perf_counter() - started)}
    finally:
        crm.close()
    return {"demo_tenant": str(tenant_id), "demo_key": demo_key}


def _baselines(args, url: str, figures: dict, phases: Phases) -> None:
    crm = Crm(url)
    with phases("raw PostgreSQL and log baselines"), closing(crm):
        figures["raw_single_row_commits_per_s"] = spread(
            [raw.single_row_commits(args.postgres, args.seconds) for _ in range(args.repeat)])
        figures["raw_batched_inserts_rows_per_s"] = spread(
            [raw.batched_inserts(args.postgres, args.seconds) for _ in range(args.repeat)])
        figures["raw_log_read_events_per_s"] = spread([raw.log_read(crm) for _ in range(args.repeat)])


def _workers_start(args, url: str, figures: dict, phases: Phases) -> None:
    with phases("marketing workers' first read of the log"):
        runs = [marketing.workers_first_read_s(url) for _ in range(args.repeat)]
    figures["marketing_workers_first_read_s"] = {kind: spread([run[kind] for run in runs])
                                                 for kind in runs[0]}


def _launch(args, url: str, tenant_id: str, figures: dict, phases: Phases) -> None:
    """A campaign launched to the demo shop's first customers, each run a new campaign."""
    with phases("campaign launch"):
        audience = marketing.audience(url, tenant_id, marketing.LAUNCH_RECIPIENTS)
        figures["campaign_launch"] = {"recipients": len(audience), "seconds": spread(
            [marketing.launch_s(url, tenant_id, audience) for _ in range(args.repeat)])}


def _projections(args, url: str, work: Path, tenant_id: str, figures: dict, phases: Phases) -> None:
    """Catch-up, rebuilds and the RFM baseline, in this process, on the file the nodes use later
    (made anew: a resumed run may find the half-built file of the one that stopped)."""
    for path in work.glob("readmodels.duckdb*"):
        path.unlink()
    crm = Crm(url)
    store = ReadStore(work / "readmodels.duckdb")
    try:
        projector = Projector(store)
        events = figures["population"]["events"]
        # Frozen as a node and the offline rebuild are, so the collector's passes walk what
        # the projections hold, not what this process loaded (from 2026-11-27 night on).
        with frozen():
            caught_up = projection_speed.timed_catch_up(crm, projector, events, phases)
            figures["catch_up_all_projections_events_per_s"] = caught_up["events_per_s"]
            figures["rebuild_events_per_s"] = projection_speed.rebuilds(
                crm, projector, args.rebuild_names, args.rebuild_repeat, phases)
        with phases("RFM: service against bare DuckDB"):
            figures["rfm_against_bare_duckdb"] = rfm_baseline.measure(
                store, tenant_id, max(args.seconds / 2, 0.5))
    finally:
        store.close()
        crm.close()


def _commands(args, url: str, work: Path, headers: dict, figures: dict, phases: Phases) -> None:
    """Keys: ``mode/clients`` for one command process, ``mode/clients/Np`` for N processes
    (``crm serve --role command --workers N``)."""
    figures["commands_per_s"] = {}
    for processes, (mode, flag) in itertools.product(args.command_processes, COMMIT_MODES):
        suffix = "" if processes == 1 else f"/{processes}p"
        with phases(f"commands through HTTP ({mode}, {processes} process(es))"):
            server = Server("command", {"CRM_EVENT_STORE": url, "CRM_GROUP_COMMIT": flag,
                                        "CRM_DATA_DIR": str(work / "cmd")},
                            work / f"{mode}{suffix.replace('/', '-')}.log", workers=processes)
            try:
                for clients in CLIENTS:
                    runs = []
                    for _ in range(args.repeat):
                        latencies, errors, elapsed = load.run(server.url, headers, clients,
                                                              args.seconds, _register)
                        if errors:
                            raise RuntimeError(f"{len(errors)} commands failed: {errors[:5]}")
                        runs.append(len(latencies) / elapsed)
                    figures["commands_per_s"][f"{mode}/{clients}{suffix}"] = spread(runs)
            finally:
                server.stop()


def _service_commands(args, url: str, tenant_id: str, figures: dict, phases: Phases) -> None:
    """The same registrations without HTTP: what group commit does to the write path alone."""
    figures["service_commands_per_s"] = {}
    for mode, group_commit in (("group_commit", True), ("naive_save", False)):
        with phases(f"commands through the service layer ({mode})"):
            for clients in CLIENTS:
                figures["service_commands_per_s"][f"{mode}/{clients}"] = spread(
                    [service_commands.commands_per_s(url, tenant_id, clients, args.seconds,
                                                     group_commit, f"{mode}-{clients}-{r}")
                     for r in range(args.repeat)])


def _embedded_node(args, url: str, work: Path, demo: dict, figures: dict, phases: Phases) -> str:
    """Segment membership, the query set and peak memory on `crm serve` (role all); returns the
    segment's id (its members are in the query set of the query node too)."""
    # A running node's policies have long handled the history; without this, the policy
    # runner's first pass over the whole generated log would run beside the measured queries.
    server = Server("all", {"CRM_EVENT_STORE": url, "CRM_DATA_DIR": str(work),
                            "CRM_ADMIN_TOKEN": ADMIN, "CRM_AUTOMATION_START": "end",
                            **QUICK_NODE_JOBS},
                    work / "embedded.log")
    try:
        with phases("embedded node catches up"):
            _wait_caught_up(server)
            _wait_settled(server)
        with phases("segment membership: define"):
            champions = segments.define(server.url, demo, "Champions", segments.RFM_RULE)
            segment = segments.define(server.url, demo, f"Spent {segments.THRESHOLD} or more",
                                      segments.RULE)
        with phases("segment membership: entries recorded"):
            _wait_settled(server)
        with phases("segment membership: orders"):
            figures["segment"] = {"rule": segments.RULE, "members": segment["size"],
                                  "defined_to_evaluated_ms": segment["evaluated_ms"],
                                  "beside": {"rule": segments.RFM_RULE, "members": champions["size"],
                                             "defined_to_evaluated_ms": champions["evaluated_ms"]},
                                  "order_to_member_ms": segments.order_to_member(
                                      server.url, demo, segment["id"], args.segment_orders)}
            _wait_settled(server)
        with phases("queries on the embedded node"):
            figures["queries_ms"] = queries.measure(server.url, demo, segment["id"], args.repeat,
                                                    args.seconds)
        figures["peak_memory_mib"] = {"embedded_node": server.peak_memory_mib()}
    finally:
        server.stop()
    return segment["id"]


def _query_node_following_log(args, url: str, work: Path, demo: dict, segment_id: str,
                              phases: Phases, figures: dict) -> None:
    """A separate query node at the run's scale without Kafka: `crm serve --role query` on a copy
    of the embedded node's read models, following the event store's log (docs/OPERATIONS.md)."""
    (work / "query-log").mkdir()
    for name in ("readmodels.duckdb", "readmodels.duckdb.wal"):
        if (work / name).exists():
            shutil.copy(work / name, work / "query-log" / name)
    node = Server("query", {"CRM_EVENT_STORE": url, "CRM_DATA_DIR": str(work / "query-log"),
                            "CRM_NODE_NAME": "query-log", "CRM_ADMIN_TOKEN": ADMIN,
                            **QUICK_NODE_JOBS},
                  work / "query-log.log")
    try:
        figures["query_node_feed"] = "the event store's log"
        with phases("query node (following the log) catches up"):
            _wait_caught_up(node)
            _wait_settled(node)
        with phases("queries on the query node"):
            figures["queries_ms_query_node"] = queries.measure(node.url, demo, segment_id, 1,
                                                               args.seconds, clients=(1, 8))
        figures["peak_memory_mib"]["query_node"] = node.peak_memory_mib()
    finally:
        node.stop()


@contextmanager
def scratch_schema(postgres: str, suffix: str = "") -> Iterator[str]:
    """An event store on a new schema of its own, dropped afterwards: yields its URL."""
    schema = f"bench_{uuid4().hex[:10]}{suffix}"
    with psycopg.connect(postgres, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{postgres}?schema={schema}"
    finally:
        with psycopg.connect(postgres, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _e2e_on_empty_store(args, work: Path, phases: Phases, figures: dict) -> None:
    """The Kafka stack on a schema of its own: only the end-to-end runs' events go through it."""
    with scratch_schema(args.postgres, "_e2e") as url:
        tenant_key = _new_tenant(url, "Bench load")[1]
        e2e.run(url, e2e.log_head(url), work, tenant_key, args.e2e_rates, args.e2e_seconds,
                phases, figures, memory_key="query_node_without_history")


def _new_tenant(url: str, name: str) -> tuple[str, str]:
    """A tenant of its own for a load's customers: (its id, its owner key)."""
    from commands.tenants import create_tenant
    crm = Crm(url)
    try:
        tenant_id, key = create_tenant(crm, name)
    finally:
        crm.close()
    return str(tenant_id), key


def _register(client: int, i: int):
    return "POST", "/v1/customers", {"name": f"Load {client}-{i}", "email": f"l{client}.{i}@example.com"}


def _wait_settled(server: Server, window_s: float = 4.0, busy: float = 0.15) -> None:
    """Waits until the node is idle: every projection caught up and under ``busy`` of a core
    used over ``window_s`` (its start-up reads, node jobs and workers done), so the measured
    queries do not share the node with its own background work."""
    while True:
        _wait_caught_up(server)
        used = server.cpu_seconds()
        time.sleep(window_s)
        if (server.cpu_seconds() - used) / window_s < busy:
            return


def _wait_caught_up(server: Server) -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"the embedded node exited; see {server.log_path}")
        rows = httpx.get(f"{server.url}/v1/admin/projections", headers=admin, timeout=60).json()
        if all(row["lag"] == 0 for row in rows):
            return
        time.sleep(0.5)
