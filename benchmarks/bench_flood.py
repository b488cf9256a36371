"""Benchmark: the connected flood-depth step against a one-pass NumPy floor, on synthetic DEMs.

The DEM is a coastal plain like Huế's: ground rising gently inland from a lagoon (0 → ~4 m over
the grid), correlated noise of ~0.3 m, and a meandering river channel 2–3 m deep whose water
surface slopes from 3 m inland to the lagoon level. Cells are 5 m.

The same model written with scipy alone (``distance_transform_edt`` with indices, a gather,
``ndimage.label``) is measured too, as the common-library baseline. The floor is
``np.maximum(wse - dem, 0).sum()`` on a dense float32 water-surface grid of the same
size: one pass of memory traffic, the least any depth computation can cost. Each line of output
is one JSON object: name, method, seconds (best of the repeats), peak_mb (extra memory traced by
``tracemalloc`` during one more run), cells, ratio_vs_floor.

    .venv/bin/python benchmarks/bench_flood.py --quick   # 2,500² only, ~15 s on 2 cores
    .venv/bin/python benchmarks/bench_flood.py           # 2,500² and 7,000²
"""

from __future__ import annotations

import argparse
import gc
import json
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from floodwatch.hydro.flood import flood_depth
from floodwatch.hydro.flood_kernel import keep_connected, spread_depth
from floodwatch.hydro.grid import grid_template

RES_M = 5.0
CRS = "EPSG:32648"


def coastal_plain(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(dem, water surface) float32 grids n × n; the water surface is NaN off the water."""
    rng = np.random.default_rng(seed)
    coarse = rng.standard_normal((n // 50 + 2, n // 50 + 2)).astype(np.float32)
    noise = ndimage.zoom(coarse, 50, order=1)[:n, :n]  # correlated over ~250 m
    noise *= np.float32(0.3)
    noise += np.float32(0.05) * rng.standard_normal((n, n), dtype=np.float32)
    cols = np.arange(n, dtype=np.float32)
    dem = noise
    dem += np.float32(4.0 / n) * cols[None, :]  # the plain rises eastwards, inland
    rows = np.arange(n)
    centre = (n / 2 + 0.15 * n * np.sin(rows / (0.08 * n))).astype(np.int64)
    half_width = max(2, n // 400)  # ~30 m wide
    wse = np.full((n, n), np.nan, dtype=np.float32)
    river_level = (0.4 + 2.6 * rows / n).astype(np.float32)  # inland (south) is higher
    for offset in range(-half_width, half_width + 1):
        c = np.clip(centre + offset, 0, n - 1)
        dem[rows, c] = river_level - 2.5
        wse[rows, c] = river_level
    lagoon = max(4, n // 100)
    dem[:, :lagoon] = np.nan  # the lagoon is masked out of the DEM, as in real products
    wse[:, :lagoon] = np.float32(0.4)
    return dem, wse


def scipy_reference(dem: np.ndarray, wse: np.ndarray, water: np.ndarray) -> np.ndarray:
    """The same model written with scipy and NumPy alone (the common-library baseline)."""
    rows, cols = ndimage.distance_transform_edt(
        ~water, sampling=(RES_M, RES_M), return_distances=False, return_indices=True
    )
    depth = wse[rows, cols] - dem
    depth[~(depth > 0.05) & ~np.isnan(depth)] = 0.0  # NaN stays on DEM nodata
    labels, count = ndimage.label(water | (depth > 0))
    keep = np.zeros(count + 1, dtype=bool)
    keep[labels[water]] = True
    keep[0] = False
    depth[~keep[labels] & ~np.isnan(depth)] = 0.0
    return depth


def as_grid(values: np.ndarray, name: str) -> xr.DataArray:
    n_rows, n_cols = values.shape
    x0, y0 = 750_000.0, 1_830_000.0
    bounds = (x0, y0 - n_rows * RES_M, x0 + n_cols * RES_M, y0)
    template = grid_template(bounds, RES_M, CRS, name=name)
    grid = template.copy(data=values)
    grid.attrs["units"] = "m"
    return grid


def measure(func: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best wall time of ``repeats`` runs, and the peak traced memory (MB) of one more run."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    gc.collect()
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 2**20


def run(n: int, repeats: int, with_dask: bool) -> None:
    dem, wse = coastal_plain(n)
    dense_wse = np.where(np.isnan(wse), np.float32(2.0), wse)  # floor input: dense, same size
    dem_grid, wse_grid = as_grid(dem, "dem"), as_grid(wse, "water_surface")
    water = ~np.isnan(wse)
    spread = spread_depth(dem, wse, RES_M, RES_M, 0.05, None)
    methods: dict[str, Callable[[], Any]] = {
        "floor np.maximum(wse - dem, 0).sum()": lambda: np.maximum(dense_wse - dem, 0).sum(),
        "flood_depth (connected, in memory)": lambda: flood_depth(dem_grid, wse_grid),
        "flood_depth max_distance_m=500": lambda: flood_depth(
            dem_grid, wse_grid, max_distance_m=500.0
        ),
        "flood_depth max_distance_m=2000": lambda: flood_depth(
            dem_grid, wse_grid, max_distance_m=2000.0
        ),
        "scipy reference (distance_transform_edt + gather + label)": lambda: scipy_reference(
            dem, wse, water
        ),
        "  part: scipy distance_transform_edt (indices only)": lambda: (
            ndimage.distance_transform_edt(
                ~water, sampling=(RES_M, RES_M), return_distances=False, return_indices=True
            )
        ),
        "  part: spread_depth (compiled EDT + depth)": lambda: spread_depth(
            dem, wse, RES_M, RES_M, 0.05, None
        ),
        "  part: keep_connected (label + keep)": lambda: keep_connected(spread.copy(), water),
    }
    if with_dask:
        chunk = {"y": n // 2, "x": n // 2}
        lazy_dem = dem_grid.chunk(chunk)
        methods["flood_depth dask 2x2 tiles, max_distance_m=2000"] = lambda: flood_depth(
            lazy_dem, wse_grid, max_distance_m=2000.0
        ).compute()
    floor = None
    for method, func in methods.items():
        runs = 1 if "dask" in method else 3 * repeats if floor is None else repeats
        seconds, peak_mb = measure(func, runs)
        floor = seconds if floor is None else floor
        print(json.dumps({
            "name": f"flood_depth {n}x{n}",
            "method": method.strip(),
            "seconds": round(seconds, 4),
            "peak_mb": round(peak_mb, 1),
            "cells": n * n,
            "ratio_vs_floor": round(seconds / floor, 2),
        }), flush=True)
    wet = float((flood_depth(dem_grid, wse_grid).values > 0).mean())
    print(json.dumps({"name": f"flood_depth {n}x{n}", "method": "wet fraction", "value": wet}))
    ours, ref = flood_depth(dem_grid, wse_grid).values, scipy_reference(dem, wse, water)
    differ = ~((ours == ref) | (np.isnan(ours) & np.isnan(ref)))
    print(json.dumps({  # where two water cells are as near, the two may take different ones
        "name": f"flood_depth {n}x{n}", "method": "difference from the scipy reference",
        "cells_differing": int(differ.sum()),
        "max_abs_m": float(np.nanmax(np.abs(ours - ref))) if differ.any() else 0.0,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,500² only (~15 s)")
    args = parser.parse_args()
    run(2500, repeats=3, with_dask=not args.quick)
    if not args.quick:
        run(7000, repeats=2, with_dask=True)


if __name__ == "__main__":
    main()
