"""Long loads (recorded series, backfills) in chunks: each chunk is its own transaction, so an
interrupted load keeps what it stored and a second run resumes it without duplicating anything
(re-ingesting stored readings adds nothing)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.region import find_series
from floodwatch.hydro.feeds import registry
from floodwatch.hydro.feeds.base import Observation
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.pull import (
    feed_status_row,
    fetch_bodies,
    ingest,
    parse_bodies,
    transport_options,
)
from floodwatch.hydro.settings import FeedConfig
from floodwatch.hydro.transport import FeedClient, Validators

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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


#: How each feed kind asks for a time window (the query parameters merged into its URL).
WINDOW_QUERY: dict[str, Callable[[datetime, datetime], dict[str, str]]] = {
    "ea": lambda a, b: {"startdate": a.strftime("%Y-%m-%d"), "enddate": b.strftime("%Y-%m-%d"),
                        "_limit": "10000"},
    "usgs-nwis": lambda a, b: {"startDT": _iso(a), "endDT": _iso(b)},
    "usgs-waterdata": lambda a, b: {"datetime": f"{_iso(a)}/{_iso(b)}"},
    "sensorthings": lambda a, b: {
        "$filter": f"phenomenonTime ge {_iso(a)} and phenomenonTime lt {_iso(b)}"},
}


def windows(since: datetime, until: datetime, step: timedelta) -> list[tuple[datetime, datetime]]:
    if since.tzinfo is None or until.tzinfo is None:
        raise InputError("backfill times must be timezone-aware")
    if until <= since:
        raise InputError(f"--until ({_iso(until)}) must be after --since ({_iso(since)})")
    edges = []
    start = since
    while start < until:
        edges.append((start, min(start + step, until)))
        start += step
    return edges


def backfill_feed(
    engine: Engine, feed: FeedConfig, *, since: datetime, until: datetime,
    step: timedelta = timedelta(days=1), client_factory: Callable[[FeedConfig], FeedClient]
    | None = None, progress: Progress | None = None,
) -> LoadResult:
    """Pull a feed window by window for a past period. Each window is stored in its own
    transaction and recorded in the feed's health row, so an interrupted backfill resumes at
    the first unfinished window when run again with the same period."""
    if feed.kind not in WINDOW_QUERY:
        raise InputError(f"feed kind {feed.kind} cannot be asked for a time window "
                         f"(kinds that can: {', '.join(WINDOW_QUERY)})")
    plan = windows(since, until, step)
    key = f"{_iso(since)}/{_iso(until)}/{int(step.total_seconds())}"
    make_client = client_factory or (lambda f: FeedClient(transport_options(f), name=f.name))
    with transaction(engine) as session:
        status = feed_status_row(session, feed)
        done_until = (status.state or {}).get("backfill", {}).get(key)
    todo = [w for w in plan if done_until is None or w[0] >= datetime.fromisoformat(done_until)]
    parsed = added = flagged = 0
    if progress:
        progress(len(plan) - len(todo), len(plan))
    with make_client(feed) as client:
        for start, end in todo:
            bodies, _, _ = fetch_bodies(client, feed, Validators(),
                                        WINDOW_QUERY[feed.kind](start, end))
            observations, known = parse_bodies(feed, bodies)
            inside = [o for o in observations if start <= o.observed_at <= end]
            with transaction(engine) as session:
                a, f = ingest(session, inside, now=utcnow(), known=known)
                status = feed_status_row(session, feed)
                state = dict(status.state or {})
                state["backfill"] = {**state.get("backfill", {}), key: end.isoformat()}
                status.state = state
                status.readings_total = (status.readings_total or 0) + a
            parsed, added, flagged = parsed + len(inside), added + a, flagged + f
            if progress:
                progress(plan.index((start, end)) + 1, len(plan))
    return LoadResult(feed.name, parsed, added, flagged)


def load_series(engine: Engine, name: str, *, progress: Progress | None = None,
                chunk_size: int = 500) -> LoadResult:
    observations = series_observations(name)
    return store_in_chunks(engine, f"replay-{name}", observations, chunk_size=chunk_size,
                           progress=progress)
