"""Rainfall science, pure: gauge accumulations and rainfall grids on the floodwatch grid.

* :func:`accumulate` / :func:`accumulate_many` — rolling-window totals per rain gauge, with the
  reading coverage and the gaps reported (never filled);
* :func:`idw` (default) and :func:`kriging` — gauge totals interpolated onto a template grid
  (see :mod:`floodwatch.hydro.grid` for the grid convention);
* :func:`regrid` — a gridded (radar/satellite) accumulation resampled onto the template.

No files, database or clock here: times come in as arguments, arrays go out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers the .rio accessor)
import xarray as xr
from rasterio.enums import Resampling
from scipy.spatial import cKDTree

from floodwatch.core.errors import InputError

WINDOWS_H: tuple[float, ...] = (1, 3, 6, 24, 72)
ACCUMULATION_COLUMNS = ["window_h", "start", "end", "rain_mm", "expected", "present",
                        "coverage", "gaps"]
#: Grid cells evaluated per cKDTree query: bounds the working memory (~50 MB at k=8).
CHUNK_CELLS = 131_072
RAIN_DTYPE = np.float32

# --------------------------------------------------------------------------- accumulation


def accumulate(
    rain_mm: pd.Series,
    *,
    end: datetime,
    windows_h: Sequence[float] = WINDOWS_H,
    interval: timedelta,
) -> pd.DataFrame:
    """Rain totals of one gauge over the windows ``(end - window, end]``, one row per window.

    ``rain_mm`` is indexed by aware times; each value is the rain over the ``interval`` ending
    at that time; NaN = missing or rejected by QC. Readings inside the longest window must fall
    on the steps ``end - k * interval``. Columns: ``window_h``, ``start``/``end`` (UTC),
    ``rain_mm`` (sum of the valid readings, NaN when none), ``expected``/``present`` reading
    counts, ``coverage`` (present/expected) and ``gaps`` (list of ``(start, end)`` UTC tuples of
    the missing intervals, oldest first). Missing readings are never filled.
    """
    if not isinstance(rain_mm, pd.Series):
        raise InputError(f"rain_mm must be a pandas Series, got {type(rain_mm).__name__}")
    step = _interval(interval)
    end_utc = _utc_timestamp(end, "end")
    windows = _windows(windows_h, step)
    series = _clean_series(rain_mm)
    n_max = max(windows.values())
    expected_at = pd.date_range(end=end_utc, periods=n_max, freq=step, tz="UTC")
    inside = series[(series.index > end_utc - n_max * step) & (series.index <= end_utc)]
    off_grid = inside.index.difference(expected_at)
    if len(off_grid):
        raise InputError(
            f"{len(off_grid)} reading(s) are not on the {step} steps ending at {end_utc} "
            f"(first at {off_grid[0]}); resample them to the interval first"
        )
    on_grid = inside.reindex(expected_at).to_numpy(dtype="float64")
    rows = []
    for window_h, n in windows.items():
        values = on_grid[-n:]
        valid = ~np.isnan(values)
        present = int(valid.sum())
        rows.append({
            "window_h": window_h,
            "start": end_utc - n * step,
            "end": end_utc,
            "rain_mm": float(values[valid].sum()) if present else np.nan,
            "expected": n,
            "present": present,
            "coverage": present / n,
            "gaps": _gaps(expected_at[-n:], valid, step),
        })
    return pd.DataFrame(rows, columns=ACCUMULATION_COLUMNS)


def accumulate_many(
    frame: pd.DataFrame,
    *,
    end: datetime,
    windows_h: Sequence[float] = WINDOWS_H,
    interval: timedelta,
) -> pd.DataFrame:
    """:func:`accumulate` for every station of a long frame (``station``, ``observed_at``,
    ``rain_mm``; other columns ignored): one row per station × window, stations sorted."""
    missing = {"station", "observed_at", "rain_mm"} - set(frame.columns)
    if missing:
        raise InputError(f"rain frame lacks column(s) {sorted(missing)}")
    columns = ["station", *ACCUMULATION_COLUMNS]
    if frame.empty:
        return pd.DataFrame(columns=columns)
    times = _utc_index(frame["observed_at"], "observed_at")
    parts = []
    for station, group in frame.assign(observed_at=times).groupby("station", sort=True):
        index = pd.DatetimeIndex(group["observed_at"])
        series = pd.Series(group["rain_mm"].to_numpy(), index=index)
        try:
            part = accumulate(series, end=end, windows_h=windows_h, interval=interval)
        except InputError as exc:
            raise InputError(f"station {station}: {exc}") from exc
        parts.append(part.assign(station=station))
    return pd.concat(parts, ignore_index=True)[columns]


def _interval(interval: timedelta) -> pd.Timedelta:
    step = pd.Timedelta(interval)
    if pd.isna(step) or step <= pd.Timedelta(0):
        raise InputError(f"interval must be a positive duration, got {interval!r}")
    return step


def _windows(windows_h: Iterable[float], step: pd.Timedelta) -> dict[float, int]:
    """window_h → number of readings; each window a positive whole number of intervals."""
    out: dict[float, int] = {}
    for window_h in windows_h:
        window = pd.Timedelta(hours=float(window_h))
        if window <= pd.Timedelta(0) or window % step != pd.Timedelta(0):
            raise InputError(f"window of {window_h} h is not a positive multiple of {step}")
        out[window_h] = int(window // step)
    if not out:
        raise InputError("windows_h is empty")
    return out


def _utc_timestamp(value: Any, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what} is not a time: {value!r}") from exc
    if pd.isna(stamp) or stamp.tzinfo is None:
        raise InputError(f"{what} must be a timezone-aware time, got {value!r}")
    return stamp.tz_convert("UTC")


def _utc_index(values: Any, what: str) -> pd.DatetimeIndex:
    try:
        index = pd.DatetimeIndex(pd.to_datetime(values))
    except (TypeError, ValueError):  # mixed offsets, or naive mixed with aware
        if any(isinstance(v, datetime) and v.tzinfo is None for v in values):
            raise InputError(f"{what} mixes naive and timezone-aware times") from None
        try:
            index = pd.DatetimeIndex(pd.to_datetime(values, utc=True))
        except (TypeError, ValueError) as exc:
            raise InputError(f"{what} holds values that are not times ({exc})") from exc
    if index.tz is None:
        raise InputError(f"{what} must be timezone-aware (UTC) times, not naive")
    if index.hasnans:
        raise InputError(f"{what} has missing times")
    return index.tz_convert("UTC")


def _clean_series(rain_mm: pd.Series) -> pd.Series:
    index = _utc_index(rain_mm.index, "rain_mm index")
    if index.has_duplicates:
        raise InputError(f"rain_mm has duplicate times, first {index[index.duplicated()][0]}")
    try:
        values = pd.to_numeric(pd.Series(rain_mm.to_numpy()), errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise InputError(f"rain_mm values are not numbers ({exc})") from exc
    if (values < 0).any() or np.isinf(values).any():
        raise InputError("rain_mm has negative or infinite values; flag them as NaN in QC")
    return pd.Series(values.to_numpy(), index=index).sort_index()


def _gaps(
    times: pd.DatetimeIndex, valid: np.ndarray, step: pd.Timedelta
) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Runs of missing readings as (start, end] intervals: a reading at t covers (t - step, t]."""
    missing = np.flatnonzero(~valid)
    if missing.size == 0:
        return []
    breaks = np.flatnonzero(np.diff(missing) > 1)
    firsts = np.r_[missing[0], missing[breaks + 1]]
    lasts = np.r_[missing[breaks], missing[-1]]
    return [(times[a] - step, times[b]) for a, b in zip(firsts, lasts, strict=True)]


