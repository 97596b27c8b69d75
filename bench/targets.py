"""The performance targets (issue 7) checked against one run's figures, as ratios within the run.

Every target is a ratio of two figures measured in the same run, or a latency
at a scale, so it can be judged from the JSON alone: ``python -m bench.targets
RESULT.json`` prints the verdicts of a run made earlier. A target whose figures
the run did not measure (a step left out, or the latency targets below their
scale) says so instead of guessing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LATENCY_SCALE = "large"  # the timeline / 360 view / RFM targets are set at 1M customers
BELOW_SCALE = "judged at large only"


def _median(figure: dict | None) -> float | None:
    return None if figure is None else figure["median"]


def _row(target: str, measured: str, met: bool | None, unjudged: str = "not measured") -> dict:
    return {"target": target, "measured": measured,
            "verdict": unjudged if met is None else ("met" if met else "missed")}


def _commands(f: dict) -> list[dict]:
    rows = []
    commands = f.get("commands_per_s", {})
    batched = _median(f.get("raw_batched_inserts_rows_per_s"))
    for suffix, label in (("", "1 process"), ("/2p", "2 processes")):
        group, naive = (_median(commands.get(f"{mode}/64{suffix}")) for mode in ("group_commit", "naive_save"))
        if group is None or naive is None:
            continue
        rows.append(_row(f"64-client commands/s ≥ 5× naive ({label})",
                         f"{group:,.0f} / {naive:,.0f} = {group / naive:.1f}×", group >= 5 * naive))
        if batched:
            rows.append(_row(f"… and ≥ 30% of raw batched inserts ({label})",
                             f"{group:,.0f} / {batched:,.0f} = {group / batched:.1%}",
                             group >= 0.3 * batched))
    if not rows:
        rows.append(_row("64-client commands/s ≥ 5× naive", "—", None))
    return rows


def _rebuilds(f: dict) -> dict:
    raw, rebuilds = _median(f.get("raw_log_read_events_per_s")), f.get("rebuild_events_per_s")
    if not raw or not rebuilds:
        return _row("rebuild ≥ 50% of the raw log read", "—", None)
    shares = {name: s["median"] / raw for name, s in rebuilds.items()}
    low, high = min(shares, key=shares.get), max(shares, key=shares.get)
    reaching = sum(share >= 0.5 for share in shares.values())
    return _row("rebuild ≥ 50% of the raw log read",
                f"{shares[low]:.0%} ({low}) – {shares[high]:.0%} ({high}); "
                f"{reaching} of {len(shares)} read models ≥ 50%", reaching == len(shares))


def _latencies(scale: str, f: dict) -> list[dict]:
    queries = f.get("queries_ms_query_node") or f.get("queries_ms") or {}
    at_scale = scale == LATENCY_SCALE
    rows = []
    for name, label in (("timeline", "timeline"), ("customer_360", "360 view")):
        one = queries.get(name, {}).get("1") or queries.get(name, {}).get("8")
        if one is None:
            rows.append(_row(f"{label} p99 ≤ 10 ms at 1M customers", "—", None))
            continue
        p99 = one["p99"]["median"]
        rows.append(_row(f"{label} p99 ≤ 10 ms at 1M customers", f"{p99:,.1f} ms at {scale}",
                         p99 <= 10 if at_scale else None, BELOW_SCALE))
    rfm = f.get("rfm_against_bare_duckdb")
    rows.append(_row("RFM over 1M customers within 3× the bare DuckDB query",
                     "—" if rfm is None else f"{rfm['ratio']:.1f}× at {scale}",
                     None if rfm is None or not at_scale else rfm["ratio"] <= 3,
                     "not measured" if rfm is None else BELOW_SCALE))
    return rows


def _end_to_end(f: dict) -> dict:
    run = f.get("e2e_kafka", {}).get("1000")
    if run is None:
        return _row("end-to-end p99 ≤ 250 ms through Kafka at 1,000 commands/s", "—", None)
    p99 = run["visible_ms"]["p99"] or 0
    return _row("end-to-end p99 ≤ 250 ms through Kafka at 1,000 commands/s",
                f"{run['accepted_per_s']:,.0f}/s achieved, p99 {p99:,.0f} ms",
                run["sustained"] and p99 <= 250)


def verdicts(result: dict) -> list[dict]:
    """One row per target: what it asks, what the run measured, met / missed / not measured."""
    f = result["figures"]
    return [*_commands(f), _rebuilds(f), *_latencies(result["scale"], f), _end_to_end(f)]


def main(path: str) -> None:
    from bench.table import targets_table
    from rich.console import Console
    Console().print(targets_table(verdicts(json.loads(Path(path).read_text()))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
