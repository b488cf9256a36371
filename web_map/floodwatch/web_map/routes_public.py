"""The public, read-only side: the map page and the JSON documents built from the same
snapshot. Routes parse, ask the context for the snapshot, and serve a cached body."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.responses import Response

from floodwatch.web_map.api_queries import active_alerts, recent_transitions
from floodwatch.web_map.context import Ctx, Snapshot
from floodwatch.web_map.httpcache import Body, conditional, public
from floodwatch.web_map.i18n import Lang
from floodwatch.web_map.mapbuild import build_map
from floodwatch.web_map.payloads import (
    alerts_json,
    areas_geojson,
    flood_points_geojson,
    json_bytes,
    stations_json,
)

GEOJSON = "application/geo+json"
JSON = "application/json"
HTML = "text/html; charset=utf-8"
#: The longest window /api/alerts looks back (31 days).
MAX_ALERT_HOURS = 744.0

router = APIRouter()


def _serve(request: Request, ctx: Ctx, snap: Snapshot, body: Body) -> Response:
    return conditional(request, body, cache_control=public(ctx.settings.cache_s),
                       last_modified=snap.now)


@router.get("/", response_class=HTMLResponse, tags=["map"],
            summary="The public flood map",
            description="Wards by risk level, flood extent and points, gauges, an as-of banner; "
                        "Vietnamese first, English on the page's switch. No request leaves "
                        "this server.")
def map_page(request: Request, ctx: Ctx, lang: Annotated[Lang | None, Query(
        description="the first language shown (default: the configured one)")] = None
             ) -> Response:
    snap = ctx.snapshot()
    first: Lang = lang or ctx.web.language
    body = snap.body(("page", first), lambda: Body.of(build_map(
        snap.state, asset_base=ctx.web.asset_base, lang=first,
        tile_layer=ctx.web.tiles).encode("utf-8"), HTML))
    return _serve(request, ctx, snap, body)


@router.get("/api/areas", tags=["api"], summary="Wards with risk level, figures and as-of",
            description="A GeoJSON FeatureCollection: one feature per ward (code as id) with "
                        "its level (0–5, Decision 18/2021), hazards in force, the reason of the "
                        "newest change, and the latest model run's figures.")
def areas(request: Request, ctx: Ctx) -> Response:
    snap = ctx.snapshot()
    body = snap.body("areas", lambda: Body.of(json_bytes(areas_geojson(snap.state)), GEOJSON))
    return _serve(request, ctx, snap, body)


@router.get("/api/flood-points", tags=["api"], summary="Flood points of the latest run",
            description="A GeoJSON FeatureCollection of the latest model run's flood points "
                        "(kind, name, depth in metres, ward).")
def flood_points(request: Request, ctx: Ctx) -> Response:
    snap = ctx.snapshot()
    body = snap.body("points", lambda: Body.of(json_bytes(flood_points_geojson(snap.state)),
                                               GEOJSON))
    return _serve(request, ctx, snap, body)


@router.get("/api/stations", tags=["api"], summary="Gauges: latest value, BĐ status, freshness",
            description="Each station's newest shown reading, its BĐ status (0–3 against its "
                        "alarm levels), 3-hour trend, 24-hour rain, and whether it is fresh "
                        "(and if not, why).")
def stations(request: Request, ctx: Ctx) -> Response:
    snap = ctx.snapshot()
    body = snap.body("stations", lambda: Body.of(json_bytes(
        stations_json(snap.state, ctx.readings_url)), JSON))
    return _serve(request, ctx, snap, body)


@router.get("/api/alerts", tags=["api"], summary="Alerts in force and recent changes",
            description="Each hazard in force in each ward with the reason of its newest "
                        "change, and every alert, update and cancel of the last `hours`.")
def alerts(request: Request, ctx: Ctx, hours: Annotated[float | None, Query(
        gt=0, le=MAX_ALERT_HOURS,
        description="how far back the recent changes go (default: the configured 48 h)")
           ] = None) -> Response:
    snap = ctx.snapshot()
    window = timedelta(hours=hours if hours is not None else ctx.settings.alerts_recent_h)

    def make() -> Body:
        with ctx.session() as session:
            active = active_alerts(session, ctx.region, ctx.ward_level, snap.today, snap.now)
            recent = recent_transitions(session, ctx.region, ctx.ward_level, snap.today,
                                        since=snap.now - window, now=snap.now)
        return Body.of(json_bytes(alerts_json(snap.state, active, recent, window=window,
                                              cap_url=ctx.cap_url)), JSON)

    # only the default window is kept with the snapshot: other windows are read each time
    body = snap.body("alerts", make) if hours is None else make()
    return _serve(request, ctx, snap, body)
