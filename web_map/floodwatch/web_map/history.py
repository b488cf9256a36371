"""A region's history for analysts, read from the store into pandas and geopandas: stations,
readings and areas, and the helpers the other history modules share.

Every function takes an Engine or a database URL. Times (``since``/``until``/``valid_at``) are
aware datetimes or ISO 8601 text (UTC unless it carries an offset); None leaves that end of the
window open; both ends are inclusive. Frames carry times as UTC timestamps. Model runs, their
figures per area and depth rasters are in ``history_runs``; gauge events, alerts and
notifications in ``history_events``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeAlias

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.engine import Engine
from sqlalchemy.orm import aliased

from floodwatch.core.db import make_engine
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.core.timeutil import as_utc, parse_instant
from floodwatch.gis_data.models import WGS84, Area, Reading, Region, Station
from floodwatch.hydro.feeds.base import INFORMATIVE_FLAGS, Parameter

EngineLike: TypeAlias = Engine | str
Instant: TypeAlias = datetime | pd.Timestamp | str | None

READING_COLUMNS = ["station", "name", "parameter", "observed_at", "value", "unit", "flags",
                   "source"]
#: Amounts over an interval are summed when resampled; the other parameters are averaged.
SUMMED = frozenset({Parameter.RAINFALL.value})


@contextmanager
def connect(engine: EngineLike) -> Iterator[sa.Connection]:
    """A connection from an Engine, or from a URL (its engine is disposed afterwards)."""
    if not isinstance(engine, str):
        with engine.connect() as conn:
            yield conn
        return
    owned = make_engine(engine)
    try:
        with owned.connect() as conn:
            yield conn
    finally:
        owned.dispose()


def instant(value: Instant, what: str) -> datetime | None:
    """An aware UTC datetime from a datetime, Timestamp or ISO 8601 text; naive ones are refused."""
    if value is None:
        return None
    if isinstance(value, str):
        return parse_instant(value, what)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    if not isinstance(value, datetime):
        raise InputError(f"{what}: expected a time, got {value!r}")
    if value.tzinfo is None:
        raise InputError(f"{what}: {value.isoformat()} has no time zone (give UTC or an offset)")
    return as_utc(value)


def window(since: Instant, until: Instant) -> tuple[datetime | None, datetime | None]:
    start, end = instant(since, "since"), instant(until, "until")
    if start is not None and end is not None and start > end:
        raise InputError(f"since {start:%Y-%m-%d %H:%M} UTC is after until "
                         f"{end:%Y-%m-%d %H:%M} UTC")
    return start, end


def between(column: Any, start: datetime | None, end: datetime | None
            ) -> list[sa.ColumnElement[bool]]:
    return ([column >= start] if start else []) + ([column <= end] if end else [])


def require_region(conn: sa.Connection, region: str) -> None:
    if conn.scalar(sa.select(Region.name).where(Region.name == region)) is None:
        loaded = ", ".join(conn.scalars(sa.select(Region.name).order_by(Region.name))) or "none"
        raise NotFoundError(f"region {region!r} is not loaded (loaded: {loaded})")


def require_level(conn: sa.Connection, region: str, level: str) -> None:
    require_region(conn, region)
    levels = list(conn.scalars(sa.select(Area.level).where(Area.region == region).distinct()))
    if level not in levels:
        raise NotFoundError(f"region {region!r} has no areas of level {level!r} "
                            f"(levels: {', '.join(sorted(levels)) or 'none'})")


def utc(values: Any) -> pd.Series:
    """Aware datetimes (or None) as a Series of UTC timestamps."""
    return pd.to_datetime(pd.Series(list(values), dtype=object), utc=True)


def flag_set(text: str | None) -> set[str]:
    """The QC flags of a reading (stored separated by ``|``; ``,`` is accepted too)."""
    return {f for f in re.split(r"[|,]", text or "") if f}


def is_flagged(text: str | None) -> bool:
    """Whether a reading carries a flag that keeps it out of alerts (not provisional/estimated)."""
    return bool(flag_set(text) - INFORMATIVE_FLAGS)


def stations(engine: EngineLike, region: str) -> gpd.GeoDataFrame:
    """The region's stations with their kind, river and alarm levels (BĐ I–III), EPSG:4326."""
    s = Station
    with connect(engine) as conn:
        require_region(conn, region)
        rows = conn.execute(
            sa.select(s.code, s.name, s.kind, s.river_name, s.alarm1_m, s.alarm2_m, s.alarm3_m,
                      s.alarm_source, s.datum, s.geom)
            .where(s.region == region).order_by(s.code)).all()
    columns = ["code", "name", "kind", "river", "alarm1_m", "alarm2_m", "alarm3_m",
               "alarm_source", "datum"]
    frame = pd.DataFrame([tuple(r)[:-1] for r in rows], columns=columns)
    geometry = [None if r.geom is None else to_shape(r.geom) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84)


