"""Checks shared by the gridded hydrology functions: a metric grid, the same grid, vertical units.

The floodwatch grid convention: an ``xarray.DataArray`` with dims ``("y", "x")``, coords = cell
centres in metres of a projected CRS (written with rioxarray), ``y`` descending, regular spacing,
``attrs["units"]`` set. Each check raises :class:`~floodwatch.core.errors.InputError` with one
sentence naming the argument and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyproj
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from floodwatch.core.errors import InputError

#: Vertical units → factor to metres (keys lower-case, spaces/underscores/hyphens as spaces).
_TO_METRES: dict[str, float] = {
    "m": 1.0,
    "metre": 1.0,
    "meter": 1.0,
    "metres": 1.0,
    "meters": 1.0,
    "ft": 0.3048,
    "foot": 0.3048,
    "feet": 0.3048,
    "international foot": 0.3048,
    "us survey foot": 1200.0 / 3937.0,
    "us survey feet": 1200.0 / 3937.0,
    "survey foot": 1200.0 / 3937.0,
    "ftus": 1200.0 / 3937.0,
    "us ft": 1200.0 / 3937.0,
}


@dataclass(frozen=True)
class GridGeometry:
    """Where the cells of a checked grid are: sizes, cell size (m) and the outer top-left corner."""

    ny: int
    nx: int
    dy_m: float
    dx_m: float
    #: x of the left edge of column 0 and y of the top edge of row 0, in metres of ``crs``.
    left_m: float
    top_m: float
    crs: pyproj.CRS

    @property
    def cell_area_m2(self) -> float:
        return self.dx_m * self.dy_m


def metres_factor(da: xr.DataArray, what: str) -> float:
    """The factor that converts the values of ``da`` to metres, from ``attrs["units"]``."""
    units = da.attrs.get("units")
    if units is None:
        raise InputError(f"{what} has no attrs['units']; set it to 'm' (or 'ft' to convert)")
    key = " ".join(str(units).strip().lower().replace("_", " ").replace("-", " ").split())
    if key not in _TO_METRES:
        raise InputError(f"{what} has units {units!r}; expected metres ('m') or feet ('ft')")
    return _TO_METRES[key]


def metric_grid(da: xr.DataArray, what: str) -> GridGeometry:
    """Check that ``da`` follows the grid convention and return its geometry."""
    if not isinstance(da, xr.DataArray):
        raise InputError(f"{what} must be an xarray.DataArray, got {type(da).__name__}")
    if da.dims != ("y", "x"):
        raise InputError(f"{what} must have dims ('y', 'x'), got {da.dims}; select one band first")
    if "x" not in da.coords or "y" not in da.coords:
        raise InputError(f"{what} has no x/y coordinates (cell centres in metres)")
    ny, nx = da.shape
    if ny < 2 or nx < 2:
        raise InputError(f"{what} must have at least 2 cells along y and x, got {da.shape}")
    crs = _crs(da, what)
    x = np.asarray(da["x"].values, dtype=np.float64)
    y = np.asarray(da["y"].values, dtype=np.float64)
    dx = _spacing(x, what, "x")
    dy = -_spacing(y, what, "y")
    if dx <= 0:
        raise InputError(f"{what}: x must increase from column to column")
    if dy <= 0:
        raise InputError(f"{what}: y must decrease from row to row (north up)")
    return GridGeometry(
        ny=ny, nx=nx, dy_m=dy, dx_m=dx, left_m=x[0] - dx / 2, top_m=y[0] + dy / 2, crs=crs
    )


def same_grid(a: GridGeometry, b: GridGeometry, what_a: str, what_b: str) -> None:
    """Refuse two grids that differ in CRS, shape, cell size or origin (by > 1e-3 of a cell)."""
    if not a.crs.equals(b.crs, ignore_axis_order=True):
        raise InputError(f"{what_b} is in {b.crs.to_string()}, not {what_a}'s {a.crs.to_string()}")
    if (a.ny, a.nx) != (b.ny, b.nx):
        raise InputError(f"{what_b} has shape {(b.ny, b.nx)}, not {what_a}'s {(a.ny, a.nx)}")
    tol = 1e-3 * min(a.dx_m, a.dy_m)
    offsets = (a.dx_m - b.dx_m, a.dy_m - b.dy_m, a.left_m - b.left_m, a.top_m - b.top_m)
    if max(abs(v) for v in offsets) > tol:
        raise InputError(f"{what_b} is not on {what_a}'s grid (cell size or origin differ)")


def _crs(da: xr.DataArray, what: str) -> pyproj.CRS:
    rio_crs = da.rio.crs
    if rio_crs is None:
        raise InputError(f"{what} has no CRS; write the region's metric CRS with da.rio.write_crs")
    crs = pyproj.CRS.from_user_input(rio_crs)
    if not crs.is_projected:
        raise InputError(
            f"{what} is in {crs.to_string()}, a geographic CRS; reproject it to the region's "
            "metric CRS first"
        )
    units = {axis.unit_name for axis in crs.axis_info[:2]}
    if not units <= {"metre", "meter", "m"}:
        raise InputError(f"{what} is in {crs.to_string()} with axes in {sorted(units)}, not metres")
    return crs


def _spacing(values: np.ndarray, what: str, axis: str) -> float:
    steps = np.diff(values)
    step = float(steps[0])
    if not np.all(np.isfinite(steps)) or np.any(np.abs(steps - step) > 1e-6 * abs(step) + 1e-9):
        raise InputError(f"{what}: {axis} coordinates are not regularly spaced")
    return step
