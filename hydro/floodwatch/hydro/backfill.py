"""Long loads (recorded series, backfills) in chunks: each chunk is its own transaction, so an
interrupted load keeps what it stored and a second run resumes it without duplicating anything
(re-ingesting stored readings adds nothing)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.region import find_series
from floodwatch.hydro.feeds import registry
from floodwatch.hydro.feeds.base import Observation
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.pull import ingest

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class LoadResult:
    name: str
    parsed: int
    added: int
    flagged: int


def series_observations(name: str) -> list[Observation]:
    """Every observation of a recorded series of a bundled region, in time order."""
    definition, files = find_series(name)
    observations: list[Observation] = []
    for item in files:
        path = definition.path(item.file)
        try:
            payload = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: cannot read it ({exc})") from exc
        observations.extend(registry.parser("csv", item.mapping)(payload))
    return sorted(observations, key=lambda o: (o.observed_at, o.station, o.parameter))


def store_in_chunks(
    engine: Engine, name: str, observations: Sequence[Observation], *, chunk_size: int = 500,
    progress: Progress | None = None, now: datetime | None = None,
) -> LoadResult:
    """Store observations chunk by chunk and record the load in the feed health table."""
    started = now or utcnow()
    added = flagged = 0
    total = len(observations)
    for start in range(0, total, chunk_size):
        chunk = observations[start:start + chunk_size]
        with transaction(engine) as session:
            a, f = ingest(session, chunk, now=started)
            added += a
            flagged += f
            status = session.get(FeedStatus, name) or FeedStatus(
                name=name, kind="replay", readings_added=0, readings_total=0,
                consecutive_failures=0, state={})
            session.add(status)
            status.last_attempt_at = status.last_success_at = started
            status.readings_total = (status.readings_total or 0) + a
            status.readings_added = added
            newest = max((o.observed_at for o in chunk if o.value is not None), default=None)
            if newest and (status.newest_reading_at is None or newest > status.newest_reading_at):
                status.newest_reading_at = newest
        if progress:
            progress(min(start + chunk_size, total), total)
    return LoadResult(name, total, added, flagged)


def load_series(engine: Engine, name: str, *, progress: Progress | None = None,
                chunk_size: int = 500) -> LoadResult:
    observations = series_observations(name)
    return store_in_chunks(engine, f"replay-{name}", observations, chunk_size=chunk_size,
                           progress=progress)
