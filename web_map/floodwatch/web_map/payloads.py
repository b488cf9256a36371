"""The public API's JSON documents, built by pure functions of the map's snapshot (and of the
alert rows read beside it). The web app serves them and the static snapshot writes them, so a
reader gets the same document from either.

Times are ISO 8601 in UTC; levels carry their names in Vietnamese and English; numbers that are
not finite become ``null``. Everything here is data: HTML escaping is the page's business.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from floodwatch.web_map.i18n import level_name
from floodwatch.web_map.palette import RISK_COLOURS
from floodwatch.web_map.state import AreaFigures, MapState, StationState

#: ``cap_url(identifier)``: where a transition's CAP file is served, or None (not published).
CapLink = Callable[[str], str | None]
#: ``readings_url(station_code)``: where a station's readings are served, or None.
ReadingsLink = Callable[[str], str | None]


def json_bytes(document: Any) -> bytes:
    """Compact UTF-8 JSON (Vietnamese kept readable); refuses NaN rather than write invalid
    JSON."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                      default=_default).encode("utf-8")


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(f"not JSON: {type(value).__name__}")


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def num(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def finite(value: Any) -> Any:
    """``value`` with every non-finite float inside it replaced by None (stored JSON such as a
    transition's evidence may hold NaN, which JSON cannot)."""
    if isinstance(value, float):
        return num(value)
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


def level_info(level: int) -> dict[str, Any]:
    colour = RISK_COLOURS.get(level)
    return {"level": level, "level_name": level_name(level),
            "colour": colour.hex if colour else None}


def _run(state: MapState) -> dict[str, Any] | None:
    run = state.run
    if run is None:
        return None
    return {"id": run.id, "valid_at": iso(run.valid_at), "status": run.status,
            "message": run.message, "stale_inputs": run.stale_inputs}


def _head(state: MapState) -> dict[str, Any]:
    """What every document says of where and when: region, as-of time, the run."""
    r = state.region
    return {"region": {"name": r.name, "title": r.title, "timezone": r.timezone},
            "as_of": iso(state.as_of), "newest_reading_at": iso(state.newest_reading_at),
            "run": _run(state)}


def _figures(f: AreaFigures | None) -> dict[str, Any] | None:
    if f is None:
        return None
    return {"flooded_km2": num(f.flooded_km2), "flooded_share": num(f.flooded_share),
            "mean_depth_m": num(f.mean_depth_m), "max_depth_m": num(f.max_depth_m),
            "people_affected": f.people_affected, "rain_24h_mm": num(f.rain_24h_mm)}


def areas_geojson(state: MapState) -> dict[str, Any]:
    """The wards as a FeatureCollection: risk level, hazards in force, why, and the latest
    run's figures (``figures_as_of``: that run's valid time)."""
    figures_at = iso(state.run.valid_at) if state.run else None
    features = [{
        "type": "Feature", "id": w.code, "geometry": w.geometry,
        "properties": {
            "code": w.code, "name": w.name_vi, "name_ascii": w.name_ascii,
            "population": w.population, **level_info(w.level), "hazards": list(w.hazards),
            "reason": w.reason, "reason_at": iso(w.reason_at),
            "figures": _figures(w.figures),
            "figures_as_of": figures_at if w.figures is not None else None,
        }} for w in state.wards]
    return {"type": "FeatureCollection", **_head(state),
            "approximate_terrain": state.approximate_terrain, "features": features}


def flood_points_geojson(state: MapState) -> dict[str, Any]:
    """The latest run's flood points ("điểm ngập") as a FeatureCollection."""
    features = [{
        "type": "Feature", "geometry": {"type": "Point", "coordinates": [p.lon, p.lat]},
        "properties": {"kind": p.kind, "name": p.name, "depth_m": num(p.depth_m),
                       "ward_code": p.ward_code}} for p in state.flood_points]
    return {"type": "FeatureCollection", **_head(state),
            "approximate_terrain": state.approximate_terrain, "features": features}


def _station(s: StationState, readings_url: ReadingsLink) -> dict[str, Any]:
    bd1, bd2, bd3 = s.alarms_m
    return {
        "code": s.code, "name": s.name, "kind": s.kind, "river": s.river_name,
        "lon": s.lon, "lat": s.lat, "parameter": s.parameter, "unit": s.unit,
        "alarms_m": {"bd1": num(bd1), "bd2": num(bd2), "bd3": num(bd3)},
        "value": num(s.value), "observed_at": iso(s.observed_at), "bd_status": s.bd_status,
        "trend_m_per_h": num(s.trend_m_per_h), "rain_24h_mm": num(s.rain_24h_mm),
        "fresh": not s.stale, "stale_because": list(s.stale_because),
        "feed_state": s.feed_state, "readings_url": readings_url(s.code),
    }


def stations_json(state: MapState, readings_url: ReadingsLink) -> dict[str, Any]:
    """Each station's newest value, BĐ status (0–3), trend and freshness."""
    return {**_head(state), "stale_after_s": state.stale_after.total_seconds(),
            "stations": [_station(s, readings_url) for s in state.stations]}


@dataclass(frozen=True)
class ActiveAlert:
    """One hazard in force in one ward, with the newest change's reason."""

    ward_code: str
    ward_name: str
    hazard: str
    status: str  # firing | resolving
    level: int
    reason: str | None
    reason_at: datetime | None
    cap_identifier: str | None


@dataclass(frozen=True)
class RecentTransition:
    ward_code: str
    ward_name: str
    hazard: str
    kind: str  # alert | update | cancel
    level: int
    previous_level: int
    at: datetime
    reason: str
    evidence: dict[str, Any]
    cap_identifier: str


def alerts_json(state: MapState, active: Sequence[ActiveAlert],
                recent: Sequence[RecentTransition], *, window: timedelta, cap_url: CapLink
                ) -> dict[str, Any]:
    """Alerts in force now (highest level first) and every change in the ``window`` before
    now (newest first), each with its reason."""
    now = state.generated_at
    return {
        **_head(state), "window": {"from": iso(now - window), "to": iso(now)},
        "active": [{"ward_code": a.ward_code, "ward_name": a.ward_name, "hazard": a.hazard,
                    "status": a.status, **level_info(a.level), "reason": a.reason,
                    "reason_at": iso(a.reason_at), "cap_identifier": a.cap_identifier,
                    "cap_url": cap_url(a.cap_identifier) if a.cap_identifier else None}
                   for a in active],
        "recent": [{"ward_code": r.ward_code, "ward_name": r.ward_name, "hazard": r.hazard,
                    "kind": r.kind, **level_info(r.level), "previous_level": r.previous_level,
                    "at": iso(r.at), "reason": r.reason, "evidence": finite(r.evidence),
                    "cap_identifier": r.cap_identifier, "cap_url": cap_url(r.cap_identifier)}
                   for r in recent],
    }
