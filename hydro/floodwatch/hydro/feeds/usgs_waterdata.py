"""USGS Water Data OGC API (``api.waterdata.usgs.gov/ogcapi/v1``), GeoJSON responses.

Pure parsers: a response body (bytes) in, normalised records out. No network, no clock.

* :func:`parse` takes one page of an observation collection: ``continuous`` (the successor of
  NWIS ``iv``), ``latest-continuous``, ``daily``, ``latest-daily``, ``field-measurements`` or
  ``peaks``. A page of another collection (``monitoring-locations``, ``time-series-metadata``
  …) raises :class:`InputError`; an empty FeatureCollection gives an empty list.
* :func:`next_link` gives the ``href`` of ``links[rel=next]`` (``None`` on the last page).
* :func:`stations` takes a ``monitoring-locations`` page, or an observation page (then each
  station is named by its code: such pages carry no names). Kind: ``rain_gauge`` for site type
  ``AT``, ``river_gauge`` for surface-water sites (``ST*``, ``LK``, ``ES``, ``WE``, ``SP``),
  ``other`` for the rest (wells …).

Decisions a caller must know (parameters, units, statistics and qualifier flags follow
:mod:`floodwatch.hydro.feeds.usgs_nwis`):

* Station code: ``monitoring_location_id`` without its ``USGS-`` prefix (``USGS-06904500`` →
  ``06904500``), the code the NWIS parser gives. Other agencies' ids are kept whole.
* Several time series for one site and parameter in one page (several sensors, or primary and
  secondary series): the station code is suffixed with the series id,
  ``06904500:b36569a0067443ac9425e850a3ac7baa``, only when there is more than one. Request the
  primary series (or one ``time_series_id``) to keep bare codes.
* ``time`` is UTC (``+00:00``). A date-only ``time`` is combined with ``time_of_day`` when the
  collection gives one (field measurements, peaks); otherwise (daily values) it becomes the
  end of that day (next midnight) at ``day_utc_offset`` (default UTC: the page does not say the
  site's time zone).
* ``value`` is a string; ``null`` or ``-999999`` → ``value=None`` + ``Flag.MISSING``.
* ``approval_status`` ``Approved`` → nothing; any other status (``Provisional`` …) →
  PROVISIONAL. ``qualifier`` (null, a string or a list) is mapped like NWIS qualifiers (``ICE``,
  ``EQUIPMENT`` … → SUSPECT). The status and qualifiers are kept in ``Observation.qualifiers``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, TypeVar

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter, StationInfo
from floodwatch.hydro.feeds.usgs_nwis import (
    USGS_NO_DATA,
    USGS_PARAMETERS,
    end_of_day_utc,
    factor_to_si,
    keeps_statistic,
    load_json,
    number,
    qualifier_flags,
    station_code_from_id,
    utc_instant,
)

SOURCE = "usgs-waterdata"

T = TypeVar("T")

_REQUIRED = ("monitoring_location_id", "parameter_code", "time", "value", "unit_of_measure")
_SERIES_KEYS = ("time_series_id", "field_measurements_series_id")


@dataclass(frozen=True, slots=True)
class _Feature:
    site: str
    parameter: Parameter
    series: str | None
    properties: dict[str, Any]
    geometry: Any
    where: str


def parse(
    payload: bytes,
    *,
    day_utc_offset: timedelta = timedelta(0),
    name: str = "USGS Water Data payload",
) -> list[Observation]:
    """Observations in one page of an observation collection (see the module docstring)."""
    features = [f for f in _features(payload, name, _observation_feature) if f is not None]
    return [
        _observation(feature, station, day_utc_offset)
        for feature, station in _with_stations(features)
    ]


def next_link(payload: bytes, *, name: str = "USGS Water Data payload") -> str | None:
    """The URL of the next page (``links[rel=next].href``), or ``None``."""
    document = _collection(payload, name)
    links = document.get("links") or []
    if not isinstance(links, list):
        raise InputError(f"{name}: 'links' is not an array")
    for link in links:
        if isinstance(link, dict) and link.get("rel") == "next":
            href = link.get("href")
            if not isinstance(href, str) or not href:
                raise InputError(f"{name}: the next link has no href")
            return href
    return None


def stations(payload: bytes, *, name: str = "USGS Water Data payload") -> list[StationInfo]:
    """The stations of a ``monitoring-locations`` page (code, name, position, kind), or of an
    observation page: one per station code :func:`parse` gives, named by its code (the page
    carries no names)."""
    document = _collection(payload, name)
    features = document.get("features")
    first = features[0] if isinstance(features, list) and features else None
    properties = first.get("properties") if isinstance(first, dict) else None
    if isinstance(properties, dict) and "monitoring_location_name" in properties:
        return _features(payload, name, _station)
    observed = [f for f in _features(payload, name, _observation_feature) if f is not None]
    found: dict[str, tuple[_Feature, set[Parameter]]] = {}
    for feature, station in _with_stations(observed):
        found.setdefault(station, (feature, set()))[1].add(feature.parameter)
    result: list[StationInfo] = []
    for code, (feature, parameters) in found.items():
        lon, lat = _point(feature.geometry)
        kind = "rain_gauge" if parameters == {Parameter.RAINFALL} else "river_gauge"
        result.append(StationInfo(code=code, name=code, lon=lon, lat=lat, kind=kind, source=SOURCE))
    return result


def _with_stations(features: list[_Feature]) -> list[tuple[_Feature, str]]:
    """Each feature with its station code, suffixed with the series id when one site has
    several series of one parameter in the page."""
    series_per_site: dict[tuple[str, Parameter], set[str | None]] = defaultdict(set)
    for feature in features:
        series_per_site[(feature.site, feature.parameter)].add(feature.series)
    return [
        (f, f"{f.site}:{f.series}" if len(series_per_site[(f.site, f.parameter)]) > 1 else f.site)
        for f in features
    ]


def _collection(payload: bytes, name: str) -> dict[str, Any]:
    document = load_json(payload, name)
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InputError(f"{name}: not a GeoJSON FeatureCollection")
    return document


def _features(
    payload: bytes, name: str, read: Callable[[dict[str, Any], dict[str, Any], str], T]
) -> list[T]:
    features = _collection(payload, name).get("features")
    if not isinstance(features, list):
        raise InputError(f"{name}: 'features' is not an array")
    result: list[T] = []
    for index, feature in enumerate(features):
        where = f"{name}: features[{index}]"
        properties = feature.get("properties") if isinstance(feature, dict) else None
        if not isinstance(properties, dict):
            raise InputError(f"{where} has no properties object")
        result.append(read(feature, properties, where))
    return result


def _observation_feature(
    feature: dict[str, Any], properties: dict[str, Any], where: str
) -> _Feature | None:
    missing = [key for key in _REQUIRED if key not in properties]
    if missing:
        raise InputError(
            f"{where}: not an observation (no {', '.join(missing)}); "
            "parse takes continuous, daily, field-measurements or peaks pages"
        )
    parameter = USGS_PARAMETERS.get(str(properties["parameter_code"]))
    statistic = properties.get("statistic_id")
    if parameter is None or not keeps_statistic(parameter, statistic and str(statistic)):
        return None
    series = next((str(properties[k]) for k in _SERIES_KEYS if properties.get(k)), None)
    site = properties["monitoring_location_id"]
    if not isinstance(site, str) or not site:
        raise InputError(f"{where}.monitoring_location_id: {site!r} is not an id")
    return _Feature(
        station_code_from_id(site), parameter, series, properties, feature.get("geometry"), where
    )


def _observation(feature: _Feature, station: str, day_utc_offset: timedelta) -> Observation:
    properties, where = feature.properties, feature.where
    status = properties.get("approval_status")
    qualifiers = _qualifiers(properties.get("qualifier"), where)
    flags = qualifier_flags(qualifiers)
    if status is not None:
        if str(status).strip().lower() != "approved":
            flags |= {Flag.PROVISIONAL}
        qualifiers = (str(status), *qualifiers)
    raw = properties["value"]
    value: float | None = None
    if raw is None or number(raw, f"{where}.value") == USGS_NO_DATA:
        flags |= {Flag.MISSING}
    else:
        unit = str(properties["unit_of_measure"])
        value = number(raw, f"{where}.value") * factor_to_si(feature.parameter, unit, where)
    return Observation(
        station=station,
        parameter=feature.parameter,
        observed_at=_observed_at(properties, day_utc_offset, where),
        value=value,
        unit=SI_UNIT[feature.parameter],
        source=SOURCE,
        flags=flags,
        qualifiers=qualifiers,
    )


def _observed_at(properties: dict[str, Any], day_utc_offset: timedelta, where: str) -> datetime:
    text = properties["time"]
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}.time: {text!r} is not a time")
    if "T" in text:
        return utc_instant(text, f"{where}.time")
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{where}.time: {text!r} is not an ISO 8601 date") from None
    time_of_day = properties.get("time_of_day")
    if not time_of_day:
        return end_of_day_utc(day, day_utc_offset)
    try:
        clock = time.fromisoformat(str(time_of_day))
    except ValueError:
        raise InputError(f"{where}.time_of_day: {time_of_day!r} is not a time") from None
    if clock.tzinfo is None:
        raise InputError(f"{where}.time_of_day: {time_of_day!r} has no UTC offset")
    return utc_instant(datetime.combine(day, clock).isoformat(), f"{where}.time")


def _qualifiers(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw,) if raw.strip() else ()
    if isinstance(raw, list) and all(isinstance(q, str) for q in raw):
        return tuple(q for q in raw if q.strip())
    raise InputError(f"{where}.qualifier: {raw!r} is neither a string nor a list of strings")


def _station(feature: dict[str, Any], properties: dict[str, Any], where: str) -> StationInfo:
    location_id = feature.get("id") or properties.get("id")
    if not isinstance(location_id, str) or not location_id:
        raise InputError(f"{where}: a monitoring location without an id")
    if "monitoring_location_name" not in properties:
        raise InputError(f"{where}: not a monitoring location (no monitoring_location_name)")
    lon, lat = _point(feature.get("geometry"))
    return StationInfo(
        code=station_code_from_id(location_id),
        name=str(properties.get("monitoring_location_name") or location_id).strip(),
        lon=lon,
        lat=lat,
        kind=_kind(properties.get("site_type_code")),
        source=SOURCE,
    )


def _kind(site_type_code: Any) -> str:
    """USGS site type → station kind: AT (atmosphere) rain gauge; surface water river gauge."""
    code = str(site_type_code or "ST")
    if code == "AT":
        return "rain_gauge"
    if code.startswith(("ST", "LK", "ES", "WE", "SP")):
        return "river_gauge"
    return "other"


def _point(geometry: Any) -> tuple[float | None, float | None]:
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return None, None
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or len(coordinates) < 2:
        return None, None
    lon, lat = coordinates[0], coordinates[1]
    if all(isinstance(c, int | float) and math.isfinite(c) for c in (lon, lat)):
        return float(lon), float(lat)
    return None, None
