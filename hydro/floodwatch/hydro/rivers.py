"""Water-surface elevation along a river, from its gauges, on the analysis grid.

Chainage is the distance along the river line from its first vertex, in metres: draw (or
orient) the line from upstream to downstream, so chainage grows downstream.

1. :func:`river_chainage` rasterises the line onto a grid: each cell the line passes through
   holds the chainage of the point of the line nearest its centre (NaN elsewhere); where the
   line only grazes a corner, one of the two cells beside it is added, so that the river's
   cells are 4-connected like the flood's (see :mod:`floodwatch.hydro.flood`).
2. :func:`water_surface_along_river` turns gauge levels into a water surface at any chainage:
   ``wse_m = level_m + datum_offset_m`` per gauge (gauge datum → DEM datum), linear in chainage
   between gauges, **held** at the first gauge's WSE upstream of it, and downstream of the last
   gauge either **held** at its WSE (no mouth level given) or **sloped linearly** to the
   lagoon/sea level ``downstream_level_m`` at the mouth ``downstream_chainage_m`` and held at
   that level beyond the mouth.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
import xarray as xr
from shapely.geometry import LineString

from floodwatch.core.errors import InputError
from floodwatch.hydro.raster_checks import metric_grid

#: Points per cell size when sampling the line (4 → every cell the line crosses is hit, bar
#: corner grazes shorter than a quarter cell).
_SAMPLES_PER_CELL = 4


def river_chainage(
    line_m: LineString, template: xr.DataArray, *, name: str = "chainage"
) -> xr.DataArray:
    """The river cells of ``template``'s grid with their chainage (m along ``line_m``), NaN
    elsewhere; float32 with ``units`` "m", the template's coords and CRS.

    ``line_m`` is a shapely LineString in the template's metric CRS, digitised upstream →
    downstream (merge a MultiLineString with ``shapely.line_merge`` first).
    """
    grid = metric_grid(template, "template")
    if not isinstance(line_m, LineString) or line_m.is_empty or not line_m.length > 0:
        raise InputError(
            f"line_m must be a non-empty shapely LineString, got {type(line_m).__name__}"
        )
    length = float(line_m.length)
    step = min(grid.dx_m, grid.dy_m) / _SAMPLES_PER_CELL
    along = np.linspace(0.0, length, max(2, math.ceil(length / step) + 1))
    xy = shapely.get_coordinates(shapely.line_interpolate_point(line_m, along))
    row = np.floor((grid.top_m - xy[:, 1]) / grid.dy_m)
    col = np.floor((xy[:, 0] - grid.left_m) / grid.dx_m)
    row, col, along, xy = _fill_diagonal_steps(row, col, along, xy, grid.dy_m, grid.dx_m,
                                               grid.top_m, grid.left_m)
    inside = (col >= 0) & (col < grid.nx) & (row >= 0) & (row < grid.ny)
    if not inside.any():
        raise InputError("line_m does not cross the template grid (is it in the grid's CRS?)")
    col, row, along, xy = col[inside], row[inside], along[inside], xy[inside]
    cell = row.astype(np.int64) * grid.nx + col.astype(np.int64)
    off_centre = np.hypot(xy[:, 0] - (grid.left_m + (col + 0.5) * grid.dx_m),
                          xy[:, 1] - (grid.top_m - (row + 0.5) * grid.dy_m))
    order = np.lexsort((off_centre, cell))  # by cell, the sample nearest the centre first
    cell, along = cell[order], along[order]
    first = np.ones(len(cell), dtype=bool)
    first[1:] = cell[1:] != cell[:-1]
    chainage = np.full(grid.ny * grid.nx, np.nan, dtype=np.float32)
    chainage[cell[first]] = along[first]
    out = xr.DataArray(
        chainage.reshape(grid.ny, grid.nx),
        dims=("y", "x"),
        coords={"y": template["y"].values, "x": template["x"].values},
        name=name,
        attrs={
            "units": "m",
            "long_name": "distance along the river line from its first vertex",
            "method": "line sampled every cell/4, corner steps filled (4-connected); "
            "per cell the sample nearest the centre",
            "line_length_m": length,
        },
    )
    return out.rio.write_crs(grid.crs, inplace=True)  # inplace: no deep copy


def _fill_diagonal_steps(
    row: np.ndarray,
    col: np.ndarray,
    along: np.ndarray,
    xy: np.ndarray,
    dy_m: float,
    dx_m: float,
    top_m: float,
    left_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Add a cell at each diagonal step between consecutive samples (the line grazed a corner
    between them), so that the river cells are 4-connected: of the two cells sharing an edge
    with both, the one whose centre is nearer the step's midpoint, with the midpoint's chainage.
    """
    step = (np.diff(row) != 0) & (np.diff(col) != 0)
    if not step.any():
        return row, col, along, xy
    i = np.flatnonzero(step)
    mid = (xy[i] + xy[i + 1]) / 2
    candidates = ((row[i], col[i + 1]), (row[i + 1], col[i]))
    dist = [
        np.hypot(mid[:, 0] - (left_m + (c + 0.5) * dx_m), mid[:, 1] - (top_m - (r + 0.5) * dy_m))
        for r, c in candidates
    ]
    pick_first = dist[0] <= dist[1]
    new_row = np.where(pick_first, candidates[0][0], candidates[1][0])
    new_col = np.where(pick_first, candidates[0][1], candidates[1][1])
    new_along = (along[i] + along[i + 1]) / 2
    return (
        np.concatenate([row, new_row]),
        np.concatenate([col, new_col]),
        np.concatenate([along, new_along]),
        np.concatenate([xy, mid]),
    )


