"""What the model cycle needs of a region, prepared once per process and reused by every run:
the grid and its terrain, the static water (sea, lagoons), each gauged river's main stem with its
chainage on the grid and its gauges, and the areas of each level rasterised on the grid.

A region loaded without a ``[terrain]`` section gets a plain grid over its areas
(``resolution_m``): rainfall and zonal figures are computed, flood depth is not.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import rioxarray
import shapely
import sqlalchemy as sa
import xarray as xr
from geoalchemy2.shape import to_shape
from rasterio.enums import Resampling
from rasterio.features import geometry_mask, rasterize
from scipy.ndimage import distance_transform_edt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from shapely.geometry import LineString
from sqlalchemy.engine import Engine

from floodwatch.core.errors import ConfigError, InputError, NotFoundError
from floodwatch.gis_data.models import WGS84, Area, Region, River, Station
from floodwatch.gis_data.region import RegionDefinition, TerrainLayer, load_definition
from floodwatch.gis_data.vectors import read_layer
from floodwatch.hydro.grid import grid_template
from floodwatch.hydro.raster_checks import metres_factor, metric_grid
from floodwatch.hydro.rivers import river_chainage
from floodwatch.hydro.zonal import ZoneIndex

#: A gauge farther than this from its river line is refused (its chainage would be meaningless).
MAX_GAUGE_OFFSET_M = 1000.0


@dataclass(frozen=True)
class Gauge:
    code: str
    name: str
    chainage_m: float
    datum_offset_m: float
    xy_m: tuple[float, float]


@dataclass(frozen=True)
class Reach:
    """A gauged river's main stem on the grid, upstream → downstream."""

    river: str
    line_m: LineString
    chainage: np.ndarray  # (y, x) float32, NaN off the river
    gauges: tuple[Gauge, ...]
    outlet: str | None  # None: sloped to the water level at the mouth; or the river it joins


@dataclass(frozen=True)
class ZoneLevel:
    """The areas of one level valid at the run's time, rasterised once."""

    level: str
    index: ZoneIndex
    area_ids: dict[str, int]
    names: dict[str, str]
    population: pd.Series  # people per area code (NaN where unknown)

    @cached_property
    def numbered(self) -> np.ndarray:
        """The zone of each cell as 1..n, 0 = none (the index keeps n for "none")."""
        n = len(self.index.codes)
        labels = self.index.labels.astype(np.int64) + 1
        labels[labels == n + 1] = 0
        return labels


@dataclass
class RegionGrid:
    region: str
    metric_crs: str
    template: xr.DataArray
    dem: xr.DataArray | None
    water: np.ndarray | None  # static water cells (sea, lagoon), bool
    channels: np.ndarray | None  # river channels (within channel_half_width_m of a river line)
    reaches: tuple[Reach, ...]
    terrain: dict[str, Any]  # provenance of the DEM: file, approximate, note, sha256
    points: tuple[tuple[str, float, float], ...]  # points of interest: name, x_m, y_m
    stations_xy: dict[str, tuple[float, float]]  # every located station of the region, metric
    population: np.ndarray | None = None  # people per cell of the grid, when the region has it
    _levels: dict[tuple[str, tuple[int, ...]], ZoneLevel] = field(default_factory=dict)
    _areas: gpd.GeoDataFrame | None = None

    def levels_at(self, at: datetime) -> list[ZoneLevel]:
        """Each level's areas valid at ``at`` (valid_from <= at < valid_to), rasterised once."""
        assert self._areas is not None
        day = at.date()
        areas = self._areas
        valid = [(pd.isna(lo) or lo <= day) and (pd.isna(hi) or day < hi)
                 for lo, hi in zip(areas["valid_from"], areas["valid_to"], strict=True)]
        out = []
        for level, group in areas[valid].groupby("level", sort=True):
            key = (str(level), tuple(int(i) for i in group["id"]))
            if key not in self._levels:
                index = ZoneIndex.build(group[["code", "geometry"]], self.template)
                self._levels[key] = ZoneLevel(
                    str(level), index, dict(zip(group["code"], group["id"], strict=True)),
                    dict(zip(group["code"], group["name_vi"], strict=True)),
                    pd.Series(group["population"].to_numpy(dtype=float), index=group["code"]))
            out.append(self._levels[key])
        return out


_CACHE: dict[tuple[str, str, str], RegionGrid] = {}


