"""Generic CSV / JSON feeds read through a declared :class:`Mapping`, and floodwatch's own CSV.

A :class:`Mapping` says which column holds what, which constants fill what the file lacks,
the time zone of naive timestamps, the units (converted to SI with :func:`to_si`) and the
missing-value markers. Load one from TOML with :meth:`Mapping.from_toml` (see
``mappings/*.toml`` for commented examples) or a shipped one with :meth:`Mapping.builtin`.

Decisions a caller must know:

* Naive timestamps need a declared ``time_zone`` (IANA name such as ``Asia/Ho_Chi_Minh``, a
  fixed offset such as ``+07:00``, or ``UTC``); without one they are an error, never assumed UTC.
  A timestamp that carries its own offset keeps it. In an IANA zone an ambiguous wall-clock
  time (end of DST) is read as its first occurrence.
* Units are converted by a fixed table; an unknown unit, or one that does not fit the
  parameter, is an error (never guessed). Every row needs a unit: from a column, the value
  column's declaration or the mapping's constant.
* A missing value (empty cell, JSON ``null``, or a declared marker such as ``-999999``; numeric
  markers match numerically) gives ``value=None`` with ``Flag.MISSING``. Rows are never dropped.
* Source flag codes map to :class:`Flag` through ``[flags]`` and are also kept in
  ``qualifiers``; a code that is already a Flag value is taken as is; any other code is kept in
  ``qualifiers`` only (it sets no flag).
* floodwatch CSV (``station,parameter,observed_at,value,unit,flags``) stores neither the source
  nor the qualifiers: :func:`parse_floodwatch_csv` takes the source as an argument.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import tomllib
from collections.abc import Iterable, Iterator
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter

FLOODWATCH_CSV_COLUMNS = ("station", "parameter", "observed_at", "value", "unit", "flags")
FLAG_SEPARATOR = "|"
SKIP = "skip"  # in [parameters]: drop the rows of that source parameter

# --------------------------------------------------------------------------- units

_LENGTH_TO_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048, "in": 0.0254, "km": 1000.0}
_DEPTH_TO_MM = {"mm": 1.0, "cm": 10.0, "m": 1000.0, "in": 25.4}
_FLOW_TO_M3S = {
    "m3/s": 1.0,
    "l/s": 0.001,
    "m3/h": 1.0 / 3600.0,
    "ft3/s": 0.3048**3,
    "kcfs": 1000.0 * 0.3048**3,
}
_UNIT_ALIASES = {
    "metre": "m", "meter": "m", "metres": "m", "meters": "m", "millimetre": "mm",
    "millimeter": "mm", "centimetre": "cm", "centimeter": "cm", "feet": "ft", "foot": "ft",
    "inch": "in", "inches": "in",
    "m^3/s": "m3/s", "m³/s": "m3/s", "m3 s-1": "m3/s", "m3s-1": "m3/s", "cumecs": "m3/s",
    "m3s": "m3/s", "m3_s": "m3/s", "l s-1": "l/s", "l_s": "l/s", "ft^3/s": "ft3/s",
    "cfs": "ft3/s", "ft3 s-1": "ft3/s", "ft3_s": "ft3/s",
}
_FACTORS_BY_SI_UNIT = {"m": _LENGTH_TO_M, "mm": _DEPTH_TO_MM, "m3/s": _FLOW_TO_M3S}


def si_factor(unit: str, parameter: Parameter) -> float:
    """Factor from ``unit`` to the SI unit of ``parameter``; InputError if unknown or unfitting."""
    key = unit.strip()
    key = _UNIT_ALIASES.get(key, _UNIT_ALIASES.get(key.lower(), key))
    factors = _FACTORS_BY_SI_UNIT[SI_UNIT[parameter]]
    if key not in factors:
        raise InputError(
            f"unit {unit!r} is unknown for {parameter} (known: {', '.join(sorted(factors))})"
        )
    return factors[key]


def to_si(value: float, unit: str, parameter: Parameter) -> float:
    """``value`` in ``unit`` → the SI unit of ``parameter`` (see ``SI_UNIT``)."""
    return value * si_factor(unit, parameter)


# --------------------------------------------------------------------------- time zones

_OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{2}):?(\d{2})$")


def parse_time_zone(text: str) -> tzinfo:
    """``UTC``/``Z``, a fixed offset ``+07:00`` (or ``UTC+07:00``), or an IANA name."""
    text = text.strip()
    if text in ("UTC", "Z", "utc"):
        return UTC
    match = _OFFSET.match(text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        hours, minutes = int(match.group(2)), int(match.group(3))
        if hours > 23 or minutes > 59:
            raise InputError(f"time zone {text!r} is not a valid UTC offset")
        return timezone(sign * timedelta(hours=hours, minutes=minutes))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"time zone {text!r} is neither an IANA name nor an offset like +07:00"
        ) from exc


# --------------------------------------------------------------------------- the mapping


@dataclass(frozen=True, slots=True)
class ValueColumn:
    """One column holding values; parameter/unit default to the mapping's."""

    column: str
    parameter: Parameter | None = None
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class Mapping:
    """How to read one CSV/JSON layout into observations."""

    source: str
    time_column: str
    values: tuple[ValueColumn, ...]
    station_column: str | None = None
    station: str | None = None  # constant, where the file has no station column
    parameter_column: str | None = None
    parameter: Parameter | None = None  # constant
    unit_column: str | None = None
    unit: str | None = None  # constant
    flags_column: str | None = None
    flag_separator: str = FLAG_SEPARATOR
    time_zone: str | None = None  # of naive timestamps
    time_format: str | None = None  # strptime format; None = ISO 8601
    missing_values: frozenset[str] = frozenset({""})
    parameter_names: AbcMapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    flag_codes: AbcMapping[str, Flag] = field(default_factory=lambda: MappingProxyType({}))
    format: str = "auto"  # "csv", "json" or "auto" (JSON if the payload starts with [ or {)
    delimiter: str = ","
    records_key: str | None = None  # JSON: the records are under this key of an object

    def __post_init__(self) -> None:
        if (self.station_column is None) == (self.station is None):
            raise InputError("mapping: give exactly one of columns.station or constants.station")
        if not self.values:
            raise InputError("mapping: no value column (columns.value or [[values]])")
        if self.format not in ("csv", "json", "auto"):
            raise InputError(f"mapping: format {self.format!r} is not csv, json or auto")
        for name in self.parameter_names.values():
            if name != SKIP:
                _parameter(name, "mapping [parameters]")
        for value in self.values:
            where = f"mapping: value column {value.column!r}"
            parameter = value.parameter or self.parameter
            if parameter is None and self.parameter_column is None:
                raise InputError(f"{where} has no parameter (constant or column)")
            unit = value.unit or self.unit
            if unit is None and self.unit_column is None:
                raise InputError(f"{where} has no unit (constant or column)")
            if parameter is not None and unit is not None:
                try:
                    si_factor(unit, parameter)
                except InputError as exc:
                    raise InputError(f"{where}: {exc}") from exc
        if self.time_zone is not None:
            parse_time_zone(self.time_zone)

    @property
    def tz(self) -> tzinfo | None:
        return None if self.time_zone is None else parse_time_zone(self.time_zone)

    @classmethod
    def from_dict(cls, data: AbcMapping[str, Any], *, name: str = "mapping") -> Mapping:
        """Build from the TOML layout (see ``mappings/*.toml``)."""
        try:
            return _mapping_from_dict(data)
        except InputError as exc:
            raise InputError(f"{name}: {exc}") from exc
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"{name}: malformed mapping ({exc!r})") from exc

    @classmethod
    def from_toml(cls, path: str | Path) -> Mapping:
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise InputError(f"{path}: cannot read mapping ({exc})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{path}: not valid TOML ({exc})") from exc
        return cls.from_dict(data, name=str(path))

    @classmethod
    def builtin(cls, name: str) -> Mapping:
        """A mapping shipped in ``floodwatch/hydro/feeds/mappings/<name>.toml``."""
        resource = resources.files("floodwatch.hydro.feeds") / "mappings" / f"{name}.toml"
        if not resource.is_file():
            raise InputError(f"no shipped mapping named {name!r}")
        return cls.from_dict(tomllib.loads(resource.read_text(encoding="utf-8")), name=name)


