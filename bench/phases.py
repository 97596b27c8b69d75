"""The long phases of a run, each shown with a rich progress bar and timed into the JSON.

At the large scale a run takes hours; whoever watches it should see which phase
it is in and how far it got, and the JSON should say where the time went.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)

Advance = Callable[..., None]  # advance(done, total=None)
PLAIN_EVERY_S = 30


class Phases:
    def __init__(self, console: Console, elapsed_s: dict[str, float] | None = None) -> None:
        self.console = console
        # phase -> seconds, in the order they ran (a resumed run adds to the earlier run's)
        self.elapsed_s = {} if elapsed_s is None else elapsed_s

    @contextmanager
    def __call__(self, name: str, total: int | None = None) -> Iterator[Advance]:
        """``with phases("catch-up", total=n) as advance: ... advance(done)``."""
        started = time.perf_counter()
        columns = [SpinnerColumn(), TextColumn(name), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TimeRemainingColumn()]
        with Progress(*columns, console=self.console) as progress:
            task = progress.add_task(name, total=total)
            said = [time.perf_counter()]

            def advance(done: int, total: int | None = None) -> None:
                progress.update(task, completed=done, **({"total": total} if total else {}))
                # Not a terminal (CI, a log file): no live bar, so a plain line now and then.
                if not self.console.is_terminal and time.perf_counter() - said[0] > PLAIN_EVERY_S:
                    said[0] = time.perf_counter()
                    whole = progress.tasks[0].total
                    self.console.print(f"{name}: {done:,}" + (f" of {whole:,.0f}" if whole else "")
                                       + f" after {said[0] - started:,.0f} s")

            yield advance
        self.elapsed_s[name] = round(time.perf_counter() - started, 2)
        self.console.print(f"[dim]{name}: {self.elapsed_s[name]:,.1f} s[/dim]")
