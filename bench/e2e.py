"""End-to-end through Kafka: command node → PostgreSQL → relay → Tansu → a separate query node.

By default the stack runs on the populated event store, so the query node
first consumes the whole history from the topic (timed: Kafka catch-up
events/s) and holds the read models at the run's scale; its peak memory is the
"separate query node" figure. With ``history=False`` (the default at the large
scale: Tansu keeps topics in memory, and 20M events would not fit beside
everything else) the stack runs on an empty event store schema of its own, so
the figure is the pipeline's latency without the scale's read models. Then commands are issued open loop at each target rate, and a sample of
them is checked for visibility on the query node (bench/openloop.py).
"""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

import httpx

from bench import openloop
from bench.broker import Broker
from bench.cpu import CpuShare
from bench.phases import Phases
from bench.server import QUICK_NODE_JOBS, Server, Worker
from bench.stats import latency_ms
from bench.topic_watch import TopicWatch
from commands.application import Crm

ADMIN = "bench-admin-token"


def _register(run: str) -> openloop.Command:
    return lambda i: ("/v1/customers", {"name": f"E2E {run}-{i}", "email": f"e2e.{run}.{i}@example.com"})


def _timeline(answer: dict) -> str:
    """The new customer's timeline: non-empty once the query node applied the registration."""
    return f"/v1/customers/{answer['id']}/timeline?limit=1"


def wait_caught_up(node: Server, head: int, advance, timeout: float = 6 * 3600) -> None:
    """Until every projection of the node reached log position ``head`` and its feed has no lag."""
    admin = {"Authorization": f"Bearer {ADMIN}"}
    deadline = time.monotonic() + timeout
    while True:
        if node.process.poll() is not None:
            raise RuntimeError(f"the query node exited; see {node.log_path}")
        rows = httpx.get(f"{node.url}/v1/admin/projections", headers=admin, timeout=60).json()
        position = min(((row["position"] or 0) for row in rows), default=0)
        advance(min(position, head), head)
        if position >= head and all(row["lag"] == 0 for row in rows):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the query node did not catch up within {timeout:.0f} s")
        time.sleep(0.5)


def stages(outcome: openloop.Outcome, arrivals: dict[str, float]) -> dict:
    """The sampled commands' end-to-end time split at the moment the watch saw them on the topic.
    A sample the watch saw only after the query node showed it (the watch starved of CPU) is
    left out and counted, rather than split wrongly."""
    relay, node, late = [], [], 0
    for aggregate, accepted, shown in outcome.samples:
        arrived = arrivals.get(aggregate)
        if arrived is None or shown is None:
            continue
        if arrived > shown:
            late += 1
            continue
        relay.append(max(0.0, arrived - accepted))
        node.append(shown - max(arrived, accepted))  # the two shares add up to the whole
    return {"accepted_to_topic_ms": latency_ms(relay), "topic_to_visible_ms": latency_ms(node),
            "watch_late": late}


def log_head(url: str) -> int:
    crm = Crm(url)
    try:
        return crm.recorder.max_notification_id() or 0
    finally:
        crm.close()


def summary(outcome: openloop.Outcome, watch: TopicWatch | None = None) -> dict:
    return {**(stages(outcome, watch.arrivals()) if watch else {}),"target_per_s": outcome.target_per_s, "seconds": outcome.seconds,
            "issued": outcome.issued, "accepted": outcome.accepted,
            "issued_per_s": outcome.issued / outcome.issue_seconds if outcome.issue_seconds else None,
            "accepted_per_s": openloop.accepted_per_s(outcome),
            "drain_seconds": outcome.drain_seconds, "held_back": outcome.held_back, "failures": len(outcome.failures),
            "first_failures": outcome.failures[:3],
            "command_ms": latency_ms(outcome.command_latencies),
            "visible_ms": latency_ms(outcome.visible_latencies),
            "not_visible": outcome.not_visible, "sustained": sustained(outcome)}


def sustained(outcome: openloop.Outcome) -> bool:
    """The service kept up: it answered at (nearly) the rate asked and the generator never
    had to hold back for unanswered commands."""
    return outcome.held_back == 0 and openloop.accepted_per_s(outcome) >= 0.9 * outcome.target_per_s


def run(url: str, head: int, work: Path, tenant_key: str, rates: tuple[float, ...], seconds: float,
        phases: Phases, figures: dict, after_catch_up=None, memory_key: str = "query_node") -> None:
    """Fills figures["e2e_kafka"] and figures["peak_memory_mib"][memory_key]; every process is
    stopped before it returns, whatever happened. ``after_catch_up(node)`` runs once the query
    node holds the whole history (the query set is measured there too)."""
    processes: list = []
    broker = Broker(work / "tansu.log")
    try:
        topic = f"bench.{uuid4().hex[:8]}"
        env = {"CRM_EVENT_STORE": url, "CRM_KAFKA_BOOTSTRAP": broker.bootstrap,
               "CRM_KAFKA_TOPIC": topic, "CRM_ADMIN_TOKEN": ADMIN}
        processes.append(Server("command", {**env, "CRM_DATA_DIR": str(work / "e2e-command"),
                                            "CRM_NODE_NAME": "bench-command"}, work / "e2e-command.log"))
        command = processes[-1]
        processes.append(Worker(["relay"], {**env, "CRM_DATA_DIR": str(work / "relay"),
                                            "CRM_NODE_NAME": "bench-relay"}, work / "relay.log"))
        relay = processes[-1]
        processes.append(Server("query", {**env, "CRM_DATA_DIR": str(work / "query-1"),
                                          "CRM_NODE_NAME": "query-1", **QUICK_NODE_JOBS},
                                work / "query-1.log"))
        query = processes[-1]
        started = time.perf_counter()
        with phases("query node consumes the history from Kafka", total=head) as advance:
            wait_caught_up(query, head, advance)
        figures["kafka_catch_up_events_per_s"] = head / (time.perf_counter() - started)
        if after_catch_up:
            after_catch_up(query)
        headers = {"Authorization": f"Bearer {tenant_key}"}
        results: dict = {}
        watch = TopicWatch(broker.bootstrap, topic, work / "topic-watch.tsv")
        processes.append(watch)

        def at(rate: float) -> openloop.Outcome:
            with phases(f"pipeline drains before {rate:g}/s"):  # each rate starts with no backlog
                wait_caught_up(query, log_head(url), lambda *progress: None)
            stack = {"command_node": command, "relay": relay, "query_node": query,
                     "broker": broker, "topic_watch": watch}
            with phases(f"end-to-end through Kafka at {rate:g} commands/s"), \
                    CpuShare({name: p.process.pid for name, p in stack.items()},
                             {"postgres": "postgres"}) as cpu:
                outcome = openloop.run(command.url, query.url, headers, rate, seconds,
                                       _register(f"{rate:g}-{len(results)}"), _timeline)
            results[f"{rate:g}"] = {**summary(outcome, watch), "cpu_cores": cpu.cores,
                                    "watch_niceness": watch.priority}
            return outcome

        outcomes = [at(rate) for rate in rates]
        if not any(sustained(o) for o in outcomes):  # also a rate this machine can sustain
            best = max(openloop.accepted_per_s(o) for o in outcomes)
            at(max(5.0, round(best / 2 / 5) * 5))
        figures["e2e_kafka"] = results
        figures.setdefault("peak_memory_mib", {})[memory_key] = query.peak_memory_mib()
        figures["peak_memory_mib"]["relay"] = relay.peak_memory_mib()
    finally:
        for process in reversed(processes):
            process.stop()
        broker.stop()