def _mapping_from_dict(data: AbcMapping[str, Any]) -> Mapping:
    known = {"source", "format", "time_zone", "time_format", "missing", "delimiter",
             "records_key", "flag_separator", "columns", "constants", "values", "parameters",
             "flags"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"unknown keys {unknown}")
    columns = dict(data.get("columns", {}))
    constants = dict(data.get("constants", {}))
    for table, allowed in (("columns", {"station", "time", "value", "parameter", "unit", "flags"}),
                           ("constants", {"station", "parameter", "unit"})):
        extra = sorted(set(data.get(table, {})) - allowed)
        if extra:
            raise InputError(f"unknown keys {extra} in [{table}]")
    if "time" not in columns:
        raise InputError("[columns] has no time")
    values = [
        ValueColumn(
            column=str(entry["column"]),
            parameter=_parameter(entry["parameter"], "[[values]]")
            if "parameter" in entry
            else None,
            unit=entry.get("unit"),
        )
        for entry in data.get("values", [])
    ]
    if "value" in columns:
        values.insert(0, ValueColumn(column=str(columns["value"])))
    constant_parameter = (
        None if "parameter" not in constants else _parameter(constants["parameter"], "[constants]")
    )
    return Mapping(
        source=str(data["source"]),
        time_column=str(columns["time"]),
        values=tuple(values),
        station_column=columns.get("station"),
        station=None if constants.get("station") is None else str(constants["station"]),
        parameter_column=columns.get("parameter"),
        parameter=constant_parameter,
        unit_column=columns.get("unit"),
        unit=constants.get("unit"),
        flags_column=columns.get("flags"),
        flag_separator=str(data.get("flag_separator", FLAG_SEPARATOR)),
        time_zone=data.get("time_zone"),
        time_format=data.get("time_format"),
        missing_values=frozenset(str(marker) for marker in data.get("missing", [""])),
        parameter_names=MappingProxyType(
            {str(k): str(v) for k, v in data.get("parameters", {}).items()}
        ),
        flag_codes=MappingProxyType(
            {str(k): _flag(v, "[flags]") for k, v in data.get("flags", {}).items()}
        ),
        format=str(data.get("format", "auto")),
        delimiter=str(data.get("delimiter", ",")),
        records_key=data.get("records_key"),
    )


