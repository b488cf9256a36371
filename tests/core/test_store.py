"""The store behaves the same on both backends: geometry round trip, UTC times, uniqueness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point
from sqlalchemy.engine import Engine

from floodwatch.core.db import transaction
from floodwatch.gis_data.models import Reading, Region, Station


def _station(session) -> Station:
    session.add(Region(name="r", title="R", metric_crs="EPSG:32648", timezone="UTC",
                       source_hash="x"))
    station = Station(region="r", code="S1", name="Phú Ốc", name_ascii="Phu Oc",
                      kind="river_gauge", geom=from_shape(Point(107.467, 16.533), srid=4326),
                      source_hash="x")
    session.add(station)
    session.flush()
    return station


def test_times_come_back_aware_utc(engine: Engine) -> None:
    ict = timezone(timedelta(hours=7))
    with transaction(engine) as session:
        station = _station(session)
        session.add(Reading(station_id=station.id, parameter="water_level",
                            observed_at=datetime(2025, 11, 17, 8, 0, tzinfo=ict), value=4.96,
                            unit="m", flags="", source="test"))
    with transaction(engine) as session:
        reading = session.scalars(sa.select(Reading)).one()
        assert reading.observed_at == datetime(2025, 11, 17, 1, 0, tzinfo=UTC)
        assert reading.observed_at.utcoffset() == timedelta(0)
        assert reading.ingested_at.tzinfo is not None
        geom = to_shape(session.scalars(sa.select(Station.geom)).one())
        assert (round(geom.x, 3), round(geom.y, 3)) == (107.467, 16.533)


def test_naive_times_are_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), \
            transaction(engine) as session:
        station = _station(session)
        session.add(Reading(station_id=station.id, parameter="water_level",
                            observed_at=datetime(2025, 11, 17, 8), value=1.0, unit="m",
                            flags="", source="test"))
        session.flush()


def test_one_reading_per_station_parameter_time(engine: Engine) -> None:
    when = datetime(2025, 11, 17, 1, tzinfo=UTC)
    with pytest.raises(sa.exc.IntegrityError), transaction(engine) as session:
        station = _station(session)
        for value in (1.0, 2.0):
            session.add(Reading(station_id=station.id, parameter="water_level",
                                observed_at=when, value=value, unit="m", flags="",
                                source="test"))
            session.flush()
    with engine.connect() as conn:  # the failed transaction left nothing behind
        assert conn.scalar(sa.text("SELECT count(*) FROM stations")) == 0


def test_spatial_query_works_on_both_backends(engine: Engine) -> None:
    with transaction(engine) as session:
        _station(session)
    with transaction(engine) as session:
        near = session.scalars(
            sa.select(Station.code).where(
                sa.func.ST_Intersects(
                    Station.geom, sa.func.ST_GeomFromText(
                        "POLYGON((107 16, 108 16, 108 17, 107 17, 107 16))", 4326)))
        ).all()
        assert near == ["S1"]


def test_spatialite_does_not_break_the_bundled_geo_libraries(tmp_path) -> None:
    """Loading SpatiaLite (RTLD_GLOBAL) must not make rasterio bind to the system PROJ and
    crash: run in a fresh interpreter, since the failure is a segfault."""
    import subprocess
    import sys

    script = (
        "from floodwatch.core.db import make_engine\n"
        f"e = make_engine('sqlite:///{tmp_path / 'x.sqlite'}')\n"
        "e.connect().close()\n"
        "import rasterio.crs, rasterio.warp\n"
        "print(rasterio.crs.CRS.from_user_input('EPSG:32648').to_epsg(),\n"
        "      round(rasterio.warp.transform('EPSG:4326', 'EPSG:32648', [107.5], [16.4])[0][0]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["32648", "767012"]
