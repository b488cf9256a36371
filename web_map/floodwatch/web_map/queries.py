"""The reads behind the map's snapshot: each one query over all wards or stations at once, in
portable SQL (window functions and aggregates that SQLite and PostgreSQL share)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from floodwatch.gis_data.models import Area, Reading, Region, River, Station
from floodwatch.hydro.models import AreaResult, FloodExtent, FloodPoint, ModelRun
from floodwatch.warnings.tables import AlertStateRow, AlertTransition
from floodwatch.warnings.user_thresholds import public_only
from floodwatch.web_map.gauges import HIDDEN_FLAGS, SERIES_WINDOW

#: Alert statuses that put a ward's level in force.
IN_FORCE = ("firing", "resolving")
#: Run statuses whose results are shown.
SHOWN_RUNS = ("ok", "partial")


def read_region(session: Session, name: str) -> Region | None:
    return session.get(Region, name)


def read_wards(session: Session, region: str, level: str, today: date) -> Sequence[Any]:
    """The areas of ``level`` valid on ``today`` (no end, or an end after today; no start, or
    a start on or before today)."""
    return session.execute(
        sa.select(Area.id, Area.code, Area.name_vi, Area.name_ascii, Area.population, Area.geom)
        .where(Area.region == region, Area.level == level,
               sa.or_(Area.valid_to.is_(None), Area.valid_to > today),
               sa.or_(Area.valid_from.is_(None), Area.valid_from <= today))
        .order_by(Area.code)
    ).all()


def alert_levels(session: Session, area_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per area, the level of each hazard in force (firing or resolving)."""
    rows = session.execute(
        sa.select(AlertStateRow.area_id, AlertStateRow.hazard, AlertStateRow.level)
        .where(AlertStateRow.area_id.in_(area_ids), AlertStateRow.status.in_(IN_FORCE),
               public_only(AlertStateRow.hazard))
    )
    levels: dict[int, dict[str, int]] = defaultdict(dict)
    for area_id, hazard, level in rows:
        levels[area_id][hazard] = int(level or 0)
    return levels


def newest_transitions(session: Session, area_ids: Sequence[int], now: datetime
                       ) -> dict[int, dict[str, Any]]:
    """Per area and hazard, the newest transition at or before ``now``."""
    t = AlertTransition
    rank = sa.func.row_number().over(partition_by=(t.area_id, t.hazard),
                                     order_by=(t.at.desc(), t.id.desc())).label("rank")
    ranked = (sa.select(t.id, t.area_id, t.hazard, t.kind, t.level, t.at, t.reason, rank)
              .where(t.area_id.in_(area_ids), t.at <= now, public_only(t.hazard)).subquery())
    newest: dict[int, dict[str, Any]] = defaultdict(dict)
    for row in session.execute(sa.select(ranked).where(ranked.c.rank == 1)):
        newest[row.area_id][row.hazard] = row
    return newest


def latest_run(session: Session, region: str, now: datetime) -> ModelRun | None:
    """The region's newest usable run (ok or partial) valid at or before ``now``."""
    return session.scalars(
        sa.select(ModelRun)
        .where(ModelRun.region == region, ModelRun.status.in_(SHOWN_RUNS),
               ModelRun.valid_at <= now)
        .order_by(ModelRun.valid_at.desc()).limit(1)
    ).first()


def flood_layers(session: Session, run_id: int
                 ) -> tuple[Sequence[AreaResult], Sequence[Any], Sequence[Any]]:
    """A run's area results, flood points and flood extents (by rising depth)."""
    results = session.scalars(sa.select(AreaResult).where(AreaResult.run_id == run_id)).all()
    points = session.execute(
        sa.select(FloodPoint.kind, FloodPoint.name, FloodPoint.depth_m, FloodPoint.area_id,
                  FloodPoint.geom)
        .where(FloodPoint.run_id == run_id).order_by(FloodPoint.id)).all()
    extents = session.execute(
        sa.select(FloodExtent.depth_class, FloodExtent.min_depth_m, FloodExtent.max_depth_m,
                  FloodExtent.area_km2, FloodExtent.geom)
        .where(FloodExtent.run_id == run_id).order_by(FloodExtent.min_depth_m)).all()
    return results, points, extents


def read_stations(session: Session, region: str) -> Sequence[Any]:
    return session.execute(
        sa.select(Station.id, Station.code, Station.name, Station.kind, Station.river_name,
                  Station.alarm1_m, Station.alarm2_m, Station.alarm3_m, Station.geom)
        .where(Station.region == region).order_by(Station.code)
    ).all()


def read_rivers(session: Session, region: str) -> Sequence[Any]:
    return session.execute(
        sa.select(River.name, River.rank, River.geom)
        .where(River.region == region).order_by(River.rank, River.name)
    ).all()


@dataclass(frozen=True)
class LatestReading:
    observed_at: datetime
    value: float
    unit: str
    source: str


@dataclass
class RegionReadings:
    """Keyed by (station id, parameter)."""

    latest: dict[tuple[int, str], LatestReading] = field(default_factory=dict)
    series: dict[tuple[int, str], list[tuple[datetime, float]]] = field(default_factory=dict)


def read_readings(session: Session, station_ids: Sequence[int], *, now: datetime
                  ) -> RegionReadings:
    """The newest shown reading of each station and parameter at or before ``now`` (however
    old), and the shown readings of the last 72 h: two queries."""
    out = RegionReadings()
    if not station_ids:
        return out
    r = Reading
    hidden = [r.flags.contains(flag, autoescape=True) for flag in sorted(HIDDEN_FLAGS)]
    usable = sa.and_(r.station_id.in_(station_ids), r.value.is_not(None), r.observed_at <= now,
                     sa.not_(sa.or_(*hidden)))
    newest = (sa.select(r.station_id, r.parameter, sa.func.max(r.observed_at).label("t"))
              .where(usable).group_by(r.station_id, r.parameter).subquery())
    latest = session.execute(
        sa.select(r.station_id, r.parameter, r.observed_at, r.value, r.unit, r.source)
        .join(newest, sa.and_(r.station_id == newest.c.station_id,
                              r.parameter == newest.c.parameter, r.observed_at == newest.c.t)))
    for sid, parameter, at, value, unit, source in latest:
        out.latest[(sid, parameter)] = LatestReading(at, cast(float, value), unit, source)
    series = session.execute(
        sa.select(r.station_id, r.parameter, r.observed_at, r.value)
        .where(usable, r.observed_at > now - SERIES_WINDOW)
        .order_by(r.station_id, r.parameter, r.observed_at))
    for sid, parameter, at, value in series:
        out.series.setdefault((sid, parameter), []).append((at, cast(float, value)))
    return out
