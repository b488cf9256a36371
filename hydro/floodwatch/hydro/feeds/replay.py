"""Replay a recorded series as if it were arriving live (demos, drills, back-tests).

Pure functions, no clock: the caller passes ``now``. :func:`shift` moves every observation
from recorded time ``t`` to ``now + (t - recorded_start) / speed``; :func:`due` then selects
what would have arrived by a given (shifted) time, optionally only what arrived after the
previous tick, so a loop can feed a replay into the live pipeline step by step::

    shifted = shift(recorded, recorded_start=start, now=t0, speed=60.0)  # 1 h per minute
    batch = due(shifted, after=previous_tick, until=tick)

Arrival is taken to be the observed time (no transmission latency is simulated). All times must
be timezone-aware; results are in UTC and sorted by observed time (stable for equal times).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import Observation


def shift(
    observations: Iterable[Observation],
    *,
    recorded_start: datetime,
    now: datetime,
    speed: float = 1.0,
) -> list[Observation]:
    """The observations moved so that ``recorded_start`` falls on ``now``, time compressed by
    ``speed`` (2.0 = twice as fast). Values, flags and everything else are unchanged."""
    _require_aware(recorded_start, "recorded_start")
    _require_aware(now, "now")
    if not speed > 0:
        raise InputError(f"replay speed must be a positive number, got {speed!r}")
    shifted = []
    for observation in observations:
        _require_aware(observation.observed_at, f"observed_at of {observation.station}")
        elapsed = observation.observed_at - recorded_start
        observed_at = (now + elapsed / speed).astimezone(UTC)
        shifted.append(dataclasses.replace(observation, observed_at=observed_at))
    return sorted(shifted, key=lambda observation: observation.observed_at)


def due(
    observations: Iterable[Observation],
    *,
    until: datetime,
    after: datetime | None = None,
) -> list[Observation]:
    """The observations that have arrived by ``until`` (inclusive) and, if ``after`` is given,
    not already by ``after`` (exclusive), sorted by observed time."""
    _require_aware(until, "until")
    if after is not None:
        _require_aware(after, "after")
    selected = [
        observation
        for observation in observations
        if observation.observed_at <= until and (after is None or observation.observed_at > after)
    ]
    return sorted(selected, key=lambda observation: observation.observed_at)


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"replay: {name} must be timezone-aware, got naive {moment.isoformat()}")
