"""Rainfall science: gauge accumulations, IDW/kriging onto the grid, regridding radar.

Analytic cases (exact values worked out by hand) plus a brute-force IDW reference, and one
real BoM Rainfields radar file for :func:`regrid`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import dask.array as dsa
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.grid import open_rainfall
from floodwatch.hydro.grid import cell_area_m2, grid_template
from floodwatch.hydro.rainfall import accumulate, accumulate_many, idw, kriging, regrid

RADAR = Path(__file__).parents[1] / "fixtures" / "feeds" / "grid"
RADAR_FILE = RADAR / "bom_prcp-c10_66_20201031_000000.nc"
HUE_CRS = "EPSG:32648"
HOUR = timedelta(hours=1)
T0 = datetime(2024, 10, 1, tzinfo=UTC)


def template(n: int = 10, res: float = 100.0) -> xr.DataArray:
    """n × n cells of ``res`` m; centres at 50, 150, … (x) and …, 150, 50 (y)."""
    return grid_template((0.0, 0.0, n * res, n * res), res, HUE_CRS)


def brute_idw(xy: np.ndarray, vals: np.ndarray, tpl: xr.DataArray, k: int, p: float) -> np.ndarray:
    """Reference: every distance, the k nearest, plain 1/d**p weights."""
    xx, yy = np.meshgrid(tpl["x"].values, tpl["y"].values)
    d = np.hypot(xx.ravel()[:, None] - xy[:, 0], yy.ravel()[:, None] - xy[:, 1])
    near = np.argsort(d, axis=1)[:, :k]
    dk = np.take_along_axis(d, near, axis=1)
    w = 1.0 / dk**p
    return ((w * vals[near]).sum(axis=1) / w.sum(axis=1)).reshape(xx.shape)


def hourly(values: list[float], start: datetime = T0) -> pd.Series:
    index = pd.date_range(start + HOUR, periods=len(values), freq="h")
    return pd.Series(values, index=index, dtype="float64")


# --------------------------------------------------------------------------- grid


def test_grid_template_cell_centres_north_up_with_crs() -> None:
    tpl = grid_template((1000.0, 2000.0, 1250.0, 2100.0), 50.0, HUE_CRS)
    assert tpl.dims == ("y", "x") and tpl.shape == (2, 5) and tpl.dtype == np.float32
    np.testing.assert_array_equal(tpl["x"], [1025, 1075, 1125, 1175, 1225])
    np.testing.assert_array_equal(tpl["y"], [2075, 2025])
    assert tpl.rio.crs.to_epsg() == 32648 and np.isnan(tpl).all()
    assert cell_area_m2(tpl) == 2500.0
    with pytest.raises(InputError, match="resolution_m"):
        grid_template((0, 0, 1, 1), 0.0, HUE_CRS)


# --------------------------------------------------------------------------- IDW


def test_idw_exact_at_gauges_units_and_crs() -> None:
    tpl = template()
    xy = np.array([[50.0, 950.0], [450.0, 450.0], [950.0, 50.0], [750.0, 850.0]])
    vals = np.array([1.3, 7.0, 0.0, 22.5])
    out = idw(xy, vals, tpl)
    got = [out.sel(x=x, y=y).item() for x, y in xy]
    np.testing.assert_array_equal(got, vals.astype(np.float32))
    assert out.attrs["units"] == "mm" and out.rio.crs == tpl.rio.crs
    assert out.attrs["method"] == "idw" and out.attrs["idw_power"] == 2.0
    assert out.attrs["idw_k"] == 8 and out.attrs["idw_radius_m"] == "none"
    assert out.dims == ("y", "x") and out.shape == tpl.shape
    np.testing.assert_array_equal(out["x"], tpl["x"])
    np.testing.assert_array_equal(out["y"], tpl["y"])


@pytest.mark.parametrize("value", [0.0, 0.1, 3.7, 123.456])
def test_idw_constant_field_is_exactly_constant(value: float) -> None:
    xy = np.random.default_rng(1).uniform(-200, 1200, size=(25, 2))
    out = idw(xy, np.full(25, value), template(), k=6, power=3.0)
    assert (out.values == np.float32(value)).all()


@pytest.mark.parametrize("power", [1.0, 2.0, 5.0])
def test_idw_two_gauges_midpoint_is_mean(power: float) -> None:
    out = idw(np.array([[150.0, 450.0], [750.0, 450.0]]), np.array([2.0, 6.0]), template(),
              power=power)
    assert out.sel(x=450.0, y=450.0).item() == 4.0
    assert out.sel(x=250.0, y=450.0).item() < 4.0 < out.sel(x=650.0, y=450.0).item()


def test_idw_radius_leaves_far_cells_nan() -> None:
    out = idw(np.array([[450.0, 450.0]]), np.array([5.0]), template(), radius_m=200.0)
    xx, yy = np.meshgrid(out["x"], out["y"])
    inside = np.hypot(xx - 450.0, yy - 450.0) <= 200.0  # boundary cells (200 m) included
    assert inside.sum() == 13
    assert (out.values[inside] == 5.0).all() and np.isnan(out.values[~inside]).all()
    assert out.attrs["idw_radius_m"] == 200.0


@pytest.mark.parametrize(("k", "power"), [(1, 2.0), (2, 2.0), (3, 1.0), (8, 2.0), (20, 3.0)])
def test_idw_matches_brute_force_k_nearest(k: int, power: float) -> None:
    rng = np.random.default_rng(k)
    xy, vals = rng.uniform(0, 1000, size=(12, 2)), rng.gamma(2.0, 10.0, size=12)
    tpl = template()
    out = idw(xy, vals, tpl, k=k, power=power)
    np.testing.assert_allclose(out.values, brute_idw(xy, vals, tpl, min(k, 12), power), rtol=1e-5)


def test_idw_k1_is_nearest_gauge_and_k_limits_influence() -> None:
    xy = np.array([[50.0, 450.0], [350.0, 450.0], [950.0, 450.0]])
    vals = np.array([10.0, 20.0, 90.0])
    near = idw(xy, vals, template(), k=1)
    assert near.sel(x=150.0, y=450.0).item() == 10.0
    assert near.sel(x=550.0, y=450.0).item() == 20.0  # 200 m from #2, 400 m from #3
    two = idw(xy, vals, template(), k=2)
    # with k=2 the far gauge (90 mm) cannot reach a cell between the first two
    cell = two.sel(x=150.0, y=450.0).item()
    assert cell == pytest.approx((10 / 100**2 + 20 / 200**2) / (1 / 100**2 + 1 / 200**2))


def test_idw_dask_template_gives_lazy_result_equal_to_numpy() -> None:
    rng = np.random.default_rng(7)
    xy, vals = rng.uniform(0, 3000, size=(8, 2)), rng.gamma(2.0, 5.0, size=8)
    tpl = template(n=30)
    eager = idw(xy, vals, tpl, k=5, radius_m=500.0)
    lazy = idw(xy, vals, tpl.chunk({"y": 7, "x": 11}), k=5, radius_m=500.0)
    assert isinstance(lazy.data, dsa.Array)
    assert lazy.attrs == eager.attrs and lazy.rio.crs == eager.rio.crs
    np.testing.assert_array_equal(lazy.compute().values, eager.values)
    assert np.isnan(eager.values).any() and np.isfinite(eager.values).any()


def test_idw_leaves_out_nan_gauges() -> None:
    out = idw(np.array([[50.0, 50.0], [950.0, 950.0]]), np.array([np.nan, 4.0]), template())
    assert (out.values == 4.0).all() and out.attrs["n_gauges"] == 1


@pytest.mark.parametrize(
    ("xy", "values", "message"),
    [
        (np.zeros((3, 2)), np.zeros(2), "match xy_m"),
        (np.zeros((0, 2)), np.zeros(0), "at least 1 gauge"),
        (np.zeros((2, 2)), np.array([np.nan, np.nan]), "at least 1 gauge"),
        (np.zeros((3, 3)), np.zeros(3), r"shape \(n, 2\)"),
        (np.array([[0.0, np.inf]]), np.zeros(1), "non-finite"),
    ],
)
def test_idw_bad_gauges(xy: np.ndarray, values: np.ndarray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        idw(xy, values, template())


def test_idw_bad_parameters_and_template() -> None:
    xy, vals = np.array([[0.0, 0.0]]), np.array([1.0])
    for kwargs, message in [({"k": 0}, "k must"), ({"power": -1.0}, "power"),
                            ({"radius_m": 0.0}, "radius_m")]:
        with pytest.raises(InputError, match=message):
            idw(xy, vals, template(), **kwargs)  # type: ignore[arg-type]
    no_crs = xr.DataArray(np.zeros((2, 2)), dims=("y", "x"), coords={"y": [1, 0], "x": [0, 1]})
    with pytest.raises(InputError, match="no CRS"):
        idw(xy, vals, no_crs)
    with pytest.raises(InputError, match="dims"):
        idw(xy, vals, template().expand_dims(time=1))


# --------------------------------------------------------------------------- kriging


def test_kriging_constant_field_is_constant() -> None:
    xy = np.random.default_rng(3).uniform(0, 1000, size=(8, 2))
    out = kriging(xy, np.full(8, 12.5), template())
    np.testing.assert_allclose(out.values, 12.5)
    assert out.attrs["units"] == "mm" and out.attrs["method"] == "ordinary_kriging"
    assert out.rio.crs == template().rio.crs


def test_kriging_exact_at_gauges_and_bounded() -> None:
    xy = np.array([[50.0, 950.0], [450.0, 450.0], [950.0, 50.0], [750.0, 850.0],
                   [150.0, 250.0], [850.0, 450.0]])
    vals = np.array([1.0, 7.0, 0.5, 20.0, 3.0, 11.0])
    out = kriging(xy, vals, template(), variogram_model="linear")
    got = [out.sel(x=x, y=y).item() for x, y in xy]
    np.testing.assert_array_equal(got, vals.astype(np.float32))
    assert np.isfinite(out.values).all()
    assert out.attrs["variogram_model"] == "linear"


def test_kriging_needs_three_gauges() -> None:
    with pytest.raises(InputError, match="at least 3 gauge"):
        kriging(np.array([[0.0, 0.0], [100.0, 0.0]]), np.array([1.0, 2.0]), template())


# --------------------------------------------------------------------------- accumulation


def test_accumulate_hourly_series_with_gap_reported_not_filled() -> None:
    # readings at 01:00 … 10:00 (each the rain of the hour ending then); 04:00 QC-flagged
    # (NaN), 06:00 absent
    rain = hourly([1, 2, 3, np.nan, 5, 6, 7, 8, 9, 10]).drop(T0 + 6 * HOUR)
    end = T0 + 10 * HOUR
    table = accumulate(rain, end=end, windows_h=(1, 3, 6, 10), interval=HOUR).set_index("window_h")
    assert table.loc[1, "rain_mm"] == 10 and table.loc[3, "rain_mm"] == 27
    six = table.loc[6]
    assert (six["rain_mm"], six["expected"], six["present"]) == (5 + 7 + 8 + 9 + 10, 6, 5)
    assert six["coverage"] == pytest.approx(5 / 6)
    assert six["gaps"] == [(T0 + 5 * HOUR, T0 + 6 * HOUR)]
    ten = table.loc[10]
    assert (ten["rain_mm"], ten["present"]) == (1 + 2 + 3 + 5 + 7 + 8 + 9 + 10, 8)
    assert ten["gaps"] == [(T0 + 3 * HOUR, T0 + 4 * HOUR), (T0 + 5 * HOUR, T0 + 6 * HOUR)]
    assert ten["start"] == T0 and ten["end"] == end
    assert str(ten["start"].tz) == "UTC"


def test_accumulate_window_past_series_start_and_end() -> None:
    rain = hourly([2.0] * 5)  # 01:00 … 05:00
    table = accumulate(rain, end=T0 + 4 * HOUR, windows_h=(3, 24), interval=HOUR)
    three, day = table.iloc[0], table.iloc[1]
    assert (three["rain_mm"], three["coverage"], three["gaps"]) == (6.0, 1.0, [])
    assert (day["rain_mm"], day["present"], day["expected"]) == (8.0, 4, 24)  # 05:00 is after end
    assert day["gaps"] == [(T0 + 4 * HOUR - timedelta(hours=24), T0)]


def test_accumulate_no_readings_is_nan_not_zero() -> None:
    table = accumulate(hourly([np.nan, np.nan]), end=T0 + 2 * HOUR, windows_h=(1, 2),
                       interval=HOUR)
    assert table["rain_mm"].isna().all() and (table["coverage"] == 0).all()
    assert table.iloc[1]["gaps"] == [(T0, T0 + 2 * HOUR)]


def test_accumulate_ten_minute_readings_other_zone() -> None:
    zone = timezone(timedelta(hours=7))  # Huế local time
    index = pd.date_range(datetime(2024, 10, 1, 7, 10, tzinfo=zone), periods=12, freq="10min")
    rain = pd.Series(0.5, index=index)
    table = accumulate(rain, end=index[-1], windows_h=(1, 3), interval=timedelta(minutes=10))
    assert list(table["expected"]) == [6, 18] and list(table["present"]) == [6, 12]
    assert list(table["rain_mm"]) == [3.0, 6.0]
    assert table.iloc[0]["end"] == pd.Timestamp("2024-10-01T02:00", tz="UTC")


@pytest.mark.parametrize(
    ("rain", "kwargs", "message"),
    [
        (pd.Series([1.0], index=pd.DatetimeIndex(["2024-10-01T01:00"])), {}, "naive"),
        (hourly([1.0]), {"end": datetime(2024, 10, 1, 1)}, "timezone-aware"),
        (hourly([1.0]), {"interval": timedelta(0)}, "interval"),
        (hourly([1.0]), {"windows_h": (1.5,), "interval": timedelta(hours=1)}, "multiple"),
        (hourly([1.0, -0.2]), {}, "negative"),
        (pd.concat([hourly([1.0]), hourly([2.0])]), {}, "duplicate"),
        (hourly([1.0]).set_axis([T0 + timedelta(minutes=30)]), {}, "not on the"),
    ],
)
def test_accumulate_bad_input(rain: pd.Series, kwargs: dict, message: str) -> None:
    arguments = {"end": T0 + 2 * HOUR, "interval": HOUR, **kwargs}
    with pytest.raises(InputError, match=message):
        accumulate(rain, **arguments)


def test_accumulate_many_one_row_per_station_and_window() -> None:
    a, b = hourly([1.0, 2.0, 3.0]), hourly([np.nan, 4.0])
    frame = pd.concat([
        pd.DataFrame({"station": "B", "observed_at": b.index, "rain_mm": b.values, "flag": ""}),
        pd.DataFrame({"station": "A", "observed_at": a.index, "rain_mm": a.values, "flag": ""}),
    ])
    end = T0 + 3 * HOUR
    table = accumulate_many(frame, end=end, windows_h=(1, 3), interval=HOUR)
    assert list(zip(table["station"], table["window_h"], strict=True)) == [
        ("A", 1), ("A", 3), ("B", 1), ("B", 3)]
    expected_a = accumulate(a, end=end, windows_h=(1, 3), interval=HOUR)
    pd.testing.assert_frame_equal(table.iloc[:2, 1:].reset_index(drop=True), expected_a)
    assert table.iloc[3]["rain_mm"] == 4.0 and table.iloc[3]["present"] == 1
    with pytest.raises(InputError, match="lacks column"):
        accumulate_many(frame.drop(columns="rain_mm"), end=end, interval=HOUR)
    naive = frame.assign(observed_at=frame["observed_at"].dt.tz_localize(None))
    with pytest.raises(InputError, match="naive"):
        accumulate_many(naive, end=end, interval=HOUR)


# --------------------------------------------------------------------------- regrid


def test_regrid_radar_average_preserves_mean_depth_and_volume() -> None:
    radar = open_rainfall(RADAR_FILE).sum("time", min_count=1)  # 512 × 512 cells of 500 m
    radar.attrs["units"] = "mm"
    tpl = grid_template((-128_000.0, -128_000.0, 128_000.0, 128_000.0), 2000.0, radar.rio.crs)
    out = regrid(radar, tpl)
    assert out.shape == (128, 128) and out.attrs["units"] == "mm"
    assert out.rio.crs == radar.rio.crs and out.attrs["resampling"] == "average"
    assert float(radar.max()) > 0  # the file has rain to move around
    assert float(out.mean()) == pytest.approx(float(radar.mean()), rel=1e-6)
    volume_in = float(radar.sum()) * cell_area_m2(radar)
    assert float(out.sum()) * cell_area_m2(out) == pytest.approx(volume_in, rel=1e-6)
    # one target cell = mean of its 4 × 4 source cells
    wettest = np.unravel_index(int(np.nanargmax(out.values)), out.shape)
    block = radar.values[4 * wettest[0]: 4 * wettest[0] + 4, 4 * wettest[1]: 4 * wettest[1] + 4]
    assert out.values[wettest] == pytest.approx(block.mean(), rel=1e-6)


def test_regrid_outside_source_is_nan_and_bad_input() -> None:
    radar = open_rainfall(RADAR_FILE)
    tpl = grid_template((100_000.0, 100_000.0, 140_000.0, 140_000.0), 4000.0, radar.rio.crs)
    out = regrid(radar.isel(time=0, drop=True), tpl)
    assert np.isnan(out.sel(x=138_000.0, y=138_000.0).item())
    assert np.isfinite(out.sel(x=102_000.0, y=102_000.0).item())
    with pytest.raises(InputError, match="sum over time"):
        regrid(radar, tpl)
    with pytest.raises(InputError, match="in mm"):
        regrid(radar.isel(time=0, drop=True).assign_attrs(units="m"), tpl)
