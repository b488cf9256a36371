"""Warning rules: gauge levels, rain and modelled flooding → conditions per ward. Pure.

The numbers come from a Ruleset (``rulesets/hue.toml``, each with its source); this module holds
only the logic. Every condition carries reasons that name the values and the thresholds.

River-flood risk level (hazard ``river_flood``), a SIMPLIFIED reading of Decision 18/2021/QĐ-TTg
Article 45, per gauge, with ``bd3_plus_m`` = 1.0 m:

    below BĐ I                        → no risk level (0)
    BĐ I  ≤ h < BĐ II                 → 1
    BĐ II ≤ h < BĐ III + 1 m          → 2
    BĐ III + 1 m ≤ h < historic max   → 3
    h ≥ historic max                  → 4

then raised for concurrent hazards in the ward (Article 4(4)): 24 h rain ≥ 100 mm → +1,
≥ 200 mm → +2; severe modelled flooding (flooded share ≥ 0.25 and max depth ≥ 1 m) → +1; the
raise is at most 2 and the level at most 5. A ward's level is the highest over its gauges.

Simplifications, on purpose:
- One zone for all Huế wards. Article 45 grades by zone (khu vực 1–4) and by one or several
  basins; the table above is its zone-2 reading (BĐ II to BĐ III + 1 m → 2); zones are not
  modelled, and "several basins" is not used.
- Observed levels only: the decision speaks of the *forecast* level; forecasts are not used.
- Level 5 comes only from raising; the decision's own level-5 criteria are not modelled.
- Where the historic maximum lies below BĐ III + 1 m (Phú Ốc: 5.31 < 5.50 m), level 3 cannot
  occur at that gauge: 2 runs up to the historic maximum, then 4.
- The rain raise uses the rainfall bands of the flash-flood rules of the same decision
  (Article 46), applied to the ward's 24 h accumulation; Article 4(4) leaves "severe" open, so
  200 mm and the flooding rule are floodwatch's choices.
- A missing BĐ level is skipped: the level is graded on the ones that exist; without BĐ III
  there is no level 3, without a historic maximum no level 4 (except by raising).

Other hazards use the same 1–5 scale as a graded severity, NOT an official risk level: heavy rain
alone (≥ 50 mm/24 h → 1, ≥ 100 → 2), modelled ward flooding alone, a fast rise at a linked gauge,
and a person's own threshold on a gauge (always level 1).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from floodwatch.core.errors import InputError
from floodwatch.warnings.model import (
    Condition,
    Crossing,
    GaugeReading,
    Hazard,
    UserThreshold,
    WardFloodStats,
)
from floodwatch.warnings.ruleset import Alarms, GaugeRule, Grade, RiverFloodRule, Ruleset

BD_NAMES = ("BĐ I", "BĐ II", "BĐ III")


def bd_status(level_m: float, alarms_m: Alarms) -> int:
    """0–3: the highest BĐ level reached (h ≥ BĐ k); missing (None) levels are skipped."""
    _finite(level_m, "water level")
    return max((k for k, bd in enumerate(alarms_m, 1) if bd is not None and level_m >= bd),
               default=0)


def river_flood_level(
    level_m: float, alarms_m: Alarms, *, historic_max_m: float | None, bd3_plus_m: float
) -> int:
    """0–4 for one gauge, by the table in the module docstring (before any raise)."""
    bd3 = alarms_m[2]
    if historic_max_m is not None and level_m >= historic_max_m:
        return 4
    if bd3 is not None and level_m >= bd3 + bd3_plus_m:
        return 3
    return min(bd_status(level_m, alarms_m), 2)


def gauge_reason(gauge: GaugeRule, level_m: float, bd3_plus_m: float) -> str:
    """Why a gauge stands where it does, e.g. "Phú Ốc 4.62 m ≥ BĐ III 4.50 m (risk level 2)"."""
    lvl = river_flood_level(level_m, gauge.alarms_m, historic_max_m=gauge.historic_max_m,
                            bd3_plus_m=bd3_plus_m)
    head = f"{gauge.name} {level_m:.2f} m"
    if lvl == 4:
        return f"{head} ≥ historic maximum {gauge.historic_max_m:.2f} m " \
               f"({gauge.historic_max_year}) (risk level 4)"
    if lvl == 3:
        top = (gauge.alarms_m[2] or 0.0) + bd3_plus_m
        return f"{head} ≥ BĐ III + {bd3_plus_m:.1f} m = {top:.2f} m (risk level 3)"
    k = bd_status(level_m, gauge.alarms_m)
    if k == 0:
        lowest = next((bd for bd in gauge.alarms_m if bd is not None), None)
        below = f" < BĐ I {lowest:.2f} m" if lowest is not None else " (no BĐ levels)"
        return f"{head}{below} (no risk level)"
    return f"{head} ≥ {BD_NAMES[k - 1]} {gauge.alarms_m[k - 1]:.2f} m (risk level {lvl})"


def concurrent_raise(
    rule: RiverFloodRule, *, rain_24h_mm: float | None, flooding: WardFloodStats | None
) -> tuple[int, list[str], dict[str, Any]]:
    """How many levels concurrent hazards add (0–max_raise), with reasons and evidence."""
    raise_by, reasons, evidence = 0, [], {}
    rain = _grade(rule.rain_raise, rain_24h_mm)
    if rain is not None:
        raise_by += rain.level
        reasons.append(f"concurrent rain {rain_24h_mm:.0f} mm in 24 h ≥ {rain.min_value:.0f} mm "
                       f"raises the level by {rain.level}")
        evidence["rain_raise"] = {"rain_24h_mm": rain_24h_mm, "min_mm_24h": rain.min_value,
                                  "raise_by": rain.level}
    if (flooding is not None and flooding.flooded_share >= rule.severe_flooded_share
            and flooding.max_depth_m >= rule.severe_max_depth_m):
        raise_by += rule.flooding_raise
        reasons.append(f"severe modelled flooding ({flooding.flooded_share:.0%} of the ward, up "
                       f"to {flooding.max_depth_m:.2f} m ≥ {rule.severe_flooded_share:.0%} and "
                       f"{rule.severe_max_depth_m:.2f} m) raises the level by "
                       f"{rule.flooding_raise}")
        evidence["flooding_raise"] = {
            "flooded_share": flooding.flooded_share, "max_depth_m": flooding.max_depth_m,
            "min_flooded_share": rule.severe_flooded_share,
            "min_max_depth_m": rule.severe_max_depth_m, "raise_by": rule.flooding_raise}
    if raise_by > rule.max_raise:
        reasons.append(f"concurrent hazards raise by at most {rule.max_raise}")
        raise_by = rule.max_raise
    return raise_by, reasons, evidence


def river_flood_condition(
    ruleset: Ruleset, ward: str, readings: Iterable[GaugeReading], *, as_of: datetime,
    rain_24h_mm: float | None = None, flooding: WardFloodStats | None = None,
) -> Condition | None:
    """The ward's river-flood risk level from its linked gauges' readings, raised for rain and
    flooding; None below BĐ I everywhere (the raise never creates a level on its own)."""
    rule = ruleset.river_flood
    graded = []
    for r in readings:
        g = ruleset.gauges[r.station_code]
        lvl = river_flood_level(r.level_m, g.alarms_m, historic_max_m=g.historic_max_m,
                                bd3_plus_m=rule.bd3_plus_m)
        graded.append((lvl, r, g))
    graded = sorted((x for x in graded if x[0] > 0), key=lambda x: (-x[0], x[1].station_code))
    if not graded:
        return None
    base = graded[0][0]
    raise_by, raise_reasons, evidence = concurrent_raise(rule, rain_24h_mm=rain_24h_mm,
                                                         flooding=flooding)
    level = min(base + raise_by, rule.max_level)
    reasons = [gauge_reason(g, r.level_m, rule.bd3_plus_m) for _, r, g in graded]
    reasons += raise_reasons
    if base + raise_by > rule.max_level:
        reasons.append(f"capped at level {rule.max_level}")
    evidence |= {"ruleset": ruleset.label, "base_level": base, "raise_by": raise_by,
                 "bd3_plus_m": rule.bd3_plus_m,
                 "gauges": [_gauge_evidence(lvl, r, g) for lvl, r, g in graded]}
    newest = max(r.observed_at for lvl, r, _ in graded if lvl == base)
    stage = max(bd_status(r.level_m, g.alarms_m) for _, r, g in graded)
    return Condition(ward, Hazard.RIVER_FLOOD, level, as_of, tuple(reasons), evidence, newest,
                     stage)


def rain_condition(
    ruleset: Ruleset, ward: str, rain_24h_mm: float, *, as_of: datetime, rain_as_of: datetime
) -> Condition | None:
    """Heavy rain alone: the ward's 24 h accumulation against the rain terms."""
    _finite(rain_24h_mm, "24 h rainfall", minimum=0.0)
    grade = _grade(ruleset.rain, rain_24h_mm)
    if grade is None:
        return None
    reason = f"rain {rain_24h_mm:.0f} mm in 24 h ≥ {grade.min_value:.0f} mm: {grade.label}"
    evidence = {"ruleset": ruleset.label, "rain_24h_mm": rain_24h_mm,
                "min_mm_24h": grade.min_value, "label": grade.label}
    return Condition(ward, Hazard.HEAVY_RAIN, grade.level, as_of, (reason,), evidence, rain_as_of)


