"""OGC SensorThings API parser, against recorded responses (USGS labs STA, BGS FROST).

No recorded response with a Datastream *and* its expanded Observations was found, so the
``parse`` tests build one from the recorded USGS Thing and gage-height Datastream plus a few
hand-written Observations in the USGS style (string results, interval phenomenonTime); those
are marked SYNTHETIC below.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import sensorthings
from floodwatch.hydro.feeds.base import Flag, Parameter

STA = Path(__file__).parents[2] / "fixtures" / "feeds" / "sta"
BGS_PAGE = STA / "bgs_frost_datastream1_observations_page1_trimmed.json"
USGS_THING = STA / "usgs_sta_thing_USGS-09380000.json"
USGS_DATASTREAMS = STA / "usgs_sta_thing_USGS-09380000_Datastreams.json"
GAGE_HEIGHT_ID = "3f656973c0054ef696bb2192c2947e58"


def _json(path: Path) -> Any:
    return json.loads(path.read_text())


def _bytes(document: Any) -> bytes:
    return json.dumps(document).encode()


# --- Observations page (BGS FROST) ---------------------------------------------------------------


def test_bgs_observations_page() -> None:
    # The page does not say what Datastream 1 measures (its values, ~1009, look like air
    # pressure in hPa): the station, parameter and unit below only exercise the parsing.
    payload = BGS_PAGE.read_bytes()
    observations = sensorthings.parse_observations(
        payload, station="bgs-1", parameter=Parameter.WATER_DEPTH, unit="cm"
    )
    assert len(observations) == 3
    first = observations[0]
    # raw: "phenomenonTime": "2023-03-28T10:30:00.000Z", "result": 1009.86,
    # "resultQuality": {"quality": "Good", ...}; 1009.86 cm × 0.01 = 10.0986 m
    assert first.station == "bgs-1"
    assert first.observed_at == datetime(2023, 3, 28, 10, 30, tzinfo=UTC)
    assert first.value == pytest.approx(10.0986)
    assert first.unit == "m"
    assert first.flags == frozenset()
    assert first.qualifiers == ("Good",)
    assert first.source == "sensorthings"
    # raw: "2023-03-28T18:15:00.000Z", 1005.7
    assert observations[2].observed_at == datetime(2023, 3, 28, 18, 15, tzinfo=UTC)
    assert observations[2].value == pytest.approx(10.057)


def test_bgs_next_link() -> None:
    assert sensorthings.next_link(BGS_PAGE.read_bytes()) == (
        "https://sensors.bgs.ac.uk/FROST-Server/v1.1/Datastreams(1)/Observations"
        "?$top=500&$skip=500&$filter=%28year%28phenomenonTime%29+eq+2023%29&$count=true"
    )


def test_parse_needs_context_for_a_bare_observations_page() -> None:
    payload = BGS_PAGE.read_bytes()
    with pytest.raises(InputError, match="does not say its station, parameter and unit"):
        sensorthings.parse(payload)
    given = sensorthings.parse(payload, station="bgs-1", parameter=Parameter.RAINFALL, unit="mm")
    assert [o.value for o in given] == [1009.86, 1008.17, 1005.7]  # mm, no conversion


def test_unknown_unit_is_refused() -> None:
    for unit in ("---", "", "hPa"):
        with pytest.raises(InputError, match="refusing to guess"):
            sensorthings.parse_observations(
                BGS_PAGE.read_bytes(), station="x", parameter=Parameter.WATER_LEVEL, unit=unit
            )


# --- Things and Datastreams (USGS) ---------------------------------------------------------------


def test_usgs_datastreams() -> None:
    infos = {d.id: d for d in sensorthings.datastreams(USGS_DATASTREAMS.read_bytes())}
    assert len(infos) == 4
    gage = infos[GAGE_HEIGHT_ID]
    # raw: properties.ParameterCode "00065", unitOfMeasurement.symbol "ft"
    assert gage.parameter is Parameter.WATER_LEVEL
    assert gage.unit == "ft"
    assert gage.si_factor == 0.3048
    assert gage.usable and gage.problem is None
    assert gage.description == "Gage height / USGS-09380000-3f656973c0054ef696bb2192c2947e58"
    assert gage.station is None  # the Thing is not in this response
    assert gage.observations_link == (
        f"https://labs.waterdata.usgs.gov/sta/v1.1/Datastreams('{GAGE_HEIGHT_ID}')/Observations"
    )
    # raw threshold: "ThresholdAbove", ReferenceValue 20 (ft) → 6.096 m, StartTime
    # "2017-04-04T00:00:00.0000000-07:00" → 07:00 UTC, EndTime 9999-12-31… → open-ended
    above = next(t for t in gage.thresholds if t.kind == "above")
    assert above.value == 20
    assert above.value_si == pytest.approx(20 * 0.3048)
    assert above.starts_at == datetime(2017, 4, 4, 7, tzinfo=UTC)
    assert above.ends_at is None
    flow = infos["a62122d8ff094125b63bb2f73410b2b4"]
    # raw: ParameterCode "00060", symbol "ft^3/s"
    assert flow.parameter is Parameter.DISCHARGE
    assert flow.si_factor == 0.028316846592
    conductance = infos["9d24cf50257a4f60b76b92e38f286cde"]
    # raw: ParameterCode "00095", symbol "uS/cm": not ours, marked, not guessed
    assert conductance.parameter is None and conductance.si_factor is None
    assert not conductance.usable
    assert conductance.problem == "parameter not recognised (ParameterCode 00095)"
    assert conductance.thresholds[0].value_si is None


def test_usgs_thing_without_expanded_datastreams() -> None:
    payload = USGS_THING.read_bytes()
    assert sensorthings.datastreams(payload) == []
    assert sensorthings.parse(payload) == []
    assert sensorthings.next_link(payload) is None


def test_datastreams_refuses_an_observations_page() -> None:
    with pytest.raises(InputError, match="an Observation where a Thing or Datastream"):
        sensorthings.datastreams(BGS_PAGE.read_bytes())


def test_unknown_unit_on_a_known_parameter_is_marked() -> None:
    page = _json(USGS_DATASTREAMS)
    page["value"][0]["unitOfMeasurement"] = {"name": "---", "symbol": "---", "definition": ""}
    info = sensorthings.datastreams(_bytes(page))[0]
    assert info.parameter is Parameter.WATER_LEVEL
    assert info.si_factor is None
    assert info.problem == "unit '---' is not known for water_level (refusing to guess)"


# --- SYNTHETIC: a Datastream with expanded Thing, ObservedProperty and Observations -------------

SYNTHETIC_OBSERVATIONS = [
    # USGS style: result a string, phenomenonTime an interval (→ its end), resultTime null
    {
        "@iot.id": "obs-1",
        "phenomenonTime": "2021-10-04T20:45:00.000Z/2021-10-04T21:00:00.000Z",
        "resultTime": None,
        "result": "3.31",
    },
    # an instant with an offset, a "Provisional" quality
    {
        "@iot.id": "obs-2",
        "phenomenonTime": "2021-10-04T14:15:00-07:00",
        "result": 3.35,
        "resultQuality": "Provisional",
    },
    # no phenomenonTime: resultTime is used; result null → missing
    {"@iot.id": "obs-3", "resultTime": "2021-10-04T21:30:00Z", "result": None},
]


def _datastream_with_observations() -> dict[str, Any]:
    """SYNTHETIC: the recorded gage-height Datastream, with the recorded Thing (as an object) and
    SYNTHETIC_OBSERVATIONS expanded in it."""
    datastream = copy.deepcopy(_json(USGS_DATASTREAMS)["value"][0])
    datastream["Thing"] = _json(USGS_THING)
    datastream["ObservedProperty"] = [{"name": "Gage height"}]  # an array: accepted too
    datastream["Observations"] = copy.deepcopy(SYNTHETIC_OBSERVATIONS)
    datastream["Observations@iot.nextLink"] = "https://example.org/Observations?$skip=3"
    return datastream


def test_parse_datastream_with_expanded_observations() -> None:
    payload = _bytes(_datastream_with_observations())
    first, second, third = sensorthings.parse(payload)
    # Thing @iot.id "USGS-09380000" → station "09380000"; "3.31" ft × 0.3048 = 1.008888 m
    assert first.station == "09380000"
    assert first.parameter is Parameter.WATER_LEVEL
    assert first.observed_at == datetime(2021, 10, 4, 21, 0, tzinfo=UTC)  # interval end
    assert first.value == pytest.approx(3.31 * 0.3048)
    assert first.flags == frozenset()
    # 14:15-07:00 = 21:15 UTC; 3.35 ft = 1.02108 m
    assert second.observed_at == datetime(2021, 10, 4, 21, 15, tzinfo=UTC)
    assert second.value == pytest.approx(3.35 * 0.3048)
    assert second.flags == {Flag.PROVISIONAL}
    assert second.qualifiers == ("Provisional",)
    assert third.observed_at == datetime(2021, 10, 4, 21, 30, tzinfo=UTC)
    assert third.value is None and third.flags == {Flag.MISSING}
    assert sensorthings.next_link(payload) == "https://example.org/Observations?$skip=3"
    info = sensorthings.datastreams(payload)[0]
    assert info.station == "09380000"
    assert info.observed_property == "Gage height"


def test_parse_thing_with_datastreams_skips_parameters_floodwatch_does_not_follow() -> None:
    thing = _json(USGS_THING)
    streams = copy.deepcopy(_json(USGS_DATASTREAMS)["value"])
    for stream in streams:
        stream["Observations"] = copy.deepcopy(SYNTHETIC_OBSERVATIONS[:1])
    thing["Datastreams"] = streams
    observations = sensorthings.parse(_bytes({"value": [thing]}))
    # gage height and discharge kept; conductance (00095) and temperature (00010) skipped
    assert [(o.station, o.parameter) for o in observations] == [
        ("09380000", Parameter.WATER_LEVEL),
        ("09380000", Parameter.DISCHARGE),
    ]
    # "3.31" ft^3/s × 0.028316846592 = 0.09372876221952 m3/s
    assert observations[1].value == pytest.approx(3.31 * 0.028316846592)


def test_datastreams_given_as_a_single_object() -> None:
    thing = _json(USGS_THING)
    thing["Datastreams"] = _datastream_with_observations()  # an object, not an array
    assert len(sensorthings.parse(_bytes(thing))) == 3
    assert [d.station for d in sensorthings.datastreams(_bytes(thing))] == ["09380000"]


def test_datastream_without_thing_uses_the_datastream_id() -> None:
    datastream = _datastream_with_observations()
    del datastream["Thing"]
    observations = sensorthings.parse(_bytes(datastream))
    assert {o.station for o in observations} == {GAGE_HEIGHT_ID}


def test_known_parameter_in_unknown_unit_is_an_error_in_parse() -> None:
    datastream = _datastream_with_observations()
    datastream["unitOfMeasurement"] = {"name": "---", "symbol": "---"}
    with pytest.raises(InputError, match="unit '---' is not known"):
        sensorthings.parse(_bytes(datastream))


def test_observed_property_name_recognised_without_parameter_code() -> None:
    datastream = _datastream_with_observations()
    del datastream["properties"]["ParameterCode"]
    datastream["ObservedProperty"] = {"name": "Discharge"}
    datastream["unitOfMeasurement"] = {"name": "Cubic metres per second", "symbol": "m3/s"}
    observations = sensorthings.parse(_bytes(datastream))
    assert {o.parameter for o in observations} == {Parameter.DISCHARGE}
    assert observations[0].value == pytest.approx(3.31)  # m3/s already


# --- malformed input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"{", b"", b'{"value": [', BGS_PAGE.read_bytes()[:500]],
    ids=["brace", "empty", "open-array", "truncated"],
)
def test_invalid_json_raises_input_error(payload: bytes) -> None:
    for call in (sensorthings.parse, sensorthings.datastreams, sensorthings.next_link):
        with pytest.raises(InputError, match="not valid JSON"):
            call(payload)


def _observation_page(**changes: Any) -> bytes:
    page = _json(BGS_PAGE)
    page["value"][0].update(changes)
    return _bytes(page)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b'{"something": 1}', "not an Observations page"),
        (b'{"value": 3}', "'value' is not an array"),
        (_observation_page(result="high"), "'high' is not a number"),
        (_observation_page(result={"a": 1}), "is not a number"),
        (_observation_page(phenomenonTime="2023-03-28T10:30:00"), "has no time zone"),
        (_observation_page(phenomenonTime="soon"), "not an ISO 8601 time"),
        (_observation_page(phenomenonTime=None, resultTime=None), "neither phenomenonTime"),
    ],
)
def test_malformed_observations_raise_input_error(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sensorthings.parse_observations(
            payload, station="s", parameter=Parameter.WATER_LEVEL, unit="m"
        )


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"name": "neither"}, "not a SensorThings Thing or Datastream"),
        ({"value": [{"unitOfMeasurement": "ft"}]}, "unitOfMeasurement is not an object"),
        ({"Datastreams": [{"name": "x"}]}, "is not a Datastream"),
        ({"Datastreams": 5}, "neither an object nor an array"),
    ],
)
def test_wrong_structure_raises_input_error(document: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        sensorthings.datastreams(_bytes(document))


def test_time_conversion_is_to_utc() -> None:
    page = _observation_page(phenomenonTime="2023-03-28T12:30:00+02:00")
    first = sensorthings.parse_observations(
        page, station="s", parameter=Parameter.WATER_LEVEL, unit="m"
    )[0]
    assert first.observed_at == datetime(2023, 3, 28, 10, 30, tzinfo=UTC)
    assert first.observed_at.utcoffset() == timedelta(0)
