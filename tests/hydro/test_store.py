"""Idempotent upserts of readings on both backends, bulk and row by row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.hydro import store
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter, StationInfo

T0 = datetime(2025, 11, 17, tzinfo=UTC)


def _obs(n: int, station: str = "S1", value: float = 1.0) -> list[Observation]:
    return [Observation(station, Parameter.WATER_LEVEL, T0 + timedelta(minutes=15 * i),
                        value + i / 100, "m", "test") for i in range(n)]


def _rows(engine: Engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT station_id, parameter, value, flags FROM readings ORDER BY observed_at")).all()


def test_bulk_upsert_is_idempotent(engine: Engine) -> None:
    observations = _obs(1200)
    assert store.upsert_readings(engine, observations) == 1200
    assert store.upsert_readings(engine, observations) == 0
    assert len(_rows(engine)) == 1200


def test_changed_value_or_flags_update_the_row(engine: Engine) -> None:
    observations = _obs(3)
    store.upsert_readings(engine, observations)
    revised = [observations[0], observations[1].with_flags(Flag.SPIKE),
               Observation("S1", Parameter.WATER_LEVEL, observations[2].observed_at, 9.0, "m",
                           "test")]
    assert store.upsert_readings(engine, revised) == 2
    rows = _rows(engine)
    assert [r[3] for r in rows] == ["", "spike", ""] and rows[2][2] == 9.0


def test_row_by_row_baseline_agrees(engine: Engine) -> None:
    observations = _obs(50)
    assert store.insert_row_by_row(engine, observations) == 50
    assert store.insert_row_by_row(engine, observations) == 0
    assert store.upsert_readings(engine, observations) == 0


def test_duplicates_inside_one_batch_store_once(engine: Engine) -> None:
    observations = _obs(5)
    assert store.upsert_readings(engine, observations + observations[:2]) in (5, 7)
    assert len(_rows(engine)) == 5


def test_unknown_station_registered_from_source_info(engine: Engine) -> None:
    info = {"R1": StationInfo(code="R1", name="Rain gauge Ā", lon=107.6, lat=16.4,
                              kind="rain_gauge", source="test")}
    obs = [Observation("R1", Parameter.RAINFALL, T0, 12.5, "mm", "test")]
    store.upsert_readings(engine, obs, known_stations=info)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT code, name, kind, ST_X(geom) FROM stations")).one()
    assert row[:3] == ("R1", "Rain gauge Ā", "rain_gauge") and round(row[3], 1) == 107.6