def region_grid(engine: Engine, region: str, *, resolution_m: float = 100.0) -> RegionGrid:
    """The prepared grid of ``region``, cached per process until the region is reloaded."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(Region.source_hash, Region.definition, Region.metric_crs)
                           .where(Region.name == region)).first()
    if row is None:
        raise NotFoundError(f"region {region!r} is not loaded (run `floodwatch region load`)")
    key = (str(engine.url), region, row.source_hash)
    if key not in _CACHE:
        _CACHE.clear()  # one region grid at a time: they are large
        _CACHE[key] = build_region_grid(engine, region, row.definition, row.metric_crs,
                                        resolution_m=resolution_m)
    return _CACHE[key]


def build_region_grid(engine: Engine, region: str, definition_path: str | None, metric_crs: str,
                      *, resolution_m: float) -> RegionGrid:
    definition = _definition(definition_path)
    areas = _areas(engine, region, metric_crs)
    stations = _stations(engine, region, metric_crs)
    terrain = definition.terrain if definition else None
    if terrain is not None:
        dem = read_dem(definition.path(terrain.file), metric_crs)  # type: ignore[union-attr]
        template = dem
    else:
        dem = None
        template = grid_template(tuple(areas.total_bounds), resolution_m, metric_crs)
    grid = RegionGrid(region, metric_crs, template, dem, None, None, (), {"file": None},
                      _points(definition, metric_crs),
                      {code: (g.x, g.y) for code, g in stations.geometry.items()},
                      _areas=areas)
    if definition is not None and definition.population_raster is not None:
        grid.population = read_population(definition.path(definition.population_raster.file),
                                          template)
    if terrain is not None and definition is not None and dem is not None:
        grid.water = _water(dem, terrain, definition)
        lines = _river_lines(engine, region, metric_crs)
        grid.channels = _channels(dem, lines, terrain.channel_half_width_m)
        grid.reaches = _reaches(lines, terrain, dem, stations)
        grid.terrain = {
            "file": str(definition.path(terrain.file)),
            "approximate": terrain.approximate,
            "note": terrain.note,
            "array_sha256": dem.attrs.get("array_sha256")
            or hashlib.sha256(np.ascontiguousarray(dem.values).tobytes()).hexdigest(),
            "water_level_m": terrain.water_level_m,
        }
    return grid


def _definition(path: str | None) -> RegionDefinition | None:
    if not path:
        return None
    try:
        return load_definition(path)
    except NotFoundError:
        return None  # loaded from files that have moved: no terrain, no points


def read_dem(path: Path, metric_crs: str) -> xr.DataArray:
    """The DEM in metres on a north-up grid in the region's metric CRS (reprojected if not)."""
    if not path.is_file():
        raise ConfigError(f"terrain file {path} does not exist (see `floodwatch region fetch-dem`)")
    opened = rioxarray.open_rasterio(path, masked=True)
    if not isinstance(opened, xr.DataArray):
        raise InputError(f"terrain file {path} holds several rasters: give one DEM band")
    dem = opened.squeeze("band", drop=True)
    if dem.rio.crs is None:
        raise InputError(f"terrain file {path} has no CRS")
    if pyproj.CRS.from_user_input(dem.rio.crs) != pyproj.CRS.from_user_input(metric_crs):
        dem = dem.rio.reproject(metric_crs)
    dem = dem.astype(np.float32).load()
    dem.attrs.setdefault("units", "m")
    factor = metres_factor(dem, str(path))
    if factor != 1.0:
        dem = dem * np.float32(factor)
        dem.attrs["units"] = "m"
    dem.name = "dem"
    metric_grid(dem, str(path))  # refuses a geographic or irregular grid with a clear message
    return dem


def read_population(path: Path, template: xr.DataArray) -> np.ndarray:
    """People per cell of ``template`` from a population raster on any grid: resampled by sum
    (each source cell's people shared by overlap), so totals are kept."""
    if not path.is_file():
        raise ConfigError(f"population raster {path} does not exist")
    opened = rioxarray.open_rasterio(path, masked=True)
    if not isinstance(opened, xr.DataArray) or opened.rio.crs is None:
        raise InputError(f"population raster {path}: one band with a CRS is needed")
    people = opened.squeeze("band", drop=True).astype(np.float64)
    people = people.where(people >= 0)  # negative or nodata: nobody known there
    moved = people.rio.reproject_match(template, resampling=Resampling.sum, nodata=np.nan)
    return np.asarray(moved.values, dtype=np.float64)


