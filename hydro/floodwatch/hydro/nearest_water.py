"""The nearest water cell of every cell: an exact Euclidean feature transform, in parallel strips.

:func:`feature_transform` is ``scipy.ndimage.distance_transform_edt(..., return_indices=True)``
without its overheads. :func:`nearest_index` with a reach (``max_distance_m``) gives the same
answer for every cell within reach, faster on large grids: the grid is cut into strips of rows,
each transformed with a halo of ``reach_m`` worth of rows above and below, on a thread pool
(scipy's C transform releases the GIL, and a strip fits the CPU caches better than the whole
grid). Any water cell within reach of a strip's cell is inside its halo, so the answer is the
global one (the tests compare the two, ties included). Without a reach the answer for a cell far
from water could lie anywhere, so the grid is transformed whole: cutting it would need halos
growing to the whole grid wherever land lies far from water.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy import ndimage

try:  # scipy's C feature transform: see feature_transform
    from scipy.ndimage import _nd_image  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - a scipy without it: the public wrapper is used
    _nd_image = None

#: Rows per strip at least (a strip is at least twice its halo), and the smallest grid cut
#: into strips: measured on 2 cores with 2,500² and 7,000² grids.
STRIP_ROWS = 448
MIN_CELLS = 2_000_000
MAX_WORKERS = 8


def feature_transform(background: np.ndarray, dy_m: float, dx_m: float) -> np.ndarray:
    """Indices (2, ny, nx) int32 of the nearest False cell of ``background``, for every cell:
    ``scipy.ndimage.distance_transform_edt(..., return_distances=False, return_indices=True)``.

    The public wrapper copies the mask through an int64 ``np.where`` (8 bytes a cell: ~40 % of
    the time on large grids), so scipy's C feature transform is called directly on a view of
    the mask when it is there with the signature it has had since scipy 0.x; the tests check
    that both give the same.
    """
    background = np.ascontiguousarray(background, dtype=bool)
    core = getattr(_nd_image, "euclidean_feature_transform", None)
    if core is not None:
        index = np.empty((2, *background.shape), dtype=np.int32)
        try:
            core(background.view(np.int8), np.array([dy_m, dx_m], dtype=np.float64), index)
        except (TypeError, ValueError, RuntimeError):
            pass
        else:
            return index
    return ndimage.distance_transform_edt(  # type: ignore[no-any-return]
        background, sampling=(dy_m, dx_m), return_distances=False, return_indices=True
    )


def nearest_index(
    background: np.ndarray,
    dy_m: float,
    dx_m: float,
    *,
    reach_m: float | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Indices (2, ny, nx) int32 of the nearest False cell of ``background`` (which must hold
    at least one), as :func:`feature_transform`; with ``reach_m``, exact for the cells within
    ``reach_m`` of one, and some False cell farther than ``reach_m`` for the others."""
    background = np.ascontiguousarray(background, dtype=bool)
    ny = background.shape[0]
    if reach_m is None:
        return feature_transform(background, dy_m, dx_m)
    # Rows within reach of a strip: any water nearer than reach_m to one of its cells is there.
    halo = math.floor(reach_m / dy_m) + 1
    strip_rows = max(STRIP_ROWS, 2 * halo)
    n_strips = round(ny / strip_rows)
    if n_strips < 2 or background.size < MIN_CELLS:
        return feature_transform(background, dy_m, dx_m)
    edges = np.linspace(0, ny, n_strips + 1).astype(int)
    out = np.empty((2, *background.shape), dtype=np.int32)
    any_water = np.unravel_index(int(np.argmin(background)), background.shape)

    def strip(r0: int, r1: int) -> None:
        p0, p1 = max(0, r0 - halo), min(ny, r1 + halo)
        part = background[p0:p1]
        if part.all():  # no water within reach: any water cell is out of reach
            out[0, r0:r1], out[1, r0:r1] = any_water
            return
        index = feature_transform(part, dy_m, dx_m)
        np.add(index[0, r0 - p0 : r1 - p0], p0, out=out[0, r0:r1])
        out[1, r0:r1] = index[1, r0 - p0 : r1 - p0]

    n_workers = workers or min(MAX_WORKERS, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=n_workers) as pool:
        list(pool.map(strip, edges[:-1], edges[1:]))
    return out