def ward_flooding_condition(
    ruleset: Ruleset, ward: str, stats: WardFloodStats, *, as_of: datetime
) -> Condition | None:
    """Modelled flooding alone: share AND depth give a level; people affected may raise it."""
    _finite(stats.flooded_share, "flooded share", minimum=0.0, maximum=1.0)
    _finite(stats.max_depth_m, "max depth", minimum=0.0)
    _finite(stats.people_affected, "people affected", minimum=0.0)
    reasons, level = [], 0
    rows = [g for g in ruleset.ward_flooding if stats.flooded_share >= g.min_flooded_share
            and stats.max_depth_m >= g.min_max_depth_m]
    if rows:
        g = rows[-1]
        level = g.level
        reasons.append(f"modelled flooding {stats.flooded_share:.0%} of the ward, up to "
                       f"{stats.max_depth_m:.2f} m ≥ {g.min_flooded_share:.0%} and "
                       f"{g.min_max_depth_m:.2f} m (level {g.level})")
    people = _grade(ruleset.people_affected, stats.people_affected)
    if people is not None and people.level > level:
        level = people.level
        reasons.append(f"{stats.people_affected:,} people affected ≥ {people.min_value:,.0f} "
                       f"(level {people.level})")
    if level == 0:
        return None
    evidence = {"ruleset": ruleset.label, "flooded_share": stats.flooded_share,
                "max_depth_m": stats.max_depth_m, "people_affected": stats.people_affected}
    return Condition(ward, Hazard.WARD_FLOODING, level, as_of, tuple(reasons), evidence,
                     stats.as_of)


