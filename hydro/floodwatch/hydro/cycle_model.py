"""One model step on a prepared region grid, without I/O: gauge levels → water surface → flood
depth; rain gauges → a 24-hour rainfall grid; both onto every level of areas; flood points and
extent polygons.

Flood points (the bundled Huế region lists no named places, so none are invented):
``ward_deepest`` — each flooded area's deepest cell (the finest level of areas);
``gauge_site`` — the deepest flooded land within ``gauge_site_radius_m`` of each river gauge
(its river channel left out), 0 when the banks are dry; ``poi`` — each point of interest of the
region definition; ``depth_sensor`` — each depth sensor's own reading.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from shapely.geometry import Point

from floodwatch.core.errors import ConfigError
from floodwatch.hydro.cycle_inputs import CycleInputs, Level
from floodwatch.hydro.flood import (
    deepest_cell_per_zone,
    depth_at_points,
    extent_polygons,
    flood_depth,
)
from floodwatch.hydro.rainfall import idw, regrid
from floodwatch.hydro.region_grid import Reach, RegionGrid, ZoneLevel
from floodwatch.hydro.rivers import water_surface_along_river
from floodwatch.hydro.settings import CycleSettings
from floodwatch.hydro.zonal import areal_mean, flood_stats

STAT_COLUMNS = ["flooded_km2", "flooded_share", "mean_depth_m", "max_depth_m",
                "people_affected", "rain_24h_mm"]


@dataclass
class CycleOutput:
    depth: xr.DataArray | None = None
    rain_24h: xr.DataArray | None = None
    stats: dict[str, pd.DataFrame] = field(default_factory=dict)  # per level, index = code
    points: list[dict[str, Any]] = field(default_factory=list)  # kind, name, code, depth_m, x, y
    extents: gpd.GeoDataFrame | None = None  # metric CRS
    notes: list[str] = field(default_factory=list)
    timing_s: dict[str, float] = field(default_factory=dict)


class _Clock:
    def __init__(self, timing: dict[str, float]) -> None:
        self.timing, self.last = timing, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timing[name] = round(now - self.last, 4)
        self.last = now


def compute(grid: RegionGrid, inputs: CycleInputs, levels: list[ZoneLevel],
            params: CycleSettings) -> CycleOutput:
    out = CycleOutput()
    clock = _Clock(out.timing_s)
    out.rain_24h = _rain_grid(grid, inputs, params)
    clock.lap("rainfall")
    if grid.dem is not None:
        wse = water_surface(grid, inputs.levels, out.notes)
        clock.lap("water_surface")
        if wse is not None:
            out.depth = _land_depth(grid, wse, params)
            clock.lap("flood_depth")
    else:
        out.notes.append("no terrain in the region definition: flood depth not modelled")
    for level in levels:
        out.stats[level.level] = _level_stats(level, out.depth, out.rain_24h, params,
                                              grid.population)
    clock.lap("zonal_stats")
    finest = max(levels, key=lambda lv: len(lv.index.codes)) if levels else None
    out.points = _points(grid, inputs, out.depth, finest, params)
    clock.lap("flood_points")
    if out.depth is not None:
        extents = extent_polygons(out.depth, params.depth_classes_m,
                                  simplify_m=float(grid.template.rio.resolution()[0]))
        out.extents = extents[~extents.geometry.is_empty]
        clock.lap("extents")
    return out


def water_surface(grid: RegionGrid, levels: dict[str, Level], notes: list[str]
                  ) -> xr.DataArray | None:
    """The water surface (m, DEM datum) on the water cells: static water at its level, each
    gauged river from its fresh gauges (a tributary sloped to its main river's level at the
    confluence); NaN elsewhere. None when nothing could be seeded."""
    assert grid.dem is not None
    level_m = float(grid.terrain.get("water_level_m") or 0.0)
    wse = np.full(grid.dem.shape, np.nan, dtype=np.float32)
    if grid.water is not None:
        wse[grid.water] = level_m
    profiles: dict[str, RiverProfile] = {}
    pending = list(grid.reaches)
    while pending:
        ready = [r for r in pending
                 if r.outlet is None or all(p.river != r.outlet for p in pending)]
        if not ready:
            raise ConfigError("the terrain rivers' outlets form a loop")
        for reach in ready:
            pending.remove(reach)
            profile = _reach_profile(reach, levels, level_m, profiles, notes)
            if profile is not None:
                profiles[reach.river] = profile
                np.fmax(wse, profile.at(reach.chainage), out=wse)
    if grid.reaches and not profiles:
        notes.append("no fresh river gauge: flood depth not modelled in this run")
        return None
    if np.isnan(wse).all():
        notes.append("no water to spread: no static water and no fresh river gauge")
        return None
    out = grid.dem.copy(data=wse)
    out.name = "water_surface"
    out.attrs = {"units": "m", "long_name": "water-surface elevation on the DEM datum",
                 "rivers": ", ".join(profiles) or "none"}
    return out


@dataclass(frozen=True)
class RiverProfile:
    """A river's water surface along its main stem, from its gauges read at this run."""

    reach: Reach
    chainage_m: tuple[float, ...]
    level_m: tuple[float, ...]
    datum_offset_m: tuple[float, ...]
    mouth_level_m: float | None
    mouth_chainage_m: float | None

    def at(self, chainage_m: np.ndarray) -> np.ndarray:
        wse = water_surface_along_river(
            chainage_m, np.array(self.chainage_m), np.array(self.level_m),
            datum_offset_m=np.array(self.datum_offset_m), downstream_level_m=self.mouth_level_m,
            downstream_chainage_m=self.mouth_chainage_m)
        return np.asarray(wse, dtype=np.float32)


