"""WaterML 2.0 (OGC) time series from USGS NWIS (``/nwis/iv`` or ``/nwis/dv`` with
``format=waterml,2.0``).

Pure parser: a response body (bytes) in, observations out. No network, no clock. It follows the
same rules as :mod:`floodwatch.hydro.feeds.usgs_nwis` (parameters, units, statistics, station
codes, qualifiers, source ``usgs-nwis``); what differs:

* Each ``om:OM_Observation`` is one series. Its site, parameter, time-series number and
  statistic come from its ``gml:id`` (``obs.USGS.01646500.00060.1.00003``), the parameter code
  also from ``om:observedProperty/@xlink:href`` (``parmCd=00060``).
* Several series for one site and parameter (several sensors): the station code is suffixed
  with the time-series number, ``01646500:1``, only when there is more than one.
* The unit and qualifiers of a point come from its own ``wml2:TVPMeasurementMetadata`` if it has
  them, else from ``wml2:defaultPointMetadata``.
* A point with no ``wml2:time`` is skipped (NWIS sends an empty first point). A point with a time
  but an empty or ``xsi:nil`` value is kept as ``value=None`` + ``Flag.MISSING``.
* Times with an offset are converted to UTC. A date-only time (daily values) becomes the end of
  that day (next midnight) at ``day_utc_offset``: WaterML 2.0 from NWIS does not say the
  site's time zone, so the default is UTC; pass the site's standard offset (e.g. ``-5 h``) to be
  exact. A date-time without an offset is an error.
* A document with a DTD (``<!DOCTYPE``) is refused.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter
from floodwatch.hydro.feeds.usgs_nwis import (
    SOURCE,
    USGS_PARAMETERS,
    end_of_day_utc,
    factor_to_si,
    keeps_statistic,
    number,
    qualifier_flags,
    station_code,
    utc_instant,
)

NS = {
    "wml2": "http://www.opengis.net/waterml/2.0",
    "om": "http://www.opengis.net/om/2.0",
    "gml": "http://www.opengis.net/gml/3.2",
    "swe": "http://www.opengis.net/swe/2.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
_GML_ID = f"{{{NS['gml']}}}id"
_HREF = f"{{{NS['xlink']}}}href"
_TITLE = f"{{{NS['xlink']}}}title"
_NIL = f"{{{NS['xsi']}}}nil"
#: ``obs.AGENCY.SITE.PARAM.TS.STAT`` as NWIS writes the observation's gml:id.
_OBS_ID = re.compile(
    r"^obs\.(?P<agency>[^.]+)\.(?P<site>[^.]+)\.(?P<param>\d{5})\.(?P<ts>[^.]+)\.(?P<stat>\d{5})$"
)
_PARM_CD = re.compile(r"parmCd=(\d{5})")


@dataclass(frozen=True, slots=True)
class _Series:
    element: ET.Element
    site: str
    parameter: Parameter
    series_number: str
    where: str


def parse_waterml2(
    payload: bytes,
    *,
    day_utc_offset: timedelta = timedelta(0),
    name: str = "WaterML 2.0 payload",
) -> list[Observation]:
    """Observations in a WaterML 2.0 collection (see the module docstring)."""
    root = _root(payload, name)
    series = list(_series(root, name))
    count = Counter((s.site, s.parameter) for s in series)
    observations: list[Observation] = []
    for one in series:
        station = one.site
        if count[(one.site, one.parameter)] > 1:
            station = f"{one.site}:{one.series_number}"
        observations.extend(_points(one, station, day_utc_offset))
    return observations


def _root(payload: bytes, name: str) -> ET.Element:
    head = payload[:4096] if isinstance(payload, bytes) else payload.encode()[:4096]
    if b"<!DOCTYPE" in head.upper():
        raise InputError(f"{name}: XML with a DTD is not accepted")
    try:
        return ET.fromstring(payload)
    except ET.ParseError as exc:
        raise InputError(f"{name}: not well-formed XML ({exc})") from exc


def _series(root: ET.Element, name: str) -> list[_Series]:
    if root.tag != f"{{{NS['wml2']}}}Collection":
        raise InputError(f"{name}: not a WaterML 2.0 document (root is {root.tag})")
    found: list[_Series] = []
    members = root.findall("wml2:observationMember/om:OM_Observation", NS)
    for index, element in enumerate(members):
        where = f"{name}: observationMember[{index}]"
        match = _OBS_ID.match(element.get(_GML_ID, ""))
        if match is None:
            raise InputError(f"{where}: gml:id {element.get(_GML_ID)!r} names no NWIS series")
        prop = element.find("om:observedProperty", NS)
        href = _PARM_CD.search(prop.get(_HREF, "")) if prop is not None else None
        code = href.group(1) if href else match["param"]
        parameter = USGS_PARAMETERS.get(code)
        if parameter is None or not keeps_statistic(parameter, match["stat"]):
            continue
        found.append(
            _Series(
                element=element,
                site=station_code(match["site"], match["agency"]),
                parameter=parameter,
                series_number=match["ts"],
                where=where,
            )
        )
    return found


def _points(series: _Series, station: str, day_utc_offset: timedelta) -> list[Observation]:
    timeseries = series.element.find("om:result/wml2:MeasurementTimeseries", NS)
    if timeseries is None:
        raise InputError(f"{series.where}: no om:result/wml2:MeasurementTimeseries")
    defaults = timeseries.find("wml2:defaultPointMetadata/wml2:DefaultTVPMeasurementMetadata", NS)
    default_unit = _unit(defaults)
    default_qualifiers = _qualifiers(defaults)
    observations: list[Observation] = []
    for index, tvp in enumerate(timeseries.findall("wml2:point/wml2:MeasurementTVP", NS)):
        where = f"{series.where}: point[{index}]"
        time_text = (tvp.findtext("wml2:time", default="", namespaces=NS) or "").strip()
        if not time_text:
            continue  # an empty TVP: nothing to place in time
        metadata = tvp.find("wml2:metadata/wml2:TVPMeasurementMetadata", NS)
        unit = _unit(metadata) or default_unit
        if unit is None:
            raise InputError(f"{where}: no wml2:uom, neither on the point nor by default")
        qualifiers = _qualifiers(metadata) or default_qualifiers
        flags = qualifier_flags(qualifiers)
        value: float | None = None
        value_element = tvp.find("wml2:value", NS)
        raw = (value_element.text or "").strip() if value_element is not None else ""
        if value_element is None or value_element.get(_NIL) == "true" or not raw:
            flags |= {Flag.MISSING}
        else:
            value = number(raw, f"{where}.value") * factor_to_si(series.parameter, unit, where)
        observations.append(
            Observation(
                station=station,
                parameter=series.parameter,
                observed_at=_observed_at(time_text, day_utc_offset, f"{where}.time"),
                value=value,
                unit=SI_UNIT[series.parameter],
                source=SOURCE,
                flags=flags,
                qualifiers=qualifiers,
            )
        )
    return observations


def _observed_at(text: str, day_utc_offset: timedelta, where: str) -> datetime:
    if "T" not in text:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise InputError(f"{where}: {text!r} is not an ISO 8601 date") from None
        return end_of_day_utc(day, day_utc_offset)
    return utc_instant(text, where)


def _unit(metadata: ET.Element | None) -> str | None:
    if metadata is None:
        return None
    uom = metadata.find("wml2:uom", NS)
    if uom is None:
        return None
    return (uom.get(_TITLE) or uom.get("code") or "").strip() or None


def _qualifiers(metadata: ET.Element | None) -> tuple[str, ...]:
    if metadata is None:
        return ()
    codes = (
        (q.findtext("swe:Category/swe:value", default="", namespaces=NS) or "").strip()
        for q in metadata.findall("wml2:qualifier", NS)
    )
    return tuple(code for code in codes if code)
