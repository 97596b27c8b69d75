"""Where the machine's CPU went during a measured run: the cores each process of the stack used
on average, and the whole machine's, so a latency that is queueing for CPU shows as such (the
machine near all of its cores busy) rather than being blamed on the step that waited.

Read from /proc (user + system time of a process, the machine's busy jiffies), sampled
before and after the run, nothing in between: it costs the measured processes nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK


def tree_seconds(pid: int) -> float:
    """CPU seconds of ``pid`` and its direct children (a server's uvicorn worker processes)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        children = []
    return process_seconds(pid) + sum(process_seconds(int(child)) for child in children)


def _seconds_by_pid(command: str) -> dict[int, float]:
    """CPU seconds of every process whose command name is ``command`` (PostgreSQL's backends)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    found[int(entry.name)] = process_seconds(int(entry.name))
            except OSError:
                continue  # exited while we looked
    return found


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent not idle (every core, every process, the kernel)."""
    user, nice, system, _idle, _iowait, irq, softirq, steal = (
        int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK


class CpuShare:
    """``with CpuShare({"query_node": pid, ...}, {"postgres": "postgres"}) as share: ...`` then
    ``share.cores``: cores used on average over the block by each named process, by all
    processes of each command name, by this process (the load generator), and by the machine."""

    def __init__(self, pids: dict[str, int], commands: dict[str, str] | None = None) -> None:
        self.pids = pids
        self.commands = commands or {}
        self.cores: dict[str, float] = {}

    def _sample(self) -> dict:
        return {"pids": {name: process_seconds(pid) for name, pid in self.pids.items()},
                "commands": {name: _seconds_by_pid(c) for name, c in self.commands.items()},
                "self": time.process_time(), "machine": _machine_busy_seconds(),
                "at": time.monotonic()}

    def __enter__(self) -> "CpuShare":
        self._start = self._sample()
        return self

    def __exit__(self, *exc) -> None:
        end, start = self._sample(), self._start
        wall = end["at"] - start["at"]
        cores = {name: (end["pids"][name] - start["pids"][name]) / wall for name in self.pids}
        for name in self.commands:
            before = start["commands"][name]  # a process that started inside counts from 0
            cores[name] = sum(s - before.get(pid, 0.0)
                              for pid, s in end["commands"][name].items()) / wall
        cores["load_generator"] = (end["self"] - start["self"]) / wall
        cores["machine_busy"] = (end["machine"] - start["machine"]) / wall
        cores["machine_cores"] = float(os.cpu_count() or 1)
        self.cores = {name: round(value, 2) for name, value in cores.items()}
