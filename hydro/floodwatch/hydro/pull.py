"""One pull of one feed: fetch → parse → quality control → upsert → feed health.

A failing feed records its error and keeps everything it had; it never stops the other feeds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.core.errors import FloodwatchError
from floodwatch.core.timeutil import utcnow
from floodwatch.hydro import qc, store
from floodwatch.hydro.feeds import registry
from floodwatch.hydro.feeds.base import Observation, Parameter
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.settings import FeedConfig
from floodwatch.hydro.transport import FeedClient, TransportOptions, Validators

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PullResult:
    feed: str
    ok: bool
    fetched: int = 0  # observations parsed
    added: int = 0  # rows added or changed
    flagged: int = 0  # observations with a QC flag
    not_modified: bool = False
    error: str | None = None


def transport_options(feed: FeedConfig, **overrides: Any) -> TransportOptions:
    options: dict[str, Any] = {
        "read_timeout_s": feed.timeout_s, "max_attempts": feed.max_attempts,
        "min_interval_s": feed.min_interval_s, "auth_env_var": feed.auth_env,
        "auth_header": feed.auth_header, "auth_prefix": feed.auth_prefix,
    }
    options.update(overrides)
    return TransportOptions(**options)


def feed_status_row(session: Session, feed: FeedConfig) -> FeedStatus:
    status = session.get(FeedStatus, feed.name)
    if status is None:
        status = FeedStatus(name=feed.name, kind=feed.kind, readings_added=0, readings_total=0,
                            consecutive_failures=0, state={})
        session.add(status)
    return status


def fetch_bodies(client: FeedClient, feed: FeedConfig, validators: Validators,
           params: dict[str, str] | None = None) -> tuple[list[bytes], Validators, bool]:
    spec = registry.spec(feed.kind)
    if spec.next_link is not None:
        pages = client.fetch_pages(feed.url, spec.next_link, feed.max_pages, params=params)
        return [p.body for p in pages], validators, False
    result = client.fetch(feed.url, validators=validators, params=params)
    return ([] if result.not_modified else [result.body]), result.validators, result.not_modified


def parse_bodies(feed: FeedConfig, bodies: Sequence[bytes]
                 ) -> tuple[list[Observation], dict[str, Any]]:
    """Observations and what the source says about its stations, from fetched bodies."""
    parse = registry.parser(feed.kind, feed.mapping)
    spec = registry.spec(feed.kind)
    observations: list[Observation] = []
    known: dict[str, Any] = {}
    for body in bodies:
        observations.extend(parse(body))
        if spec.stations is not None:
            known.update({s.code: s for s in spec.stations(body)})
    if feed.stations:
        wanted = set(feed.stations)
        observations = [o for o in observations if o.station in wanted]
    return observations, known


def ingest(
    session: Session, observations: Sequence[Observation], *, now: datetime,
    rules: qc.RuleBook | None = None, known: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Quality-control and store observations; returns (added, flagged)."""
    conn = session.connection()
    previous = store.latest_by_series(conn, {o.station for o in observations})
    checked = qc.apply_qc(
        observations, rules,
        previous={(code, Parameter(param)): v for (code, param), v in previous.items()},
    )
    added = store.upsert_readings(conn, checked, known_stations=known, now=now)
    return added, sum(1 for o in checked if o.flags)


def pull_feed(
    engine: Engine, feed: FeedConfig, *, client_factory: Callable[[FeedConfig], FeedClient]
    | None = None, now: Callable[[], datetime] = utcnow, rules: qc.RuleBook | None = None,
) -> PullResult:
    """Pull one feed once. Errors are recorded in its health row, never raised."""
    started = now()
    make_client = client_factory or (lambda f: FeedClient(transport_options(f), name=f.name))
    with transaction(engine) as session:
        state = dict(feed_status_row(session, feed).state or {})
    validators = Validators(**state.get("validators", {}).get(feed.url, {}))
    try:
        with make_client(feed) as client:
            bodies, validators, not_modified = fetch_bodies(client, feed, validators)
        observations, known = parse_bodies(feed, bodies)
        with transaction(engine) as session:
            added, flagged = ingest(session, observations, now=started, rules=rules, known=known)
            status = feed_status_row(session, feed)
            status.last_attempt_at = started
            status.last_success_at = started
            status.readings_added = added
            status.readings_total = (status.readings_total or 0) + added
            status.consecutive_failures = 0
            status.last_error = None
            newest = max((o.observed_at for o in observations if o.value is not None),
                         default=None)
            if newest and (status.newest_reading_at is None or newest > status.newest_reading_at):
                status.newest_reading_at = newest
            state.setdefault("validators", {})[feed.url] = {
                "etag": validators.etag, "last_modified": validators.last_modified}
            status.state = state
        log.info("feed %s: %d parsed, %d added, %d flagged%s", feed.name, len(observations),
                 added, flagged, " (not modified)" if not_modified else "")
        return PullResult(feed.name, True, len(observations), added, flagged, not_modified)
    except Exception as exc:
        message = str(exc) if isinstance(exc, FloodwatchError) else (
            f"unexpected {type(exc).__name__}: {exc}")
        if isinstance(exc, FloodwatchError):
            log.warning("feed %s failed: %s", feed.name, message)
        else:
            log.exception("feed %s failed unexpectedly", feed.name)
        with transaction(engine) as session:
            status = feed_status_row(session, feed)
            status.last_attempt_at = started
            status.last_error = message[:2000]
            status.consecutive_failures = (status.consecutive_failures or 0) + 1
        return PullResult(feed.name, False, error=message)


def pull_all(engine: Engine, feeds: Sequence[FeedConfig], **kwargs: Any) -> list[PullResult]:
    """Pull every enabled feed; one failing feed does not stop the others."""
    return [pull_feed(engine, feed, **kwargs) for feed in feeds if feed.enabled]
