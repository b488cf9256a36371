"""build_map: the public page, inspected as HTML without a server. From the real Huế store (both
backends) and from small synthetic snapshots made by the factories below."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import folium
import pytest
import sqlalchemy as sa

from floodwatch.core.db import transaction
from floodwatch.core.errors import ConfigError, InputError
from floodwatch.gis_data.models import Area, Station
from floodwatch.warnings.model import RISK_COLOURS
from floodwatch.web_map.assets import VENDOR_DIR, VENDORED, page_links
from floodwatch.web_map.mapbuild import build_map
from floodwatch.web_map.palette import BD_COLOURS, NO_BD_COLOUR, STALE_COLOUR
from floodwatch.web_map.settings import TileSetting, WebMapSettings
from floodwatch.web_map.state import (
    AreaFigures,
    MapState,
    RegionInfo,
    RunInfo,
    StationState,
    WardState,
    current_state,
)

Scenario = Any  # tests/web_map/conftest.py: Scenario
ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
HOSTILE_STATION = '"><script>alert(3)</script>'


# -- reading the page -------------------------------------------------------------------------

def layer_data(html: str) -> dict[str, dict[str, Any]]:
    """Every GeoJSON layer's embedded data, by the layer's script variable."""
    out = {}
    decoder = json.JSONDecoder()
    for match in re.finditer(r"(geo_json_[0-9a-f]+)_add\((\{)", html):
        out[match.group(1)], _ = decoder.raw_decode(html, match.start(2))
    return out


def wards_of(html: str) -> list[dict[str, Any]]:
    name = re.search(r"wards: (geo_json_[0-9a-f]+)", html)
    assert name, "the page script names the wards layer"
    return layer_data(html)[name.group(1)]["features"]


def layer_names(html: str) -> list[str]:
    """The layer control's entries, as the reader sees them (JSON-decoded HTML)."""
    return [json.loads(m) for m in re.findall(r'^\s*("(?:[^"\\]|\\.)*") : \w+,$', html, re.M)]


def all_popups(html: str) -> list[str]:
    return [f["properties"]["popup"] for data in layer_data(html).values()
            for f in data["features"] if "popup" in f["properties"]]


class _Attributes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found += [(k, v or "") for k, v in attrs]


def attributes(html: str) -> list[tuple[str, str]]:
    """Every attribute of a real element, in the page and in every popup."""
    parser = _Attributes()
    for text in [html, *all_popups(html)]:
        parser.feed(text)
    return parser.found


def urls(html: str) -> list[str]:
    return [v for k, v in attributes(html) if k in ("src", "href", "xlink:href")]


# -- synthetic snapshots ----------------------------------------------------------------------

def square(x: float, y: float, size: float = 0.01) -> dict[str, Any]:
    ring = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    return {"type": "Polygon", "coordinates": [ring]}


def make_ward(code: str, level: int = 0, **kw: Any) -> WardState:
    values: dict[str, Any] = {
        "name_vi": f"Phường {code}", "name_ascii": f"Phuong {code}", "population": 1000,
        "geometry": square(107.5 + 0.01 * int(code), 16.4), "level": level, "hazards": (),
        "reason": None, "reason_at": None, "figures": None}
    return WardState(code=code, **{**values, **kw})


def make_station(code: str = "71520", **kw: Any) -> StationState:
    series = tuple((NOW - timedelta(hours=h), 2.0 + 0.01 * (30 - h)) for h in range(30, -1, -1))
    values: dict[str, Any] = {
        "name": "Kim Long", "kind": "river_gauge", "river_name": "Sông Hương",
        "lon": 107.56, "lat": 16.45, "parameter": "water_level", "unit": "m",
        "alarms_m": (1.0, 2.0, 3.5), "value": series[-1][1], "observed_at": NOW,
        "bd_status": 2, "trend_m_per_h": 0.01, "rain_24h_mm": None, "series": series,
        "feed_state": None, "stale": False, "stale_because": ()}
    return StationState(code=code, **{**values, **kw})


def make_state(**kw: Any) -> MapState:
    values: dict[str, Any] = {
        "region": RegionInfo("hue", "Thành phố Huế", "EPSG:32648", "Asia/Ho_Chi_Minh",
                             (107.5, 16.4, 107.6, 16.5)),
        "generated_at": NOW, "as_of": NOW, "newest_reading_at": NOW,
        "stale_after": timedelta(hours=6), "approximate_terrain": False, "run": None,
        "wards": (make_ward("1"), make_ward("2", 4)), "stations": (make_station(),),
        "rivers": (), "flood_points": (), "flood_extents": ()}
    return MapState(**{**values, **kw})


