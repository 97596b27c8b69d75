"""The end-to-end phase alone, on an empty event store schema of its own: for comparing a change
to the Kafka path (relay, feed, query node) in a minute rather than a whole run.

    python -m bench.e2e_alone RATES SECONDS      e.g. python -m bench.e2e_alone 200,20 15

Prints each rate's figures as the full suite records them (``e2e_kafka``, docs/PERFORMANCE.md):
achieved rate, CPU by process, and visible / command / per-stage latencies.
"""

from __future__ import annotations

import sys
import tempfile
from argparse import Namespace
from pathlib import Path

from rich.console import Console

from bench.phases import Phases
from bench.run import POSTGRES, _e2e_on_empty_store


def main(rates: str, seconds: str) -> None:
    args = Namespace(postgres=POSTGRES,
                     e2e_rates=tuple(float(r) for r in rates.split(",")), e2e_seconds=float(seconds))
    work = Path(tempfile.mkdtemp(prefix="crm-e2e-"))
    figures: dict = {}
    _e2e_on_empty_store(args, work, Phases(Console(stderr=True)), figures)
    for rate, r in figures["e2e_kafka"].items():
        print(f"{rate}/s asked: {r['accepted_per_s']:.0f}/s achieved, sustained {r['sustained']}, "
              f"watch late {r['watch_late']}; CPU cores {r['cpu_cores']}")
        for key in ("visible_ms", "command_ms", "accepted_to_topic_ms", "topic_to_visible_ms"):
            v = r[key]
            print(f"    {key}: p50 {v['p50'] or 0:,.1f}, p99 {v['p99'] or 0:,.1f} ({v['samples']} samples)")
    print(f"logs in {work}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
