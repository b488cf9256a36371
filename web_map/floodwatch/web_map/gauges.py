"""What a gauge shows on the map, from its readings: BĐ status, trend, rain over 24 h and
freshness. Pure functions of values and times; the store is read in ``state``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from floodwatch.hydro.health import feed_state
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.settings import FeedConfig
from floodwatch.warnings.rules import bd_status, rate_of_rise_m_per_h
from floodwatch.warnings.ruleset import Alarms

#: A station is shown stale when its newest reading is older than this (a setting; the default).
DEFAULT_STALE_AFTER = timedelta(hours=6)
#: The trend is the change of level over this window before the newest reading, per hour.
TREND_WINDOW = timedelta(hours=3)
#: How much history the hydrograph shows.
SERIES_WINDOW = timedelta(hours=72)
RAIN_WINDOW = timedelta(hours=24)

#: The parameter a station of each kind is drawn with.
PRIMARY_PARAMETER: Mapping[str, str] = {
    "river_gauge": "water_level",
    "reservoir": "reservoir_level",
    "rain_gauge": "rainfall",
}
#: Quality flags whose values are not shown (the value itself is likely wrong or absent).
HIDDEN_FLAGS = frozenset({"missing", "out_of_range", "spike"})
#: Feed states that grey a station out.
BAD_FEED_STATES = frozenset({"stale", "failing"})

Series = Sequence[tuple[datetime, float]]


def gauge_bd_status(level_m: float | None, alarms_m: Alarms) -> int:
    """0–3, the highest BĐ level reached; 0 without a level or without alarm levels."""
    if level_m is None or all(a is None for a in alarms_m):
        return 0
    return bd_status(level_m, alarms_m)


def trend_m_per_h(series: Series, window: timedelta = TREND_WINDOW) -> float | None:
    """Change of level per hour over ``window`` before the newest reading (None: too little
    data in the window)."""
    return rate_of_rise_m_per_h(series, window=window) if series else None


def rain_total_mm(series: Series, now: datetime, window: timedelta = RAIN_WINDOW
                  ) -> float | None:
    """Rain fallen in the ``window`` up to ``now``; None without a reading in it."""
    inside = [v for t, v in series if now - window < t <= now]
    return round(sum(inside), 1) if inside else None


def feeds_of_station(code: str, source: str | None, statuses: Iterable[FeedStatus],
                     feeds: Iterable[FeedConfig]) -> list[str]:
    """The feeds a station's readings come from: configured feeds that list its code, and
    recorded feeds whose name or kind is the source of its newest reading."""
    names = {f.name for f in feeds if code in f.stations}
    if source:
        names |= {s.name for s in statuses if source in (s.name, s.kind)}
    return sorted(names)


def worst_feed_state(names: Iterable[str], statuses: Mapping[str, FeedStatus],
                     cadence_s: Mapping[str, float], now: datetime) -> str | None:
    """``failing`` over ``stale`` over ``ok``/``never``; None when the station has no feed."""
    states = [feed_state(statuses.get(n), cadence_s.get(n), now) for n in names]
    for state in ("failing", "stale", "ok", "never"):
        if state in states:
            return state
    return None


def stale_reasons(observed_at: datetime | None, feed: str | None, now: datetime,
                  stale_after: timedelta) -> tuple[str, ...]:
    """Why a station is greyed out: ``no_reading``, ``old`` (newest reading older than
    ``stale_after``), ``feed_stale``, ``feed_failing``; empty when it is fresh."""
    reasons: list[str] = []
    if observed_at is None:
        reasons.append("no_reading")
    elif now - observed_at > stale_after:
        reasons.append("old")
    if feed in BAD_FEED_STATES:
        reasons.append(f"feed_{feed}")
    return tuple(reasons)