# -- the real store ---------------------------------------------------------------------------

@pytest.fixture
def hue_page(hue: Scenario) -> tuple[Scenario, str]:
    with transaction(hue.engine) as s:
        s.execute(sa.update(Area).where(Area.code == hue.red).values(name_vi=hue.hostile))
        s.execute(sa.update(Station).where(Station.code == "71518")
                  .values(name=HOSTILE_STATION))
    return hue, build_map(current_state(hue.engine, "hue", now=hue.now))


def test_hue_page_has_every_ward_coloured_by_level(hue_page: tuple[Scenario, str]) -> None:
    hue, html = hue_page
    wards = {f["properties"]["code"]: f for f in wards_of(html)}
    assert len(wards) == 40
    assert wards[hue.red]["properties"]["style"]["fillColor"] == RISK_COLOURS[3].hex == "#FF9800"
    assert wards[hue.yellow]["properties"]["style"]["fillColor"] == RISK_COLOURS[2].hex
    calm = wards[hue.cancelled]["properties"]["style"]
    assert calm["fillOpacity"] == 0  # nothing in force: no colour
    assert sum(w["properties"]["style"]["fillOpacity"] > 0 for w in wards.values()) == 2


def test_hue_page_escapes_every_outside_string(hue_page: tuple[Scenario, str]) -> None:
    hue, html = hue_page
    popups = all_popups(html)
    ward = next(f for f in wards_of(html) if f["properties"]["code"] == hue.red)
    popup = ward["properties"]["popup"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in popup and "<img" not in popup
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in popup  # the reason
    assert ward["properties"]["name"] == hue.hostile  # data for textContent, never innerHTML
    station = next(p for p in popups if "alert(3)" in p)
    assert "&#34;&gt;&lt;script&gt;alert(3)" in station and "<script" not in station
    point = next(p for p in popups if "alert(1)" in p and "fw-popup" in p and p != popup)
    assert "<img" not in point
    for text in [html, *popups]:  # no raw tag from outside anywhere in the page
        assert "<img src=x" not in text and "<script>alert" not in text
    assert "\\u003cimg src=x" in html  # the JSON in the page escapes "<" too
    assert not [(k, v) for k, v in attributes(html) if "<" in v]  # no markup inside attributes


def test_hue_page_makes_no_request_to_another_host(hue_page: tuple[Scenario, str]) -> None:
    _, html = hue_page
    assert not re.search(r"https?://|//cdn|\bcdn\.", html)
    found = urls(html)
    assert "/static/vendor/leaflet/leaflet.js" in found
    assert "/static/vendor/leaflet/leaflet.css" in found
    assert all(u.startswith("/") and not u.startswith("//") for u in found), found
    for word in ("jquery", "bootstrap", "awesome", "font-awesome", "fontawesome", "glyphicons"):
        assert word not in html.lower()
    # folium's own defaults are untouched: the vendored links were set on this map only
    assert any("cdn.jsdelivr.net" in url for _, url in folium.Map.default_js)


def test_hue_page_banner_legend_languages_and_footer(hue_page: tuple[Scenario, str]) -> None:
    _, html = hue_page
    banner = html[html.index('id="fw-banner"'):html.index("</div>", html.index('id="fw-banner"'))]
    assert "14:00 17/11/2025 (UTC+07:00)" in banner  # the run's valid time (07:00 UTC), local
    assert 'datetime="2025-11-17T07:00:00+00:00"' in banner
    assert "Số liệu tính đến" in banner and "Data as of" in banner
    legend = html[html.index('id="fw-legend"'):]
    for level, colour in RISK_COLOURS.items():
        assert colour.hex in legend and f"Cấp {level}" in legend and f"Level {level}" in legend
    assert "Không có cảnh báo" in legend and "No warning in force" in legend
    for vi, en in [("Vị trí của tôi", "Where am I?"), ("Chú giải", "Legend")]:
        assert vi in html and en in html
    assert ('<span class="fw-vi">Cấp độ rủi ro theo phường/xã</span>'
            '<span class="fw-en">Risk level by ward</span>') in layer_names(html)
    assert html.count('class="fw-vi"') == html.count('class="fw-en"') > 20
    assert '<html lang="vi">' in html
    assert "địa hình gần đúng: vùng ngập chỉ mang tính minh họa" in html
    assert "approximate terrain: flood extents are illustrative" in html
    assert "thiếu 1 đầu vào" in html  # the partial run says what it left out
    assert '<meta name="viewport" content="width=device-width' in html


def test_hue_page_layers_and_gauges(hue_page: tuple[Scenario, str]) -> None:
    _, html = hue_page
    names = " ".join(layer_names(html))
    for name in ("Vùng ngập (mô hình)", "Flood extent (modelled)", "Điểm ngập", "Trạm đo",
                 "Mưa 24 giờ", "Sông", "Rivers", "Cấp độ rủi ro theo phường/xã"):
        assert f">{name}<" in names, name
    gauges = [f for d in layer_data(html).values() for f in d["features"]
              if "stale" in f["properties"]]
    codes = {f["properties"]["code"]: f for f in gauges}
    assert set(codes) == {"71520", "71518", "fd622826-9f2e-4130-8995-1654bac81895",
                          "A11984FB-8CAD-44D7-BF9E-A0E881483E47"}  # Bình Điền has no point
    kim_long = codes["71520"]["properties"]
    assert kim_long["style"]["fillColor"] == BD_COLOURS[2]
    reservoir = codes["A11984FB-8CAD-44D7-BF9E-A0E881483E47"]["properties"]  # Hương Điền
    assert reservoir["style"]["fillColor"] == NO_BD_COLOUR  # no BĐ levels: not "below BĐ I"
    assert "Hồ chứa, trạm đo mưa (không có mức BĐ)" in html
    popup = kim_long["popup"]
    assert "3,01 m" in popup and "3.01 m" in popup and "Trên BĐ II" in popup
    assert popup.count('stroke-dasharray="5 3"') == 3  # BĐ I, II, III on the hydrograph
    assert "<svg" in popup and "<polyline" in popup


# -- synthetic snapshots ----------------------------------------------------------------------

def test_stale_gauge_is_grey_and_says_why() -> None:
    old = NOW - timedelta(hours=9)
    html = build_map(make_state(stations=(make_station(
        observed_at=old, stale=True, stale_because=("old", "feed_failing"),
        feed_state="failing"),)))
    [gauge] = [f for d in layer_data(html).values() for f in d["features"]
               if "stale" in f["properties"]]
    assert gauge["properties"]["style"]["fillColor"] == STALE_COLOUR
    popup = gauge["properties"]["popup"]
    assert "Số liệu cũ: lần đo cuối đã hơn 6 giờ" in popup and "more than 6 h old" in popup
    assert "Nguồn số liệu đang lỗi" in popup and "The data feed is failing" in popup
    assert "06:00 17/11/2025" in popup and "9 giờ trước" in popup


def test_old_data_greys_the_banner() -> None:
    fresh = build_map(make_state())
    old = build_map(make_state(as_of=NOW - timedelta(hours=7)))
    nothing = build_map(make_state(as_of=None, newest_reading_at=None))
    assert 'class="fw-old"' not in fresh and "Số liệu đã cũ" not in fresh
    assert 'class="fw-old"' in old and "Số liệu đã cũ" in old and "Out of date" in old
    assert 'class="fw-old"' in nothing and "Chưa có số liệu" in nothing


def test_ward_popup_says_level_why_and_figures() -> None:
    figures = AreaFigures(2.5, 0.25, 0.4, 1.8, 12345, 150.0)
    ward = make_ward("3", 4, hazards=("river_flood",), reason="Kim Long ≥ BĐ III",
                     reason_at=NOW - timedelta(hours=2), figures=figures)
    run = RunInfo(7, NOW - timedelta(hours=1), "ok", None, 0)
    html = build_map(make_state(wards=(ward,), run=run, approximate_terrain=False))
    popup = wards_of(html)[0]["properties"]["popup"]
    for text in ("Cấp 4 – rủi ro rất lớn", "Level 4 – very high", "Lũ sông", "River flood",
                 "Kim Long ≥ BĐ III", "13:00 17/11/2025", "25 %", "2,50 km²", "2.50 km²",
                 "1,80 m", "12.345", "12,345", "150 mm", "Sơ tán", "Evacuate"):
        assert text in popup, text
    assert "mang tính minh họa" not in html  # surveyed terrain: no disclaimer


def test_rain_layer_only_where_present() -> None:
    dry = build_map(make_state())
    rain = make_ward("4", figures=AreaFigures(0.0, 0.0, None, None, 0, 120.0))
    wet = build_map(make_state(wards=(rain,), run=RunInfo(1, NOW, "ok", None, 0)))
    assert "Mưa 24 giờ (mm)" not in dry and "Mưa 24 giờ (mm)" in wet
    [layer] = [d for d in layer_data(wet).values() if d["features"]
               and "popup" not in d["features"][0]["properties"]
               and d["features"][0]["properties"]["style"].get("stroke") is False]
    assert layer["features"][0]["properties"]["style"]["fillColor"] == "#31a354"  # ≥ 100 mm


def test_tiles_only_when_configured() -> None:
    assert "L.tileLayer" not in build_map(make_state())
    tiles = TileSetting("https://tiles.example.org/{z}/{x}/{y}.png", "© <b>Example</b>")
    html = build_map(make_state(), tile_layer=tiles)
    assert "L.tileLayer" in html and "https://tiles.example.org/{z}/{x}/{y}.png" in html
    assert r'"attribution": "\u00a9 \u0026lt;b\u0026gt;Example' in html  # shown as text
    with pytest.raises(ConfigError):
        TileSetting("https://tiles.example.org/tile.png", "x")


def test_english_first_and_custom_asset_base() -> None:
    html = build_map(make_state(), lang="en", asset_base="/assets/v1/")
    assert '<html lang="en">' in html and 'var l = "en";' in html
    assert '<script src="/assets/v1/leaflet/leaflet.js">' in html
    with pytest.raises(InputError, match="unknown language"):
        build_map(make_state(), lang="fr")  # type: ignore[arg-type]


def test_hydrograph_breaks_at_gaps_and_draws_only_existing_alarms() -> None:
    series = ((NOW - timedelta(hours=40), 50.0), (NOW - timedelta(hours=39), 50.5),
              (NOW - timedelta(hours=2), 58.0), (NOW - timedelta(hours=1), 58.5), (NOW, 59.2))
    station = make_station("tt", name="Thượng Nhật", alarms_m=(59.0, 61.0, None),
                           series=series, value=59.2, bd_status=1)
    html = build_map(make_state(stations=(station,)))
    [popup] = [p for p in all_popups(html) if "Thượng Nhật" in p]
    assert popup.count("<polyline") == 2 and popup.count('stroke-dasharray="5 3"') == 2
    assert "BĐ III" not in popup.split("<svg")[1] and "Trên BĐ I" in popup


def test_the_page_is_pure() -> None:
    state = make_state()
    first, second = build_map(state), build_map(replace(state))
    strip = re.compile(r"[0-9a-f]{32}")  # folium's random element ids
    assert strip.sub("", first) == strip.sub("", second)


def test_vendored_assets_are_there_with_their_licence() -> None:
    js, css = page_links("/static/vendor")
    for _, url in js + css:
        assert (VENDOR_DIR / url.removeprefix("/static/vendor/")).is_file(), url
    for pkg in VENDORED:
        for _, dest in pkg.files:
            assert (VENDOR_DIR / dest).is_file(), dest
    pinned = json.loads((ROOT / "package.json").read_text(encoding="utf-8"))["dependencies"]
    sources = (VENDOR_DIR / "SOURCES.md").read_text(encoding="utf-8")
    assert pinned == {"leaflet": "1.9.4"}  # exact versions only
    assert "| leaflet | 1.9.4 | BSD-2-Clause |" in sources
    assert "BSD 2-Clause" in (VENDOR_DIR / "leaflet" / "LICENSE").read_text(encoding="utf-8")
    leaflet_js = (VENDOR_DIR / "leaflet" / "leaflet.js").read_text(encoding="utf-8")
    assert "Leaflet 1.9.4" in leaflet_js[:200]


def test_settings_give_the_builder_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOODWATCH_CONFIG", raising=False)
    assert WebMapSettings().tiles is None  # no outside request unless configured
    monkeypatch.setenv("FLOODWATCH_TILES", json.dumps(
        {"url": "https://tiles.example.org/{z}/{x}/{y}.png", "attribution": "© Example"}))
    monkeypatch.setenv("FLOODWATCH_STALE_AFTER_H", "3")
    settings = WebMapSettings()
    assert settings.tiles == TileSetting("https://tiles.example.org/{z}/{x}/{y}.png",
                                         "© Example")
    assert settings.stale_after == timedelta(hours=3)
