"""River chainage on the grid and the water surface between gauges."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from floodwatch.core.errors import InputError
from floodwatch.hydro.grid import grid_template
from floodwatch.hydro.rivers import river_chainage, water_surface_along_river

CRS = "EPSG:32648"
X0, Y0 = 750_000.0, 1_830_000.0


def template(res: float = 10.0) -> object:
    return grid_template((X0, Y0, X0 + 1000.0, Y0 + 500.0), res, CRS)


def test_chainage_of_a_straight_line_along_a_row_is_the_distance_to_each_cell_centre() -> None:
    grid = template()
    line = shapely.LineString([(X0, Y0 + 255.0), (X0 + 1000.0, Y0 + 255.0)])
    chainage = river_chainage(line, grid)
    row = 24  # cell centres at y = Y0 + 500 - 5 - 10 * row: row 24 holds y = Y0 + 255
    assert np.isfinite(chainage.values).sum() == 100
    np.testing.assert_allclose(chainage.values[row], 5.0 + 10.0 * np.arange(100), atol=1.3)
    assert chainage.attrs["units"] == "m" and chainage.rio.crs.to_epsg() == 32648


def test_chainage_follows_a_bent_line_and_grows_downstream() -> None:
    grid = template(5.0)
    line = shapely.LineString([(X0 + 10, Y0 + 490), (X0 + 500, Y0 + 250), (X0 + 990, Y0 + 480)])
    chainage = river_chainage(line, grid).values
    cells = np.argwhere(np.isfinite(chainage))
    assert chainage[np.isfinite(chainage)].max() == pytest.approx(line.length, abs=5.0)
    # each river cell's chainage is that of the point of the line nearest its centre
    xs = X0 + 2.5 + 5.0 * cells[:, 1]
    ys = Y0 + 500 - 2.5 - 5.0 * cells[:, 0]
    projected = shapely.line_locate_point(line, shapely.points(xs, ys))
    np.testing.assert_allclose(chainage[cells[:, 0], cells[:, 1]], projected, atol=2.0)
    # the rasterised line is 4-connected: no gaps a flood could not pass
    from scipy import ndimage

    _, parts = ndimage.label(np.isfinite(chainage), structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    assert parts == 1


def test_a_line_off_the_grid_or_not_a_line_is_refused() -> None:
    with pytest.raises(InputError, match="does not cross"):
        river_chainage(shapely.LineString([(0, 0), (100, 100)]), template())
    with pytest.raises(InputError, match="LineString"):
        river_chainage(shapely.Point(X0, Y0), template())


GAUGES_M = np.array([1000.0, 3000.0, 6000.0])
LEVELS_M = np.array([4.0, 3.0, 1.5])
OFFSETS_M = np.array([0.5, 0.2, -0.1])  # gauge datum → DEM datum


def test_water_surface_is_linear_between_gauges_and_held_beyond_them() -> None:
    chainage = np.array([0.0, 1000.0, 2000.0, 3000.0, 4500.0, 6000.0, 9000.0, np.nan])
    wse = water_surface_along_river(chainage, GAUGES_M, LEVELS_M, datum_offset_m=OFFSETS_M)
    expected = [4.5, 4.5, (4.5 + 3.2) / 2, 3.2, (3.2 + 1.4) / 2, 1.4, 1.4, np.nan]
    np.testing.assert_allclose(wse, expected)


def test_water_surface_slopes_to_the_lagoon_level_at_the_mouth() -> None:
    chainage = np.array([6000.0, 7000.0, 8000.0, 9500.0])
    wse = water_surface_along_river(chainage, GAUGES_M, LEVELS_M, datum_offset_m=OFFSETS_M,
                                    downstream_level_m=0.4, downstream_chainage_m=8000.0)
    np.testing.assert_allclose(wse, [1.4, 0.9, 0.4, 0.4])


def test_gauges_in_any_order_and_without_a_reading() -> None:
    wse = water_surface_along_river(np.array([2000.0]), GAUGES_M[::-1],
                                    np.array([1.5, np.nan, 4.0]), datum_offset_m=0.0)
    np.testing.assert_allclose(wse, [4.0 - 2.5 * 1000 / 5000])


def test_water_surface_on_a_chainage_grid_keeps_grid_and_crs() -> None:
    grid = template()
    line = shapely.LineString([(X0, Y0 + 255.0), (X0 + 1000.0, Y0 + 255.0)])
    wse = water_surface_along_river(river_chainage(line, grid), [0.0], [2.0], datum_offset_m=0.1)
    assert wse.dtype == np.float32 and wse.attrs["units"] == "m"
    assert wse.rio.crs.to_epsg() == 32648 and "held" in wse.attrs["method"]
    np.testing.assert_allclose(wse.values[np.isfinite(wse.values)], 2.1, rtol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gauge_level_m": [np.nan, np.nan, np.nan]}, "no gauge has a level"),
        ({"gauge_chainage_m": [1.0, 1.0, 2.0]}, "share a chainage"),
        ({"gauge_level_m": [1.0, 2.0]}, "one value per gauge"),
        ({"datum_offset_m": [0.0, 0.0]}, "one value per gauge"),
        ({"downstream_level_m": 0.3}, "both"),
        ({"downstream_level_m": 0.3, "downstream_chainage_m": 5000.0}, "beyond the last"),
    ],
)
def test_bad_gauge_input_is_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"gauge_chainage_m": GAUGES_M, "gauge_level_m": LEVELS_M,
                               "datum_offset_m": OFFSETS_M}
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        water_surface_along_river(np.array([0.0]), **args)  # type: ignore[arg-type]
