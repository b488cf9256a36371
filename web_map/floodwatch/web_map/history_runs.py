"""Model runs in a region's history: each run's status and stale inputs, its figures per area
(pandas, or geopandas with the areas' shapes), and its flood-depth raster (xarray), alone or
stacked over time. Times and engines as in ``history``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import rioxarray
import sqlalchemy as sa
import xarray as xr

from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.gis_data.models import WGS84, Area
from floodwatch.hydro.models import AreaResult, ModelRun
from floodwatch.web_map.history import (
    EngineLike,
    Instant,
    areas,
    between,
    connect,
    instant,
    require_level,
    require_region,
    utc,
    window,
)

RESULT_COLUMNS = ["run_id", "valid_at", "status", "code", "name", "population", "flooded_km2",
                  "flooded_share", "mean_depth_m", "max_depth_m", "people_affected",
                  "rain_24h_mm"]


def ward_results(engine: EngineLike, region: str, since: Instant = None, until: Instant = None,
                 level: str = "ward", *, geometry: bool = False) -> pd.DataFrame:
    """The model's figures per area of ``level`` in each run of the window, by time and code;
    with ``geometry`` a GeoDataFrame with the areas' shapes (a layer, not only a table)."""
    start, end = window(since, until)
    r = AreaResult
    with connect(engine) as conn:
        require_level(conn, region, level)
        rows = conn.execute(
            sa.select(ModelRun.id, ModelRun.valid_at, ModelRun.status, Area.code, Area.name_vi,
                      Area.population, r.flooded_km2, r.flooded_share, r.mean_depth_m,
                      r.max_depth_m, r.people_affected, r.rain_24h_mm)
            .select_from(r).join(ModelRun, ModelRun.id == r.run_id)
            .join(Area, Area.id == r.area_id)
            .where(ModelRun.region == region, Area.level == level,
                   *between(ModelRun.valid_at, start, end))
            .order_by(ModelRun.valid_at, Area.code)).all()
    frame = pd.DataFrame([tuple(x) for x in rows], columns=RESULT_COLUMNS)
    frame["valid_at"] = utc(frame["valid_at"])
    frame["population"] = frame["population"].astype("Int64")
    for column in RESULT_COLUMNS[6:]:
        frame[column] = frame[column].astype("Int64" if column == "people_affected" else float)
    if not geometry:
        return frame
    shapes = areas(engine, region, level)[["code", "geometry"]]
    return gpd.GeoDataFrame(frame.merge(shapes, on="code", how="left"), geometry="geometry",
                            crs=WGS84)


def runs(engine: EngineLike, region: str, since: Instant = None, until: Instant = None
         ) -> pd.DataFrame:
    """The model runs of the window: status, the inputs left out as stale, timing, raster."""
    start, end = window(since, until)
    m = ModelRun
    with connect(engine) as conn:
        require_region(conn, region)
        rows = conn.execute(
            sa.select(m.id, m.valid_at, m.status, m.inputs, m.stale_inputs, m.timing_s,
                      m.depth_path, m.message)
            .where(m.region == region, *between(m.valid_at, start, end))
            .order_by(m.valid_at)).all()
    return pd.DataFrame({
        "run_id": [x.id for x in rows], "valid_at": utc(x.valid_at for x in rows),
        "status": [x.status for x in rows],
        "inputs": [len(x.inputs or []) for x in rows],
        "stale": ["|".join(sorted(str(s.get("station")) for s in x.stale_inputs or []))
                  for x in rows],
        "total_s": pd.Series([(x.timing_s or {}).get("total") for x in rows], dtype=float),
        "depth_path": [x.depth_path for x in rows], "message": [x.message for x in rows]})


def _open_depth(path: str, run_id: int, valid_at: datetime,
                chunks: dict[str, int] | None = None) -> xr.DataArray:
    if not Path(path).is_file():
        raise NotFoundError(f"the depth raster of run {run_id} ({valid_at:%Y-%m-%d %H:%M} UTC) "
                            f"is missing: {path}")
    opened = rioxarray.open_rasterio(path, masked=True, chunks=chunks)
    assert isinstance(opened, xr.DataArray)
    depth = opened.squeeze("band", drop=True)
    depth.name = "depth"
    for key in ("scale_factor", "add_offset"):  # the identity scaling GDAL reports
        depth.attrs.pop(key, None)
    depth.attrs.update(units="m", run_id=run_id, valid_at=valid_at.isoformat())
    return depth


def _depth_runs(conn: sa.Connection, region: str, *where: sa.ColumnElement[bool]) -> list[Any]:
    return list(conn.execute(
        sa.select(ModelRun.id, ModelRun.valid_at, ModelRun.depth_path)
        .where(ModelRun.region == region, *where).order_by(ModelRun.valid_at)))


def depth(engine: EngineLike, region: str, valid_at: Instant) -> xr.DataArray:
    """The flood depth (m) of the newest run at or before ``valid_at``, in the region's metric
    CRS; NaN where the terrain has no data."""
    at = instant(valid_at, "valid_at")
    if at is None:
        raise InputError("valid_at: give the time of the run")
    with connect(engine) as conn:
        require_region(conn, region)
        found = _depth_runs(conn, region, ModelRun.valid_at <= at)
    if not found:
        raise NotFoundError(f"no model run of {region} at or before {at:%Y-%m-%d %H:%M} UTC")
    run = found[-1]
    if not run.depth_path:
        raise NotFoundError(f"the run of {run.valid_at:%Y-%m-%d %H:%M} UTC has no depth raster "
                            "(a region without terrain, or keep_depth_rasters off)")
    return _open_depth(run.depth_path, run.id, run.valid_at).load()


def depth_stack(engine: EngineLike, region: str, since: Instant = None, until: Instant = None
                ) -> xr.DataArray:
    """The depth rasters of the window's runs as one lazy (dask) array over time × y × x."""
    start, end = window(since, until)
    with connect(engine) as conn:
        require_region(conn, region)
        found = [r for r in _depth_runs(conn, region, *between(ModelRun.valid_at, start, end))
                 if r.depth_path]
    if not found:
        raise NotFoundError(f"no depth rasters of {region} in the window")
    arrays = [_open_depth(r.depth_path, r.id, r.valid_at, chunks={"y": 512, "x": 512})
              for r in found]
    first = arrays[0]
    for r, a in zip(found, arrays, strict=True):
        if a.shape != first.shape or a.rio.transform() != first.rio.transform():
            raise InputError(f"the depth raster of {r.valid_at:%Y-%m-%d %H:%M} UTC is on another "
                             "grid than the first (the terrain changed): export a shorter window")
    times = pd.DatetimeIndex([r.valid_at for r in found]).tz_convert(None)
    stack = xr.concat(arrays, dim=pd.Index(times, name="time"), coords="minimal",
                      compat="override", join="override", combine_attrs="drop")
    stack = stack.assign_coords(run_id=("time", [r.id for r in found]))
    stack.name = "depth"
    stack.attrs = {k: v for k, v in first.attrs.items() if k not in ("run_id", "valid_at")}
    return stack
