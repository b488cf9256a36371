"""``floodwatch export``: every export read back and compared with the history API, NetCDF files
checked for their CF attributes, bad arguments refused with exit code 2, files replaced
atomically; on both backends."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import h5netcdf
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
import xarray as xr
from sqlalchemy.engine import Engine

from floodwatch.cli.main import run as cli
from floodwatch.core.db import transaction
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area
from floodwatch.gis_data.region import load_definition
from floodwatch.hydro.backfill import load_series
from floodwatch.hydro.feeds.base import Flag, Observation, Parameter
from floodwatch.hydro.store import upsert_readings
from floodwatch.warnings.tables import Subscription, SubscriptionArea
from floodwatch.web_map import export, history, history_events, history_runs

SINCE, UNTIL = "2025-11-16T12:00Z", "2025-11-20T00:00Z"
KIM_LONG, PHU_OC, QUANG_DIEN = "71520", "71518", "19867"
SPIKE_AT = datetime(2025, 11, 16, 12, 30, tzinfo=UTC)


def _use(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def store(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Huế with its November 2025 series and one reading QC flagged as a spike."""
    load_region(engine, load_definition("hue"))
    load_series(engine, "hue-2025-11")
    upsert_readings(engine, [Observation(KIM_LONG, Parameter.WATER_LEVEL, SPIKE_AT, 9.9, "m",
                                         "test", frozenset({Flag.SPIKE}))])
    _use(engine, tmp_path, monkeypatch)
    return engine


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_readings_round_trip_as_csv_parquet_and_cf_netcdf(store: Engine, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    expected = history.readings(store, [KIM_LONG, PHU_OC], SINCE, UNTIL)
    args = ["export", "readings", "--region", "hue", "--since", SINCE, "--until", UNTIL]
    for name in ("r.csv", "r.parquet", "r.nc"):
        assert cli([*args, "--out", str(tmp_path / name)]) == 0
    assert f"wrote {len(expected)} readings to {tmp_path / 'r.csv'}" in capsys.readouterr().out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "r.parquet"), expected)
    back = _csv(tmp_path / "r.csv")
    assert back["observed_at"].iloc[0] == "2025-11-16T12:00:00Z"
    assert list(back["value"].astype(float)) == list(expected["value"])
    assert list(back["flags"]) == list(expected["flags"]) and "spike" in set(back["flags"])

    ds = xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf")
    assert (ds.attrs["Conventions"], ds.attrs["featureType"]) == ("CF-1.8", "timeSeries")
    level = ds["water_level"]
    assert level.attrs["standard_name"] == "water_surface_height_above_reference_datum"
    assert level.attrs["units"] == "m" and level.attrs["long_name"]
    assert ds["station"].attrs["cf_role"] == "timeseries_id"
    assert ds["lat"].attrs["units"] == "degrees_north" and ds["time"].attrs["axis"] == "T"
    assert list(ds["alarm2_m"].sel(station=[KIM_LONG, PHU_OC]).values) == [2.0, 3.0]
    with h5netcdf.File(tmp_path / "r.nc", "r") as raw:
        assert raw.variables["time"].attrs["units"].startswith("seconds since 1970-01-01")
        assert raw.variables["time"].attrs["calendar"] == "standard"
    for code, group in expected.groupby("station"):
        series = level.sel(station=code).dropna("time").to_series()
        assert list(series.index) == list(group["observed_at"].dt.tz_convert(None))
        assert list(series.values) == list(group["value"])
    qc = ds["water_level_qc"]
    meanings = qc.attrs["flag_meanings"].split()
    spike_bit = int(qc.attrs["flag_masks"][meanings.index("spike")])
    assert int(qc.sel(station=KIM_LONG, time=pd.Timestamp("2025-11-16 12:30"))) == spike_bit
    assert int(qc.sum()) == spike_bit  # the only flagged reading of the rivers
    assert qc.attrs["standard_name"].endswith("status_flag")

    assert cli([*args, "--station", KIM_LONG, "--resample", "6h", "--exclude-flagged",
                "--out", str(tmp_path / "six.nc")]) == 0
    six = xr.open_dataset(tmp_path / "six.nc", engine="h5netcdf")
    assert six["water_level"].attrs["cell_methods"] == "time: mean"
    assert list(six["station"].values) == [KIM_LONG] and six.sizes["time"] == 15
    assert float(six["water_level"][0, 0]) == pytest.approx(1.57)  # no spike in it


