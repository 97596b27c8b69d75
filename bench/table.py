"""The printed table of a run: every figure of the JSON a reader compares against the targets."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bench.targets import verdicts


def show(result: dict) -> None:
    f = result["figures"]
    events = f.get("population", {}).get("events", 0)
    table = Table(title=f"Craved CRM benchmark — scale {result['scale']} "
                        f"({result['customers']:,} customers, {events:,} events)")
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("spread (min–max)", justify="right")

    def row(label: str, s: dict, digits: int = 1) -> None:
        table.add_row(label, f"{s['median']:,.{digits}f}",
                      f"{s['min']:,.{digits}f} – {s['max']:,.{digits}f}")

    def one(label: str, value, note: str = "") -> None:
        table.add_row(label, "—" if value is None else f"{value:,.1f}", note)

    for key, s in f.get("commands_per_s", {}).items():
        mode, clients, *processes = key.split("/")  # mode/clients[/Np]: see bench.run._commands
        row(f"commands/s {mode}/{clients} clients"
            + (f", {processes[0][:-1]} processes" if processes else ""), s)
    for key, s in f.get("service_commands_per_s", {}).items():
        row(f"commands/s in process, no HTTP, {key} threads", s)
    if "raw_single_row_commits_per_s" in f:
        row("raw PG single-row commits/s", f["raw_single_row_commits_per_s"])
        row("raw PG batched inserts rows/s", f["raw_batched_inserts_rows_per_s"])
        row("raw notification log read events/s", f["raw_log_read_events_per_s"])
    if "catch_up_all_projections_events_per_s" in f:
        one("catch-up, all projections, events/s", f["catch_up_all_projections_events_per_s"], "one run")
    for name, s in f.get("rebuild_events_per_s", {}).items():
        row(f"rebuild {name} events/s", s)
    if rfm := f.get("rfm_against_bare_duckdb"):
        one("RFM service (route, now) ms", rfm["service_ms"], f"{rfm['ratio']:.1f}× bare")
        one("RFM service (as_of, from orders) ms", rfm["service_as_of_ms"], f"{rfm['ratio_as_of']:.1f}× bare")
        one("RFM bare DuckDB quintile query ms", rfm["bare_duckdb_ms"], f"{rfm['orders']:,} orders")
    if seg := f.get("segment"):
        o = seg["order_to_member_ms"]
        one("segment: order → member p50 ms", o["p50"], f"{o['samples']} orders")
        one("segment: order → member p99 ms", o["p99"], f"{seg['members']:,} members")
        if beside := seg.get("beside"):
            one("… beside an RFM segment, defined → evaluated ms", beside["defined_to_evaluated_ms"],
                f"{beside['members']:,} members")
    if "kafka_catch_up_events_per_s" in f:
        one("query node catch-up through Kafka events/s", f["kafka_catch_up_events_per_s"], "one run")
    for rate, e in f.get("e2e_kafka", {}).items():
        v = e["visible_ms"]
        note = f"{e['accepted_per_s']:,.0f}/s achieved, {v['samples']} samples"
        one(f"end-to-end via Kafka at {rate}/s: p50 ms", v["p50"], note)
        one(f"end-to-end via Kafka at {rate}/s: p99 ms", v["p99"],
            f"command p99 {e['command_ms']['p99'] or 0:,.0f} ms")
        if (relay := e.get("accepted_to_topic_ms")) and relay["samples"]:
            node = e["topic_to_visible_ms"]
            late = f", {e['watch_late']} seen late" if e.get("watch_late") else ""
            one("… of which 201 → on the topic p50 ms", relay["p50"], f"p99 {relay['p99']:,.0f} ms{late}")
            one("… of which topic → visible p50 ms", node["p50"],
                f"p99 {node['p99']:,.0f} ms" if node["samples"] else "")
        elif relay is not None and v["samples"]:  # say so: two medium runs lost it unnoticed
            one("… split at the topic", None, "none: the topic watch recorded no sample")
        if cpu := e.get("cpu_cores"):
            busiest = sorted(((v, k) for k, v in cpu.items() if not k.startswith("machine")),
                             reverse=True)[:4]
            one(f"… machine busy meanwhile, cores of {cpu['machine_cores']:g}", cpu["machine_busy"],
                ", ".join(f"{k.replace('_', ' ')} {v:.2f}" for v, k in busiest))
    for kind, s in f.get("marketing_workers_first_read_s", {}).items():
        worker, _, restarted = kind.partition(" ")
        row(f"{worker} worker's read on a restart (from its checkpoint) s" if restarted
            else f"{kind} worker's first read of the log s", s, 2)
    if launch := f.get("campaign_launch"):
        row(f"campaign launch to {launch['recipients']:,} recipients s", launch["seconds"], 2)
    for name, mib in f.get("peak_memory_mib", {}).items():
        one(f"peak memory {name.replace('_', ' ')} MiB", mib)
    Console().print(table)
    for key, title in (("queries_ms", "query latency ms on the embedded node"),
                       ("queries_ms_query_node", "query latency ms on the separate query node "
                                                 f"(fed from {f.get('query_node_feed', 'Kafka')})")):
        if f.get(key):
            Console().print(_queries(f[key], title))
    Console().print(targets_table(verdicts(result)))
    if phases := result.get("phases_s"):
        timing = Table(title="elapsed per phase")
        timing.add_column("phase")
        timing.add_column("s", justify="right")
        for name, seconds in phases.items():
            timing.add_row(name, f"{seconds:,.1f}")
        Console().print(timing)


def targets_table(rows: list[dict]) -> Table:
    table = Table(title="against the targets of issue 7 (ratios within this run)")
    for column in ("target", "measured", "verdict"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["target"], row["measured"], row["verdict"])
    return table


def _queries(figures: dict, title: str) -> Table:
    """One row per query: p50 / p99 (median of the runs) alone (1 client) and under 8 clients."""
    table = Table(title=title, caption="×1: one client, requests one after another; ×8: 8 clients")
    table.add_column("query", no_wrap=True)
    clients = [c for c in ("1", "8") if any(c in q for q in figures.values())]
    for c in clients:
        table.add_column(f"p50 ×{c}", justify="right")
        table.add_column(f"p99 ×{c}", justify="right")
        table.add_column(f"req/s ×{c}", justify="right")
    for name, by_clients in figures.items():
        cells = []
        for c in clients:
            q = by_clients.get(c)
            cells += ([f"{q['p50']['median']:,.1f}", f"{q['p99']['median']:,.1f}",
                       f"{q['per_s']['median']:,.0f}"] if q else ["", "", ""])
        table.add_row(name, *cells)
    return table
