"""The benchmark suite: `python -m bench --scale small`. See docs/PERFORMANCE.md."""
