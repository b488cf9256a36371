"""Playing a recorded series as if live: its times are shifted to now (and sped up), and what
is due is stored tick by tick, as a feed would deliver it. For demos, drills and back-tests on a
store of their own."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.engine import Engine

from floodwatch.core.timeutil import utcnow
from floodwatch.hydro.backfill import series_observations, store_in_chunks
from floodwatch.hydro.feeds import replay


def play(
    engine: Engine, name: str, *, speed: float, tick_s: float,
    clock: Callable[[], datetime] = utcnow, sleep: Callable[[float], None] = time.sleep,
    report: Callable[[int, int], None] | None = None,
) -> int:
    recorded = series_observations(name)
    if not recorded:
        return 0
    start = clock()
    shifted = replay.shift(recorded, recorded_start=recorded[0].observed_at, now=start,
                           speed=speed)
    stored = 0
    previous: datetime | None = None
    while stored < len(shifted):
        tick = clock()
        fresh = replay.due(shifted, after=previous, until=tick)
        previous = tick
        if fresh:
            store_in_chunks(engine, f"play-{name}", fresh)
            stored += len(fresh)
            if report:
                report(stored, len(shifted))
        if stored < len(shifted):
            sleep(tick_s)
    return stored


