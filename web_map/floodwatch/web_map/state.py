"""What is true now, for the public map: one typed, JSON-ready snapshot read from the store.

A constant number of queries (not one per ward or station), the same on SpatiaLite and PostGIS.
Everything is read as of the injected ``now``: runs, readings and transitions after it are
ignored, so a replay shows what a resident would have seen then.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import shapely
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import session_factory
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.hydro.models import FeedStatus, ModelRun
from floodwatch.hydro.settings import FeedConfig
from floodwatch.web_map import gauges
from floodwatch.web_map.queries import (
    RegionReadings,
    alert_levels,
    flood_layers,
    latest_run,
    newest_transitions,
    read_readings,
    read_region,
    read_rivers,
    read_stations,
    read_wards,
)
from floodwatch.web_map.webgeom import web_geojson

Point = tuple[datetime, float]


@dataclass(frozen=True)
class RegionInfo:
    name: str
    title: str
    metric_crs: str
    timezone: str
    bbox: tuple[float, float, float, float] | None  # lon/lat: west, south, east, north


@dataclass(frozen=True)
class RunInfo:
    id: int
    valid_at: datetime
    status: str  # ok | partial
    message: str | None
    stale_inputs: int  # how many inputs the run left out as stale


@dataclass(frozen=True)
class AreaFigures:
    """The latest run's figures for one ward (``area_results``); the flood figures are None when
    the run did not model flooding (no terrain, or no fresh river gauge)."""

    flooded_km2: float | None
    flooded_share: float | None  # 0–1
    mean_depth_m: float | None
    max_depth_m: float | None
    people_affected: int | None
    rain_24h_mm: float | None


@dataclass(frozen=True)
class WardState:
    code: str
    name_vi: str
    name_ascii: str
    population: int | None
    geometry: Mapping[str, Any]  # GeoJSON, lon/lat, simplified for the web
    level: int  # 0 (nothing in force) – 5, the highest over its firing/resolving alerts
    hazards: tuple[str, ...]  # the hazards in force
    reason: str | None  # of the newest transition (of the hazard in force, if any)
    reason_at: datetime | None
    figures: AreaFigures | None


@dataclass(frozen=True)
class StationState:
    code: str
    name: str
    kind: str
    river_name: str | None
    lon: float | None
    lat: float | None
    parameter: str
    unit: str | None
    alarms_m: tuple[float | None, float | None, float | None]  # BĐ I, II, III
    value: float | None  # the newest shown reading at or before now
    observed_at: datetime | None
    bd_status: int  # 0–3
    trend_m_per_h: float | None  # over the last 3 h before the newest reading
    rain_24h_mm: float | None  # stations with rainfall readings
    series: tuple[Point, ...]  # the last 72 h before now
    feed_state: str | None  # worst state of the feeds it comes from; None: no known feed
    stale: bool
    stale_because: tuple[str, ...]  # no_reading | old | feed_stale | feed_failing


@dataclass(frozen=True)
class RiverLine:
    name: str
    rank: int | None
    geometry: Mapping[str, Any]


@dataclass(frozen=True)
class FloodPointState:
    kind: str
    name: str
    depth_m: float | None
    lon: float
    lat: float
    ward_code: str | None


@dataclass(frozen=True)
class FloodExtentState:
    depth_class: str
    min_depth_m: float
    max_depth_m: float | None
    area_km2: float
    geometry: Mapping[str, Any]


@dataclass(frozen=True)
class MapState:
    region: RegionInfo
    generated_at: datetime  # the ``now`` it was read at
    as_of: datetime | None  # the latest run's valid time, else the newest reading
    newest_reading_at: datetime | None
    stale_after: timedelta
    approximate_terrain: bool  # flood extents are illustrative
    run: RunInfo | None
    wards: tuple[WardState, ...]
    stations: tuple[StationState, ...]
    rivers: tuple[RiverLine, ...]
    flood_points: tuple[FloodPointState, ...]
    flood_extents: tuple[FloodExtentState, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO 8601 UTC strings, durations in seconds."""
        return _jsonable(dataclasses.asdict(self))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def terrain_is_approximate(parameters: Mapping[str, Any] | None) -> bool:
    """What a run says of its terrain: ``parameters["terrain_approximate"]`` (bool) or
    ``parameters["terrain"]["approximate"]``. Unknown counts as approximate: extents are
    called illustrative until a run says its terrain is a real elevation model."""
    params = parameters or {}
    flag = params.get("terrain_approximate")
    terrain = params.get("terrain")
    if flag is None and isinstance(terrain, Mapping):
        flag = terrain.get("approximate")
    return flag if isinstance(flag, bool) else True