# --------------------------------------------------------------------------- interpolation


def idw(
    xy_m: np.ndarray,
    values: np.ndarray,
    template: xr.DataArray,
    *,
    k: int = 8,
    power: float = 2.0,
    radius_m: float | None = None,
) -> xr.DataArray:
    """Inverse-distance-weighted gauge values on the template grid (cell centres), in mm.

    Each cell takes the ``k`` nearest gauges within ``radius_m`` (inclusive; None = no limit),
    weights ``1 / d**power``; a cell with no gauge in range is NaN, a cell on a gauge takes its
    value. Gauges whose value is NaN are left out. Computed as nearest value + weighted
    deviations, so a constant field comes out exactly constant. A dask-chunked template gives a
    lazy, dask-backed result evaluated block by block.
    """
    xy, vals = _gauges(xy_m, values, minimum=1)
    x, y = _template_axes(template)
    if not (isinstance(k, int | np.integer) and k >= 1):
        raise InputError(f"k must be a positive integer, got {k!r}")
    if not (np.isfinite(power) and power >= 0):
        raise InputError(f"power must be a finite number >= 0, got {power!r}")
    if radius_m is not None and not (np.isfinite(radius_m) and radius_m > 0):
        raise InputError(f"radius_m must be a positive number or None, got {radius_m!r}")
    tree = cKDTree(xy)
    params = {"k": min(int(k), len(vals)), "power": float(power),
              "bound": np.inf if radius_m is None else np.nextafter(float(radius_m), np.inf)}
    if template.chunks is not None:
        out = xr.map_blocks(_idw_block, template.transpose("y", "x"),
                            args=(tree, vals, params), template=_like(template))
    else:
        out = _like(template, _idw_grid(tree, vals, x, y, params, workers=-1))
    attrs = {"method": "idw", "idw_k": int(k), "idw_power": float(power),
             "idw_radius_m": "none" if radius_m is None else float(radius_m)}
    return _finish(out, template, len(vals), attrs)


