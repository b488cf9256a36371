"""Benchmark: floodwatch zonal statistics versus rasterstats and exactextract.

Zones: the 40 real Huế wards (gis_data/.../hue_wards_2025.geojson), each cut by a 3 x 3 grid
over its own bounding box into up to 9 pieces (~300 polygons with real, complex boundaries).
Raster: a square n x n float32 grid in EPSG:32648 covering the wards, with a smooth realistic
rainfall field (coast-to-mountain gradient plus three gaussian storm cells). Statistics: mean,
max and sum per zone. n = 2,500 and 7,000 (``--quick``: 2,500 only, fewer repetitions).

``seconds`` is the best of the repetitions after one warm-up run, in this process (like a
long-running service). ``peak_mb`` comes from one more run in a forked child process: its peak
resident memory above what it inherited (the raster, the zones and, for the per-run reductions,
the prebuilt index).
``ratio_vs_*`` = the other tool's seconds / this method's seconds (> 1: this one is faster).
``max_rel_diff_vs_exactextract`` = the largest |mean - exactextract mean| / exactextract mean
over the zones (exactextract weights cells by coverage fraction; floodwatch and rasterstats use
the cell-centre rule). One JSON object per line on stdout.

    .venv/bin/python benchmarks/bench_zonal.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401
import xarray as xr
from shapely.geometry import box

from floodwatch.hydro.zonal import ZoneIndex

ROOT = Path(__file__).resolve().parents[1]
WARDS = ROOT / "gis_data/floodwatch/gis_data/regions/hue/admin/hue_wards_2025.geojson"
CRS = "EPSG:32648"

Case = dict[str, object]


def split_wards(pieces_per_side: int = 3) -> gpd.GeoDataFrame:
    """The Huế wards, each cut by a grid over its bounding box into up to pieces_per_side**2."""
    wards = gpd.read_file(WARDS).to_crs(CRS)
    rows = []
    for code, geom in zip(wards["gso_code_2025"], wards.geometry, strict=True):
        xmin, ymin, xmax, ymax = geom.bounds
        xs = np.linspace(xmin, xmax, pieces_per_side + 1)
        ys = np.linspace(ymin, ymax, pieces_per_side + 1)
        for i in range(pieces_per_side):
            for j in range(pieces_per_side):
                piece = geom.intersection(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
                if piece.area > 0:
                    rows.append((f"{code}-{i}{j}", piece))
    codes, geoms = zip(*rows, strict=True)
    return gpd.GeoDataFrame({"code": codes}, geometry=list(geoms), crs=CRS)


def rain_grid(zones: gpd.GeoDataFrame, n: int) -> xr.DataArray:
    """An n x n smooth rainfall grid (mm) covering the zones, cell centres in metres."""
    xmin, ymin, xmax, ymax = zones.total_bounds
    side = max(xmax - xmin, ymax - ymin) * 1.02
    res = side / n
    x0, y0 = (xmin + xmax - side) / 2, (ymin + ymax + side) / 2
    x = x0 + res * (np.arange(n) + 0.5)
    y = y0 - res * (np.arange(n) + 0.5)
    rain = np.empty((n, n), dtype=np.float32)
    for r in range(0, n, 512):  # row bands keep the float64 temporaries small
        xx, yy = np.meshgrid(x, y[r : r + 512])
        band = 120.0 + 0.0015 * ((841_000 - xx) + (1_852_000 - yy))
        for cx, cy, peak, sigma in ((760e3, 1815e3, 250, 20e3), (790e3, 1830e3, 180, 12e3),
                                    (740e3, 1790e3, 300, 8e3)):
            band += peak * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * sigma**2))
        rain[r : r + 512] = band
    return xr.DataArray(rain, dims=("y", "x"), coords={"y": y, "x": x},
                        attrs={"units": "mm"}).rio.write_crs(CRS)


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def measure_peak_mb(run: Callable[[], object]) -> float:
    """Peak resident memory (MB) of one run above what it starts with, in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: no thread of the parent is alive (all forks happen before timings)
        os.close(read)
        try:
            base_kb = _status_kb("VmRSS")
            run()
            payload: object = (_status_kb("VmHWM") - base_kb) / 1024
        except BaseException as exc:
            payload = exc
        with os.fdopen(write, "wb") as out:
            pickle.dump(payload, out)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as inp:
        payload = pickle.load(inp)
    os.waitpid(pid, 0)
    if isinstance(payload, BaseException):
        raise payload
    return float(payload)