def _reach_profile(reach: Reach, levels: dict[str, Level], level_m: float,
                   profiles: dict[str, RiverProfile], notes: list[str]) -> RiverProfile | None:
    read = [g for g in reach.gauges if g.code in levels]
    if not read:
        notes.append(f"{reach.river}: no fresh gauge level, river not seeded")
        return None
    mouth: float | None = level_m
    if reach.outlet is not None:
        host = profiles.get(reach.outlet)
        if host is None:
            notes.append(f"{reach.river}: {reach.outlet} is not seeded, so the level below the "
                         "last gauge is held")
            mouth = None
        else:
            confluence = host.reach.line_m.project(Point(reach.line_m.coords[-1]))
            mouth = float(host.at(np.array([confluence]))[0])
    length = float(reach.line_m.length)
    below = mouth is not None and length > max(g.chainage_m for g in read) + 1.0
    return RiverProfile(reach, tuple(g.chainage_m for g in read),
                        tuple(levels[g.code].value for g in read),
                        tuple(g.datum_offset_m for g in read),
                        mouth if below else None, length if below else None)


def _land_depth(grid: RegionGrid, wse: xr.DataArray, params: CycleSettings) -> xr.DataArray:
    assert grid.dem is not None
    depth = flood_depth(grid.dem, wse, min_depth_m=params.min_depth_m,
                        max_distance_m=params.max_distance_m)
    values = depth.values
    permanent = np.zeros(values.shape, dtype=bool)
    for mask in (grid.water, grid.channels):
        if mask is not None:
            permanent |= mask
    values[permanent & ~np.isnan(values)] = 0.0
    depth.attrs["permanent_water"] = "river channels and sea/lagoon cells are 0 (not flooded land)"
    depth.attrs["terrain_approximate"] = int(bool(grid.terrain.get("approximate")))
    return depth


def _rain_grid(grid: RegionGrid, inputs: CycleInputs, params: CycleSettings
               ) -> xr.DataArray | None:
    """24-hour rain on the grid: the gridded rain (radar / satellite) where it covers, the
    gauges' IDW elsewhere."""
    gauges = _gauge_rain(grid, inputs, params)
    if inputs.rain_grid is None:
        return gauges
    gridded = regrid(inputs.rain_grid, grid.template)
    if gauges is None:
        return gridded
    merged = gridded.copy(data=np.where(np.isnan(gridded.values), gauges.values, gridded.values))
    merged.attrs["method"] = "gridded rain where it covers, gauge IDW elsewhere"
    return merged


