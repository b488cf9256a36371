"""Gridded rainfall NetCDF, against two BoM Rainfields 10-min radar files (SOURCES.md, grid/).

Raw variables of both files (read with h5py / ``decode_cf=False``):
``precipitation`` int16 (y=512, x=512), ``scale_factor`` 0.05, ``add_offset`` 0.0,
``_FillValue`` -1, ``units`` "kg m-2", ``grid_mapping`` "proj" (albers_conical_equal_area,
standard_parallel -26.2/-29.3, central meridian 153.24, origin latitude -27.7178);
``x``/``y`` cell centres in km, -127.75 … 127.75 (y descending), 0.5 km apart;
``valid_time``/``start_time`` int64 seconds since 1970-01-01 UTC.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pyproj
import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.grid import open_rainfall

GRID = Path(__file__).parents[2] / "fixtures" / "feeds" / "grid"
FIRST = GRID / "bom_prcp-c10_66_20201031_000000.nc"
SECOND = GRID / "bom_prcp-c10_66_20201031_001000.nc"


def test_values_scaled_to_mm_checked_by_hand() -> None:
    rain = open_rainfall(FIRST)
    assert rain.dims == ("time", "y", "x")
    assert rain.shape == (1, 512, 512)
    assert rain.attrs["units"] == "mm"
    # raw precipitation[313, 292] = 55 (the file's maximum) → 55 × 0.05 = 2.75 mm
    assert float(rain[0, 313, 292]) == pytest.approx(2.75)
    # raw precipitation[70, 469] = 1 → 0.05 mm
    assert float(rain[0, 70, 469]) == pytest.approx(0.05)
    # raw precipitation[0, 0] = 0 → 0 mm
    assert float(rain[0, 0, 0]) == 0.0
    assert float(rain.max()) == pytest.approx(2.75)
    # 2,524 cells with raw > 0; none is the fill value -1
    assert int((rain > 0).sum()) == 2524
    assert not bool(rain.isnull().any())


def test_second_file_checked_by_hand() -> None:
    rain = open_rainfall(SECOND)
    # raw precipitation[161, 493] = 84 (the maximum) → 4.2 mm, at x = 118.75 km, y = 47.25 km
    cell = rain[0, 161, 493]
    assert float(cell) == pytest.approx(4.2)
    assert float(cell["x"]) == pytest.approx(118_750.0)
    assert float(cell["y"]) == pytest.approx(47_250.0)
    # valid_time = 1604103000 s → 2020-10-31T00:10:00Z; start_time = 1604102400 → 00:00Z
    assert rain["time"].values[0] == np.datetime64("2020-10-31T00:10:00")
    assert rain["start_time"].values[0] == np.datetime64("2020-10-31T00:00:00")


def test_whole_grid_equals_raw_times_scale_factor() -> None:
    with h5py.File(FIRST, "r") as raw:
        counts = raw["precipitation"][...]
        scale = np.asarray(raw["precipitation"].attrs["scale_factor"]).item()
        fill = np.asarray(raw["precipitation"].attrs["_FillValue"]).item()
    assert (scale, fill) == (0.05, -1)
    rain = open_rainfall(FIRST)
    np.testing.assert_allclose(rain.values[0], counts * scale)


def test_time_is_the_end_of_the_window_in_utc() -> None:
    rain = open_rainfall(FIRST)
    # valid_time = 1604102400 s since 1970-01-01 UTC = 2020-10-31T00:00:00Z (the file name)
    assert rain["time"].values[0] == np.datetime64("2020-10-31T00:00:00")
    # start_time = 1604101800 → 2020-10-30T23:50:00Z: a 600 s (10 min) accumulation
    assert rain["start_time"].values[0] == np.datetime64("2020-10-30T23:50:00")
    assert rain.attrs["accumulation_s"] == 600


def test_coordinates_in_metres_and_crs_attached() -> None:
    rain = open_rainfall(FIRST)
    # x, y: km in the file (-127.75 … 127.75) → metres
    assert float(rain["x"][0]) == pytest.approx(-127_750.0)
    assert float(rain["y"][0]) == pytest.approx(127_750.0)
    assert rain["x"].attrs["units"] == "m"
    crs = pyproj.CRS.from_wkt(rain.attrs["crs_wkt"])
    assert crs == pyproj.CRS.from_wkt(rain["spatial_ref"].attrs["crs_wkt"])
    assert rain.encoding["grid_mapping"] == "spatial_ref"
    to_lonlat = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    # the projection origin (0, 0) is the radar site: 153.24 E, 27.7178 S
    lon, lat = to_lonlat.transform(0.0, 0.0)
    assert (lon, lat) == (pytest.approx(153.24), pytest.approx(-27.7178))
    # the grid's north-west corner cell lies about 128 km W and N of it
    lon, lat = to_lonlat.transform(float(rain["x"][0]), float(rain["y"][0]))
    assert 151.8 < lon < 152.0 and -26.6 < lat < -26.5


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # inside rioxarray (Affine *)
def test_rioxarray_reads_the_crs_and_transform() -> None:
    pytest.importorskip("rioxarray")
    rain = open_rainfall(FIRST)
    assert rain.rio.crs is not None
    assert pyproj.CRS.from_wkt(rain.rio.crs.to_wkt()) == pyproj.CRS.from_wkt(rain.attrs["crs_wkt"])
    assert rain.rio.resolution() == (pytest.approx(500.0), pytest.approx(-500.0))
    transform = rain.rio.transform()
    assert (transform.c, transform.f) == (pytest.approx(-128_000.0), pytest.approx(128_000.0))


def test_bytes_and_path_give_the_same_grid() -> None:
    assert open_rainfall(FIRST.read_bytes()).equals(open_rainfall(FIRST))


def test_fill_values_become_nan(tmp_path: Path) -> None:
    copy = tmp_path / "filled.nc"
    shutil.copyfile(FIRST, copy)
    with h5py.File(copy, "r+") as raw:  # set three cells to the declared _FillValue -1
        raw["precipitation"][0, 0] = -1
        raw["precipitation"][313, 292] = -1
        raw["precipitation"][511, 511] = -1
    rain = open_rainfall(copy)
    assert int(rain.isnull().sum()) == 3
    assert np.isnan(float(rain[0, 313, 292]))
    assert float(rain[0, 70, 469]) == pytest.approx(0.05)  # the others are untouched


def test_malformed_input() -> None:
    with pytest.raises(InputError, match="cannot be read as NetCDF"):
        open_rainfall(b"not a netcdf file")
    with pytest.raises(InputError, match="no data variable 'rain'"):
        open_rainfall(FIRST, variable="rain")


def test_non_amount_units_are_rejected(tmp_path: Path) -> None:
    copy = tmp_path / "rate.nc"
    shutil.copyfile(FIRST, copy)
    with h5py.File(copy, "r+") as raw:
        raw["precipitation"].attrs["units"] = np.bytes_(b"mm h-1")
    with pytest.raises(InputError, match=r"'mm h-1'.*not a rainfall amount"):
        open_rainfall(copy)
