"""Summaries of repeated runs and of latency samples: what every figure in the JSON is made of."""

from __future__ import annotations

import statistics


def spread(runs: list[float]) -> dict:
    """Median and min-max of repeated runs: a figure is never one number from one run."""
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (no interpolation: every value reported was observed)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def latency_ms(seconds: list[float]) -> dict:
    """p50/p99/max in milliseconds and the number of samples, so a p99 of 30 samples shows as such."""
    if not seconds:
        return {"p50": None, "p99": None, "max": None, "samples": 0}
    return {"p50": percentile(seconds, 0.5) * 1000, "p99": percentile(seconds, 0.99) * 1000,
            "max": max(seconds) * 1000, "samples": len(seconds)}
