"""CPU per command of a command node: is it the server's CPU or the store that bounds it?

    python -m bench.command_cpu [CLIENTS] [SECONDS]

Starts `crm serve --role command` on a fresh PostgreSQL schema, with group
commit and with the naive save, as one process and as two (``--workers 2``),
loads each with CLIENTS closed-loop clients registering customers (64, 8 s by
default) and prints commands/s, the server's CPU cores (user + system time of
the node and its worker processes, from /proc) and CPU milliseconds per
command. A node at about one core per process is bound by its own CPU, whatever
the store could take. To see where that CPU goes, attach a sampling profiler
to the printed pid while it runs (``py-spy record --gil -p PID``).
"""

from __future__ import annotations

import itertools
import sys
import tempfile
from pathlib import Path

from bench import load
from bench.run import COMMIT_MODES, POSTGRES, _new_tenant, _register, scratch_schema
from bench.server import Server


def main(clients: int = 64, seconds: float = 8.0) -> None:
    with scratch_schema(POSTGRES) as url, tempfile.TemporaryDirectory(prefix="crm-bench-cpu-") as work:
        headers = {"Authorization": f"Bearer {_new_tenant(url, 'Bench load')[1]}"}
        for processes, (mode, flag) in itertools.product((1, 2), COMMIT_MODES):
            server = Server("command", {"CRM_EVENT_STORE": url, "CRM_GROUP_COMMIT": flag,
                                        "CRM_DATA_DIR": work},
                            Path(work) / "command.log", workers=processes)
            try:
                load.run(server.url, headers, clients, 2, _register)  # warm up
                used = server.cpu_seconds()
                latencies, errors, elapsed = load.run(server.url, headers, clients, seconds,
                                                      _register)
                cpu = server.cpu_seconds() - used
                print(f"{mode}, {processes} process(es), {clients} clients, pid "
                      f"{server.process.pid}: {len(latencies) / elapsed:,.0f} commands/s, "
                      f"{len(errors)} errors, server {cpu / elapsed:.2f} cores, "
                      f"{cpu / len(latencies) * 1000:.2f} ms CPU per command", flush=True)
            finally:
                server.stop()


if __name__ == "__main__":
    main(*(f(a) for f, a in zip((int, float), sys.argv[1:])))
