"""UK Environment Agency flood-monitoring API (``environment.data.gov.uk/flood-monitoring``).

Pure parsers: a response body (bytes) in, normalised records out. No network, no clock.

* :func:`parse` takes a readings response (``/id/stations/{id}/readings``, ``/data/readings``),
  a measures response (``/id/measures``, whose items carry ``latestReading``) or a station
  response (``/id/stations/{id}``, whose embedded measures carry ``latestReading``).
* :func:`stations` takes a stations response; :func:`flood_warnings` takes ``/id/floods``.

Decisions a caller must know:

* A gzip-compressed body (magic bytes ``1f 8b``) is decompressed transparently.
* Everything about a reading is read from its **measure notation**, e.g.
  ``690140-level-stage-i-15_min-m`` = station ``690140``, parameter ``level``, qualifier
  ``stage``, value type ``i`` (instantaneous), period 15 min, unit ``m``. The station is the
  prefix of the notation (the last segment of the station URL), which is unique; the
  ``stationReference`` field is not (``E7190-anglian`` and ``E7190-southern`` both say ``E7190``).
* Kept: ``level`` (qualifiers stage, downstage, tidal level) → water_level in m, with ``m``,
  ``mASD`` (above staff datum) and ``mAOD`` (above Ordnance Datum); the datum goes into the
  qualifiers (``datum:ASD``/``datum:AOD``) because one station may publish both series.
  ``flow`` → discharge in m3/s (``m3_s``; ``l_s`` is converted). ``rainfall`` with value type
  total (``t``) → rainfall in mm over the reading's period (``period_s:900`` in the qualifiers).
* Skipped, never guessed: unknown units (``---``, ``%``, ``V``, ``m_s`` …), units that do not fit
  the parameter, other parameters (groundwater, temperature, wind …), rainfall that is not a
  per-period total (``Event``, ``Cumulative_Total``), measures without an embedded reading
  (``latestReading`` absent or only a URL). Use :func:`measure_info` to see why.
* A value given as an array is kept if all its elements agree; otherwise the observation gets
  ``value=None`` with ``Flag.MISSING`` and ``Flag.SUSPECT`` and the raw array in the qualifiers.
  ``null`` → ``value=None`` + ``Flag.MISSING``.
* A stale ``latestReading`` keeps its real ``dateTime``; judging staleness is QC's job.
* Flood-warning times (``timeRaised`` …) carry no zone in the API: they are UK local time
  (Europe/London) and are converted to UTC. An ambiguous autumn hour is read as the first
  (BST) occurrence.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter, StationInfo

SOURCE = "ea-flood-monitoring"
UK_LOCAL_TIME = ZoneInfo("Europe/London")

#: EA ``severityLevel`` → its meaning.
SEVERITY_MEANING: dict[int, str] = {
    1: "Severe Flood Warning",
    2: "Flood Warning",
    3: "Flood Alert",
    4: "Warning no longer in force",
}

#: EA parameter → floodwatch parameter.
_PARAMETERS: dict[str, Parameter] = {
    "level": Parameter.WATER_LEVEL,
    "flow": Parameter.DISCHARGE,
    "rainfall": Parameter.RAINFALL,
}
#: Level qualifiers that are a surface-water level (groundwater is not).
_LEVEL_QUALIFIERS = frozenset({"stage", "downstage", "tidal_level"})

#: EA unit (notation spelling, ``/`` written ``_``) → (SI unit, factor to SI, datum).
_UNITS: dict[str, tuple[str, float, str | None]] = {
    "m": ("m", 1.0, None),
    "mASD": ("m", 1.0, "ASD"),
    "mAOD": ("m", 1.0, "AOD"),
    "m3_s": ("m3/s", 1.0, None),
    "l_s": ("m3/s", 0.001, None),
    "mm": ("mm", 1.0, None),
}
_PERIOD = re.compile(r"^(\d+)_(s|min|h|hr|d|day)$")
_PERIOD_SECONDS = {"s": 1, "min": 60, "h": 3600, "hr": 3600, "d": 86400, "day": 86400}


@dataclass(frozen=True, slots=True)
class MeasureInfo:
    """What an EA measure notation says, and whether floodwatch can use its readings."""

    notation: str
    station: str
    ea_parameter: str  # "level", "flow", "rainfall", …
    qualifier: str  # "stage", "downstage", "tipping_bucket_raingauge", "" …
    value_type: str  # "i" instantaneous, "t" total, "Event", "Cumulative_Total", "Mean" …
    period_s: int | None  # None where the notation says "Unspecified"
    unit_name: str  # the EA unit, e.g. "mASD", "m3_s", "---"
    parameter: Parameter | None  # None: not a parameter/qualifier/value type floodwatch takes
    factor_to_si: float | None  # None: unit unknown or not fitting the parameter
    datum: str | None  # "ASD" or "AOD" where the unit says so

    @property
    def usable(self) -> bool:
        return self.parameter is not None and self.factor_to_si is not None

    @property
    def skip_reason(self) -> str | None:
        if self.parameter is None:
            return (
                f"parameter {self.ea_parameter!r} (qualifier {self.qualifier!r}, value type "
                f"{self.value_type!r}) is not one floodwatch takes"
            )
        if self.factor_to_si is None:
            return f"unit {self.unit_name!r} is unknown or does not fit {self.parameter}"
        return None


@dataclass(frozen=True, slots=True)
class FloodWarning:
    """One EA flood alert or warning (``/id/floods``)."""

    id: str  # the EA flood id, e.g. "93474"
    flood_area_id: str  # e.g. "031WAF114"
    area_name: str  # the flood area's description, e.g. "Severn Vyrnwy Confluence"
    severity_level: int  # 1 (most severe) … 4 (no longer in force)
    message: str
    raised_at: datetime  # UTC
    severity_changed_at: datetime | None  # UTC
    message_changed_at: datetime | None  # UTC
    is_tidal: bool | None = None
    polygon_url: str | None = None  # the area's GeoJSON polygon, to be fetched separately

    @property
    def severity(self) -> str:
        return SEVERITY_MEANING[self.severity_level]


# --------------------------------------------------------------------------- public API


def measure_info(notation: str) -> MeasureInfo:
    """Read a measure notation (or measure URL); raise InputError if it has not the EA shape."""
    notation = _last_segment(notation)
    if notation.endswith("----"):  # unit "---" (unknown)
        rest, unit = notation[:-4], "---"
    else:
        rest, _, unit = notation.rpartition("-")
    parts = rest.rsplit("-", 4)  # the station itself may contain "-" (VCHURCH-T_TG_341)
    if len(parts) != 5 or not parts[0] or not parts[1] or not unit:
        raise InputError(
            f"EA measure notation {notation!r} is not station-parameter-qualifier-"
            "valuetype-period-unit"
        )
    station, ea_parameter, qualifier, value_type, period_text = parts
    period_match = _PERIOD.match(period_text)
    period_s = (
        int(period_match.group(1)) * _PERIOD_SECONDS[period_match.group(2)]
        if period_match
        else None
    )
    parameter = _parameter(ea_parameter, qualifier, value_type, period_s)
    si_unit, factor, datum = _UNITS.get(unit.replace("/", "_"), (None, None, None))
    fits = parameter is not None and si_unit == SI_UNIT[parameter]
    return MeasureInfo(
        notation=notation,
        station=station,
        ea_parameter=ea_parameter,
        qualifier=qualifier,
        value_type=value_type,
        period_s=period_s,
        unit_name=unit,
        parameter=parameter,
        factor_to_si=factor if fits else None,
        datum=datum if fits else None,
    )


def parse(payload: bytes, *, name: str = "EA payload") -> list[Observation]:
    """Observations in a readings, measures or station response (see the module docstring)."""
    document = _load(payload, name)
    observations: list[Observation] = []
    for where, reading, measure in _readings(_items(document, name), name):
        info = measure_info(_measure_notation(reading, measure, where))
        if not info.usable:
            continue
        observations.append(_observation(reading, info, where))
    return observations


def stations(payload: bytes, *, name: str = "EA payload") -> list[StationInfo]:
    """The stations of a ``/id/stations`` response (list or single)."""
    result: list[StationInfo] = []
    for index, item in enumerate(_items(_load(payload, name), name)):
        where = f"{name}: items[{index}]"
        code = _text(item.get("notation")) or _last_segment(_text(item.get("@id")) or "")
        if not code:
            raise InputError(f"{where}: station has no notation or @id")
        result.append(
            StationInfo(
                code=code,
                name=_text(item.get("label")) or code,
                lon=_coordinate(item.get("long"), f"{where}.long"),
                lat=_coordinate(item.get("lat"), f"{where}.lat"),
                river=_text(item.get("riverName")),
                kind=_station_kind(item.get("measures")),
                source=SOURCE,
            )
        )
    return result


def flood_warnings(payload: bytes, *, name: str = "EA payload") -> list[FloodWarning]:
    """The flood alerts and warnings of an ``/id/floods`` response (list or single)."""
    result: list[FloodWarning] = []
    for index, item in enumerate(_items(_load(payload, name), name)):
        where = f"{name}: items[{index}]"
        level = item.get("severityLevel")
        if isinstance(level, bool) or level not in SEVERITY_MEANING:
            raise InputError(f"{where}.severityLevel: {level!r} is not 1, 2, 3 or 4")
        area = item.get("floodArea")
        area = area if isinstance(area, dict) else {}
        raised = _uk_time(item.get("timeRaised"), f"{where}.timeRaised")
        if raised is None:
            raise InputError(f"{where}.timeRaised is missing")
        is_tidal = item.get("isTidal")
        result.append(
            FloodWarning(
                id=_last_segment(_text(item.get("@id")) or ""),
                flood_area_id=_text(item.get("floodAreaID")) or _text(area.get("notation")) or "",
                area_name=_text(item.get("description")) or _text(area.get("label")) or "",
                severity_level=int(level),
                message=_text(item.get("message")) or "",
                raised_at=raised,
                severity_changed_at=_uk_time(
                    item.get("timeSeverityChanged"), f"{where}.timeSeverityChanged"
                ),
                message_changed_at=_uk_time(
                    item.get("timeMessageChanged"), f"{where}.timeMessageChanged"
                ),
                is_tidal=is_tidal if isinstance(is_tidal, bool) else None,
                polygon_url=_text(area.get("polygon")),
            )
        )
    return result


# --------------------------------------------------------------------------- helpers


def _load(payload: bytes, name: str) -> dict[str, Any]:
    if payload[:2] == b"\x1f\x8b":
        try:
            payload = gzip.decompress(payload)
        except (OSError, EOFError) as exc:
            raise InputError(f"{name}: gzip data is corrupt ({exc})") from exc
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{name}: not valid JSON ({exc})") from exc
    if not isinstance(document, dict) or "items" not in document:
        raise InputError(f"{name}: not an EA API response (no top-level 'items')")
    return document


def _items(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """``items`` is an object for a single resource, an array for a list."""
    items = document["items"]
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InputError(f"{name}: 'items' is neither an object nor an array of objects")
    return items


def _readings(
    items: list[dict[str, Any]], name: str
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(where, reading, its measure if embedded) for every reading found in the items."""
    for index, item in enumerate(items):
        where = f"{name}: items[{index}]"
        if "dateTime" in item:  # a reading
            yield where, item, None
        elif "measures" in item:  # a station with embedded measures (object or array)
            measures = item["measures"]
            measures = [measures] if isinstance(measures, dict) else measures or []
            for m_index, measure in enumerate(measures):
                if isinstance(measure, dict) and isinstance(measure.get("latestReading"), dict):
                    yield f"{where}.measures[{m_index}]", measure["latestReading"], measure
        elif isinstance(item.get("latestReading"), dict):  # a measure; a URL string = no value
            yield where, item["latestReading"], item


