"""current_state: what the public map says is true now, read from a real Huế store on both
backends (SpatiaLite and PostGIS)."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.gis_data.region import BUNDLED_DIR
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.settings import FeedConfig
from floodwatch.web_map import gauges
from floodwatch.web_map.state import current_state, terrain_is_approximate

Scenario = Any  # tests/web_map/conftest.py: Scenario
NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)  # the scenario's now: Kim Long at its peak

WARDS_GEOJSON = BUNDLED_DIR / "hue" / "admin" / "hue_wards_2025.geojson"
RIVER_CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"
LOCAL = timedelta(hours=7)  # the CSV's times are local, UTC+7


def csv_series(code: str) -> list[tuple[datetime, float]]:
    """The gauge's readings straight from the shipped file, in UTC."""
    with RIVER_CSV.open(encoding="utf-8") as fh:
        return [(datetime.strptime(r["time_local_utc7"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
                 - LOCAL, float(r["water_level_m"]))
                for r in csv.DictReader(fh) if r["station_code"] == code and r["water_level_m"]]


def test_wards_levels_reasons_and_figures(hue: Scenario) -> None:
    assert hue.now == NOW
    state = current_state(hue.engine, "hue", now=NOW)
    assert len(state.wards) == 40  # the 2025 wards; not the districts, not an expired ward
    assert "OLD-1" not in {w.code for w in state.wards}
    wards = {w.code: w for w in state.wards}
    red = wards[hue.red]
    assert (red.level, red.hazards) == (3, ("rapid_rise", "river_flood"))  # pending rain: no
    # the reason is the newest change of the hazard holding the level, not a later one
    assert red.reason == hue.red_reason and red.reason_at == NOW - timedelta(hours=1)
    f = red.figures
    assert f is not None and (f.flooded_km2, f.flooded_share, f.mean_depth_m, f.max_depth_m,
                              f.people_affected, f.rain_24h_mm) == (1.25, 0.125, 0.42, 1.6,
                                                                    5234, 142.0)
    assert (wards[hue.yellow].level, wards[hue.yellow].reason) == (2, "142 mm in 24 h")
    cancelled = wards[hue.cancelled]
    assert (cancelled.level, cancelled.reason, cancelled.figures) == (0, "below BĐ I again", None)
    assert sum(w.level > 0 for w in state.wards) == 2
    assert red.name_vi == "Phú Xuân" and red.population == 130247


def test_ward_geometry_is_simplified_geojson_of_the_ward(hue: Scenario) -> None:
    state = current_state(hue.engine, "hue", now=NOW)
    red = next(w for w in state.wards if w.code == hue.red)
    geom = shape(red.geometry)
    assert geom.is_valid and red.geometry["type"] in ("Polygon", "MultiPolygon")
    assert json.loads(json.dumps(red.geometry)) == red.geometry
    with WARDS_GEOJSON.open(encoding="utf-8") as fh:
        [source] = [shape(f["geometry"]) for f in json.load(fh)["features"]
                    if f["properties"]["gso_code_2025"] == hue.red]
    assert geom.symmetric_difference(source).area < 0.005 * source.area  # the same ward
    assert shapely.get_num_coordinates(geom) <= shapely.get_num_coordinates(source)
    coords = shapely.get_coordinates(geom)
    assert (coords.round(5) == coords).all()  # ~1 m: enough for a phone, small to send
    west, south, east, north = state.region.bbox or (0, 0, 0, 0)
    assert 107.0 < west < 107.1 and 108.1 < east < 108.3 and 15.9 < south < north < 16.8


def test_latest_usable_run_and_its_layers(hue: Scenario) -> None:
    state = current_state(hue.engine, "hue", now=NOW)
    assert state.run is not None
    assert (state.run.id, state.run.status, state.run.stale_inputs) == (hue.run_id, "partial", 1)
    assert state.as_of == NOW - timedelta(hours=1)  # the run's valid time, not the readings'
    assert state.approximate_terrain is True
    [point] = state.flood_points
    assert (point.depth_m, point.ward_code) == (1.6, hue.red)
    assert (point.lon, point.lat) == pytest.approx(hue.point_xy)
    assert [e.depth_class for e in state.flood_extents] == ["0.1-0.5 m", "≥0.5 m"]
    for extent, expected in zip(state.flood_extents, hue.extent_shapes, strict=True):
        assert shape(extent.geometry).symmetric_difference(expected).area < 1e-8


def test_gauges_latest_bd_status_trend_and_series(hue: Scenario) -> None:
    state = current_state(hue.engine, "hue", now=NOW)
    stations = {s.code: s for s in state.stations}
    kim_long, phu_oc = stations["71520"], stations["71518"]
    expected = [(t, v) for t, v in csv_series("71520") if NOW - timedelta(hours=72) < t <= NOW]
    assert [t for t, _ in kim_long.series] == [t for t, _ in expected]
    assert [v for _, v in kim_long.series] == pytest.approx([v for _, v in expected])
    assert (kim_long.value, kim_long.observed_at) == (3.01, NOW)  # the 15:00 local peak
    assert kim_long.bd_status == 2 and phu_oc.bd_status == 3  # 3.01 ≥ BĐ II; 4.91 ≥ BĐ III
    three_h_ago = dict(expected)[NOW - timedelta(hours=3)]
    assert kim_long.trend_m_per_h == pytest.approx((3.01 - three_h_ago) / 3)
    assert kim_long.alarms_m == (1.0, 2.0, 3.5)
    assert (kim_long.lon, kim_long.lat) == (107.56461, 16.45722)
    assert not kim_long.stale and kim_long.feed_state is None
    reservoir = stations["A11984FB-8CAD-44D7-BF9E-A0E881483E47"]
    assert reservoir.parameter == "reservoir_level" and reservoir.bd_status == 0
    assert stations["1D320527-2DC9-4C79-A00B-EBB16D44F735"].lon is None  # no published point
    assert state.newest_reading_at is not None and state.newest_reading_at <= NOW


def test_old_readings_are_stale_but_still_shown(hue: Scenario) -> None:
    later = datetime(2025, 12, 10, tzinfo=UTC)  # six days after the series ends
    state = current_state(hue.engine, "hue", now=later, stale_after=timedelta(hours=6))
    kim_long = next(s for s in state.stations if s.code == "71520")
    assert kim_long.stale and kim_long.stale_because == ("old",)
    assert (kim_long.value, kim_long.observed_at) == (0.59, datetime(2025, 12, 4, 1, tzinfo=UTC))
    assert kim_long.series == () and kim_long.trend_m_per_h is None
    fresh_enough = current_state(hue.engine, "hue", now=later, stale_after=timedelta(days=7))
    assert not next(s for s in fresh_enough.stations if s.code == "71520").stale


def test_a_failing_or_stale_feed_greys_its_stations(hue: Scenario) -> None:
    with transaction(hue.engine) as s:
        s.add(FeedStatus(name="kim-long-live", kind="ea", last_attempt_at=NOW,
                         last_error="HTTP 503", consecutive_failures=3, readings_added=0,
                         readings_total=0, state={}))
        s.add(FeedStatus(name="vndms", kind="csv", last_attempt_at=NOW, last_success_at=NOW,
                         newest_reading_at=NOW - timedelta(days=1), readings_added=0,
                         readings_total=0, consecutive_failures=0, state={}))
    feeds = [FeedConfig(name="kim-long-live", kind="ea", url="http://127.0.0.1/x",
                        stations=("71520",)),
             FeedConfig(name="vndms", kind="ea", url="http://127.0.0.1/y", cadence_s=3600)]
    stations = {s.code: s for s in current_state(hue.engine, "hue", now=NOW, feeds=feeds).stations}
    # Kim Long's readings are fresh, but one of its feeds fails and the other is a day behind
    assert stations["71520"].feed_state == "failing"
    assert stations["71520"].stale_because == ("feed_failing",)
    assert stations["71518"].stale_because == ("feed_stale",)  # its readings' source: vndms
    assert not stations["fd622826-9f2e-4130-8995-1654bac81895"].stale  # another source


def test_without_a_run_as_of_is_the_newest_reading(hue: Scenario) -> None:
    before_runs = NOW - timedelta(hours=3)
    state = current_state(hue.engine, "hue", now=before_runs)
    assert state.run is None and state.flood_points == () and state.flood_extents == ()
    assert state.as_of == state.newest_reading_at == before_runs
    assert all(w.figures is None for w in state.wards)


def _selects(hue: Scenario) -> int:
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(hue.engine, "before_cursor_execute", count)
    try:
        current_state(hue.engine, "hue", now=NOW)
    finally:
        sa.event.remove(hue.engine, "before_cursor_execute", count)
    return sum(s.lstrip().upper().startswith("SELECT") for s in statements)


def test_a_constant_number_of_queries(hue: Scenario, factories: Any) -> None:
    few = _selects(hue)
    with transaction(hue.engine) as s:  # every ward warned, with a history
        for code, area_id in hue.ids.items():
            if code not in (hue.red, hue.yellow, hue.cancelled):
                factories.add_state(s, area_id, "heavy_rain", "firing", 1)
                for hours in (3, 2, 1):
                    at = NOW - timedelta(hours=hours)
                    factories.add_transition(s, area_id, "heavy_rain", at, 1, f"{hours} h ago")
    assert _selects(hue) == few <= 15  # not one query per ward or station


def test_json_ready(hue: Scenario) -> None:
    data = current_state(hue.engine, "hue", now=NOW).to_dict()
    again = json.loads(json.dumps(data, allow_nan=False))
    assert again["as_of"] == "2025-11-17T07:00:00+00:00"
    assert again["stale_after"] == 6 * 3600
    assert len(again["wards"]) == 40 and again["region"]["metric_crs"] == "EPSG:32648"


def test_bad_calls(hue: Scenario) -> None:
    with pytest.raises(NotFoundError, match="no region 'atlantis'"):
        current_state(hue.engine, "atlantis", now=NOW)
    with pytest.raises(InputError, match="timezone-aware"):
        current_state(hue.engine, "hue", now=NOW.replace(tzinfo=None))


@pytest.mark.parametrize(("parameters", "expected"), [
    ({"terrain_approximate": False}, False),
    ({"terrain_approximate": True}, True),
    ({"terrain": {"approximate": False, "path": "glo30.tif"}}, False),
    ({}, True),  # unknown terrain: extents are called illustrative
    (None, True),
])
def test_terrain_flag(parameters: dict | None, expected: bool) -> None:
    assert terrain_is_approximate(parameters) is expected


@pytest.mark.parametrize(("observed", "feed", "expected"), [
    (NOW - timedelta(hours=1), None, ()),
    (NOW - timedelta(hours=6), "ok", ()),
    (NOW - timedelta(hours=6, seconds=1), None, ("old",)),
    (None, None, ("no_reading",)),
    (NOW, "failing", ("feed_failing",)),
    (NOW - timedelta(days=1), "stale", ("old", "feed_stale")),
])
def test_stale_reasons(observed: datetime | None, feed: str | None,
                       expected: tuple[str, ...]) -> None:
    assert gauges.stale_reasons(observed, feed, NOW, timedelta(hours=6)) == expected


def test_rain_total_counts_the_last_24_hours_only() -> None:
    series = [(NOW - timedelta(hours=h), 10.0) for h in (0, 5, 23, 24, 30)]
    assert gauges.rain_total_mm(series, NOW) == 30.0
    assert gauges.rain_total_mm([], NOW) is None


def test_a_users_own_threshold_is_not_a_public_alert(hue: Scenario, factories: Any) -> None:
    """A subscriber's personal threshold (hazard ``user_threshold:<id>``) is stored beside the
    public alerts but never shown as one."""
    before = {w.code: (w.level, w.hazards, w.reason)
              for w in current_state(hue.engine, "hue", now=NOW).wards}
    with transaction(hue.engine) as s:
        area_id = hue.ids[hue.cancelled]
        factories.add_state(s, area_id, "user_threshold:7", "firing", 5)
        factories.add_transition(s, area_id, "user_threshold:7", NOW - timedelta(minutes=5), 5,
                                 "Kim Long 2.57 m ≥ your threshold 2.50 m")
    after = {w.code: (w.level, w.hazards, w.reason)
             for w in current_state(hue.engine, "hue", now=NOW).wards}
    assert after == before and after[hue.cancelled][0] == 0
