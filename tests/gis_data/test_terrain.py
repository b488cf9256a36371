"""The shipped approximate terrain of Huế: what it covers, its shape, and that it rebuilds
identically from the region's files with ``scripts/build_hue_terrain.py``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.features import rasterize

from floodwatch.gis_data.region import BUNDLED_DIR

HUE = BUNDLED_DIR / "hue"
TIF = HUE / "terrain/hue_terrain_approx.tif"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts/build_hue_terrain.py"
PHU_XUAN = "19753"


@pytest.fixture(scope="module")
def builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_hue_terrain", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dem() -> tuple[np.ndarray, rasterio.Affine, dict]:
    with rasterio.open(TIF) as src:
        assert src.crs.to_epsg() == 32648
        return src.read(1), src.transform, {**src.profile, "tags": src.tags()}


def _layer(relative: str) -> gpd.GeoDataFrame:
    return gpd.read_file(HUE / relative).to_crs(32648)


def _mask(geoms: object, dem: tuple) -> np.ndarray:
    array, transform, _ = dem
    return rasterize(geoms, out_shape=array.shape, transform=transform, fill=0, dtype="uint8") > 0


def _at(dem: tuple, x: float, y: float) -> float:
    array, transform, _ = dem
    col, row = ~transform @ (x, y)
    return float(array[int(row), int(col)])


def test_is_a_small_cog_with_its_provenance(dem: tuple) -> None:
    _, _, profile = dem
    tags = profile["tags"]
    assert TIF.stat().st_size < 5_000_000
    assert profile["nodata"] == -9999.0 and profile["dtype"] == "float32"
    assert profile["tiled"] and profile["compress"] == "deflate"
    with rasterio.open(TIF) as src:
        assert src.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG" and src.overviews(1)
        assert src.res == (50.0, 50.0)
    assert tags["warning"] == "approximate terrain: flood extents are illustrative"
    assert "ETOPO5" in tags["source"] and "GSHHG" in tags["source"]
    assert "public domain" in tags["licence"] and "LGPL-3.0-or-later" in tags["licence"]
    sidecar = TIF.with_suffix(".md").read_text(encoding="utf-8")
    assert tags["array_sha256"] in sidecar and "illustrative" in sidecar


def test_covers_every_ward_without_nodata(dem: tuple) -> None:
    array, transform, _ = dem
    wards = _layer("admin/hue_wards_2025.geojson")
    assert len(wards) == 40
    height, width = array.shape
    west, north = transform.c, transform.f
    east, south = west + width * transform.a, north + height * transform.e
    for geom in wards.geometry:
        minx, miny, maxx, maxy = geom.bounds
        assert west < minx and maxx < east and south < miny and maxy < north
    inside = _mask(wards.geometry, dem)
    assert inside.sum() > 1_000_000 and np.isfinite(array[inside]).all()
    assert (array[inside] != -9999.0).all()


def test_lagoons_and_sea_are_at_zero(dem: tuple) -> None:
    array = dem[0]
    lagoons = _mask(_layer("water/lagoons_gshhg_f.geojson").geometry, dem)
    assert lagoons.sum() > 50_000  # ~215 km² of 50 m cells
    assert (array[lagoons] == 0.0).all()
    sea_x, sea_y = 830_000.0, 1_850_000.0  # off Thuận An, in the South China Sea
    assert _at(dem, sea_x, sea_y) == 0.0


def test_the_plain_at_hue_is_a_few_metres_above_sea_level(dem: tuple) -> None:
    wards = _layer("admin/hue_wards_2025.geojson")
    phu_xuan = wards[wards["gso_code_2025"].astype(str) == PHU_XUAN].geometry
    values = dem[0][_mask(phu_xuan, dem)]
    assert 1.0 < np.median(values) < 8.0
    assert np.percentile(values, 10) > 1.0 and np.percentile(values, 90) < 8.0
    point = phu_xuan.iloc[0].representative_point()
    assert 1.0 < _at(dem, point.x, point.y) < 8.0


def test_rivers_run_in_channels(dem: tuple) -> None:
    """Every km along every river line, the river cell is lower than the land 500 m away on
    both sides (where that land is not itself near a river, and not water)."""
    rivers = _layer("rivers/huong_bo_rivers.geojson")
    network = shapely.union_all(rivers.geometry.values)
    checked = 0
    for geom in rivers.geometry:
        for line in getattr(geom, "geoms", [geom]):
            for s in np.arange(500.0, line.length - 500.0, 1000.0):
                p, a, b = (line.interpolate(d) for d in (s, s - 50.0, s + 50.0))
                z = _at(dem, p.x, p.y)
                if z == 0.0:  # in the lagoon
                    continue
                tangent = np.array([b.x - a.x, b.y - a.y]) / a.distance(b)
                normal = np.array([-tangent[1], tangent[0]]) * 500.0
                for side in (normal, -normal):
                    q = shapely.Point(p.x + side[0], p.y + side[1])
                    if network.distance(q) < 300.0 or _at(dem, q.x, q.y) == 0.0:
                        continue
                    checked += 1
                    assert z < _at(dem, q.x, q.y), f"river cell at {p} is not below {q}"
    assert checked > 300


def test_hills_rise_in_the_west(dem: tuple) -> None:
    array = dem[0]
    wards = _layer("admin/hue_wards_2025.geojson")
    a_luoi = wards[wards["name_vi"].str.startswith("A Lưới")].geometry
    assert len(a_luoi) == 5
    assert array[_mask(a_luoi, dem)].max() > 200.0
    west_third = array[:, : array.shape[1] // 3]
    assert np.median(west_third) > 200.0 > np.median(array[:, -array.shape[1] // 3 :])


def test_the_science_is_monotonic_and_never_raises_land(builder: ModuleType) -> None:
    p = builder.TerrainParams()
    d = np.linspace(0.0, 50_000.0, 200)
    plain = builder.plain_elevation_m(d, p)
    assert plain[0] == pytest.approx(p.shore_elevation_m) and (np.diff(plain) > 0).all()
    relief = np.linspace(-50.0, 1500.0, 300)
    hills = builder.hill_elevation_m(relief, p)
    assert (np.diff(hills) >= 0).all() and hills[relief < p.hill_onset_m].max() == 0.0
    np.testing.assert_allclose(hills[relief > p.hill_full_m], relief[relief > p.hill_full_m])
    a, b = np.meshgrid(np.linspace(-5, 5, 21), np.linspace(-5, 5, 21))
    assert (builder.smooth_max(a, b, p.blend_m) >= np.maximum(a, b)).all()
    surface = np.full((40, 40), 10.0)
    bed = np.full(surface.shape, np.nan)
    bed[20, 5:35] = 6.0
    land = np.ones(surface.shape, dtype=bool)
    carved = builder.carve_channels(surface, bed, land, 50.0, p)
    assert (carved <= surface).all() and carved[20, 10] == 6.0 and carved[0, 10] == 10.0


def test_rebuilds_identically(builder: ModuleType, dem: tuple, tmp_path: Path) -> None:
    out = tmp_path / "terrain.tif"
    rebuilt = builder.build_terrain(HUE, out, resolution_m=50)
    array, transform, profile = dem
    with rasterio.open(out) as src:
        assert src.transform == transform and src.tags()["params"] == profile["tags"]["params"]
        np.testing.assert_array_equal(src.read(1), array)
    assert builder.array_sha256(rebuilt) == profile["tags"]["array_sha256"]