def rate_of_rise_m_per_h(
    readings: Sequence[tuple[datetime, float]], *, window: timedelta
) -> float | None:
    """Change of level over the last ``window`` before the newest reading, per hour: from the
    oldest reading inside the window to the newest. None if the readings span less than half
    the window (too little data to call a rate)."""
    pts = sorted((t, v) for t, v in readings if math.isfinite(v))
    if not pts:
        return None
    t1, v1 = pts[-1]
    t0, v0 = next((t, v) for t, v in pts if t >= t1 - window)
    if t1 - t0 < window / 2:
        return None
    return (v1 - v0) / ((t1 - t0).total_seconds() / 3600)


def rapid_rise_condition(
    ruleset: Ruleset, ward: str, readings: Iterable[GaugeReading], *, as_of: datetime
) -> Condition | None:
    """A fast rise at any gauge linked to the ward (rate = each reading's ``trend_m_per_h``)."""
    window_h = ruleset.rapid_rise_window.total_seconds() / 3600
    hits = []
    for r in readings:
        grade = _grade(ruleset.rapid_rise, r.trend_m_per_h)
        if grade is not None:
            hits.append((grade, r, ruleset.gauges[r.station_code]))
    if not hits:
        return None
    hits.sort(key=lambda x: (-x[0].level, x[1].station_code))
    reasons = tuple(f"{g.name} {grade.label} {r.trend_m_per_h:.2f} m/h over the last "
                    f"{window_h:g} h ≥ {grade.min_value:.2f} m/h (now {r.level_m:.2f} m)"
                    for grade, r, g in hits)
    evidence = {"ruleset": ruleset.label, "window_h": window_h, "gauges": [
        {"code": r.station_code, "rate_m_per_h": r.trend_m_per_h, "level_m": r.level_m,
         "min_rate_m_per_h": grade.min_value, "observed_at": r.observed_at.isoformat()}
        for grade, r, _ in hits]}
    top = hits[0][0].level
    newest = max(r.observed_at for grade, r, _ in hits if grade.level == top)
    return Condition(ward, Hazard.RAPID_RISE, top, as_of, reasons, evidence, newest)


