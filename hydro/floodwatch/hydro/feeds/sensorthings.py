"""OGC SensorThings API (STA 1.0/1.1) responses, e.g. USGS ``labs.waterdata.usgs.gov/sta`` or a
FROST server.

Pure parsers: a response body (bytes) in, normalised records out. No network, no clock.

* :func:`parse_observations` reads an Observations page (``Datastreams(id)/Observations``); the
  caller says which station, parameter and unit (the Datastream's ``unitOfMeasurement``) it is.
* :func:`next_link` gives ``@iot.nextLink`` (or, for a single Datastream with expanded
  Observations, ``Observations@iot.nextLink``), ``None`` on the last page.
* :func:`datastreams` describes the Datastreams of a Things or Datastreams response (see below).
* :func:`parse` is the convenience behind ``floodwatch feeds parse --kind sensorthings FILE``.
  It accepts (1) a Datastream with expanded Observations
  (``Datastreams(id)?$expand=Observations,Thing,ObservedProperty``), a Datastreams page or a
  Thing / Things page whose Datastreams carry expanded Observations; each Datastream's
  station, parameter and unit are taken from it (Datastreams of a parameter floodwatch does not
  know are skipped; a known parameter in an unknown unit is an error); or (2) an Observations
  page, for which ``station``, ``parameter`` and ``unit`` must be given. Given with (1), they
  override what each Datastream says. Entities without expanded Observations contribute
  nothing (a Thing alone gives an empty list).

Decisions a caller must know:

* Station code: the Thing's ``@iot.id`` as text, without a ``USGS-`` prefix (``USGS-09380000``
  → ``09380000``, the code the NWIS parser gives). Without a Thing (not expanded), ``parse``
  uses the Datastream's ``@iot.id`` and :func:`datastreams` reports ``station=None``.
* Parameter: USGS ``properties.ParameterCode`` (00065, 00060, 00045) first, else the
  ObservedProperty's name if it is one of a few unambiguous names (``water level``, ``gage
  height``, ``discharge``, ``streamflow``, ``precipitation``, ``rainfall`` …). Anything else is
  ``None``: not guessed.
* Units are converted only from the symbols or names in :data:`UNIT_TO_SI` (``ft``, ``ft^3/s``,
  ``m``, ``cm``, ``l/s``, ``in``, UCUM ``[ft_i]`` …). ``---``, an empty unit or anything else is
  refused: :class:`DatastreamInfo` says ``si_factor=None`` with a ``problem``, and parsing
  observations in such a unit raises :class:`InputError`.
* Time: ``phenomenonTime`` (an instant, or an interval ``start/end`` → its **end**), else
  ``resultTime`` when phenomenonTime is absent. A time without a zone is an error.
* ``result``: a number or a numeric string; ``null`` → ``value=None`` + ``Flag.MISSING``;
  anything else is an error. ``resultQuality`` (a string, or an object with ``quality``) is kept
  in ``qualifiers``: good/ok/verified/approved → no flag, provisional/unverified/raw →
  PROVISIONAL, estimated → ESTIMATED, anything else → SUSPECT.
* Object-or-array fields (``Datastreams``, ``Observations``, ``Thing``, ``ObservedProperty``)
  are accepted either way.
* USGS operational thresholds (``properties.Thresholds``) are read into
  :class:`Threshold`; an end time in year 9999 means open-ended (``ends_at=None``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter
from floodwatch.hydro.feeds.usgs_nwis import USGS_PARAMETERS, number, station_code_from_id

SOURCE = "sensorthings"

_LENGTH_TO_M = {"m": 1.0, "cm": 0.01, "mm": 0.001, "ft": 0.3048, "[ft_i]": 0.3048, "in": 0.0254}
_LENGTH_TO_M |= {"[in_i]": 0.0254, "metre": 1.0, "meter": 1.0, "metres": 1.0, "meters": 1.0}
_LENGTH_TO_M |= {"feet": 0.3048, "foot": 0.3048, "centimetre": 0.01, "centimeter": 0.01}
_RAIN_TO_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4, "[in_i]": 25.4, "millimetre": 1.0}
_RAIN_TO_MM |= {"millimeter": 1.0, "millimetres": 1.0, "millimeters": 1.0, "inches": 25.4}
_FT3_S = 0.028316846592
_FLOW_TO_M3_S = {"m3/s": 1.0, "m^3/s": 1.0, "m³/s": 1.0, "m3.s-1": 1.0, "m3 s-1": 1.0}
_FLOW_TO_M3_S |= {"l/s": 0.001, "L/s": 0.001, "ft3/s": _FT3_S, "ft^3/s": _FT3_S, "cfs": _FT3_S}
_FLOW_TO_M3_S |= {"[cft_i]/s": _FT3_S, "[ft_i]3/s": _FT3_S, "cubic feet per second": _FT3_S}
_FLOW_TO_M3_S |= {"cubic metres per second": 1.0, "cubic meters per second": 1.0}

#: Parameter → {unit symbol or lower-case unit name: factor to the SI unit}.
UNIT_TO_SI: dict[Parameter, dict[str, float]] = {
    Parameter.WATER_LEVEL: _LENGTH_TO_M,
    Parameter.WATER_DEPTH: _LENGTH_TO_M,
    Parameter.RESERVOIR_LEVEL: _LENGTH_TO_M,
    Parameter.DISCHARGE: _FLOW_TO_M3_S,
    Parameter.RESERVOIR_INFLOW: _FLOW_TO_M3_S,
    Parameter.RESERVOIR_OUTFLOW: _FLOW_TO_M3_S,
    Parameter.RAINFALL: _RAIN_TO_MM,
}

#: ObservedProperty names (lower case) that say the parameter without doubt.
OBSERVED_PROPERTIES: dict[str, Parameter] = {
    "water level": Parameter.WATER_LEVEL,
    "water_level": Parameter.WATER_LEVEL,
    "river level": Parameter.WATER_LEVEL,
    "gage height": Parameter.WATER_LEVEL,
    "gauge height": Parameter.WATER_LEVEL,
    "stage": Parameter.WATER_LEVEL,
    "discharge": Parameter.DISCHARGE,
    "streamflow": Parameter.DISCHARGE,
    "stream flow": Parameter.DISCHARGE,
    "river discharge": Parameter.DISCHARGE,
    "precipitation": Parameter.RAINFALL,
    "rainfall": Parameter.RAINFALL,
    "water depth": Parameter.WATER_DEPTH,
}

_GOOD = frozenset({"good", "ok", "verified", "approved", "a"})
_PROVISIONAL = frozenset({"provisional", "unverified", "raw", "p"})
_ESTIMATED = frozenset({"estimated", "e"})


@dataclass(frozen=True, slots=True)
class Threshold:
    """A USGS operational threshold (``Datastream.properties.Thresholds[].Periods[]``)."""

    name: str
    kind: str  # "above" or "below"; the source's Type otherwise
    value: float  # in the Datastream's unit
    value_si: float | None  # None when the unit is not known
    starts_at: datetime | None
    ends_at: datetime | None  # None: open-ended (USGS writes 9999-12-31)


@dataclass(frozen=True, slots=True)
class DatastreamInfo:
    """What a Datastream says about itself, and whether floodwatch can use it."""

    id: str
    name: str
    description: str
    station: str | None  # from the Thing; None when the Thing is not in the response
    parameter: Parameter | None  # None: not recognised (never guessed)
    unit: str | None  # the source's unit symbol (or name)
    si_factor: float | None  # None: unit unknown for the parameter (never guessed)
    problem: str | None  # why it cannot be used; None when usable
    parameter_code: str | None = None  # USGS ParameterCode, when given
    observed_property: str | None = None
    observations_link: str | None = None
    thresholds: tuple[Threshold, ...] = ()

    @property
    def usable(self) -> bool:
        return self.problem is None


def si_factor(parameter: Parameter, unit: str | None) -> float | None:
    """The factor from a STA unit (symbol or name) to the SI unit; ``None`` if not known."""
    if unit is None:
        return None
    table = UNIT_TO_SI.get(parameter, {})
    text = unit.strip()
    return table.get(text, table.get(text.lower()))


def parse_observations(
    payload: bytes,
    *,
    station: str,
    parameter: Parameter,
    unit: str,
    source: str = SOURCE,
    name: str = "SensorThings payload",
) -> list[Observation]:
    """The Observations of one page of a Datastream, in ``unit`` (the Datastream's unit)."""
    document = _load(payload, name)
    if isinstance(document, dict) and "value" in document:
        items = document["value"]
    elif isinstance(document, list):
        items = document
    elif isinstance(document, dict) and "result" in document:
        items = [document]
    else:
        raise InputError(f"{name}: not an Observations page (no 'value' array)")
    if not isinstance(items, list):
        raise InputError(f"{name}: 'value' is not an array")
    return _observations(items, station, parameter, unit, source, f"{name}: value")


def next_link(payload: bytes, *, name: str = "SensorThings payload") -> str | None:
    """``@iot.nextLink`` of a page (or ``Observations@iot.nextLink`` of one Datastream)."""
    document = _load(payload, name)
    if not isinstance(document, dict):
        return None
    link = document.get("@iot.nextLink")
    if link is None and _entity_kind(document) == "datastream":
        link = document.get("Observations@iot.nextLink")
    if link is not None and (not isinstance(link, str) or not link):
        raise InputError(f"{name}: @iot.nextLink is not a URL")
    return link


def datastreams(payload: bytes, *, name: str = "SensorThings payload") -> list[DatastreamInfo]:
    """The Datastreams in a Datastream, Datastreams page, Thing or Things page."""
    return [_datastream_info(ds, thing, where) for where, thing, ds in _walk(payload, name)]


def parse(
    payload: bytes,
    *,
    station: str | None = None,
    parameter: Parameter | None = None,
    unit: str | None = None,
    source: str = SOURCE,
    name: str = "SensorThings payload",
) -> list[Observation]:
    """Observations from a Datastream (or Things/Datastreams) with expanded Observations, or
    from an Observations page given ``station``, ``parameter`` and ``unit``. See the module
    docstring."""
    document = _load(payload, name)
    if _is_observations_page(document):
        if station is None or parameter is None or unit is None:
            raise InputError(
                f"{name}: an Observations page does not say its station, parameter and unit; "
                "give them, or fetch the Datastream with $expand=Observations,Thing"
            )
        return parse_observations(
            payload, station=station, parameter=parameter, unit=unit, source=source, name=name
        )
    observations: list[Observation] = []
    for where, thing, ds in _walk(payload, name, document):
        info = _datastream_info(ds, thing, where)
        ds_parameter = parameter or info.parameter
        ds_unit = unit or info.unit
        if ds_parameter is None:
            continue  # a property floodwatch does not follow (temperature, conductance …)
        if si_factor(ds_parameter, ds_unit) is None:
            raise InputError(f"{where}: {info.problem or f'unit {ds_unit!r} is not known'}")
        items = _as_list(ds.get("Observations"), f"{where}.Observations")
        observations.extend(
            _observations(
                items,
                station or info.station or info.id,
                ds_parameter,
                str(ds_unit),
                source,
                f"{where}.Observations",
            )
        )
    return observations


# --- internals -------------------------------------------------------------------------------


def _load(payload: bytes, name: str) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{name}: not valid JSON ({exc})") from exc


def _entity_kind(entity: Any) -> str | None:
    if not isinstance(entity, dict):
        return None
    if "result" in entity:
        return "observation"
    if "unitOfMeasurement" in entity:
        return "datastream"
    if "Datastreams" in entity or "Datastreams@iot.navigationLink" in entity:
        return "thing"
    return None


def _is_observations_page(document: Any) -> bool:
    items = document.get("value") if isinstance(document, dict) else document
    if isinstance(document, dict) and "result" in document:
        return True
    return isinstance(items, list) and any(_entity_kind(i) == "observation" for i in items)


def _walk(
    payload: bytes, name: str, document: Any = None
) -> Iterator[tuple[str, dict[str, Any] | None, dict[str, Any]]]:
    """(where, thing or None, datastream) for every Datastream in the response."""
    document = _load(payload, name) if document is None else document
    items: list[tuple[str, Any]]
    if isinstance(document, dict) and isinstance(document.get("value"), list):
        items = [(f"{name}: value[{i}]", item) for i, item in enumerate(document["value"])]
    elif isinstance(document, list):
        items = [(f"{name}: [{i}]", item) for i, item in enumerate(document)]
    else:
        items = [(name, document)]
    for where, item in items:
        kind = _entity_kind(item)
        if kind == "datastream":
            yield where, _first(item.get("Thing"), f"{where}.Thing"), item
        elif kind == "thing":
            streams = _as_list(item.get("Datastreams"), f"{where}.Datastreams")
            for ds_index, ds in enumerate(streams):
                ds_where = f"{where}.Datastreams[{ds_index}]"
                if _entity_kind(ds) != "datastream":
                    raise InputError(f"{ds_where} is not a Datastream (no unitOfMeasurement)")
                yield ds_where, item, ds
        elif kind == "observation":
            raise InputError(f"{where}: an Observation where a Thing or Datastream was expected")
        else:
            raise InputError(f"{where}: not a SensorThings Thing or Datastream")


def _datastream_info(
    ds: dict[str, Any], thing: dict[str, Any] | None, where: str
) -> DatastreamInfo:
    raw_properties = ds.get("properties")
    properties: dict[str, Any] = raw_properties if isinstance(raw_properties, dict) else {}
    raw_code = properties.get("ParameterCode")
    code = None if raw_code is None else str(raw_code)
    observed = _first(ds.get("ObservedProperty"), f"{where}.ObservedProperty")
    observed_name = _text(observed.get("name")) if observed else None
    parameter = USGS_PARAMETERS.get(code or "")
    if parameter is None and observed_name:
        parameter = OBSERVED_PROPERTIES.get(observed_name.strip().lower())
    uom = ds.get("unitOfMeasurement")
    if not isinstance(uom, dict):
        raise InputError(f"{where}.unitOfMeasurement is not an object")
    spellings = [t for t in (_text(uom.get("symbol")), _text(uom.get("name"))) if t]
    unit = spellings[0] if spellings else None
    factor = None
    if parameter is not None:
        for spelling in spellings:
            factor = si_factor(parameter, spelling)
            if factor is not None:
                unit = spelling  # the symbol, or the name when only the name is known
                break
    problem = None
    if parameter is None:
        said = [f"ParameterCode {code}" if code else "", observed_name or ""]
        what = " / ".join(t for t in said if t) or "no ParameterCode or ObservedProperty"
        problem = f"parameter not recognised ({what})"
    elif factor is None:
        problem = f"unit {unit!r} is not known for {parameter} (refusing to guess)"
    station = None
    if thing is not None and thing.get("@iot.id") is not None:
        station = station_code_from_id(str(thing["@iot.id"]))
    return DatastreamInfo(
        id=str(ds.get("@iot.id", "")),
        name=_text(ds.get("name")) or "",
        description=_text(ds.get("description")) or "",
        station=station,
        parameter=parameter,
        unit=unit,
        si_factor=factor,
        problem=problem,
        parameter_code=code,
        observed_property=observed_name,
        observations_link=_text(ds.get("Observations@iot.navigationLink")),
        thresholds=_thresholds(properties.get("Thresholds"), parameter, factor, where),
    )


def _observations(
    items: list[Any], station: str, parameter: Parameter, unit: str, source: str, where: str
) -> list[Observation]:
    factor = si_factor(parameter, unit)
    if factor is None:
        raise InputError(f"{where}: unit {unit!r} is not known for {parameter} (refusing to guess)")
    result: list[Observation] = []
    for index, item in enumerate(items):
        item_where = f"{where}[{index}]"
        if _entity_kind(item) != "observation":
            raise InputError(f"{item_where} is not an Observation (no result)")
        value = _result(item["result"], f"{item_where}.result")
        qualifiers = _quality(item.get("resultQuality"))
        flags = _quality_flags(qualifiers)
        if value is None:
            flags |= {Flag.MISSING}
        result.append(
            Observation(
                station=station,
                parameter=parameter,
                observed_at=_observed_at(item, item_where),
                value=None if value is None else value * factor,
                unit=SI_UNIT[parameter],
                source=source,
                flags=flags,
                qualifiers=qualifiers,
            )
        )
    return result


def _result(raw: Any, where: str) -> float | None:
    return None if raw is None else number(raw, where)


def _observed_at(item: dict[str, Any], where: str) -> datetime:
    phenomenon = item.get("phenomenonTime")
    if phenomenon is not None:
        return _instant(phenomenon, f"{where}.phenomenonTime")
    result_time = item.get("resultTime")
    if result_time is not None:
        return _instant(result_time, f"{where}.resultTime")
    raise InputError(f"{where}: neither phenomenonTime nor resultTime")


def _instant(raw: Any, where: str) -> datetime:
    """An ISO 8601 instant, or the end of an interval ``start/end``, as aware UTC."""
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(f"{where}: {raw!r} is not a time")
    text = raw.strip().rsplit("/", 1)[-1]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InputError(f"{where}: {raw!r} is not an ISO 8601 time or interval") from None
    if moment.tzinfo is None:
        raise InputError(f"{where}: {raw!r} has no time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{where}: {raw!r} is out of range") from None


def _quality(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, dict):
        raw = raw.get("quality")
    if isinstance(raw, list):
        return tuple(str(q) for q in raw if q is not None and str(q).strip())
    if raw is None or not str(raw).strip():
        return ()
    return (str(raw),)


def _quality_flags(qualifiers: tuple[str, ...]) -> frozenset[Flag]:
    flags: set[Flag] = set()
    for text in qualifiers:
        word = text.strip().lower()
        if word in _PROVISIONAL:
            flags.add(Flag.PROVISIONAL)
        elif word in _ESTIMATED:
            flags.add(Flag.ESTIMATED)
        elif word not in _GOOD:
            flags.add(Flag.SUSPECT)
    return frozenset(flags)


def _thresholds(
    raw: Any, parameter: Parameter | None, factor: float | None, where: str
) -> tuple[Threshold, ...]:
    if not isinstance(raw, list):
        return ()
    found: list[Threshold] = []
    for index, threshold in enumerate(raw):
        if not isinstance(threshold, dict):
            continue
        kind = str(threshold.get("Type") or "")
        kind = {"ThresholdAbove": "above", "ThresholdBelow": "below"}.get(kind, kind)
        periods = threshold.get("Periods")
        for p_index, period in enumerate(periods if isinstance(periods, list) else []):
            p_where = f"{where}.properties.Thresholds[{index}].Periods[{p_index}]"
            if not isinstance(period, dict) or period.get("ReferenceValue") is None:
                continue
            value = _result(period["ReferenceValue"], f"{p_where}.ReferenceValue")
            if value is None:
                continue
            found.append(
                Threshold(
                    name=str(threshold.get("Name") or ""),
                    kind=kind,
                    value=value,
                    value_si=None if factor is None else value * factor,
                    starts_at=_period_time(period.get("StartTime"), f"{p_where}.StartTime"),
                    ends_at=_period_time(period.get("EndTime"), f"{p_where}.EndTime"),
                )
            )
    return tuple(found)


def _period_time(raw: Any, where: str) -> datetime | None:
    if raw is None or (isinstance(raw, str) and raw.startswith("9999")):
        return None  # open-ended
    return _instant(raw, where)


def _as_list(raw: Any, where: str) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [raw]
    if isinstance(raw, list):
        return raw
    raise InputError(f"{where} is neither an object nor an array")


def _first(raw: Any, where: str) -> dict[str, Any] | None:
    items = _as_list(raw, where)
    if not items:
        return None
    if not isinstance(items[0], dict):
        raise InputError(f"{where} is not an object")
    return items[0]


def _text(raw: Any) -> str | None:
    if raw is None or isinstance(raw, dict | list):
        return None
    text = str(raw).strip()
    return text or None
