"""`replay load hue-2025-11`: the real November 2025 series into the store, idempotent, and an
interrupted load resumes without duplicating anything (both backends)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
from floodwatch.hydro.backfill import load_series, series_observations, store_in_chunks

RIVER_CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"


def _count(engine: Engine, where: str = "1=1") -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text(f"SELECT count(*) FROM readings WHERE {where}")))


@pytest.fixture
def hue(engine: Engine) -> Engine:
    load_region(engine, load_definition("hue"))
    return engine


def test_load_is_idempotent_and_right(hue: Engine) -> None:
    first = load_series(hue, "hue-2025-11")
    assert first.added == first.parsed == _count(hue)
    with RIVER_CSV.open(encoding="utf-8") as fh:
        river_rows = sum(1 for _ in csv.DictReader(fh))
    assert _count(hue, "parameter = 'water_level'") == river_rows == 1101
    second = load_series(hue, "hue-2025-11")
    assert second.added == 0 and _count(hue) == first.parsed
    with hue.connect() as conn:
        peak = conn.execute(sa.text(
            "SELECT r.observed_at, r.value FROM readings r JOIN stations s ON s.id = r.station_id "
            "WHERE s.code = '71518' ORDER BY r.value DESC LIMIT 1")).one()
    observed_at = peak[0] if isinstance(peak[0], datetime) else datetime.fromisoformat(peak[0])
    assert observed_at.replace(tzinfo=UTC) == datetime(2025, 11, 17, 1, tzinfo=UTC)
    assert peak[1] == pytest.approx(4.96)


def test_interrupted_load_resumes(hue: Engine) -> None:
    observations = series_observations("hue-2025-11")

    def interrupt_after_first_chunk(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store_in_chunks(hue, "replay-hue-2025-11", observations, chunk_size=300,
                        progress=interrupt_after_first_chunk)
    assert _count(hue) == 300  # the finished chunk stays
    resumed = store_in_chunks(hue, "replay-hue-2025-11", observations, chunk_size=300)
    assert resumed.added == len(observations) - 300
    assert _count(hue) == len(observations)
