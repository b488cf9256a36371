"""Gridded rainfall in CF-NetCDF (radar QPE such as BoM Rainfields ``prcp-c10``), read pure.

:func:`open_rainfall` returns an ``xr.DataArray`` named ``rainfall`` with dims
``(time, y, x)``:

* values in **mm** accumulated over each time step (CF ``scale_factor``/``add_offset`` applied,
  ``_FillValue`` and ``missing_value`` cells are NaN; ``kg m-2`` of water is mm);
* ``x``/``y`` in **metres** of the grid's projected CRS (BoM writes km; the CRS is in metres);
* ``time`` = end of the accumulation window, numpy ``datetime64[ns]`` holding **UTC** (numpy
  times carry no zone); ``start_time`` (a coordinate on ``time``) = its start, and the
  attribute ``accumulation_s`` = the window length in seconds when it is the same for all steps;
* the CRS attached the CF way rioxarray reads and writes it: a scalar ``spatial_ref``
  coordinate holding ``crs_wkt`` (plus the CF grid-mapping attributes), named by
  ``grid_mapping`` in the encoding, and ``attrs["crs_wkt"]`` on the array. With rioxarray
  installed, ``da.rio.crs`` and ``da.rio.transform()`` work; this module does not import it.

The files are NetCDF-4 (HDF5): they are opened with xarray's ``h5netcdf`` engine (packages
``h5netcdf`` and ``h5py``), from a path or from bytes in memory.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import xarray as xr

from floodwatch.core.errors import InputError

ENGINE = "h5netcdf"
RAINFALL_STANDARD_NAMES = frozenset(
    {
        "precipitation_amount",
        "lwe_thickness_of_precipitation_amount",
        "thickness_of_rainfall_amount",
        "rainfall_amount",
        "lwe_thickness_of_stratiform_precipitation_amount",
    }
)
#: Amount units → factor to mm. ``kg m-2`` of liquid water is 1 mm.
_TO_MM: dict[str, float] = {
    "mm": 1.0,
    "millimeter": 1.0,
    "millimetre": 1.0,
    "kg m-2": 1.0,
    "kg/m2": 1.0,
    "kg m**-2": 1.0,
    "kg/m^2": 1.0,
    "m": 1000.0,
}
_TO_M: dict[str, float] = {"m": 1.0, "metre": 1.0, "meter": 1.0, "km": 1000.0}


def open_rainfall(source: str | Path | bytes, *, variable: str | None = None) -> xr.DataArray:
    """The rainfall grid of one CF-NetCDF file (path or bytes), loaded into memory.

    ``variable`` names the data variable; by default the one whose ``standard_name`` is a
    precipitation amount.
    """
    name = "NetCDF bytes" if isinstance(source, bytes) else str(source)
    target: Any = io.BytesIO(source) if isinstance(source, bytes) else Path(source)
    try:
        dataset = xr.open_dataset(target, engine=ENGINE, mask_and_scale=True, decode_times=True)
    except (OSError, ValueError) as exc:
        raise InputError(f"{name}: cannot be read as NetCDF-4/HDF5 ({exc})") from exc
    with dataset:
        var_name = variable or _rainfall_variable(dataset, name)
        if var_name not in dataset.data_vars:
            raise InputError(f"{name}: no data variable {var_name!r}")
        rainfall = dataset[var_name].load()
        crs = _crs(dataset, rainfall, name)
        times = _times(dataset, rainfall, name)
        provenance = {
            key: dataset.attrs[key]
            for key in ("title", "institution", "source", "licence", "station_id", "station_name")
            if key in dataset.attrs
        }
    return _normalised(rainfall, crs, times, provenance, name)


# --------------------------------------------------------------------------- helpers


def _rainfall_variable(dataset: xr.Dataset, name: str) -> str:
    found = [
        str(key)
        for key, var in dataset.data_vars.items()
        if var.attrs.get("standard_name") in RAINFALL_STANDARD_NAMES and var.ndim >= 2
    ]
    if len(found) != 1:
        raise InputError(
            f"{name}: expected one precipitation-amount variable, found {found or 'none'}; "
            "pass variable="
        )
    return found[0]


def _crs(dataset: xr.Dataset, rainfall: xr.DataArray, name: str) -> pyproj.CRS:
    mapping_name = rainfall.attrs.get("grid_mapping") or rainfall.encoding.get("grid_mapping")
    if not mapping_name or mapping_name not in dataset.variables:
        raise InputError(f"{name}: {rainfall.name} names no grid_mapping variable")
    attrs = dict(dataset[mapping_name].attrs)
    try:
        if "crs_wkt" in attrs:
            return pyproj.CRS.from_wkt(attrs["crs_wkt"])
        return pyproj.CRS.from_cf(attrs)
    except pyproj.exceptions.CRSError as exc:
        raise InputError(f"{name}: grid_mapping {mapping_name!r} is not a CRS ({exc})") from exc


def _times(
    dataset: xr.Dataset, rainfall: xr.DataArray, name: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """(end times, start times or None) as datetime64[ns] UTC, one per time step."""
    if "time" in rainfall.dims:
        ends = np.asarray(rainfall["time"].values)
    else:
        scalar = [
            var for var in dataset.data_vars.values()
            if var.ndim == 0 and var.attrs.get("standard_name") == "time"
        ]
        if len(scalar) != 1:
            raise InputError(f"{name}: no time dimension and no scalar time variable")
        ends = np.atleast_1d(scalar[0].values)
    if not np.issubdtype(ends.dtype, np.datetime64):
        raise InputError(f"{name}: time is not decodable as CF time ({ends.dtype})")
    starts = None
    if "start_time" in dataset.variables:
        starts = np.broadcast_to(np.asarray(dataset["start_time"].values), ends.shape)
        if not np.issubdtype(starts.dtype, np.datetime64):
            raise InputError(f"{name}: start_time is not decodable as CF time")
    return ends.astype("datetime64[ns]"), None if starts is None else starts.astype(
        "datetime64[ns]"
    )


def _normalised(
    rainfall: xr.DataArray,
    crs: pyproj.CRS,
    times: tuple[np.ndarray, np.ndarray | None],
    provenance: dict[str, Any],
    name: str,
) -> xr.DataArray:
    units = str(rainfall.attrs.get("units", "")).strip()
    if units not in _TO_MM:
        raise InputError(f"{name}: units {units!r} of {rainfall.name} are not a rainfall amount")
    if "x" not in rainfall.dims or "y" not in rainfall.dims:
        raise InputError(f"{name}: {rainfall.name} has no x/y dimensions {rainfall.dims}")
    ends, starts = times
    data = rainfall.astype("float64") * _TO_MM[units]
    has_time = "time" in data.dims
    data = data.assign_coords(time=ends) if has_time else data.expand_dims(time=ends)
    coords: dict[str, Any] = {"x": _metres(rainfall["x"], name), "y": _metres(rainfall["y"], name)}
    if starts is not None:
        coords["start_time"] = ("time", starts)
    data = data.assign_coords(coords).transpose("time", "y", "x")
    data = data.drop_vars([c for c in data.coords if c not in ("time", "start_time", "x", "y")])
    data = data.assign_coords(spatial_ref=xr.DataArray(0, attrs=_crs_attrs(crs)))
    data.name = "rainfall"
    data.attrs = {
        "units": "mm",
        "long_name": "rainfall accumulated over the time step",
        "standard_name": "precipitation_amount",
        "crs_wkt": crs.to_wkt(),
        **provenance,
    }
    if starts is not None:
        windows = {int(seconds) for seconds in (ends - starts) / np.timedelta64(1, "s")}
        if len(windows) == 1:
            data.attrs["accumulation_s"] = windows.pop()
    data.encoding = {"grid_mapping": "spatial_ref"}
    return data


def _metres(coordinate: xr.DataArray, name: str) -> xr.DataArray:
    units = str(coordinate.attrs.get("units", "m")).strip()
    if units not in _TO_M:
        raise InputError(f"{name}: coordinate {coordinate.name} in {units!r}, not m or km")
    standard_name = coordinate.attrs.get("standard_name")
    attrs = {"units": "m", **({"standard_name": standard_name} if standard_name else {})}
    return xr.DataArray(
        np.asarray(coordinate.values, dtype="float64") * _TO_M[units],
        dims=coordinate.dims,
        attrs=attrs,
    )


def _crs_attrs(crs: pyproj.CRS) -> dict[str, Any]:
    """The CF grid-mapping attributes plus ``crs_wkt``/``spatial_ref`` (what rioxarray writes)."""
    attrs: dict[str, Any] = {}
    with contextlib.suppress(pyproj.exceptions.CRSError):
        attrs.update(crs.to_cf())
    wkt = crs.to_wkt()
    attrs["crs_wkt"] = wkt
    attrs["spatial_ref"] = wkt
    return attrs