def best_seconds(run: Callable[[], pd.Series | None],
                 repeats: int) -> tuple[float, pd.Series | None]:
    """The best time of ``repeats`` runs (after one warm-up run) and the last result."""
    result = run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def methods(zones: gpd.GeoDataFrame, grid: xr.DataArray,
            index: ZoneIndex) -> dict[str, Callable[[], pd.Series | None]]:
    values = grid.values
    codes = zones["code"]

    def rasterstats() -> pd.Series:
        from rasterstats import zonal_stats

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stats = zonal_stats(zones, values, affine=index.transform, nodata=-9999,
                                stats=["mean", "max", "sum"])
        return pd.Series([s["mean"] for s in stats], index=codes, dtype=float)

    def exactextract() -> pd.Series:
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource

        xmin, ymin, xmax, ymax = grid.rio.bounds()
        raster = NumPyRasterSource(values, xmin, ymin, xmax, ymax, srs_wkt=grid.rio.crs.to_wkt())
        frame = exact_extract(raster, zones, ["mean", "max", "sum"], include_cols=["code"],
                              output="pandas")
        return frame.set_index("code")["mean"]

    def build() -> None:
        ZoneIndex.build(zones, grid)

    def build_reduce() -> pd.Series:
        return ZoneIndex.build(zones, grid).reduce(grid)["mean"]

    chunked = grid.chunk(2048)  # a dask-backed input, as a lazy model output would be

    def reduce_dask() -> pd.Series:
        return index.reduce(chunked)["mean"]

    return {"rasterstats": rasterstats, "exactextract": exactextract,
            "floodwatch_build": build, "floodwatch_reduce": lambda: index.reduce(grid)["mean"],
            "floodwatch_build_reduce": build_reduce, "floodwatch_reduce_dask": reduce_dask}


def report(name: str, cells: int, zones: int,
           results: dict[str, tuple[float, float, pd.Series | None]]) -> None:
    ref_rs, ref_ee = results["rasterstats"][0], results["exactextract"][0]
    exact = results["exactextract"][2]
    assert exact is not None
    for method, (seconds, peak, means) in results.items():
        diff = None
        if means is not None:
            rel = (means.reindex(exact.index) - exact).abs() / exact.abs()
            diff = float(rel.max())
        print(json.dumps({
            "name": name, "method": method, "seconds": round(seconds, 4),
            "peak_mb": round(peak, 1), "cells": cells, "zones": zones,
            "ratio_vs_rasterstats": round(ref_rs / seconds, 2),
            "ratio_vs_exactextract": round(ref_ee / seconds, 2),
            "max_rel_diff_vs_exactextract": diff}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,500 x 2,500 only, fewer repeats")
    args = parser.parse_args()
    zones = split_wards()
    sizes = (2500,) if args.quick else (2500, 7000)
    runs = {}
    for n in sizes:
        grid = rain_grid(zones, n)
        runs[n] = methods(zones, grid, ZoneIndex.build(zones, grid))
    # the compiled kernels are loaded before the forks (their code is not the run's memory);
    # numba's threading layer is fork-safe, and every fork happens before any dask run starts
    # a thread pool, so no child can inherit a lock held by a thread
    for n in sizes:
        runs[n]["floodwatch_reduce"]()
    peaks = {n: {m: measure_peak_mb(run) for m, run in runs[n].items()} for n in sizes}
    repeats = {"rasterstats": 2, "exactextract": 3}
    for n in sizes:
        results = {}
        for method, run in runs[n].items():
            seconds, means = best_seconds(run, repeats.get(method, 10))
            results[method] = (seconds, peaks[n][method], means)
        report(f"zonal_{n}x{n}", n * n, len(zones), results)


if __name__ == "__main__":
    main()