def _parameter(name: str) -> str:
    try:
        return Parameter(name).value
    except ValueError:
        known = ", ".join(p.value for p in Parameter)
        raise InputError(f"unknown parameter {name!r} (parameters: {known})") from None


def _rule(resample: str) -> str:
    try:
        pd.tseries.frequencies.to_offset(resample)
    except ValueError:
        raise InputError(f"resample: {resample!r} is not a pandas frequency (e.g. 1h, 15min, "
                         "1D)") from None
    return resample


def readings(engine: EngineLike, station_codes: str | Sequence[str], since: Instant = None,
             until: Instant = None, parameter: str = "water_level", resample: str | None = None,
             include_flagged: bool = True) -> pd.DataFrame:
    """Readings of one parameter at the given stations, one row per reading (``flags`` as
    stored). ``include_flagged=False`` drops readings with a flag other than provisional or
    estimated (as the alerts do). ``resample`` (e.g. "1h") bins them: rainfall is summed, the
    other parameters averaged; ``count`` is the number of values in each bin."""
    codes = [station_codes] if isinstance(station_codes, str) else list(station_codes)
    if not codes:
        raise InputError("name at least one station")
    param = _parameter(parameter)
    rule = _rule(resample) if resample else None
    start, end = window(since, until)
    with connect(engine) as conn:
        known = set(conn.scalars(sa.select(Station.code).where(Station.code.in_(codes))))
        if unknown := sorted(set(codes) - known):
            raise NotFoundError(f"unknown station(s): {', '.join(unknown)}")
        rows = conn.execute(
            sa.select(Station.code, Station.name, Reading.parameter, Reading.observed_at,
                      Reading.value, Reading.unit, Reading.flags, Reading.source)
            .select_from(Reading).join(Station, Station.id == Reading.station_id)
            .where(Station.code.in_(codes), Reading.parameter == param,
                   *between(Reading.observed_at, start, end))
            .order_by(Station.code, Reading.observed_at)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=READING_COLUMNS)
    frame["observed_at"] = utc(frame["observed_at"])
    frame["value"] = frame["value"].astype(float)
    if not include_flagged:
        frame = frame[~frame["flags"].map(is_flagged).astype(bool)]
    if rule:
        frame = resample_readings(frame, rule, how="sum" if param in SUMMED else "mean")
    return frame.reset_index(drop=True)


def resample_readings(frame: pd.DataFrame, rule: str, *, how: str) -> pd.DataFrame:
    """Readings binned per station ("sum" or "mean" of the values; an empty bin is NaN), with
    the union of the bin's flags and the number of values."""
    parts = []
    for (code, name, parameter, unit), group in frame.groupby(
            ["station", "name", "parameter", "unit"], sort=True):
        series = group.set_index("observed_at")
        bins = series["value"].resample(rule)
        values = bins.sum(min_count=1) if how == "sum" else bins.mean()
        flags = series["flags"].resample(rule).agg(
            lambda s: "|".join(sorted(set().union(*map(flag_set, s)))))
        parts.append(pd.DataFrame({
            "station": code, "name": name, "parameter": parameter,
            "observed_at": values.index, "value": values.to_numpy(), "unit": unit,
            "flags": flags.reindex(values.index).fillna("").to_numpy(),
            "count": bins.count().to_numpy()}))
    columns = [*READING_COLUMNS[:-1], "count"]
    if not parts:
        return pd.DataFrame({c: frame.get(c, []) for c in columns})
    return pd.concat(parts, ignore_index=True)[columns]


def areas(engine: EngineLike, region: str, level: str = "ward", valid_on: date | None = None
          ) -> gpd.GeoDataFrame:
    """The region's areas of one level (optionally those valid on a day), EPSG:4326."""
    parent = aliased(Area)
    with connect(engine) as conn:
        require_level(conn, region, level)
        valid = [] if valid_on is None else [
            sa.or_(Area.valid_from.is_(None), Area.valid_from <= valid_on),
            sa.or_(Area.valid_to.is_(None), Area.valid_to > valid_on)]
        rows = conn.execute(
            sa.select(Area.code, Area.name_vi, Area.name_ascii, Area.level,
                      parent.code.label("parent_code"), Area.population, Area.population_year,
                      Area.area_km2, Area.valid_from, Area.valid_to, Area.geom)
            .outerjoin(parent, parent.id == Area.parent_id)
            .where(Area.region == region, Area.level == level, *valid)
            .order_by(Area.code)).all()
    columns = ["code", "name", "name_ascii", "level", "parent_code", "population",
               "population_year", "area_km2", "valid_from", "valid_to"]
    frame = pd.DataFrame([tuple(r)[:-1] for r in rows], columns=columns)
    frame["population"] = frame["population"].astype("Int64")
    return gpd.GeoDataFrame(frame, geometry=[to_shape(r.geom) for r in rows], crs=WGS84)
