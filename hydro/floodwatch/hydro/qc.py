"""Quality control of observations: flags per reading, never deletion.

Everything here is pure: observations, rules and (where needed) ``now`` go in, flagged
observations or lists come out. No clock, no I/O.

Checks and their precise definitions
------------------------------------
OUT_OF_RANGE
    The value lies outside the rule's physical range ``[min_value, max_value]`` or is not a
    finite number. Per reading.
DUPLICATE
    A reading of the same station, parameter and ``observed_at`` as an earlier reading *in the
    same batch* (input order). The first one stays unflagged; later ones are flagged and take
    no part in the spike and flat-line checks. Re-delivery of a reading already in the store is
    not a duplicate (the store upserts).
OUT_OF_ORDER
    Delivery order, not age: a reading that comes in the batch *after* a reading of the same
    series with a later ``observed_at`` (the source delivered the series out of time order).
    A batch that is entirely older than what is stored (a backfill) is legitimate and is not
    flagged; the stored newest reading is deliberately not consulted for this check.
SPIKE
    The series is walked in time order. Each reading is compared with the previous *valid*
    value strictly before it in time: a batch reading, or the previously stored reading passed
    in ``previous``. "Valid" means it has a value and carries none of MISSING, OUT_OF_RANGE,
    SPIKE, DUPLICATE or SUSPECT. The change is a spike when
    ``|Δvalue| > max_change_per_h × max(Δt, spike_min_window_s) / 1 h``.
    The minimum window keeps noise between closely spaced readings from looking like a huge
    hourly rate. Because flagged readings never become the reference, and the allowed change
    grows with the time since the last valid value, a genuine persistent level shift is flagged
    for a while and then accepted again.
FLAT_LINE
    In time order, over readings that have a value and are not MISSING / OUT_OF_RANGE /
    DUPLICATE (plus the stored previous reading, as one member), a run is a stretch of values
    equal to the run's first value within ``flat_line_tolerance``. A reading is flagged once
    its run has reached ``flat_line_count`` readings *or* has lasted ``flat_line_duration_s``
    (whichever thresholds are set); the readings before the threshold stay unflagged. Values
    in ``flat_line_exempt_values`` (e.g. 0 mm of rain on a dry day) never form a run.
STALE
    A series-level state, see :func:`stale_series`; :func:`apply_qc` does not add it.

Source flags already on a reading (MISSING, PROVISIONAL, ESTIMATED, SUSPECT …) are kept.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.hydro.feeds.base import INFORMATIVE_FLAGS, Flag, Observation, Parameter

#: A series is one station's one parameter.
SeriesKey = tuple[str, Parameter]

#: The last stored reading of a series: (observed_at, value).
StoredReading = tuple[datetime, float | None]

#: Flags that stop a reading serving as the reference value for the spike check.
_NOT_A_REFERENCE = frozenset(
    {Flag.MISSING, Flag.OUT_OF_RANGE, Flag.SPIKE, Flag.DUPLICATE, Flag.SUSPECT}
)
#: Flags that keep a reading out of flat-line runs altogether.
_NOT_IN_RUNS = frozenset({Flag.MISSING, Flag.OUT_OF_RANGE, Flag.DUPLICATE})

_HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class QcRules:
    """Quality-control thresholds for one parameter (or one series), in the parameter's SI unit.

    ``None`` disables a check. The defaults in :data:`DEFAULT_RULES` are deliberately wide,
    generic starting points; a region overrides them per parameter or per station, e.g.
    ``dataclasses.replace(DEFAULT_RULES[Parameter.WATER_LEVEL], max_value=350.0)`` for gauges
    that report against a sea-level datum.
    """

    min_value: float | None = None
    max_value: float | None = None
    #: Largest plausible change per hour (SI unit per hour); larger changes are SPIKEs.
    max_change_per_h: float | None = None
    #: Changes over shorter gaps than this are judged as if over this window.
    spike_min_window_s: float = 15 * 60.0
    #: FLAT_LINE once this many consecutive readings are equal …
    flat_line_count: int | None = None
    #: … or once equal readings have lasted this long.
    flat_line_duration_s: float | None = None
    #: Values closer than this count as equal.
    flat_line_tolerance: float = 1e-9
    #: Values that never form a flat line (e.g. 0.0 for rain, discharge of a dry stream).
    flat_line_exempt_values: tuple[float, ...] = ()
    #: Expected time between readings.
    cadence_s: float = 15 * 60.0
    #: A series is STALE after ``cadence_s × stale_tolerance`` without a new reading.
    stale_tolerance: float = 4.0

    def __post_init__(self) -> None:
        if (
            self.min_value is not None
            and self.max_value is not None
            and self.min_value > self.max_value
        ):
            raise ConfigError(
                f"QC rule min_value {self.min_value} is above max_value {self.max_value}"
            )
        positive = {
            "max_change_per_h": self.max_change_per_h,
            "flat_line_duration_s": self.flat_line_duration_s,
            "cadence_s": self.cadence_s,
            "stale_tolerance": self.stale_tolerance,
        }
        for name, value in positive.items():
            if value is not None and not value > 0:
                raise ConfigError(f"QC rule {name} must be positive, got {value}")
        if self.spike_min_window_s < 0 or self.flat_line_tolerance < 0:
            raise ConfigError("QC rule spike_min_window_s and flat_line_tolerance must be >= 0")
        if self.flat_line_count is not None and self.flat_line_count < 2:
            raise ConfigError(f"QC rule flat_line_count must be >= 2, got {self.flat_line_count}")

    def in_range(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.min_value is not None and value < self.min_value:
            return False
        return self.max_value is None or value <= self.max_value

    def is_flat_line_exempt(self, value: float) -> bool:
        return any(abs(value - v) <= self.flat_line_tolerance for v in self.flat_line_exempt_values)


_DAY_S = 24 * _HOUR_S

#: Generic defaults per parameter. Regions override them (see :class:`RuleBook`).
#:
#: * water level (m, stage against a gauge datum): -10..100 m; spike > 2 m/h; flat line after
#:   24 h of the same value; cadence 15 min.
#: * water depth (m, street sensor): 0..10 m; spike > 4 m/h (flash flooding is fast: keep this
#:   generous, a SPIKE blocks alerts); flat line after 24 h, except at 0 (a dry street).
#: * discharge (m3/s): 0..300 000 (above the largest river's record); no spike check (rates
#:   scale with the river, set per station); flat line after 24 h except at 0; cadence 15 min.
#: * rainfall (mm per reading): 0..500; no spike check; flat line after 6 h of the same
#:   non-zero amount; cadence 1 h.
#: * reservoir level (m, often above sea level): -100..6000 m; spike > 1 m/h; no flat-line
#:   check (reservoirs are held at full supply level for days); cadence 1 h.
#: * reservoir inflow / outflow (m3/s): 0..300 000; no spike or flat-line check (regulated
#:   releases are constant for days); cadence 1 h.
DEFAULT_RULES: Mapping[Parameter, QcRules] = MappingProxyType(
    {
        Parameter.WATER_LEVEL: QcRules(
            min_value=-10.0,
            max_value=100.0,
            max_change_per_h=2.0,
            flat_line_duration_s=_DAY_S,
        ),
        Parameter.WATER_DEPTH: QcRules(
            min_value=0.0,
            max_value=10.0,
            max_change_per_h=4.0,
            flat_line_duration_s=_DAY_S,
            flat_line_exempt_values=(0.0,),
        ),
        Parameter.DISCHARGE: QcRules(
            min_value=0.0,
            max_value=300_000.0,
            flat_line_duration_s=_DAY_S,
            flat_line_exempt_values=(0.0,),
        ),
        Parameter.RAINFALL: QcRules(
            min_value=0.0,
            max_value=500.0,
            flat_line_duration_s=6 * _HOUR_S,
            flat_line_exempt_values=(0.0,),
            cadence_s=_HOUR_S,
        ),
        Parameter.RESERVOIR_LEVEL: QcRules(
            min_value=-100.0,
            max_value=6000.0,
            max_change_per_h=1.0,
            cadence_s=_HOUR_S,
        ),
        Parameter.RESERVOIR_INFLOW: QcRules(
            min_value=0.0,
            max_value=300_000.0,
            cadence_s=_HOUR_S,
        ),
        Parameter.RESERVOIR_OUTFLOW: QcRules(
            min_value=0.0,
            max_value=300_000.0,
            cadence_s=_HOUR_S,
        ),
    }
)


@dataclass(frozen=True, slots=True)
class RuleBook:
    """The rules in force: per-series overrides, then per-parameter rules, then the defaults."""

    by_parameter: Mapping[Parameter, QcRules] = field(default_factory=dict)
    by_series: Mapping[SeriesKey, QcRules] = field(default_factory=dict)

    def for_series(self, station: str, parameter: Parameter) -> QcRules:
        rules = self.by_series.get((station, parameter))
        if rules is None:
            rules = self.by_parameter.get(parameter)
        if rules is None:
            rules = DEFAULT_RULES.get(parameter, QcRules())
        return rules


def _as_rulebook(rules: RuleBook | Mapping[Parameter, QcRules] | None) -> RuleBook:
    if rules is None:
        return RuleBook()
    if isinstance(rules, RuleBook):
        return rules
    return RuleBook(by_parameter=rules)


def _require_aware(moment: datetime, what: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"{what} must be timezone-aware (UTC), got naive {moment.isoformat()}")


def apply_qc(
    observations: Iterable[Observation],
    rules: RuleBook | Mapping[Parameter, QcRules] | None = None,
    *,
    previous: Mapping[SeriesKey, StoredReading | None] | None = None,
) -> list[Observation]:
    """Return the observations in input order, each with the QC flags it earned added.

    ``rules`` is a :class:`RuleBook` or a mapping per parameter; anything not covered falls back
    to :data:`DEFAULT_RULES`. ``previous`` maps a series to its newest *stored valid* reading
    (pass one that is usable as a reference, not one flagged OUT_OF_RANGE or SPIKE); it extends
    the spike and flat-line checks across batches. Unflagged readings are returned as the same
    objects. See the module docstring for the exact definition of each flag.
    """
    items = list(observations)
    book = _as_rulebook(rules)
    stored = previous or {}
    added: list[set[Flag]] = [set() for _ in items]
    series: dict[SeriesKey, list[int]] = {}

    for i, obs in enumerate(items):
        _require_aware(obs.observed_at, f"observed_at of {obs.station}/{obs.parameter}")
        key = (obs.station, obs.parameter)
        series.setdefault(key, []).append(i)
        if obs.value is not None and not book.for_series(*key).in_range(obs.value):
            added[i].add(Flag.OUT_OF_RANGE)

    for key, indices in series.items():
        _check_delivery_order(items, indices, added)
        ref = stored.get(key)
        if ref is not None:
            _require_aware(ref[0], f"stored observed_at of {key[0]}/{key[1]}")
        _check_sequence(items, indices, added, book.for_series(*key), ref)

    return [
        obs.with_flags(*extra) if extra - obs.flags else obs
        for obs, extra in zip(items, added, strict=True)
    ]


def _check_delivery_order(
    items: list[Observation], indices: list[int], added: list[set[Flag]]
) -> None:
    """DUPLICATE and OUT_OF_ORDER, judged in input (delivery) order within one series."""
    seen: set[datetime] = set()
    newest: datetime | None = None
    for i in indices:
        at = items[i].observed_at
        if at in seen:
            added[i].add(Flag.DUPLICATE)
        seen.add(at)
        if newest is not None and at < newest:
            added[i].add(Flag.OUT_OF_ORDER)
        if newest is None or at > newest:
            newest = at


@dataclass(slots=True)
class _Point:
    at: datetime
    value: float
    index: int | None  # None: the stored reading, a reference only


def _check_sequence(
    items: list[Observation],
    indices: list[int],
    added: list[set[Flag]],
    rules: QcRules,
    stored: StoredReading | None,
) -> None:
    """SPIKE and FLAT_LINE, judged in time order within one series."""
    points: list[_Point] = []
    for i in indices:
        obs = items[i]
        flags = obs.flags | added[i]
        if obs.value is not None and not flags & _NOT_IN_RUNS:
            points.append(_Point(obs.observed_at, obs.value, i))
    batch_times = {p.at for p in points}
    if stored is not None:
        at, value = stored
        # A batch reading at the stored reading's time supersedes it (a re-delivery/revision).
        if value is not None and math.isfinite(value) and at not in batch_times:
            points.append(_Point(at, value, None))
    points.sort(key=lambda p: (p.at, -1 if p.index is None else p.index))

    _check_spikes(items, points, added, rules)
    _check_flat_lines(points, added, rules)


def _check_spikes(
    items: list[Observation], points: list[_Point], added: list[set[Flag]], rules: QcRules
) -> None:
    if rules.max_change_per_h is None:
        return
    reference: _Point | None = None
    for point in points:
        if point.index is None:
            reference = point
            continue
        if reference is not None:
            gap_s = max((point.at - reference.at).total_seconds(), rules.spike_min_window_s)
            allowed = rules.max_change_per_h * gap_s / _HOUR_S
            if abs(point.value - reference.value) > allowed:
                added[point.index].add(Flag.SPIKE)
        if not (items[point.index].flags | added[point.index]) & _NOT_A_REFERENCE:
            reference = point


def _check_flat_lines(points: list[_Point], added: list[set[Flag]], rules: QcRules) -> None:
    if rules.flat_line_count is None and rules.flat_line_duration_s is None:
        return
    tolerance = rules.flat_line_tolerance
    run_start: _Point | None = None
    run_length = 0
    for point in points:
        if rules.is_flat_line_exempt(point.value):
            run_start, run_length = None, 0
            continue
        if run_start is not None and abs(point.value - run_start.value) <= tolerance:
            run_length += 1
        else:
            run_start, run_length = point, 1
        if point.index is None:
            continue
        by_count = rules.flat_line_count is not None and run_length >= rules.flat_line_count
        by_duration = (
            rules.flat_line_duration_s is not None
            and (point.at - run_start.at).total_seconds() >= rules.flat_line_duration_s
        )
        if by_count or by_duration:
            added[point.index].add(Flag.FLAT_LINE)


@dataclass(frozen=True, slots=True)
class StaleSeries:
    """A series that sent nothing new for longer than its cadence allows."""

    station: str
    parameter: Parameter
    newest_at: datetime | None  # None: never reported
    age_s: float | None  # seconds since newest_at; None when it never reported
    allowed_s: float  # cadence × tolerance


def stale_series(
    newest_by_series: Mapping[SeriesKey, datetime | None],
    now: datetime,
    cadence_s: float | None = None,
    *,
    rules: RuleBook | Mapping[Parameter, QcRules] | None = None,
    tolerance: float | None = None,
) -> list[StaleSeries]:
    """The series whose newest reading is older than ``cadence × tolerance`` at ``now``.

    ``cadence_s`` applies one cadence to every series; without it each series uses its rule's
    ``cadence_s``. ``tolerance`` likewise overrides each rule's ``stale_tolerance``. A series
    mapped to ``None`` (never reported) is stale. Exactly at the limit is not yet stale.
    Sorted by station, then parameter.
    """
    _require_aware(now, "now")
    if cadence_s is not None and not cadence_s > 0:
        raise InputError(f"cadence_s must be positive, got {cadence_s}")
    if tolerance is not None and not tolerance > 0:
        raise InputError(f"tolerance must be positive, got {tolerance}")
    book = _as_rulebook(rules)
    found: list[StaleSeries] = []
    for (station, parameter), newest in newest_by_series.items():
        rule = book.for_series(station, parameter)
        allowed_s = (cadence_s or rule.cadence_s) * (tolerance or rule.stale_tolerance)
        if newest is None:
            found.append(StaleSeries(station, parameter, None, None, allowed_s))
            continue
        _require_aware(newest, f"newest reading of {station}/{parameter}")
        age = now - newest
        if age > timedelta(seconds=allowed_s):
            found.append(StaleSeries(station, parameter, newest, age.total_seconds(), allowed_s))
    found.sort(key=lambda s: (s.station, str(s.parameter)))
    return found


def usable_for_alerts(obs: Observation, *, allow_flags: frozenset[Flag] = frozenset()) -> bool:
    """Whether a reading may drive an alert: it has a value and every flag on it is informative
    (PROVISIONAL, ESTIMATED) or explicitly allowed."""
    if obs.value is None or not math.isfinite(obs.value):
        return False
    return not (obs.flags - INFORMATIVE_FLAGS - allow_flags)