def _measure_notation(
    reading: dict[str, Any], measure: dict[str, Any] | None, where: str
) -> str:
    embedded = reading.get("measure")
    if isinstance(embedded, dict):  # a reading may embed its measure object
        embedded = embedded.get("notation") or embedded.get("@id")
    for candidate in (
        embedded,
        measure and measure.get("notation"),
        measure and measure.get("@id"),
    ):
        text = _text(candidate)
        if text:
            return text
    raise InputError(f"{where}: reading names no measure")


def _observation(reading: dict[str, Any], info: MeasureInfo, where: str) -> Observation:
    assert info.parameter is not None and info.factor_to_si is not None
    observed_at = _utc_time(reading.get("dateTime"), f"{where}.dateTime")
    qualifiers = [f"measure:{info.notation}"]
    if info.datum:
        qualifiers.append(f"datum:{info.datum}")
    if info.parameter is Parameter.RAINFALL and info.period_s is not None:
        qualifiers.append(f"period_s:{info.period_s}")
    flags: set[Flag] = set()
    raw = reading.get("value")
    value = _value(raw, f"{where}.value")
    if value is None:
        flags.add(Flag.MISSING)
        if isinstance(raw, list):
            flags.add(Flag.SUSPECT)
            qualifiers.append(f"ea_value:{json.dumps(raw)}")
    return Observation(
        station=info.station,
        parameter=info.parameter,
        observed_at=observed_at,
        value=None if value is None else value * info.factor_to_si,
        unit=SI_UNIT[info.parameter],
        source=SOURCE,
        flags=frozenset(flags),
        qualifiers=tuple(qualifiers),
    )