def kriging(
    xy_m: np.ndarray,
    values: np.ndarray,
    template: xr.DataArray,
    *,
    variogram_model: str = "spherical",
) -> xr.DataArray:
    """Ordinary kriging (pykrige) of gauge values on the template grid, in mm.

    Needs at least 3 gauges with a value (NaN-valued gauges are left out). The variogram is
    fitted to the gauges; a constant field is returned as that constant (no variogram can be
    fitted to it). Cells on a gauge take its value. Evaluated in chunks of rows; eager.
    """
    from pykrige.ok import OrdinaryKriging

    xy, vals = _gauges(xy_m, values, minimum=3)
    x, y = _template_axes(template)
    if np.ptp(vals) == 0:
        grid = np.full((y.size, x.size), vals[0], dtype=RAIN_DTYPE)
    else:
        try:
            model = OrdinaryKriging(xy[:, 0], xy[:, 1], vals, variogram_model=variogram_model)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise InputError(f"kriging cannot fit a {variogram_model!r} variogram ({exc})") from exc
        grid = np.empty((y.size, x.size), dtype=RAIN_DTYPE)
        for rows, xx, yy in _row_blocks(x, y):
            z, _ = model.execute("points", xx.ravel(), yy.ravel())
            grid[rows] = np.asarray(z, dtype="float64").reshape(xx.shape)
        _snap_to_gauges(grid, cKDTree(xy), vals, x, y)
    attrs = {"method": "ordinary_kriging", "variogram_model": variogram_model}
    return _finish(_like(template, grid), template, len(vals), attrs)


def _gauges(xy_m: Any, values: Any, *, minimum: int) -> tuple[np.ndarray, np.ndarray]:
    xy = np.asarray(xy_m, dtype="float64")
    vals = np.asarray(values, dtype="float64")
    if xy.ndim != 2 or xy.shape[1] != 2:
        raise InputError(f"xy_m must have shape (n, 2), got {xy.shape}")
    if vals.shape != (xy.shape[0],):
        raise InputError(f"values must have shape ({xy.shape[0]},) to match xy_m, got {vals.shape}")
    if not np.isfinite(xy).all():
        raise InputError("xy_m has non-finite gauge coordinates")
    keep = ~np.isnan(vals)
    if np.isinf(vals[keep]).any():
        raise InputError("values has infinite gauge values")
    if keep.sum() < minimum:
        raise InputError(f"need at least {minimum} gauge(s) with a value, got {int(keep.sum())}")
    return xy[keep], vals[keep]


def _template_axes(template: xr.DataArray) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(template, xr.DataArray) or set(template.dims) != {"y", "x"}:
        raise InputError("template must be a DataArray with dims ('y', 'x')")
    if "x" not in template.coords or "y" not in template.coords:
        raise InputError("template has no x/y cell-centre coordinates")
    if template.rio.crs is None:
        raise InputError("template has no CRS; write one with da.rio.write_crs(crs)")
    return np.asarray(template["x"], dtype="float64"), np.asarray(template["y"], dtype="float64")


