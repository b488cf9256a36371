"""Progress for long work: a bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

log = logging.getLogger("floodwatch.progress")


@contextmanager
def progress(label: str, *, every_s: float = 5.0) -> Iterator[Callable[[int, int], None]]:
    if sys.stderr.isatty():
        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), transient=False) as bar:
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            yield update
        return
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= every_s:
            last[0] = now
            log.info("%s: %d of %d (%.0f %%)", label, done, total, 100 * done / max(total, 1))

    yield report