# --------------------------------------------------------------------------- parsing


def parse(payload: bytes | str, mapping: Mapping, *, name: str = "payload") -> list[Observation]:
    """Observations in a CSV or JSON payload read through ``mapping``.

    ``name`` (e.g. the file name) is used in error messages.
    """
    text = _text(payload, name)
    kind = mapping.format
    if kind == "auto":
        kind = "json" if text.lstrip()[:1] in ("[", "{") else "csv"
    records = (
        _json_records(text, mapping, name) if kind == "json" else _csv_records(text, mapping, name)
    )
    tz = mapping.tz
    observations: list[Observation] = []
    for where, record in records:
        observations.extend(_record_observations(record, mapping, tz, where))
    return observations


def _record_observations(
    record: AbcMapping[str, Any], mapping: Mapping, tz: tzinfo | None, where: str
) -> Iterator[Observation]:
    station = mapping.station
    if mapping.station_column is not None:
        station = _required(record, mapping.station_column, where)
    assert station is not None
    time_text = _required(record, mapping.time_column, where)
    observed_at = _time(time_text, mapping, tz, f"{where}, {mapping.time_column}")
    flags, qualifiers = _flags(record, mapping, where)
    for value_column in mapping.values:
        parameter = value_column.parameter or mapping.parameter
        if parameter is None:
            assert mapping.parameter_column is not None
            raw_name = _required(record, mapping.parameter_column, where)
            resolved = mapping.parameter_names.get(raw_name, raw_name)
            if resolved == SKIP:
                continue
            parameter = _parameter(resolved, f"{where}, {mapping.parameter_column}")
        unit = value_column.unit or mapping.unit
        if unit is None:
            assert mapping.unit_column is not None
            unit = _required(record, mapping.unit_column, where)
        cell_where = f"{where}, {value_column.column}"
        raw_value = _number(record.get(value_column.column, None), mapping, cell_where)
        try:
            value = None if raw_value is None else to_si(raw_value, unit, parameter)
        except InputError as exc:
            raise InputError(f"{cell_where}: {exc}") from exc
        row_flags = flags | {Flag.MISSING} if value is None else flags
        yield Observation(
            station=station,
            parameter=parameter,
            observed_at=observed_at,
            value=value,
            unit=SI_UNIT[parameter],
            source=mapping.source,
            flags=frozenset(row_flags),
            qualifiers=qualifiers,
        )


