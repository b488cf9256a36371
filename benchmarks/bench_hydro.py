"""Benchmark of the hydro model: zonal statistics, flood depth, IDW and the whole model cycle.

Runs, each in its own process, and prints one JSON object per line (name, method, seconds,
peak memory, ratios against the baselines measured in the same run):

1. ``bench_zonal.py`` — zonal statistics vs rasterstats and exactextract, ~300 polygons;
2. ``bench_flood.py`` — connected flood depth vs a one-pass NumPy floor;
3. ``bench_idw.py`` — IDW with 30, 300 and 3,000 gauges;
4. the whole cycle (``run_cycle``: inputs → water surface → depth → figures per area → points →
   extents → store) on the Huế region at the November 2025 peak, in a SpatiaLite store: the
   first run of a process (which prepares the region grid) and a later run (grid cached);
   without ``--quick`` also on the Huế terrain resampled to 15 m (~7,000² cells);
5. ``bench_dask.py`` — without ``--quick``: zone index, areal rain, flood depth and flood
   figures on a lazily generated, dask-backed 40,000² grid (1.6 G cells: ~29 GB as whole arrays,
   more than this machine's memory), block by block; ``--only dask --quick``: 8,000².

    .venv/bin/python benchmarks/bench_hydro.py --quick   # ~1 minute on 2 cores
    .venv/bin/python benchmarks/bench_hydro.py           # all sizes (several minutes)
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEAK = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
GOAL_S = 2.0


def run_script(name: str, quick: bool) -> None:
    args = [sys.executable, str(HERE / name), *(["--quick"] if quick else [])]
    subprocess.run(args, check=True)


def cycle_case(label: str, resolution_m: float | None) -> None:
    """Load Huế (or a resampled copy) into a fresh SpatiaLite store and time two cycles."""
    from floodwatch.core import migrate
    from floodwatch.core.db import make_engine
    from floodwatch.gis_data.loader import load_region
    from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
    from floodwatch.hydro.backfill import load_series
    from floodwatch.hydro.cycle import run_cycle

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        definition = load_definition("hue")
        if resolution_m is not None:
            definition = load_definition(str(_resampled_copy(BUNDLED_DIR / "hue", folder,
                                                             resolution_m)))
        engine = make_engine(f"sqlite:///{folder / 'bench.sqlite'}")
        migrate.upgrade(engine)
        load_region(engine, definition)
        load_series(engine, "hue-2025-11")
        for method, at in (("first run of a process (prepares the region grid)", PEAK),
                           ("next run (region grid cached)", PEAK + timedelta(hours=1))):
            start = time.perf_counter()
            result = run_cycle(engine, definition.name, at=at, data_dir=folder)
            seconds = time.perf_counter() - start
            grid = result.output.depth.shape if result.output and result.output.depth is not None \
                else None
            print(json.dumps({
                "name": f"cycle {label}", "method": method, "seconds": round(seconds, 3),
                "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "cells": None if grid is None else grid[0] * grid[1],
                "goal_s": GOAL_S, "ratio_vs_goal": round(seconds / GOAL_S, 2),
                "steps_s": result.timing_s,
            }), flush=True)
        engine.dispose()


def _resampled_copy(source: Path, folder: Path, resolution_m: float) -> Path:
    """A copy of a region folder whose terrain is resampled (bilinear) to ``resolution_m``."""
    import rioxarray
    from rasterio.enums import Resampling

    target = folder / "region"
    shutil.copytree(source, target)
    toml = target / "region.toml"
    text = toml.read_text(encoding="utf-8")
    dem_rel = re.search(r'^file = "(terrain/[^"]+)"', text, re.M)
    assert dem_rel, "no terrain file in the region definition"
    dem = rioxarray.open_rasterio(target / dem_rel.group(1), masked=True)
    fine = dem.rio.reproject(dem.rio.crs, resolution=resolution_m, resampling=Resampling.bilinear)
    fine.rio.to_raster(target / "terrain" / "fine.tif", compress="DEFLATE", tiled=True)
    text = text.replace(dem_rel.group(0), 'file = "terrain/fine.tif"')
    text = re.sub(r'^name = "hue"', 'name = "huefine"', text, flags=re.M)
    toml.write_text(text, encoding="utf-8")
    return toml


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the small sizes only (~1 min)")
    parser.add_argument("--only", choices=["zonal", "flood", "idw", "cycle", "dask"], default=None)
    parser.add_argument("--cycle-case", choices=["hue", "fine"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cycle_case:  # a child process: one cycle case, so its peak memory is its own
        cycle_case("Huế 50 m", None) if args.cycle_case == "hue" else cycle_case("Huế 15 m", 15.0)
        return
    for part in ("zonal", "flood", "idw"):
        if args.only in (None, part):
            run_script(f"bench_{part}.py", args.quick)
    if args.only in (None, "cycle"):
        for case in ("hue",) if args.quick else ("hue", "fine"):
            subprocess.run([sys.executable, __file__, "--cycle-case", case], check=True)
    if args.only == "dask" or (args.only is None and not args.quick):
        size = ["--size", "8000", "--chunk", "2048"] if args.quick else []
        subprocess.run([sys.executable, str(HERE / "bench_dask.py"), *size], check=True)


if __name__ == "__main__":
    main()
