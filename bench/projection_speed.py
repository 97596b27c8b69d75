"""Projection figures: catch-up of all read models together, and rebuild speed per read model.

`catch_up` and `rebuild` are the projector's own public functions, called
unchanged. A rebuild replays the whole log, so at the larger scales rebuilding
every read model `--repeat` times would take hours; there a representative
subset is rebuilt (the widest read models and the cheapest), unless all are asked for.
"""

from __future__ import annotations

import threading
import time

from bench.phases import Phases
from bench.stats import spread
from workers.projector import Projector, catch_up, rebuild

# customer_summary: many events each; timeline: one row per event, the most rows;
# orders: what RFM reads; customer_directory: the lists; tasks: few events, the cheapest.
SUBSET = ("customer_directory", "customer_summary", "orders", "timeline", "tasks")


def timed_catch_up(crm, projector: Projector, head: int, phases: Phases) -> dict:
    """Runs catch_up in a thread so the bar can follow the node's position meanwhile."""
    done: dict = {}

    def work() -> None:
        try:
            done["applied"] = catch_up(crm, projector)
        except BaseException as error:  # re-raised below, in the bench's own thread
            done["error"] = error

    first = next(iter(projector.projections))
    with phases("catch-up of all projections", total=head) as advance:
        started = time.perf_counter()
        thread = threading.Thread(target=work, name="bench-catch-up", daemon=True)
        thread.start()
        try:
            while thread.is_alive():
                thread.join(0.5)
                advance(projector.store.position(first))
        except BaseException:
            # The run is stopping (SIGTERM, Ctrl-C) and will close the store: the batch in
            # flight finishes first and no other starts (the lock is never given back), so
            # the thread does not write into a closed file and nothing prints a second error.
            projector.lock.acquire()
            raise
        elapsed = time.perf_counter() - started
    if "error" in done:
        raise done["error"]
    return {"events": done["applied"], "seconds": elapsed, "events_per_s": done["applied"] / elapsed}


def rebuilds(crm, projector: Projector, names: list[str], repeat: int, phases: Phases) -> dict:
    figures = {}
    for name in names:
        runs = []
        with phases(f"rebuild {name} x{repeat}") as advance:
            for _ in range(repeat):
                started = time.perf_counter()
                read = rebuild(crm, projector, name, progress=advance)
                runs.append(read / (time.perf_counter() - started))
        figures[name] = spread(runs)
    return figures
