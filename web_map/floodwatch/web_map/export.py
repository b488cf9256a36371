"""History to files: CSV and (Geo)Parquet for tables, NetCDF following the CF conventions for
gauge series (station × time, a CF "timeSeries") and depth rasters (time × y × x with the
grid mapping of the region's CRS).

Every file is written under a temporary name beside the target and renamed into place, so a
reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr

from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.hydro.feeds.base import Flag
from floodwatch.web_map.history import flag_set

FORMATS = ("csv", "parquet", "netcdf")
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".geoparquet": "parquet", ".nc": "netcdf"}
CSV_TIME = "%Y-%m-%dT%H:%M:%SZ"
TIME_ENCODING = {"units": "seconds since 1970-01-01 00:00:00", "calendar": "standard",
                 "dtype": "int64"}
READINGS_ENCODING = {"time": TIME_ENCODING}
#: CF attributes per parameter: a standard name only where the CF table has one.
CF_PARAMETERS: dict[str, dict[str, str]] = {
    "water_level": {"standard_name": "water_surface_height_above_reference_datum",
                    "long_name": "river water level above the gauge datum", "units": "m"},
    "rainfall": {"standard_name": "lwe_thickness_of_precipitation_amount",
                 "long_name": "rainfall over the reading's interval", "units": "mm"},
    "discharge": {"standard_name": "water_volume_transport_in_river_channel",
                  "long_name": "river discharge", "units": "m3 s-1"},
    "reservoir_level": {"standard_name": "water_surface_height_above_reference_datum",
                        "long_name": "reservoir water level", "units": "m"},
    "reservoir_inflow": {"long_name": "reservoir inflow", "units": "m3 s-1"},
    "reservoir_outflow": {"long_name": "reservoir outflow", "units": "m3 s-1"},
    "water_depth": {"long_name": "water depth at a street sensor", "units": "m"},
}
#: QC flags as a CF bit field: flag k sets bit k.
QC_FLAGS = tuple(Flag)


def format_for(path: Path, fmt: str | None, allowed: Sequence[str]) -> str:
    """The format asked for, or the one the file's suffix names; refused if not ``allowed``."""
    chosen = fmt or SUFFIXES.get(path.suffix.lower())
    if chosen is None:
        raise InputError(f"give --format ({', '.join(allowed)}): the suffix of {path.name!r} "
                         "names none")
    if chosen not in allowed:
        raise InputError(f"this export is written as {' or '.join(allowed)}, not {chosen}")
    return chosen


@contextlib.contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path``, renamed to it when the block succeeds."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: {path.parent} is not a directory")
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_table(frame: pd.DataFrame, path: Path, fmt: str) -> Path:
    """A frame as CSV (times in UTC ISO 8601, geometry as WKT) or Parquet (a GeoDataFrame as
    GeoParquet)."""
    with atomic_path(path) as tmp:
        if fmt == "parquet":
            frame.to_parquet(tmp, index=False)
        elif fmt == "csv":
            plain = pd.DataFrame(frame)
            if isinstance(frame, gpd.GeoDataFrame):
                plain[frame.geometry.name] = frame.geometry.to_wkt()
            plain.to_csv(tmp, index=False, date_format=CSV_TIME)
        else:
            raise InputError(f"a table is written as csv or parquet, not {fmt}")
    return path


def write_netcdf(dataset: xr.Dataset, path: Path, encoding: dict[str, Any] | None = None
                 ) -> Path:
    with atomic_path(path) as tmp:
        dataset.to_netcdf(tmp, engine="h5netcdf", encoding=encoding)
    return path


def _history() -> str:
    return f"{utcnow():%Y-%m-%dT%H:%M:%SZ} written by floodwatch export"


def qc_bits(flags: str) -> int:
    found = flag_set(flags)
    return sum(1 << k for k, flag in enumerate(QC_FLAGS) if flag.value in found)


