"""Benchmark: the model on a dask-backed grid larger than this machine's memory holds comfortably.

The grids are generated lazily, block by block (nothing is read from disk): a coastal plain like
Huế's (ground rising 0 → 4 m inland with two scales of relief, a lagoon along the west edge
masked out of the DEM as real products do, a meandering river 2.5 m deep whose surface slopes
from 3 m to 0.4 m) and a smooth rainfall field. The zones are the ~300 pieces of the Huế wards
of ``bench_zonal.py``, stretched over the grid. Steps, each timed:

1. ``ZoneIndex.build`` on the chunked template: no label raster is kept, the labels are burnt
   block by block when read (building reads them once to count the cells per zone);
2. ``ZoneIndex.reduce`` of the rainfall (areal rain per zone);
3. ``flood_depth`` on the chunked DEM and water surface (tiles with a ``max_distance_m`` halo;
   its labelling pass runs at call time), then ``flood_stats`` (computes the depth tile by
   tile again and reduces it per zone);
4. the baseline: the same lazy grids reduced by dask alone, ``da.maximum(wse - dem, 0).sum()``
   (generation + one pass), so ``ratio_vs_dask_floor`` says what the model costs above reading
   the inputs once.

``peak_rss_mb`` is the process's peak resident memory; ``in_memory_gb`` what the same run would
hold in memory as whole arrays (DEM, water surface, depth as float32, labels, rain).

    .venv/bin/python benchmarks/bench_dask.py                  # 40,000² cells (1.6 G)
    .venv/bin/python benchmarks/bench_dask.py --size 8000      # a quick look
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from typing import Any

import dask
import dask.array as da
import numpy as np
import xarray as xr
from bench_zonal import CRS, split_wards

from floodwatch.hydro.flood import flood_depth
from floodwatch.hydro.zonal import ZoneIndex, areal_mean, flood_stats

MAX_DISTANCE_M = 500.0


def _field(kind: str, n: int, block_info: dict[Any, Any] | None = None) -> np.ndarray:
    """One block of a lazily generated grid (``kind``: dem, wse, rain)."""
    if block_info is None:
        return np.empty((0, 0), np.float32)
    (r0, r1), (c0, c1) = block_info[None]["array-location"]
    rows = np.arange(r0, r1, dtype=np.float32)[:, None]
    cols = np.arange(c0, c1, dtype=np.float32)[None, :]
    if kind == "rain":
        return (120.0 + 80.0 * np.sin(rows / 3100.0) * np.cos(cols / 2300.0)
                + 0.002 * cols).astype(np.float32)
    centre = n / 2 + 0.15 * n * np.sin(rows / (0.08 * n))  # the river's meandering centre line
    river = np.abs(cols - centre) <= max(2, n // 2000)
    level = (0.4 + 2.6 * rows / n).astype(np.float32) + np.zeros_like(cols)
    lagoon = cols < max(4, n // 100)
    if kind == "wse":
        out = np.where(river, level, np.float32(np.nan))
        out[np.broadcast_to(lagoon, out.shape)] = 0.4
        return out.astype(np.float32)
    dem = (4.0 / n) * cols + 0.3 * np.sin(rows / 53.0) * np.cos(cols / 41.0) \
        + 0.05 * np.sin(rows * 1.7 + cols * 2.3)
    dem = np.where(river, level - 2.5, dem).astype(np.float32)
    dem[np.broadcast_to(lagoon, dem.shape)] = np.nan
    return dem


def lazy_grid(kind: str, n: int, chunk: int, coords: dict[str, np.ndarray]) -> xr.DataArray:
    sides = (chunk,) * (n // chunk) + ((n % chunk,) if n % chunk else ())
    data = da.map_blocks(_field, kind, n, chunks=(sides, sides), dtype=np.float32,
                         meta=np.empty((0, 0), np.float32))
    grid = xr.DataArray(data, dims=("y", "x"), coords=coords, name=kind,
                        attrs={"units": "mm" if kind == "rain" else "m"})
    return grid.rio.write_crs(CRS)


def timed(label: str, func: Any, n: int, **extra: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func()
    seconds = time.perf_counter() - start
    print(json.dumps({
        "name": f"dask {n}x{n}", "method": label, "seconds": round(seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cells": n * n, **extra,
    }), flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--size", type=int, default=40_000, help="cells per side (40,000)")
    parser.add_argument("--chunk", type=int, default=4096, help="cells per block side (4,096)")
    args = parser.parse_args()
    n, chunk = args.size, args.chunk
    zones = split_wards()
    xmin, ymin, xmax, ymax = zones.total_bounds
    res = max(xmax - xmin, ymax - ymin) * 1.02 / n
    coords = {"y": ymax + 0.01 * n * res - res * (np.arange(n) + 0.5),
              "x": xmin - 0.01 * n * res + res * (np.arange(n) + 0.5)}
    dem, wse, rain = (lazy_grid(k, n, chunk, coords) for k in ("dem", "wse", "rain"))
    in_memory_gb = n * n * (4 * 4 + np.dtype(np.uint16).itemsize) / 1e9
    print(json.dumps({"name": f"dask {n}x{n}", "method": "setup", "cell_m": round(res, 3),
                      "chunk": chunk, "zones": len(zones), "in_memory_gb": round(in_memory_gb, 1),
                      "max_distance_m": MAX_DISTANCE_M}), flush=True)
    with dask.config.set(scheduler="threads"):
        floor_s, _ = timed("dask floor: da.maximum(wse - dem, 0).sum()",
                           lambda: float(da.maximum(wse.data.map_blocks(np.nan_to_num) - dem.data,
                                                    0).sum().compute()), n)
        build_s, index = timed("ZoneIndex.build (labels burnt per block)",
                               lambda: ZoneIndex.build(zones, dem), n)
        rain_s, _ = timed("areal_mean (rain per zone)", lambda: areal_mean(index, rain), n)
        depth_s, depth = timed(
            "flood_depth (tiled; labelling pass at call time)",
            lambda: flood_depth(dem, wse, max_distance_m=MAX_DISTANCE_M), n)
        stats_s, stats = timed("flood_stats (depth computed per tile again, reduced per zone)",
                               lambda: flood_stats(index, depth), n)
    total = build_s + rain_s + depth_s + stats_s
    print(json.dumps({
        "name": f"dask {n}x{n}", "method": "whole: build + rain + depth + flood figures",
        "seconds": round(total, 2), "ratio_vs_dask_floor": round(total / floor_s, 2),
        "flooded_km2": round(float(stats["flooded_km2"].sum()), 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "in_memory_gb": round(in_memory_gb, 1), "cells": n * n,
    }), flush=True)


if __name__ == "__main__":
    main()