def test_events_and_areas_round_trip(store: Engine, tmp_path: Path) -> None:
    expected = history_events.events(store, "hue", SINCE, UNTIL)
    args = ["export", "events", "--region", "hue", "--since", SINCE, "--until", UNTIL]
    assert cli([*args, "--out", str(tmp_path / "e.parquet")]) == 0
    assert cli([*args, "--format", "csv", "--out", str(tmp_path / "e.txt")]) == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "e.parquet"), expected)
    back = _csv(tmp_path / "e.txt")
    kim_long = back[(back["station"] == KIM_LONG) & (back["bd_name"] == "BĐ II")].iloc[0]
    assert (kim_long["start"], kim_long["end"], kim_long["duration_h"]) == (
        "2025-11-16T19:00:00Z", "2025-11-18T05:00:00Z", "34.0")
    assert len(back) == len(expected)

    assert cli(["export", "areas", "--region", "hue", "--out", str(tmp_path / "w.parquet")]) == 0
    assert cli(["export", "areas", "--region", "hue", "--out", str(tmp_path / "w.csv")]) == 0
    wards = gpd.read_parquet(tmp_path / "w.parquet")
    assert len(wards) == 40 and wards.crs.to_epsg() == 4326
    as_text = _csv(tmp_path / "w.csv")
    assert as_text["geometry"].str.startswith("MULTIPOLYGON").all()
    assert list(as_text["code"]) == list(wards["code"])


