"""Feed health as users read it: fresh, stale or failing, with the numbers behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.core.db import check_reachable, session_factory
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.settings import FeedConfig

#: A feed is stale when its newest reading is older than this many cadences.
STALE_AFTER_CADENCES = 4.0


def feed_state(status: FeedStatus | None, cadence_s: float | None, now: datetime) -> str:
    """``never`` (not pulled yet), ``failing`` (the last attempt failed), ``stale`` (no new
    reading for longer than its cadence allows) or ``ok``."""
    if status is None or status.last_attempt_at is None:
        return "never"
    if status.last_error:
        return "failing"
    if cadence_s is not None:
        newest = status.newest_reading_at
        if newest is None or (now - newest).total_seconds() > STALE_AFTER_CADENCES * cadence_s:
            return "stale"
    return "ok"


def feed_health(engine: Engine, feeds: Sequence[FeedConfig], *, now: datetime
                ) -> list[dict[str, Any]]:
    """One row per configured feed and per recorded feed (replays included)."""
    check_reachable(engine)
    with session_factory(engine)() as session:
        recorded = {s.name: s for s in session.scalars(sa.select(FeedStatus))}
    cadence = {f.name: f.cadence_s for f in feeds}
    rows = []
    for name in [f.name for f in feeds] + sorted(set(recorded) - set(cadence)):
        status = recorded.get(name)
        kind = status.kind if status else next(f.kind for f in feeds if f.name == name)
        rows.append({
            "name": name, "kind": kind,
            "state": feed_state(status, cadence.get(name), now),
            "last_attempt_at": status.last_attempt_at if status else None,
            "last_success_at": status.last_success_at if status else None,
            "newest_reading_at": status.newest_reading_at if status else None,
            "readings_added": status.readings_added if status else 0,
            "readings_total": status.readings_total if status else 0,
            "consecutive_failures": status.consecutive_failures if status else 0,
            "last_error": status.last_error if status else None,
        })
    return rows
