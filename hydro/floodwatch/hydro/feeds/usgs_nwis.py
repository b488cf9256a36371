"""USGS NWIS water services, WaterML-JSON (``waterservices.usgs.gov/nwis/iv`` and ``/nwis/dv``).

Pure parsers: a response body (bytes) in, normalised records out. No network, no clock.
:func:`parse` gives observations, :func:`stations` the sites they come from. WaterML 2.0 XML
from the same service is read by :mod:`floodwatch.hydro.feeds.waterml2`; the newer OGC API by
:mod:`floodwatch.hydro.feeds.usgs_waterdata`. Both reuse the USGS helpers defined here.

Decisions a caller must know:

* Kept parameter codes: ``00065`` gage height (ft) → water_level (m, × 0.3048), ``00060``
  discharge (ft3/s) → discharge (m3/s, × 0.028316846592), ``00045`` precipitation (in) →
  rainfall (mm, × 25.4). Other parameters are skipped. A kept parameter in a unit not listed
  in :data:`UNIT_TO_SI` raises :class:`InputError` (never guessed).
* Kept statistics: instantaneous (``00000``, or ``00011``) and, for daily values, the mean
  (``00003``) of level and discharge and the sum (``00006``) of rainfall. Minimum, maximum and
  other statistics are skipped: a daily maximum is not a reading.
* Station code = the bare site number (``03213700``) for agency USGS, ``AGENCY-site``
  otherwise; the same code the OGC API and SensorThings parsers give (they strip ``USGS-``).
* Several sensors for one parameter: NWIS sends one ``values`` block per method. When a series
  has more than one block (empty ones included, as the server lists every method of the site),
  each block's station code is suffixed with its method id: ``444306122144600:254051``. With one
  block the code is the bare site number. Caveat: if a site gains a second method, its first
  sensor's code changes; request one ``methodId`` to pin a sensor.
* Times: instantaneous values carry an offset (it changes at DST); they are converted to UTC,
  so the repeated 01:00–01:45 of the autumn change stay distinct. Daily values carry a local
  date only: ``observed_at`` is the **end** of that day (the next midnight) in the site's local
  standard time (``defaultTimeZone``), as USGS computes daily values in local standard time.
  This end-of-interval convention is the one floodwatch uses for any interval reading.
* Missing: a value equal to ``variable.noDataValue`` (``-999999``) → ``value=None`` +
  ``Flag.MISSING``; its qualifiers are kept.
* Qualifiers (kept verbatim in ``Observation.qualifiers``): ``P`` → PROVISIONAL, ``e``/``E`` →
  ESTIMATED, ``A`` → nothing, anything else (``Ice``, ``Eqp``, ``Dis``, ``Ssn``, ``Bkw`` …) →
  SUSPECT.
* Nothing is sorted, merged or de-duplicated: duplicate dates in dv output are returned as
  sent (flagging duplicates is QC's job). ``timeSeries: []`` gives an empty list.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds.base import SI_UNIT, Flag, Observation, Parameter, StationInfo

SOURCE = "usgs-nwis"

FT_TO_M = 0.3048
FT3_S_TO_M3_S = 0.028316846592  # 0.3048 ** 3, exact
IN_TO_MM = 25.4

#: USGS parameter code → floodwatch parameter.
USGS_PARAMETERS: dict[str, Parameter] = {
    "00065": Parameter.WATER_LEVEL,
    "00060": Parameter.DISCHARGE,
    "00045": Parameter.RAINFALL,
}

#: (parameter, USGS unit spelling) → factor to the SI unit. NWIS writes ``ft3/s``, the OGC API
#: and SensorThings ``ft^3/s``.
UNIT_TO_SI: dict[tuple[Parameter, str], float] = {
    (Parameter.WATER_LEVEL, "ft"): FT_TO_M,
    (Parameter.WATER_LEVEL, "m"): 1.0,
    (Parameter.DISCHARGE, "ft3/s"): FT3_S_TO_M3_S,
    (Parameter.DISCHARGE, "ft^3/s"): FT3_S_TO_M3_S,
    (Parameter.DISCHARGE, "m3/s"): 1.0,
    (Parameter.DISCHARGE, "m^3/s"): 1.0,
    (Parameter.RAINFALL, "in"): IN_TO_MM,
    (Parameter.RAINFALL, "mm"): 1.0,
}

INSTANT_STATISTICS = frozenset({"00000", "00011"})
DAILY_MEAN, DAILY_SUM = "00003", "00006"
#: The USGS "no data" sentinel; NWIS also states it per series in ``noDataValue``.
USGS_NO_DATA = -999999.0

_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")


# --- helpers shared by the USGS parsers ------------------------------------------------------


def load_json(payload: bytes | str, name: str) -> Any:
    """Decode a JSON body, or raise one clear :class:`InputError`."""
    try:
        return json.loads(payload)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InputError(f"{name}: not valid JSON ({exc})") from exc


def station_code(site: str, agency: str | None = "USGS") -> str:
    """``("03213700", "USGS")`` → ``03213700``; another agency keeps a prefix: ``AZ014-1234``."""
    return site if agency in (None, "", "USGS") else f"{agency}-{site}"


def station_code_from_id(location_id: str) -> str:
    """An OGC API / SensorThings id: ``USGS-06904500`` → ``06904500``; others kept as they are."""
    return location_id.removeprefix("USGS-")


def keeps_statistic(parameter: Parameter, statistic: str | None) -> bool:
    """Instantaneous values always; daily means of level and flow; daily sums of rainfall."""
    if statistic is None or statistic in INSTANT_STATISTICS:
        return True
    if parameter is Parameter.RAINFALL:
        return statistic == DAILY_SUM
    return statistic == DAILY_MEAN


def factor_to_si(parameter: Parameter, unit: str, where: str) -> float:
    """The factor from a USGS unit to floodwatch's SI unit; an unknown unit is an error."""
    try:
        return UNIT_TO_SI[(parameter, unit.strip())]
    except KeyError:
        raise InputError(
            f"{where}: unit {unit!r} is not known for {parameter} (refusing to guess)"
        ) from None


