"""Compiled (numba) reduction of a grid per zone: valid count, sum, min and max in one pass.

A cell counts for zone ``labels[i, j]`` (labels ``>= n_zones`` are no zone) when
``condition[i, j] >= threshold`` and ``values[i, j]`` is not NaN; sums are float64. The plain
statistics of a grid pass the grid itself as the condition with ``threshold = -inf`` (true for
every number, false for NaN); the flooded statistics pass the depth and the minimum depth.
:func:`zone_stats` reads the labels cell by cell (a dask block, labels burnt for it);
:func:`zone_stats_runs` takes an in-memory index's runs of equal labels and reads only the
values, in parallel: the runs are cut into a few bands per thread, each with its own
accumulators, combined at the end (see :mod:`floodwatch.hydro.jit` for the lock and the
threading layer).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from floodwatch.hydro.jit import PARALLEL

#: Bands per thread of the parallel reduction (a few, so an uneven band does not hold it up).
BANDS_PER_THREAD = 4


def zone_stats(
    labels: np.ndarray,
    values: np.ndarray,
    condition: np.ndarray,
    threshold: float,
    n_zones: int,
) -> np.ndarray:
    """(4, n_zones) float64: valid count, sum, min, max (min/max NaN where nothing counts), in
    one serial pass over the cells (the dask path: dask runs the blocks in parallel)."""
    out = _new(n_zones)
    _stats(labels, _floats(values), _floats(condition), threshold, 0, labels.shape[0], out)
    out[2:, out[0] == 0] = np.nan
    return out


def _floats(a: np.ndarray) -> np.ndarray:
    """Float32/float64 arrays as they are; anything else (integers, booleans) as float64."""
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float64)


def _new(n_zones: int) -> np.ndarray:
    out = np.zeros((4, n_zones))
    out[2], out[3] = np.inf, -np.inf
    return out


@njit(cache=True, nogil=True)
def _stats(labels, values, condition, threshold, r0, r1, out):  # type: ignore[no-untyped-def]
    n_zones = out.shape[1]
    nx = labels.shape[1]
    for i in range(r0, r1):
        for j in range(nx):
            z = labels[i, j]
            if z >= n_zones or not condition[i, j] >= threshold:
                continue
            v = float(values[i, j])
            if np.isnan(v):
                continue
            out[0, z] += 1.0
            out[1, z] += v
            if v < out[2, z]:
                out[2, z] = v
            if v > out[3, z]:
                out[3, z] = v


def zone_stats_runs(
    starts: np.ndarray,
    run_labels: np.ndarray,
    values: np.ndarray,
    condition: np.ndarray,
    threshold: float,
    n_zones: int,
) -> np.ndarray:
    """As :func:`zone_stats`, with the labels given as runs along the flattened grid (the flat
    start and the zone of each run): only the values are read, a run at a time."""
    values = _floats(np.ascontiguousarray(values)).reshape(-1)
    condition = _floats(np.ascontiguousarray(condition)).reshape(-1)
    n_tasks = max(1, min(starts.size, BANDS_PER_THREAD * numba.get_num_threads()))
    with PARALLEL:
        parts = _runs_par(starts, run_labels, values, condition, threshold, n_zones, n_tasks)
    out = np.stack((parts[:, 0].sum(0), parts[:, 1].sum(0), parts[:, 2].min(0),
                    parts[:, 3].max(0)))
    out[2:, out[0] == 0] = np.nan
    return out


# The sums of a run may be reassociated (vectorised); NaN and infinities keep their meaning.
_RUN_MATH = {"reassoc", "nsz", "contract", "arcp"}


@njit(cache=True, nogil=True, fastmath=_RUN_MATH)
def _runs(starts, run_labels, values, condition, threshold, k0, k1, out):  # type: ignore[no-untyped-def]
    n_zones = out.shape[1]
    for k in range(k0, k1):
        z = run_labels[k]
        if z >= n_zones:
            continue
        end = starts[k + 1] if k + 1 < starts.shape[0] else values.shape[0]
        count, total, low, high = 0.0, 0.0, np.inf, -np.inf
        for c in range(starts[k], end):
            v = float(values[c])
            if condition[c] >= threshold and v == v:
                count += 1.0
                total += v
                low = min(low, v)
                high = max(high, v)
        out[0, z] += count
        out[1, z] += total
        if low < out[2, z]:
            out[2, z] = low
        if high > out[3, z]:
            out[3, z] = high


@njit(cache=True, parallel=True)
def _runs_par(starts, run_labels, values, condition, threshold, n_zones, n_tasks):  # type: ignore[no-untyped-def]
    n_runs = starts.shape[0]
    parts = np.zeros((n_tasks, 4, n_zones))
    for t in prange(n_tasks):
        parts[t, 2, :] = np.inf
        parts[t, 3, :] = -np.inf
        _runs(starts, run_labels, values, condition, threshold, t * n_runs // n_tasks,
              (t + 1) * n_runs // n_tasks, parts[t])
    return parts
