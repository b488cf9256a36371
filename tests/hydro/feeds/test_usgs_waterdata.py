"""USGS Water Data OGC API parser, against the recorded responses in
``usgs_waterdata_ogcapi_collections_fixtures.json`` (one FeatureCollection per collection name).

Expected values were read by hand from the raw file; each comment gives the raw value and the
conversion (ft × 0.3048 = m, ft^3/s × 0.028316846592 = m3/s).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import usgs_waterdata
from floodwatch.hydro.feeds.base import Flag, Parameter

FIXTURE = (
    Path(__file__).parents[2]
    / "fixtures"
    / "feeds"
    / "usgs"
    / "usgs_waterdata_ogcapi_collections_fixtures.json"
)
COLLECTIONS: dict[str, Any] = json.loads(FIXTURE.read_text())
OBSERVATION_COLLECTIONS = {
    "continuous": 2,
    "latest-continuous": 2,
    "daily": 2,
    "latest-daily": 0,  # parameters 91060/91061 (lbs/day): not floodwatch parameters
    "field-measurements": 2,
    "peaks": 2,
}
OTHER_COLLECTIONS = sorted(set(COLLECTIONS) - set(OBSERVATION_COLLECTIONS))


def _page(collection: str) -> bytes:
    """One recorded response, as the bytes the API sent."""
    return json.dumps(COLLECTIONS[collection]).encode()


def test_fixture_holds_the_collections_we_expect() -> None:
    assert set(OBSERVATION_COLLECTIONS) <= set(COLLECTIONS)
    assert "monitoring-locations" in OTHER_COLLECTIONS


@pytest.mark.parametrize("collection", sorted(OBSERVATION_COLLECTIONS))
def test_every_observation_collection_parses(collection: str) -> None:
    observations = usgs_waterdata.parse(_page(collection))
    assert len(observations) == OBSERVATION_COLLECTIONS[collection]
    for o in observations:
        assert o.observed_at.utcoffset() == timedelta(0)
        assert o.source == "usgs-waterdata"
        assert not o.station.startswith("USGS-")
    assert usgs_waterdata.next_link(_page(collection)) is None  # this fixture has no links


@pytest.mark.parametrize("collection", OTHER_COLLECTIONS)
def test_other_collections_are_refused_by_parse(collection: str) -> None:
    with pytest.raises(InputError, match="not an observation"):
        usgs_waterdata.parse(_page(collection))
    assert usgs_waterdata.next_link(_page(collection)) is None


def test_continuous_gage_height() -> None:
    first, second = usgs_waterdata.parse(_page("continuous"))
    # raw: monitoring_location_id "USGS-06904500", parameter_code "00065", value "0.39",
    # unit_of_measure "ft", time "2025-09-22T16:00:00+00:00", approval_status "Approved",
    # qualifier null
    assert first.station == "06904500"
    assert first.parameter is Parameter.WATER_LEVEL
    assert first.observed_at == datetime(2025, 9, 22, 16, 0, tzinfo=UTC)
    assert first.value == pytest.approx(0.39 * 0.3048)  # 0.118872 m
    assert first.unit == "m"
    assert first.flags == frozenset()
    assert first.qualifiers == ("Approved",)
    assert second.observed_at == datetime(2025, 9, 22, 16, 15, tzinfo=UTC)


def test_latest_continuous_discharge_is_provisional() -> None:
    observations = usgs_waterdata.parse(_page("latest-continuous"))
    flow = next(o for o in observations if o.parameter is Parameter.DISCHARGE)
    # raw: "00060", value "535", "ft^3/s", time "2026-08-07T18:45:00+00:00", "Provisional"
    assert flow.station == "06904500"
    assert flow.observed_at == datetime(2026, 8, 7, 18, 45, tzinfo=UTC)
    assert flow.value == pytest.approx(535 * 0.028316846592)  # 15.14951292672 m3/s
    assert flow.flags == {Flag.PROVISIONAL}
    assert flow.qualifiers == ("Provisional",)


def test_daily_mean_placed_at_end_of_day() -> None:
    first = usgs_waterdata.parse(_page("daily"))[0]
    # raw: "USGS-05427718", "00060", statistic "00003" (mean), time "2025-12-26" (a date),
    # value "20.2" ft^3/s, "Provisional". Default day offset UTC: the day ends 2025-12-27T00:00Z.
    assert first.station == "05427718"
    assert first.observed_at == datetime(2025, 12, 27, tzinfo=UTC)
    assert first.value == pytest.approx(20.2 * 0.028316846592)  # 0.5720003011584 m3/s
    assert first.flags == {Flag.PROVISIONAL}
    # with the site's standard offset (CST, -06:00) the day ends at 06:00 UTC
    local = usgs_waterdata.parse(_page("daily"), day_utc_offset=timedelta(hours=-6))[0]
    assert local.observed_at == datetime(2025, 12, 27, 6, tzinfo=UTC)


def test_field_measurement_combines_date_and_time_of_day() -> None:
    level, flow = usgs_waterdata.parse(_page("field-measurements"))
    # raw: time "2014-06-19", time_of_day "16:00:27+00:00", "00065", value "3.14" ft, Provisional
    assert level.observed_at == datetime(2014, 6, 19, 16, 0, 27, tzinfo=UTC)
    assert level.value == pytest.approx(3.14 * 0.3048)  # 0.957072 m
    assert level.flags == {Flag.PROVISIONAL}
    # raw: time "2023-11-01", time_of_day "14:49:30+00:00", "00060", "16.6" ft^3/s, Approved
    assert flow.observed_at == datetime(2023, 11, 1, 14, 49, 30, tzinfo=UTC)
    assert flow.value == pytest.approx(16.6 * 0.028316846592)  # 0.4700596534272 m3/s
    assert flow.flags == frozenset()


def test_peak_qualifiers_are_suspect() -> None:
    stage, flow = usgs_waterdata.parse(_page("peaks"))
    # raw: "USGS-02238500", "00065", "49.98" ft, time "1970-04-06", time_of_day "17:00:00+00:00",
    # qualifier ["GHNOTASSCPKQ"], no approval_status
    assert stage.station == "02238500"
    assert stage.observed_at == datetime(1970, 4, 6, 17, tzinfo=UTC)
    assert stage.value == pytest.approx(49.98 * 0.3048)  # 15.233904 m
    assert stage.flags == {Flag.SUSPECT}
    assert stage.qualifiers == ("GHNOTASSCPKQ",)
    # raw: "00060", "1060" ft^3/s, time "1954-01-11", time_of_day null, qualifier ["REGULATED"]:
    # no time of day → end of that day
    assert flow.observed_at == datetime(1954, 1, 12, tzinfo=UTC)
    assert flow.value == pytest.approx(1060 * 0.028316846592)  # 30.01585738752 m3/s
    assert flow.qualifiers == ("REGULATED",)


def test_monitoring_locations_to_stations() -> None:
    first, second = usgs_waterdata.stations(_page("monitoring-locations"))
    # raw: id "USGS-410252073314801", monitoring_location_name "CT-STM    2",
    # coordinates [-73.52955169969904, 41.04777271320483], site_type_code "GW" (a well)
    assert first.code == "410252073314801"
    assert first.name == "CT-STM    2"
    assert (first.lon, first.lat) == (-73.52955169969904, 41.04777271320483)
    assert first.kind == "other"
    assert first.source == "usgs-waterdata"
    assert second.code == "410257073251001"


def test_stations_from_an_observation_page() -> None:
    # pull.py registers stations from the same page it parses: the page has no names
    (station,) = usgs_waterdata.stations(_page("latest-continuous"))
    # raw: "USGS-06904500", coordinates [-92.6863888888889, 40.2343333333333]
    assert station.code == station.name == "06904500"
    assert (station.lon, station.lat) == (-92.6863888888889, 40.2343333333333)
    assert station.kind == "river_gauge"


@pytest.mark.parametrize("collection", sorted(OBSERVATION_COLLECTIONS))
def test_stations_cover_every_parsed_station(collection: str) -> None:
    codes = {s.code for s in usgs_waterdata.stations(_page(collection))}
    assert codes == {o.station for o in usgs_waterdata.parse(_page(collection))}


def test_stations_refuses_a_metadata_page() -> None:
    with pytest.raises(InputError, match="not an observation"):
        usgs_waterdata.stations(_page("time-series-metadata"))


# --- derived pages (edits of the recorded ones) --------------------------------------------------


def _edited(collection: str, **properties: Any) -> bytes:
    page = json.loads(_page(collection))
    page["features"][0]["properties"].update(properties)
    return json.dumps(page).encode()


def test_null_and_sentinel_values_are_missing() -> None:
    for raw in (None, "-999999"):
        first = usgs_waterdata.parse(_edited("continuous", value=raw))[0]
        assert first.value is None
        assert first.flags == {Flag.MISSING}


def test_two_series_for_one_site_and_parameter_get_suffixed_codes() -> None:
    # the recorded page with its second feature moved to another time series of the same site
    page = json.loads(_page("continuous"))
    page["features"][1]["properties"]["time_series_id"] = "second-sensor"
    payload = json.dumps(page).encode()
    expected = ["06904500:b36569a0067443ac9425e850a3ac7baa", "06904500:second-sensor"]
    assert [o.station for o in usgs_waterdata.parse(payload)] == expected
    assert [s.code for s in usgs_waterdata.stations(payload)] == expected


def test_next_link_follows_rel_next() -> None:
    page = json.loads(_page("continuous"))
    page["links"] = [
        {"rel": "self", "href": "https://api.waterdata.usgs.gov/ogcapi/v1/collections/x/items"},
        {"rel": "next", "href": "https://api.waterdata.usgs.gov/ogcapi/v1/collections/x/items?o=2"},
    ]
    link = usgs_waterdata.next_link(json.dumps(page).encode())
    assert link == "https://api.waterdata.usgs.gov/ogcapi/v1/collections/x/items?o=2"


def test_empty_collection_is_an_empty_list() -> None:
    payload = b'{"type": "FeatureCollection", "features": [], "numberReturned": 0}'
    assert usgs_waterdata.parse(payload) == []
    assert usgs_waterdata.next_link(payload) is None


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"{", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"[]", "not a GeoJSON FeatureCollection"),
        (b'{"type": "Feature"}', "not a GeoJSON FeatureCollection"),
        (b'{"type": "FeatureCollection", "features": {}}', "'features' is not an array"),
        (b'{"type": "FeatureCollection", "features": [1]}', "has no properties"),
    ],
)
def test_malformed_raises_input_error(payload: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        usgs_waterdata.parse(payload)


def test_truncated_raises_input_error() -> None:
    with pytest.raises(InputError, match="not valid JSON"):
        usgs_waterdata.parse(_page("continuous")[:200])


@pytest.mark.parametrize(
    ("properties", "message"),
    [
        ({"value": "high"}, "'high' is not a number"),
        ({"time": "2025-09-22T16:00:00"}, "no UTC offset"),
        ({"time": "22/09/2025"}, "not an ISO 8601 date"),
        ({"unit_of_measure": "furlongs"}, "unit 'furlongs' is not known"),
        ({"qualifier": {"code": "ICE"}}, "neither a string nor a list"),
    ],
)
def test_bad_fields_raise_input_error(properties: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        usgs_waterdata.parse(_edited("continuous", **properties))
