"""Flood depth on the floodplain from a water surface, kept to what is hydraulically connected.

:func:`flood_depth` spreads the water-surface elevation (WSE) of the water cells — river cells
from :func:`floodwatch.hydro.rivers.water_surface_along_river`, lagoon/sea cells at their level —
onto the land from the *nearest* water cell, takes depth = WSE − ground, and keeps only the wet
cells joined to a water cell through wet cells (4-connectivity: an edge in common). A closed
depression below the water surface but behind higher ground stays dry. The kernels and the
tiled dask path are in :mod:`floodwatch.hydro.flood_kernel`; the map products (extent polygons,
depth at points, the deepest cell of each zone) in :mod:`floodwatch.hydro.flood_maps` and are
re-exported here.

Output: float32 metres, **0.0 on dry land** (and on water cells whose bed is not below the
surface by more than ``min_depth_m``), **NaN on DEM nodata**. Water cells with a DEM value get
their depth like any other cell, so a river channel in the DEM shows its depth.
"""

from __future__ import annotations

import math
from typing import Any

import dask.array as da
import numpy as np
import xarray as xr

from floodwatch.core.errors import InputError
from floodwatch.hydro.flood_kernel import (
    flood_depth_tiled,
    keep_connected,
    spread_depth,
)
from floodwatch.hydro.flood_maps import (
    ZoneDeepest,
    deepest_cell_per_zone,
    depth_at_points,
    extent_polygons,
)
from floodwatch.hydro.raster_checks import metres_factor, metric_grid, same_grid

__all__ = [
    "METHOD",
    "ZoneDeepest",
    "deepest_cell_per_zone",
    "depth_at_points",
    "extent_polygons",
    "flood_depth",
]

METHOD = (
    "nearest-water-cell WSE spreading (exact Euclidean distance transform, Felzenszwalb & "
    "Huttenlocher), depth = WSE - DEM, "
    "wet cells kept when 4-connected to a water cell"
)


def flood_depth(
    dem_m: xr.DataArray,
    water_surface_m: xr.DataArray,
    *,
    min_depth_m: float = 0.05,
    max_distance_m: float | None = None,
) -> xr.DataArray:
    """Flood depth (m) on the grid of ``dem_m`` from the water surface ``water_surface_m``.

    ``dem_m``: ground elevation on a metric grid (see :mod:`floodwatch.hydro.raster_checks`);
    ``attrs["units"]`` in metres or feet (feet are converted), NaN = nodata: never wet and a
    barrier to the connection. ``water_surface_m``: WSE on the DEM's vertical datum at the water
    cells (river, lagoon, sea), NaN elsewhere, on the same grid. A cell is wet when its depth
    exceeds ``min_depth_m`` and, if ``max_distance_m`` is given, its nearest water cell is at
    most that far (centre to centre), and it is 4-connected to a water cell through wet cells.
    A cell as near to several water cells takes the leftmost, then the upper one (see
    :mod:`floodwatch.hydro.flood_jit`).

    Dask-backed inputs give a dask-backed result computed tile by tile (chunks of the DEM);
    this needs ``max_distance_m``, which bounds the halo each tile reads, and runs one
    labelling pass over the inputs at call time (see :mod:`floodwatch.hydro.flood_kernel`).
    The result is the same as the in-memory one.
    """
    grid = metric_grid(dem_m, "dem_m")
    same_grid(grid, metric_grid(water_surface_m, "water_surface_m"), "dem_m", "water_surface_m")
    dem_factor = metres_factor(dem_m, "dem_m")
    wse_factor = metres_factor(water_surface_m, "water_surface_m")
    if not (math.isfinite(min_depth_m) and min_depth_m >= 0):
        raise InputError(f"min_depth_m must be a number >= 0, got {min_depth_m!r}")
    if max_distance_m is not None and not (math.isfinite(max_distance_m) and max_distance_m > 0):
        raise InputError(f"max_distance_m must be a positive number or None, not {max_distance_m}")
    lazy = isinstance(dem_m.data, da.Array) or isinstance(water_surface_m.data, da.Array)
    if lazy:
        if max_distance_m is None:
            raise InputError(
                "flood_depth on dask-backed grids needs max_distance_m (it bounds the tiles' "
                "halo); give it, or load the grids into memory"
            )
        chunked = dem_m.data if isinstance(dem_m.data, da.Array) else water_surface_m.data
        lazy_dem = _as_metres_dask(dem_m.data, dem_factor, chunked.chunks)
        lazy_wse = _as_metres_dask(water_surface_m.data, wse_factor, chunked.chunks)
        depth: Any = flood_depth_tiled(
            lazy_dem, lazy_wse, grid.dy_m, grid.dx_m, float(min_depth_m), float(max_distance_m)
        )
    else:
        dem = _as_metres(dem_m.values, dem_factor)
        wse = _as_metres(water_surface_m.values, wse_factor)
        depth = spread_depth(dem, wse, grid.dy_m, grid.dx_m, float(min_depth_m), max_distance_m)
        depth = keep_connected(depth, ~np.isnan(wse))
    out = xr.DataArray(
        depth,
        dims=("y", "x"),
        coords={"y": dem_m["y"].values, "x": dem_m["x"].values},
        name="flood_depth",
        attrs={
            "units": "m",
            "long_name": "flood depth above ground",
            "method": METHOD,
            "connectivity": 4,
            "min_depth_m": float(min_depth_m),
            "max_distance_m": math.inf if max_distance_m is None else float(max_distance_m),
            "dry_value": 0.0,
            "nodata_rule": "NaN where the DEM is nodata",
            "dem_units": str(dem_m.attrs["units"]),
            "water_surface_units": str(water_surface_m.attrs["units"]),
            "source": f"dem={dem_m.name or 'unnamed'}; "
            f"water_surface={water_surface_m.name or 'unnamed'}",
        },
    )
    return out.rio.write_crs(grid.crs, inplace=True)  # inplace: no deep copy


def _as_metres(values: np.ndarray, factor: float) -> np.ndarray:
    out = np.asarray(values, dtype=np.float32)
    if factor != 1.0:
        out = out * np.float32(factor)
    return out


def _as_metres_dask(values: Any, factor: float, chunks: Any) -> da.Array:
    out = da.asarray(values).rechunk(chunks).astype(np.float32)
    if factor != 1.0:
        out = out * np.float32(factor)
    return out