def _row_blocks(x: np.ndarray, y: np.ndarray) -> Iterable[tuple[slice, np.ndarray, np.ndarray]]:
    step = max(1, CHUNK_CELLS // max(1, x.size))
    for r0 in range(0, y.size, step):
        rows = slice(r0, min(r0 + step, y.size))
        xx, yy = np.meshgrid(x, y[rows])
        yield rows, xx, yy


def _idw_grid(tree: cKDTree, vals: np.ndarray, x: np.ndarray, y: np.ndarray,
              params: dict[str, Any], *, workers: int) -> np.ndarray:
    grid = np.empty((y.size, x.size), dtype=RAIN_DTYPE)
    for rows, xx, yy in _row_blocks(x, y):
        pts = np.column_stack([xx.ravel(), yy.ravel()])
        grid[rows] = _idw_points(tree, vals, pts, params, workers).reshape(xx.shape)
    return grid


def _idw_points(tree: cKDTree, vals: np.ndarray, pts: np.ndarray,
                params: dict[str, Any], workers: int) -> np.ndarray:
    k = params["k"]
    d, i = tree.query(pts, k=k, distance_upper_bound=params["bound"], workers=workers)
    d, i = d.reshape(len(pts), k), i.reshape(len(pts), k)  # k == 1 gives 1-D results
    found = np.isfinite(d)
    v = np.append(vals, np.nan)[i]  # index n = no neighbour in range
    anchor = v[:, 0]  # nearest gauge
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(found, (d / d[:, :1]) ** -params["power"], 0.0)  # nearest weight = 1
        dev = np.where(found, v - anchor[:, None], 0.0)
        out = anchor + (w * dev).sum(axis=1) / w.sum(axis=1)
        on_gauge = d == 0
        at_zero = on_gauge.any(axis=1)
        out[at_zero] = anchor[at_zero] + (
            np.where(on_gauge, dev, 0.0).sum(axis=1)[at_zero] / on_gauge.sum(axis=1)[at_zero]
        )
    out[~found[:, 0]] = np.nan
    return out


def _idw_block(block: xr.DataArray, tree: cKDTree, vals: np.ndarray,
               params: dict[str, Any]) -> xr.DataArray:
    x, y = np.asarray(block["x"], dtype="float64"), np.asarray(block["y"], dtype="float64")
    return _like(block, _idw_grid(tree, vals, x, y, params, workers=1))


def _snap_to_gauges(grid: np.ndarray, tree: cKDTree, vals: np.ndarray,
                    x: np.ndarray, y: np.ndarray) -> None:
    """Cells whose centre is on a gauge take its value exactly (in place)."""
    for (gx, gy), value in zip(tree.data, vals, strict=True):
        col, row = np.flatnonzero(x == gx), np.flatnonzero(y == gy)
        if col.size and row.size:
            grid[row[0], col[0]] = value


def _like(template: xr.DataArray, data: Any = None) -> xr.DataArray:
    """A float32 rain array on the template's grid (lazy zeros when ``data`` is None)."""
    base = template.transpose("y", "x")
    if data is None:
        data = xr.zeros_like(base, dtype=RAIN_DTYPE).data
    return xr.DataArray(data, dims=("y", "x"), coords=base.coords, name="rain_mm")


def _finish(out: xr.DataArray, template: xr.DataArray, n_gauges: int,
            attrs: dict[str, Any]) -> xr.DataArray:
    out = out.rio.write_crs(template.rio.crs)
    out.name = "rain_mm"
    out.attrs = {"units": "mm", "long_name": "rainfall interpolated from gauges",
                 "source": "rain gauges", "n_gauges": int(n_gauges), **attrs}
    return out


# --------------------------------------------------------------------------- gridded rainfall


def regrid(
    rain: xr.DataArray,
    template: xr.DataArray,
    *,
    resampling: Resampling = Resampling.average,
) -> xr.DataArray:
    """A 2-D gridded accumulation (mm, with a CRS) resampled onto the template grid.

    Default ``average``: each target cell gets the area-weighted mean depth of the source cells
    it covers, so mean depth — and hence volume over the same area — is preserved when
    coarsening. NaN source cells are ignored; target cells outside the source are NaN. Sum a
    ``(time, y, x)`` grid over time first (e.g. ``rain.sum("time", min_count=1)``).
    """
    if not isinstance(rain, xr.DataArray) or set(rain.dims) != {"y", "x"}:
        dims = getattr(rain, "dims", None)
        raise InputError(f"rain must be a 2-D DataArray with dims ('y', 'x'), got {dims}; "
                         "sum over time first")
    if rain.attrs.get("units") != "mm":
        raise InputError(f"rain must be in mm (attrs['units']), got {rain.attrs.get('units')!r}")
    if rain.rio.crs is None:
        raise InputError("rain has no CRS; it cannot be placed on the grid")
    x, y = _template_axes(template)
    source = rain.transpose("y", "x").astype("float64").rio.write_nodata(np.nan, encoded=False)
    target = template.transpose("y", "x")
    out = source.rio.reproject_match(target, resampling=resampling, nodata=np.nan)
    out = out.assign_coords(x=x, y=y).astype(RAIN_DTYPE).rio.write_crs(template.rio.crs)
    out.name = "rain_mm"
    out.attrs = {
        "units": "mm",
        "long_name": "gridded rainfall resampled to the analysis grid",
        "method": "regrid",
        "resampling": resampling.name,
        "source_crs": rain.rio.crs.to_wkt(),
        **{key: rain.attrs[key] for key in ("title", "institution", "source") if key in rain.attrs},
    }
    return out
