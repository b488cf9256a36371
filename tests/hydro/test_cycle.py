"""The model cycle on the real Huế region and the real November 2025 gauge series, on both
stores: a run per time, idempotent, stale gauges left out and named, rain gauges onto the wards,
and the pieces it is made of (the main stem of a braided river, a region without terrain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rioxarray
import sqlalchemy as sa
import xarray as xr
from geoalchemy2.shape import from_shape
from shapely.geometry import LineString, MultiLineString, Point
from sqlalchemy.engine import Engine

from floodwatch.cli.main import run as cli
from floodwatch.core.db import transaction
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.gis_data.region import load_definition
from floodwatch.hydro.backfill import load_series
from floodwatch.hydro.cycle import run_cycle
from floodwatch.hydro.models import AreaResult, FloodExtent, FloodPoint, ModelRun
from floodwatch.hydro.region_grid import main_stem
from floodwatch.hydro.settings import CycleSettings

PEAK = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)  # Kim Long near its peak, Phú Ốc above BĐ III
CALM = datetime(2025, 11, 21, 8, 0, tzinfo=UTC)
QUANG_DIEN, PHU_XUAN = "19867", "19753"


def _count(engine: Engine, table: type, run_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)
                               .where(table.run_id == run_id)))


def _ward_results(engine: Engine, run_id: int) -> dict[str, AreaResult]:
    with transaction(engine) as s:
        rows = s.execute(sa.select(Area.code, AreaResult).join(Area, Area.id == AreaResult.area_id)
                         .where(AreaResult.run_id == run_id, Area.level == "ward")).all()
        s.expunge_all()
    return {code: r for code, r in rows}


def test_a_run_at_the_peak_floods_the_bo_plain_and_is_stored(hue: Engine, tmp_path: Path) -> None:
    result = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path)
    assert result.status == "ok" and not result.reused and result.stale_inputs == []
    with transaction(hue) as s:
        run = s.get(ModelRun, result.run_id)
        assert run is not None
        assert run.valid_at == PEAK and run.parameters["terrain_approximate"] is True
        assert {i["station"] for i in run.inputs if i["kind"] == "river_gauge"} == {"71520",
                                                                                      "71518"}
        assert run.timing_s["total"] > 0 and run.depth_path
    wards = _ward_results(hue, result.run_id)
    assert len(wards) == 40  # the 2025 wards; the 2009 districts are not valid in 2025
    flooded = {c for c, r in wards.items() if r.flooded_km2 > 0}
    assert len(flooded) >= 5
    for r in wards.values():
        assert 0.0 <= r.flooded_share <= 1.0
        assert r.flooded_km2 == 0 or (r.max_depth_m or 0) >= (r.mean_depth_m or 0) > 0
    assert sum(r.people_affected for r in wards.values()) > 10_000
    with transaction(hue) as s:
        points = s.execute(sa.select(FloodPoint.kind, FloodPoint.name, FloodPoint.depth_m,
                                     FloodPoint.area_id)
                           .where(FloodPoint.run_id == result.run_id)).all()
        classes = s.scalars(sa.select(FloodExtent.depth_class)
                            .where(FloodExtent.run_id == result.run_id)).all()
    assert {p.name for p in points if p.kind == "gauge_site"} == {"Kim Long", "Phú Ốc"}
    deepest = [p for p in points if p.kind == "ward_deepest"]
    assert len(deepest) == len(flooded) and all(p.area_id and p.depth_m > 0 for p in deepest)
    assert "1-2 m" in classes
    depth = rioxarray.open_rasterio(run.depth_path).squeeze()
    assert depth.rio.crs.to_epsg() == 32648 and float(depth.max()) > 1.0


def test_the_same_time_twice_changes_nothing_and_new_inputs_update_in_place(
        hue: Engine, tmp_path: Path) -> None:
    first = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path)
    counts = [_count(hue, t, first.run_id) for t in (AreaResult, FloodPoint, FloodExtent)]
    again = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path)
    assert again.reused and again.run_id == first.run_id
    assert [_count(hue, t, first.run_id) for t in (AreaResult, FloodPoint, FloodExtent)] == counts
    with transaction(hue) as s:  # a late, higher reading of Phú Ốc arrives for that hour
        station = s.scalar(sa.select(Station.id).where(Station.code == "71518"))
        s.execute(sa.update(Reading).where(Reading.station_id == station,
                                           Reading.observed_at == PEAK).values(value=5.9))
    late = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path)
    assert not late.reused and late.run_id == first.run_id
    with hue.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(ModelRun)) == 1
    before = sum(r.flooded_km2 for r in first.output.stats["ward"].itertuples())
    after = sum(r.flooded_km2 for r in late.output.stats["ward"].itertuples())
    assert after > before


def test_a_stale_gauge_is_left_out_and_named(hue: Engine, tmp_path: Path) -> None:
    with transaction(hue) as s:  # Kim Long falls silent 5 hours before the run
        station = s.scalar(sa.select(Station.id).where(Station.code == "71520"))
        s.execute(sa.delete(Reading).where(Reading.station_id == station,
                                           Reading.observed_at > PEAK - timedelta(hours=5)))
    result = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path,
                       settings=CycleSettings(stale_after_s=3 * 3600))
    assert result.status == "partial"
    [stale] = result.stale_inputs
    assert stale["station"] == "71520" and stale["name"] == "Kim Long"
    assert stale["newest"] == (PEAK - timedelta(hours=5)).isoformat() and stale["age_h"] == 5.0
    assert any("Sông Hương" in n and "not seeded" in n for n in result.notes)
    with transaction(hue) as s:
        run = s.get(ModelRun, result.run_id)
        assert run is not None and run.status == "partial" and run.stale_inputs == [stale]
        assert "Sông Hương" in (run.message or "")
        assert {i["station"] for i in run.inputs if i["kind"] == "river_gauge"} == {"71518"}


def test_rain_gauges_give_accumulations_and_ward_rainfall(hue: Engine, tmp_path: Path) -> None:
    """One rain gauge in Huế: 10 mm an hour for 30 hours, one reading flagged by QC. The run
    records its accumulations with the gap, and IDW of one gauge gives every ward within the
    search radius its 24-hour total."""
    with transaction(hue) as s:
        s.add(Station(region="hue", code="RAIN-1", name="Mưa thử", name_ascii="Mua thu",
                      kind="rain_gauge", source_hash="x",
                      geom=from_shape(Point(107.585, 16.463), srid=4326)))
        s.flush()
        sid = s.scalar(sa.select(Station.id).where(Station.code == "RAIN-1"))
        for h in range(30):
            at = PEAK - timedelta(hours=h)
            s.add(Reading(station_id=sid, parameter="rainfall", observed_at=at, value=10.0,
                          unit="mm", source="test",
                          flags={3: "spike", 4: "estimated|provisional"}.get(h, "")))
    result = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path)
    [rain] = [i for i in result.output.stats["ward"].itertuples() if i.Index == PHU_XUAN]
    assert rain.rain_24h_mm == pytest.approx(230.0)  # 23 valid hours of 10 mm
    with transaction(hue) as s:
        run = s.get(ModelRun, result.run_id)
        assert run is not None
        [used] = [i for i in run.inputs if i["kind"] == "rain_gauge"]
    assert used["rain_mm"]["1h"] == 10.0 and used["rain_mm"]["24h"] == 230.0
    assert used["rain_mm"]["72h"] == 290.0 and used["gaps_24h"] == 1
    wards = _ward_results(hue, result.run_id)
    assert wards[PHU_XUAN].rain_24h_mm == pytest.approx(230.0)


def test_calm_water_floods_little(hue: Engine, tmp_path: Path) -> None:
    peak = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path).output.stats["ward"]
    calm = run_cycle(hue, "hue", at=CALM, data_dir=tmp_path).output.stats["ward"]
    assert calm["flooded_km2"].sum() < 0.05 * peak["flooded_km2"].sum()
    assert peak.loc[QUANG_DIEN, "flooded_share"] > calm.loc[QUANG_DIEN, "flooded_share"]


def test_cycle_cli(hue: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", hue.url.render_as_string(hide_password=False))
    monkeypatch.setenv("FLOODWATCH_DATA_DIR", str(tmp_path))
    assert cli(["cycle", "run", "--at", "2025-11-17T15:00+07:00"]) == 0
    out = capsys.readouterr().out
    assert "at 2025-11-17 08:00 UTC: ok" in out and "ward:" in out
    assert cli(["cycle", "run", "--at", "2025-11-17T08:00Z"]) == 0
    assert "unchanged (same inputs)" in capsys.readouterr().out
    assert cli(["cycle", "run", "--at", "tomorrow"]) == 2
    assert "not an ISO 8601" in capsys.readouterr().err
    assert cli(["cycle", "run", "--region", "atlantis", "--at", "2025-11-17T08:00Z"]) == 4
    assert (tmp_path / "runs" / "hue").is_dir()


def test_a_region_without_terrain_gets_figures_but_no_flood_depth(
        engine: Engine, tmp_path: Path) -> None:
    wards = Path(load_definition("hue").path(Path("admin/hue_wards_2025.geojson")))
    assert cli_load(engine, wards) == 0
    result = run_cycle(engine, "newcity", at=PEAK, data_dir=tmp_path)
    assert result.output.depth is None and result.status == "ok"
    assert any("no terrain" in n for n in result.notes)
    wards = _ward_results(engine, result.run_id)
    assert len(wards) == 40 and all(r.flooded_share is None for r in wards.values())


def cli_load(engine: Engine, wards: Path) -> int:
    url = engine.url.render_as_string(hide_password=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FLOODWATCH_DATABASE_URL", url)
        return cli(["region", "load", "newcity", "--areas", str(wards),
                    "--code-field", "gso_code_2025", "--name-field", "name_vi"])


def test_main_stem_follows_one_channel_from_source_to_mouth() -> None:
    """A river digitised mouth-first, with an island (two channels between the same points)
    and a short side branch: the stem runs source → mouth through the shorter channel."""
    x = np.arange(0.5, 100)
    dem = xr.DataArray(np.tile(100.0 - x, (20, 1)).astype(np.float32), dims=("y", "x"),
                       coords={"y": np.arange(19.5, 0, -1), "x": x}, attrs={"units": "m"})
    dem = dem.rio.write_crs("EPSG:32648")
    lines = MultiLineString([
        LineString([(95, 10), (60, 10)]),  # mouth (low) ← junction
        LineString([(60, 10), (50, 15), (40, 10)]),  # the long channel round the island
        LineString([(60, 10), (40, 10)]),  # the short one
        LineString([(40, 10), (5, 10)]),  # junction ← source (high)
        LineString([(70, 10), (70, 18)]),  # a side branch
    ])
    stem = main_stem(lines, dem)
    assert stem.coords[0] == (5, 10) and stem.coords[-1] == (95, 10)
    assert stem.length == pytest.approx(90.0)


def test_the_scheduler_runs_the_cycle_then_what_follows(hue: Engine, tmp_path: Path) -> None:
    """The cycle job of a region runs at the current time (the 2025 readings are long stale
    now: the run is partial and names both gauges) and hands its result on."""
    from floodwatch.hydro.jobs import scheduler_jobs
    from floodwatch.hydro.settings import HydroSettings

    seen = []
    settings = HydroSettings(cycle=CycleSettings(regions=("hue",), interval_s=600))
    [job] = scheduler_jobs(hue, settings, data_dir=tmp_path, after_cycle=seen.append)
    assert job.id == "cycle:hue" and job.interval_s == 600 and job.first_delay_s == 0
    result = job.func()
    assert seen == [result] and result.status == "partial"
    assert {s["station"] for s in result.stale_inputs} == {"71520", "71518"}
    # no fresh river gauge: flooding is unknown in this run, not "nothing flooded"
    assert result.output.depth is None
    assert any("flood depth not modelled" in n for n in result.notes)
    wards = _ward_results(hue, result.run_id)
    assert len(wards) == 40
    assert all(r.flooded_share is None and r.flooded_km2 is None and r.people_affected is None
               for r in wards.values())
    assert abs((result.valid_at - datetime.now(UTC)).total_seconds()) < 120


def _radar_file(path: Path, end: datetime, hours: int, mm_per_hour: float) -> None:
    """A CF-NetCDF rain grid over Huế in UTM 48N, hourly steps ending at ``end``, as a radar
    QPE product writes it (start_time, a grid_mapping with crs_wkt, mm)."""
    import pyproj

    x = np.arange(720_000, 820_000, 2_000.0) + 1_000
    y = np.arange(1_860_000, 1_770_000, -2_000.0) - 1_000
    ends = np.array([np.datetime64(end.replace(tzinfo=None)) - np.timedelta64(h, "h")
                     for h in range(hours)][::-1], dtype="datetime64[ns]")
    rain = xr.DataArray(np.full((hours, y.size, x.size), mm_per_hour, dtype=np.float32),
                        dims=("time", "y", "x"), coords={"time": ends, "y": y, "x": x},
                        attrs={"units": "mm", "standard_name": "precipitation_amount",
                               "grid_mapping": "crs"})
    crs = xr.DataArray(0, attrs={"crs_wkt": pyproj.CRS("EPSG:32648").to_wkt()})
    start = xr.DataArray(ends - np.timedelta64(1, "h"), dims="time")
    ds = xr.Dataset({"precip": rain, "crs": crs, "start_time": start})
    ds["x"].attrs["units"] = "m"
    ds["y"].attrs["units"] = "m"
    ds.to_netcdf(path, engine="h5netcdf")


def test_gridded_rain_enters_the_cycle_like_the_gauges(hue: Engine, tmp_path: Path) -> None:
    """Radar files in the rain grid folder: 24 of the 30 hourly steps fall in the 24 hours
    before the run (5 mm each → 120 mm); a step missing from the files is a gap, recorded."""
    folder = tmp_path / "radar"
    folder.mkdir()
    _radar_file(folder / "a.nc", PEAK - timedelta(hours=12), 18, 5.0)  # ends 12 h before
    _radar_file(folder / "b.nc", PEAK, 11, 5.0)  # the last 11 hours: one hour is missing
    (folder / "broken.nc").write_bytes(b"not a netcdf file")
    settings = CycleSettings(rain_grid_dir=folder)
    result = run_cycle(hue, "hue", at=PEAK, data_dir=tmp_path, settings=settings)
    rain = result.output.stats["ward"]["rain_24h_mm"]
    assert rain[PHU_XUAN] == pytest.approx(115.0)  # 23 of the 24 hours
    with transaction(hue) as s:
        run = s.get(ModelRun, result.run_id)
        assert run is not None
        [used] = [i for i in run.inputs if i["kind"] == "rain_grid"]
        assert used["steps"] == 23 and used["coverage"] == pytest.approx(23 / 24, abs=1e-3)
        assert used["files"] == ["a.nc", "b.nc"]
        assert any(s.get("file") == "broken.nc" for s in run.stale_inputs)
    assert _ward_results(hue, result.run_id)[PHU_XUAN].rain_24h_mm == pytest.approx(115.0)


def test_a_population_raster_counts_the_people_on_flooded_cells(
        engine: Engine, tmp_path: Path) -> None:
    """A region with a population raster (here 40 people per 100 m cell, i.e. 10 per 50 m cell
    of the model grid): people affected are the people on the flooded cells."""
    import re
    import shutil

    from floodwatch.gis_data.region import BUNDLED_DIR

    folder = tmp_path / "region"
    shutil.copytree(BUNDLED_DIR / "hue", folder)
    dem = rioxarray.open_rasterio(folder / "terrain" / "hue_terrain_approx.tif")
    x0, _, _, y1 = dem.rio.bounds()
    nx, ny = int(dem.sizes["x"] // 2), int(dem.sizes["y"] // 2)
    people = xr.DataArray(np.full((ny, nx), 40.0, dtype=np.float32), dims=("y", "x"),
                          coords={"y": y1 - 100.0 * (np.arange(ny) + 0.5),
                                  "x": x0 + 100.0 * (np.arange(nx) + 0.5)})
    people.rio.write_crs("EPSG:32648").rio.to_raster(folder / "people.tif")
    toml = folder / "region.toml"
    text = re.sub(r'^name = "hue"', 'name = "huepop"', toml.read_text(encoding="utf-8"),
                  flags=re.M)
    toml.write_text(text + '\n[population_raster]\nfile = "people.tif"\nyear = 2025\n',
                    encoding="utf-8")
    load_region(engine, load_definition(str(toml)))
    load_series(engine, "hue-2025-11")  # the gauges' codes are shared with the bundled region
    result = run_cycle(engine, "huepop", at=PEAK, data_dir=tmp_path)
    stats = result.output.stats["ward"]
    flooded_cells = (stats["flooded_km2"] / 0.0025).round()
    assert flooded_cells.sum() > 1000
    np.testing.assert_allclose(stats["people_affected"].astype(float), 10 * flooded_cells,
                               rtol=1e-6)
    with transaction(engine) as s:
        run = s.get(ModelRun, result.run_id)
        assert run is not None and "population raster" in run.parameters["people_affected"]
