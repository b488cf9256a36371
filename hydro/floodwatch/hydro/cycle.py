"""The model cycle: latest readings → rainfall → flood depth → statistics per area → flood
points and extents, stored as one run per region and valid time.

Idempotent: a run is keyed by (region, valid time); running the same time again with the same
inputs changes nothing, and with changed inputs (a late reading) replaces that run's figures in
place (the run keeps its id, so alerts that cite it still do). The depth raster of each run is
written under ``<data dir>/runs/<region>/`` when ``keep_depth_rasters`` is set.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from floodwatch.core.errors import InputError
from floodwatch.core.timeutil import as_utc, utcnow
from floodwatch.gis_data.models import Region
from floodwatch.hydro.cycle_inputs import CycleInputs, read_inputs
from floodwatch.hydro.cycle_model import CycleOutput, compute
from floodwatch.hydro.cycle_store import save_run
from floodwatch.hydro.models import ModelRun
from floodwatch.hydro.region_grid import RegionGrid, region_grid
from floodwatch.hydro.settings import CycleSettings

log = logging.getLogger(__name__)


@dataclass
class CycleResult:
    run_id: int
    region: str
    valid_at: datetime
    status: str  # ok | partial
    reused: bool  # the same inputs were already run: nothing changed
    stale_inputs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timing_s: dict[str, float] = field(default_factory=dict)
    output: CycleOutput | None = None


def run_cycle(engine: Engine, region: str, *, at: datetime | None = None,
              settings: CycleSettings | None = None, data_dir: Path | None = None) -> CycleResult:
    """Run the model for ``region`` at ``at`` (default: now, to the minute) and store it."""
    params = settings or CycleSettings()
    valid_at = _valid_time(at)
    started, t0 = utcnow(), time.perf_counter()
    grid = region_grid(engine, region, resolution_m=params.resolution_m)
    t_grid = time.perf_counter()
    gauges = [g.code for r in grid.reaches for g in r.gauges]
    inputs = read_inputs(engine, region, valid_at,
                         stale_after=timedelta(seconds=params.stale_after_s), gauges=gauges,
                         rain_grid_dir=params.rain_grid_dir)
    t_inputs = time.perf_counter()
    parameters = _parameters(grid, params)
    digest = _inputs_hash(engine, region, inputs, parameters)
    existing = _existing(engine, region, valid_at)
    status = "partial" if inputs.stale else "ok"
    if existing is not None and existing.inputs_hash == digest:
        return CycleResult(existing.id, region, valid_at, existing.status, True,
                           list(existing.stale_inputs), [], dict(existing.timing_s))
    levels = grid.levels_at(valid_at)
    output = compute(grid, inputs, levels, params)
    timing = {"region_grid": round(t_grid - t0, 4), "inputs": round(t_inputs - t_grid, 4),
              **output.timing_s}
    depth_path = None
    if params.keep_depth_rasters and output.depth is not None and data_dir is not None:
        t_write = time.perf_counter()
        depth_path = _write_depth(output, data_dir, region, valid_at)
        timing["write_depth"] = round(time.perf_counter() - t_write, 4)
    run = {"region": region, "valid_at": valid_at, "started_at": started, "status": status,
           "inputs": inputs.used, "stale_inputs": inputs.stale, "parameters": parameters,
           "inputs_hash": digest, "depth_path": depth_path,
           "message": "; ".join(output.notes) or None}
    t_store = time.perf_counter()
    run_id = save_run(engine, run, output, levels, grid, timing)
    timing["store"] = round(time.perf_counter() - t_store, 4)
    timing["total"] = round(time.perf_counter() - t0, 4)
    with engine.begin() as conn:
        conn.execute(sa.update(ModelRun).where(ModelRun.id == run_id)
                     .values(timing_s=timing, finished_at=utcnow()))
    log.info("cycle %s at %s: run %d %s in %.2f s", region, valid_at.isoformat(), run_id,
             status, timing["total"])
    return CycleResult(run_id, region, valid_at, status, False, inputs.stale, output.notes,
                       timing, output)


def _valid_time(at: datetime | None) -> datetime:
    if at is None:
        return utcnow().replace(second=0, microsecond=0)
    if at.tzinfo is None:
        raise InputError(f"the cycle time {at.isoformat()} has no time zone: give UTC or an offset")
    return as_utc(at)


def _parameters(grid: RegionGrid, params: CycleSettings) -> dict[str, Any]:
    return {
        **params.model_dump(mode="json", exclude={"regions", "interval_s", "keep_depth_rasters"}),
        "terrain": grid.terrain,
        "terrain_approximate": bool(grid.terrain.get("approximate")),
        "people_affected": "people on flooded cells (population raster)"
        if grid.population is not None else "area population × flooded share",
        "grid": {"crs": grid.metric_crs, "shape": list(grid.template.shape),
                 "resolution_m": abs(float(grid.template.rio.resolution()[0]))},
    }


def _inputs_hash(engine: Engine, region: str, inputs: CycleInputs,
                 parameters: dict[str, Any]) -> str:
    with engine.connect() as conn:
        region_hash = conn.scalar(sa.select(Region.source_hash).where(Region.name == region))
    payload = {"region": region_hash, "used": inputs.used, "stale": inputs.stale,
               "parameters": parameters}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _existing(engine: Engine, region: str, valid_at: datetime) -> sa.Row[Any] | None:
    """The stored run of that region and time (id, inputs_hash, status, stale_inputs,
    timing_s), if any."""
    with engine.connect() as conn:
        return conn.execute(sa.select(ModelRun.id, ModelRun.inputs_hash, ModelRun.status,
                                      ModelRun.stale_inputs, ModelRun.timing_s)
                            .where(ModelRun.region == region, ModelRun.valid_at == valid_at)
                            ).first()


def _write_depth(output: CycleOutput, data_dir: Path, region: str, valid_at: datetime) -> str:
    """The depth raster as a compressed GeoTIFF, written beside its final name and renamed."""
    assert output.depth is not None
    folder = data_dir / "runs" / region
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"depth_{valid_at:%Y%m%dT%H%M%SZ}.tif"
    part = path.with_suffix(".tif.part")
    depth = output.depth.copy()
    depth.attrs = {k: v for k, v in depth.attrs.items() if isinstance(v, str | int | float)}
    depth.attrs["valid_at"] = valid_at.isoformat()
    depth.rio.to_raster(part, driver="GTiff", compress="DEFLATE", predictor=3, tiled=True)
    os.replace(part, path)
    return str(path)
