"""Rules: alarm status, the simplified risk mapping, the other conditions, links and evaluate."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import geopandas as gpd
import pytest

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.gis_data.region import BUNDLED_DIR
from floodwatch.warnings import rules
from floodwatch.warnings.links import default_links
from floodwatch.warnings.model import (
    RISK_COLOURS,
    Condition,
    GaugeReading,
    Hazard,
    UserThreshold,
    WardFloodStats,
)
from floodwatch.warnings.ruleset import RULESETS_DIR, load_ruleset

HUE = load_ruleset("hue")
REGION = BUNDLED_DIR / "hue"
T0 = datetime(2025, 11, 17, 1, 0, tzinfo=UTC)  # 08:00 local, Phú Ốc's 2025-11 peak
KIM_LONG = (1.0, 2.0, 3.5)
PHU_OC = (1.5, 3.0, 4.5)
WARD_PHU_OC_ONLY = "19858"  # Phong Thái
WARD_KIM_LONG_ONLY = "19753"  # Phú Xuân
WARD_BOTH = "19804"  # Hương An


def reading(code: str, level_m: float, *, trend: float | None = None,
            at: datetime = T0) -> GaugeReading:
    return GaugeReading(code, level_m, at, trend)


def flood(share: float, depth_m: float, people: int = 0) -> WardFloodStats:
    return WardFloodStats(share, depth_m, people, T0)


@pytest.mark.parametrize(("level_m", "alarms", "expected"), [
    (0.99, KIM_LONG, 0), (1.0, KIM_LONG, 1), (1.99, KIM_LONG, 1), (2.0, KIM_LONG, 2),
    (3.49, KIM_LONG, 2), (3.5, KIM_LONG, 3), (9.0, KIM_LONG, 3), (-0.5, KIM_LONG, 0),
    (1.49, PHU_OC, 0), (1.5, PHU_OC, 1), (3.0, PHU_OC, 2), (4.49, PHU_OC, 2), (4.5, PHU_OC, 3),
    (1.5, (None, 2.0, 3.5), 0), (2.0, (None, 2.0, 3.5), 2),  # no BĐ I
    (62.0, (59.0, 61.0, None), 2), (60.0, (59.0, 61.0, None), 1),  # Thượng Nhật: no BĐ III
    (5.0, (None, None, None), 0),
])
def test_bd_status(level_m: float, alarms: rules.Alarms, expected: int) -> None:
    assert rules.bd_status(level_m, alarms) == expected


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_bd_status_refuses_non_finite_levels(bad: float) -> None:
    with pytest.raises(InputError, match="finite"):
        rules.bd_status(bad, KIM_LONG)


@pytest.mark.parametrize(("level_m", "alarms", "historic_m", "expected"), [
    (0.99, KIM_LONG, 5.81, 0), (1.0, KIM_LONG, 5.81, 1), (1.99, KIM_LONG, 5.81, 1),
    (2.0, KIM_LONG, 5.81, 2), (3.5, KIM_LONG, 5.81, 2), (4.49, KIM_LONG, 5.81, 2),
    (4.5, KIM_LONG, 5.81, 3), (5.80, KIM_LONG, 5.81, 3), (5.81, KIM_LONG, 5.81, 4),
    (7.0, KIM_LONG, 5.81, 4),
    # Phú Ốc: the historic maximum 5.31 m lies below BĐ III + 1 m = 5.50 m, so no level 3
    (4.5, PHU_OC, 5.31, 2), (5.30, PHU_OC, 5.31, 2), (5.31, PHU_OC, 5.31, 4),
    (9.0, KIM_LONG, None, 3), (70.0, (59.0, 61.0, None), None, 2),
])
def test_river_flood_level_at_each_boundary(
    level_m: float, alarms: rules.Alarms, historic_m: float | None, expected: int
) -> None:
    got = rules.river_flood_level(level_m, alarms, historic_max_m=historic_m, bd3_plus_m=1.0)
    assert got == expected


@pytest.mark.parametrize(("kim_long_m", "rain_mm", "stats", "expected"), [
    (2.5, None, None, 2),
    (2.5, 99.9, None, 2),
    (2.5, 100.0, None, 3),  # heavy concurrent rain: +1
    (2.5, 199.9, None, 3),
    (2.5, 200.0, None, 4),  # severe: +2
    (2.5, None, flood(0.25, 1.0), 3),  # severe modelled flooding: +1
    (2.5, None, flood(0.25, 0.99), 2),  # share alone is not enough
    (2.5, None, flood(0.24, 3.0), 2),  # depth alone is not enough
    (2.5, 150.0, flood(0.3, 1.5), 4),  # +1 +1
    (1.2, 250.0, flood(0.3, 1.5), 3),  # +2 +1 → raise capped at 2
    (5.9, 250.0, None, 5),  # 4 + 2 → capped at level 5
    (0.9, 300.0, flood(0.9, 4.0), None),  # no river level: raising never creates one
])
def test_concurrent_hazards_raise_the_river_flood_level(
    kim_long_m: float, rain_mm: float | None, stats: WardFloodStats | None, expected: int | None
) -> None:
    got = rules.river_flood_condition(HUE, WARD_KIM_LONG_ONLY, [reading("71520", kim_long_m)],
                                      as_of=T0, rain_24h_mm=rain_mm, flooding=stats)
    assert (got.level if got else None) == expected


def test_caps_are_explained() -> None:
    got = rules.river_flood_condition(HUE, WARD_KIM_LONG_ONLY, [reading("71520", 5.9)],
                                      as_of=T0, rain_24h_mm=250.0, flooding=flood(0.5, 2.0))
    assert got is not None
    assert "Kim Long 5.90 m ≥ historic maximum 5.81 m (1999) (risk level 4)" in got.reasons
    assert "concurrent hazards raise by at most 2" in got.reasons
    assert "capped at level 5" in got.reasons
    assert got.evidence["base_level"] == 4 and got.evidence["raise_by"] == 2


@pytest.mark.parametrize(("code", "level_m", "expected"), [
    ("71518", 4.62, "Phú Ốc 4.62 m ≥ BĐ III 4.50 m (risk level 2)"),
    ("71518", 3.1, "Phú Ốc 3.10 m ≥ BĐ II 3.00 m (risk level 2)"),
    ("71520", 1.0, "Kim Long 1.00 m ≥ BĐ I 1.00 m (risk level 1)"),
    ("71520", 4.6, "Kim Long 4.60 m ≥ BĐ III + 1.0 m = 4.50 m (risk level 3)"),
    ("71520", 0.4, "Kim Long 0.40 m < BĐ I 1.00 m (no risk level)"),
])
def test_gauge_reasons_name_the_value_and_the_threshold(
    code: str, level_m: float, expected: str
) -> None:
    assert rules.gauge_reason(HUE.gauges[code], level_m, 1.0) == expected


@pytest.mark.parametrize(("mm", "expected"), [
    (0.0, None), (49.9, None), (50.0, 1), (99.9, 1), (100.0, 2), (600.0, 2),
])
def test_rain_condition(mm: float, expected: int | None) -> None:
    got = rules.rain_condition(HUE, "19753", mm, as_of=T0, rain_as_of=T0)
    assert (got.level if got else None) == expected
    if got:
        assert f"rain {mm:.0f} mm in 24 h ≥" in got.reasons[0]


def test_negative_rain_is_refused() -> None:
    with pytest.raises(InputError, match="24 h rainfall"):
        rules.rain_condition(HUE, "19753", -1.0, as_of=T0, rain_as_of=T0)


@pytest.mark.parametrize(("stats", "expected"), [
    (flood(0.0, 0.0), None),
    (flood(0.04, 2.0), None),
    (flood(0.05, 0.29), None),
    (flood(0.05, 0.3), 1),
    (flood(0.10, 0.5), 2),
    (flood(0.30, 0.8), 2),  # share of level 3 but not its depth
    (flood(0.25, 1.0), 3),
    (flood(0.60, 2.5), 4),
    (flood(0.0, 0.0, people=1000), 2),  # people affected alone
    (flood(0.05, 0.3, people=12000), 3),
])
def test_ward_flooding_condition(stats: WardFloodStats, expected: int | None) -> None:
    got = rules.ward_flooding_condition(HUE, "19753", stats, as_of=T0)
    assert (got.level if got else None) == expected


def _series(levels: list[float], step_min: int = 60) -> list[tuple[datetime, float]]:
    return [(T0 + timedelta(minutes=i * step_min), v) for i, v in enumerate(levels)]


@pytest.mark.parametrize(("series", "expected"), [
    (_series([2.0, 2.3, 2.6, 2.9]), 0.3),  # 0.9 m in 3 h
    (_series([1.0, 2.0, 2.3, 2.6, 2.9]), 0.3),  # the reading 4 h back is outside the window
    (_series([3.0, 2.8, 2.6, 2.4]), -0.2),  # falling
    (_series([2.0, 2.1]), None),  # 1 h of data: less than half the window
    (_series([2.0, 2.3, 2.45, 2.6, 2.7, 2.9], step_min=36), 0.3),  # 3 h at 36 min steps
    (_series([2.0, math.nan, 2.6, 2.9]), 0.3),  # a missing reading is skipped
    ([], None),
])
def test_rate_of_rise(series: list[tuple[datetime, float]], expected: float | None) -> None:
    got = rules.rate_of_rise_m_per_h(series, window=timedelta(hours=3))
    assert got == (None if expected is None else pytest.approx(expected))


@pytest.mark.parametrize(("trend", "expected"), [
    (None, None), (-0.5, None), (0.29, None), (0.3, 1), (0.59, 1), (0.6, 2),
])
def test_rapid_rise_condition(trend: float | None, expected: int | None) -> None:
    got = rules.rapid_rise_condition(HUE, WARD_PHU_OC_ONLY, [reading("71518", 3.2, trend=trend)],
                                     as_of=T0)
    assert (got.level if got else None) == expected
    if got:
        assert got.reasons[0].startswith(f"Phú Ốc rising {'very ' if expected == 2 else ''}fast "
                                         f"{trend:.2f} m/h over the last 3 h ≥")


@pytest.mark.parametrize(("levels", "threshold", "expected"), [
    ([1.8, 1.9, 2.1, 2.3, 1.7], 2.0, [(2, "up", 1.9, 2.1), (4, "down", 2.3, 1.7)]),
    ([1.8, 2.0, 1.99], 2.0, [(1, "up", 1.8, 2.0), (2, "down", 2.0, 1.99)]),  # at = above
    ([2.5, 2.6, 2.7], 2.0, []),  # already above: no crossing
    ([1.0, 3.0, 1.0, 3.0], 2.0, [(1, "up", 1.0, 3.0), (2, "down", 3.0, 1.0),
                                 (3, "up", 1.0, 3.0)]),
    ([1.0, math.nan, 3.0], 2.0, [(2, "up", 1.0, 3.0)]),
])
def test_user_threshold_crossings(
    levels: list[float], threshold: float, expected: list[tuple[int, str, float, float]]
) -> None:
    got = rules.crossings(_series(levels), threshold)
    assert [(int((c.at - T0) / timedelta(hours=1)), c.direction, c.from_m, c.to_m)
            for c in got] == expected


@pytest.mark.parametrize(("direction", "level_m", "in_force"), [
    ("above", 2.49, False), ("above", 2.5, True), ("above", 3.0, True),
    ("below", 2.49, True), ("below", 2.5, False),
])
def test_user_threshold_condition(direction: str, level_m: float, in_force: bool) -> None:
    t = UserThreshold("71520", 2.5, direction)  # type: ignore[arg-type]
    got = rules.user_threshold_condition(t, reading("71520", level_m), as_of=T0)
    assert (got is not None) == in_force
    if got:
        assert got.area_code == "71520" and got.evidence["threshold_id"] == f"71520:{direction}:2.5"
        assert f"{level_m:.2f} m" in got.reasons[0] and "2.50 m" in got.reasons[0]


def test_user_threshold_refuses_an_unknown_direction() -> None:
    with pytest.raises(InputError, match="above"):
        UserThreshold("71520", 2.5, "sideways")  # type: ignore[arg-type]


def test_links_in_hue_toml_follow_from_the_default_rule() -> None:
    wards = gpd.read_file(REGION / HUE.links_wards_file)
    rivers = gpd.read_file(REGION / HUE.links_rivers_file)
    gauges = [(g.code, g.river, g.lon, g.lat) for g in HUE.gauges.values()]
    got = default_links(wards, rivers, gauges, buffer_m=HUE.links_buffer_m,
                        max_distance_m=HUE.links_max_distance_m)
    assert got == {code: list(g.wards) for code, g in HUE.gauges.items()}
    names = dict(zip(wards["gso_code_2025"], wards["name_vi"], strict=True))
    # the gauges' own wards, and the river mouth at Thuận An below both
    assert {"Kim Long", "Thuận An"} <= {names[w] for w in got["71520"]}
    assert {"Hương Trà", "Thuận An"} <= {names[w] for w in got["71518"]}
    # a narrower buffer links fewer wards: the parameter is used
    narrow = default_links(wards, rivers, gauges, buffer_m=500,
                           max_distance_m=HUE.links_max_distance_m)
    assert set(narrow["71520"]) < set(got["71520"])


def test_links_refuse_an_unknown_river() -> None:
    wards = gpd.read_file(REGION / HUE.links_wards_file)
    rivers = gpd.read_file(REGION / HUE.links_rivers_file)
    with pytest.raises(InputError, match="Sông Ô Lâu"):
        default_links(wards, rivers, [("x", "Sông Ô Lâu", 107.4, 16.6)])


def test_ruleset_gauges_match_the_region_stations() -> None:
    stations = gpd.read_file(REGION / "stations" / "hue_stations.geojson").set_index("code")
    for code, g in HUE.gauges.items():
        s = stations.loc[code]
        assert g.alarms_m == (s.alarm1_m, s.alarm2_m, s.alarm3_m)
        assert (g.historic_max_m, g.historic_max_year) == (s.historical_max_m,
                                                           s.historical_max_year)
        assert (g.lon, g.lat) == pytest.approx((s.geometry.x, s.geometry.y))


def test_a_threshold_without_a_known_source_is_refused(tmp_path: Path) -> None:
    text = (RULESETS_DIR / "hue.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace('source = "rain_terms"', 'source = "a blog"', 1),
                   encoding="utf-8")
    with pytest.raises(ConfigError, match="a blog"):
        load_ruleset(bad)


def test_unordered_alarm_levels_are_refused(tmp_path: Path) -> None:
    text = (RULESETS_DIR / "hue.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("bd2 = 2.0, bd3 = 3.5", "bd2 = 4.0, bd3 = 3.5"), encoding="utf-8")
    with pytest.raises(ConfigError, match="rise from I to III"):
        load_ruleset(bad)


def test_evaluate_one_time_step() -> None:
    later = T0 + timedelta(minutes=30)
    conditions = rules.evaluate(
        HUE, now=later,
        gauges={"71518": reading("71518", 4.62, trend=0.35), "71520": reading("71520", 2.2),
                "99999": reading("99999", 1.0)},
        ward_flooding={WARD_BOTH: flood(0.3, 1.2, people=2500)},
        rain_24h_mm={WARD_PHU_OC_ONLY: 120.0, WARD_KIM_LONG_ONLY: 20.0},
        rain_as_of=T0,
        user_thresholds=[UserThreshold("71520", 2.0), UserThreshold("71520", 3.0)],
    )
    by_key = {(c.area_code, c.hazard): c for c in conditions}
    assert len(by_key) == len(conditions)  # one per (area, hazard)
    assert [(c.area_code, c.hazard) for c in conditions] == sorted(by_key)

    phong_thai = by_key[(WARD_PHU_OC_ONLY, Hazard.RIVER_FLOOD)]
    assert phong_thai.level == 3  # 2 at Phú Ốc, +1 for 120 mm of rain
    assert phong_thai.reasons[0] == "Phú Ốc 4.62 m ≥ BĐ III 4.50 m (risk level 2)"
    assert "concurrent rain 120 mm in 24 h ≥ 100 mm raises the level by 1" in phong_thai.reasons
    assert phong_thai.as_of == later and phong_thai.inputs_newest_at == T0
    assert by_key[(WARD_PHU_OC_ONLY, Hazard.HEAVY_RAIN)].level == 2
    assert by_key[(WARD_PHU_OC_ONLY, Hazard.RAPID_RISE)].level == 1

    huong_an = by_key[(WARD_BOTH, Hazard.RIVER_FLOOD)]  # linked to both gauges
    assert huong_an.level == 3  # 2, +1 for severe flooding
    assert [g["code"] for g in huong_an.evidence["gauges"]] == ["71518", "71520"]
    assert huong_an.reasons[1] == "Kim Long 2.20 m ≥ BĐ II 2.00 m (risk level 2)"
    assert by_key[(WARD_BOTH, Hazard.WARD_FLOODING)].level == 3

    assert (WARD_KIM_LONG_ONLY, Hazard.HEAVY_RAIN) not in by_key  # 20 mm
    assert by_key[(WARD_KIM_LONG_ONLY, Hazard.RIVER_FLOOD)].level == 2
    user = by_key[("71520", Hazard.USER_THRESHOLD)]
    assert user.evidence["threshold_id"] == "71520:above:2"  # the 3.0 m one is not in force
    for c in conditions:
        json.dumps(c.evidence)
        assert c.evidence.get("ruleset", HUE.label) == HUE.label


def test_evaluate_needs_the_time_of_the_rain() -> None:
    with pytest.raises(InputError, match="rain_as_of"):
        rules.evaluate(HUE, now=T0, gauges={}, rain_24h_mm={"19753": 80.0})


def test_evaluate_quiet_day_gives_nothing() -> None:
    assert rules.evaluate(HUE, now=T0, gauges={"71520": reading("71520", 0.6),
                                              "71518": reading("71518", 1.0, trend=0.05)}) == []


def test_condition_validates_itself() -> None:
    good = Condition("19753", Hazard.HEAVY_RAIN, 1, T0, ("x",), {"a": 1}, T0)
    with pytest.raises(InputError, match="1–5"):
        replace(good, level=6)
    with pytest.raises(InputError, match="timezone"):
        replace(good, as_of=datetime(2025, 11, 17))
    with pytest.raises(InputError, match="JSON"):
        replace(good, evidence={"when": T0})


def test_risk_colours_follow_decision_18() -> None:
    assert [RISK_COLOURS[k].name_en for k in range(1, 6)] == [
        "light blue", "light yellow", "orange", "red", "purple"]
    assert all(c.hex.startswith("#") and len(c.hex) == 7 for c in RISK_COLOURS.values())
