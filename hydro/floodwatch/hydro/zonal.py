"""Zonal statistics per administrative area (wards, districts), fast enough for every model run.

The zones of one level are rasterised ONCE per grid into a :class:`ZoneIndex`; each run then
reduces its grids in one compiled, parallel pass (count, sum, min and max per zone at once, over
the runs of equal labels along the rows, so only the values are read; see
:mod:`floodwatch.hydro.zonal_jit`), not a polygon loop. Overlapping levels
(wards and districts) get one index each.

Boundary rule: a cell belongs to the zone that contains its centre (rasterised with
``all_touched=False``, GDAL's rule, as rasterstats does by default). With zones many cells across
the means are then close to exact coverage-weighted means. If two zones of one level overlap, a
cell centre in both goes to the later row. A zone that contains no cell centre (smaller than a
cell, or a sliver) does not vanish: it gets the cell containing its representative point; when
that cell belongs to no zone the small zone takes it, otherwise the cell is SHARED (it counts in
both zones). A zone entirely outside the grid is kept with ``count == 0`` and NaN statistics.

No-data policy: NaN (and a finite ``rio.nodata`` of a DataArray) is missing; ``count`` counts
all cells of a zone, ``valid_count`` the non-missing ones, and sum/mean/min/max use those only
(infinities are values, not missing).
Dask-backed grids are reduced block by block (one partial per block, then combined). An index
built on a dask-backed template keeps no label raster: its labels are a dask array rasterised
block by block when a reduction reads them (only the zones meeting a block are burnt), so a
grid larger than memory can be reduced with a few blocks in memory at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import xarray as xr
from rasterio.features import rasterize
from rasterio.transform import Affine

from floodwatch.core.errors import InputError
from floodwatch.hydro.grid import cell_area_m2
from floodwatch.hydro.raster_checks import GridGeometry, metric_grid, same_grid
from floodwatch.hydro.zonal_jit import zone_stats, zone_stats_runs

_NONE = np.zeros(0, dtype=np.int64)


def _empty_stats(n_zones: int) -> np.ndarray:
    out = np.zeros((4, n_zones))
    out[2:] = np.nan
    return out


def _combine(parts: list[np.ndarray]) -> np.ndarray:
    stack = np.stack(parts)
    return np.stack((stack[:, 0].sum(0), stack[:, 1].sum(0),
                     np.fmin.reduce(stack[:, 2], axis=0), np.fmax.reduce(stack[:, 3], axis=0)))


def _codes(zones: Any) -> list[str]:
    if not isinstance(zones, gpd.GeoDataFrame):
        raise InputError("zones must be a geopandas.GeoDataFrame")
    if "code" not in zones.columns:
        raise InputError("zones need a 'code' column")
    codes = [_code(c) for c in zones["code"]]
    if len(set(codes)) != len(codes):
        dup = pd.Series(codes)[pd.Series(codes).duplicated()].iloc[0]
        raise InputError(f"zone code {dup!r} appears more than once")
    return codes


def _code(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        raise InputError("a zone has an empty code")
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class ZoneIndex:
    """Zones of one level rasterised on one grid; reuse it for every run on that grid."""

    codes: tuple[str, ...]
    counts: np.ndarray  # cells per zone (shared small-zone cells included)
    grid: GridGeometry
    cell_area_m2: float
    labels: Any  # (y, x) zone number per cell (unsigned), len(codes) = no zone; numpy or dask
    extra_cells: np.ndarray  # flat cells shared with a zone that contains no cell centre
    extra_labels: np.ndarray
    runs: tuple[np.ndarray, np.ndarray] | None = None  # in memory: flat start, zone of each run

    @classmethod
    def build(cls, zones: gpd.GeoDataFrame, template: xr.DataArray) -> ZoneIndex:
        """Rasterise ``zones`` (``code`` column + polygons, any CRS) on ``template``'s grid.

        Codes are kept as strings (``19753.0`` -> ``"19753"``), in the order of the rows. A
        dask-backed ``template`` gives an index whose labels are rasterised block by block (its
        chunks) when read; building it reads them once to count the cells of each zone.
        """
        grid = metric_grid(template, "template")
        codes = _codes(zones)
        if zones.crs is None:
            raise InputError("zones have no CRS: set it with .set_crs()")
        geoms = zones.geometry.to_crs(grid.crs)
        for code, geom in zip(codes, geoms, strict=True):
            if geom is not None and not geom.is_empty and geom.geom_type not in (
                    "Polygon", "MultiPolygon"):
                raise InputError(f"zone {code!r} is a {geom.geom_type}, not a polygon")
        raster = _ZoneRaster.of(geoms, (grid.ny, grid.nx), _transform(grid))
        n = len(codes)
        chunks = template.data.chunks if _is_dask(template.data) else None
        labels = raster.window(0, grid.ny, 0, grid.nx) if chunks is None else raster.lazy(chunks)
        counts = _cell_counts(labels, n)
        extra_cells, extra_labels = _NONE, _NONE
        if not counts.all():
            own, extra_cells, extra_labels = _place_small_zones(counts, geoms, raster)
            if own:
                if chunks is None:
                    for (row, col), zone in own.items():
                        labels[row, col] = zone
                else:
                    raster = dataclasses.replace(raster, own=own)
                    labels = raster.lazy(chunks)
                counts[list(own.values())] += 1
            np.add.at(counts, extra_labels, 1)
        if not counts.any():
            raise InputError("no zone overlaps the grid: check the zones' CRS and the grid extent")
        runs = _runs_of(labels) if chunks is None else None
        return cls(tuple(codes), counts, grid, cell_area_m2(template), labels,
                   extra_cells, extra_labels, runs)

    def reduce(self, values: np.ndarray | xr.DataArray) -> pd.DataFrame:
        """count, valid_count, sum, mean, min, max per zone (index ``code``) of one grid."""
        return self._frame(self._stats(self._data(values)))

    def _frame(self, stats: np.ndarray) -> pd.DataFrame:
        valid = stats[0].astype(np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(valid > 0, stats[1] / valid, np.nan)
        return pd.DataFrame(
            {"count": self.counts.astype(np.int64), "valid_count": valid, "sum": stats[1],
             "mean": mean, "min": stats[2], "max": stats[3]},
            index=pd.Index(self.codes, name="code"))

    def _stats(self, data: Any, condition: Any = None, threshold: float = -np.inf) -> np.ndarray:
        """(4, n_zones) statistics of ``data`` over the cells where ``condition >= threshold``
        (by default: every cell; NaN values never count); numpy or dask."""
        if any(_is_dask(a) for a in (data, condition, self.labels)):
            return self._reduce_dask(data, condition, threshold)
        return _block_stats(self.labels, data, condition, threshold, self.extra_cells,
                            self.extra_labels, len(self.codes), runs=self.runs)

    def _reduce_dask(self, data: Any, condition: Any, threshold: float) -> np.ndarray:
        import dask
        import dask.array as dsa

        n, nx = len(self.codes), self.shape[1]
        chunks = next(a.chunks for a in (data, condition, self.labels) if _is_dask(a))
        label_blocks, value_blocks = (dsa.asarray(a).rechunk(chunks).to_delayed()
                                      for a in (self.labels, data))
        cond_blocks = None if condition is None else dsa.asarray(condition).rechunk(
            chunks).to_delayed()
        rows, cols = np.cumsum((0, *chunks[0])), np.cumsum((0, *chunks[1]))
        er, ec = np.divmod(self.extra_cells, nx)
        parts = []
        for (i, j), values in np.ndenumerate(value_blocks):
            (r0, r1), (c0, c1) = rows[i : i + 2], cols[j : j + 2]
            inside = (er >= r0) & (er < r1) & (ec >= c0) & (ec < c1)
            local = (er[inside] - r0) * (c1 - c0) + (ec[inside] - c0)
            cond = None if cond_blocks is None else cond_blocks[i, j]
            parts.append(dask.delayed(_block_stats)(
                label_blocks[i, j], values, cond, threshold, local, self.extra_labels[inside], n))
        return _combine(list(dask.compute(*parts)))

    @property
    def shape(self) -> tuple[int, int]:
        return (self.grid.ny, self.grid.nx)

    @property
    def transform(self) -> Affine:
        return _transform(self.grid)

    def _data(self, values: Any) -> Any:
        """The 2-D numpy or dask array of ``values`` after checking it lies on this grid."""
        if isinstance(values, xr.DataArray):
            same_grid(self.grid, metric_grid(values, "values"), "the zone index", "values")
            nodata = values.rio.nodata
            if nodata is not None and np.isfinite(nodata):
                values = values.where(values != nodata)
            values = values.data
        elif not hasattr(values, "shape") or not hasattr(values, "dtype"):
            raise InputError("values must be a numpy array or an xarray.DataArray")
        if tuple(values.shape) != self.shape:
            raise InputError(f"values have shape {tuple(values.shape)}, the zone grid {self.shape}")
        if not (np.issubdtype(values.dtype, np.number) or values.dtype == bool):
            raise InputError(f"values must be numeric, not {values.dtype}")
        return values


def _transform(g: GridGeometry) -> Affine:
    return Affine(g.dx_m, 0.0, g.left_m, 0.0, -g.dy_m, g.top_m)


@dataclass(frozen=True)
class _ZoneRaster:
    """How to burn the zones into any window of the grid (cell-centre rule, GDAL's)."""

    shapes: tuple[tuple[Any, int], ...]  # (geometry, zone number) of the non-empty zones
    tree: shapely.STRtree
    shape: tuple[int, int]
    transform: Affine
    n: int
    dtype: type
    own: dict[tuple[int, int], int] = dataclasses.field(default_factory=dict)  # (row, col): zone

    @classmethod
    def of(cls, geoms: gpd.GeoSeries, shape: tuple[int, int], transform: Affine) -> _ZoneRaster:
        n = len(geoms)
        dtype = np.uint8 if n < 255 else np.uint16 if n < 65535 else np.int32
        shapes = tuple((g, i) for i, g in enumerate(geoms) if g is not None and not g.is_empty)
        return cls(shapes, shapely.STRtree([g for g, _ in shapes]), shape, transform, n, dtype)

    def window(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        """Zone number of the zone containing each cell centre of rows r0..r1, columns c0..c1;
        ``n`` for no zone (a later zone wins where two overlap, as for the whole grid)."""
        out_shape = (r1 - r0, c1 - c0)
        transform = self.transform * Affine.translation(c0, r0)
        x0, y1 = transform * (0, 0)
        x1, y0 = transform * (out_shape[1], out_shape[0])
        hits = np.sort(self.tree.query(shapely.box(x0, y0, x1, y1)))
        if hits.size:
            labels = rasterize([self.shapes[k] for k in hits], out_shape=out_shape,
                               transform=transform, fill=self.n, all_touched=False,
                               dtype=self.dtype)
        else:
            labels = np.full(out_shape, self.n, dtype=self.dtype)
        for (row, col), zone in self.own.items():
            if r0 <= row < r1 and c0 <= col < c1:
                labels[row - r0, col - c0] = zone
        return labels

    def lazy(self, chunks: tuple[tuple[int, ...], ...]) -> Any:
        """The labels as a dask array with ``chunks``, each block burnt when it is read."""
        import dask.array as dsa

        def block(block_info: dict[Any, Any] | None = None) -> np.ndarray:
            if block_info is None:  # dask's meta probe
                return np.empty((0, 0), self.dtype)
            (r0, r1), (c0, c1) = block_info[None]["array-location"]
            return self.window(r0, r1, c0, c1)

        return dsa.map_blocks(block, chunks=chunks, dtype=self.dtype,
                              meta=np.empty((0, 0), self.dtype))


def _runs_of(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The runs of equal labels along the flattened grid, cut at every row: (flat start, zone)."""
    flat = labels.reshape(-1)
    is_start = np.empty(flat.size, dtype=bool)
    np.not_equal(flat[1:], flat[:-1], out=is_start[1:])
    is_start[:: labels.shape[1]] = True
    starts = np.flatnonzero(is_start)
    return starts, flat[starts]


def _cell_counts(labels: Any, n: int) -> np.ndarray:
    """Cells per zone (labels numpy or dask)."""
    if not _is_dask(labels):
        return np.bincount(labels.reshape(-1), minlength=n + 1)[:n].astype(np.int64)
    import dask

    parts = [dask.delayed(_block_counts)(b, n) for b in labels.to_delayed().ravel()]
    return np.sum(dask.compute(*parts), axis=0)


def _block_counts(labels: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(labels.reshape(-1), minlength=n + 1)[:n].astype(np.int64)


def _place_small_zones(counts: np.ndarray, geoms: gpd.GeoSeries, raster: _ZoneRaster
                       ) -> tuple[dict[tuple[int, int], int], np.ndarray, np.ndarray]:
    """Give each zone without a cell centre the cell holding its representative point.

    A free cell becomes the zone's own (returned as {(row, col): zone}); a cell of another zone
    is shared: it is returned as (flat cells, zone numbers).
    """
    own: dict[tuple[int, int], int] = {}
    cells, at = [], []
    ny, nx = raster.shape
    for i in np.flatnonzero(counts == 0):
        geom = geoms.iloc[i]
        if geom is None or geom.is_empty:
            continue
        point = geom.representative_point()
        col, row = (int(np.floor(v)) for v in ~raster.transform @ (point.x, point.y))
        if not (0 <= row < ny and 0 <= col < nx):
            continue
        # one cell burnt on its own: a lazy index need not compute the block holding it
        holder = own.get((row, col), int(raster.window(row, row + 1, col, col + 1)[0, 0]))
        if holder == raster.n:
            own[(row, col)] = int(i)
        else:
            cells.append(row * nx + col)
            at.append(int(i))
    return own, np.array(cells, dtype=np.int64), np.array(at, dtype=np.int64)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def _block_stats(labels: np.ndarray, values: np.ndarray, condition: np.ndarray | None,
                 threshold: float, extra_cells: np.ndarray, extra_labels: np.ndarray,
                 n_zones: int, runs: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(4, n_zones) statistics of one block: the whole grid in memory (its label ``runs``
    given: parallel over the runs), or a dask block (serial: dask runs the blocks in parallel)."""
    values = np.ascontiguousarray(values)
    condition = values if condition is None else np.ascontiguousarray(condition)
    if runs is not None:
        out = zone_stats_runs(*runs, values, condition, threshold, n_zones)
    else:
        out = zone_stats(np.ascontiguousarray(labels), values, condition, threshold, n_zones)
    if not extra_cells.size:
        return out
    v = values.reshape(-1)[extra_cells].astype(np.float64)
    ok = (condition.reshape(-1)[extra_cells] >= threshold) & ~np.isnan(v)
    extra = _empty_stats(n_zones)
    np.add.at(extra[0], extra_labels, ok)
    np.add.at(extra[1], extra_labels, np.where(ok, v, 0.0))
    np.fmin.at(extra[2], extra_labels, np.where(ok, v, np.nan))
    np.fmax.at(extra[3], extra_labels, np.where(ok, v, np.nan))
    return _combine([out, extra])


def _flooded_stats(index: ZoneIndex, depth: Any, min_depth_m: float, source: Any) -> pd.DataFrame:
    """Statistics of ``source`` over the cells with ``depth >= min_depth_m``."""
    return index._frame(index._stats(source, depth, min_depth_m))


def flood_stats(index: ZoneIndex, depth_m: xr.DataArray | np.ndarray, *,
                min_depth_m: float = 0.05, population: pd.Series | None = None,
                population_raster: xr.DataArray | np.ndarray | None = None) -> pd.DataFrame:
    """Flooded area, share, depth and people affected per zone (index ``code``).

    A cell is flooded when ``depth_m >= min_depth_m``; a NaN depth is not flooded.
    ``zone_km2`` and ``flooded_km2`` come from cell counts (see the boundary rule);
    ``mean_depth_m`` and ``max_depth_m`` are over flooded cells, 0.0 where none is flooded
    and NaN for a zone outside the grid. ``people_affected`` (nullable Int64, <NA> when unknown):
    with ``population`` (people per zone, indexed by code) it is population x flooded_share,
    rounded -- the simplification that people are spread evenly over the zone; with
    ``population_raster`` (people per cell, same grid) it is the people on flooded cells, rounded.
    """
    if not np.isfinite(min_depth_m) or min_depth_m < 0:
        raise InputError(f"min_depth_m must be a finite number >= 0, not {min_depth_m}")
    if population is not None and population_raster is not None:
        raise InputError("give population or population_raster, not both")
    depth = index._data(depth_m)
    stats = _flooded_stats(index, depth, min_depth_m, depth)
    cell_km2 = index.cell_area_m2 / 1e6
    flooded, count = stats["valid_count"], stats["count"]
    inside = count > 0
    out = pd.DataFrame(index=stats.index)
    out["flooded_km2"] = flooded * cell_km2
    out["zone_km2"] = count * cell_km2
    out["flooded_share"] = (flooded / count).where(inside)
    out["mean_depth_m"] = stats["mean"].fillna(0.0).where(inside)
    out["max_depth_m"] = stats["max"].fillna(0.0).where(inside)
    people = pd.Series(np.nan, index=stats.index)
    if population is not None:
        people = _population_by_code(population, stats.index) * out["flooded_share"]
    elif population_raster is not None:
        pop = index._data(population_raster)
        people = _flooded_stats(index, depth, min_depth_m, pop)["sum"].where(inside)
    out["people_affected"] = people.round().astype("Int64")
    return out


def _population_by_code(population: Any, codes: pd.Index) -> pd.Series:
    if not isinstance(population, pd.Series) or not pd.api.types.is_numeric_dtype(population):
        raise InputError("population must be a numeric pandas Series indexed by zone code")
    if (population < 0).any():
        raise InputError("population must not be negative")
    return pd.Series(population.to_numpy(dtype=float),
                     index=[_code(c) for c in population.index]).reindex(codes)


def areal_mean(index: ZoneIndex, rain_mm: xr.DataArray | np.ndarray) -> pd.Series:
    """Areal mean rainfall per zone (index ``code``) over the zone's non-missing cells."""
    return index.reduce(rain_mm)["mean"].rename("rain_mm")
