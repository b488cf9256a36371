"""Bad input gets one clear error and leaves the store exactly as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.core.db import make_engine
from floodwatch.core.errors import InputError, NotFoundError, StoreUnavailableError
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.region import AreaLayer, RegionDefinition, load_definition

SQUARE = [[107.5, 16.4], [107.6, 16.4], [107.6, 16.5], [107.5, 16.5], [107.5, 16.4]]


def _write(path: Path, features: list[dict], crs: str | None = None) -> Path:
    doc: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _ward(code: str, ring: list[list[float]], **props: object) -> dict:
    return {"type": "Feature", "properties": {"code": code, "name": f"Ward {code}", **props},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _region(*files: Path, level: str = "ward") -> RegionDefinition:
    return RegionDefinition(
        name="testcity", title="Test city", metric_crs="EPSG:32648",
        areas=tuple(AreaLayer(file=f, level=level if i == 0 else f"{level}{i}",
                              code_field="code", name_field="name")
                    for i, f in enumerate(files)),
    )


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (conn.scalar(sa.text("SELECT count(*) FROM regions")),
                conn.scalar(sa.text("SELECT count(*) FROM areas")))


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    load_region(engine, load_definition("hue"))
    return engine


def test_unrepairable_geometry_rolls_back_everything(loaded: Engine, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.geojson", [_ward("1", SQUARE)])
    # a bow-tie: its two lobes cross, make_valid would change its area beyond recognition
    bowtie = [[107.5, 16.4], [107.6, 16.5], [107.6, 16.4], [107.5, 16.5], [107.5, 16.4]]
    bad = _write(tmp_path / "bad.geojson", [_ward("2", SQUARE), _ward("3", bowtie)])
    before = _counts(loaded)
    with pytest.raises(InputError, match=r"bad.geojson: ward1 3: invalid geometry"):
        load_region(loaded, _region(good, bad))
    assert _counts(loaded) == before  # not even the good file's area, nor the region


def test_safely_repairable_geometry_is_repaired(engine: Engine, tmp_path: Path) -> None:
    # a ring with a zero-width spike: invalid, but repairing it does not change the area
    spiked = [[107.5, 16.4], [107.6, 16.4], [107.6, 16.45], [107.7, 16.45], [107.6, 16.45],
              [107.6, 16.5], [107.5, 16.5], [107.5, 16.4]]
    path = _write(tmp_path / "spike.geojson", [_ward("1", spiked)])
    report = load_region(engine, _region(path))
    assert report.inserted["area"] == 1
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM areas")) == 1


def test_missing_field(loaded: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "w.geojson", [_ward("1", SQUARE)])
    definition = RegionDefinition(
        name="testcity", title="T", metric_crs="EPSG:32648",
        areas=(AreaLayer(file=path, level="ward", code_field="gso_code", name_field="name"),))
    before = _counts(loaded)
    with pytest.raises(InputError, match=r"no field 'gso_code' \(fields: code, name\)"):
        load_region(loaded, definition)
    assert _counts(loaded) == before


def test_projected_file_without_declared_crs(loaded: Engine, tmp_path: Path) -> None:
    utm = [[760000, 1820000], [770000, 1820000], [770000, 1830000], [760000, 1830000],
           [760000, 1820000]]
    path = _write(tmp_path / "utm.geojson", [_ward("1", utm)])
    before = _counts(loaded)
    with pytest.raises(InputError, match=r"not longitude/latitude.*--crs"):
        load_region(loaded, _region(path))
    assert _counts(loaded) == before
    # declared, the same file loads, and lands in lon/lat
    layer = AreaLayer(file=path, level="ward", code_field="code", name_field="name",
                      crs="EPSG:32648")
    load_region(loaded, RegionDefinition(name="utmcity", title="U", areas=(layer,)))
    with loaded.connect() as conn:
        x = conn.scalar(sa.text("SELECT ST_X(ST_Centroid(geom)) FROM areas "
                                "WHERE region = 'utmcity'"))
    assert 107 < x < 108


def test_missing_file_and_unknown_region(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="unknown region 'atlantis'"):
        load_definition("atlantis")
    with pytest.raises(InputError, match="no such file"):
        from floodwatch.gis_data.vectors import read_layer

        read_layer(tmp_path / "nope.geojson")


def test_database_down() -> None:
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2")
    with pytest.raises(StoreUnavailableError, match="cannot reach the database"):
        load_region(engine, load_definition("hue"))


def test_duplicate_code_in_a_file(loaded: Engine, tmp_path: Path) -> None:
    path = _write(tmp_path / "dup.geojson", [_ward("1", SQUARE), _ward("1", SQUARE)])
    before = _counts(loaded)
    with pytest.raises(InputError, match="appears twice"):
        load_region(loaded, _region(path))
    assert _counts(loaded) == before
