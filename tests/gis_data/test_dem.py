"""Fetching Copernicus GLO-30 tiles from a real HTTP server on 127.0.0.1.

The server serves small COGs built here, named and laid out as the public bucket names them
(1° tiles whose grid is offset by half a cell, as GLO-30's is), with values that are a known
linear function of longitude and latitude, so seams, clipping and reprojection can be checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from floodwatch.core.errors import InputError
from floodwatch.gis_data.dem import ATTRIBUTION, NOTICE, fetch_dem, tile_name, tile_names
from floodwatch.hydro.transport import FeedClient, FeedError, TransportOptions

CELLS = 40  # per 1° tile: 0.025° cells (GLO-30 has 3600)
DEG = 1.0 / CELLS
BBOX = (106.55, 16.31, 108.62, 16.78)  # spans E106 (ocean: 404), E107 and E108


def elevation_m(lon: Any, lat: Any) -> Any:
    """The synthetic terrain of the test tiles, continuous across tile edges."""
    return 100.0 * (lon - 107.0) + 10.0 * (lat - 16.0) + 5.0


def centres(transform: Affine, cols: np.ndarray, rows: np.ndarray) -> tuple[Any, Any]:
    return transform.c + (cols + 0.5) * transform.a, transform.f + (rows + 0.5) * transform.e


def make_tile(lat: int, lon: int, folder: Path) -> bytes:
    transform = Affine(DEG, 0, lon - DEG / 2, 0, -DEG, lat + 1 + DEG / 2)
    cols, rows = np.meshgrid(np.arange(CELLS), np.arange(CELLS))
    x, y = centres(transform, cols, rows)
    path = folder / f"{tile_name(lat, lon)}.tif"
    with rasterio.open(
        path,
        "w",
        driver="COG",
        width=CELLS,
        height=CELLS,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=transform,
        compress="DEFLATE",
    ) as dst:
        dst.write(elevation_m(x, y).astype("float32"), 1)
    return path.read_bytes()


def bucket_path(name: str) -> str:
    return f"/{name}/{name}.tif"


@pytest.fixture
def bucket(http_server, tmp_path: Path) -> Iterator[object]:
    """E107 and E108 at N16 exist; E106 does not (the server answers 404)."""
    folder = tmp_path / "tiles"
    folder.mkdir()
    for lon in (107, 108):
        body = make_tile(16, lon, folder)
        http_server.route(bucket_path(tile_name(16, lon)), http_server.Reply(200, body))
    yield http_server


def client(attempts: int = 3) -> FeedClient:
    options = TransportOptions(trust_env=False, max_attempts=attempts, backoff_initial_s=0.0)
    return FeedClient(options, name="copernicus-dem-test", sleep=lambda _s: None)


def test_tile_names_north_east_and_south_west() -> None:
    assert tile_names((107.2, 16.0, 107.9, 16.9)) == ["Copernicus_DSM_COG_10_N16_00_E107_00_DEM"]
    assert tile_names((-1.5, -0.5, 0.5, 0.2)) == [
        "Copernicus_DSM_COG_10_N00_00_W002_00_DEM",
        "Copernicus_DSM_COG_10_N00_00_W001_00_DEM",
        "Copernicus_DSM_COG_10_N00_00_E000_00_DEM",
        "Copernicus_DSM_COG_10_S01_00_W002_00_DEM",
        "Copernicus_DSM_COG_10_S01_00_W001_00_DEM",
        "Copernicus_DSM_COG_10_S01_00_E000_00_DEM",
    ]
    assert tile_names((-70.9, -33.7, -70.1, -33.2)) == ["Copernicus_DSM_COG_10_S34_00_W071_00_DEM"]
    assert tile_name(-9, -120) == "Copernicus_DSM_COG_10_S09_00_W120_00_DEM"
    # a box ending on a whole degree does not reach into the next tile
    assert len(tile_names((107.0, 16.0, 109.0, 17.0))) == 2


@pytest.mark.parametrize("bounds", [(108, 16, 107, 17), (107, 17, 108, 16), (190, 0, 191, 1)])
def test_bad_bounds_are_input_errors(bounds: tuple) -> None:
    with pytest.raises(InputError):
        tile_names(bounds)


def test_mosaic_is_seamless_clipped_and_attributed(bucket, tmp_path: Path) -> None:
    out = tmp_path / "out" / "dem.tif"
    with client() as c:
        info = fetch_dem(BBOX, out, base_url=bucket.url(""), client=c)

    assert info.tiles_used == (tile_name(16, 107), tile_name(16, 108))
    assert info.tiles_missing == (tile_name(16, 106),)
    assert info.attribution == ATTRIBUTION and NOTICE in ATTRIBUTION
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 4326
        assert src.res == pytest.approx((DEG, DEG))
        assert src.profile["tiled"] and src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        west, south, east, north = src.bounds
        # clipped to the box, grown to whole cells of the tiles' grid (no resampling)
        assert west <= BBOX[0] < west + DEG and east - DEG < BBOX[2] <= east
        assert south <= BBOX[1] < south + DEG and north - DEG < BBOX[3] <= north
        dem = src.read(1)
        tags = src.tags()
        cols, rows = np.meshgrid(np.arange(src.width), np.arange(src.height))
        lon, lat = centres(src.transform, cols, rows)
    assert "Copernicus WorldDEM-30" in tags["attribution"] and "EGM2008" in tags["vertical_datum"]
    assert tags["tiles_missing"] == tile_name(16, 106)
    land = lon > 107.0 - DEG / 2  # the first cell of E107 is centred on 107.0
    np.testing.assert_allclose(dem[land], elevation_m(lon, lat)[land], atol=1e-3)
    assert (dem[~land] == 0.0).all()  # the missing ocean tile is sea level
    # seamless: across 108° E the step is the same as inside a tile
    step = np.diff(dem[:, lon[0] > 107.0].astype(float), axis=1)
    np.testing.assert_allclose(step, 100.0 * DEG, atol=1e-3)

    sidecar = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["attribution"] == ATTRIBUTION
    assert sidecar["tiles_missing"] == [tile_name(16, 106)]
    assert sidecar["vertical_datum"].startswith("EGM2008")
    assert "do not incur any liability" in sidecar["liability_notice"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["dem.json", "dem.tif"]


def test_reprojects_to_the_metric_crs(bucket, tmp_path: Path) -> None:
    out = tmp_path / "dem_utm.tif"
    with client() as c:
        info = fetch_dem(
            (107.2, 16.3, 108.3, 16.7),
            out,
            base_url=bucket.url("/"),
            client=c,
            target_crs="EPSG:32648",
            resolution_m=500,
        )
    assert info.crs == "EPSG:32648" and info.resolution == (500.0, 500.0)
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    with rasterio.open(out) as src:
        assert src.crs.to_epsg() == 32648 and src.res == (500.0, 500.0)
        for lon, lat in [(107.5, 16.5), (107.99, 16.41), (108.2, 16.62)]:
            value = next(src.sample([to_utm.transform(lon, lat)]))[0]
            # bilinear on a plane, up to half a cell of position: 100 m/° * 0.0025°
            assert value == pytest.approx(elevation_m(lon, lat), abs=0.5)


def test_a_500_is_retried_then_fails_without_output(bucket, tmp_path: Path) -> None:
    failing = bucket_path(tile_name(16, 108))
    bucket.route(failing, bucket.Reply(500, b"internal error"))
    out = tmp_path / "out" / "dem.tif"
    out.parent.mkdir()
    before = out.with_name("older.tif")
    before.write_bytes(b"an earlier product, untouched")
    with client(attempts=3) as c, pytest.raises(FeedError) as caught:
        fetch_dem(BBOX, out, base_url=bucket.url(""), client=c)
    assert caught.value.status == 500 and caught.value.attempts == 3
    assert [p for p, _ in bucket.requests].count(failing) == 3
    assert sorted(p.name for p in out.parent.iterdir()) == ["older.tif"]


def test_every_tile_missing_is_an_error(http_server, tmp_path: Path) -> None:
    out = tmp_path / "dem.tif"
    with client() as c, pytest.raises(FeedError, match="404"):
        fetch_dem((106.2, 16.2, 106.8, 16.8), out, base_url=http_server.url(""), client=c)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_a_body_that_is_not_a_geotiff_is_a_feed_error(bucket, tmp_path: Path) -> None:
    bucket.route(bucket_path(tile_name(16, 107)), bucket.Reply(200, b"<html>oops</html>"))
    with client() as c, pytest.raises(FeedError, match="GeoTIFF"):
        fetch_dem(BBOX, tmp_path / "dem.tif", base_url=bucket.url(""), client=c)
    assert not list(tmp_path.glob("dem*"))


def test_resolution_needs_a_metric_crs(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        fetch_dem(BBOX, tmp_path / "dem.tif", resolution_m=30)
    with pytest.raises(InputError):
        fetch_dem(BBOX, tmp_path / "dem.tif", target_crs="EPSG:4326", resolution_m=30)
