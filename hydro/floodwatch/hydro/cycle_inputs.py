"""The model cycle's inputs at one time, read from the store: the newest usable level of each
river gauge, the rain gauges' accumulations, depth sensors; and what was left out as stale.

A reading is usable when it has a value and carries no QC flag other than the informative ones
(provisional, estimated). A gauge whose newest usable reading is older than ``stale_after`` is
left out of the run and named in ``stale`` (with its newest reading's time).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import sqlalchemy as sa
import xarray as xr
from sqlalchemy.engine import Engine

from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import as_utc
from floodwatch.gis_data.models import Reading, Station
from floodwatch.hydro.feeds.base import FLAG_SEPARATOR, INFORMATIVE_FLAGS, Parameter
from floodwatch.hydro.feeds.grid import open_rainfall
from floodwatch.hydro.rainfall import WINDOWS_H, accumulate

RAIN_LOOKBACK = timedelta(hours=max(WINDOWS_H))
RAIN_DAY = timedelta(hours=24)


@dataclass(frozen=True)
class Level:
    code: str
    observed_at: datetime
    value: float


@dataclass
class CycleInputs:
    levels: dict[str, Level] = field(default_factory=dict)  # river gauges, by station code
    depths: dict[str, Level] = field(default_factory=dict)  # depth sensors, by station code
    rain: pd.DataFrame | None = None  # accumulations: station, window_h, rain_mm, coverage …
    rain_grid: xr.DataArray | None = None  # 24 h of gridded rain (mm) on its own grid
    used: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)


def usable(value: float | None, flags: str) -> bool:
    if value is None or value != value:  # NaN
        return False
    return all(f in INFORMATIVE_FLAGS for f in filter(None, flags.split(FLAG_SEPARATOR)))


def read_inputs(engine: Engine, region: str, at: datetime, *, stale_after: timedelta,
                gauges: Iterable[str], rain_grid_dir: Path | None = None) -> CycleInputs:
    """Inputs at ``at`` for the river ``gauges`` (station codes) of the flood model, every
    rain gauge and depth sensor of the region, and the gridded rain files of ``rain_grid_dir``."""
    out = CycleInputs()
    if rain_grid_dir is not None:
        out.rain_grid = read_rain_grids(rain_grid_dir, at, stale_after, out)
    wanted = sorted(set(gauges))
    newest = _newest(engine, region, at, stale_after)
    for code in wanted:
        found = newest.get((code, Parameter.WATER_LEVEL.value))
        if found is None:
            out.stale.append(_stale(engine, code, at, "no usable water level within "
                                    f"{stale_after} before {at:%Y-%m-%d %H:%M} UTC"))
            continue
        out.levels[code] = found
        out.used.append({"kind": "river_gauge", "station": code, "parameter": "water_level",
                         "observed_at": found.observed_at.isoformat(), "value": found.value})
    for (code, parameter), found in sorted(newest.items()):
        if parameter == Parameter.WATER_DEPTH.value:
            out.depths[code] = found
            out.used.append({"kind": "depth_sensor", "station": code, "parameter": parameter,
                             "observed_at": found.observed_at.isoformat(), "value": found.value})
    out.rain = _rain(engine, region, at, stale_after, out)
    return out


def read_rain_grids(folder: Path, at: datetime, stale_after: timedelta, out: CycleInputs
                    ) -> xr.DataArray | None:
    """The rain of the 24 hours up to ``at`` from the CF-NetCDF files of ``folder`` (radar
    QPE or satellite, each file any number of steps): the steps ending in (at − 24 h, at],
    summed; a missing step is a gap (the coverage is recorded), never filled. None, and said
    so, when no file has a step in the window or the newest step is older than ``stale_after``.
    """
    if not folder.is_dir():
        out.stale.append({"kind": "rain_grid", "folder": str(folder),
                          "reason": "the rain grid folder does not exist"})
        return None
    start, end = np.datetime64(_naive(at - RAIN_DAY)), np.datetime64(_naive(at))
    steps, files, seconds = [], [], 0.0
    for path in sorted(folder.glob("*.nc")):
        try:
            grid = _rain_file(path)
        except InputError as exc:
            out.stale.append({"kind": "rain_grid", "file": path.name, "reason": str(exc)})
            continue
        inside = grid.sel(time=(grid["time"] > start) & (grid["time"] <= end))
        if inside.sizes["time"]:
            steps.append(inside)
            files.append(path.name)
            seconds += float(inside.attrs.get("accumulation_s", 0)) * inside.sizes["time"]
    if not steps:
        out.stale.append({"kind": "rain_grid", "folder": str(folder),
                          "reason": f"no rain grid step in the 24 h before {at:%Y-%m-%d %H:%M}"})
        return None
    stack = xr.concat(steps, "time").sortby("time")
    stack = stack.isel(time=~pd.Index(stack["time"].values).duplicated())
    newest = pd.Timestamp(stack["time"].values.max()).tz_localize("UTC").to_pydatetime()
    if at - newest > stale_after:
        out.stale.append({"kind": "rain_grid", "newest": newest.isoformat(),
                          "reason": f"the newest rain grid step is older than {stale_after}"})
        return None
    total = stack.sum("time", min_count=1)
    total.attrs = {"units": "mm", "crs_wkt": steps[0].attrs["crs_wkt"]}
    total = total.rio.write_crs(steps[0].attrs["crs_wkt"])
    out.used.append({"kind": "rain_grid", "files": files, "steps": int(stack.sizes["time"]),
                     "newest": newest.isoformat(),
                     "coverage": round(min(seconds / RAIN_DAY.total_seconds(), 1.0), 3)})
    return total


_FILES: dict[tuple[str, float], xr.DataArray] = {}


def _rain_file(path: Path) -> xr.DataArray:
    """One rain file, read once per process while it is unchanged."""
    key = (str(path), path.stat().st_mtime)
    if key not in _FILES:
        _FILES[key] = open_rainfall(path)
    return _FILES[key]


def _naive(at: datetime) -> datetime:
    return as_utc(at).replace(tzinfo=None)  # numpy times are naive UTC


def _newest(engine: Engine, region: str, at: datetime, stale_after: timedelta
            ) -> dict[tuple[str, str], Level]:
    query = (
        sa.select(Station.code, Reading.parameter, Reading.observed_at, Reading.value,
                  Reading.flags)
        .join(Station, Station.id == Reading.station_id)
        .where(Station.region == region,
               Reading.parameter.in_([Parameter.WATER_LEVEL.value, Parameter.WATER_DEPTH.value]),
               Reading.observed_at > at - stale_after, Reading.observed_at <= at)
        .order_by(Reading.observed_at.desc())
    )
    found: dict[tuple[str, str], Level] = {}
    with engine.connect() as conn:
        for code, parameter, observed_at, value, flags in conn.execute(query):
            if (code, parameter) not in found and value is not None and usable(value, flags):
                found[(code, parameter)] = Level(code, as_utc(observed_at), float(value))
    return found


def _stale(engine: Engine, code: str, at: datetime, reason: str) -> dict[str, Any]:
    query = (sa.select(sa.func.max(Reading.observed_at), Station.name)
             .join(Station, Station.id == Reading.station_id)
             .where(Station.code == code, Reading.parameter == Parameter.WATER_LEVEL.value,
                    Reading.observed_at <= at)
             .group_by(Station.name))
    with engine.connect() as conn:
        row = conn.execute(query).first()
        name = row[1] if row else conn.scalar(sa.select(Station.name).where(Station.code == code))
    newest = as_utc(row[0]) if row and row[0] else None
    return {"kind": "river_gauge", "station": code, "name": name,
            "newest": newest.isoformat() if newest else None,
            "age_h": round((at - newest).total_seconds() / 3600, 2) if newest else None,
            "reason": reason}


def _rain(engine: Engine, region: str, at: datetime, stale_after: timedelta, out: CycleInputs
          ) -> pd.DataFrame | None:
    """Accumulations over 1–72 h ending at each rain gauge's newest step at or before ``at``;
    QC-flagged readings count as missing (gaps are reported, never filled)."""
    query = (
        sa.select(Station.code, Reading.observed_at, Reading.value, Reading.flags)
        .join(Station, Station.id == Reading.station_id)
        .where(Station.region == region, Reading.parameter == Parameter.RAINFALL.value,
               Reading.observed_at > at - RAIN_LOOKBACK, Reading.observed_at <= at)
        .order_by(Station.code, Reading.observed_at)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["station", "observed_at", "value", "flags"])
    frame["observed_at"] = pd.to_datetime(frame["observed_at"].map(as_utc), utc=True)
    frame["rain_mm"] = [v if usable(v, f) else float("nan")
                        for v, f in zip(frame["value"], frame["flags"], strict=True)]
    parts = []
    for code, group in frame.groupby("station", sort=True):
        series = pd.Series(group["rain_mm"].to_numpy(dtype=float),
                           index=pd.DatetimeIndex(group["observed_at"]))
        steps = series.index.to_series().diff().dropna()
        interval = steps.mode().iloc[0] if len(steps) else pd.Timedelta(hours=1)
        end = series.index.max()
        if at - end.to_pydatetime() > stale_after:
            out.stale.append({"kind": "rain_gauge", "station": code, "newest": end.isoformat(),
                              "reason": f"no rain reading within {stale_after}"})
            continue
        try:
            acc = accumulate(series, end=end.to_pydatetime(), interval=interval.to_pytimedelta())
        except InputError as exc:  # an irregular series: left out, and said so
            out.stale.append({"kind": "rain_gauge", "station": code, "reason": str(exc)})
            continue
        parts.append(acc.assign(station=code))
        out.used.append({
            "kind": "rain_gauge", "station": code, "end": end.isoformat(),
            "interval_s": interval.total_seconds(),
            "rain_mm": {f"{w:g}h": None if pd.isna(v) else round(float(v), 1)
                        for w, v in zip(acc["window_h"], acc["rain_mm"], strict=True)},
            "gaps_24h": len(acc.loc[acc["window_h"] == 24, "gaps"].iloc[0]),
        })
    return pd.concat(parts, ignore_index=True) if parts else None