def qualifier_flags(codes: Iterable[str]) -> frozenset[Flag]:
    """USGS qualifier codes → flags: P provisional, e estimated, A none, anything else suspect.

    The OGC API spells some of them out (``Provisional``, ``Approved``, ``ESTIMATED``).
    """
    flags: set[Flag] = set()
    for code in codes:
        word = code.strip().lower()
        if word in ("p", "provisional"):
            flags.add(Flag.PROVISIONAL)
        elif word in ("e", "estimated"):
            flags.add(Flag.ESTIMATED)
        elif word not in ("a", "approved", ""):
            flags.add(Flag.SUSPECT)
    return frozenset(flags)


def number(raw: Any, where: str) -> float:
    """A finite number from a JSON number or a numeric string (USGS sends strings)."""
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise InputError(f"{where}: {raw!r} is not a number")
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{where}: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(f"{where}: {raw!r} is not a finite number")
    return value


def utc_instant(text: str, where: str) -> datetime:
    """An ISO 8601 time with an offset → aware UTC. A time without an offset is an error."""
    moment = _iso(text, where)
    if moment.tzinfo is None:
        raise InputError(f"{where}: {text!r} has no UTC offset")
    return _to_utc(moment, where)


def end_of_day_utc(day: date, utc_offset: timedelta) -> datetime:
    """The instant a local day ends (its next midnight), in UTC."""
    midnight = datetime.combine(day + timedelta(days=1), datetime.min.time())
    return midnight.replace(tzinfo=timezone(utc_offset)).astimezone(UTC)


def utc_offset(text: str, where: str) -> timedelta:
    """``-05:00`` → ``timedelta(hours=-5)``."""
    match = _OFFSET.match(text.strip()) if isinstance(text, str) else None
    if not match:
        raise InputError(f"{where}: {text!r} is not a UTC offset like -05:00")
    sign = -1 if match.group(1) == "-" else 1
    return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _iso(text: Any, where: str) -> datetime:
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{where}: time is missing")
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{where}: {text!r} is not an ISO 8601 time") from None


def _to_utc(moment: datetime, where: str) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InputError(f"{where}: {moment.isoformat()} is out of range") from None


# --- NWIS WaterML-JSON -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Block:
    """One ``values`` block of a kept series, with what is needed to read its points."""

    station: str
    site_name: str
    lon: float | None
    lat: float | None
    parameter: Parameter
    factor: float
    no_data: float
    day_offset: timedelta | None
    values: list[Any]
    where: str


def parse(payload: bytes, *, name: str = "USGS NWIS payload") -> list[Observation]:
    """Observations in an NWIS ``iv`` or ``dv`` WaterML-JSON response (see the module docstring)."""
    observations: list[Observation] = []
    for block in _blocks(load_json(payload, name), name):
        for index, point in enumerate(block.values):
            observations.append(_observation(point, block, f"{block.where}.value[{index}]"))
    return observations


def stations(payload: bytes, *, name: str = "USGS NWIS payload") -> list[StationInfo]:
    """One :class:`StationInfo` per station code that :func:`parse` gives for this payload."""
    found: dict[str, tuple[_Block, set[Parameter]]] = {}
    for block in _blocks(load_json(payload, name), name):
        found.setdefault(block.station, (block, set()))[1].add(block.parameter)
    return [
        StationInfo(
            code=code,
            name=block.site_name,
            lon=block.lon,
            lat=block.lat,
            kind="rain_gauge" if parameters == {Parameter.RAINFALL} else "river_gauge",
            source=SOURCE,
        )
        for code, (block, parameters) in found.items()
    ]


def _blocks(document: Any, name: str) -> Iterator[_Block]:
    series_list = _path(document, name, "value", "timeSeries")
    if not isinstance(series_list, list):
        raise InputError(f"{name}: value.timeSeries is not an array")
    for index, series in enumerate(series_list):
        yield from _series_blocks(series, f"{name}: timeSeries[{index}]")


