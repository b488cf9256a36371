"""Flood map products: extent polygons by depth class, depth at points, deepest cell per zone."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from floodwatch.core.errors import InputError
from floodwatch.hydro.flood import deepest_cell_per_zone, depth_at_points, extent_polygons

CRS = "EPSG:32648"
X0, Y0, RES = 750_000.0, 1_830_000.0, 10.0


def depth_grid(values: np.ndarray) -> xr.DataArray:
    ny, nx = values.shape
    da_ = xr.DataArray(
        np.asarray(values, dtype=np.float32),
        dims=("y", "x"),
        coords={"y": Y0 - RES * (np.arange(ny) + 0.5), "x": X0 + RES * (np.arange(nx) + 0.5)},
        attrs={"units": "m"},
    )
    return da_.rio.write_crs(CRS)


def random_depth(seed: int = 0, shape: tuple[int, int] = (60, 80)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    depth = np.clip(rng.normal(0.6, 0.9, shape), 0.0, None)
    depth[rng.random(shape) < 0.03] = np.nan
    return depth.astype(np.float32)


def test_extent_polygons_cover_exactly_the_flooded_cells_of_each_class() -> None:
    depth = random_depth()
    extent = extent_polygons(depth_grid(depth))
    bounds = [0.05, 0.5, 1.0, 2.0, np.inf]
    assert list(extent["class_index"]) == [0, 1, 2, 3]
    assert extent.crs.to_epsg() == 32648
    for k, row in extent.iterrows():
        cells = int(((depth >= bounds[k]) & (depth < bounds[k + 1])).sum())
        assert cells > 0
        assert row.geometry.is_valid
        assert row.geometry.area == pytest.approx(cells * RES * RES)
        assert row["area_m2"] == pytest.approx(cells * RES * RES)
        assert row["min_depth_m"] == bounds[k]
    assert np.isnan(extent.loc[3, "max_depth_m"]) and extent.loc[3, "label"] == ">= 2 m"
    assert extent.loc[0, "label"] == "0.05-0.5 m"


def test_extent_polygons_sit_on_the_grid_cells() -> None:
    depth = np.zeros((5, 6), dtype=np.float32)
    depth[1:3, 2:5] = 0.7
    extent = extent_polygons(depth_grid(depth), (0.5,))
    assert extent.loc[0].geometry.bounds == (X0 + 20, Y0 - 30, X0 + 50, Y0 - 10)


def test_simplified_extent_polygons_are_valid_and_keep_their_area_roughly() -> None:
    y, x = np.mgrid[0:200, 0:200]
    depth = 3.0 - np.hypot(y - 100, x - 100) / 30.0  # concentric rings of depth
    extent = extent_polygons(depth_grid(depth), simplify_m=15.0)
    exact = extent_polygons(depth_grid(depth))
    assert extent.geometry.is_valid.all()
    assert sum(len(g.exterior.coords) for g in extent.geometry.explode().geometry) < sum(
        len(g.exterior.coords) for g in exact.geometry.explode().geometry
    )
    np.testing.assert_allclose(extent.geometry.area, exact.geometry.area, rtol=0.03)
    # simplified as a coverage: the classes neither overlap nor leave gaps between them
    union = extent.geometry.union_all()
    assert union.area == pytest.approx(extent.geometry.area.sum(), rel=1e-9)
    assert union.area == pytest.approx(exact.geometry.union_all().area, rel=0.01)


def test_an_empty_class_has_a_row_with_an_empty_geometry() -> None:
    extent = extent_polygons(depth_grid(np.full((4, 4), 0.2)))
    assert extent.loc[0, "area_m2"] == 16 * RES * RES
    assert extent.geometry.iloc[1:].is_empty.all() and (extent["area_m2"].iloc[1:] == 0).all()


@pytest.mark.parametrize("classes", [(), (0.5, 0.2), (0.0, 1.0), (np.nan,)])
def test_bad_classes_are_refused(classes: tuple[float, ...]) -> None:
    with pytest.raises(InputError, match="classes_m"):
        extent_polygons(depth_grid(np.zeros((3, 3))), classes)


def test_depth_at_points_reads_the_cell_holding_each_point() -> None:
    depth = np.arange(20, dtype=np.float32).reshape(4, 5)
    depth[2, 2] = np.nan
    xy = np.array([
        [X0 + 1.0, Y0 - 1.0],  # row 0, col 0
        [X0 + 49.9, Y0 - 39.9],  # row 3, col 4
        [X0 + 25.0, Y0 - 15.0],  # row 1, col 2
        [X0 + 25.0, Y0 - 25.0],  # nodata
        [X0 - 0.1, Y0 - 5.0],  # outside, left
        [X0 + 5.0, Y0 - 40.1],  # outside, bottom
        [np.nan, Y0],
    ])
    got = depth_at_points(depth_grid(depth), xy)
    np.testing.assert_array_equal(got, [0.0, 19.0, 7.0, np.nan, np.nan, np.nan, np.nan])
    lazy = depth_at_points(depth_grid(depth).chunk(2), xy)
    np.testing.assert_array_equal(lazy, got)
    with pytest.raises(InputError, match=r"\(n, 2\)"):
        depth_at_points(depth_grid(depth), np.zeros(3))


def test_deepest_cell_per_zone_matches_a_brute_force_search() -> None:
    rng = np.random.default_rng(5)
    depth = np.round(random_depth(5), 1)  # rounded: many ties
    labels = rng.integers(0, 8, depth.shape)
    labels[:, :3] = 9  # zone 9 all in the first three columns
    got = deepest_cell_per_zone(depth_grid(depth), labels, n_zones=10)
    for zone in range(1, 11):
        cells = [(d, r, c) for (r, c), d in np.ndenumerate(depth)
                 if labels[r, c] == zone and not np.isnan(d)]
        if not cells:
            assert (got.row[zone - 1], got.col[zone - 1]) == (-1, -1)
            assert np.isnan(got.depth_m[zone - 1])
            continue
        best = max(cells, key=lambda t: (t[0], -t[1], -t[2]))  # deepest, then row-major first
        assert (got.depth_m[zone - 1], got.row[zone - 1], got.col[zone - 1]) == pytest.approx(best)


def test_deepest_cell_per_zone_refuses_labels_out_of_range() -> None:
    with pytest.raises(InputError, match=r"0\.\.n_zones"):
        deepest_cell_per_zone(np.zeros((2, 2)), np.array([[0, 1], [2, 3]]), n_zones=2)
    with pytest.raises(InputError, match="shape"):
        deepest_cell_per_zone(np.zeros((2, 2)), np.zeros((2, 3), dtype=int), n_zones=1)
