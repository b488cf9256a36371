"""One station's readings over a period, as JSON or as floodwatch CSV (the columns of
``floodwatch feeds parse``), for analysts. Periods are checked before the store is asked."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from starlette.requests import Request
from starlette.responses import Response

from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.core.timeutil import parse_instant
from floodwatch.hydro.feeds.tabular import FLOODWATCH_CSV_COLUMNS
from floodwatch.web_map.api_queries import station_by_code, station_readings
from floodwatch.web_map.context import Ctx
from floodwatch.web_map.gauges import PRIMARY_PARAMETER, SERIES_WINDOW
from floodwatch.web_map.httpcache import Body, conditional, public
from floodwatch.web_map.payloads import json_bytes, num

#: Without ``since``, the period is this long (the map's hydrograph).
DEFAULT_PERIOD = SERIES_WINDOW
#: At most this many readings in one answer (a month of one-minute data fits).
MAX_READINGS = 50_000
CSV_MEDIA = "text/csv; charset=utf-8"
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")

router = APIRouter()


def period(since: str | None, until: str | None, *, now: datetime, max_days: float
           ) -> tuple[datetime, datetime]:
    """(start, end) of a request. The end is ``until`` but never after now (as-of); ``since``
    defaults to 72 h before that end. Refused: since after until, more than ``max_days``."""
    asked_end = parse_instant(until, "until") if until else now
    end = min(asked_end, now)
    start = parse_instant(since, "since") if since else end - DEFAULT_PERIOD
    if start > asked_end:
        raise InputError(f"since ({start.isoformat()}) is after until ({asked_end.isoformat()})")
    if end - start > timedelta(days=max_days):
        raise InputError(f"the period is longer than {max_days:g} days: ask for it in parts")
    return start, end


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _flags(text: str | None) -> list[str]:
    return [f for f in (text or "").split("|") if f]


def readings_csv(code: str, parameter: str, rows: Sequence[Any]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FLOODWATCH_CSV_COLUMNS)
    for r in rows:
        value = num(r.value)
        writer.writerow((code, parameter, _z(r.observed_at),
                         "" if value is None else repr(float(value)), r.unit, r.flags or ""))
    return out.getvalue().encode("utf-8")


def readings_json(station: Any, parameter: str, start: datetime, end: datetime,
                  rows: Sequence[Any]) -> bytes:
    return json_bytes({
        "station": {"code": station.code, "name": station.name, "kind": station.kind},
        "parameter": parameter, "since": _z(start), "until": _z(end), "count": len(rows),
        "readings": [{"observed_at": _z(r.observed_at), "value": num(r.value), "unit": r.unit,
                      "flags": _flags(r.flags)} for r in rows],
    })


@router.get("/api/stations/{code}/readings", tags=["api"],
            summary="A station's readings over a period (JSON or CSV)",
            description="Every reading with since ≤ observed ≤ until (UTC unless an offset is "
                        "given), flags included; at most `readings_max_days` (31) days per "
                        "request, nothing after the time the app serves.")
def readings(
    request: Request, ctx: Ctx,
    code: Annotated[str, Path(max_length=64, description="the station's code")],
    since: Annotated[str | None, Query(max_length=64, description="start, ISO 8601")] = None,
    until: Annotated[str | None, Query(max_length=64,
                                       description="end, ISO 8601 (default: now)")] = None,
    output: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    parameter: Annotated[str | None, Query(
        pattern=r"^[a-z][a-z0-9_]{0,31}$",
        description="water_level, rainfall, … (default: the station's main one)")] = None,
) -> Response:
    now = ctx.now()
    start, end = period(since, until, now=now, max_days=ctx.settings.readings_max_days)
    with ctx.session() as session:
        station = station_by_code(session, ctx.region, code)
        if station is None:
            raise NotFoundError(f"no station {code!r} in region {ctx.region!r}")
        wanted = parameter or PRIMARY_PARAMETER.get(station.kind, "water_level")
        rows = station_readings(session, station.id, wanted, since=start, until=end,
                                limit=MAX_READINGS + 1) if start <= end else []
    if len(rows) > MAX_READINGS:
        raise InputError(f"more than {MAX_READINGS} readings in that period: ask for it in "
                         "parts")
    headers = {}
    if output == "csv":
        body = Body.of(readings_csv(station.code, wanted, rows), CSV_MEDIA)
        name = _UNSAFE_FILENAME.sub("_", f"{station.code}_{wanted}_{_z(start)}_{_z(end)}")
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    else:
        body = Body.of(readings_json(station, wanted, start, end, rows), "application/json")
    return conditional(request, body, cache_control=public(ctx.settings.cache_s),
                       last_modified=now, headers=headers)