def current_state(
    engine: Engine, region: str, *, now: datetime,
    stale_after: timedelta = gauges.DEFAULT_STALE_AFTER, feeds: Sequence[FeedConfig] = (),
    ward_level: str = "ward", approximate_terrain: bool | None = None,
) -> MapState:
    """The map's snapshot of ``region`` at ``now`` (timezone-aware).

    ``feeds`` (the configured feeds) give each feed's cadence and the stations it lists, to
    grey out stations whose feed is stale or failing. ``approximate_terrain`` overrides what
    the latest run records (see :func:`terrain_is_approximate`).
    """
    if now.tzinfo is None:
        raise InputError("current_state needs a timezone-aware now")
    with session_factory(engine)() as session:
        row = read_region(session, region)
        if row is None:
            raise NotFoundError(f"no region {region!r} in the store: load it first")
        today = now.astimezone(ZoneInfo(row.timezone)).date()
        wards, ward_shapes = _wards(session, region, ward_level, today, row.metric_crs, now)
        run_row, figures, points, extents = _run(session, region, now, wards, row.metric_crs)
        stations = read_stations(session, region)
        readings = read_readings(session, [s.id for s in stations], now=now)
        statuses = {s.name: s for s in session.scalars(sa.select(FeedStatus))}
        rivers = tuple(RiverLine(r.name, r.rank, web_geojson(to_shape(r.geom), row.metric_crs))
                       for r in read_rivers(session, region))
    ward_states = tuple(dataclasses.replace(w, figures=figures.get(i)) for i, w in wards.items())
    station_states = tuple(_station(s, readings, statuses, feeds, now, stale_after)
                           for s in stations)
    newest = max((s.observed_at for s in station_states if s.observed_at), default=None)
    bbox = None
    if ward_shapes:
        west, south, east, north = (float(v) for v in shapely.total_bounds(ward_shapes))
        bbox = (west, south, east, north)
    run = None if run_row is None else RunInfo(
        run_row.id, run_row.valid_at, run_row.status, run_row.message,
        len(run_row.stale_inputs or []))
    return MapState(
        region=RegionInfo(row.name, row.title, row.metric_crs, row.timezone, bbox),
        generated_at=now,
        as_of=run.valid_at if run else newest,
        newest_reading_at=newest,
        stale_after=stale_after,
        approximate_terrain=(approximate_terrain if approximate_terrain is not None
                             else terrain_is_approximate(run_row.parameters if run_row else None)),
        run=run, wards=ward_states, stations=station_states, rivers=rivers,
        flood_points=points, flood_extents=extents,
    )


def _wards(session: Session, region: str, level: str, today: date, metric_crs: str,
           now: datetime) -> tuple[dict[int, WardState], list[Any]]:
    rows = read_wards(session, region, level, today)
    ids = [r.id for r in rows]
    levels = alert_levels(session, ids)
    transitions = newest_transitions(session, ids, now)
    wards: dict[int, WardState] = {}
    shapes = []
    for r in rows:
        shape = to_shape(r.geom)
        shapes.append(shape)
        in_force = levels.get(r.id, {})
        level_now = max(in_force.values(), default=0)
        mine = transitions.get(r.id, {})
        # why: the newest change of the hazard holding the level, else the newest change
        holding = [h for h, lv in in_force.items() if lv == level_now and h in mine]
        pool = [mine[h] for h in holding] or list(mine.values())
        why = max(pool, key=lambda t: (t.at, t.id), default=None)
        wards[r.id] = WardState(
            code=r.code, name_vi=r.name_vi, name_ascii=r.name_ascii, population=r.population,
            geometry=web_geojson(shape, metric_crs), level=level_now,
            hazards=tuple(sorted(in_force)), reason=why.reason if why else None,
            reason_at=why.at if why else None, figures=None,
        )
    return wards, shapes


def _run(session: Session, region: str, now: datetime, wards: Mapping[int, WardState],
         metric_crs: str) -> tuple[ModelRun | None, dict[int, AreaFigures],
                                   tuple[FloodPointState, ...], tuple[FloodExtentState, ...]]:
    run = latest_run(session, region, now)
    if run is None:
        return None, {}, (), ()
    results, point_rows, extent_rows = flood_layers(session, run.id)
    figures = {r.area_id: AreaFigures(r.flooded_km2, r.flooded_share, r.mean_depth_m,
                                      r.max_depth_m, r.people_affected, r.rain_24h_mm)
               for r in results}
    points = []
    for p in point_rows:
        shape = to_shape(p.geom)
        ward = wards.get(p.area_id) if p.area_id is not None else None
        points.append(FloodPointState(p.kind, p.name, p.depth_m, round(shape.x, 6),
                                      round(shape.y, 6), ward.code if ward else None))
    extents = tuple(
        FloodExtentState(e.depth_class, e.min_depth_m, e.max_depth_m, e.area_km2,
                         web_geojson(to_shape(e.geom), metric_crs))
        for e in extent_rows)
    return run, figures, tuple(points), extents


def _station(s: Any, readings: RegionReadings, statuses: Mapping[str, FeedStatus],
             feeds: Sequence[FeedConfig], now: datetime, stale_after: timedelta
             ) -> StationState:
    parameter = gauges.PRIMARY_PARAMETER.get(s.kind, "water_level")
    latest = readings.latest.get((s.id, parameter))
    series = tuple(readings.series.get((s.id, parameter), ()))
    rain = readings.series.get((s.id, "rainfall"))
    alarms = (s.alarm1_m, s.alarm2_m, s.alarm3_m)
    value = latest.value if latest else None
    feed_names = gauges.feeds_of_station(s.code, latest.source if latest else None,
                                         statuses.values(), feeds)
    feed = gauges.worst_feed_state(feed_names, statuses, {f.name: f.cadence_s for f in feeds},
                                   now)
    reasons = gauges.stale_reasons(latest.observed_at if latest else None, feed, now,
                                   stale_after)
    geom = to_shape(s.geom) if s.geom is not None else None
    is_level = latest is not None and latest.unit == "m"
    return StationState(
        code=s.code, name=s.name, kind=s.kind, river_name=s.river_name,
        lon=round(geom.x, 6) if geom else None, lat=round(geom.y, 6) if geom else None,
        parameter=parameter, unit=latest.unit if latest else None, alarms_m=alarms,
        value=value, observed_at=latest.observed_at if latest else None,
        bd_status=gauges.gauge_bd_status(value, alarms) if is_level else 0,
        trend_m_per_h=gauges.trend_m_per_h(series) if is_level else None,
        rain_24h_mm=gauges.rain_total_mm(rain or (), now),
        series=series, feed_state=feed, stale=bool(reasons), stale_because=reasons,
    )