def water_surface_along_river(
    chainage_m: np.ndarray | xr.DataArray,
    gauge_chainage_m: np.ndarray,
    gauge_level_m: np.ndarray,
    *,
    datum_offset_m: np.ndarray | float,
    downstream_level_m: float | None = None,
    downstream_chainage_m: float | None = None,
) -> np.ndarray | xr.DataArray:
    """Water-surface elevation (m, DEM datum) at each chainage; NaN where ``chainage_m`` is NaN.

    ``gauge_level_m`` are the gauges' readings on their own datum and ``datum_offset_m`` (one
    per gauge, or one for all) lifts them to the DEM's: ``wse = level + offset``. A gauge with a
    NaN reading is left out (the surface is interpolated past it). The mouth level
    (``downstream_level_m`` at ``downstream_chainage_m``, both or neither) must be downstream of
    every gauge. Rules upstream and downstream of the gauges: see the module docstring.

    A DataArray in gives a float32 DataArray out (coords, CRS and provenance attrs); an array in
    gives a float64 array out.
    """
    xp, fp = _gauge_profile(gauge_chainage_m, gauge_level_m, datum_offset_m)
    if (downstream_level_m is None) != (downstream_chainage_m is None):
        raise InputError("give both downstream_level_m and downstream_chainage_m, or neither")
    rule = "held at the last gauge's level"
    if downstream_level_m is not None and downstream_chainage_m is not None:
        if not (math.isfinite(downstream_level_m) and math.isfinite(downstream_chainage_m)):
            raise InputError("downstream_level_m and downstream_chainage_m must be finite")
        if downstream_chainage_m <= xp[-1]:
            raise InputError(
                f"downstream_chainage_m ({downstream_chainage_m:g}) must be beyond the last "
                f"gauge's chainage ({xp[-1]:g})"
            )
        xp = np.append(xp, downstream_chainage_m)
        fp = np.append(fp, downstream_level_m)
        rule = (
            f"sloped linearly to {downstream_level_m:g} m at chainage {downstream_chainage_m:g} m,"
            " held beyond"
        )
    values = np.asarray(chainage_m, dtype=np.float64)
    wse = np.interp(values, xp, fp)  # np.interp holds the end values outside xp
    wse[np.isnan(values)] = np.nan
    if not isinstance(chainage_m, xr.DataArray):
        return wse
    out = chainage_m.copy(data=wse.astype(np.float32))
    out.name = "water_surface"
    out.attrs = {
        "units": "m",
        "long_name": "water-surface elevation on the DEM datum",
        "method": "linear in chainage between gauges; held upstream of the first gauge; "
        f"downstream of the last gauge {rule}",
        "gauges_used": int(len(fp) - (downstream_level_m is not None)),
    }
    return out


def _gauge_profile(
    gauge_chainage_m: np.ndarray, gauge_level_m: np.ndarray, datum_offset_m: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """The gauges with a reading, sorted by chainage: (chainage_m, wse_m)."""
    chainage = np.asarray(gauge_chainage_m, dtype=np.float64).ravel()
    level = np.asarray(gauge_level_m, dtype=np.float64).ravel()
    offset = np.asarray(datum_offset_m, dtype=np.float64).ravel()
    if level.shape != chainage.shape or offset.size not in (1, chainage.size):
        raise InputError(
            f"gauge_chainage_m ({chainage.size}), gauge_level_m ({level.size}) and "
            f"datum_offset_m ({offset.size}) must have one value per gauge"
        )
    if not (np.all(np.isfinite(chainage)) and np.all(np.isfinite(offset))):
        raise InputError("gauge_chainage_m and datum_offset_m must be finite for every gauge")
    wse = level + offset
    read = ~np.isnan(wse)
    if not read.any():
        raise InputError("no gauge has a level: the water surface cannot be drawn")
    chainage, wse = chainage[read], wse[read]
    if not np.all(np.isfinite(wse)):
        raise InputError("gauge_level_m and datum_offset_m must be finite numbers or NaN")
    order = np.argsort(chainage, kind="stable")
    chainage, wse = chainage[order], wse[order]
    if np.any(np.diff(chainage) == 0):
        raise InputError("two gauges share a chainage; give each gauge its own position")
    return chainage, wse
