"""The web app over HTTP: every endpoint, bad parameters, ETag / 304, the admin token, CAP path
traversal and the health check, against a real uvicorn server on loopback serving the real
Huế store (both backends) at 17 Nov 2025 08:00 UTC."""

from __future__ import annotations

import csv
import http.client
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa

from floodwatch.core.db import transaction
from floodwatch.core.errors import ConfigError
from floodwatch.core.settings import StoreSettings
from floodwatch.gis_data.region import BUNDLED_DIR
from floodwatch.hydro.feeds.tabular import parse_floodwatch_csv
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.settings import FeedConfig
from floodwatch.warnings.tables import AlertStateRow, AlertTransition, SubscriptionArea
from floodwatch.web_map.app import create_app
from floodwatch.web_map.context import WebAppSettings
from floodwatch.web_map.loopback import serve_in_thread
from floodwatch.web_map.settings import WebMapSettings

Scenario = Any  # tests/web_map/conftest.py: Scenario
NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
TOKEN = "s3cret-admin-token-for-tests"
KIM_LONG = "71520"
RIVER_CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"
SECRET = b"TOP SECRET: outside the CAP folder"
Start = Callable[..., httpx.Client]


def kim_long_series() -> dict[datetime, float]:
    """Kim Long's readings straight from the shipped file, in UTC (the file is UTC+7)."""
    with RIVER_CSV.open(encoding="utf-8") as fh:
        return {datetime.strptime(r["time_local_utc7"], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
                - timedelta(hours=7): float(r["water_level_m"])
                for r in csv.DictReader(fh)
                if r["station_code"] == KIM_LONG and r["water_level_m"]}


def publish_cap_files(hue: Scenario, publish: Path) -> list[str]:
    """A CAP file for every transition in the store (their content is the warnings
    component's business; here they only have to be served), the index, a secret beside the
    folder and a symlink out of it."""
    cap = publish / "cap"
    cap.mkdir(parents=True)
    with transaction(hue.engine) as s:
        identifiers = list(s.scalars(sa.select(AlertTransition.cap_identifier)))
    for identifier in identifiers:
        (cap / f"{identifier}.xml").write_bytes(f"<alert>{identifier}</alert>".encode())
    (cap / "index.atom").write_bytes(b"<feed xmlns='http://www.w3.org/2005/Atom'/>")
    (publish / "secret.xml").write_bytes(SECRET)
    (publish.parent / "secret.xml").write_bytes(SECRET)
    (cap / "link.xml").symlink_to(publish / "secret.xml")
    return identifiers


@pytest.fixture
def start(hue: Scenario, tmp_path: Path) -> Iterator[Start]:
    """Start the app on a loopback port; returns an HTTP client for it."""
    publish = tmp_path / "publish"
    publish_cap_files(hue, publish)
    with ExitStack() as stack:
        def run(*, clock: Callable[[], datetime] = lambda: NOW, feeds: tuple[FeedConfig, ...] = (),
                **settings: Any) -> httpx.Client:
            app = create_app(StoreSettings(data_dir=tmp_path, publish_dir=publish),
                             WebMapSettings(region="hue"),
                             WebAppSettings(**{"admin_token": TOKEN, **settings}),
                             engine=hue.engine, feeds=feeds, clock=clock)
            url = stack.enter_context(serve_in_thread(app))
            return stack.enter_context(httpx.Client(base_url=url, timeout=30))
        yield run


@pytest.fixture
def api(start: Start) -> httpx.Client:
    return start()


def raw_get(client: httpx.Client, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (httpx would normalise dot segments)."""
    url = urlsplit(str(client.base_url))
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def assert_error(response: httpx.Response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "message"} and body["message"]
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["message"], body


# -- the public documents ---------------------------------------------------------------------

def test_areas_levels_reasons_figures_and_as_of(api: httpx.Client, hue: Scenario) -> None:
    r = api.get("/api/areas")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    doc = r.json()
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 40
    assert doc["as_of"] == (NOW - timedelta(hours=1)).isoformat()  # the latest usable run
    assert doc["run"]["id"] == hue.run_id and doc["run"]["status"] == "partial"
    assert doc["approximate_terrain"] is True
    wards = {f["id"]: f for f in doc["features"]}
    red = wards[hue.red]["properties"]
    assert (red["level"], red["hazards"], red["reason"]) == (3, ["rapid_rise", "river_flood"],
                                                             hue.red_reason)
    assert red["colour"] == "#FF9800" and red["level_name"]["en"].startswith("Level 3")
    assert red["figures"] == {"flooded_km2": 1.25, "flooded_share": 0.125, "mean_depth_m": 0.42,
                              "max_depth_m": 1.6, "people_affected": 5234, "rain_24h_mm": 142.0}
    assert red["figures_as_of"] == doc["as_of"]
    assert wards[hue.yellow]["properties"]["level"] == 2
    cancelled = wards[hue.cancelled]["properties"]
    assert (cancelled["level"], cancelled["colour"], cancelled["figures"]) == (0, None, None)
    assert wards[hue.red]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_flood_points_keep_names_as_data(api: httpx.Client, hue: Scenario) -> None:
    r = api.get("/api/flood-points")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    [point] = r.json()["features"]
    assert point["properties"] == {"kind": "deepest", "name": hue.hostile, "depth_m": 1.6,
                                   "ward_code": hue.red}
    assert point["geometry"]["coordinates"] == list(hue.point_xy)


def test_stations_latest_value_bd_status_and_freshness(api: httpx.Client) -> None:
    doc = api.get("/api/stations").json()
    stations = {s["code"]: s for s in doc["stations"]}
    kim = stations[KIM_LONG]
    assert (kim["value"], kim["observed_at"], kim["bd_status"]) == (3.01, NOW.isoformat(), 2)
    assert kim["alarms_m"] == {"bd1": 1.0, "bd2": 2.0, "bd3": 3.5}
    assert kim["fresh"] is True and kim["stale_because"] == []
    assert stations["71518"]["bd_status"] == 3  # Phú Ốc 4.91 m ≥ BĐ III 4.5 m
    assert api.get(kim["readings_url"]).status_code == 200


def test_stations_go_stale_hours_later(start: Start) -> None:
    late = start(clock=lambda: NOW + timedelta(days=30))  # the series ends early December
    kim = next(s for s in late.get("/api/stations").json()["stations"] if s["code"] == KIM_LONG)
    assert kim["fresh"] is False and "old" in kim["stale_because"]


def test_alerts_active_and_recent_with_reasons(api: httpx.Client, hue: Scenario) -> None:
    doc = api.get("/api/alerts").json()
    active = [(a["ward_code"], a["hazard"], a["status"], a["level"], a["reason"])
              for a in doc["active"]]
    assert active == [(hue.red, "river_flood", "firing", 3, hue.red_reason),
                      (hue.yellow, "heavy_rain", "resolving", 2, "142 mm in 24 h"),
                      (hue.red, "rapid_rise", "resolving", 1, "fast rise")]
    assert doc["window"] == {"from": (NOW - timedelta(hours=48)).isoformat(),
                             "to": NOW.isoformat()}
    recent = doc["recent"]
    assert [r["at"] for r in recent] == sorted((r["at"] for r in recent), reverse=True)
    assert len(recent) == 6 and "later" not in {r["reason"] for r in recent}  # not yet at NOW
    assert recent[0]["hazard"] == "rapid_rise" and recent[0]["reason"] == "fast rise"
    cancel = next(r for r in recent if r["kind"] == "cancel")
    assert (cancel["ward_code"], cancel["level"], cancel["reason"]) == (hue.cancelled, 0,
                                                                        "below BĐ I again")
    for r in recent:  # every transition's CAP file is published in this test
        assert r["cap_url"] == f"/cap/{r['cap_identifier']}.xml"
        assert api.get(r["cap_url"]).content == f"<alert>{r['cap_identifier']}</alert>".encode()
    two_hours = api.get("/api/alerts", params={"hours": 2}).json()["recent"]
    assert [r["reason"] for r in two_hours] == ["fast rise", hue.red_reason]


# -- readings ---------------------------------------------------------------------------------

def test_readings_json_and_csv_match_the_source(api: httpx.Client) -> None:
    source = kim_long_series()
    params = {"since": "2025-11-16T00:00:00Z", "until": "2025-11-17T15:00:00+07:00"}
    doc = api.get(f"/api/stations/{KIM_LONG}/readings", params=params).json()
    assert (doc["station"]["code"], doc["parameter"]) == (KIM_LONG, "water_level")
    assert (doc["since"], doc["until"]) == ("2025-11-16T00:00:00Z", "2025-11-17T08:00:00Z")
    got = {datetime.fromisoformat(r["observed_at"]): r["value"] for r in doc["readings"]}
    want = {t: v for t, v in source.items() if datetime(2025, 11, 16, tzinfo=UTC) <= t <= NOW}
    assert got == want and doc["count"] == len(want) > 20
    r = api.get(f"/api/stations/{KIM_LONG}/readings", params={**params, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    parsed = parse_floodwatch_csv(r.content)  # the columns of `floodwatch feeds parse`
    assert {o.observed_at: o.value for o in parsed} == want
    assert {o.station for o in parsed} == {KIM_LONG}


def test_readings_default_period_stops_at_now(api: httpx.Client) -> None:
    doc = api.get(f"/api/stations/{KIM_LONG}/readings",
                  params={"until": "2025-11-30T00:00:00Z"}).json()
    assert doc["until"] == "2025-11-17T08:00:00Z"  # nothing after the time served
    assert doc["readings"][-1]["observed_at"] == "2025-11-17T08:00:00Z"
    doc = api.get(f"/api/stations/{KIM_LONG}/readings").json()
    assert doc["since"] == "2025-11-14T08:00:00Z"  # 72 h
    rain = api.get(f"/api/stations/{KIM_LONG}/readings", params={"parameter": "rainfall"})
    assert rain.status_code == 200 and rain.json()["count"] == 0


BAD_REQUESTS: list[tuple[str, int, list[str]]] = [
    ("/api/stations/NOPE/readings", 404, ["NOPE"]),
    (f"/api/stations/{KIM_LONG}/readings?since=yesterday", 400, ["since", "ISO 8601"]),
    (f"/api/stations/{KIM_LONG}/readings?until=2025-13-01", 400, ["until"]),
    (f"/api/stations/{KIM_LONG}/readings?since=2025-11-17&until=2025-11-16", 400, ["after"]),
    (f"/api/stations/{KIM_LONG}/readings?since=2025-09-01&until=2025-11-17", 400, ["31 days"]),
    (f"/api/stations/{KIM_LONG}/readings?until=0001-01-01", 400, ["years"]),
    (f"/api/stations/{KIM_LONG}/readings?format=xml", 400, ["format"]),
    (f"/api/stations/{KIM_LONG}/readings?parameter=DROP%20TABLE", 400, ["parameter"]),
    (f"/api/stations/{KIM_LONG}/readings?since=" + "9" * 100, 400, ["since"]),
    ("/api/alerts?hours=-1", 400, ["hours"]),
    ("/api/alerts?hours=abc", 400, ["hours"]),
    ("/api/alerts?hours=100000", 400, ["hours"]),
    ("/?lang=fr", 400, ["lang"]),
    ("/nowhere", 404, []),
]


def test_bad_parameters_are_4xx_with_a_message(api: httpx.Client) -> None:
    for path, status, words in BAD_REQUESTS:
        assert_error(api.get(path), status, *words)


def test_wrong_method_and_server_errors_are_json(start: Start, api: httpx.Client) -> None:
    assert_error(api.post("/api/areas"), 405)
    naive = start(clock=lambda: datetime(2025, 11, 17, 8))  # a misconfigured clock
    r = naive.get("/api/areas")
    assert_error(r, 500)
    assert "naive" not in r.text and "clock" not in r.text  # the detail goes to the log


# -- the page, assets, docs -------------------------------------------------------------------

def test_page_languages_and_escaping(api: httpx.Client, hue: Scenario) -> None:
    vi = api.get("/")
    assert vi.status_code == 200 and vi.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in vi.text and "/static/vendor/leaflet/leaflet.js" in vi.text
    assert hue.hostile not in vi.text and "<script>alert(2)" not in vi.text
    assert "default-src 'self'" in vi.headers["content-security-policy"]
    assert '<html lang="en">' in api.get("/", params={"lang": "en"}).text
    assert api.get("/static/vendor/leaflet/leaflet.js").status_code == 200


def test_docs_load_nothing_from_another_host(api: httpx.Client) -> None:
    docs = api.get("/docs")
    assert docs.status_code == 200 and "/api/stations/{code}/readings" in docs.text
    assert "<script" not in docs.text and "cdn" not in docs.text.lower()
    assert "http://" not in docs.text and "https://" not in docs.text
    spec = api.get("/openapi.json").json()
    assert {"/api/areas", "/api/alerts", "/api/flood-points", "/api/stations",
            "/api/stations/{code}/readings", "/cap/{identifier}.xml", "/healthz",
            "/api/admin/subscriptions"} <= set(spec["paths"])
    assert api.get("/redoc").status_code == 404


# -- caching ----------------------------------------------------------------------------------

CACHED_GETS = ["/", "/api/areas", "/api/flood-points", "/api/stations", "/api/alerts",
               f"/api/stations/{KIM_LONG}/readings?format=csv", "/cap/index.atom",
               "/static/vendor/leaflet/leaflet.css", "/openapi.json", "/docs"]


def test_etag_last_modified_and_304(api: httpx.Client) -> None:
    for path in CACHED_GETS:
        first = api.get(path)
        assert first.status_code == 200, path
        etag, modified = first.headers["etag"], first.headers["last-modified"]
        assert first.headers["cache-control"].startswith("public, max-age="), path
        again = api.get(path, headers={"If-None-Match": etag})
        assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag), path
        assert api.get(path, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
        assert api.get(path, headers={"If-None-Match": '"other"'}).status_code == 200, path
        assert api.get(path, headers={"If-Modified-Since": modified}).status_code == 304, path
        assert api.get(path, headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}
                       ).status_code == 200, path


def test_bodies_are_gzipped_for_clients_that_take_it(api: httpx.Client) -> None:
    for path in ("/", "/api/areas", "/static/vendor/leaflet/leaflet.js"):
        packed = api.get(path, headers={"Accept-Encoding": "gzip"})
        plain = api.get(path, headers={"Accept-Encoding": "identity"})
        refused = api.get(path, headers={"Accept-Encoding": "gzip;q=0, br"})
        assert packed.headers["content-encoding"] == "gzip", path
        assert "content-encoding" not in plain.headers and "content-encoding" not in refused.headers
        assert "Accept-Encoding" in packed.headers["vary"], path
        assert packed.content == plain.content == refused.content, path  # httpx decodes
        assert packed.num_bytes_downloaded < len(plain.content) / 2, path
    packed = api.get("/api/areas", headers={"Accept-Encoding": "gzip"})
    plain = api.get("/api/areas", headers={"Accept-Encoding": "identity"})
    assert packed.headers["etag"] != plain.headers["etag"]  # one validator per encoding
    assert api.get("/api/areas", headers={"Accept-Encoding": "gzip",
                                          "If-None-Match": packed.headers["etag"]}
                   ).status_code == 304


def test_a_change_in_the_store_changes_the_etag(start: Start, hue: Scenario) -> None:
    api = start(cache_s=0)  # no reuse of the snapshot between requests
    before = api.get("/api/areas")
    with transaction(hue.engine) as s:
        s.add(AlertStateRow(area_id=hue.ids[hue.cancelled], hazard="heavy_rain",
                            status="firing", level=4, data={}, updated_at=NOW))
    after = api.get("/api/areas", headers={"If-None-Match": before.headers["etag"]})
    assert after.status_code == 200 and after.headers["etag"] != before.headers["etag"]
    assert after.headers["cache-control"] == "no-cache"
    level = {f["id"]: f["properties"]["level"] for f in after.json()["features"]}
    assert level[hue.cancelled] == 4


def test_now_is_floored_to_the_cache_step_and_replay_serves_the_newest_run(
        start: Start) -> None:
    stepped = start(clock=lambda: NOW + timedelta(seconds=59))
    assert stepped.get("/api/alerts").json()["window"]["to"] == NOW.isoformat()
    replay = start(serve_as_of="newest_run", clock=lambda: datetime.now(UTC))
    doc = replay.get("/api/alerts").json()
    assert doc["window"]["to"] == (NOW + timedelta(hours=1)).isoformat()  # the newest run
    assert "later" in {r["reason"] for r in doc["recent"]}


# -- CAP files --------------------------------------------------------------------------------

def test_cap_files_and_index(api: httpx.Client, hue: Scenario) -> None:
    index = api.get("/cap/index.atom")
    assert index.status_code == 200 and index.headers["content-type"] == "application/atom+xml"
    assert index.content.startswith(b"<feed")
    assert_error(api.get("/cap/never-published.xml"), 404)


TRAVERSALS = [
    "/cap/../secret.xml", "/cap/..%2Fsecret.xml", "/cap/%2e%2e%2fsecret.xml",
    "/cap/..%2F..%2Fsecret.xml", "/cap/%2E%2E/secret.xml", "/cap/..%5Csecret.xml",
    "/cap/link.xml", "/cap/.%2e/secret.xml", "/cap/secret.xml%00", "/cap/%00.xml",
    "/cap//etc/passwd.xml", "/cap/%2Fetc%2Fpasswd.xml", "/static/vendor/../../secret.xml",
    "/static/vendor/..%2F..%2F..%2Fsecret.xml", "/cap/index.atom/../../secret.xml",
]


def test_cap_path_traversal_is_impossible(api: httpx.Client) -> None:
    assert raw_get(api, "/cap/index.atom")[0] == 200  # the raw client works
    for path in TRAVERSALS:
        status, body = raw_get(api, path)
        assert status in (400, 404), (path, status)
        assert SECRET not in body and b"root:" not in body, path


# -- health -----------------------------------------------------------------------------------

def test_healthz_ok_then_503_for_a_failing_or_never_pulled_feed(start: Start,
                                                                 hue: Scenario) -> None:
    ok = start().get("/healthz")
    assert ok.status_code == 200 and ok.json()["status"] == "ok"
    assert ok.headers["cache-control"] == "no-store"
    assert ok.json()["feeds"][0]["name"] == "replay-hue-2025-11"
    never = start(feeds=(FeedConfig(name="ea-test", kind="ea", url="https://example.org/x"),))
    r = never.get("/healthz")
    assert r.status_code == 503 and r.json()["store"] == {"reachable": True}
    assert {f["name"]: f["state"] for f in r.json()["feeds"]}["ea-test"] == "never"
    with transaction(hue.engine) as s:
        s.add(FeedStatus(name="vndms", kind="csv", last_attempt_at=NOW, last_error="HTTP 500",
                         consecutive_failures=3, readings_added=0, readings_total=0, state={}))
    r = start().get("/healthz")
    assert r.status_code == 503 and "HTTP 500" not in r.text
    assert {f["name"]: f["state"] for f in r.json()["feeds"]}["vndms"] == "failing"


def test_store_unreachable_is_503_json(tmp_path: Path) -> None:
    store = StoreSettings(data_dir=tmp_path,
                          database_url="postgresql+psycopg://nobody:pw@127.0.0.1:9/none")
    app = create_app(store, WebMapSettings(region="hue"), WebAppSettings(), clock=lambda: NOW)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.json()["store"]["reachable"] is False and "pw" not in health.text
        assert_error(client.get("/api/areas"), 503, "store")


# -- administration ---------------------------------------------------------------------------

def test_admin_is_off_without_a_token(start: Start) -> None:
    off = start(admin_token=None)
    for r in (off.get("/api/admin/subscriptions"),
              off.get("/api/admin/subscriptions", headers={"Authorization": f"Bearer {TOKEN}"}),
              off.post("/api/admin/subscriptions", json={}),
              off.delete("/api/admin/subscriptions/1")):
        assert_error(r, 404)
    with pytest.raises(ConfigError):
        WebAppSettings(admin_token="short")


CREDENTIALS: list[tuple[dict[str, str], int]] = [
    ({}, 401), ({"Authorization": "Bearer"}, 401), ({"Authorization": f"Basic {TOKEN}"}, 401),
    ({"Authorization": "Bearer wrong-token-wrong-token"}, 403),
    ({"Authorization": f"Bearer {TOKEN}x"}, 403), ({"Authorization": f"Bearer {TOKEN}"}, 200),
]


def test_admin_token_missing_wrong_right(api: httpx.Client) -> None:
    for headers, status in CREDENTIALS:
        r = api.get("/api/admin/subscriptions", headers=headers)
        assert r.status_code == status, (headers, r.text)
        if status == 401:
            assert r.headers["www-authenticate"].startswith("Bearer")
        if status != 200:
            assert_error(r, status)
            assert_error(api.post("/api/admin/subscriptions", headers=headers, json={}), status)
            assert_error(api.delete("/api/admin/subscriptions/1", headers=headers), status)


def test_admin_subscriptions_list_create_delete(api: httpx.Client, hue: Scenario) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    new = {"channel": "email", "address": " Lan@Example.org ", "language": "en",
           "min_level": 2, "areas": [hue.red, "Phường Kim Long", hue.red], "label": "<b>Lan</b>"}
    created = api.post("/api/admin/subscriptions", headers=auth, json=new)
    assert created.status_code == 201, created.text
    doc = created.json()
    assert doc["address"] == "Lan@example.org" and doc["label"] == "<b>Lan</b>"
    assert doc["areas"] == [{"code": hue.red, "name": "Phú Xuân"},
                            {"code": hue.yellow, "name": "Kim Long"}]  # by code or by name
    location = created.headers["location"]
    assert location == f"/api/admin/subscriptions/{doc['id']}"
    assert created.headers["cache-control"] == "no-store"
    listed = api.get("/api/admin/subscriptions", headers=auth).json()["subscriptions"]
    assert listed == [doc] and api.get(location, headers=auth).json() == doc
    again = {**new, "address": "lan@EXAMPLE.org"}  # the same mailbox
    assert_error(api.post("/api/admin/subscriptions", headers=auth, json=again), 400,
                 "already subscribed")
    with transaction(hue.engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SubscriptionArea)) == 2
    assert api.delete(location, headers=auth).status_code == 204  # stopped, history kept
    assert api.get("/api/admin/subscriptions", headers=auth).json() == {"subscriptions": []}
    kept = api.get("/api/admin/subscriptions", headers=auth,
                   params={"include_inactive": "true"}).json()["subscriptions"]
    assert [(k["id"], k["active"]) for k in kept] == [(doc["id"], False)]
    assert api.delete(location, headers=auth, params={"purge": "true"}).status_code == 204
    assert_error(api.delete(location, headers=auth), 404)
    assert_error(api.get(location, headers=auth), 404)
    with transaction(hue.engine) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(SubscriptionArea)) == 0


BAD_SUBSCRIPTIONS: list[tuple[dict[str, Any], list[str]]] = [
    ({"address": "not an address"}, ["e-mail"]),
    ({"channel": "sms", "address": "12"}, ["phone"]),
    ({"channel": "webhook", "address": "http://example.org/hook"}, ["https"]),
    ({"channel": "pigeon"}, ["channel"]),
    ({"areas": ["99999"]}, ["99999"]),
    ({"areas": ["OLD-1"]}, ["OLD-1"]),  # a ward of the old era is not a ward today
    ({"areas": []}, ["areas"]),
    ({"min_level": 9}, ["min_level"]),
    ({"language": "fr"}, ["language"]),
    ({"is_admin": True}, ["is_admin"]),
]


def test_admin_rejects_bad_subscriptions(api: httpx.Client, hue: Scenario) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    for change, words in BAD_SUBSCRIPTIONS:
        body = {"channel": "email", "address": "lan@example.org", "areas": [hue.red], **change}
        assert_error(api.post("/api/admin/subscriptions", json=body, headers=auth), 400, *words)
    assert api.get("/api/admin/subscriptions", headers=auth).json() == {"subscriptions": []}


def test_admin_rejects_malformed_and_oversized_bodies(api: httpx.Client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert_error(api.post("/api/admin/subscriptions", headers=auth, content=b"{not json"), 400)
    big = json.dumps({"channel": "email", "address": "a@example.org",
                      "areas": ["1"] * 50_000}).encode()
    assert api.post("/api/admin/subscriptions", headers=auth, content=big).status_code in (
        400, 413)
    assert_error(api.get("/api/admin/subscriptions/0", headers=auth), 400)
    assert_error(api.get("/api/admin/subscriptions/abc", headers=auth), 400)


# -- the command ------------------------------------------------------------------------------

def test_floodwatch_serve_prints_its_url_and_serves(hue: Scenario, tmp_path: Path) -> None:
    """The real command in its own process (registered here as main.py registers it, until
    main.py does)."""
    script = ("import sys\nfrom floodwatch.cli import main, serve\n"
              "if 'serve' not in {c.name for c in main.app.registered_commands}:\n"
              "    main.app.command('serve')(serve.serve)\n"
              "sys.exit(main.run(sys.argv[1:]))\n")
    env = {**os.environ, "FLOODWATCH_DATABASE_URL":
           hue.engine.url.render_as_string(hide_password=False),
           "FLOODWATCH_DATA_DIR": str(tmp_path)}
    env.pop("FLOODWATCH_CONFIG", None)
    missing = subprocess.run([sys.executable, "-c", script, "serve", "--region", "nowhere"],
                             env=env, capture_output=True, text=True, timeout=120)
    assert missing.returncode == 4 and "error: no region 'nowhere'" in missing.stderr
    proc = subprocess.Popen([sys.executable, "-c", script, "serve", "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("serving the hue flood map at http://127.0.0.1:"), line
        url = line.split(" at ", 1)[1].split()[0]
        r = httpx.get(url + "healthz", timeout=30)  # the socket listens before the line
        assert r.status_code == 200 and r.json()["store"]["reachable"] is True
        assert len(httpx.get(url + "api/areas", timeout=30).json()["features"]) == 40
    finally:
        proc.terminate()
        proc.wait(timeout=30)
