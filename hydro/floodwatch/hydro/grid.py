"""The floodwatch analysis grid: a regular, north-up raster in the region's metric CRS.

Convention (used by every gridded product): an ``xarray.DataArray`` with dims ``("y", "x")``,
coords ``x``/``y`` = cell centres in metres, ``y`` descending, CRS written with rioxarray and
``attrs["units"]`` set.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr

from floodwatch.core.errors import InputError


def grid_template(
    bounds: tuple[float, float, float, float],
    resolution_m: float,
    crs: Any,
    *,
    name: str = "template",
) -> xr.DataArray:
    """A NaN-filled float32 grid covering ``bounds`` = (xmin, ymin, xmax, ymax) in metres.

    The grid starts at (xmin, ymax); the cell count is rounded up so the bounds are covered.
    """
    if len(bounds) != 4:
        raise InputError(f"bounds must be (xmin, ymin, xmax, ymax), got {bounds!r}")
    xmin, ymin, xmax, ymax = (float(b) for b in bounds)
    if not all(math.isfinite(b) for b in (xmin, ymin, xmax, ymax)) or xmax <= xmin or ymax <= ymin:
        raise InputError(f"bounds must be finite with xmin < xmax and ymin < ymax, got {bounds!r}")
    if not math.isfinite(resolution_m) or resolution_m <= 0:
        raise InputError(f"resolution_m must be a positive number, got {resolution_m!r}")
    nx = max(1, math.ceil((xmax - xmin) / resolution_m - 1e-9))
    ny = max(1, math.ceil((ymax - ymin) / resolution_m - 1e-9))
    x = xmin + resolution_m * (np.arange(nx) + 0.5)
    y = ymax - resolution_m * (np.arange(ny) + 0.5)
    da = xr.DataArray(
        np.full((ny, nx), np.nan, dtype=np.float32),
        dims=("y", "x"),
        coords={"y": y, "x": x},
        name=name,
        attrs={"units": "1", "resolution_m": float(resolution_m)},
    )
    return da.rio.write_crs(crs)


def cell_area_m2(da: xr.DataArray) -> float:
    """Area of one cell of a regular metric grid, in square metres."""
    if "x" not in da.dims or "y" not in da.dims or da.sizes["x"] < 2 or da.sizes["y"] < 2:
        res = da.attrs.get("resolution_m")
        if res is None:
            raise InputError("cell_area_m2 needs a grid with at least 2 cells along x and y")
        return float(res) ** 2
    dx = abs(float(da["x"][1] - da["x"][0]))
    dy = abs(float(da["y"][1] - da["y"][0]))
    return dx * dy
