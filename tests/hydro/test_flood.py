"""Flood depth, river water surface and flood map products, on analytic cases with known answers."""

from __future__ import annotations

import math

import dask.array as da
import numpy as np
import pytest
import shapely
import xarray as xr
from scipy import ndimage

from floodwatch.core.errors import InputError
from floodwatch.hydro.flood import (
    deepest_cell_per_zone,
    depth_at_points,
    extent_polygons,
    flood_depth,
)
from floodwatch.hydro.flood_jit import keep_connected, spread_depth
from floodwatch.hydro.rivers import river_chainage, water_surface_along_river

CRS = "EPSG:32648"  # UTM 48N, Huế


def make_grid(values: np.ndarray, res: float = 10.0, *, units: str = "m", crs: str | None = CRS,
              x0: float = 750_000.0, y0: float = 1_830_000.0) -> xr.DataArray:
    """A grid-convention DataArray: (y, x), cell centres, y descending, CRS, units."""
    ny, nx = values.shape
    da_ = xr.DataArray(
        np.asarray(values, dtype=np.float32),
        dims=("y", "x"),
        coords={"y": y0 - res * (np.arange(ny) + 0.5), "x": x0 + res * (np.arange(nx) + 0.5)},
        attrs={"units": units},
    )
    return da_.rio.write_crs(crs) if crs else da_


def water_columns(shape: tuple[int, int], level: float, cols: slice = slice(0, 1)) -> np.ndarray:
    wse = np.full(shape, np.nan, dtype=np.float32)
    wse[:, cols] = level
    return wse


# --- flood depth: analytic cases ------------------------------------------------------------


def test_tilted_plane_flat_water_floods_exactly_the_cells_below_the_level() -> None:
    ny, nx = 30, 80
    dem = np.broadcast_to(np.float32(0.05) * np.arange(nx, dtype=np.float32), (ny, nx)).copy()
    level = np.float32(2.0)
    depth = flood_depth(make_grid(dem), make_grid(water_columns(dem.shape, level)),
                        min_depth_m=0.05)
    expected = np.where(level - dem > np.float32(0.05), level - dem, 0).astype(np.float32)
    np.testing.assert_array_equal(depth.values, expected)
    assert (depth.values > 0).sum() == ny * 39  # columns 0..38: 0.05 * 38 = 1.9 < 1.95
    assert depth.dtype == np.float32
    assert depth.attrs["units"] == "m" and depth.rio.crs.to_epsg() == 32648
    assert depth.attrs["connectivity"] == 4 and depth.attrs["min_depth_m"] == 0.05


def _ridge_case(breach: bool) -> tuple[np.ndarray, np.ndarray]:
    dem = np.full((40, 60), 1.0, dtype=np.float32)  # floodplain below the 3 m water surface
    dem[:, 30] = 5.0  # a ridge from top to bottom
    if breach:
        dem[18:21, 30] = 1.5
    return dem, water_columns(dem.shape, 3.0)


def test_depression_behind_a_ridge_stays_dry_until_the_ridge_is_breached() -> None:
    dem, wse = _ridge_case(breach=False)
    dry = flood_depth(make_grid(dem), make_grid(wse)).values
    assert np.all(dry[:, :30] == 2.0) and np.all(dry[:, 30:] == 0.0)
    dem, wse = _ridge_case(breach=True)
    wet = flood_depth(make_grid(dem), make_grid(wse)).values
    assert np.all(wet[:, 31:] == 2.0) and np.all(wet[18:21, 30] == 1.5)


def test_diagonal_one_cell_levee_holds_with_4_connectivity() -> None:
    dem = np.full((30, 30), 1.0, dtype=np.float32)
    rows = np.arange(30)
    dem[rows, rows] = 5.0  # diagonal levee: cells behind it touch the front only at corners
    wse = np.full(dem.shape, np.nan, dtype=np.float32)
    wse[-1, 0] = 3.0  # water in the lower-left triangle
    depth = flood_depth(make_grid(dem), make_grid(wse)).values
    lower, upper = np.tril_indices(30, -1), np.triu_indices(30, 1)
    assert np.all(depth[lower] == 2.0) and np.all(depth[upper] == 0.0)


