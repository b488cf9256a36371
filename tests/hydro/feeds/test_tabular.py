"""Generic CSV/JSON through a Mapping, the shipped Huế mappings, and floodwatch CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import tabular
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.feeds.tabular import Mapping, ValueColumn

ROOT = Path(__file__).parents[3]
HUE = ROOT / "gis_data" / "floodwatch" / "gis_data" / "regions" / "hue" / "timeseries"
RIVERS = HUE / "hue_river_water_levels_2025-11.csv"
RESERVOIRS = HUE / "hue_reservoirs_2025-11.csv"
MAPPINGS = ROOT / "hydro" / "floodwatch" / "hydro" / "feeds" / "mappings"

BINH_DIEN = "1D320527-2DC9-4C79-A00B-EBB16D44F735"
TA_TRACH = "fd622826-9f2e-4130-8995-1654bac81895"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def find(observations: list[Observation], station: str, parameter: Parameter,
         observed_at: datetime) -> Observation:
    (found,) = [
        o for o in observations
        if (o.station, o.parameter, o.observed_at) == (station, parameter, observed_at)
    ]
    return found


# --------------------------------------------------------------------------- Huế rivers


@pytest.fixture(scope="module")
def rivers() -> list[Observation]:
    mapping = Mapping.builtin("vndms_hue_water_levels")
    return tabular.parse(RIVERS.read_bytes(), mapping, name=RIVERS.name)


def test_hue_rivers_every_row(rivers: list[Observation]) -> None:
    assert len(rivers) == 1101  # 1,101 data rows, one observation each
    assert {o.station for o in rivers} == {"71518", "71520"}
    assert {(o.parameter, o.unit, o.source) for o in rivers} == {
        (Parameter.WATER_LEVEL, "m", "vndms")
    }
    assert all(o.value is not None and o.flags == frozenset() for o in rivers)


def test_hue_rivers_local_time_is_utc_plus_7(rivers: list[Observation]) -> None:
    # 71518,Phú Ốc,2025-11-17 08:00,4.96,3,…  (local UTC+7 → 01:00 UTC): Phú Ốc's peak
    phu_oc = find(rivers, "71518", Parameter.WATER_LEVEL, utc(2025, 11, 17, 1, 0))
    assert phu_oc.value == pytest.approx(4.96)
    assert max(o.value or 0 for o in rivers if o.station == "71518") == pytest.approx(4.96)
    # 71520,Kim Long,2025-11-17 15:00,3.01,2,…  (→ 08:00 UTC): Kim Long's peak
    kim_long = find(rivers, "71520", Parameter.WATER_LEVEL, utc(2025, 11, 17, 8, 0))
    assert kim_long.value == pytest.approx(3.01)
    # 71518,Phú Ốc,2025-11-10 00:00,1.26,0,…  (first row: the previous day in UTC)
    assert rivers[0].observed_at == utc(2025, 11, 9, 17, 0)
    assert rivers[0].value == pytest.approx(1.26)
    # 71520,Kim Long,2025-12-04 08:00,0.59,0,…  (last row)
    assert rivers[-1] == Observation(
        "71520", Parameter.WATER_LEVEL, utc(2025, 12, 4, 1, 0), 0.59, "m", "vndms"
    )


def test_shipped_mapping_file_equals_builtin() -> None:
    path = MAPPINGS / "vndms_hue_water_levels.toml"
    assert Mapping.from_toml(path) == Mapping.builtin("vndms_hue_water_levels")


# --------------------------------------------------------------------------- Huế reservoirs


@pytest.fixture(scope="module")
def reservoirs() -> list[Observation]:
    mapping = Mapping.builtin("vndms_hue_reservoirs")
    return tabular.parse(RESERVOIRS.read_bytes(), mapping, name=RESERVOIRS.name)


def test_hue_reservoirs_three_parameters_per_row(reservoirs: list[Observation]) -> None:
    assert len(reservoirs) == 337 * 3
    assert {o.station for o in reservoirs} == {
        BINH_DIEN, TA_TRACH, "A11984FB-8CAD-44D7-BF9E-A0E881483E47"
    }
    # Bình Điền,1D32…,2025-11-10 23:00,80.59,BinhThuong,353.64032,423.68,83.47,,52.0,85.0,…
    at = utc(2025, 11, 10, 16, 0)
    level = find(reservoirs, BINH_DIEN, Parameter.RESERVOIR_LEVEL, at)
    assert (level.value, level.unit) == (pytest.approx(80.59), "m")
    inflow = find(reservoirs, BINH_DIEN, Parameter.RESERVOIR_INFLOW, at)  # empty cell
    assert inflow.value is None
    assert inflow.flags == {Flag.MISSING}
    assert inflow.unit == "m3/s"
    outflow = find(reservoirs, BINH_DIEN, Parameter.RESERVOIR_OUTFLOW, at)
    assert outflow.value == pytest.approx(52.0)
    assert outflow.flags == frozenset()


def test_hue_reservoirs_inflow_and_missing_outflow(reservoirs: list[Observation]) -> None:
    # Tả Trạch,fd62…,2025-11-17 08:35,40.257,Len,319.183838,420.03,75.99,643.3006,246.13,45.0,…
    at = utc(2025, 11, 17, 1, 35)
    assert find(reservoirs, TA_TRACH, Parameter.RESERVOIR_LEVEL, at).value == pytest.approx(40.257)
    inflow = find(reservoirs, TA_TRACH, Parameter.RESERVOIR_INFLOW, at).value
    assert inflow == pytest.approx(643.3006)
    outflow = find(reservoirs, TA_TRACH, Parameter.RESERVOIR_OUTFLOW, at).value
    assert outflow == pytest.approx(246.13)
    # Tả Trạch,fd62…,2025-11-12 23:55,41.218,…,22.2417736,,45.0,…  (empty outflow)
    at = utc(2025, 11, 12, 16, 55)
    missing = find(reservoirs, TA_TRACH, Parameter.RESERVOIR_OUTFLOW, at)
    assert (missing.value, missing.flags) == (None, {Flag.MISSING})
    assert find(reservoirs, TA_TRACH, Parameter.RESERVOIR_INFLOW, at).value == pytest.approx(
        22.2417736
    )


# --------------------------------------------------------------------------- generic CSV


LONG_TOML = """
source = "test-feed"
time_zone = "Europe/London"
missing = ["", "-999999", "NA"]