def _series_blocks(series: Any, where: str) -> Iterator[_Block]:
    code = _text(_path(series, where, "variable", "variableCode", 0, "value"), where)
    parameter = USGS_PARAMETERS.get(code)
    if parameter is None or not keeps_statistic(parameter, _statistic(series)):
        return
    variable = _object(series["variable"], f"{where}.variable")
    unit = _text(_path(variable, f"{where}.variable", "unit", "unitCode"), where)
    factor = factor_to_si(parameter, unit, f"{where}.variable.unit")
    raw_no_data = variable.get("noDataValue")
    no_data = USGS_NO_DATA if raw_no_data is None else number(raw_no_data, f"{where}.noDataValue")
    source_info = _object(_path(series, where, "sourceInfo"), f"{where}.sourceInfo")
    site = _object(_path(source_info, where, "siteCode", 0), f"{where}.siteCode[0]")
    base = station_code(_text(_path(site, where, "value"), where), site.get("agencyCode"))
    geo = (source_info.get("geoLocation") or {}).get("geogLocation") or {}
    site_name = str(source_info.get("siteName") or base)
    day_offset = _standard_offset(source_info, where)
    blocks = series.get("values")
    if not isinstance(blocks, list):
        raise InputError(f"{where}: 'values' is not an array")
    multi = len(blocks) > 1
    for index, block in enumerate(blocks):
        block_where = f"{where}.values[{index}]"
        points = _path(block, block_where, "value")
        if not isinstance(points, list):
            raise InputError(f"{block_where}.value is not an array")
        method_id, method_text = _method(_object(block, block_where), index)
        yield _Block(
            station=f"{base}:{method_id}" if multi else base,
            site_name=f"{site_name} [{method_text}]" if multi else site_name,
            lon=_coordinate(geo.get("longitude")),
            lat=_coordinate(geo.get("latitude")),
            parameter=parameter,
            factor=factor,
            no_data=no_data,
            day_offset=day_offset,
            values=points,
            where=block_where,
        )


def _observation(point: Any, block: _Block, where: str) -> Observation:
    if not isinstance(point, dict):
        raise InputError(f"{where} is not an object")
    qualifiers = tuple(str(q) for q in point.get("qualifiers") or ())
    flags = qualifier_flags(qualifiers)
    raw = number(point.get("value"), f"{where}.value")
    value: float | None = raw * block.factor
    if raw == block.no_data:
        value, flags = None, flags | {Flag.MISSING}
    return Observation(
        station=block.station,
        parameter=block.parameter,
        observed_at=_observed_at(point.get("dateTime"), block.day_offset, f"{where}.dateTime"),
        value=value,
        unit=SI_UNIT[block.parameter],
        source=SOURCE,
        flags=flags,
        qualifiers=qualifiers,
    )


def _observed_at(text: Any, day_offset: timedelta | None, where: str) -> datetime:
    moment = _iso(text, where)
    if moment.tzinfo is not None:
        return _to_utc(moment, where)
    # A daily value: a local date written as midnight with no offset.
    if moment.time() != datetime.min.time():
        raise InputError(f"{where}: {text!r} has no UTC offset and is not a date")
    if day_offset is None:
        raise InputError(f"{where}: a daily value, but the site gives no defaultTimeZone")
    return end_of_day_utc(moment.date(), day_offset)


def _statistic(series: dict[str, Any]) -> str | None:
    options = ((series.get("variable") or {}).get("options") or {}).get("option") or []
    for option in options if isinstance(options, list) else []:
        if isinstance(option, dict) and option.get("name") == "Statistic":
            return str(option.get("optionCode"))
    return None


def _method(block: dict[str, Any], index: int) -> tuple[str, str]:
    """(method id, description) of a ``values`` block; the block index if it names no method."""
    methods = block.get("method")
    method = methods[0] if isinstance(methods, list) and methods else {}
    method_id = method.get("methodID") if isinstance(method, dict) else None
    if method_id is None:
        return str(index), f"block {index}"
    text = str(method.get("methodDescription") or "").strip()
    return str(method_id), text or f"method {method_id}"


def _standard_offset(source_info: dict[str, Any], where: str) -> timedelta | None:
    zone = (source_info.get("timeZoneInfo") or {}).get("defaultTimeZone") or {}
    offset = zone.get("zoneOffset")
    return None if offset is None else utc_offset(offset, f"{where}.defaultTimeZone")


def _path(obj: Any, where: str, *keys: str | int) -> Any:
    for key in keys:
        try:
            obj = obj[key]
        except (KeyError, IndexError, TypeError):
            raise InputError(
                f"{where}: '{key}' is missing (not an NWIS WaterML-JSON response?)"
            ) from None
    return obj


def _object(raw: Any, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InputError(f"{where} is not an object")
    return raw


def _text(raw: Any, where: str) -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
        raise InputError(f"{where}: expected a code, found {raw!r}")
    return str(raw).strip()


def _coordinate(raw: Any) -> float | None:
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(raw)
    return None
