"""The scheduler as deployed: real `floodwatch schedule` processes pulling a real HTTP feed on
a short cadence; a second process stands by instead of running the jobs twice, takes over when
the first stops, and both stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

FEEDS = Path(__file__).parents[1] / "fixtures" / "feeds"
EA_READINGS = (FEEDS / "ea" / "ea_2015-12_id_stations_690140_readings_sorted_limit50.json"
               ).read_bytes()


def _wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("floodwatch")
    return subprocess.Popen([exe, "schedule"], env=env, stdout=log.open("wb"),
                            stderr=subprocess.STDOUT)


def _stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


@pytest.fixture
def schedule_env(store_url: str, tmp_path: Path, http_server) -> dict[str, str]:
    url = http_server.route("/readings", http_server.Reply(body=EA_READINGS))
    config = tmp_path / "floodwatch.toml"
    config.write_text(
        "[hydro]\nstandby_poll_s = 0.3\n\n[[hydro.feeds]]\n"
        f'name = "ea-690140"\nkind = "ea"\nurl = "{url}"\ncadence_s = 1\nmin_interval_s = 0\n',
        encoding="utf-8")
    env = {**os.environ, "FLOODWATCH_DATABASE_URL": store_url,
           "FLOODWATCH_CONFIG": str(config), "FLOODWATCH_DATA_DIR": str(tmp_path / "data")}
    subprocess.run([Path(sys.executable).with_name("floodwatch"), "db", "upgrade"], env=env,
                   check=True, capture_output=True)
    return env


def test_one_leader_runs_the_jobs(schedule_env: dict[str, str], http_server, tmp_path: Path
                                  ) -> None:
    requests = http_server.requests
    first = _start(schedule_env, tmp_path / "first.log")
    try:
        _wait_for(lambda: len(requests) >= 2)
        second = _start(schedule_env, tmp_path / "second.log")
        try:
            _wait_for(lambda: b"standing by" in (tmp_path / "second.log").read_bytes())
            before, started = len(requests), time.monotonic()
            time.sleep(4)
            during = len(requests) - before
            elapsed = time.monotonic() - started
            # one job every second from one process: at most one request per elapsed second
            # (plus one at the window's edge); two leaders would make about twice as many
            assert 1 <= during <= elapsed + 1, (during, elapsed)
            assert _stop(first) == 0
            handed_over = len(requests)
            _wait_for(lambda: len(requests) >= handed_over + 2)  # the standby took over
            assert b"leader lock taken" in (tmp_path / "second.log").read_bytes()
        finally:
            assert _stop(second) == 0
    finally:
        if first.poll() is None:
            _stop(first)
    log = (tmp_path / "first.log").read_text()
    assert "stopping after the running jobs finish" in log and "scheduler stopped" in log
    # the jobs really ran: readings were stored, and the feed is healthy
    status = subprocess.run([Path(sys.executable).with_name("floodwatch"), "feeds", "status",
                             "--json"], env=schedule_env, capture_output=True, text=True,
                            check=True)
    import json

    row = json.loads(status.stdout)[0]
    assert row["name"] == "ea-690140" and row["state"] in ("ok", "stale")
    assert row["readings_total"] == 50 and row["last_error"] is None
