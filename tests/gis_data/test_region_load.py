"""Loading the bundled Huế region on both backends."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.engine import Engine

from floodwatch.core.db import session_factory
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area, Region, River, Station
from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
from floodwatch.gis_data.summary import region_summary

HUE = BUNDLED_DIR / "hue"


def _features(relative: str) -> list[dict]:
    return json.loads((HUE / relative).read_text(encoding="utf-8"))["features"]


def _snapshot(engine: Engine) -> list[tuple]:
    """Every row of every region table, to prove a second load changes nothing."""
    with engine.connect() as conn:
        rows = []
        for table in ("regions", "areas", "rivers", "stations"):
            cols = "*" if table == "regions" else "id, source_hash, loaded_at"
            rows += [(table, *r) for r in conn.exec_driver_sql(
                f"SELECT {cols} FROM {table} ORDER BY 1")]
        return rows


def test_counts_match_the_source_files(engine: Engine) -> None:
    report = load_region(engine, load_definition("hue"))
    assert report.inserted["area"] == 1 + 9 + 40
    info = region_summary(engine, "hue")
    assert info["areas"] == {
        "city": len(_features("admin/hue_city_boundary_2025.geojson")),
        "district": len(_features("admin/tth_districts_odm_2009.geojson")),
        "ward": len(_features("admin/hue_wards_2025.geojson")),
    }
    assert info["areas"]["ward"] == 40 and info["areas"]["district"] == 9
    assert info["rivers"] == len(_features("rivers/huong_bo_rivers.geojson")) == 9
    assert sum(info["stations"].values()) == len(_features("stations/hue_stations.geojson"))
    assert info["stations"] == {"river_gauge": 2, "reservoir": 3}
    terrain = info["terrain"]  # the region metadata says the terrain is approximate
    assert terrain["approximate"] is True and "illustrative" in terrain["note"]
    assert terrain["file"].endswith("hue_terrain_approx.tif")
    assert terrain["rivers"] == ["Sông Hương", "Sông Bồ"]
    assert info["metric_crs"] == "EPSG:32648"


def test_population_totals_equal_the_sources(engine: Engine) -> None:
    load_region(engine, load_definition("hue"))
    wards = sum(f["properties"]["population"] for f in _features("admin/hue_wards_2025.geojson"))
    districts = sum(f["properties"]["pop2009"]
                    for f in _features("admin/tth_districts_odm_2009.geojson"))
    assert (wards, districts) == (1_433_465, 1_087_420)
    assert region_summary(engine, "hue")["population"] == {"ward": wards, "district": districts}


def test_geometries_are_valid_and_wards_lie_in_their_parent(engine: Engine) -> None:
    load_region(engine, load_definition("hue"))
    with session_factory(engine)() as session:
        areas = session.scalars(sa.select(Area)).all()
        shapes = {a.id: to_shape(a.geom) for a in areas}
        for area in areas:
            shape = shapes[area.id]
            assert shape.is_valid and shape.geom_type == "MultiPolygon", area.code
            assert 105 < shape.centroid.x < 109 and 15 < shape.centroid.y < 18
        for area in areas:
            if area.level == "city":
                assert area.parent_id is None
                continue
            parent = shapes[area.parent_id]
            outside = shapes[area.id].difference(parent).area / shapes[area.id].area
            # The wards and the city outline come from one publisher (2 % slack for the
            # generalised edges); the 2009 districts from another survey whose coastline and
            # lagoon shore differ (127 km² of 5,024 km² fall outside the 2025 outline).
            slack = {"ward": 0.02, "district": 0.10}[area.level]
            assert outside < slack, (area.level, area.code, outside)
        # the database agrees: every ward's representative point is inside its parent
        parent = sa.orm.aliased(Area)
        inside = session.scalar(
            sa.select(sa.func.count()).select_from(Area)
            .join(parent, Area.parent_id == parent.id)
            .where(Area.level == "ward",
                   sa.func.ST_Contains(parent.geom, sa.func.ST_PointOnSurface(Area.geom)))
        )
        assert inside == 40


def test_names_codes_and_alarm_levels(engine: Engine) -> None:
    load_region(engine, load_definition("hue"))
    with session_factory(engine)() as session:
        ward = session.scalars(sa.select(Area).filter_by(level="ward", code="19774")).one()
        assert (ward.name_vi, ward.name_ascii, ward.population) == ("Kim Long", "Kim Long", 48999)
        assert ward.valid_from is not None and ward.population_year == 2025
        phu_oc = session.scalars(sa.select(Station).filter_by(code="71518")).one()
        assert (phu_oc.name, phu_oc.name_ascii) == ("Phú Ốc", "Phu Oc")
        assert (phu_oc.alarm1_m, phu_oc.alarm2_m, phu_oc.alarm3_m) == (1.5, 3.0, 4.5)
        assert phu_oc.river is not None and phu_oc.river.name == "Sông Bồ"
        kim_long = session.scalars(sa.select(Station).filter_by(code="71520")).one()
        # the corrected gauge point lies in Kim Long ward
        assert to_shape(ward.geom).contains(to_shape(kim_long.geom))
        binh_dien = session.scalars(sa.select(Station).filter(Station.name == "Hồ Bình Điền")
                                    ).one()
        assert binh_dien.geom is None and binh_dien.kind == "reservoir"
        ba_ran = session.scalars(sa.select(River.code).filter(River.name == "Sông Ba Ran")
                                 .order_by(River.code)).all()
        assert ba_ran == ["song-ba-ran", "song-ba-ran-2"]


def test_second_load_changes_nothing(engine: Engine) -> None:
    definition = load_definition("hue")
    load_region(engine, definition)
    before = _snapshot(engine)
    report = load_region(engine, definition)
    assert not report.changed
    assert report.unchanged["area"] == 50 and report.unchanged["station"] == 5
    assert _snapshot(engine) == before


def test_a_changed_file_updates_only_what_changed(engine: Engine, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(HUE, tmp_path / "hue")
    path = tmp_path / "hue" / "admin" / "hue_wards_2025.geojson"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["features"][0]["properties"]["population"] += 1
    load_region(engine, load_definition(str(tmp_path / "hue")))
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    report = load_region(engine, load_definition(str(tmp_path / "hue")))
    assert report.updated["area"] == 1 and report.unchanged["area"] == 49
    with session_factory(engine)() as session:
        assert session.get(Region, "hue") is not None
