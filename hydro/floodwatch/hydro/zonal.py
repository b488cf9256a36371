"""Zonal statistics per administrative area (wards, districts), fast enough for every model run.

The zones of one level are rasterised ONCE per grid into a :class:`ZoneIndex`; each run then
reduces its grids with a few streaming passes (``reduceat`` over the runs of equal labels along
the rows), not a polygon loop. Overlapping levels (wards and districts) get one index each.

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
Dask-backed grids are reduced block by block (one partial per block, then combined).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from rasterio.features import rasterize
from rasterio.transform import Affine

from floodwatch.core.errors import InputError
from floodwatch.hydro.grid import cell_area_m2
from floodwatch.hydro.raster_checks import GridGeometry, metric_grid, same_grid

_BAND_CELLS = 1 << 20  # cells reduced at a time: temporaries stay small and in cache
_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class _Layout:
    """How a flat label array is reduced: runs of equal labels, cut at band edges."""

    size: int
    starts: np.ndarray  # flat start of each run (the first is 0)
    band_edges: np.ndarray  # flat cell at each band edge (0, ..., size)
    band_runs: np.ndarray  # run number at each band edge
    band_active: np.ndarray  # whether a band holds any zone cell
    run_inside: np.ndarray  # whether each run lies in a zone
    order: np.ndarray  # runs inside a zone, sorted by zone (stable)
    group_starts: np.ndarray  # first position in ``order`` of each zone that has runs
    group_labels: np.ndarray  # the zone of each group
    extra_cells: np.ndarray  # sorted flat cells shared with a zone that has no cell centre
    extra_labels: np.ndarray
    band_extras: np.ndarray  # extra number at each band edge

    @classmethod
    def of(cls, labels: np.ndarray, n_zones: int, extra_cells: np.ndarray = _NONE,
           extra_labels: np.ndarray = _NONE) -> _Layout:
        flat = labels.ravel()
        edges = np.append(np.arange(0, flat.size, _BAND_CELLS), flat.size)
        is_start = np.empty(flat.size, dtype=bool)
        np.not_equal(flat[1:], flat[:-1], out=is_start[1:])
        is_start[edges[:-1]] = True
        starts = np.flatnonzero(is_start)
        run_labels = flat[starts].astype(np.int64)
        band_runs = np.searchsorted(starts, edges)
        inside = run_labels < n_zones
        active = np.add.reduceat(inside, band_runs[:-1]) > 0 if starts.size else inside
        order = np.flatnonzero(inside)
        order = order[np.argsort(run_labels[order], kind="stable")]
        sorted_labels = run_labels[order]
        first = np.flatnonzero(np.diff(sorted_labels, prepend=-1))
        by_cell = np.argsort(extra_cells, kind="stable")
        extra_cells, extra_labels = extra_cells[by_cell], extra_labels[by_cell]
        return cls(flat.size, starts, edges, band_runs, active, inside, order, first,
                   sorted_labels[first], extra_cells, extra_labels,
                   np.searchsorted(extra_cells, edges))

    def cell_counts(self, n_zones: int) -> np.ndarray:
        """Cells per zone, shared cells included."""
        counts = np.bincount(self.extra_labels, minlength=n_zones)
        if self.order.size:
            lengths = np.diff(np.append(self.starts, self.size))[self.order]
            counts[self.group_labels] += np.add.reduceat(lengths, self.group_starts)
        return counts


def _nan_zeroed(v: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``v`` with NaN set to 0, branch-free (a bit mask) for floats."""
    if v.dtype.kind != "f":
        return v
    ints = np.dtype(f"i{v.dtype.itemsize}")
    mask = np.negative(valid, dtype=ints, casting="unsafe")
    return np.bitwise_and(v.view(ints), mask).view(v.dtype)


