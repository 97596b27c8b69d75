"""CPU per command of a command node: is it the server's CPU or the store that bounds it?

    python -m bench.command_cpu [CLIENTS] [SECONDS]
    python -m bench.command_cpu [CLIENTS] [SECONDS] --builds REV_A REV_B [--rounds 3]

Starts `crm serve --role command` on a fresh PostgreSQL schema, with group
commit and with the naive save, as one process and as two (``--workers 2``),
loads each with CLIENTS closed-loop clients registering customers (64, 8 s by
default) and prints commands/s, the server's CPU cores (user + system time of
the node and its worker processes, from /proc) and CPU milliseconds per
command. A node at about one core per process is bound by its own CPU, whatever
the store could take. To see where that CPU goes, attach a sampling profiler
to the printed pid while it runs (``py-spy record --gil -p PID``).

With ``--builds`` it compares two revisions of the code instead (each checked out into a
temporary worktree): every round runs both, in alternating order, on the same store, one
process each, so that a change of a few per cent is not lost in the machine's drift between
runs, which here is larger (docs/PERFORMANCE.md). ``--modes`` and ``--processes`` narrow
either form; ``--leads`` registers leads instead of customers (the lead settings' routing
on the request path too).
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import tempfile
from contextlib import ExitStack, contextmanager
from pathlib import Path

from bench import load
from bench.run import COMMIT_MODES, POSTGRES, _new_tenant, _register, scratch_schema
from bench.server import Server

ROOT = Path(__file__).resolve().parent.parent


def _register_lead(client: int, i: int):
    """A lead (routed by the tenant's lead settings) rather than a customer."""
    method, path, body = _register(client, i)
    return method, path, {**body, "lifecycle_stage": "lead", "source": "web"}


def measure(url: str, work: str, headers: dict, clients: int, seconds: float, mode: str,
            processes: int = 1, source: Path | None = None, label: str = "",
            request_for=_register) -> None:
    server = Server("command", {"CRM_EVENT_STORE": url, "CRM_GROUP_COMMIT": dict(COMMIT_MODES)[mode],
                                "CRM_DATA_DIR": work},
                    Path(work) / "command.log", workers=processes, source=source)
    try:
        load.run(server.url, headers, clients, 2, request_for)  # warm up
        used = server.cpu_seconds()
        latencies, errors, elapsed = load.run(server.url, headers, clients, seconds, request_for)
        cpu = server.cpu_seconds() - used
        print(f"{label}{mode}, {processes} process(es), {clients} clients, pid "
              f"{server.process.pid}: {len(latencies) / elapsed:,.0f} commands/s, "
              f"{len(errors)} errors, server {cpu / elapsed:.2f} cores, "
              f"{cpu / len(latencies) * 1000:.2f} ms CPU per command", flush=True)
    finally:
        server.stop()


@contextmanager
def worktree(revision: str, parent: str):
    """The code at ``revision``, checked out beside this one for as long as it is needed."""
    path = Path(parent) / revision.replace("/", "_")
    subprocess.run(["git", "worktree", "add", "--detach", "-q", str(path), revision], cwd=ROOT,
                   check=True)
    try:
        yield path
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.command_cpu", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clients", type=int, nargs="?", default=64)
    parser.add_argument("seconds", type=float, nargs="?", default=8.0)
    parser.add_argument("--builds", nargs=2, metavar="REV", help="two git revisions to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modes", default=",".join(mode for mode, _ in COMMIT_MODES))
    parser.add_argument("--processes", default=None, help="e.g. 1,2 (builds: 1)")
    parser.add_argument("--leads", action="store_true",
                        help="register leads (routed by the lead settings) instead of customers")
    parser.add_argument("--postgres", default=POSTGRES)
    args = parser.parse_args(argv)
    request_for = _register_lead if args.leads else _register
    modes = args.modes.split(",")
    processes = [int(p) for p in (args.processes or ("1" if args.builds else "1,2")).split(",")]
    with (scratch_schema(args.postgres) as url, tempfile.TemporaryDirectory(prefix="crm-bench-cpu-") as work,
          ExitStack() as stack):
        headers = {"Authorization": f"Bearer {_new_tenant(url, 'Bench load')[1]}"}
        if not args.builds:
            for count, mode in itertools.product(processes, modes):
                measure(url, work, headers, args.clients, args.seconds, mode, count,
                        request_for=request_for)
            return
        builds = [(rev, stack.enter_context(worktree(rev, work))) for rev in args.builds]
        for round_, count, mode in itertools.product(range(args.rounds), processes, modes):
            for rev, source in builds[::-1] if round_ % 2 else builds:
                measure(url, work, headers, args.clients, args.seconds, mode, count, source,
                        f"round {round_ + 1}, {rev}: ", request_for)


if __name__ == "__main__":
    main()