@pytest.mark.parametrize("res", [5.0, 2.5])
def test_paraboloid_bowl_holds_its_analytic_volume(res: float) -> None:
    k, h, half = 1e-4, 4.0, 300.0  # ground k r², water level h: V = π h² / (2k)
    n = int(2 * half / res)
    centres = -half + res * (np.arange(n) + 0.5)
    r2 = centres[None, :] ** 2 + centres[:, None] ** 2
    dem = (k * r2).astype(np.float32)
    wse = np.full(dem.shape, np.nan, dtype=np.float32)
    wse[n // 2, n // 2] = h
    depth = flood_depth(make_grid(dem, res), make_grid(wse, res), min_depth_m=0.0)
    volume = float(depth.values.sum(dtype=np.float64)) * res * res
    assert volume == pytest.approx(math.pi * h**2 / (2 * k), rel=0.01)


def test_max_distance_limits_spreading_from_the_water() -> None:
    dem = np.zeros((20, 50), dtype=np.float32)
    wse = water_columns(dem.shape, 1.0)
    depth = flood_depth(make_grid(dem), make_grid(wse), max_distance_m=100.0).values
    assert np.all(depth[:, :11] == 1.0) and np.all(depth[:, 11:] == 0.0)  # 10 m cells
    assert np.all(flood_depth(make_grid(dem), make_grid(wse)).values == 1.0)


def test_min_depth_leaves_shallow_cells_dry_and_cuts_the_connection_through_them() -> None:
    dem = np.full((10, 30), 0.0, dtype=np.float32)
    dem[:, 10] = 0.97  # a sill 3 cm under the water surface
    wse = water_columns(dem.shape, 1.0)
    depth = flood_depth(make_grid(dem), make_grid(wse), min_depth_m=0.05).values
    assert np.all(depth[:, :10] == 1.0) and np.all(depth[:, 10:] == 0.0)
    depth = flood_depth(make_grid(dem), make_grid(wse), min_depth_m=0.01).values
    assert np.all(depth[:, 11:] == 1.0)
    np.testing.assert_allclose(depth[:, 10], 0.03, rtol=1e-4)


def test_dem_nodata_is_nan_never_wet_and_blocks_the_connection() -> None:
    dem = np.zeros((20, 40), dtype=np.float32)
    dem[:, 20] = np.nan  # a nodata strip across the plain
    dem[3, 5] = np.nan
    depth = flood_depth(make_grid(dem), make_grid(water_columns(dem.shape, 1.0))).values
    assert np.isnan(depth[:, 20]).all() and np.isnan(depth[3, 5])
    assert np.all(depth[:, 21:] == 0.0)
    assert np.isnan(depth).sum() == 21 and np.all(np.delete(depth[:, :20], 5, axis=1) == 1.0)


def test_water_cells_on_nodata_still_feed_the_floodplain() -> None:
    dem = np.zeros((10, 20), dtype=np.float32)
    dem[:, :3] = np.nan  # lagoon masked out of the DEM
    depth = flood_depth(make_grid(dem), make_grid(water_columns(dem.shape, 0.5, slice(0, 3))))
    assert np.isnan(depth.values[:, :3]).all() and np.all(depth.values[:, 3:] == 0.5)


def test_no_water_cell_gives_dry_land() -> None:
    dem = np.zeros((5, 5), dtype=np.float32)
    depth = flood_depth(make_grid(dem), make_grid(np.full((5, 5), np.nan)))
    assert np.all(depth.values == 0.0)


@pytest.mark.parametrize(("units", "factor"), [("ft", 0.3048), ("US survey foot", 1200 / 3937)])
def test_dem_in_feet_is_converted_to_metres(units: str, factor: float) -> None:
    dem_m = np.broadcast_to(np.linspace(0.0, 3.0, 40, dtype=np.float32), (10, 40)).copy()
    wse = make_grid(water_columns(dem_m.shape, 2.0))
    in_feet = flood_depth(make_grid(dem_m / np.float32(factor), units=units), wse).values
    in_metres = flood_depth(make_grid(dem_m), wse).values
    np.testing.assert_allclose(in_feet, in_metres, atol=1e-5)
    assert ((in_feet > 0) == (in_metres > 0)).all()


@pytest.mark.parametrize(
    ("dem", "message"),
    [
        (make_grid(np.zeros((5, 5)), 0.001, crs="EPSG:4326", x0=107.5, y0=16.5), "geographic"),
        (make_grid(np.zeros((5, 5)), crs=None), "no CRS"),
        (make_grid(np.zeros((5, 5)), crs="EPSG:2263"), "not metres"),
        (make_grid(np.zeros((5, 5)), units="1"), "units '1'"),
        (make_grid(np.zeros((5, 5))).expand_dims("band"), "dims"),
        (make_grid(np.zeros((5, 5)))[::-1], "north up"),
    ],
)
def test_a_dem_off_the_metric_grid_convention_is_refused(dem: xr.DataArray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        flood_depth(dem, make_grid(water_columns((5, 5), 1.0)))


@pytest.mark.parametrize(
    ("water", "message"),
    [
        (make_grid(water_columns((5, 5), 1.0), x0=750_005.0), "not on dem_m's grid"),
        (make_grid(water_columns((5, 5), 1.0), 20.0), "not on dem_m's grid"),
        (make_grid(water_columns((6, 5), 1.0)), "shape"),
        (make_grid(water_columns((5, 5), 1.0), crs="EPSG:32649"), "EPSG:32649"),
    ],
)
def test_a_water_surface_on_another_grid_is_refused(water: xr.DataArray, message: str) -> None:
    with pytest.raises(InputError, match=message):
        flood_depth(make_grid(np.zeros((5, 5))), water)


def test_bad_parameters_are_refused() -> None:
    dem, wse = make_grid(np.zeros((5, 5))), make_grid(water_columns((5, 5), 1.0))
    with pytest.raises(InputError, match="min_depth_m"):
        flood_depth(dem, wse, min_depth_m=-1)
    with pytest.raises(InputError, match="max_distance_m"):
        flood_depth(dem, wse, max_distance_m=0)


# --- from gauges to map products -------------------------------------------------------------


def test_gauges_to_flood_extent_and_points_on_a_valley() -> None:
    """A river down the middle of a V-shaped valley sloping east; two gauges and a lagoon."""
    ny, nx, res = 60, 200, 10.0
    x0, y0 = 750_000.0, 1_830_000.0
    y, x = np.mgrid[0:ny, 0:nx]
    dem = (0.1 * np.abs(y - 30) + 2.0 - 0.01 * x).astype(np.float32)  # 2 m → 0 m at the sea
    template = make_grid(np.zeros((ny, nx)), res)
    line = shapely.LineString([(x0, y0 - 305.0), (x0 + 2000.0, y0 - 305.0)])
    chainage = river_chainage(line, template)
    wse = water_surface_along_river(chainage, [200.0, 1200.0], [2.0, 1.0],
                                    datum_offset_m=[0.5, 0.5], downstream_level_m=0.2,
                                    downstream_chainage_m=2000.0)
    depth = flood_depth(make_grid(dem, res), wse, min_depth_m=0.05)
    # the water surface at column c is that of the river at the same chainage, 10 c + 5 m
    along = 10.0 * x + 5.0
    level = np.interp(along, [200.0, 1200.0, 2000.0], [2.5, 1.5, 0.2])
    expected_wet = (level - dem > 0.05) & (np.abs(y - 30) < 30)
    assert ((depth.values > 0) == expected_wet).all()
    extent = extent_polygons(depth)
    assert extent["area_m2"].sum() == pytest.approx(expected_wet.sum() * res * res)
    at_river = depth_at_points(depth, np.array([[x0 + 5.0, y0 - 305.0]]))
    np.testing.assert_allclose(at_river, [2.5 - 2.0], rtol=1e-5)
    zones = np.where(x < 100, 1, 2)
    deepest = deepest_cell_per_zone(depth, zones, 2)
    assert deepest.depth_m[0] == pytest.approx(np.nanmax(depth.values[:, :100]))
    assert deepest.row[0] == 30


def _brute_force_nearest_wse(wse: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """The WSE of each cell's nearest water cell by trying them all: ties go to the leftmost
    column, then the upper row (the documented rule)."""
    rows, cols = np.nonzero(~np.isnan(wse))
    order = np.lexsort((rows, cols))  # by column, then row
    rows, cols = rows[order], cols[order]
    yy, xx = np.mgrid[0 : wse.shape[0], 0 : wse.shape[1]]
    d2 = ((yy[..., None] - rows) * dy) ** 2 + ((xx[..., None] - cols) * dx) ** 2
    first = np.argmin(d2, axis=-1)  # the first of the minima: the tie rule
    return wse[rows[first], cols[first]]


@pytest.mark.parametrize(("dy", "dx"), [(10.0, 10.0), (5.0, 10.0), (10.0, 5.0)])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nearest_water_and_its_ties_match_a_brute_force_search(
    seed: int, dy: float, dx: float
) -> None:
    rng = np.random.default_rng(seed)
    wse = np.full((37, 53), np.nan, dtype=np.float32)
    water = rng.random(wse.shape) < 0.02
    water[rng.integers(37), rng.integers(53)] = True
    wse[water] = rng.integers(1, 1000, water.sum())  # every water cell its own level: ties show
    ground = np.zeros(wse.shape, dtype=np.float32)
    # With the ground at 0 and no minimum, the candidate depth is the nearest cell's WSE.
    got = spread_depth(ground, wse, dy, dx, -1.0, None, parallel=True)
    np.testing.assert_array_equal(got, _brute_force_nearest_wse(wse, dy, dx))
    serial = spread_depth(ground, wse, dy, dx, -1.0, None, parallel=False)
    np.testing.assert_array_equal(serial, got)


def _scipy_reference(dem: np.ndarray, wse: np.ndarray, res: float, min_depth: float) -> np.ndarray:
    """The same model with scipy alone: feature transform, gather, label, keep seeded labels."""
    water = ~np.isnan(wse)
    rows, cols = ndimage.distance_transform_edt(
        ~water, sampling=(res, res), return_distances=False, return_indices=True
    )
    depth = wse[rows, cols] - dem
    depth[~(depth > min_depth) & ~np.isnan(depth)] = 0.0
    labels, _ = ndimage.label(water | (depth > 0))
    seeded = np.isin(labels, np.unique(labels[water])) & (labels > 0)
    depth[~seeded & ~np.isnan(depth)] = 0.0
    return depth.astype(np.float32)


def test_flood_depth_equals_a_scipy_reference_where_the_water_is_level() -> None:
    """One level for all water: which of several nearest water cells is taken cannot matter,
    so the compiled model must give scipy's answer cell for cell."""
    dem, wse = _coastal_case(5, ny=120, nx=150)
    wse[~np.isnan(wse)] = 1.2
    got = flood_depth(make_grid(dem), make_grid(wse), min_depth_m=0.05).values
    np.testing.assert_array_equal(got, _scipy_reference(dem, wse, 10.0, 0.05))
    assert (got > 0).sum() > 2000 and np.isnan(got).sum() > 100


def test_keep_connected_keeps_exactly_the_components_holding_water() -> None:
    rng = np.random.default_rng(8)
    depth = np.where(rng.random((80, 90)) < 0.55, rng.random((80, 90)), 0.0).astype(np.float32)
    depth[rng.random(depth.shape) < 0.03] = np.nan
    water = np.zeros(depth.shape, dtype=bool)
    water[rng.integers(80, size=6), rng.integers(90, size=6)] = True
    labels, _ = ndimage.label(water | (depth > 0))
    seeded = np.isin(labels, labels[water])
    expected = np.where(seeded | np.isnan(depth), depth, 0.0).astype(np.float32)
    np.testing.assert_array_equal(keep_connected(depth.copy(), water), expected)
    assert (expected > 0).sum() < (depth > 0).sum()  # some components were cut off


# --- dask path --------------------------------------------------------------------------------


def _coastal_case(seed: int, ny: int = 90, nx: int = 130) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:ny, 0:nx]
    dem = 0.02 * x + rng.normal(0.0, 0.4, (ny, nx)) + 0.6 * np.sin(y / 7.0)
    dem[rng.random((ny, nx)) < 0.02] = np.nan
    wse = np.full((ny, nx), np.nan)
    river_col = (nx / 2 + 35 * np.sin(np.arange(ny) / 11.0)).astype(int)
    wse[np.arange(ny), river_col] = 1.5 + 0.01 * np.arange(ny)  # a sloping, meandering river
    wse[:, :2] = 0.3  # the lagoon
    return dem.astype(np.float32), wse.astype(np.float32)


@pytest.mark.parametrize(("seed", "chunks"), [(1, (23, 31)), (2, (40, 17)), (3, (90, 130))])
def test_dask_path_equals_the_in_memory_path(seed: int, chunks: tuple[int, int]) -> None:
    dem, wse = _coastal_case(seed)
    expected = flood_depth(make_grid(dem), make_grid(wse), max_distance_m=150.0)
    lazy_dem = make_grid(dem).chunk({"y": chunks[0], "x": chunks[1]})
    got = flood_depth(lazy_dem, make_grid(wse), max_distance_m=150.0)
    assert isinstance(got.data, da.Array)
    np.testing.assert_array_equal(got.values, expected.values)
    assert (expected.values > 0).sum() > 1000 and got.attrs == expected.attrs


def test_dask_path_joins_a_channel_reached_only_through_other_tiles() -> None:
    dem = np.full((60, 60), 5.0, dtype=np.float32)
    wse = np.full(dem.shape, np.nan, dtype=np.float32)
    wse[:, 30] = 1.0  # the river, walled off by its 5 m banks
    dem[0, 27:30] = 0.0  # the only opening, at the top
    dem[:, 27] = dem[59, 15:28] = dem[30:60, 15] = 0.0  # a channel down, left and up again
    dem[:50, 22] = 0.0  # a closed channel, as near to the river, stays dry
    expected = flood_depth(make_grid(dem), make_grid(wse), max_distance_m=200.0)
    got = flood_depth(make_grid(dem).chunk(25), make_grid(wse), max_distance_m=200.0)
    assert len(got.chunks[0]) > 1 and len(got.chunks[1]) > 1
    np.testing.assert_array_equal(got.values, expected.values)
    assert np.all(expected.values[30:, 15] == 1.0) and np.all(expected.values[:50, 22] == 0.0)


def test_dask_path_needs_max_distance() -> None:
    dem, wse = _coastal_case(4)
    with pytest.raises(InputError, match="max_distance_m"):
        flood_depth(make_grid(dem).chunk(30), make_grid(wse))