def user_threshold_condition(
    threshold: UserThreshold, reading: GaugeReading, *, as_of: datetime, level: int = 1,
    station_name: str | None = None,
) -> Condition | None:
    """In force while the gauge is on the threshold's side (see UserThreshold); the reason
    names the gauge by ``station_name`` when given, e.g. "Kim Long 2.57 m ≥ your threshold
    2.50 m"."""
    _finite(reading.level_m, "water level")
    above = reading.level_m >= threshold.level_m
    if above != (threshold.direction == "above"):
        return None
    sign = "≥" if above else "<"
    name = station_name or f"gauge {reading.station_code}"
    reason = f"{name} {reading.level_m:.2f} m {sign} your threshold {threshold.level_m:.2f} m"
    evidence = {"threshold_id": threshold.id, "station_code": threshold.station_code,
                "level_m": reading.level_m, "threshold_m": threshold.level_m,
                "direction": threshold.direction}
    return Condition(threshold.station_code, Hazard.USER_THRESHOLD, level, as_of, (reason,),
                     evidence, reading.observed_at)


def crossings(readings: Sequence[tuple[datetime, float]], level_m: float) -> list[Crossing]:
    """Every passage of ``level_m`` between consecutive readings, in time order: "up" from below
    to at/above, "down" from at/above to below. Non-finite readings are skipped."""
    pts = sorted((t, v) for t, v in readings if math.isfinite(v))
    out = []
    for (_, v0), (t1, v1) in itertools.pairwise(pts):
        if (v0 >= level_m) != (v1 >= level_m):
            out.append(Crossing(t1, "up" if v1 >= level_m else "down", v0, v1))
    return out


def evaluate(
    ruleset: Ruleset, *, now: datetime, gauges: Mapping[str, GaugeReading],
    ward_flooding: Mapping[str, WardFloodStats] | None = None,
    rain_24h_mm: Mapping[str, float] | None = None, rain_as_of: datetime | None = None,
    user_thresholds: Sequence[UserThreshold] = (),
) -> list[Condition]:
    """All conditions in force at ``now``: one per (ward, hazard), plus one per user threshold
    in force (area = its station), sorted by area and hazard. Gauges without rules are used for
    user thresholds only; staleness is left to the lifecycle (see ``inputs_newest_at``)."""
    flooding = ward_flooding or {}
    rain = rain_24h_mm or {}
    if now.tzinfo is None:
        raise InputError("evaluate needs a timezone-aware 'now'")
    if rain and rain_as_of is None:
        raise InputError("rainfall was given without rain_as_of, the time it was accumulated to")
    for r in gauges.values():
        _finite(r.level_m, f"water level at {r.station_code}")
    linked: dict[str, list[GaugeReading]] = {}
    for code, reading in sorted(gauges.items()):
        for ward in ruleset.wards_of(code):
            linked.setdefault(ward, []).append(reading)
    out: list[Condition | None] = []
    for ward, readings in linked.items():
        out.append(river_flood_condition(ruleset, ward, readings, as_of=now,
                                         rain_24h_mm=rain.get(ward), flooding=flooding.get(ward)))
        out.append(rapid_rise_condition(ruleset, ward, readings, as_of=now))
    for ward, mm in rain.items():
        assert rain_as_of is not None  # checked above
        out.append(rain_condition(ruleset, ward, mm, as_of=now, rain_as_of=rain_as_of))
    for ward, stats in flooding.items():
        out.append(ward_flooding_condition(ruleset, ward, stats, as_of=now))
    for t in user_thresholds:
        if t.station_code in gauges:
            rule = ruleset.gauges.get(t.station_code)
            out.append(user_threshold_condition(
                t, gauges[t.station_code], as_of=now, level=ruleset.user_threshold_level,
                station_name=rule.name if rule is not None else None))
    return sorted((c for c in out if c is not None),
                  key=lambda c: (c.area_code, c.hazard, c.evidence.get("threshold_id", "")))


def _grade(grades: Sequence[Grade], value: float | None) -> Grade | None:
    """The highest row whose ``min_value`` the value reaches, None below the first or if None."""
    if value is None or not math.isfinite(value):
        return None
    return next((g for g in reversed(grades) if value >= g.min_value), None)


def _gauge_evidence(level: int, r: GaugeReading, g: GaugeRule) -> dict[str, Any]:
    return {"code": g.code, "name": g.name, "level_m": r.level_m, "risk_level": level,
            "observed_at": r.observed_at.isoformat(), "bd_m": list(g.alarms_m),
            "historic_max_m": g.historic_max_m, "bd_status": bd_status(r.level_m, g.alarms_m)}


def _finite(value: float, what: str, *, minimum: float | None = None,
            maximum: float | None = None) -> None:
    try:
        ok = math.isfinite(float(value))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"{what} must be a finite number, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InputError(f"{what} must be within [{minimum}, {maximum}], got {value}")
