"""The reads behind one assessment (``pipeline.assess``): gauge levels, a model run's ward
figures, the alert states and the recent transitions, each as of the assessed time.

Every read is one query over all stations, wards or states at once, in SQL that SQLite and
PostgreSQL share. Nothing here decides anything: staleness is measured against the lifecycle
policy's ``stale_after`` and reported, the rules and the lifecycle do the rest. ``inputs_evidence``
records what a ward's inputs were with each transition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import Session

from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.hydro.feeds.base import INFORMATIVE_FLAGS, Parameter
from floodwatch.hydro.models import AreaResult, ModelRun
from floodwatch.warnings.model import Condition, GaugeReading, WardFloodStats
from floodwatch.warnings.rules import rate_of_rise_m_per_h
from floodwatch.warnings.ruleset import Ruleset
from floodwatch.warnings.tables import AlertStateRow, AlertTransition

#: Run statuses whose area results feed the rules (a failed run has none worth using).
USABLE_RUNS = ("ok", "partial")

Key = tuple[int, str]  # (area id, hazard)


def usable_flags(flags: str) -> bool:
    """A reading counts for alerts when it carries no flag, or only informative ones
    (provisional, estimated): the README's "a flagged value is not used for alerts"."""
    return {f for f in flags.split("|") if f} <= INFORMATIVE_FLAGS


@dataclass(frozen=True)
class GaugeInputs:
    """``used``: the newest usable reading of each ruleset gauge, at most ``stale_after`` old,
    with its rate of rise; ``stale``: the other gauges with the time of their newest usable
    reading within the look-back (None: none at all)."""

    used: dict[str, GaugeReading] = field(default_factory=dict)
    stale: dict[str, datetime | None] = field(default_factory=dict)


def read_gauges(session: Session, ruleset: Ruleset, *, at: datetime,
                stale_after: timedelta) -> GaugeInputs:
    """The ruleset's gauges as of ``at``: one query over the last ``stale_after`` plus the
    rapid-rise window (enough for the rate at a reading exactly ``stale_after`` old)."""
    codes = sorted(ruleset.gauges)
    ids = dict(session.execute(sa.select(Station.id, Station.code)
                               .where(Station.code.in_(codes))).all())
    series: dict[str, list[tuple[datetime, float]]] = {code: [] for code in codes}
    if ids:
        r = Reading
        rows = session.execute(
            sa.select(r.station_id, r.observed_at, r.value, r.flags)
            .where(r.station_id.in_(list(ids)), r.parameter == Parameter.WATER_LEVEL.value,
                   r.value.is_not(None), r.observed_at <= at,
                   r.observed_at > at - stale_after - ruleset.rapid_rise_window)
            .order_by(r.station_id, r.observed_at))
        for station_id, observed_at, value, flags in rows:
            if usable_flags(flags or ""):
                series[ids[station_id]].append((observed_at, float(cast(float, value))))
    out = GaugeInputs()
    for code, points in series.items():
        newest = points[-1] if points else None
        if newest is None or at - newest[0] > stale_after:
            out.stale[code] = newest[0] if newest else None
            continue
        window = [p for p in points if p[0] >= newest[0] - ruleset.rapid_rise_window]
        rate = rate_of_rise_m_per_h(window, window=ruleset.rapid_rise_window)
        out.used[code] = GaugeReading(code, newest[1], newest[0], rate)
    return out


@dataclass(frozen=True)
class RunInputs:
    """A model run's ward figures: modelled flooding and 24 h rain, keyed by ward code."""

    run_id: int
    valid_at: datetime
    status: str
    flooding: dict[str, WardFloodStats] = field(default_factory=dict)
    rain_24h_mm: dict[str, float] = field(default_factory=dict)

    @property
    def usable(self) -> bool:
        return self.status in USABLE_RUNS


def read_run(session: Session, run_id: int, *, region: str, at: datetime,
             ward_level: str) -> RunInputs:
    """The run's results for areas of ``ward_level``; none when the run failed."""
    run = session.get(ModelRun, run_id)
    if run is None:
        raise NotFoundError(f"no model run {run_id}")
    if run.region != region:
        raise InputError(f"model run {run_id} is for region {run.region!r}, not {region!r}")
    if run.valid_at > at:
        raise InputError(f"model run {run_id} is valid at {run.valid_at.isoformat()}, after "
                         f"the assessed time {at.isoformat()}")
    out = RunInputs(run.id, run.valid_at, run.status)
    if not out.usable:
        return out
    rows = session.execute(
        sa.select(Area.code, AreaResult.flooded_share, AreaResult.max_depth_m,
                  AreaResult.people_affected, AreaResult.rain_24h_mm)
        .join(Area, Area.id == AreaResult.area_id)
        .where(AreaResult.run_id == run_id, Area.level == ward_level))
    for code, share, max_depth, people, rain in rows:
        if share is not None:  # NULL: the run did not model flooding (unknown, not none)
            out.flooding[code] = WardFloodStats(float(share), float(max_depth or 0.0),
                                                int(people or 0), run.valid_at)
        if rain is not None:
            out.rain_24h_mm[code] = float(rain)
    return out


