"""EA flood-monitoring parser, against recorded responses (tests/fixtures/feeds/ea, SOURCES.md).

Expected values were read by hand from the raw files; the raw text is quoted in comments.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import ea
from floodwatch.hydro.feeds.base import Flag, Parameter

EA = Path(__file__).parents[2] / "fixtures" / "feeds" / "ea"
READINGS_690140 = EA / "ea_2015-12_id_stations_690140_readings_sorted_limit50.json"
LEVEL_MEASURES = EA / "ea_2026-02_id_measures_level_stage_EXCERPT.json"
RAINFALL_MEASURES_GZ = EA / "ea_2022-04_id_measures_parameter_rainfall.json.gz"
STATION_690142 = EA / "ea_2015-12_id_stations_690142_single.json"
STATIONS_BY_LOCATION = EA / "ea_2015-12_id_stations_by_location.json"
STATIONS_FULL = EA / "ea_2026-02_id_stations_level_stage_full_EXCERPT.json"
FLOODS_LIST = EA / "ea_2015-12_id_floods_list.json"
FLOOD_93474 = EA / "ea_2015-12_id_floods_93474_single.json"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def by_station(observations: list[Any]) -> dict[str, Any]:
    return {observation.station: observation for observation in observations}


# --------------------------------------------------------------------------- readings


def test_readings_response_all_50_in_utc_and_metres() -> None:
    observations = ea.parse(READINGS_690140.read_bytes())
    assert len(observations) == 50  # meta.limit = 50, one measure
    first, last = observations[0], observations[-1]
    # "dateTime" : "2015-12-10T16:00:00Z", "measure" : ".../690140-level-stage-i-15_min-m",
    # "value" : 0.754  (descending order, kept as given)
    assert first.station == "690140"
    assert first.parameter is Parameter.WATER_LEVEL
    assert first.observed_at == utc(2015, 12, 10, 16, 0)
    assert first.value == pytest.approx(0.754)
    assert first.unit == "m"
    assert first.source == "ea-flood-monitoring"
    assert first.flags == frozenset()
    assert first.qualifiers == ("measure:690140-level-stage-i-15_min-m",)  # plain m: no datum
    # "dateTime" : "2015-12-10T03:45:00Z" , "value" : 0.67
    assert last.observed_at == utc(2015, 12, 10, 3, 45)
    assert last.value == pytest.approx(0.67)
    # "dateTime" : "2015-12-10T15:45:00Z", "value" : 0.765
    assert observations[1].observed_at == utc(2015, 12, 10, 15, 45)
    assert observations[1].value == pytest.approx(0.765)
    assert all(o.observed_at.tzinfo is UTC for o in observations)


# --------------------------------------------------------------------------- measures


def test_level_measures_keep_datum_skip_unknown_units_and_keep_stale_time() -> None:
    observations = ea.parse(LEVEL_MEASURES.read_bytes())
    # 45 measures: 14 with an embedded latestReading, all in m/mASD; the --- , "_" (%) and
    # m_s (m/s) measures carry no reading here and would be skipped anyway.
    assert len(observations) == 14
    stations = by_station(observations)
    # 1029TH-level-stage-i-15_min-mASD: "dateTime": "2026-02-02T23:15:00Z", "value": 0.392
    bourton = stations["1029TH"]
    assert bourton.observed_at == utc(2026, 2, 2, 23, 15)
    assert bourton.value == pytest.approx(0.392)
    assert bourton.unit == "m"
    assert "datum:ASD" in bourton.qualifiers
    # E2043-level-stage-i-15_min-mASD: "value": -0.041 (below the staff datum: kept)
    assert stations["E2043"].value == pytest.approx(-0.041)
    # 53197-level-stage-i-15_min-m: "dateTime": "2026-01-06T17:15:00Z", "value": 0.172, while
    # the others are 2026-02-02T23:30Z: the stale time is kept as is (QC judges staleness).
    stale = stations["53197"]
    assert stale.observed_at == utc(2026, 1, 6, 17, 15)
    assert stale.value == pytest.approx(0.172)
    assert stale.flags == frozenset()
    assert not any(q.startswith("datum:") for q in stale.qualifiers)


def test_rainfall_measures_gzip_transparent_and_decompressed_agree() -> None:
    compressed = RAINFALL_MEASURES_GZ.read_bytes()
    assert compressed[:2] == b"\x1f\x8b"
    observations = ea.parse(compressed)
    assert observations == ea.parse(gzip.decompress(compressed))
    # 1,003 measures, 911 with a latestReading; 1 of those is an "Event" series (not a total)
    assert len(observations) == 910
    assert {o.parameter for o in observations} == {Parameter.RAINFALL}
    stations = by_station(observations)
    # 062916-rainfall-tipping_bucket_raingauge-t-15_min-mm:
    #   "dateTime": "2022-04-27T10:15:00Z", "value": 1.0   (station code keeps its leading 0)
    gauge = stations["062916"]
    assert gauge.observed_at == utc(2022, 4, 27, 10, 15)
    assert gauge.value == pytest.approx(1.0)
    assert gauge.unit == "mm"
    assert "period_s:900" in gauge.qualifiers
    # E5729-rainfall-tipping_bucket_raingauge-t-1_h-mm: "period": 3600, 12:00Z, "value": 0.1
    hourly = stations["E5729"]
    assert hourly.value == pytest.approx(0.1)
    assert "period_s:3600" in hourly.qualifiers
    # E7190-anglian-... : stationReference says "E7190", the station URL says E7190-anglian
    assert "E7190-anglian" in stations
    assert "E7190" not in stations
    # VCHURCH-T_TG_341-rainfall-...-t-15_min-mm: a station code containing "-"
    assert stations["VCHURCH-T_TG_341"].observed_at == utc(2022, 4, 30, 9, 30)
    # 531184-rainfall-tipping_bucket_raingauge-Event-15_min-mm has a reading but is skipped
    assert "531184" not in stations


def test_station_response_reads_embedded_measure_object() -> None:
    # "measures" is an object (one measure) with latestReading 2015-12-07T10:15:00Z, 0.233
    (observation,) = ea.parse(STATION_690142.read_bytes())
    assert observation.station == "690142"
    assert observation.observed_at == utc(2015, 12, 7, 10, 15)
    assert observation.value == pytest.approx(0.233)


def test_station_lists_without_readings_give_no_observations() -> None:
    assert ea.parse(STATIONS_BY_LOCATION.read_bytes()) == []
    assert ea.parse(STATIONS_FULL.read_bytes()) == []


# --------------------------------------------------------------------------- notation


@pytest.mark.parametrize(
    ("notation", "station", "parameter", "datum", "factor"),
    [
        ("690140-level-stage-i-15_min-m", "690140", Parameter.WATER_LEVEL, None, 1.0),
        ("1029TH-level-stage-i-15_min-mASD", "1029TH", Parameter.WATER_LEVEL, "ASD", 1.0),
        ("E9250-level-stage-i-15_min-mAOD", "E9250", Parameter.WATER_LEVEL, "AOD", 1.0),
        ("1491TH-flow--i-15_min-m3_s", "1491TH", Parameter.DISCHARGE, None, 1.0),
        ("F1-flow-logged-i-15_min-l_s", "F1", Parameter.DISCHARGE, None, 0.001),
        ("VCHURCH-T_TG_341-rainfall-tipping_bucket_raingauge-t-15_min-mm", "VCHURCH-T_TG_341",
         Parameter.RAINFALL, None, 1.0),
    ],
)
def test_measure_info_usable(
    notation: str, station: str, parameter: Parameter, datum: str | None, factor: float
) -> None:
    info = ea.measure_info(notation)
    assert info.usable
    assert (info.station, info.parameter, info.datum) == (station, parameter, datum)
    assert info.factor_to_si == pytest.approx(factor)


@pytest.mark.parametrize(
    "notation",
    [
        "L2011-level-stage-i-15_min----",  # unit "---": not guessed
        "1090_w2TH-level-stage-i-15_min-_",  # unitName "%"
        "2200TH-level-stage-i-15_min-m_s",  # m/s is not a level
        "2607TH-level-stage-i-15_min-V",  # volts
        "3629-rainfall-tipping_bucket_raingauge-Event-Unspecified-mm",  # tip events
        "605543-rainfall-tipping_bucket_raingauge-Cumulative_Total-15_min-mm",
        "1234-level-groundwater-i-1_h-mAOD",  # groundwater is not a river level
        "1234-temperature-water-i-15_min-deg_C",
    ],
)
def test_measure_info_not_usable(notation: str) -> None:
    info = ea.measure_info(notation)
    assert not info.usable
    assert info.skip_reason


def test_measure_info_from_url_and_malformed() -> None:
    url = "http://environment.data.gov.uk/flood-monitoring/id/measures/690140-level-stage-i-15_min-m"
    assert ea.measure_info(url).station == "690140"
    with pytest.raises(InputError, match="not station-parameter"):
        ea.measure_info("no-dashes")


# --------------------------------------------------------------------------- quirks


def _measures_payload(*items: dict[str, Any]) -> bytes:
    return json.dumps({"meta": {}, "items": list(items)}).encode()


def _level_measure(value: Any) -> dict[str, Any]:
    """The real 1029TH measure of the level EXCERPT with ``latestReading.value`` replaced."""
    document = json.loads(LEVEL_MEASURES.read_bytes())
    measure: dict[str, Any] = document["items"][0]
    assert measure["notation"] == "1029TH-level-stage-i-15_min-mASD"
    measure["latestReading"]["value"] = value
    return measure


def test_value_array_that_disagrees_is_missing_and_suspect() -> None:
    # SOURCES.md: latestReading.value can be an array such as [-53.16, 0.84]
    (observation,) = ea.parse(_measures_payload(_level_measure([-53.16, 0.84])))
    assert observation.value is None
    assert observation.flags == {Flag.MISSING, Flag.SUSPECT}
    assert "ea_value:[-53.16, 0.84]" in observation.qualifiers


def test_value_array_that_agrees_is_one_value() -> None:
    (observation,) = ea.parse(_measures_payload(_level_measure([0.84, 0.84])))
    assert observation.value == pytest.approx(0.84)
    assert observation.flags == frozenset()


def test_null_value_is_missing() -> None:
    (observation,) = ea.parse(_measures_payload(_level_measure(None)))
    assert observation.value is None
    assert observation.flags == {Flag.MISSING}


def test_latest_reading_as_url_string_gives_nothing() -> None:
    measure = _level_measure(0.1)
    measure["latestReading"] = measure["latestReading"]["@id"]
    assert ea.parse(_measures_payload(measure)) == []


def test_station_reference_array_does_not_matter() -> None:
    measure = _level_measure(0.5)
    measure["stationReference"] = ["1029TH", "1029TH"]
    measure["label"] = ["a", "b"]
    (observation,) = ea.parse(_measures_payload(measure))
    assert observation.station == "1029TH"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"meta": {}}', "no top-level 'items'"),
        (b'{"items": [1, 2]}', "neither an object nor an array"),
        (b"\x1f\x8b\x08broken", "gzip"),
    ],
)
def test_malformed_payloads(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        ea.parse(payload, name="bad.json")


def test_malformed_reading_names_the_item_and_field() -> None:
    payload = _measures_payload(_level_measure("high"))
    with pytest.raises(InputError, match=r"x\.json: items\[0\]\.value: 'high' is not a number"):
        ea.parse(payload, name="x.json")
    reading = {"measure": "690140-level-stage-i-15_min-m", "dateTime": "2015-12-10T16:00:00"}
    with pytest.raises(InputError, match=r"items\[0\]\.dateTime.*no time zone"):
        ea.parse(_measures_payload({**reading, "value": 1.0}))


# --------------------------------------------------------------------------- stations


def test_stations_single_with_measure_object() -> None:
    (station,) = ea.stations(STATION_690142.read_bytes())
    # "label" : "Little Bridge", "lat" : 53.684084, "long" : -2.331538, "riverName": "Ogden Brook"
    assert station.code == "690142"
    assert station.name == "Little Bridge"
    assert station.lat == pytest.approx(53.684084)
    assert station.lon == pytest.approx(-2.331538)
    assert station.river == "Ogden Brook"
    assert station.kind == "river_gauge"
    assert station.source == "ea-flood-monitoring"


def test_stations_by_location_without_coordinates() -> None:
    # easting/northing appear as "eee"/"nnn" and there is no lat/long: coordinates stay None
    stations = ea.stations(STATIONS_BY_LOCATION.read_bytes())
    assert [s.code for s in stations] == ["690138", "690142"]
    assert stations[0].name == "Rawtenstall"
    assert stations[0].lat is None and stations[0].lon is None


def test_stations_full_list() -> None:
    stations = ea.stations(STATIONS_FULL.read_bytes())
    assert len(stations) == 40
    first = stations[0]
    # "notation": "1029TH", "label": "Bourton Dickler", "lat": 51.874767, "long": -1.740083
    assert (first.code, first.name, first.river) == ("1029TH", "Bourton Dickler", "River Dikler")
    assert first.lat == pytest.approx(51.874767)
    assert first.lon == pytest.approx(-1.740083)


def test_station_array_fields() -> None:
    # SOURCES.md: station E85123 has two labels, lats, longs … (array instead of scalar)
    document = json.loads(STATION_690142.read_bytes())
    item = document["items"]
    item["label"] = ["Little Bridge", "Little Bridge (2)"]
    item["lat"] = [53.684084, 53.684084]
    item["long"] = [-2.331538, -2.40]
    (station,) = ea.stations(json.dumps(document).encode())
    assert station.name == "Little Bridge"  # the first label
    assert station.lat == pytest.approx(53.684084)  # the elements agree
    assert station.lon is None  # they disagree: not guessed


def test_rain_gauge_kind() -> None:
    payload = _measures_payload(
        {"notation": "E7050", "label": "E7050", "measures": [{"parameter": "rainfall"}]}
    )
    (station,) = ea.stations(payload)
    assert station.kind == "rain_gauge"


# --------------------------------------------------------------------------- flood warnings


def test_flood_warnings_list() -> None:
    warnings = ea.flood_warnings(FLOODS_LIST.read_bytes())
    assert len(warnings) == 11
    assert sorted(w.severity_level for w in warnings) == [2, 2] + [3] * 9
    first = warnings[0]
    # "@id": ".../id/floods/93487", "description": "Upper River Ouse", "severityLevel": 3,
    # "timeRaised": "2015-12-10T14:14:00" (UK local = GMT in December = UTC),
    # "timeSeverityChanged": "2015-11-29T11:06:00"
    assert first.id == "93487"
    assert first.flood_area_id == "122WAF946"
    assert first.area_name == "Upper River Ouse"
    assert first.severity_level == 3
    assert first.severity == "Flood Alert"
    assert first.raised_at == utc(2015, 12, 10, 14, 14)
    assert first.severity_changed_at == utc(2015, 11, 29, 11, 6)
    assert first.message_changed_at == utc(2015, 12, 10, 14, 14)
    assert first.message.startswith("This flood alert remains in force")
    assert first.is_tidal is False
    assert first.polygon_url is not None and first.polygon_url.endswith("122WAF946/polygon")
    naburn = next(w for w in warnings if w.id == "93504")
    assert (naburn.severity_level, naburn.severity) == (2, "Flood Warning")
    assert next(w for w in warnings if w.id == "93548").is_tidal is True


def test_flood_warning_single() -> None:
    (warning,) = ea.flood_warnings(FLOOD_93474.read_bytes())
    # "timeRaised": "2015-12-10T09:14:00", "floodAreaID": "031WAF114", severity 3
    assert warning.id == "93474"
    assert warning.flood_area_id == "031WAF114"
    assert warning.area_name == "Severn Vyrnwy Confluence"
    assert warning.raised_at == utc(2015, 12, 10, 9, 14)
    assert "Llanymynech" in warning.message


def test_flood_warning_summer_time_is_converted_to_utc_and_bad_level_rejected() -> None:
    document = json.loads(FLOOD_93474.read_bytes())
    document["items"]["timeRaised"] = "2015-07-10T09:14:00"  # BST = UTC+1
    (warning,) = ea.flood_warnings(json.dumps(document).encode())
    assert warning.raised_at == utc(2015, 7, 10, 8, 14)
    document["items"]["severityLevel"] = 5
    with pytest.raises(InputError, match=r"items\[0\]\.severityLevel: 5"):
        ea.flood_warnings(json.dumps(document).encode())


def test_severity_meanings() -> None:
    assert ea.SEVERITY_MEANING == {
        1: "Severe Flood Warning",
        2: "Flood Warning",
        3: "Flood Alert",
        4: "Warning no longer in force",
    }


def test_reading_with_embedded_measure_object() -> None:
    document = json.loads(READINGS_690140.read_bytes())
    reading = document["items"][0]
    reading["measure"] = {"@id": reading["measure"], "unitName": "m"}
    (observation,) = ea.parse(_measures_payload(reading))
    assert (observation.station, observation.value) == ("690140", pytest.approx(0.754))
