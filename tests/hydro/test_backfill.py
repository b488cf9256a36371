"""Backfilling a feed window by window against a real HTTP server; resuming after an
interruption asks only for the windows not done yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.core.errors import InputError
from floodwatch.hydro.backfill import backfill_feed
from floodwatch.hydro.pull import transport_options
from floodwatch.hydro.settings import FeedConfig
from floodwatch.hydro.transport import FeedClient

EA = (Path(__file__).parents[1] / "fixtures" / "feeds" / "ea"
      / "ea_2015-12_id_stations_690140_readings_sorted_limit50.json").read_bytes()
SINCE = datetime(2015, 12, 8, tzinfo=UTC)
UNTIL = datetime(2015, 12, 11, tzinfo=UTC)


def _client(feed: FeedConfig) -> FeedClient:
    return FeedClient(transport_options(feed, trust_env=False), name=feed.name)


def test_backfill_windows_and_resume(engine: Engine, http_server) -> None:
    url = http_server.route("/readings", http_server.Reply(body=EA))
    feed = FeedConfig(name="ea", kind="ea", url=url, min_interval_s=0)

    def stop_after_first(done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        backfill_feed(engine, feed, since=SINCE, until=UNTIL, client_factory=_client,
                      progress=stop_after_first)
    assert len(http_server.requests) == 1
    result = backfill_feed(engine, feed, since=SINCE, until=UNTIL, client_factory=_client)
    queries = [parse_qs(urlsplit(path).query) for path, _ in http_server.requests]
    assert [q["startdate"][0] for q in queries] == ["2015-12-08", "2015-12-09", "2015-12-10"]
    # the fixture's 50 readings (10 Dec, 03:45–16:00) fall in the third window only
    assert result.added == 50
    with engine.connect() as conn:
        assert conn.scalar(sa.text("SELECT count(*) FROM readings")) == 50
    again = backfill_feed(engine, feed, since=SINCE, until=UNTIL, client_factory=_client)
    assert again.parsed == 0 and len(http_server.requests) == 3  # nothing left to ask for


def test_bad_periods(engine: Engine) -> None:
    feed = FeedConfig(name="ea", kind="ea", url="http://127.0.0.1:9/x")
    with pytest.raises(InputError, match="must be after"):
        backfill_feed(engine, feed, since=UNTIL, until=SINCE)
    csv_feed = FeedConfig(name="c", kind="csv", url="http://127.0.0.1:9/x", mapping=Path("m.toml"))
    with pytest.raises(InputError, match="cannot be asked for a time window"):
        backfill_feed(engine, csv_feed, since=SINCE, until=UNTIL - timedelta(days=1))