def inputs_evidence(ruleset: Ruleset, code: str, *, at: datetime, run: RunInputs | None,
                    gauges: GaugeInputs, condition: Condition | None) -> dict[str, Any]:
    """The ward's inputs at one step, stored as ``evidence["inputs"]`` of its transition: the
    linked gauges used (level, time, rate, BĐ levels) and those left out as stale, the run's
    figures and the rules' reasons. The texts of CAP documents (capdocs) are built from it, so
    an all clear can still show the levels that ended the alert."""
    linked, stale = [], {}
    for g in ruleset.gauges.values():
        if code not in g.wards:
            continue
        reading = gauges.used.get(g.code)
        if reading is not None:
            linked.append({"code": g.code, "name": g.name, "level_m": reading.level_m,
                           "observed_at": reading.observed_at.isoformat(),
                           "rate_m_per_h": reading.trend_m_per_h, "bd_m": list(g.alarms_m)})
        elif g.code in gauges.stale:
            newest = gauges.stale[g.code]
            stale[g.code] = None if newest is None else newest.isoformat()
    flooding = run.flooding.get(code) if run is not None else None
    return {
        "assessed_at": at.isoformat(), "run_id": None if run is None else run.run_id,
        "gauges": linked, "stale_gauges": stale,
        "flooding": None if flooding is None else {
            "flooded_share": flooding.flooded_share, "max_depth_m": flooding.max_depth_m,
            "people_affected": flooding.people_affected},
        "rain_24h_mm": run.rain_24h_mm.get(code) if run is not None else None,
        "reasons": list(condition.reasons) if condition is not None else [],
    }


@dataclass(frozen=True)
class WardRow:
    id: int
    code: str
    name: str


def read_wards(session: Session, region: str, *, level: str, day: date) -> dict[str, WardRow]:
    """The region's areas of ``level`` valid on ``day``, by code."""
    rows = session.execute(
        sa.select(Area.id, Area.code, Area.name_vi)
        .where(Area.region == region, Area.level == level,
               sa.or_(Area.valid_to.is_(None), Area.valid_to > day),
               sa.or_(Area.valid_from.is_(None), Area.valid_from <= day)))
    return {code: WardRow(i, code, name) for i, code, name in rows}


def read_areas(session: Session, ids: Iterable[int]) -> dict[int, WardRow]:
    """Any areas by id (states may outlive a ward's validity or its link to a gauge)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(sa.select(Area.id, Area.code, Area.name_vi).where(Area.id.in_(wanted)))
    return {i: WardRow(i, code, name) for i, code, name in rows}


def read_geometries(session: Session, ids: Iterable[int]) -> dict[int, shapely.Geometry]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = session.execute(sa.select(Area.id, Area.geom).where(Area.id.in_(wanted)))
    return {i: to_shape(geom) for i, geom in rows}


def read_states(session: Session, region: str) -> list[AlertStateRow]:
    """Every alert state of the region's areas (all phases, all hazards)."""
    return list(session.scalars(
        sa.select(AlertStateRow)
        .join(Area, Area.id == AlertStateRow.area_id)
        .where(Area.region == region)
        .order_by(AlertStateRow.area_id, AlertStateRow.hazard)))


def max_sequences(session: Session, keys: Iterable[Key]) -> dict[Key, int]:
    """The highest transition sequence stored per (area, hazard)."""
    wanted = set(keys)
    if not wanted:
        return {}
    t = AlertTransition
    rows = session.execute(
        sa.select(t.area_id, t.hazard, sa.func.max(t.sequence))
        .where(t.area_id.in_(sorted({a for a, _ in wanted})))
        .group_by(t.area_id, t.hazard))
    return {(a, h): int(s) for a, h, s in rows if (a, h) in wanted}


def recent_transitions(session: Session, keys: Iterable[Key], *, depth: int = 2
                       ) -> dict[Key, list[AlertTransition]]:
    """The ``depth`` newest transitions per (area, hazard), newest first."""
    wanted = set(keys)
    if not wanted:
        return {}
    t = AlertTransition
    rank = sa.func.row_number().over(partition_by=(t.area_id, t.hazard),
                                     order_by=t.sequence.desc()).label("rank")
    ranked = (sa.select(t.id, rank).where(t.area_id.in_(sorted({a for a, _ in wanted})))
              .subquery())
    rows: Sequence[Any] = session.scalars(
        sa.select(t).join(ranked, ranked.c.id == t.id).where(ranked.c.rank <= depth)
        .order_by(t.area_id, t.hazard, t.sequence.desc())).all()
    out: dict[Key, list[AlertTransition]] = {}
    for row in rows:
        if (row.area_id, row.hazard) in wanted:
            out.setdefault((row.area_id, row.hazard), []).append(row)
    return out