[columns]
station = "site"
time = "when"
value = "reading"
parameter = "what"
unit = "units"
flags = "q"

[parameters]
stage = "water_level"
Q = "discharge"
temp = "skip"

[flags]
P = "provisional"
e = "estimated"
"""

LONG_CSV = """\ufeffsite,when,what,reading,units,q
A1,2024-07-01 12:00,stage,152.4,cm,P
A1,2024-07-01 12:00,Q,100,ft3/s,P|e
A1,2024-07-01 12:00,temp,18.5,degC,
A1,2024-12-01 12:00,stage,-999999.0,cm,P|Ice
B2,2024-12-01T12:00:00+07:00,stage,NA,m,
"""


def test_long_csv_with_units_zones_flags_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "long.toml"
    path.write_text(LONG_TOML, encoding="utf-8")
    mapping = Mapping.from_toml(path)
    stage, flow, winter, b2 = tabular.parse(LONG_CSV.encode(), mapping)  # temp rows skipped
    # 152.4 cm at 12:00 BST (UTC+1) → 1.524 m at 11:00 UTC
    assert stage.observed_at == utc(2024, 7, 1, 11, 0)
    assert stage.value == pytest.approx(1.524)
    assert stage.flags == {Flag.PROVISIONAL}
    assert stage.qualifiers == ("P",)
    # 100 ft3/s → 2.8316846592 m3/s
    assert flow.parameter is Parameter.DISCHARGE
    assert flow.value == pytest.approx(2.8316846592)
    assert flow.flags == {Flag.PROVISIONAL, Flag.ESTIMATED}
    # -999999.0 matches the marker -999999 numerically; 12:00 GMT = 12:00 UTC; "Ice" unmapped
    assert winter.observed_at == utc(2024, 12, 1, 12, 0)
    assert winter.value is None
    assert winter.flags == {Flag.MISSING, Flag.PROVISIONAL}
    assert winter.qualifiers == ("P", "Ice")
    # an explicit offset in the cell wins over the mapping's time_zone
    assert b2.observed_at == utc(2024, 12, 1, 5, 0)
    assert (b2.value, b2.flags) == (None, {Flag.MISSING})


def test_fixed_offset_and_constant_station() -> None:
    mapping = Mapping(
        source="s", time_column="t", values=(ValueColumn("mm_rain"),), station="R1",
        parameter=Parameter.RAINFALL, unit="mm", time_zone="+07:00",
    )
    (observation,) = tabular.parse(b"t,mm_rain\n2025-11-17 08:00,12.5\n", mapping)
    assert observation.station == "R1"
    assert observation.observed_at == utc(2025, 11, 17, 1, 0)
    assert observation.value == pytest.approx(12.5)


# --------------------------------------------------------------------------- JSON


def test_json_array_of_records() -> None:
    mapping = Mapping.from_dict(
        {
            "source": "json-feed",
            "time_zone": "Asia/Ho_Chi_Minh",
            "columns": {"station": "code", "time": "ts"},
            "values": [
                {"column": "h", "parameter": "water_level", "unit": "m"},
                {"column": "q", "parameter": "discharge", "unit": "l/s"},
            ],
        }
    )
    payload = json.dumps(
        [
            {"code": 71520, "ts": "2025-11-17T15:00:00", "h": 3.01, "q": 2500},
            {"code": "71520", "ts": "2025-11-17T16:00:00Z", "h": "2.98", "q": None},
        ]
    ).encode()
    h1, q1, h2, q2 = tabular.parse(payload, mapping)
    assert (h1.station, h1.observed_at, h1.value) == ("71520", utc(2025, 11, 17, 8, 0), 3.01)
    assert q1.value == pytest.approx(2.5)  # 2500 l/s
    assert (h2.observed_at, h2.value) == (utc(2025, 11, 17, 16, 0), 2.98)
    assert (q2.value, q2.flags) == (None, {Flag.MISSING})


def test_json_records_under_a_key() -> None:
    mapping = Mapping(
        source="s", time_column="t", values=(ValueColumn("v"),), station="X",
        parameter=Parameter.WATER_DEPTH, unit="cm", time_zone="UTC", format="json",
        records_key="data",
    )
    (observation,) = tabular.parse(b'{"data": [{"t": "2025-01-01 00:00", "v": 35}]}', mapping)
    assert observation.value == pytest.approx(0.35)
    assert observation.observed_at == utc(2025, 1, 1)


# --------------------------------------------------------------------------- errors


def _simple(**changes: object) -> Mapping:
    fields: dict[str, object] = {
        "source": "s", "time_column": "t", "values": (ValueColumn("v"),),
        "station_column": "id", "parameter": Parameter.WATER_LEVEL, "unit": "m",
        "time_zone": "+07:00",
    }
    fields.update(changes)
    return Mapping(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("payload", "mapping", "message"),
    [
        (b"id,t,v\nA,2025-01-01 00:00,high\n", _simple(),
         r"levels\.csv, line 2, v: 'high' is not a number"),
        (b"id,t\nA,2025-01-01 00:00\n", _simple(),
         r"levels\.csv: CSV header lacks columns \['v'\]"),
        (b"id,t,v\nA,2025-01-01 00:00,1\n", _simple(time_zone=None),
         r"line 2, t: '2025-01-01 00:00' has no time zone"),
        (b"id,t,v\nA,01/01/2025,1\n", _simple(), r"line 2, t: '01/01/2025' is not a time"),
        (b"id,t,v\n,2025-01-01 00:00,1\n", _simple(), r"line 2, id: empty"),
        (b"id,t,v\nA,2025-01-01 00:00,1,2\n", _simple(), r"line 2: 4 fields"),
        (b"id,t,v\nA,2025-01-01 00:00,1\n", _simple(unit=None, unit_column="u"),
         r"lacks columns \['u'\]"),
        (b'[{"id": "A", "t": "2025-01-01", "v": true}]', _simple(),
         r"record 0, v: True is not a number"),
        (b'{"id": 1}', _simple(), r"expected a JSON array of records"),
    ],
)
def test_malformed_rows_name_file_row_and_field(
    payload: bytes, mapping: Mapping, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        tabular.parse(payload, mapping, name="levels.csv")


def test_unknown_unit_and_parameter_in_rows() -> None:
    mapping = _simple(unit=None, unit_column="u", parameter=None, parameter_column="p")
    with pytest.raises(InputError, match=r"line 2, v: unit 'furlong' is unknown"):
        tabular.parse(b"id,t,v,u,p\nA,2025-01-01 00:00,1,furlong,water_level\n", mapping)
    with pytest.raises(InputError, match=r"line 2, p: 'salinity' is not a parameter"):
        tabular.parse(b"id,t,v,u,p\nA,2025-01-01 00:00,1,m,salinity\n", mapping)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"station": "X"}, "exactly one of columns.station or constants.station"),
        ({"values": ()}, "no value column"),
        ({"unit": "ft3/s"}, "unit 'ft3/s' is unknown for water_level"),
        ({"time_zone": "Mars/Olympus"}, "neither an IANA name nor an offset"),
        ({"time_zone": "+25:00"}, "not a valid UTC offset"),
        ({"parameter": None}, "has no parameter"),
    ],
)
def test_invalid_mappings(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InputError, match=message):
        _simple(**changes)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('source = "s"\n[columns]\ntime = "t"\nvalue = "v"\nstation = "id"\n'
                    '[constants]\nparameter = "stage"\nunit = "m"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml: \[constants\]: 'stage' is not a parameter"):
        Mapping.from_toml(path)
    path.write_text("source = \n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml: not valid TOML"):
        Mapping.from_toml(path)
    path.write_text('source = "s"\ncolums = {}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad\.toml: unknown keys \['colums'\]"):
        Mapping.from_toml(path)


def test_unit_conversion_table() -> None:
    assert tabular.to_si(1.0, "ft", Parameter.WATER_LEVEL) == pytest.approx(0.3048)
    assert tabular.to_si(1.0, "in", Parameter.RAINFALL) == pytest.approx(25.4)
    assert tabular.to_si(1.0, "kcfs", Parameter.DISCHARGE) == pytest.approx(28.316846592)
    assert tabular.to_si(3600.0, "m3/h", Parameter.RESERVOIR_INFLOW) == pytest.approx(1.0)
    with pytest.raises(InputError):
        tabular.to_si(1.0, "---", Parameter.WATER_LEVEL)
    with pytest.raises(InputError):
        tabular.to_si(1.0, "m3/s", Parameter.RAINFALL)


# --------------------------------------------------------------------------- floodwatch CSV


def test_floodwatch_csv_round_trip(rivers: list[Observation],
                                   reservoirs: list[Observation]) -> None:
    text = tabular.to_csv(rivers)
    assert text.splitlines()[0] == "station,parameter,observed_at,value,unit,flags"
    # 71518,Phú Ốc,2025-11-10 00:00,1.26 (local) → the first floodwatch row
    assert text.splitlines()[1] == "71518,water_level,2025-11-09T17:00:00Z,1.26,m,"
    assert tabular.parse_floodwatch_csv(text.encode(), source="vndms") == rivers
    text = tabular.to_csv(reservoirs)
    assert f"{BINH_DIEN},reservoir_inflow,2025-11-10T16:00:00Z,,m3/s,missing" in text
    assert tabular.parse_floodwatch_csv(text, source="thuyloivietnam") == reservoirs


def test_floodwatch_csv_flags_and_precision() -> None:
    observations = [
        Observation("03213700", Parameter.DISCHARGE, utc(2019, 1, 28, 19, 15), 0.1 + 0.2,
                    "m3/s", "floodwatch-csv", frozenset({Flag.SPIKE, Flag.PROVISIONAL})),
        Observation("x,y", Parameter.RAINFALL, utc(2020, 10, 31), None, "mm", "floodwatch-csv",
                    frozenset({Flag.MISSING})),
    ]
    text = tabular.to_csv(observations)
    assert "0.30000000000000004,m3/s,provisional|spike" in text  # exact float, sorted flags
    assert '"x,y",rainfall,2020-10-31T00:00:00Z,,mm,missing' in text
    assert tabular.parse_floodwatch_csv(text) == observations


def test_floodwatch_csv_empty_value_gets_missing_flag() -> None:
    text = (
        "station,parameter,observed_at,value,unit,flags\n"
        "A,water_level,2025-01-01T00:00:00Z,,m,\n"
    )
    (observation,) = tabular.parse_floodwatch_csv(text)
    assert (observation.value, observation.flags) == (None, {Flag.MISSING})


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("A,water_level,2025-01-01T00:00:00Z,1.0,cm,", r"line 2, unit: 'cm'"),
        ("A,water_level,2025-01-01T00:00:00,1.0,m,", r"line 2, observed_at: .* has no offset"),
        ("A,water_level,2025-01-01T00:00:00Z,1.0,m,wobbly", r"line 2, flags: 'wobbly'"),
        ("A,level,2025-01-01T00:00:00Z,1.0,m,", r"line 2, parameter: 'level'"),
        ("A,water_level,2025-01-01T00:00:00Z,one,m,", r"line 2, value: 'one'"),
        ("A,water_level,2025-01-01T00:00:00Z,1.0,m", r"line 2: 5 fields"),
    ],
)
def test_floodwatch_csv_errors(row: str, message: str) -> None:
    text = f"station,parameter,observed_at,value,unit,flags\n{row}\n"
    with pytest.raises(InputError, match=message):
        tabular.parse_floodwatch_csv(text, name="obs.csv")


def test_floodwatch_csv_wrong_header() -> None:
    with pytest.raises(InputError, match="header must be"):
        tabular.parse_floodwatch_csv("station,time,value\n")