def _value(raw: Any, where: str) -> float | None:
    if isinstance(raw, list):
        values = {_value(element, where) for element in raw}
        return values.pop() if len(values) == 1 else None
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise InputError(f"{where}: {raw!r} is not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{where}: {raw!r} is not a number") from exc
    if not math.isfinite(value):
        raise InputError(f"{where}: {raw!r} is not a finite number")
    return value


def _parameter(
    ea_parameter: str, qualifier: str, value_type: str, period_s: int | None
) -> Parameter | None:
    parameter = _PARAMETERS.get(ea_parameter)
    if parameter is Parameter.WATER_LEVEL:
        ok = qualifier.lower() in _LEVEL_QUALIFIERS and value_type == "i"
    elif parameter is Parameter.DISCHARGE:
        ok = value_type == "i"
    elif parameter is Parameter.RAINFALL:
        ok = value_type == "t" and period_s is not None
    else:
        ok = False
    return parameter if ok else None


def _station_kind(measures: Any) -> str:
    measures = [measures] if isinstance(measures, dict) else measures
    if not isinstance(measures, list) or not measures:
        return "river_gauge"
    parameters = {m.get("parameter") for m in measures if isinstance(m, dict)}
    return "rain_gauge" if parameters == {"rainfall"} else "river_gauge"


