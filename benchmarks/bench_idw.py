"""Gauge rainfall onto the grid: floodwatch IDW (cKDTree, chunked) with 30, 300 and 3,000
random gauges onto a 2,500 × 2,500 grid (100 m cells), eager and dask-chunked.

    python benchmarks/bench_idw.py [--quick]

Baseline, measured in the same run: a plain brute-force numpy IDW (all gauge distances,
``argpartition`` to the same k nearest, same weights) on a random subsample of cells; its time
per cell × cells gives ``baseline_seconds_est`` and ``speedup`` = that / IDW seconds. The
subsample also checks the IDW values (``max_abs_diff_mm``). ``peak_mb`` is the tracemalloc
peak of the call (numpy buffers; not the cKDTree's own C++ memory), ``maxrss_mb`` the
process's maximum resident set so far. Prints one JSON object per line.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import dask
import numpy as np
import xarray as xr

from floodwatch.hydro.grid import grid_template
from floodwatch.hydro.rainfall import idw

RESOLUTION_M = 100.0
K, POWER = 8, 2.0


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def brute_idw(xy: np.ndarray, vals: np.ndarray, pts: np.ndarray, k: int) -> np.ndarray:
    out = np.empty(len(pts))
    for s in range(0, len(pts), 500):
        p = pts[s: s + 500]
        d = np.hypot(p[:, :1] - xy[:, 0], p[:, 1:] - xy[:, 1])
        near = np.argpartition(d, k - 1, axis=1)[:, :k] if k < len(vals) else np.argsort(d)
        dk = np.take_along_axis(d, near, axis=1)
        with np.errstate(divide="ignore"):
            w = 1.0 / dk**POWER
        zero = dk == 0
        w = np.where(zero.any(axis=1, keepdims=True), zero.astype(float), w)
        out[s: s + 500] = (w * vals[near]).sum(axis=1) / w.sum(axis=1)
    return out


def run(size: int, gauges: int, sample: int, chunk: int, rng: np.random.Generator) -> None:
    extent = size * RESOLUTION_M
    tpl = grid_template((0.0, 0.0, extent, extent), RESOLUTION_M, "EPSG:32648")
    xy = rng.uniform(0.0, extent, size=(gauges, 2))
    vals = rng.gamma(2.0, 15.0, size=gauges)
    cells = size * size
    common = {"cells": cells, "gauges": gauges, "grid": f"{size}x{size}", "k": K}

    rows = rng.integers(0, size, sample)
    cols = rng.integers(0, size, sample)
    pts = np.column_stack([tpl["x"].values[cols], tpl["y"].values[rows]])
    ref, base_s, base_mb = measured(lambda: brute_idw(xy, vals, pts, min(K, gauges)))
    base_est = base_s / sample * cells
    print(json.dumps({"name": f"baseline-{gauges}", "method": "bruteforce-numpy-subsample",
                      "seconds": round(base_s, 4), "peak_mb": round(base_mb, 1),
                      "baseline_seconds_est": round(base_est, 2), **common, "cells": sample,
                      "cells_full": cells}), flush=True)

    out, seconds, peak = measured(lambda: idw(xy, vals, tpl, k=K, power=POWER))
    diff = float(np.max(np.abs(out.values[rows, cols] - ref)))
    print(json.dumps({"name": f"idw-{gauges}", "method": "idw-ckdtree", "seconds":
                      round(seconds, 3), "peak_mb": round(peak, 1), "maxrss_mb":
                      round(maxrss_mb(), 1), **common, "baseline_seconds_est": round(base_est, 2),
                      "speedup": round(base_est / seconds, 1),
                      "max_abs_diff_mm": diff}), flush=True)
    del out

    lazy_tpl = tpl.chunk({"y": chunk, "x": chunk})

    def lazy() -> xr.DataArray:
        with dask.config.set(scheduler="threads"):
            return idw(xy, vals, lazy_tpl, k=K, power=POWER).compute()

    out, seconds, peak = measured(lazy)
    print(json.dumps({"name": f"idw-dask-{gauges}", "method": f"idw-ckdtree-dask-{chunk}",
                      "seconds": round(seconds, 3), "peak_mb": round(peak, 1), "maxrss_mb":
                      round(maxrss_mb(), 1), **common, "speedup": round(base_est / seconds, 1),
                      "max_abs_diff_mm": float(np.max(np.abs(out.values[rows, cols] - ref)))}),
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 × 600 grid, smaller sample")
    args = parser.parse_args()
    size, sample, chunk = (600, 5_000, 300) if args.quick else (2_500, 20_000, 625)
    rng = np.random.default_rng(2024)
    for gauges in (30, 300, 3_000):
        run(size, gauges, sample, chunk, rng)


if __name__ == "__main__":
    main()