def _reduce_bands(layout: _Layout, band: Callable[[int, int], np.ndarray], n_zones: int,
                  *, threads: bool = True) -> np.ndarray:
    """valid_count, sum, min and max per zone as a (4, n_zones) float array.

    ``band(a, b)`` gives the flat values of cells ``a`` to ``b``; bands without zone cells are
    never asked for. With ``threads``, bands are reduced on a few threads (numpy releases the GIL).
    """
    per_run = np.empty((4, layout.starts.size))
    active = np.flatnonzero(layout.band_active).tolist()
    workers = min(len(active), os.cpu_count() or 1, 4) if threads else 1
    if workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            extras = list(pool.map(lambda b: _reduce_band(layout, band, b, per_run, n_zones),
                                   active))
    else:
        extras = [_reduce_band(layout, band, b, per_run, n_zones) for b in active]
    out = _empty_stats(n_zones)
    if layout.order.size:
        for k, ufunc in enumerate((np.add, np.add, np.fmin, np.fmax)):
            out[k, layout.group_labels] = ufunc.reduceat(per_run[k, layout.order],
                                                         layout.group_starts)
    return _combine([out, *(e for e in extras if e is not None)])


def _reduce_band(layout: _Layout, band: Callable[[int, int], np.ndarray], b: int,
                 per_run: np.ndarray, n_zones: int) -> np.ndarray | None:
    """Fill ``per_run`` for the runs of band ``b``; return the statistics of its shared cells."""
    a, z = layout.band_edges[b : b + 2]
    r0, r1 = layout.band_runs[b : b + 2]
    v = band(a, z)
    if v.dtype == bool:
        v = v.view(np.uint8)
    starts = layout.starts[r0:r1] - a
    # per-run sums in the input's float precision (pairwise: ~1e-7 relative for float32), then
    # float64 across runs; integers are summed in float64
    acc = v.dtype if v.dtype.kind == "f" else np.float64
    sums = np.add.reduceat(v, starts, dtype=acc)
    if not np.isnan(sums[layout.run_inside[r0:r1]]).any():  # no missing value in a zone
        per_run[0, r0:r1] = np.diff(np.append(starts, z - a))
        per_run[1, r0:r1] = sums
    else:
        valid = ~np.isnan(v)
        per_run[0, r0:r1] = np.add.reduceat(valid, starts, dtype=np.int64)
        per_run[1, r0:r1] = np.add.reduceat(_nan_zeroed(v, valid), starts, dtype=acc)
    per_run[2, r0:r1] = np.fmin.reduceat(v, starts)
    per_run[3, r0:r1] = np.fmax.reduceat(v, starts)
    e0, e1 = layout.band_extras[b : b + 2]
    if e1 == e0:
        return None
    e = v[layout.extra_cells[e0:e1] - a].astype(np.float64)
    at, ok = layout.extra_labels[e0:e1], ~np.isnan(e)
    extra = _empty_stats(n_zones)
    np.add.at(extra[0], at, ok)
    np.add.at(extra[1], at, np.where(ok, e, 0.0))
    np.fmin.at(extra[2], at, e)
    np.fmax.at(extra[3], at, e)
    return extra


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
    labels: np.ndarray  # (y, x) zone number per cell (unsigned); len(codes) = no zone
    extra_cells: np.ndarray  # flat cells shared with a zone that contains no cell centre
    extra_labels: np.ndarray
    _layout: _Layout

    @classmethod
    def build(cls, zones: gpd.GeoDataFrame, template: xr.DataArray) -> ZoneIndex:
        """Rasterise ``zones`` (``code`` column + polygons, any CRS) on ``template``'s grid.

        Codes are kept as strings (``19753.0`` -> ``"19753"``), in the order of the rows.
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
        shape, n, transform = (grid.ny, grid.nx), len(codes), _transform(grid)
        labels = _rasterize(geoms, shape, transform, n)
        layout = _Layout.of(labels, n)
        counts = layout.cell_counts(n)
        if not counts.all():
            cells, at = _place_small_zones(labels, counts, geoms, transform, n)
            layout = _Layout.of(labels, n, cells, at)
            counts = layout.cell_counts(n)
        if not counts.any():
            raise InputError("no zone overlaps the grid: check the zones' CRS and the grid extent")
        return cls(tuple(codes), counts, grid, cell_area_m2(template), labels,
                   layout.extra_cells, layout.extra_labels, layout)

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

    def _stats(self, data: Any, band: Callable[[int, int], np.ndarray] | None = None
               ) -> np.ndarray:
        """(4, n_zones) statistics of a numpy or dask grid (``band`` overrides numpy reads)."""
        if _is_dask(data):
            return self._reduce_dask(data)
        if band is None:
            flat = np.ascontiguousarray(data).reshape(-1)
            band = lambda a, z: flat[a:z]  # noqa: E731
        return _reduce_bands(self._layout, band, len(self.codes))

    def _reduce_dask(self, data: Any) -> np.ndarray:
        import dask

        n, nx = len(self.codes), self.shape[1]
        rows, cols = np.cumsum((0, *data.chunks[0])), np.cumsum((0, *data.chunks[1]))
        er, ec = np.divmod(self.extra_cells, nx)
        parts = []
        for (i, j), block in np.ndenumerate(data.to_delayed()):
            (r0, r1), (c0, c1) = rows[i : i + 2], cols[j : j + 2]
            inside = (er >= r0) & (er < r1) & (ec >= c0) & (ec < c1)
            local = (er[inside] - r0) * (c1 - c0) + (ec[inside] - c0)
            parts.append(dask.delayed(_block_stats)(
                block, self.labels[r0:r1, c0:c1], local, self.extra_labels[inside], n))
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


def _rasterize(geoms: gpd.GeoSeries, shape: tuple[int, int], transform: Affine,
               n: int) -> np.ndarray:
    """Zone number of the zone containing each cell centre; ``n`` for no zone."""
    dtype = np.uint8 if n < 255 else np.uint16 if n < 65535 else np.int32
    shapes = [(g, i) for i, g in enumerate(geoms) if g is not None and not g.is_empty]
    if not shapes:
        return np.full(shape, n, dtype=dtype)
    return rasterize(shapes, out_shape=shape, transform=transform, fill=n, all_touched=False,
                     dtype=dtype)


def _place_small_zones(labels: np.ndarray, counts: np.ndarray, geoms: gpd.GeoSeries,
                       transform: Affine, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Give each zone without a cell centre the cell holding its representative point.

    A free cell is labelled with the zone (``labels`` is changed in place); a cell of another
    zone is shared: it is returned as (flat cells, zone numbers).
    """
    cells, at = [], []
    for i in np.flatnonzero(counts == 0):
        geom = geoms.iloc[i]
        if geom is None or geom.is_empty:
            continue
        point = geom.representative_point()
        col, row = (int(np.floor(v)) for v in ~transform @ (point.x, point.y))
        if 0 <= row < labels.shape[0] and 0 <= col < labels.shape[1]:
            if labels[row, col] == n:
                labels[row, col] = i
            else:
                cells.append(row * labels.shape[1] + col)
                at.append(i)
    return np.array(cells, dtype=np.int64), np.array(at, dtype=np.int64)


def _is_dask(data: Any) -> bool:
    return type(data).__module__.split(".")[0] == "dask"


def _block_stats(block: np.ndarray, labels: np.ndarray, extra_cells: np.ndarray,
                 extra_labels: np.ndarray, n_zones: int) -> np.ndarray:
    layout = _Layout.of(np.ascontiguousarray(labels), n_zones, extra_cells, extra_labels)
    flat = np.ascontiguousarray(block).reshape(-1)
    return _reduce_bands(layout, lambda a, z: flat[a:z], n_zones, threads=False)


def _flooded_stats(index: ZoneIndex, depth: Any, min_depth_m: float, source: Any) -> pd.DataFrame:
    """Statistics of ``source`` over the cells with ``depth >= min_depth_m``."""
    if _is_dask(depth) or _is_dask(source):
        import dask.array as dsa

        masked = dsa.where(depth >= min_depth_m, source, np.nan)
        return index.reduce(masked)
    d = np.ascontiguousarray(depth).reshape(-1)
    s = np.ascontiguousarray(source).reshape(-1)
    return index._frame(
        index._stats(None, lambda a, z: np.where(d[a:z] >= min_depth_m, s[a:z], np.nan)))


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