def readings_dataset(frame: pd.DataFrame, stations: pd.DataFrame, *,
                     cell_method: str | None = None) -> xr.Dataset:
    """Readings of one parameter (``history.readings``) as a CF timeSeries: the values and a QC
    bit field over station × time (NaN / 0 where a station has no reading at a time), with each
    station's name, position and alarm levels. ``stations`` is ``history.stations``."""
    parameters = frame["parameter"].unique()
    if len(parameters) == 0:
        raise InputError("no readings to write: widen the window or name other stations")
    if len(parameters) > 1:
        raise InputError("a gauge-series file holds one parameter: give readings of one")
    parameter = str(parameters[0])
    times = pd.DatetimeIndex(sorted(frame["observed_at"].unique())).tz_convert(None)
    codes = sorted(frame["station"].unique())
    keyed = frame.assign(observed_at=frame["observed_at"].dt.tz_convert(None))
    values = keyed.pivot(index="station", columns="observed_at", values="value")
    bits = keyed.assign(qc=keyed["flags"].map(qc_bits)).pivot(
        index="station", columns="observed_at", values="qc")
    meta = stations.set_index("code").reindex(codes)
    points = [g if g is not None and not g.is_empty else None for g in meta.geometry]
    attrs = dict(CF_PARAMETERS.get(parameter, {"long_name": parameter}))
    attrs["ancillary_variables"] = f"{parameter}_qc"
    qc_name = f"{attrs['standard_name']} status_flag" if "standard_name" in attrs else "status_flag"
    if cell_method:
        attrs["cell_methods"] = f"time: {cell_method}"
    data: dict[str, Any] = {
        parameter: (("station", "time"), values.reindex(index=codes, columns=times).to_numpy(
            dtype="float64"), attrs),
        f"{parameter}_qc": (("station", "time"), bits.reindex(index=codes, columns=times)
                            .fillna(0).to_numpy(dtype="int16"), {
            "long_name": f"quality-control flags of {parameter}", "standard_name": qc_name,
            "flag_masks": np.array([1 << k for k in range(len(QC_FLAGS))], dtype="int16"),
            "flag_meanings": " ".join(f.value for f in QC_FLAGS)}),
    }
    for k in (1, 2, 3):
        column = f"alarm{k}_m"
        if column in meta and meta[column].notna().any():
            data[column] = (("station",), meta[column].to_numpy(dtype="float64"),
                            {"long_name": f"alarm level {'I' * k} (BĐ {'I' * k})", "units": "m"})
    coords = {
        "station": ("station", np.array(codes, dtype=object),
                    {"cf_role": "timeseries_id", "long_name": "station code"}),
        "time": ("time", times.to_numpy(), {"standard_name": "time", "axis": "T",
                                            "long_name": "time of the reading (UTC)"}),
        "station_name": ("station", np.array([str(n) for n in meta["name"]], dtype=object),
                         {"long_name": "station name"}),
        "lat": ("station", np.array([p.y if p else np.nan for p in points]),
                {"standard_name": "latitude", "units": "degrees_north"}),
        "lon": ("station", np.array([p.x if p else np.nan for p in points]),
                {"standard_name": "longitude", "units": "degrees_east"}),
    }
    return xr.Dataset(data, coords=coords, attrs={
        "Conventions": "CF-1.8", "featureType": "timeSeries",
        "title": f"{attrs['long_name']} at {len(codes)} station(s)",
        "source": "floodwatch store (gauge feeds after quality control)",
        "history": _history()})


def depth_dataset(stack: xr.DataArray) -> xr.Dataset:
    """A time stack of depth rasters (``history.depth_stack``) as CF: depth in m over
    time × y × x, the projection as a grid-mapping variable, the run id of each time step."""
    crs = stack.rio.crs
    depth = stack.copy()
    depth.encoding = {}
    depth.attrs = {"long_name": "modelled flood water depth above ground", "units": "m",
                   "comment": str(stack.attrs.get("method", ""))}
    if stack.attrs.get("terrain_approximate"):
        depth.attrs["comment"] += "; computed on an approximate terrain: extents are illustrative"
    dataset = depth.to_dataset(name="depth").rio.write_crs(crs).rio.write_coordinate_system()
    dataset["time"].attrs = {"standard_name": "time", "axis": "T",
                             "long_name": "valid time of the model run (UTC)"}
    dataset["run_id"].attrs = {"long_name": "floodwatch model run id"}
    dataset.attrs = {"Conventions": "CF-1.8", "title": "modelled flood depth",
                     "source": "floodwatch model cycle", "history": _history()}
    return dataset


def depth_encoding(dataset: xr.Dataset) -> dict[str, Any]:
    _, ny, nx = dataset["depth"].shape
    return {"time": TIME_ENCODING,
            "depth": {**dataset["depth"].encoding, "zlib": True, "complevel": 4,
                      "dtype": "float32", "chunksizes": (1, min(ny, 512), min(nx, 512))}}