def _areas(engine: Engine, region: str, metric_crs: str) -> gpd.GeoDataFrame:
    query = sa.select(Area.id, Area.level, Area.code, Area.name_vi, Area.population,
                      Area.valid_from, Area.valid_to, Area.geom).where(Area.region == region)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise NotFoundError(f"region {region!r} has no areas")
    frame = gpd.GeoDataFrame(
        [{"id": r.id, "level": r.level, "code": r.code, "name_vi": r.name_vi,
          "population": r.population, "valid_from": r.valid_from, "valid_to": r.valid_to,
          "geometry": to_shape(r.geom)} for r in rows], geometry="geometry", crs=WGS84)
    return frame.to_crs(metric_crs)


def _stations(engine: Engine, region: str, metric_crs: str) -> gpd.GeoDataFrame:
    query = (sa.select(Station.code, Station.name, Station.river_name, Station.geom)
             .where(Station.region == region, Station.geom.is_not(None)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = gpd.GeoDataFrame(
        {"name": [r.name for r in rows], "river": [r.river_name for r in rows]},
        geometry=[to_shape(r.geom) for r in rows], index=[r.code for r in rows], crs=WGS84)
    return frame.to_crs(metric_crs)


def _points(definition: RegionDefinition | None, metric_crs: str
            ) -> tuple[tuple[str, float, float], ...]:
    if definition is None or definition.points is None:
        return ()
    layer = definition.points
    frame = read_layer(definition.path(layer.file), crs=layer.crs, label="points of interest")
    if layer.name_field not in frame.columns:
        raise ConfigError(f"points of interest: no field {layer.name_field!r}")
    frame = frame.to_crs(metric_crs)
    return tuple((str(name), float(g.x), float(g.y))
                 for name, g in zip(frame[layer.name_field], frame.geometry, strict=True)
                 if g is not None and g.geom_type == "Point")


def _water(dem: xr.DataArray, terrain: TerrainLayer, definition: RegionDefinition) -> np.ndarray:
    values = dem.values
    water = np.zeros(values.shape, dtype=bool)
    if terrain.water_at_level:
        water |= np.abs(values - terrain.water_level_m) < 0.005
    for file in terrain.water_files:
        frame = read_layer(definition.path(file), label="water").to_crs(dem.rio.crs)
        geoms = [g for g in frame.geometry if g is not None and not g.is_empty]
        if geoms:
            water |= ~geometry_mask(geoms, out_shape=values.shape, transform=dem.rio.transform())
    return water


def _river_lines(engine: Engine, region: str, metric_crs: str) -> dict[str, Any]:
    """Each river's lines (one geometry per name), in the metric CRS."""
    with engine.connect() as conn:
        rivers = conn.execute(sa.select(River.name, River.geom)
                              .where(River.region == region)).all()
    by_name: dict[str, list[Any]] = {}
    for name, geom in rivers:
        by_name.setdefault(name, []).append(to_shape(geom))
    return {name: shapely.union_all(gpd.GeoSeries(geoms, crs=WGS84).to_crs(metric_crs).values)
            for name, geoms in by_name.items()}


def _channels(dem: xr.DataArray, lines: dict[str, Any], half_width_m: float) -> np.ndarray:
    """Cells within ``half_width_m`` of any river line: the rivers' own channels, wet in any
    weather, which the flood statistics leave out (they are not flooded land)."""
    shape = dem.shape
    if not lines:
        return np.zeros(shape, dtype=bool)
    on_line = rasterize([(g, 1) for g in lines.values()], out_shape=shape,
                        transform=dem.rio.transform(), all_touched=True, dtype="uint8") > 0
    if half_width_m <= 0:
        return on_line
    grid = metric_grid(dem, "dem")
    distance = distance_transform_edt(~on_line, sampling=(grid.dy_m, grid.dx_m))
    return np.asarray(distance <= half_width_m)


def _reaches(by_name: dict[str, Any], terrain: TerrainLayer, dem: xr.DataArray,
             stations: gpd.GeoDataFrame) -> tuple[Reach, ...]:
    reaches = []
    for cfg in terrain.rivers:
        if cfg.river not in by_name:
            raise ConfigError(f"terrain river {cfg.river!r} is not among the region's rivers "
                              f"({', '.join(sorted(by_name)) or 'none loaded'})")
        line = main_stem(by_name[cfg.river], dem)
        codes = cfg.gauges or tuple(c for c, r in stations["river"].items() if r == cfg.river)
        gauges = []
        for code in codes:
            if code not in stations.index:
                raise ConfigError(f"gauge {code!r} of {cfg.river} is not a located station")
            point = stations.geometry[code]
            offset = line.distance(point)
            if offset > MAX_GAUGE_OFFSET_M:
                raise ConfigError(f"gauge {code} is {offset:.0f} m from {cfg.river}: move it "
                                  "onto the river line or fix the river")
            gauges.append(Gauge(code, str(stations["name"][code]), float(line.project(point)),
                                float(cfg.datum_offset_m.get(code, 0.0)), (point.x, point.y)))
        chainage = river_chainage(line, dem).values
        reaches.append(Reach(cfg.river, line, chainage, tuple(gauges), cfg.outlet))
    return tuple(reaches)


def main_stem(network: Any, dem: xr.DataArray) -> LineString:
    """The longest-flowing path of a river's lines, oriented upstream → downstream.

    The lines are merged; their free ends are the sources and mouths. The source is the free
    end highest on the DEM, the mouth the lowest; between them the shortest path along the lines
    (so a braid or an island keeps one channel). A single line is only oriented.
    """
    merged = shapely.line_merge(shapely.union_all(network))  # noded where lines cross
    parts = list(getattr(merged, "geoms", [merged]))
    if not parts or any(p.geom_type != "LineString" or p.is_empty for p in parts):
        raise InputError("a river must be made of lines")
    node_of: dict[tuple[float, float], int] = {}

    def node(xy: tuple[float, ...]) -> int:
        return node_of.setdefault((round(xy[0], 1), round(xy[1], 1)), len(node_of))

    edges: dict[tuple[int, int], LineString] = {}
    for p in parts:
        a, b = node(p.coords[0]), node(p.coords[-1])
        key = (min(a, b), max(a, b))
        if a != b and (key not in edges or p.length < edges[key].length):
            edges[key] = p if a < b else LineString(p.coords[::-1])
    degree = np.zeros(len(node_of), dtype=int)
    for a, b in edges:
        degree[a] += 1
        degree[b] += 1
    coords = np.array(list(node_of), dtype=float)
    ends = np.flatnonzero(degree == 1)
    if len(ends) < 2:
        raise InputError("a river's lines must have two free ends (a source and a mouth)")
    height = _heights(dem, coords[ends])
    source, mouth = ends[np.nanargmax(height)], ends[np.nanargmin(height)]
    if source == mouth:  # flat or off the DEM: keep the digitised order
        source, mouth = ends[0], ends[-1]
    pairs = np.array(list(edges))
    weights = np.array([e.length for e in edges.values()])
    graph = coo_matrix((weights, (pairs[:, 0], pairs[:, 1])), shape=(len(node_of),) * 2).tocsr()
    _, previous = dijkstra(graph, directed=False, indices=int(source), return_predecessors=True)
    path = [int(mouth)]
    while path[-1] != source:
        if previous[path[-1]] < 0:
            raise InputError("a river's source and mouth are not connected by its lines")
        path.append(int(previous[path[-1]]))
    path.reverse()
    xy: list[tuple[float, ...]] = []
    for a, b in pairwise(path):
        part = edges[(min(a, b), max(a, b))]
        seq = list(part.coords) if a < b else list(part.coords)[::-1]
        xy.extend(seq if not xy else seq[1:])
    return LineString(xy)


def _heights(dem: xr.DataArray, xy: np.ndarray) -> np.ndarray:
    x = xr.DataArray(xy[:, 0], dims="p")
    y = xr.DataArray(xy[:, 1], dims="p")
    inside = ((xy[:, 0] >= float(dem.x.min())) & (xy[:, 0] <= float(dem.x.max()))
              & (xy[:, 1] >= float(dem.y.min())) & (xy[:, 1] <= float(dem.y.max())))
    values = dem.sel(x=x, y=y, method="nearest").values.astype(float)
    out: np.ndarray = np.where(inside, values, math.nan)
    if np.all(np.isnan(out)):
        return np.arange(len(xy), 0, -1, dtype=float)  # off the DEM: the digitised order
    return out
