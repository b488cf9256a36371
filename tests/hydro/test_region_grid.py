"""Reading a region's DEM for the model: units and CRS converted or refused with a clear
message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.hydro.region_grid import read_dem


def _write(path: Path, crs: str, units: str, x0: float, y0: float, res: float) -> Path:
    values = np.arange(400, dtype=np.float32).reshape(20, 20)
    dem = xr.DataArray(values, dims=("y", "x"), attrs={"units": units},
                       coords={"y": y0 - res * (np.arange(20) + 0.5),
                               "x": x0 + res * (np.arange(20) + 0.5)})
    dem.rio.write_crs(crs, inplace=True).rio.to_raster(path)
    return path


def test_a_dem_in_feet_is_converted_to_metres(tmp_path: Path) -> None:
    path = _write(tmp_path / "ft.tif", "EPSG:32648", "ft", 770_000, 1_830_000, 50.0)
    dem = read_dem(path, "EPSG:32648")
    assert dem.attrs["units"] == "m"
    assert float(dem.max()) == pytest.approx(399 * 0.3048, rel=1e-6)


def test_a_dem_in_another_crs_is_reprojected_to_the_metric_crs(tmp_path: Path) -> None:
    path = _write(tmp_path / "geo.tif", "EPSG:4326", "m", 107.5, 16.5, 0.0005)
    dem = read_dem(path, "EPSG:32648")
    assert dem.rio.crs.to_epsg() == 32648
    assert 40 < abs(float(dem.x[1] - dem.x[0])) < 70  # ~55 m cells, north-up
    assert np.nanmax(dem.values) <= 399 and float(dem.y[0]) > float(dem.y[-1])


def test_bad_dems_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        read_dem(tmp_path / "missing.tif", "EPSG:32648")
    path = _write(tmp_path / "furlong.tif", "EPSG:32648", "furlong", 770_000, 1_830_000, 50.0)
    with pytest.raises(InputError, match="furlong"):
        read_dem(path, "EPSG:32648")
