"""Compiled (numba) kernels of the flood-depth step: nearest water cell, depth, connectivity.

:func:`spread_depth` gives every cell the water-surface elevation (WSE) of its nearest water
cell by an exact Euclidean distance transform — Felzenszwalb & Huttenlocher's separable one
(*Distance Transforms of Sampled Functions*, Theory of Computing 8, 2012): the nearest water row
in each column, then for each row the lower envelope of the parabolas those rows make — and turns
it into a candidate depth on the spot, so no (2, ny, nx) index array is ever written. Both passes
run in parallel (columns in the first, rows in the second). :func:`keep_connected` keeps the
candidates whose connected component of candidates and water cells (4-connectivity: a
one-cell-wide diagonal levee holds; NaN cells block) holds a water cell.

**Ties.** A cell equidistant from several water cells takes the one in the leftmost column, and
within a column the upper one. The envelope is computed in units of the cell width, so with
square cells every quantity is an integer held exactly by a float64 and every comparison is
exact: the choice depends only on the water cells at that distance, wherever the grid is cut —
which the tiled dask path needs (a tile sees the same nearest water cells as the whole grid for
every cell within reach). With oblong cells ties are rare and settled by rounding.

The parallel kernels run one at a time in a process and the tiled path calls the serial ones
from dask's threads (see :mod:`floodwatch.hydro.jit`). The first call after an install
compiles them (~8 s, once; cached next to the module).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange
from scipy import ndimage

from floodwatch.hydro.jit import PARALLEL

#: Rows per task of the row pass (buffers are allocated once per task).
ROWS_PER_TASK = 64
#: Column bands of the column pass: one per task.
COLUMN_TASKS = 64
_NONE = -1
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def spread_depth(
    dem: np.ndarray,
    wse: np.ndarray,
    dy_m: float,
    dx_m: float,
    min_depth_m: float,
    max_distance_m: float | None,
    *,
    parallel: bool = True,
) -> np.ndarray:
    """Candidate depth (float32 m): WSE of the nearest water cell − ground where deeper than
    ``min_depth_m`` and (if given) the water cell is within ``max_distance_m``; 0.0 elsewhere,
    NaN where the DEM is NaN. ``wse`` is NaN off the water."""
    dem = np.ascontiguousarray(dem, dtype=np.float32)
    wse = np.ascontiguousarray(wse, dtype=np.float32)
    if np.isnan(wse).all():
        return dem * np.float32(0.0) + np.float32(0.0)  # no water: 0.0 on land, NaN on nodata
    aspect2 = (dy_m / dx_m) ** 2
    # Squared reach in units of the cell width, with a tolerance so a cell exactly
    # max_distance_m away is in whatever the rounding.
    reach2 = math.inf if max_distance_m is None else (max_distance_m / dx_m) ** 2 * (1 + 1e-6)
    depth = np.empty(dem.shape, dtype=np.float32)
    nearest_row = np.empty(dem.shape, dtype=np.int32)
    if parallel:
        with PARALLEL:
            _columns_par(wse, nearest_row)
            _rows_par(dem, wse, nearest_row, aspect2, reach2, np.float32(min_depth_m), depth)
    else:
        _columns(wse, nearest_row, 0, dem.shape[1])
        _rows(dem, wse, nearest_row, aspect2, reach2, np.float32(min_depth_m), depth,
              0, dem.shape[0])
    return depth


def keep_connected(depth: np.ndarray, water: np.ndarray) -> np.ndarray:
    """Zero the candidates (``depth`` > 0) not 4-connected to a ``water`` cell through
    candidates or water cells; in place, returned. The components are scipy's
    (``ndimage.label``, C); marking and zeroing them run in parallel."""
    water = np.ascontiguousarray(water, dtype=np.bool_)
    joined = np.empty(depth.shape, dtype=np.bool_)
    with PARALLEL:
        _joined_par(depth, water, joined)
    labels, count = ndimage.label(joined, structure=FOUR_CONNECTED)
    keep = np.zeros(count + 1, dtype=np.bool_)
    with PARALLEL:
        _seeded_par(labels, water, keep)
        _zero_unseeded_par(depth, labels, keep)
    return depth


# --- the column pass: nearest water row in each column ----------------------------------------


@njit(cache=True, nogil=True)
def _columns(wse: np.ndarray, nearest_row: np.ndarray, c0: int, c1: int) -> None:
    """``nearest_row[i, j]``: the nearest row holding water in column j (the upper one of two
    as near), or -1 when the column holds none; for the columns c0..c1."""
    ny = wse.shape[0]
    last = np.full(c1 - c0, _NONE, dtype=np.int32)
    for i in range(ny):  # downwards: the nearest water at or above
        for j in range(c0, c1):
            if not np.isnan(wse[i, j]):
                last[j - c0] = i
            nearest_row[i, j] = last[j - c0]
    last[:] = _NONE
    for i in range(ny - 1, -1, -1):  # upwards: nearer water at or below wins, ties stay up
        for j in range(c0, c1):
            if not np.isnan(wse[i, j]):
                last[j - c0] = i
            below = last[j - c0]
            if below != _NONE:
                above = nearest_row[i, j]
                if above == _NONE or below - i < i - above:
                    nearest_row[i, j] = below


@njit(cache=True, parallel=True)
def _columns_par(wse: np.ndarray, nearest_row: np.ndarray) -> None:
    nx = wse.shape[1]
    n_tasks = min(COLUMN_TASKS, nx)
    for t in prange(n_tasks):
        _columns(wse, nearest_row, t * nx // n_tasks, (t + 1) * nx // n_tasks)


# --- the row pass: lower envelope of parabolas, then the depth --------------------------------


@njit(cache=True, nogil=True)
def _rows(
    dem: np.ndarray,
    wse: np.ndarray,
    nearest_row: np.ndarray,
    aspect2: float,
    reach2: float,
    min_depth: np.float32,
    depth: np.ndarray,
    r0: int,
    r1: int,
) -> None:
    nx = dem.shape[1]
    v = np.empty(nx, dtype=np.int64)  # columns of the parabolas on the envelope
    height = np.empty(nx, dtype=np.float64)  # their f(q) + q²
    z = np.empty(nx + 1, dtype=np.float64)  # where each starts to be the lowest
    for i in range(r0, r1):
        k = -1
        for q in range(nx):
            g = nearest_row[i, q]
            if g == _NONE:
                continue
            h = aspect2 * float(i - g) * float(i - g) + float(q) * float(q)
            while k >= 0:
                s = (h - height[k]) / (2.0 * float(q - v[k]))
                if s <= z[k]:
                    k -= 1
                else:
                    break
            k += 1
            v[k] = q
            height[k] = h
            z[k] = -np.inf if k == 0 else (h - height[k - 1]) / (2.0 * float(q - v[k - 1]))
            z[k + 1] = np.inf
        k = 0
        for x in range(nx):
            while z[k + 1] < x:
                k += 1
            q = v[k]
            g = nearest_row[i, q]
            d = wse[g, q] - dem[i, x]  # NaN where the DEM is nodata
            dist2 = float(x - q) * float(x - q) + aspect2 * float(i - g) * float(i - g)
            if np.isnan(d) or (d > min_depth and dist2 <= reach2):
                depth[i, x] = d
            else:
                depth[i, x] = np.float32(0.0)


@njit(cache=True, parallel=True)
def _rows_par(
    dem: np.ndarray,
    wse: np.ndarray,
    nearest_row: np.ndarray,
    aspect2: float,
    reach2: float,
    min_depth: np.float32,
    depth: np.ndarray,
) -> None:
    ny = dem.shape[0]
    n_tasks = (ny + ROWS_PER_TASK - 1) // ROWS_PER_TASK
    for t in prange(n_tasks):
        _rows(dem, wse, nearest_row, aspect2, reach2, min_depth, depth,
              t * ROWS_PER_TASK, min(ny, (t + 1) * ROWS_PER_TASK))


# --- connectivity: components seeded by a water cell --------------------------------------


@njit(cache=True, parallel=True)
def _joined_par(depth: np.ndarray, water: np.ndarray, joined: np.ndarray) -> None:
    ny, nx = depth.shape
    for i in prange(ny):
        for j in range(nx):
            joined[i, j] = water[i, j] or depth[i, j] > 0


@njit(cache=True, parallel=True)
def _seeded_par(labels: np.ndarray, water: np.ndarray, keep: np.ndarray) -> None:
    ny, nx = labels.shape
    for i in prange(ny):
        for j in range(nx):
            if water[i, j]:
                keep[labels[i, j]] = True  # only ever True: the threads cannot disagree


@njit(cache=True, parallel=True)
def _zero_unseeded_par(depth: np.ndarray, labels: np.ndarray, keep: np.ndarray) -> None:
    ny, nx = depth.shape
    for i in prange(ny):
        for j in range(nx):
            if not keep[labels[i, j]] and depth[i, j] > 0:
                depth[i, j] = np.float32(0.0)
