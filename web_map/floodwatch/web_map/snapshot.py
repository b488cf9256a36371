"""A static copy of the public map for any plain web server (or a CDN) to serve, beside the CAP
files the warnings component writes into the same publish directory::

    <publish>/index.html                 the map; assets referenced relatively
    <publish>/static/vendor/…            the vendored libraries (copied when they differ)
    <publish>/api/areas.geojson          the same documents as the web app's /api/…
    <publish>/api/flood-points.geojson
    <publish>/api/stations.json
    <publish>/api/alerts.json
    <publish>/cap/…                      CAP 1.2 files and index.atom (not written here)

Every file is written atomically (a temporary file in the same directory, fsync, ``os.replace``)
so a reader sees the old or the new file, never part of one; the page is written last.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Engine

from floodwatch.core.db import session_factory
from floodwatch.core.errors import InputError
from floodwatch.hydro.settings import FeedConfig
from floodwatch.warnings.capfeed import CAP_DIR, cap_filename, write_atomic
from floodwatch.web_map.api_queries import active_alerts, recent_transitions
from floodwatch.web_map.assets import VENDOR_DIR
from floodwatch.web_map.gauges import DEFAULT_STALE_AFTER
from floodwatch.web_map.i18n import Lang
from floodwatch.web_map.mapbuild import build_map
from floodwatch.web_map.payloads import (
    alerts_json,
    areas_geojson,
    flood_points_geojson,
    json_bytes,
    stations_json,
)
from floodwatch.web_map.settings import TileSetting
from floodwatch.web_map.state import current_state

#: Where the page finds the vendored libraries, relative to index.html.
ASSET_BASE = "static/vendor"
RECENT_ALERTS = timedelta(hours=48)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sync_vendor(publish_dir: Path) -> list[Path]:
    """Copy the vendored libraries into ``<publish>/static/vendor`` where missing or different;
    returns the files written (none when the copy is current)."""
    target = Path(publish_dir) / ASSET_BASE
    written = []
    for source in sorted(p for p in VENDOR_DIR.rglob("*") if p.is_file()):
        dest = target / source.relative_to(VENDOR_DIR)
        if dest.is_file() and dest.stat().st_size == source.stat().st_size \
                and _digest(dest) == _digest(source):
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(dest, source.read_bytes())
        written.append(dest)
    return written


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def publish_snapshot(engine: Engine, region: str, publish_dir: Path, *, now: datetime,
                     stale_after: timedelta = DEFAULT_STALE_AFTER,
                     feeds: Sequence[FeedConfig] = (), lang: Lang = "vi",
                     tile_layer: TileSetting | None = None,
                     recent_alerts: timedelta = RECENT_ALERTS, ward_level: str = "ward"
                     ) -> list[Path]:
    """Write the map and its documents as of ``now``; returns the paths written (the page
    last). The documents equal the web app's answers at the same ``now``, except that links
    are relative to the publish directory (CAP files) or absent (readings: no server)."""
    publish = Path(publish_dir)
    state = current_state(engine, region, now=now, stale_after=stale_after, feeds=feeds,
                          ward_level=ward_level)
    today = now.astimezone(ZoneInfo(state.region.timezone)).date()
    with session_factory(engine)() as session:
        active = active_alerts(session, region, ward_level, today, now)
        recent = recent_transitions(session, region, ward_level, today,
                                    since=now - recent_alerts, now=now)

    def cap_url(identifier: str) -> str | None:
        try:
            name = cap_filename(identifier)
        except InputError:
            return None
        return f"{CAP_DIR}/{name}" if (publish / CAP_DIR / name).is_file() else None

    documents = {
        "api/areas.geojson": json_bytes(areas_geojson(state)),
        "api/flood-points.geojson": json_bytes(flood_points_geojson(state)),
        "api/stations.json": json_bytes(stations_json(state, lambda code: None)),
        "api/alerts.json": json_bytes(alerts_json(state, active, recent, window=recent_alerts,
                                                  cap_url=cap_url)),
    }
    page = build_map(state, asset_base=ASSET_BASE, lang=lang, tile_layer=tile_layer)
    (publish / "api").mkdir(parents=True, exist_ok=True)
    written = sync_vendor(publish)
    for name, content in documents.items():
        write_atomic(publish / name, content)
        written.append(publish / name)
    _fsync_dir(publish / "api")
    write_atomic(publish / "index.html", page.encode("utf-8"))
    written.append(publish / "index.html")
    _fsync_dir(publish)
    return written
