"""Pulling feeds end to end against a real HTTP server on loopback, on both backends: errors are
recorded, nothing stored is lost, and the next pull recovers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.core.db import session_factory
from floodwatch.hydro.models import FeedStatus
from floodwatch.hydro.pull import pull_all, pull_feed, transport_options
from floodwatch.hydro.settings import FeedConfig
from floodwatch.hydro.transport import FeedClient

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
EA_READINGS = (FEEDS / "ea" / "ea_2015-12_id_stations_690140_readings_sorted_limit50.json"
               ).read_bytes()


def _fast_client(feed: FeedConfig) -> FeedClient:
    options = transport_options(feed, backoff_initial_s=0.01, backoff_max_s=0.02,
                                trust_env=False)
    return FeedClient(options, name=feed.name)


def _pull(engine: Engine, feed: FeedConfig):
    return pull_feed(engine, feed, client_factory=_fast_client)


def _readings(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.text("SELECT count(*) FROM readings")))


def _status(engine: Engine, name: str) -> FeedStatus:
    with session_factory(engine)() as session:
        status = session.get(FeedStatus, name)
        assert status is not None
        return status


def _feed(url: str, kind: str = "ea", **extra: Any) -> FeedConfig:
    return FeedConfig(name="ea-690140", kind=kind, url=url, timeout_s=1.0, max_attempts=2,
                      min_interval_s=0, **extra)


def test_pull_stores_then_304_costs_nothing(engine: Engine, http_server) -> None:
    R = http_server.Reply
    url = http_server.route("/readings", R(body=EA_READINGS, etag='"v1"'))
    feed = _feed(url)
    first = _pull(engine, feed)
    assert first.ok and first.fetched == 50 and first.added == 50
    status = _status(engine, feed.name)
    assert status.last_error is None and status.readings_total == 50
    assert status.newest_reading_at is not None
    assert status.newest_reading_at.isoformat() == "2015-12-10T16:00:00+00:00"

    second = _pull(engine, feed)
    assert second.ok and second.not_modified and second.added == 0
    assert http_server.requests[-1][1].get("If-None-Match") == '"v1"'
    assert _readings(engine) == 50


def _fails_then_recovers(engine: Engine, http_server, bad: Any, expect: str) -> None:
    R = http_server.Reply
    url = http_server.route("/readings", R(body=EA_READINGS))
    feed = _feed(url)
    assert _pull(engine, feed).added == 50
    http_server.route("/readings", bad)
    failed = _pull(engine, feed)
    assert not failed.ok and expect in (failed.error or "")
    status = _status(engine, feed.name)
    assert status.consecutive_failures == 1 and expect in (status.last_error or "")
    assert status.last_success_at is not None and status.last_success_at < status.last_attempt_at
    assert _readings(engine) == 50  # what it had is kept
    http_server.route("/readings", R(body=EA_READINGS))
    recovered = _pull(engine, feed)
    assert recovered.ok and recovered.added == 0
    status = _status(engine, feed.name)
    assert status.last_error is None and status.consecutive_failures == 0


@pytest.mark.parametrize(
    ("make_bad", "expect"),
    [
        (lambda R: R(500, b"oops"), "500"),
        (lambda R: R(body=b'{"items": [ {"dateTime": '), "JSON"),
        (lambda R: R(body=EA_READINGS, truncate=True), "readings"),
        (lambda R: R(body=EA_READINGS, delay_s=1.5), "timed out"),
        (lambda R: R(body=b'{"items": "not a list"}'), "items"),
    ],
    ids=["http-500", "invalid-json", "truncated", "timeout", "wrong-structure"],
)
def test_errors_are_recorded_and_the_next_pull_recovers(
        engine: Engine, http_server, make_bad: Callable[[Any], Any], expect: str) -> None:
    _fails_then_recovers(engine, http_server, make_bad(http_server.Reply), expect)


def test_a_failing_feed_does_not_stop_the_others(engine: Engine, http_server) -> None:
    R = http_server.Reply
    bad = FeedConfig(name="down", kind="ea", url=http_server.route("/down", R(503)),
                     timeout_s=1, max_attempts=1)
    good = _feed(http_server.route("/readings", R(body=EA_READINGS)))
    results = pull_all(engine, [bad, good], client_factory=_fast_client)
    assert [r.ok for r in results] == [False, True]
    assert _readings(engine) == 50


def test_paging_follows_next_links(engine: Engine, http_server) -> None:
    # The real `continuous` collection of the USGS Water Data fixture, split into two pages
    # linked by links[rel=next] as the live API pages them.
    collections = json.loads((FEEDS / "usgs" / "usgs_waterdata_ogcapi_collections_fixtures.json"
                              ).read_text())
    whole = collections["continuous"]
    page1, page2 = copy.deepcopy(whole), copy.deepcopy(whole)
    page1["features"], page2["features"] = whole["features"][:1], whole["features"][1:]
    page1["links"] = [{"rel": "next", "href": http_server.url("/page2")}]
    R = http_server.Reply
    http_server.route("/page2", R(body=json.dumps(page2).encode()))
    feed = FeedConfig(name="usgs-continuous", kind="usgs-waterdata",
                      url=http_server.route("/page1", R(body=json.dumps(page1).encode())),
                      timeout_s=1, max_attempts=1, min_interval_s=0)
    result = _pull(engine, feed)
    assert result.ok and result.fetched == 2 and result.added == 2
    assert [p for p, _ in http_server.requests] == ["/page1", "/page2"]


def test_unknown_stations_are_registered_from_the_source(engine: Engine, http_server) -> None:
    R = http_server.Reply
    _pull(engine, _feed(http_server.route("/readings", R(body=EA_READINGS))))
    with engine.connect() as conn:
        codes = conn.execute(sa.text("SELECT code, kind FROM stations")).all()
    assert codes == [("690140", "river_gauge")]


def test_station_filter(engine: Engine, http_server) -> None:
    R = http_server.Reply
    url = http_server.route("/readings", R(body=EA_READINGS))
    assert _pull(engine, _feed(url, stations=("nope",))).fetched == 0
    assert _pull(engine, _feed(url, stations=("690140",))).fetched == 50
