"""USGS NWIS WaterML-JSON (iv, dv) and WaterML 2.0 parsers, against recorded responses.

Expected values were read by hand from the raw files; each comment gives the raw value and the
conversion (ft × 0.3048 = m, ft3/s × 0.028316846592 = m3/s, in × 25.4 = mm).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import usgs_nwis
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.feeds.waterml2 import parse_waterml2

USGS = Path(__file__).parents[2] / "fixtures" / "feeds" / "usgs"
NWIS_JSON = sorted(USGS.glob("nwis_*.json"))


def _raw(name: str) -> bytes:
    return (USGS / name).read_bytes()


def _at(
    observations: list[Observation], station: str, parameter: Parameter, at: str
) -> Observation:
    """The one observation of a station and parameter at a UTC time (ISO text)."""
    moment = datetime.fromisoformat(at)
    found = [
        o
        for o in observations
        if o.station == station and o.parameter is parameter and o.observed_at == moment
    ]
    assert len(found) == 1, f"{len(found)} observations of {station} {parameter} at {at}"
    return found[0]


# --- every fixture -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", NWIS_JSON, ids=lambda p: p.name)
def test_every_nwis_fixture_parses_to_normalised_observations(path: Path) -> None:
    observations = usgs_nwis.parse(path.read_bytes())
    codes = {s.code for s in usgs_nwis.stations(path.read_bytes())}
    for o in observations:
        assert o.observed_at.utcoffset() == timedelta(0)
        assert o.unit == {"water_level": "m", "discharge": "m3/s", "rainfall": "mm"}[o.parameter]
        assert o.source == "usgs-nwis"
        assert (o.value is None) == (Flag.MISSING in o.flags)
        assert o.station in codes


def test_counts_per_fixture() -> None:
    counts = {p.name: len(usgs_nwis.parse(p.read_bytes())) for p in NWIS_JSON}
    assert counts == {
        "nwis_dv_daily_dupe_Dis_03107698.json": 8,
        "nwis_iv_00045_precip_two_sites_CST.json": 1410,  # 6 kept series; 63160, wind skipped
        "nwis_iv_00060_15min_2day_03213700.json": 192,
        "nwis_iv_end_DST.json": 292,
        "nwis_iv_multiple_flags_P_e_Ice.json": 438,
        "nwis_iv_multiple_methods_63680.json": 0,  # turbidity only: not a floodwatch parameter
        "nwis_iv_nothing_available.json": 0,  # timeSeries: [] on HTTP 200
        "nwis_iv_start_DST.json": 284,
        "nwis_iv_two_sites_two_params.json": 372,  # 4 series × 93
    }


# --- values, units, times ------------------------------------------------------------------------


def test_discharge_15min_converted_to_m3s_and_utc() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_00060_15min_2day_03213700.json"))
    # raw: {"value": "366", "qualifiers": ["A"], "dateTime": "2016-09-01T00:00:00.000-04:00"}
    first = _at(observations, "03213700", Parameter.DISCHARGE, "2016-09-01T04:00:00+00:00")
    assert first.value == pytest.approx(366 * 0.028316846592)  # 10.363965852672 m3/s
    assert first.flags == frozenset()  # "A" approved: no flag
    assert first.qualifiers == ("A",)
    # raw: {"value": "276", "qualifiers": ["A"], "dateTime": "2016-09-02T23:45:00.000-04:00"}
    last = _at(observations, "03213700", Parameter.DISCHARGE, "2016-09-03T03:45:00+00:00")
    assert last.value == pytest.approx(276 * 0.028316846592)  # 7.815449659392 m3/s


def test_two_sites_two_parameters() -> None:
    payload = _raw("nwis_iv_two_sites_two_params.json")
    observations = usgs_nwis.parse(payload)
    keys = {(o.station, o.parameter) for o in observations}
    assert keys == {
        ("01541000", Parameter.DISCHARGE),
        ("01541000", Parameter.WATER_LEVEL),
        ("01541200", Parameter.DISCHARGE),
        ("01541200", Parameter.WATER_LEVEL),
    }
    # 01541000 00065, raw: {"value": "6.55", "qualifiers": ["P"],
    #                       "dateTime": "2019-02-17T14:00:00.000-05:00"} → 19:00 UTC
    level = _at(observations, "01541000", Parameter.WATER_LEVEL, "2019-02-17T19:00:00+00:00")
    assert level.value == pytest.approx(6.55 * 0.3048)  # 1.99644 m
    assert level.flags == {Flag.PROVISIONAL}
    # 01541200 00060, raw "1300" ft3/s at the same time
    flow = _at(observations, "01541200", Parameter.DISCHARGE, "2019-02-17T19:00:00+00:00")
    assert flow.value == pytest.approx(1300 * 0.028316846592)  # 36.8119005696 m3/s

    sites = {s.code: s for s in usgs_nwis.stations(payload)}
    assert set(sites) == {"01541000", "01541200"}
    bower = sites["01541000"]
    assert bower.name == "West Branch Susquehanna River at Bower, PA"
    assert (bower.lon, bower.lat) == (-78.6769726, 40.89700655)
    assert bower.kind == "river_gauge"
    assert bower.source == "usgs-nwis"


def test_precipitation_inches_to_mm() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_00045_precip_two_sites_CST.json"))
    # 02492000 00045, raw: {"value": "0.23", "qualifiers": ["P"],
    #                       "dateTime": "2019-02-27T00:30:00.000-06:00"} → 06:30 UTC
    rain = _at(observations, "02492000", Parameter.RAINFALL, "2019-02-27T06:30:00+00:00")
    assert rain.value == pytest.approx(0.23 * 25.4)  # 5.842 mm
    assert rain.unit == "mm"
    assert rain.flags == {Flag.PROVISIONAL}
    parameters = {o.parameter for o in observations}
    assert parameters == {Parameter.RAINFALL, Parameter.DISCHARGE, Parameter.WATER_LEVEL}


def test_missing_value_and_qualifier_flags() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_multiple_flags_P_e_Ice.json"))
    # raw: {"value": "-999999", "qualifiers": ["P", "Ice"],
    #       "dateTime": "2019-01-28T14:15:00.000-05:00"} → 19:15 UTC
    iced = _at(observations, "01542500", Parameter.DISCHARGE, "2019-01-28T19:15:00+00:00")
    assert iced.value is None
    assert iced.flags == {Flag.MISSING, Flag.PROVISIONAL, Flag.SUSPECT}
    assert iced.qualifiers == ("P", "Ice")
    # raw: {"value": "3470", "qualifiers": ["P", "e"], "dateTime": "2019-01-24T08:30:00.000-05:00"}
    estimated = _at(observations, "01542500", Parameter.DISCHARGE, "2019-01-24T13:30:00+00:00")
    assert estimated.value == pytest.approx(3470 * 0.028316846592)  # 98.25945767424 m3/s
    assert estimated.flags == {Flag.PROVISIONAL, Flag.ESTIMATED}
    # the file holds 39 "-999999" values (P, Ice) and 7 estimated ones
    assert sum(o.value is None for o in observations) == 39
    assert sum(Flag.ESTIMATED in o.flags for o in observations) == 7


def test_dst_start_offsets_change_within_a_series() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_start_DST.json"))
    # raw: "597" at 2018-03-11T01:45:00.000-05:00, next "597" at 2018-03-11T03:00:00.000-04:00:
    # 06:45 and 07:00 UTC, 15 minutes apart though the local clock jumps 75 minutes.
    before = _at(observations, "01541000", Parameter.DISCHARGE, "2018-03-11T06:45:00+00:00")
    after = _at(observations, "01541000", Parameter.DISCHARGE, "2018-03-11T07:00:00+00:00")
    assert before.value == after.value == pytest.approx(597 * 0.028316846592)  # 16.9051574 m3/s
    times = [o.observed_at for o in observations]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_dst_end_repeated_local_hour_stays_distinct_in_utc() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_end_DST.json"))
    # raw: 2018-11-04T01:00:00.000-04:00 "865" and, an hour later, 2018-11-04T01:00:00.000-05:00
    # "858": the same wall-clock time, 05:00 and 06:00 UTC.
    edt = _at(observations, "01541000", Parameter.DISCHARGE, "2018-11-04T05:00:00+00:00")
    est = _at(observations, "01541000", Parameter.DISCHARGE, "2018-11-04T06:00:00+00:00")
    assert edt.value == pytest.approx(865 * 0.028316846592)  # 24.49407230208 m3/s
    assert est.value == pytest.approx(858 * 0.028316846592)  # 24.295854375936 m3/s
    times = [o.observed_at for o in observations]
    assert len(set(times)) == len(times) == 292
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(times))


def test_daily_values_end_of_local_standard_day_and_duplicates_kept() -> None:
    observations = usgs_nwis.parse(_raw("nwis_dv_daily_dupe_Dis_03107698.json"))
    # raw: {"value": "6.82", "qualifiers": ["A"], "dateTime": "2017-04-23T00:00:00.000"} (mean,
    # statistic 00003), site defaultTimeZone -05:00 (EST): the day ends 2017-04-24T00:00-05:00.
    first = observations[0]
    assert first.observed_at == datetime(2017, 4, 24, 5, tzinfo=UTC)
    assert first.value == pytest.approx(6.82 * 0.028316846592)  # 0.19312089375744 m3/s
    assert first.flags == frozenset()
    # raw: 2017-04-26 appears twice, both "-999999" with qualifiers ["P", "Dis"]
    dupes = [o for o in observations if o.observed_at == datetime(2017, 4, 27, 5, tzinfo=UTC)]
    assert len(dupes) == 2
    assert all(o.value is None for o in dupes)
    assert dupes[0].flags == {Flag.MISSING, Flag.PROVISIONAL, Flag.SUSPECT}
    assert dupes[0].qualifiers == ("P", "Dis")


def test_nothing_available_is_an_empty_list() -> None:
    payload = _raw("nwis_iv_nothing_available.json")
    assert usgs_nwis.parse(payload) == []
    assert usgs_nwis.stations(payload) == []


# --- several sensors (methods) for one parameter -------------------------------------------------


def _turbidity_relabelled_as_gage_height() -> bytes:
    """The real two-method response (turbidity, 63680, methods 254051 and 254060), with the
    parameter code and unit changed to gage height in ft: no real two-method gage-height
    response was found. Everything else (values, times, methods) is as recorded."""
    document = json.loads(_raw("nwis_iv_multiple_methods_63680.json"))
    variable = document["value"]["timeSeries"][0]["variable"]
    variable["variableCode"][0]["value"] = "00065"
    variable["unit"]["unitCode"] = "ft"
    return json.dumps(document).encode()


SITE = "444306122144600"


def test_several_methods_get_suffixed_station_codes() -> None:
    payload = _turbidity_relabelled_as_gage_height()
    observations = usgs_nwis.parse(payload)
    per_station = Counter(o.station for o in observations)
    assert per_station == {SITE + ":254051": 34, SITE + ":254060": 139}
    # method 254051 "[1 Meter Below The Surface]", raw: {"value": "1.4", "qualifiers": ["P"],
    # "dateTime": "2020-04-18T00:26:00.000-07:00"} → 07:26 UTC, 1.4 ft × 0.3048 = 0.42672 m
    first = _at(observations, SITE + ":254051", Parameter.WATER_LEVEL, "2020-04-18T07:26:00+00:00")
    assert first.value == pytest.approx(0.42672)
    names = {s.code: s.name for s in usgs_nwis.stations(payload)}
    lake = "DETROIT LAKE AT LOG BOOM BEHIND DETROIT DAM, OR"
    assert names == {
        SITE + ":254051": f"{lake} [[1 Meter Below The Surface]]",
        SITE + ":254060": f"{lake} [Variable Depth Profile Data]",
    }


def test_single_method_keeps_the_bare_site_code() -> None:
    observations = usgs_nwis.parse(_raw("nwis_iv_00060_15min_2day_03213700.json"))
    assert {o.station for o in observations} == {"03213700"}


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "'value' is missing"),
        (b'{"value": {"queryInfo": {}}}', "'timeSeries' is missing"),
        (b'{"value": {"timeSeries": {}}}', "not an array"),
        (b'{"value": {"timeSeries": [{"variable": {}}]}}', "'variableCode' is missing"),
    ],
)
def test_malformed_json_raises_input_error(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        usgs_nwis.parse(payload)


def test_truncated_payload_raises_input_error() -> None:
    payload = _raw("nwis_iv_two_sites_two_params.json")
    with pytest.raises(InputError, match="not valid JSON"):
        usgs_nwis.parse(payload[: len(payload) // 2])


def _first_point_edited(**changes: object) -> bytes:
    document = json.loads(_raw("nwis_iv_00060_15min_2day_03213700.json"))
    series = document["value"]["timeSeries"][0]
    series["values"][0]["value"][0].update(changes.get("point", {}))
    series["variable"]["unit"].update(changes.get("unit", {}))
    return json.dumps(document).encode()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"point": {"value": "abc"}}, "'abc' is not a number"),
        ({"point": {"value": "NaN"}}, "not a finite number"),
        ({"point": {"dateTime": "2016-09-01T00:15:00.000"}}, "no UTC offset"),
        ({"point": {"dateTime": "yesterday"}}, "not an ISO 8601 time"),
        ({"unit": {"unitCode": "m3/d"}}, "unit 'm3/d' is not known for discharge"),
    ],
)
def test_bad_fields_raise_input_error(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        usgs_nwis.parse(_first_point_edited(**changes))


# --- WaterML 2.0 ---------------------------------------------------------------------------------


def test_waterml2_daily_discharge() -> None:
    payload = _raw("usgs_waterml2_dv_00060_01646500_dataRetrievalR.xml")
    observations = parse_waterml2(payload)
    assert len(observations) == 8  # 9 TVPs; the first is empty (no time, no value) and skipped
    first = observations[0]
    # raw: <wml2:time>2014-09-01</wml2:time><wml2:value>2690.0</wml2:value>; uom ft3/s and
    # qualifier P from defaultPointMetadata. Date only: end of that day, UTC by default.
    assert first.station == "01646500"
    assert first.parameter is Parameter.DISCHARGE
    assert first.observed_at == datetime(2014, 9, 2, tzinfo=UTC)
    assert first.value == pytest.approx(2690.0 * 0.028316846592)  # 76.17231733248 m3/s
    assert first.flags == {Flag.PROVISIONAL}
    assert first.qualifiers == ("P",)
    assert first.source == "usgs-nwis"
    # raw: 2014-09-08 2300.0 (last point)
    assert observations[-1].value == pytest.approx(2300.0 * 0.028316846592)  # 65.1287471616


def test_waterml2_day_offset_places_the_day_in_local_standard_time() -> None:
    payload = _raw("usgs_waterml2_dv_00060_01646500_dataRetrievalR.xml")
    observations = parse_waterml2(payload, day_utc_offset=timedelta(hours=-5))
    # 2014-09-01 ends at 2014-09-02T00:00-05:00 = 05:00 UTC
    assert observations[0].observed_at == datetime(2014, 9, 2, 5, tzinfo=UTC)


def test_waterml2_nil_value_is_missing() -> None:
    payload = _raw("usgs_waterml2_dv_00060_01646500_dataRetrievalR.xml").replace(
        b"<wml2:value>2750.0</wml2:value>", b'<wml2:value xsi:nil="true"/>'
    )
    second = parse_waterml2(payload)[1]
    assert second.value is None
    assert second.flags == {Flag.MISSING, Flag.PROVISIONAL}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"<wml2:Collection", "not well-formed XML"),
        (b"", "not well-formed XML"),
        (b"<a/>", "not a WaterML 2.0 document"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "DTD"),
    ],
)
def test_waterml2_malformed_raises_input_error(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_waterml2(payload)


def test_waterml2_truncated_raises_input_error() -> None:
    payload = _raw("usgs_waterml2_dv_00060_01646500_dataRetrievalR.xml")
    with pytest.raises(InputError, match="not well-formed XML"):
        parse_waterml2(payload[:3000])
