"""Two versions of a read-model module on one read-model file, call by call.

    python -m bench.ab WORK/readmodels.duckdb REV [--rounds 3] [--calls 100] [--only timeline,...]

For changes too small for sequential runs to resolve: on these machines a probe's p50 swings
more between two runs of the same code than a 1-3 ms change moves it (docs/PERFORMANCE.md).
Here the module of each query as it is at git revision ``REV`` is loaded beside the working
tree's, both are first checked to give the same answers, then each call picks a customer and
runs the two versions on it one after the other, in random order. Per query and round: the
p50 and p99 of each version and the median of the paired differences (new minus old).

The old module is the file at ``REV`` alone, run against the working tree's other modules: the
probe compares changes confined to one module (a query's SQL, its assembly in Python), which is
what the small A/Bs here were. The file is the one a bench run leaves (``--keep-work``); its
tables must suit both versions (a change of a table's shape needs the new file for both).
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

from bench.file_reads import busiest_tenant, funnel_period
from bench.stats import latency_ms
from readmodels import pipelines
from readmodels.store import ReadStore

ROOT = Path(__file__).resolve().parent.parent


def at_revision(name: str, revision: str) -> types.ModuleType:
    """Module ``name`` as its file is at ``revision``, loaded under a name of its own."""
    path = name.replace(".", "/") + ".py"
    source = subprocess.run(["git", "show", f"{revision}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    module = types.ModuleType(f"{name}@{revision}")
    module.__file__ = f"{revision}:{path}"
    sys.modules[module.__name__] = module  # dataclasses look their module up by name
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def queries(store: ReadStore, tenant: str) -> dict:
    """query -> (module name, call(module, db, customer)); the list and the funnels ignore the
    customer (the search picks its letter by it)."""
    start, end, window = funnel_period()
    pipeline = pipelines.get_pipeline(store.reader(), tenant, None)
    return {
        "customer_list": ("readmodels.customers", lambda m, db, c: m.list_customers(db, tenant)),
        "customer_search": ("readmodels.customers", lambda m, db, c: m.list_customers(
            db, tenant, q="abcdefghijklmnopqrstuvwxyz"[c.int % 26])),  # as bench.queries: a letter
        "customer_360": ("readmodels.customer360", lambda m, db, c: m.customer_360(db, tenant, c)),
        "timeline": ("readmodels.timeline", lambda m, db, c: m.timeline(db, tenant, c, limit=50)),
        "lead_funnel": ("readmodels.funnels", lambda m, db, c: m.run(
            db, tenant, m.lead_funnel(window), start, end)),
        "stage_funnel": ("readmodels.funnels", lambda m, db, c: m.run(
            db, tenant, m.stage_funnel(pipeline, window), start, end)),
        "pipeline_board": ("readmodels.pipelines", lambda m, db, c: m.board(db, tenant, pipeline, end)),
    }


def _comparable(answer):
    """An answer without what differs between two calls by design (the 360's RFM and lead
    score read the clock)."""
    if isinstance(answer, dict):
        return {k: v for k, v in answer.items() if k not in ("rfm", "lead_score")}
    return answer


def compare(path: Path, revision: str, rounds: int = 3, calls: int = 100,
            only: list[str] | None = None) -> dict:
    store = ReadStore(path)
    try:
        tenant, _, ids = busiest_tenant(store, 2000)
        rng = random.Random(3)
        result: dict = {"revision": revision, "file": str(path), "queries": {}}
        for name, (module, call) in queries(store, tenant).items():
            if only and name not in only:
                continue
            versions = {"old": at_revision(module, revision), "new": importlib.import_module(module)}
            for customer in ids[:20]:
                old, new = (_comparable(call(m, store.reader(), customer)) for m in versions.values())
                if old != new:
                    raise SystemExit(f"{name}: the two versions answer differently for {customer}")
            for version in versions.values():  # warm-up
                for customer in ids[:10]:
                    call(version, store.reader(), customer)
            figures = []
            for _ in range(rounds):
                times: dict[str, list[float]] = {"old": [], "new": []}
                for _ in range(calls):
                    customer = rng.choice(ids)
                    for label in rng.sample(["old", "new"], 2):
                        started = time.perf_counter()
                        call(versions[label], store.reader(), customer)
                        times[label].append(time.perf_counter() - started)
                figures.append({
                    "old": latency_ms(times["old"]), "new": latency_ms(times["new"]),
                    "paired_difference_ms": statistics.median(
                        (n - o) * 1000 for o, n in zip(times["old"], times["new"]))})
            result["queries"][name] = figures
        return result
    finally:
        store.close()


def _table(result: dict) -> str:
    lines = [f"old = {result['revision']}, new = working tree; ms"]
    for name, figures in result["queries"].items():
        for i, f in enumerate(figures):
            lines.append(f"{name:14} round {i + 1}: old p50 {f['old']['p50']:7.1f} p99 "
                         f"{f['old']['p99']:7.1f} | new p50 {f['new']['p50']:7.1f} p99 "
                         f"{f['new']['p99']:7.1f} | new - old (paired median) "
                         f"{f['paired_difference_ms']:+6.2f}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ab", description=__doc__.split("\n")[0])
    parser.add_argument("file", type=Path, help="a read-model file (WORK/readmodels.duckdb)")
    parser.add_argument("revision", help="the git revision of the old version, e.g. HEAD or a commit")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=100, help="calls of each version per round")
    parser.add_argument("--only", help="queries, comma-separated (default: all of customer_list, "
                                       "customer_search, customer_360, timeline, lead_funnel, "
                                       "stage_funnel, pipeline_board)")
    args = parser.parse_args()
    figures = compare(args.file, args.revision, args.rounds, args.calls,
                      args.only.split(",") if args.only else None)
    print(_table(figures))
    print(json.dumps(figures, default=str))


if __name__ == "__main__":
    main()