def _gauge_rain(grid: RegionGrid, inputs: CycleInputs, params: CycleSettings
                ) -> xr.DataArray | None:
    if inputs.rain is None:
        return None
    day = inputs.rain[inputs.rain["window_h"] == 24]
    located = [(c, v) for c, v in zip(day["station"], day["rain_mm"], strict=True)
               if c in grid.stations_xy and pd.notna(v)]
    if not located:
        return None
    xy = np.array([grid.stations_xy[c] for c, _ in located])
    values = np.array([v for _, v in located], dtype=float)
    return idw(xy, values, grid.template, k=params.idw_k, power=params.idw_power,
               radius_m=params.idw_radius_m)


def _level_stats(level: ZoneLevel, depth: xr.DataArray | None, rain: xr.DataArray | None,
                 params: CycleSettings, population: np.ndarray | None) -> pd.DataFrame:
    """People affected: the people on flooded cells where the region has a population raster,
    else the area's population × its flooded share (people spread evenly)."""
    if depth is not None and population is not None:
        frame = flood_stats(level.index, depth, min_depth_m=params.min_depth_m,
                            population_raster=population)
    elif depth is not None:
        frame = flood_stats(level.index, depth, min_depth_m=params.min_depth_m,
                            population=level.population)
    else:  # not modelled: unknown, not zero
        frame = pd.DataFrame(index=pd.Index(level.index.codes, name="code"))
        for column in ("flooded_km2", "flooded_share", "mean_depth_m", "max_depth_m"):
            frame[column] = np.nan
        frame["people_affected"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    frame["rain_24h_mm"] = areal_mean(level.index, rain) if rain is not None else np.nan
    return frame[STAT_COLUMNS]


def _points(grid: RegionGrid, inputs: CycleInputs, depth: xr.DataArray | None,
            finest: ZoneLevel | None, params: CycleSettings) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = []
    x, y = grid.template["x"].values, grid.template["y"].values
    if depth is not None and finest is not None:
        deepest = deepest_cell_per_zone(depth, finest.numbered, len(finest.index.codes))
        for k, code in enumerate(finest.index.codes):
            d = deepest.depth_m[k]
            if np.isfinite(d) and d >= params.min_depth_m:
                points.append({"kind": "ward_deepest", "name": finest.names[code],
                               "depth_m": round(float(d), 2),
                               "x": float(x[deepest.col[k]]), "y": float(y[deepest.row[k]])})
        for reach in grid.reaches:
            for g in reach.gauges:
                points.append({"kind": "gauge_site", "name": g.name, "x": g.xy_m[0],
                               "y": g.xy_m[1], "depth_m": _near(depth, g.xy_m,
                                                                 params.gauge_site_radius_m)})
        if grid.points:
            xy = np.array([(px, py) for _, px, py in grid.points])
            values = depth_at_points(depth, xy)
            for (name, px, py), d in zip(grid.points, values, strict=True):
                points.append({"kind": "poi", "name": name, "x": px, "y": py,
                               "depth_m": None if np.isnan(d) else round(float(d), 2)})
    for code, level in sorted(inputs.depths.items()):
        if code in grid.stations_xy:
            px, py = grid.stations_xy[code]
            points.append({"kind": "depth_sensor", "name": code, "x": px, "y": py,
                           "depth_m": round(level.value, 2)})
    for p in points:
        p["code"] = _zone_at(finest, grid, p["x"], p["y"]) if finest is not None else None
    return points


def _near(depth: xr.DataArray, xy: tuple[float, float], radius_m: float) -> float | None:
    window = depth.sel(x=slice(xy[0] - radius_m, xy[0] + radius_m),
                       y=slice(xy[1] + radius_m, xy[1] - radius_m)).values
    if window.size == 0 or np.isnan(window).all():
        return None
    return round(float(np.nanmax(window)), 2)


def _zone_at(level: ZoneLevel, grid: RegionGrid, px: float, py: float) -> str | None:
    transform = grid.template.rio.transform()
    col, row = ~transform @ (px, py)
    r, c = int(np.floor(row)), int(np.floor(col))
    labels = level.index.labels
    if not (0 <= r < labels.shape[0] and 0 <= c < labels.shape[1]):
        return None
    k = int(labels[r, c])
    return level.index.codes[k] if k < len(level.index.codes) else None
