"""publish_snapshot: the static copy of the map a plain web server can serve, from the real Huế
store (both backends) at 17 Nov 2025 08:00 UTC."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from floodwatch.core.db import transaction
from floodwatch.core.errors import NotFoundError
from floodwatch.core.settings import StoreSettings
from floodwatch.warnings.tables import AlertTransition
from floodwatch.web_map.app import create_app
from floodwatch.web_map.assets import VENDOR_DIR
from floodwatch.web_map.context import WebAppSettings
from floodwatch.web_map.loopback import serve_in_thread
from floodwatch.web_map.settings import WebMapSettings
from floodwatch.web_map.snapshot import publish_snapshot

Scenario = Any  # tests/web_map/conftest.py: Scenario
NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
DOCUMENTS = {"api/areas.geojson": "/api/areas", "api/flood-points.geojson": "/api/flood-points",
             "api/stations.json": "/api/stations", "api/alerts.json": "/api/alerts"}


class Links(HTMLParser):
    """Every src and href of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += [v for k, v in attrs if k in ("src", "href") and v]


def cap_files(hue: Scenario, publish: Path) -> dict[Path, bytes]:
    """A CAP file for the first transition and an index, as the warnings component writes."""
    with transaction(hue.engine) as s:
        first = s.scalars(sa.select(AlertTransition.cap_identifier)
                          .order_by(AlertTransition.at)).first()
    cap = publish / "cap"
    cap.mkdir(parents=True)
    files = {cap / f"{first}.xml": b"<alert/>", cap / "index.atom": b"<feed/>"}
    for path, content in files.items():
        path.write_bytes(content)
    return files


def every_file(folder: Path) -> dict[Path, float]:
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_snapshot_writes_the_map_and_the_api_documents(hue: Scenario, tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    caps = cap_files(hue, publish)
    written = publish_snapshot(hue.engine, "hue", publish, now=NOW)
    assert written[-1] == publish / "index.html"  # the page last, after what it shows
    for name in DOCUMENTS:
        assert publish / name in written
    vendored = sorted(p.relative_to(VENDOR_DIR) for p in VENDOR_DIR.rglob("*") if p.is_file())
    for rel in vendored:
        assert (publish / "static/vendor" / rel).read_bytes() == (VENDOR_DIR / rel).read_bytes()
    assert all(path.read_bytes() == content for path, content in caps.items())  # untouched
    leftovers = [p for p in publish.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # a web server must read them

    areas = json.loads((publish / "api/areas.geojson").read_text(encoding="utf-8"))
    assert len(areas["features"]) == 40 and areas["as_of"] == (NOW - timedelta(hours=1)
                                                               ).isoformat()
    alerts = json.loads((publish / "api/alerts.json").read_text(encoding="utf-8"))
    published = [r for r in alerts["recent"] if r["cap_url"]]
    assert [r["cap_url"] for r in published] == [f"cap/{p.name}" for p in caps
                                                 if p.suffix == ".xml"]  # relative, existing


def test_the_page_references_its_assets_relatively(hue: Scenario, tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    publish_snapshot(hue.engine, "hue", publish, now=NOW, lang="en")
    html = (publish / "index.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and hue.hostile not in html
    parser = Links()
    parser.feed(html)
    assert parser.links, "the page links its scripts and styles"
    for link in parser.links:
        assert not link.startswith(("/", "http:", "https:", "//")), link
        assert (publish / link).is_file(), link


def test_documents_equal_the_web_apps(hue: Scenario, tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    cap_files(hue, publish)
    publish_snapshot(hue.engine, "hue", publish, now=NOW)
    app = create_app(StoreSettings(data_dir=tmp_path, publish_dir=publish),
                     WebMapSettings(region="hue"), WebAppSettings(), engine=hue.engine,
                     clock=lambda: NOW)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        for name, path in DOCUMENTS.items():
            served = client.get(path).json()
            static = json.loads((publish / name).read_text(encoding="utf-8"))
            if path == "/api/stations":  # no server behind a static copy: no readings link
                for s in served["stations"]:
                    s["readings_url"] = None
            if path == "/api/alerts":  # CAP links relative to the publish directory
                for r in served["recent"] + served["active"]:
                    r["cap_url"] = r["cap_url"] and r["cap_url"].removeprefix("/")
            assert static == served, name


def test_a_second_snapshot_copies_the_assets_only_when_they_differ(hue: Scenario,
                                                                   tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    first = publish_snapshot(hue.engine, "hue", publish, now=NOW)
    vendor = publish / "static/vendor"
    assert any(p.is_relative_to(vendor) for p in first)
    before = every_file(vendor)
    second = publish_snapshot(hue.engine, "hue", publish, now=NOW + timedelta(hours=1))
    assert not any(p.is_relative_to(vendor) for p in second)
    assert every_file(vendor) == before
    leaflet = vendor / "leaflet/leaflet.js"
    leaflet.write_bytes(b"tampered")
    third = publish_snapshot(hue.engine, "hue", publish, now=NOW)
    assert third[0] == leaflet and leaflet.read_bytes() == (VENDOR_DIR / "leaflet/leaflet.js"
                                                            ).read_bytes()


def test_nothing_is_written_when_the_snapshot_cannot_be_made(hue: Scenario,
                                                             tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    publish_snapshot(hue.engine, "hue", publish, now=NOW)
    before = every_file(publish)
    with pytest.raises(NotFoundError):
        publish_snapshot(hue.engine, "nowhere", publish, now=NOW)
    assert every_file(publish) == before
