"""Replay a recorded series as if live: shift in time, then select what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import tabular
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.feeds.replay import due, shift
from floodwatch.hydro.feeds.tabular import Mapping

RIVERS = (
    Path(__file__).parents[3] / "gis_data" / "floodwatch" / "gis_data" / "regions" / "hue"
    / "timeseries" / "hue_river_water_levels_2025-11.csv"
)
START = datetime(2025, 11, 16, 17, 0, tzinfo=UTC)  # 17 Nov 00:00 local time in Huế
NOW = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def obs(hour: int, value: float | None = 1.0, station: str = "71518") -> Observation:
    flags = frozenset({Flag.MISSING}) if value is None else frozenset()
    return Observation(
        station, Parameter.WATER_LEVEL, START + timedelta(hours=hour), value, "m", "vndms", flags
    )


def test_shift_real_time_maps_start_to_now() -> None:
    shifted = shift([obs(0), obs(1), obs(3, None)], recorded_start=START, now=NOW)
    assert [o.observed_at for o in shifted] == [
        NOW, NOW + timedelta(hours=1), NOW + timedelta(hours=3)
    ]
    assert shifted[2].value is None and shifted[2].flags == {Flag.MISSING}  # all else kept
    assert shifted[0] == obs(0).__class__(
        "71518", Parameter.WATER_LEVEL, NOW, 1.0, "m", "vndms", frozenset()
    )


def test_shift_with_speed_compresses_time_and_sorts() -> None:
    # speed 60: one recorded hour passes in one minute; before the start → before now
    shifted = shift([obs(2), obs(-1), obs(1)], recorded_start=START, now=NOW, speed=60.0)
    assert [o.observed_at - NOW for o in shifted] == [
        timedelta(minutes=-1), timedelta(minutes=1), timedelta(minutes=2)
    ]


def test_shift_returns_utc_for_other_offsets() -> None:
    hanoi = timezone(timedelta(hours=7))
    (shifted,) = shift([obs(1)], recorded_start=START, now=NOW.astimezone(hanoi))
    assert shifted.observed_at == NOW + timedelta(hours=1)
    assert shifted.observed_at.utcoffset() == timedelta(0)


def test_due_selects_by_time_inclusive_and_after_exclusive() -> None:
    shifted = shift([obs(h) for h in range(6)], recorded_start=START, now=NOW)
    assert len(due(shifted, until=NOW - timedelta(seconds=1))) == 0
    assert len(due(shifted, until=NOW)) == 1
    assert len(due(shifted, until=NOW + timedelta(hours=2, minutes=30))) == 3
    tick = due(shifted, after=NOW + timedelta(hours=2), until=NOW + timedelta(hours=4))
    assert [o.observed_at for o in tick] == [NOW + timedelta(hours=3), NOW + timedelta(hours=4)]


def test_replay_the_hue_flood_as_a_drill() -> None:
    recorded = tabular.parse(RIVERS.read_bytes(), Mapping.builtin("vndms_hue_water_levels"))
    # replay from 17 Nov 00:00 local, 60× faster: Phú Ốc's 4.96 m (08:00 local, 8 h later)
    # arrives 8 minutes after the drill starts
    shifted = shift(recorded, recorded_start=START, now=NOW, speed=60.0)
    peak = NOW + timedelta(minutes=8)
    batch = due(shifted, after=peak - timedelta(minutes=1), until=peak)
    phu_oc = [o for o in batch if o.station == "71518"]
    assert [o.value for o in phu_oc] == [pytest.approx(4.96)]
    assert [o.observed_at for o in phu_oc] == [peak]
    # everything recorded before the start is already in the past at the start of the drill
    assert len(due(shifted, until=NOW)) == sum(1 for o in recorded if o.observed_at <= START)


@pytest.mark.parametrize("speed", [0.0, -1.0, float("nan")])
def test_shift_rejects_bad_speed(speed: float) -> None:
    with pytest.raises(InputError, match="speed"):
        shift([obs(0)], recorded_start=START, now=NOW, speed=speed)


def test_naive_times_are_rejected() -> None:
    with pytest.raises(InputError, match="now must be timezone-aware"):
        shift([obs(0)], recorded_start=START, now=datetime(2030, 1, 1))
    with pytest.raises(InputError, match="until must be timezone-aware"):
        due([obs(0)], until=datetime(2030, 1, 1))
