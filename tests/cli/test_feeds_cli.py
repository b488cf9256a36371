"""`floodwatch feeds parse` on every recorded payload kind, and its errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from floodwatch.cli.main import run

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
HUE = (Path(__file__).parents[2] / "gis_data" / "floodwatch" / "gis_data" / "regions" / "hue"
       / "timeseries")
HEADER = ["station", "parameter", "observed_at", "value", "unit", "flags"]


def _csv(capsys: pytest.CaptureFixture[str], args: list[str]) -> list[dict[str, str]]:
    assert run(["feeds", "parse", *args]) == 0
    out = capsys.readouterr().out
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames == HEADER
    return list(reader)


def test_usgs_nwis_csv(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _csv(capsys, ["--kind", "usgs-nwis",
                         str(FEEDS / "usgs" / "nwis_iv_multiple_flags_P_e_Ice.json")])
    assert rows and all(r["observed_at"].endswith("Z") for r in rows)
    assert {r["unit"] for r in rows} <= {"m", "m3/s", "mm"}
    flags = {f for r in rows for f in r["flags"].split("|") if f}
    assert {"provisional", "estimated"} <= flags
    missing = [r for r in rows if "missing" in r["flags"].split("|")]
    assert missing and all(r["value"] == "" for r in missing)


def test_ea_json_output(capsys: pytest.CaptureFixture[str]) -> None:
    path = FEEDS / "ea" / "ea_2015-12_id_stations_690140_readings_sorted_limit50.json"
    assert run(["feeds", "parse", "--kind", "ea", "--format", "json", str(path)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 50
    # the first item of the file: 2015-12-10T16:00:00Z, 0.754 m
    assert {"station": "690140", "parameter": "water_level",
            "observed_at": "2015-12-10T16:00:00Z", "value": 0.754, "unit": "m"}.items() \
        <= rows[0].items()


def test_hue_series_with_mapping(capsys: pytest.CaptureFixture[str]) -> None:
    rows = _csv(capsys, ["--kind", "csv", "--mapping", "vndms_hue_water_levels",
                         str(HUE / "hue_river_water_levels_2025-11.csv")])
    peak = [r for r in rows if r["station"] == "71518" and r["observed_at"] ==
            "2025-11-17T01:00:00Z"]
    assert [r["value"] for r in peak] == ["4.96"]  # 08:00 local (UTC+7)


def test_usgs_waterdata_and_waterml2_and_sensorthings(capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    assert _csv(capsys, ["--kind", "waterml2",
                         str(FEEDS / "usgs"
                             / "usgs_waterml2_dv_00060_01646500_dataRetrievalR.xml")])
    page = FEEDS / "sta" / "bgs_frost_datastream1_observations_page1_trimmed.json"
    assert run(["feeds", "parse", "--kind", "sensorthings", str(page)]) == 2
    assert "station, parameter and unit" in capsys.readouterr().err
    rows = _csv(capsys, ["--kind", "sensorthings", "--station", "bgs-1", "--parameter",
                         "water_level", "--unit", "m", str(page)])
    assert rows and {r["station"] for r in rows} == {"bgs-1"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "bogus", "x.json"], "unknown feed kind 'bogus'"),
        (["--kind", "csv", "x.csv"], "needs a column mapping"),
        (["--kind", "ea", "/nonexistent/file.json"], "cannot read it"),
        (["--kind", "ea", "--format", "xml", "x.json"], "--format must be csv or json"),
    ],
)
def test_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert run(["feeds", "parse", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_unparseable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "truncated.json"
    bad.write_bytes(b'{"value": {"timeSeries": [')
    assert run(["feeds", "parse", "--kind", "usgs-nwis", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