def _csv_records(
    text: str, mapping: Mapping, name: str
) -> Iterator[tuple[str, dict[str, str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=mapping.delimiter)
    header = next(reader, None)
    if header is None:
        raise InputError(f"{name}: empty CSV (no header)")
    header = [column.strip() for column in header]
    needed = _needed_columns(mapping)
    absent = [column for column in needed if column not in header]
    if absent:
        raise InputError(f"{name}: CSV header lacks columns {absent} (header: {header})")
    for row in reader:
        where = f"{name}, line {reader.line_num}"
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{where}: {len(row)} fields where the header has {len(header)}")
        yield where, dict(zip(header, row, strict=True))


def _json_records(
    text: str, mapping: Mapping, name: str
) -> Iterator[tuple[str, AbcMapping[str, Any]]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not valid JSON ({exc})") from exc
    if mapping.records_key is not None:
        if not isinstance(document, dict) or mapping.records_key not in document:
            raise InputError(f"{name}: no key {mapping.records_key!r} holding the records")
        document = document[mapping.records_key]
    if not isinstance(document, list):
        raise InputError(f"{name}: expected a JSON array of records")
    for index, record in enumerate(document):
        if not isinstance(record, dict):
            raise InputError(f"{name}, record {index}: not a JSON object")
        yield f"{name}, record {index}", record


def _needed_columns(mapping: Mapping) -> list[str]:
    columns = [mapping.time_column, *(value.column for value in mapping.values)]
    columns += [
        column
        for column in (mapping.station_column, mapping.parameter_column, mapping.unit_column,
                       mapping.flags_column)
        if column is not None
    ]
    return columns


def _required(record: AbcMapping[str, Any], column: str, where: str) -> str:
    raw = record.get(column)
    if raw is None or (text := str(raw).strip()) == "":
        raise InputError(f"{where}, {column}: empty")
    return text


def _number(raw: Any, mapping: Mapping, where: str) -> float | None:
    """The cell as a float, or None when it is missing."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InputError(f"{where}: {raw!r} is not a number")
    text = str(raw).strip()
    if text in mapping.missing_values:
        return None
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise InputError(f"{where}: {text!r} is not a finite number")
    if any(value == marker for marker in _numeric_markers(mapping.missing_values)):
        return None
    return value


def _numeric_markers(markers: Iterable[str]) -> list[float]:
    numeric = []
    for marker in markers:
        try:
            numeric.append(float(marker))
        except ValueError:
            continue
    return numeric


def _time(text: str, mapping: Mapping, tz: tzinfo | None, where: str) -> datetime:
    try:
        if mapping.time_format:
            moment = datetime.strptime(text, mapping.time_format)
        else:
            moment = datetime.fromisoformat(text)
    except ValueError as exc:
        expected = mapping.time_format or "ISO 8601"
        raise InputError(f"{where}: {text!r} is not a time in {expected}") from exc
    if moment.tzinfo is None:
        if tz is None:
            raise InputError(
                f"{where}: {text!r} has no time zone and the mapping declares no time_zone"
            )
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _flags(
    record: AbcMapping[str, Any], mapping: Mapping, where: str
) -> tuple[frozenset[Flag], tuple[str, ...]]:
    if mapping.flags_column is None:
        return frozenset(), ()
    raw = record.get(mapping.flags_column)
    if raw is None:
        return frozenset(), ()
    codes = [code.strip() for code in str(raw).split(mapping.flag_separator) if code.strip()]
    flags: set[Flag] = set()
    qualifiers: list[str] = []
    for code in codes:
        if code in mapping.flag_codes:
            flags.add(mapping.flag_codes[code])
            qualifiers.append(code)
        elif code in Flag._value2member_map_:
            flags.add(Flag(code))
        else:
            qualifiers.append(code)
    return frozenset(flags), tuple(qualifiers)


def _parameter(raw: Any, where: str) -> Parameter:
    try:
        return Parameter(str(raw).strip())
    except ValueError as exc:
        known = ", ".join(parameter.value for parameter in Parameter)
        raise InputError(f"{where}: {raw!r} is not a parameter ({known})") from exc


def _flag(raw: Any, where: str) -> Flag:
    try:
        return Flag(str(raw).strip())
    except ValueError as exc:
        known = ", ".join(flag.value for flag in Flag)
        raise InputError(f"{where}: {raw!r} is not a flag ({known})") from exc


def _text(payload: bytes | str, name: str) -> str:
    if isinstance(payload, str):
        return payload.removeprefix("\ufeff")
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{name}: not UTF-8 text ({exc})") from exc


# --------------------------------------------------------------------------- floodwatch CSV


def to_csv(observations: Iterable[Observation]) -> str:
    """floodwatch CSV: ``station,parameter,observed_at,value,unit,flags`` (UTC, SI, ``|``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLOODWATCH_CSV_COLUMNS)
    for observation in observations:
        if observation.observed_at.tzinfo is None:
            raise InputError(
                f"observation {observation.station}/{observation.parameter}: naive observed_at"
            )
        writer.writerow(
            (
                observation.station,
                observation.parameter.value,
                _iso_utc(observation.observed_at),
                "" if observation.value is None else repr(float(observation.value)),
                observation.unit,
                observation.flags_text,
            )
        )
    return out.getvalue()


def parse_floodwatch_csv(
    payload: bytes | str, *, source: str = "floodwatch-csv", name: str = "floodwatch CSV"
) -> list[Observation]:
    """The inverse of :func:`to_csv`. An empty value gets ``Flag.MISSING``."""
    reader = csv.reader(io.StringIO(_text(payload, name), newline=""))
    header = next(reader, None)
    if header is None or tuple(column.strip() for column in header) != FLOODWATCH_CSV_COLUMNS:
        raise InputError(
            f"{name}: header must be {','.join(FLOODWATCH_CSV_COLUMNS)}, got {header}"
        )
    observations = []
    for row in reader:
        where = f"{name}, line {reader.line_num}"
        if not row:
            continue
        if len(row) != len(FLOODWATCH_CSV_COLUMNS):
            raise InputError(f"{where}: {len(row)} fields, expected 6")
        station, parameter_text, time_text, value_text, unit, flags_text = (
            cell.strip() for cell in row
        )
        if not station:
            raise InputError(f"{where}, station: empty")
        parameter = _parameter(parameter_text, f"{where}, parameter")
        if unit != SI_UNIT[parameter]:
            raise InputError(
                f"{where}, unit: {unit!r}, but {parameter} is stored in {SI_UNIT[parameter]!r}"
            )
        observed_at = _utc_instant(time_text, f"{where}, observed_at")
        flags = {
            _flag(code, f"{where}, flags") for code in flags_text.split(FLAG_SEPARATOR) if code
        }
        value = None if value_text == "" else _float(value_text, f"{where}, value")
        if value is None:
            flags.add(Flag.MISSING)
        observations.append(
            Observation(station, parameter, observed_at, value, unit, source, frozenset(flags))
        )
    return observations


def _iso_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _utc_instant(text: str, where: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise InputError(f"{where}: {text!r} has no offset (floodwatch CSV times end in Z)")
    return moment.astimezone(UTC)


def _float(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r} is not a number") from exc
    if not math.isfinite(value):
        raise InputError(f"{where}: {text!r} is not a finite number")
    return value