def _utc_time(raw: Any, where: str) -> datetime:
    text = _text(raw)
    if text is None:
        raise InputError(f"{where} is missing")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        raise InputError(f"{where}: {text!r} has no time zone (readings must be UTC)")
    return moment.astimezone(UTC)


def _uk_time(raw: Any, where: str) -> datetime | None:
    """A flood-warning time: UK local time when it has no zone."""
    text = _text(raw)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InputError(f"{where}: {text!r} is not an ISO 8601 time") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UK_LOCAL_TIME)
    return moment.astimezone(UTC)


def _text(raw: Any) -> str | None:
    """A string field that may come as an array (``label``, ``stationReference`` …): the first."""
    if isinstance(raw, list):
        raw = next((element for element in raw if element not in (None, "")), None)
    if raw is None or raw == "":
        return None
    return str(raw)


def _coordinate(raw: Any, where: str) -> float | None:
    """``lat``/``long`` may be arrays: kept when the elements agree, else None (not guessed)."""
    if raw is None:
        return None
    values = {_value(element, where) for element in raw} if isinstance(raw, list) else {
        _value(raw, where)
    }
    return values.pop() if len(values) == 1 else None


def _last_segment(url_or_notation: str) -> str:
    return url_or_notation.rstrip("/").rsplit("/", 1)[-1]
