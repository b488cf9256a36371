"""Map products of a flood-depth grid: extent polygons by depth class, depth at points, and the
deepest cell of each zone (ward, commune). Pure: a depth grid in, a table or arrays out."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import geopandas as gpd
import numpy as np
import shapely
import xarray as xr
from rasterio import features
from rasterio.transform import Affine

from floodwatch.core.errors import InputError
from floodwatch.hydro.grid import cell_area_m2
from floodwatch.hydro.raster_checks import GridGeometry, metres_factor, metric_grid

DEFAULT_CLASSES_M = (0.05, 0.5, 1.0, 2.0)


class ZoneDeepest(NamedTuple):
    """The deepest cell of each zone; position ``k`` is zone ``k + 1``. A zone without any
    valid (non-NaN) cell has ``row = col = -1`` and ``depth_m = NaN``."""

    row: np.ndarray
    col: np.ndarray
    depth_m: np.ndarray


def extent_polygons(
    depth_m: xr.DataArray,
    classes_m: Sequence[float] = DEFAULT_CLASSES_M,
    *,
    simplify_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Flooded extent as one (multi)polygon per depth class, in the grid's CRS.

    Class ``k`` holds the cells with ``classes_m[k] <= depth < classes_m[k + 1]`` (the last class
    is open above: ``max_depth_m`` is NaN). Columns: ``class_index``, ``label``, ``min_depth_m``,
    ``max_depth_m``, ``area_m2`` (of the cells, before simplification), ``geometry``. Every class
    has a row, with an empty geometry when no cell is in it. Polygons follow cell edges
    (4-connected regions, ``rasterio.features.shapes``). ``simplify_m`` simplifies all the
    polygons together as a coverage (``shapely.coverage_simplify``): shared edges, between
    classes too, stay shared, so no gaps or overlaps open up; invalid results are made valid.
    """
    grid = metric_grid(depth_m, "depth_m")
    factor = metres_factor(depth_m, "depth_m")
    bounds = np.asarray(classes_m, dtype=np.float64)
    if bounds.ndim != 1 or bounds.size == 0 or not np.all(np.isfinite(bounds)):
        raise InputError(f"classes_m must be a non-empty list of depths in m, got {classes_m!r}")
    if bounds[0] <= 0 or np.any(np.diff(bounds) <= 0):
        raise InputError(f"classes_m must be positive and increasing, got {classes_m!r}")
    if simplify_m is not None and not (math.isfinite(simplify_m) and simplify_m > 0):
        raise InputError(f"simplify_m must be a positive number or None, got {simplify_m!r}")
    depth = np.asarray(depth_m.values, dtype=np.float32) * np.float32(factor)
    classes = np.digitize(depth, bounds).astype(np.int32)  # 0 below the first bound
    classes[np.isnan(depth)] = 0
    counts = np.bincount(classes.ravel(), minlength=bounds.size + 1)
    shapes = list(
        features.shapes(classes, mask=classes > 0, transform=_transform(grid), connectivity=4)
    )
    polygons = np.array([shapely.geometry.shape(g) for g, _ in shapes], dtype=object)
    labels = np.array([int(v) for _, v in shapes], dtype=np.int64)
    if simplify_m is not None and len(polygons):
        polygons = _simplify(polygons, simplify_m)
    cell_area = cell_area_m2(depth_m)
    rows = []
    for k in range(bounds.size):
        geometry = shapely.multipolygons(polygons[labels == k + 1])
        if not geometry.is_valid:
            geometry = shapely.make_valid(geometry)
        low = float(bounds[k])
        high = float(bounds[k + 1]) if k + 1 < bounds.size else math.nan
        rows.append(
            {
                "class_index": k,
                "label": f"{low:g}-{high:g} m" if k + 1 < bounds.size else f">= {low:g} m",
                "min_depth_m": low,
                "max_depth_m": high,
                "area_m2": float(counts[k + 1]) * cell_area,
                "geometry": geometry,
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs)


def depth_at_points(depth_m: xr.DataArray, xy_m: np.ndarray) -> np.ndarray:
    """Depth (m) of the cell holding each point ``xy_m[i] = (x, y)`` (metres in the grid's CRS);
    NaN for points outside the grid and on nodata cells."""
    grid = metric_grid(depth_m, "depth_m")
    factor = metres_factor(depth_m, "depth_m")
    points = np.asarray(xy_m, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(f"xy_m must be an (n, 2) array of x, y in metres, got {points.shape}")
    row, col, inside = _cells(grid, points)
    picked = depth_m.isel(y=xr.DataArray(row, dims="point"), x=xr.DataArray(col, dims="point"))
    values = np.asarray(picked.values, dtype=np.float64) * factor  # works on dask too
    return np.where(inside, values, np.nan)


def deepest_cell_per_zone(
    depth_m: xr.DataArray | np.ndarray, labels: np.ndarray, n_zones: int
) -> ZoneDeepest:
    """Row, column and depth of the deepest cell of each zone ``1..n_zones`` of ``labels``
    (0 = no zone). Ties go to the first cell in row-major order. One radix sort of the labels
    and two passes over the grid, no Python loop."""
    depth = np.asarray(depth_m.values if isinstance(depth_m, xr.DataArray) else depth_m)
    labels = np.asarray(labels)
    if depth.ndim != 2 or labels.shape != depth.shape:
        raise InputError(f"labels {labels.shape} must have the depth grid's shape {depth.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise InputError(f"labels must be integer zone indices, got dtype {labels.dtype}")
    if n_zones < 0 or (labels.size and (labels.min() < 0 or labels.max() > n_zones)):
        raise InputError(f"labels must lie in 0..n_zones = 0..{n_zones}")
    flat_labels = labels.ravel()
    values = np.where(np.isnan(depth.ravel()), -np.inf, depth.ravel())
    order = np.argsort(flat_labels, kind="stable")  # a radix sort of small integers: fast
    starts = np.searchsorted(flat_labels[order], np.arange(1, n_zones + 1))
    ends = np.searchsorted(flat_labels[order], np.arange(1, n_zones + 1), side="right")
    zone_max = np.full(n_zones + 1, np.inf)  # +inf: no cell can match (zone 0, empty zones)
    filled = ends > starts
    if filled.any():
        zone_max[1:][filled] = np.maximum.reduceat(values[order], starts[filled])
    zone_max[zone_max == -np.inf] = np.inf  # only nodata cells: no deepest cell
    hits = np.flatnonzero(values == zone_max[flat_labels])  # ascending: row-major order
    zone, first = np.unique(flat_labels[hits], return_index=True)  # the first tie per zone
    cells = hits[first]
    row = np.full(n_zones, -1, dtype=np.int64)
    col = np.full(n_zones, -1, dtype=np.int64)
    out = np.full(n_zones, np.nan)
    index = zone - 1
    row[index], col[index] = np.divmod(cells, depth.shape[1])
    out[index] = values[cells]
    return ZoneDeepest(row=row, col=col, depth_m=out)


def _simplify(polygons: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Simplify polygons that tile the plane without overlaps, keeping shared edges shared."""
    if hasattr(shapely, "coverage_simplify"):  # shapely >= 2.1 with GEOS >= 3.12
        return np.asarray(shapely.coverage_simplify(polygons, tolerance_m), dtype=object)
    # Older GEOS: each polygon on its own (neighbours may then overlap by up to the tolerance).
    return np.asarray(  # pragma: no cover
        shapely.simplify(polygons, tolerance_m, preserve_topology=True), dtype=object
    )


def _transform(grid: GridGeometry) -> Affine:
    return Affine(grid.dx_m, 0.0, grid.left_m, 0.0, -grid.dy_m, grid.top_m)


def _cells(grid: GridGeometry, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    col = np.floor((points[:, 0] - grid.left_m) / grid.dx_m)
    row = np.floor((grid.top_m - points[:, 1]) / grid.dy_m)
    inside = (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)  # NaN → outside
    row_index = np.where(inside, row, 0).astype(np.int64)
    col_index = np.where(inside, col, 0).astype(np.int64)
    return row_index, col_index, inside
