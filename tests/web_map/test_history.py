"""The history API: the real November 2025 series and a short replay of it through the model
cycle and the alerts, read back into pandas / geopandas / xarray on both backends; the pure
period functions table-tested."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.cli.main import run as cli
from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
from floodwatch.hydro.backfill import load_series
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.store import upsert_readings
from floodwatch.warnings.tables import Notification
from floodwatch.web_map import history, history_events, history_runs

RIVER_CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"
SINCE, UNTIL = "2025-11-16T12:00Z", "2025-11-20T00:00Z"
KIM_LONG, PHU_OC, QUANG_DIEN = "71520", "71518", "19867"


def t(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def series(engine: Engine) -> Engine:
    """Huế with its recorded November 2025 series (no model runs)."""
    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")
    return engine


def provider_periods(code: str, k: int) -> list[tuple[pd.Timestamp, pd.Timestamp | None]]:
    """Periods at or above BĐ k by the provider's own ``alert_level`` column of the CSV (local
    time, UTC+7): an oracle independent of the store and of the alarm levels floodwatch holds."""
    rows = pd.read_csv(RIVER_CSV, dtype={"station_code": str})
    rows = rows[rows["station_code"] == code]
    rows = rows.assign(at=pd.to_datetime(rows["time_local_utc7"]).dt.tz_localize("Etc/GMT-7")
                       .dt.tz_convert("UTC"))
    rows = rows[(rows["at"] >= t(SINCE)) & (rows["at"] <= t(UNTIL))].sort_values("at")
    out, start = [], None
    for at, level in zip(rows["at"], rows["alert_level"], strict=True):
        if level >= k and start is None:
            start = at
        elif level < k and start is not None:
            out.append((start, at))
            start = None
    return out + ([(start, None)] if start is not None else [])


def test_events_are_the_crossings_of_the_recorded_series(series: Engine) -> None:
    found = history_events.events(series, "hue", SINCE, UNTIL)
    kim_long = found[(found["station"] == KIM_LONG) & (found["bd"] == 2)].iloc[0]
    assert (kim_long["start"], kim_long["end"]) == (t("2025-11-16 19:00"), t("2025-11-18 05:00"))
    assert (kim_long["peak_m"], kim_long["peak_at"]) == (3.01, t("2025-11-17 08:00"))
    assert kim_long["duration_h"] == 34 and not kim_long["open_end"]
    phu_oc = found[(found["station"] == PHU_OC) & (found["bd"] == 3)].iloc[0]
    assert (phu_oc["start"], phu_oc["end"]) == (t("2025-11-16 20:00"), t("2025-11-17 20:00"))
    assert (phu_oc["peak_m"], phu_oc["bd_name"], phu_oc["threshold_m"]) == (4.96, "BĐ III", 4.5)
    for code in (KIM_LONG, PHU_OC):
        for k in (1, 2, 3):
            rows = found[(found["station"] == code) & (found["bd"] == k)]
            ours = [(r.start, None if pd.isna(r.end) else r.end) for r in rows.itertuples()]
            assert ours == provider_periods(code, k), (code, k)
    # a window ending mid-flood: the period is open, its duration runs to the last reading
    cut = history_events.events(series, "hue", SINCE, "2025-11-17T00:00Z")
    open_ = cut[(cut["station"] == KIM_LONG) & (cut["bd"] == 2)].iloc[0]
    assert bool(open_["open_end"]) and pd.isna(open_["end"]) and open_["duration_h"] == 5
    first = cut[(cut["station"] == KIM_LONG) & (cut["bd"] == 1)].iloc[0]
    assert bool(first["open_start"]) and first["start"] == t(SINCE)


def test_readings_long_frame_flags_and_bins(series: Engine) -> None:
    frame = history.readings(series, [KIM_LONG, PHU_OC], SINCE, "2025-11-16T19:00+07:00")
    assert list(frame.columns) == history.READING_COLUMNS
    assert str(frame["observed_at"].dt.tz) == "UTC"
    assert frame["observed_at"].min() == t(SINCE) and frame["observed_at"].max() == t(SINCE)
    spike = Observation(KIM_LONG, Parameter.WATER_LEVEL, datetime(2025, 11, 16, 12, 30,
                                                                   tzinfo=UTC),
                        9.9, "m", "test", frozenset({Flag.SPIKE, Flag.PROVISIONAL}))
    upsert_readings(series, [spike])
    window = ("2025-11-16T12:00Z", "2025-11-16T14:59Z")
    raw = history.readings(series, KIM_LONG, *window)
    assert list(raw["value"]) == [1.42, 9.9, 1.47, 1.54]
    assert raw["flags"].iloc[1] == "provisional|spike"
    usable = history.readings(series, KIM_LONG, *window, include_flagged=False)
    assert list(usable["value"]) == [1.42, 1.47, 1.54]
    hourly = history.readings(series, KIM_LONG, *window, resample="1h")
    assert list(hourly["value"]) == pytest.approx([(1.42 + 9.9) / 2, 1.47, 1.54])
    assert list(hourly["count"]) == [2, 1, 1] and hourly["flags"].iloc[0] == "provisional|spike"


def test_resample_sums_rain_and_leaves_empty_bins_empty() -> None:
    frame = pd.DataFrame({
        "station": "R1", "name": "rain", "parameter": "rainfall",
        "observed_at": pd.to_datetime(["2025-11-16 00:00", "2025-11-16 00:30",
                                       "2025-11-16 02:15"], utc=True),
        "value": [2.0, 3.5, np.nan], "unit": "mm", "flags": ["", "estimated", "missing"],
        "source": "t"})
    binned = history.resample_readings(frame, "1h", how="sum")
    assert list(binned["observed_at"]) == [t("2025-11-16 00:00"), t("2025-11-16 01:00"),
                                           t("2025-11-16 02:00")]
    assert binned["value"].iloc[0] == 5.5 and binned["value"].iloc[1:].isna().all()
    assert list(binned["flags"]) == ["estimated", "", "missing"]
    assert list(binned["count"]) == [2, 0, 0]


@pytest.mark.parametrize(("levels", "expected"), [
    ([1, 3, 3, 1, 4], [("01", "03", 3.0, "01", False, False),
                       ("04", None, 4.0, "04", False, True)]),
    ([3, 3, 1], [("00", "02", 3.0, "00", True, False)]),
    ([1, 3, np.nan, 3.5], [("01", None, 3.5, "03", False, True)]),  # a gap is not a crossing
    ([1, 2], []),
    ([], []),
])
def test_threshold_periods(levels: list[float], expected: list[tuple]) -> None:
    index = pd.DatetimeIndex([t(f"2025-11-17 {h:02d}:00") for h in range(len(levels))])
    found = history_events.threshold_periods(pd.Series(levels, index=index, dtype=float), 3.0)
    got = [(r.start.strftime("%H"), None if pd.isna(r.end) else r.end.strftime("%H"), r.peak_m,
            r.peak_at.strftime("%H"), r.open_start, r.open_end) for r in found.itertuples()]
    assert got == expected


def _changes(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"code": "W", "name": "ward", "hazard": "river_flood", "at": t(at),
                          "kind": kind, "level": level, "id": i}
                         for i, (at, kind, level) in enumerate(rows)])


@pytest.mark.parametrize(("changes", "since", "until", "expected"), [
    # alert, a stage update at the same level (one period), escalation, cancel
    (_changes(("2025-11-17 01:00", "alert", 1), ("2025-11-17 02:00", "update", 2),
              ("2025-11-17 03:00", "update", 2), ("2025-11-17 05:00", "update", 3),
              ("2025-11-17 06:00", "cancel", 0)), None, None,
     [(1, 1.0, False, False), (2, 3.0, False, False), (3, 1.0, False, False)]),
    # in force before the window (clipped, open start) and after it (ends at until)
    (_changes(("2025-11-16 20:00", "alert", 2), ("2025-11-17 04:00", "update", 1)),
     "2025-11-17 00:00", "2025-11-17 10:00", [(2, 4.0, True, False), (1, 6.0, False, True)]),
    # cancelled before the window: nothing
    (_changes(("2025-11-16 20:00", "alert", 2), ("2025-11-16 22:00", "cancel", 0)),
     "2025-11-17 00:00", "2025-11-17 10:00", []),
    # open-ended window: the level in force has no end
    (_changes(("2025-11-17 01:00", "alert", 2)), None, None, [(2, None, False, True)]),
])
def test_level_periods(changes: pd.DataFrame, since: str | None, until: str | None,
                       expected: list[tuple]) -> None:
    lower = t(since).to_pydatetime() if since else None
    upper = t(until).to_pydatetime() if until else None
    found = history_events.level_periods(changes, lower, upper)
    got = [(r.level, None if pd.isna(r.duration_h) else r.duration_h, r.open_start, r.open_end)
           for r in found.itertuples()]
    assert got == expected


def test_masking_keeps_enough_to_tell_subscribers_apart() -> None:
    mask = history_events.mask_address
    assert mask("email", "xa.quangdien@example.vn") == "x***@example.vn"
    assert mask("sms", "+84912345678") == "+849******78"
    assert mask("webhook", "https://hooks.example.org/T0/secret?token=1") == \
        "https://hooks.example.org/…"
    assert mask("pigeon", "loft 7") == "***"
    text = history_events.mask_text("550 xa.quangdien@example.vn unknown; +84 912 345 678 "
                                     "https://h.example.org/x?k=1")
    assert "quangdien" not in text and "345" not in text and "k=1" not in text


@pytest.fixture
def replayed(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             add_subscription: Callable[..., int]) -> Engine:
    """Four hours of the event through cycle → alerts → outbox, with a subscriber of Quảng
    Điền; one of its notifications sent, one dead."""
    load_region(engine, load_definition("hue"))
    add_subscription(engine, [QUANG_DIEN], "xa.quangdien@example.vn")
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path))
    assert cli(["replay", "run", "hue-2025-11", "--since", "2025-11-16T18:00Z",
                "--until", "2025-11-16T21:00Z"]) == 0
    with transaction(engine) as s:
        first, second = s.scalars(sa.select(Notification).order_by(Notification.id)).all()[:2]
        first.status, first.sent_at = "sent", datetime(2025, 11, 16, 19, 1, tzinfo=UTC)
        second.status, second.last_error = "dead", "550 mailbox xa.quangdien@example.vn full"
    return engine


def test_history_of_a_replayed_event(replayed: Engine) -> None:
    results = history_runs.ward_results(replayed, "hue")
    assert len(results) == 4 * 40 and results["valid_at"].nunique() == 4
    assert list(results.columns) == history_runs.RESULT_COLUMNS
    by_hour = results.groupby("valid_at")["people_affected"].sum()
    assert by_hour.is_monotonic_increasing and by_hour.iloc[-1] > 0  # the water rose
    layer = history_runs.ward_results(replayed, "hue", "2025-11-16T21:00Z", geometry=True)
    assert len(layer) == 40 and layer.crs.to_epsg() == 4326 and layer.geometry.notna().all()
    runs = history_runs.runs(replayed, "hue")
    assert list(runs["status"]) == ["ok"] * 4 and runs["depth_path"].notna().all()

    alerts = history_events.alerts(replayed, "hue")
    quang_dien = alerts[(alerts["code"] == QUANG_DIEN) & (alerts["hazard"] == "river_flood")]
    assert list(zip(quang_dien["kind"], quang_dien["level"], quang_dien["at"], strict=True)) == [
        ("alert", 2, t("2025-11-16 19:00")), ("update", 2, t("2025-11-16 20:00"))]
    assert "Phú Ốc" in quang_dien["reason"].iloc[1]
    periods = history_events.alert_periods(replayed, "hue", "2025-11-16T19:30Z",
                                           "2025-11-16T21:00Z", hazard="river_flood")
    [row] = periods[periods["code"] == QUANG_DIEN].itertuples()  # the BĐ III update: no split
    assert (row.level, row.start, row.duration_h, row.open_start, row.open_end) == (
        2, t("2025-11-16 19:30"), 1.5, True, True)
    hours = history_events.time_at_levels(periods)
    assert hours.loc[(QUANG_DIEN, "Quảng Điền"), 2] == 1.5

    notes = history_events.notifications(replayed, "2025-11-16T18:00Z", "2025-11-16T21:00Z")
    assert set(notes["code"]) == {QUANG_DIEN} and set(notes["address"]) == {"x***@example.vn"}
    assert notes["status"].value_counts()[["sent", "dead"]].tolist() == [1, 1]
    dead = notes[notes["status"] == "dead"].iloc[0]
    assert "quangdien" not in dead["last_error"]
    assert len(history_events.notifications(replayed, status="sent")) == 1

    depth = history_runs.depth(replayed, "hue", "2025-11-16T20:30Z")
    assert depth.attrs["valid_at"] == "2025-11-16T20:00:00+00:00" and depth.attrs["units"] == "m"
    assert depth.rio.crs.to_epsg() == 32648 and float(depth.max()) > 0
    stack = history_runs.depth_stack(replayed, "hue", "2025-11-16T19:00Z")
    assert stack.sizes["time"] == 3 and list(stack["run_id"].values) == list(runs["run_id"][1:])
    np.testing.assert_array_equal(stack.sel(time=pd.Timestamp("2025-11-16 20:00")).values,
                                  depth.values)
    with pytest.raises(NotFoundError, match="no model run of hue at or before"):
        history_runs.depth(replayed, "hue", "2025-11-16T17:00Z")


def test_areas_as_a_geodataframe(series: Engine) -> None:
    wards = history.areas(series, "hue")
    assert len(wards) == 40 and wards.crs.to_epsg() == 4326
    assert wards.set_index("code").loc[QUANG_DIEN, "name"] == "Quảng Điền"
    assert set(wards["parent_code"]) == {"46"} and wards["population"].sum() == 1_433_465
    districts = history.areas(series, "hue", "district", valid_on=datetime(2025, 1, 1).date())
    assert len(districts) == 9
    assert history.areas(series, "hue", "district", valid_on=datetime(2025, 8, 1).date()).empty


def test_bad_input_is_refused_with_a_clear_error(series: Engine) -> None:
    with pytest.raises(NotFoundError, match=r"unknown station.*99999"):
        history.readings(series, ["99999", KIM_LONG])
    with pytest.raises(NotFoundError, match="region 'atlantis' is not loaded"):
        history_events.events(series, "atlantis")
    with pytest.raises(InputError, match="is after until"):
        history_events.alerts(series, "hue", "2025-11-18", "2025-11-17")
    with pytest.raises(InputError, match="no time zone"):
        history.readings(series, KIM_LONG, datetime(2025, 11, 17))
    with pytest.raises(InputError, match="not an ISO 8601"):
        history.readings(series, KIM_LONG, "yesterday")
    with pytest.raises(InputError, match="unknown parameter"):
        history.readings(series, KIM_LONG, parameter="snow")
    with pytest.raises(InputError, match="not a pandas frequency"):
        history.readings(series, KIM_LONG, resample="fortnightly-ish")
    with pytest.raises(InputError, match="at least one station"):
        history.readings(series, [])
    with pytest.raises(NotFoundError, match="no areas of level 'commune'"):
        history_runs.ward_results(series, "hue", level="commune")
    with pytest.raises(InputError, match="unknown notification status"):
        history_events.notifications(series, status="lost")
    with pytest.raises(NotFoundError, match="no depth rasters"):
        history_runs.depth_stack(series, "hue")
    # a database URL works as well as an Engine
    url = series.url.render_as_string(hide_password=False)
    assert len(history.stations(url, "hue")) == 5