@pytest.fixture
def replayed(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """Three hours of the event through the cycle and the alerts, with a subscriber."""
    load_region(engine, load_definition("hue"))
    with transaction(engine) as s:
        sub = Subscription(channel="sms", address="+84912345678", language="vi", min_level=1)
        s.add(sub)
        s.flush()
        s.add(SubscriptionArea(subscription_id=sub.id, area_id=s.scalar(
            sa.select(Area.id).where(Area.code == QUANG_DIEN))))
    _use(engine, tmp_path, monkeypatch)
    assert cli(["replay", "run", "hue-2025-11", "--since", "2025-11-16T19:00Z",
                "--until", "2025-11-16T21:00Z"]) == 0
    return engine


def test_model_products_round_trip(replayed: Engine, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    region = ["--region", "hue"]
    assert cli(["export", "results", *region, "--out", str(out / "res.parquet")]) == 0
    assert cli(["export", "results", *region, "--out", str(out / "res.csv")]) == 0
    results = history_runs.ward_results(replayed, "hue")
    layer = gpd.read_parquet(out / "res.parquet")  # GeoParquet: a layer, not only a table
    assert layer.crs.to_epsg() == 4326 and len(layer) == 3 * 40
    pd.testing.assert_frame_equal(pd.DataFrame(layer.drop(columns="geometry")), results)
    assert layer.geometry.geom_type.isin(["MultiPolygon", "Polygon"]).all()
    assert list(_csv(out / "res.csv")["people_affected"].astype(int)) == list(
        results["people_affected"])

    assert cli(["export", "alerts", *region, "--out", str(out / "a.csv")]) == 0
    assert cli(["export", "alerts", *region, "--periods", "--hazard", "river_flood",
                "--until", "2025-11-16T21:00Z", "--out", str(out / "p.parquet")]) == 0
    alerts = _csv(out / "a.csv")
    assert list(alerts["reason"]) == list(history_events.alerts(replayed, "hue")["reason"])
    periods = history_events.alert_periods(replayed, "hue", until="2025-11-16T21:00Z",
                                           hazard="river_flood")
    pd.testing.assert_frame_equal(pd.read_parquet(out / "p.parquet"), periods)

    assert cli(["export", "notifications", "--out", str(out / "n.csv")]) == 0
    notes = _csv(out / "n.csv")
    assert len(notes) >= 2 and set(notes["address"]) == {"+849******78"}
    assert b"912345678" not in (out / "n.csv").read_bytes()

    assert cli(["export", "depth", *region, "--since", "2025-11-16T20:00Z",
                "--out", str(out / "d.nc")]) == 0
    ds = xr.open_dataset(out / "d.nc", engine="h5netcdf", decode_coords="all")
    assert ds.attrs["Conventions"] == "CF-1.8" and ds.rio.crs.to_epsg() == 32648
    assert ds["depth"].attrs["units"] == "m" and "approximate terrain" in ds["depth"].attrs[
        "comment"]
    assert ds["depth"].encoding["grid_mapping"] == "spatial_ref"
    assert ds["spatial_ref"].attrs["grid_mapping_name"] == "transverse_mercator"
    assert ds["x"].attrs["standard_name"] == "projection_x_coordinate"
    assert ds["time"].attrs["standard_name"] == "time"
    assert list(ds["time"].values) == [np.datetime64("2025-11-16T20:00"),
                                       np.datetime64("2025-11-16T21:00")]
    at_20 = history_runs.depth(replayed, "hue", "2025-11-16T20:00Z")
    np.testing.assert_array_equal(ds["depth"].isel(time=0).values, at_20.values)
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "d.nc", "n.csv", "p.parquet",
                                                     "res.csv", "res.parquet"]


def test_bad_arguments_are_refused_and_files_kept(store: Engine, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    kept = folder / "d.nc"
    kept.write_bytes(b"the previous export")
    out = ["--out", str(folder / "x.csv")]
    cases = [
        (["readings", *out], 2, "--region: name a loaded region"),
        (["readings", "--region", "hue"], 2, "--out: name the file to write"),
        (["readings", "--region", "hue", "--out", str(folder / "x.xlsx")], 2,
         "the suffix of 'x.xlsx' names none"),
        (["events", "--region", "hue", "--out", str(folder / "x.nc")], 2,
         "written as csv or parquet, not netcdf"),
        (["readings", "--region", "hue", "--format", "xml", *out], 2, "not xml"),
        (["readings", "--region", "hue", "--out", str(folder / "no" / "x.csv")], 2,
         "is not a directory"),
        (["readings", "--region", "hue", "--since", "2025-11-18", "--until", "2025-11-17", *out],
         2, "is after until"),
        (["alerts", "--region", "hue", "--since", "last tuesday", *out], 2, "not an ISO 8601"),
        (["readings", "--region", "hue", "--station", "99999", *out], 2, "not in region hue"),
        (["readings", "--region", "hue", "--resample", "often", *out], 2, "frequency"),
        (["notifications", "--status", "lost", *out], 2, "unknown notification status"),
        (["results", "--region", "atlantis", *out], 4, "region 'atlantis' is not loaded"),
        (["depth", "--region", "hue", "--out", str(kept)], 4, "no depth rasters"),
    ]
    for args, code, message in cases:
        assert cli(["export", *args]) == code, args
        assert message in capsys.readouterr().err, args
    assert kept.read_bytes() == b"the previous export"
    assert [p.name for p in folder.iterdir()] == ["d.nc"]  # nothing half-written


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(RuntimeError), export.atomic_path(target) as part:
        part.write_text("half of the new")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]
    export.write_table(pd.DataFrame({"a": [1]}), target, "csv")
    assert target.read_text() == "a\n1\n"
