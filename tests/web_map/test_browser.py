"""The map in a real browser (the system Chromium through Playwright), served by a real uvicorn
server on loopback over the Huế store at 17 Nov 2025 08:00 UTC, and the static snapshot served
by a plain web server: no request leaves the server, every ward is drawn, a tap on a ward shows
its level and figures, the language switch works, hostile names stay text."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from floodwatch.core.settings import StoreSettings
from floodwatch.web_map.app import create_app
from floodwatch.web_map.context import WebAppSettings
from floodwatch.web_map.i18n import level_name, number
from floodwatch.web_map.loopback import serve_in_thread
from floodwatch.web_map.settings import WebMapSettings
from floodwatch.web_map.snapshot import publish_snapshot
from floodwatch.web_map.state import current_state

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="the browser tests drive /usr/bin/chromium, which is not "
                                       "installed (scripts/test.sh installs it with apt)")
NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
Scenario = Any  # tests/web_map/conftest.py: Scenario
Page = Any  # playwright.sync_api.Page


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking"])
        yield chromium
        chromium.close()


@dataclass
class Watched:
    """Everything the page did that a test checks afterwards."""

    page: Page
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str) -> Watched:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    w = Watched(page)
    page.on("request", lambda r: w.requests.append(r.url))
    page.on("requestfailed", lambda r: w.failed.append(r.url))
    page.on("response", lambda r: w.failed.append(f"{r.status} {r.url}")
            if r.status >= 400 else None)

    def dialog(d: Any) -> None:
        w.dialogs.append(d.message)
        d.dismiss()

    page.on("dialog", dialog)
    page.on("console", lambda m: w.errors.append(f"{m.text} ({m.location.get('url')})")
            if m.type == "error" else None)
    page.on("pageerror", lambda e: w.errors.append(str(e)))
    page.goto(url, wait_until="networkidle")
    return w


def assert_only_from(w: Watched, origin: str, *, favicon_missing: bool = False) -> None:
    """Every request went to ``origin``; nothing failed, no error, no dialog. A plain web server
    answers the browser's own favicon request with 404 (``favicon_missing``)."""
    if favicon_missing:
        w.errors = [e for e in w.errors if not e.endswith(f"({origin}/favicon.ico)")]
    assert w.requests, "the page made no request at all"
    outside = [u for u in w.requests if not u.startswith(origin + "/") and
               not u.startswith("data:")]
    assert outside == [], f"requests to other hosts: {outside}"
    assert w.failed == [] and w.errors == [] and w.dialogs == []


def drawn_wards(page: Page) -> int:
    """Ward layers whose SVG path is in the document with a shape."""
    return int(page.evaluate("""() => FW.wards.getLayers().filter(
        l => l._path && l._path.isConnected && (l._path.getAttribute("d") || "").length > 10
    ).length"""))


FIND_LAYER = """(l, how) => how.ward ?
    l.feature.properties.code === how.ward && l.feature.properties.level_text !== undefined :
    l.feature.geometry.type === "Point" && (l.feature.properties.popup || "").includes(how.popup)
"""


def tap(page: Page, target: dict[str, str], ward: str) -> None:
    """Zoom to ``ward``, then click (with the mouse) a spot where the ``target`` layer is on
    top: ``{"ward": code}`` or ``{"popup": text}`` (a point whose popup HTML holds the text)."""
    spot = page.evaluate("""([how, ward]) => new Promise(done => {
        const find = """ + FIND_LAYER + """;
        const all = [];
        FW.map.eachLayer(l => { if (l.feature) all.push(l); });
        const layer = all.find(l => find(l, how)), zone = all.find(l => find(l, {ward: ward}));
        FW.map.closePopup();  // a closed popup fades out for 200 ms: look after that
        FW.map.once("moveend", () => setTimeout(() => {
            const box = FW.map.getContainer().getBoundingClientRect(), b = zone.getBounds();
            const tries = layer.getLatLng ? [layer.getLatLng()] : [];
            for (let i = 1; i < 20; i++) for (let j = 1; j < 20; j++)
                tries.push(L.latLng(b.getSouth() + (b.getNorth() - b.getSouth()) * i / 20,
                                    b.getWest() + (b.getEast() - b.getWest()) * j / 20));
            for (const ll of tries) {
                const p = FW.map.latLngToContainerPoint(ll);
                const x = box.left + p.x, y = box.top + p.y;
                if (document.elementFromPoint(x, y) === layer._path) return done([x, y]);
            }
            done(null);
        }, 350));
        FW.map.fitBounds(zone.getBounds(), {animate: false});
    })""", [target, ward])
    assert spot is not None, f"no spot where {target} is on top"
    page.mouse.click(spot[0], spot[1])
    page.wait_for_selector(".leaflet-popup-content", state="visible")


def popup_text(page: Page) -> str:
    return str(page.inner_text(".leaflet-popup-content"))


def test_the_map_in_a_browser(browser: Any, hue: Scenario, tmp_path: Path) -> None:
    wards = current_state(hue.engine, "hue", now=NOW).wards
    app = create_app(StoreSettings(data_dir=tmp_path), WebMapSettings(region="hue"),
                     WebAppSettings(), engine=hue.engine, clock=lambda: NOW)
    with serve_in_thread(app) as url:
        w = open_page(browser, url + "/")
        page = w.page
        assert page.evaluate("document.documentElement.lang") == "vi"
        assert drawn_wards(page) == len(wards) == 40
        red_fill = page.evaluate(f"""() => FW.wards.getLayers().find(
            l => l.feature.properties.code === "{hue.red}")._path.getAttribute("fill")""")
        assert red_fill.upper() == "#FF9800"  # level 3, orange (Decision 18/2021)

        tap(page, {"ward": hue.red}, hue.red)
        text = popup_text(page)
        assert "Phú Xuân" in text and level_name(3)["vi"] in text
        for figure in (number(5234, 0)["vi"], number(0.42, 2, "m")["vi"],
                       number(1.6, 2, "m")["vi"], number(142, 0, "mm")["vi"]):
            assert figure in text, figure
        assert hue.red_reason in text  # its <script> shown as text
        assert level_name(3)["en"] not in text  # one language at a time

        banner = page.inner_text("#fw-banner")
        assert "Bản đồ cảnh báo lũ" in banner and "Flood warning map" not in banner
        page.click("#fw-lang")
        assert page.evaluate("document.documentElement.lang") == "en"
        banner = page.inner_text("#fw-banner")
        assert "Flood warning map" in banner and "Bản đồ cảnh báo lũ" not in banner
        assert level_name(3)["en"] in popup_text(page)
        assert number(5234, 0)["en"] in popup_text(page)

        tap(page, {"popup": "&lt;img src=x"}, hue.red)
        assert hue.hostile in popup_text(page)  # shown as text …
        assert page.locator("img[src='x']").count() == 0  # … never made an element
        assert page.evaluate("document.querySelectorAll('.leaflet-popup-content img').length") == 0
        assert_only_from(w, url)
        page.close()


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_the_snapshot_from_a_plain_web_server(browser: Any, hue: Scenario,
                                              tmp_path: Path) -> None:
    publish = tmp_path / "publish"
    publish_snapshot(hue.engine, "hue", publish, now=NOW)
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(publish)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        w = open_page(browser, url + "/index.html")
        assert drawn_wards(w.page) == 40
        assert any(u.endswith("/static/vendor/leaflet/leaflet.js") for u in w.requests)
        assert_only_from(w, url, favicon_missing=True)
        w.page.close()
    finally:
        server.shutdown()
        server.server_close()
