"""Real `crm` processes for the benchmark: a server (start, wait until healthy, measure, stop)
and a worker without HTTP (the relay)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.cpu import tree_seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Node jobs every 2 s instead of 60 on the nodes the suite measures: a new segment's entries
# are recorded (as events, workers/segment_entries.py) soon after it is defined, and a node
# fed from Kafka re-reports the history's entries in its first round, before it is measured.
QUICK_NODE_JOBS = {"CRM_NODE_JOBS_SECONDS": "2"}


def stop_process(process: subprocess.Popen, seconds: float) -> int:
    """SIGTERM (a clean shutdown: workers finish their item, servers drain), then SIGKILL after
    ``seconds``; returns the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def peak_memory_mib(pid: int) -> float:
    """VmHWM: the resident set's high-water mark of a process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Worker:
    """``python -m api.cli ARGS`` (what `crm ARGS` runs), its output appended to ``log``."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path,
                 source: Path | None = None) -> None:
        """``source``: another checkout of the code to run (a build to compare), else this one."""
        self.log_path = log
        self.log = open(log, "ab")
        if source is not None:  # `-m` puts the working directory first on the path
            env = {**env, "PYTHONPATH": str(source)}
        self.process = subprocess.Popen([sys.executable, "-m", "api.cli", *args],
                                        env={**os.environ, **env}, stdout=self.log,
                                        stderr=subprocess.STDOUT, cwd=source)

    def peak_memory_mib(self) -> float:
        return peak_memory_mib(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time the process, and the worker processes it started
        (`crm serve --workers N`), have used so far."""
        return tree_seconds(self.process.pid)

    def stop(self) -> None:
        stop_process(self.process, 20)
        self.log.close()


class Server(Worker):
    """`crm serve --role ROLE` on a free loopback port; returns once /health answers."""

    def __init__(self, role: str, env: dict[str, str], log: Path, workers: int = 1,
                 source: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port), "--role", role,
                          *(["--workers", str(workers)] if workers > 1 else [])], env, log, source)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
            if self.process.poll() is not None:
                break
        self.stop()
        raise RuntimeError(f"the {role} server did not start; see {log}")
