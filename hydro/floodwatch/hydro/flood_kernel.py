"""The NumPy kernels of the flood-depth step, and the tiled dask path built from them.

Two steps, both on plain float32 arrays in metres:

1. :func:`spread_depth` — every cell takes the water-surface elevation (WSE) of its nearest water
   cell (one exact Euclidean feature transform, as ``scipy.ndimage.distance_transform_edt`` with
   ``return_indices=True`` and the cell size as ``sampling``; in parallel strips when
   ``max_distance_m`` bounds it, see :mod:`floodwatch.hydro.nearest_water`); depth = WSE −
   ground; a cell is a wet *candidate* when depth > ``min_depth_m`` and (if given) its water
   cell is within ``max_distance_m``. Returns the candidate depth, 0.0 elsewhere, NaN on DEM
   nodata. The elementwise steps run on blocks of rows on a thread pool.
2. :func:`keep_connected` — connected components (4-connectivity: cells sharing an edge; a
   one-cell-wide diagonal levee holds) of *candidates ∪ water cells*; candidates in a component
   holding no water cell are set to 0.0 (a depression behind higher ground stays dry). NaN cells
   are in no component, so nodata blocks the connection.

The dask path (:func:`flood_depth_tiled`) computes step 1 block by block with a halo of
``max_distance_m`` (so every cell sees all the water cells that may be its nearest one), labels
each block on its own, joins labels that face each other across block edges (connected
components of a small graph with ``scipy.sparse.csgraph``), and zeroes the unjoined labels block
by block. Step 1 runs twice per block — once in a labelling pass computed at call time, once when
the lazy result is computed — so no whole-grid array is ever held; what passes between the two is
each block's label count and edge rows. Without ``max_distance_m`` the spreading is unbounded and
cannot be tiled exactly.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import dask
import dask.array as da
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from floodwatch.hydro.nearest_water import MAX_WORKERS, nearest_index

#: Rows per block of the elementwise steps (~1-4 MB per float32 block on 1,000-7,000 columns).
ROWS_PER_BLOCK = 128
FOUR_CONNECTED = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)


def spread_depth(
    dem: np.ndarray,
    wse: np.ndarray,
    dy_m: float,
    dx_m: float,
    min_depth_m: float,
    max_distance_m: float | None,
) -> np.ndarray:
    """Candidate depth (float32 m): WSE of the nearest water cell − ground where deep enough."""
    dem = np.asarray(dem, dtype=np.float32)
    wse = np.asarray(wse, dtype=np.float32)
    water = ~np.isnan(wse)
    if not water.any():
        return dem * np.float32(0.0) + np.float32(0.0)  # 0.0 on land, NaN on nodata
    nx = dem.shape[1]
    index = nearest_index(~water, dy_m, dx_m, reach_m=max_distance_m)
    depth = np.empty(dem.shape, dtype=np.float32)
    wse_flat = wse.ravel()

    def block(r0: int, r1: int) -> None:
        flat = index[0, r0:r1].astype(np.int64)
        flat *= nx
        flat += index[1, r0:r1]
        out = depth[r0:r1]
        wse_flat.take(flat, out=out, mode="clip")  # indices are in range: no checks
        out -= dem[r0:r1]  # NaN where the DEM is nodata
        wet = out > min_depth_m
        if max_distance_m is not None:
            wet &= _within(index[:, r0:r1], r0, dy_m, dx_m, max_distance_m)
        _zero_where_not(out, wet)

    _in_row_blocks(dem.shape[0], block)
    return depth


def keep_connected(depth: np.ndarray, water: np.ndarray) -> np.ndarray:
    """Zero the candidate cells of ``depth`` not joined to a water cell (in place; returned)."""
    joined = np.empty(depth.shape, dtype=bool)

    def mask(r0: int, r1: int) -> None:
        np.greater(depth[r0:r1], 0, out=joined[r0:r1])
        joined[r0:r1] |= water[r0:r1]

    _in_row_blocks(depth.shape[0], mask)
    labels, count = ndimage.label(joined, structure=FOUR_CONNECTED)
    keep = np.zeros(count + 1, dtype=bool)
    keep[labels[water]] = True
    keep[0] = False

    def apply(r0: int, r1: int) -> None:
        _zero_where_not(depth[r0:r1], keep[labels[r0:r1]])

    _in_row_blocks(depth.shape[0], apply)
    return depth


def flood_depth_tiled(
    dem: da.Array,
    wse: da.Array,
    dy_m: float,
    dx_m: float,
    min_depth_m: float,
    max_distance_m: float,
) -> da.Array:
    """The dask equivalent of ``keep_connected(spread_depth(...), water)``, on aligned chunks.

    The labelling pass runs now (``dask.compute``: the inputs are read once, block by block);
    the result is lazy and reads them a second time when computed.
    """
    # Every water cell within max_distance_m of a tile lies within its halo; past the grid's
    # size the halo cannot grow (and dask refuses it).
    halo = {
        0: min(math.floor(max_distance_m / dy_m) + 1, dem.shape[0] - 1),
        1: min(math.floor(max_distance_m / dx_m) + 1, dem.shape[1] - 1),
    }
    candidates = da.map_overlap(
        _spread_block, dem, wse, depth=halo, boundary="none", dtype=np.float32,
        meta=np.empty((0, 0), np.float32), dy_m=dy_m, dx_m=dx_m, min_depth_m=min_depth_m,
        max_distance_m=max_distance_m,
    )
    # map_overlap may merge chunks smaller than the halo: follow its chunks.
    water = da.map_blocks(
        _water_block, wse.rechunk(candidates.chunks), dtype=bool, meta=np.empty((0, 0), bool)
    )
    cand_blocks, water_blocks = candidates.to_delayed(), water.to_delayed()
    n_rows, n_cols = cand_blocks.shape
    tasks = [
        dask.delayed(_summary)(cand_blocks[i, j], water_blocks[i, j])
        for i in range(n_rows)
        for j in range(n_cols)
    ]
    summaries = dask.compute(*tasks)
    kept = _merge([list(summaries[i * n_cols : (i + 1) * n_cols]) for i in range(n_rows)])
    return da.map_blocks(
        _apply_block, candidates, water, dtype=np.float32, meta=np.empty((0, 0), np.float32),
        kept=kept, n_cols=n_cols,
    )


def _within(
    index: np.ndarray, first_row: int, dy_m: float, dx_m: float, max_distance_m: float
) -> np.ndarray:
    """Whether each cell's nearest water cell (``index``, rows from ``first_row``) is in reach."""
    n_rows, nx = index.shape[1:]
    rows = np.arange(first_row, first_row + n_rows, dtype=np.int32)[:, None]
    cols = np.arange(nx, dtype=np.int32)[None, :]
    d2 = np.subtract(index[0], rows, dtype=np.float32)
    d2 *= np.float32(dy_m)
    np.square(d2, out=d2)
    ex = np.subtract(index[1], cols, dtype=np.float32)
    ex *= np.float32(dx_m)
    np.square(ex, out=ex)
    d2 += ex
    # A small tolerance so that a cell exactly max_distance_m away is in, whatever the rounding.
    return d2 <= np.float32(max_distance_m**2 * (1 + 1e-6))


def _in_row_blocks(n_rows: int, func: Callable[[int, int], None]) -> None:
    """``func(r0, r1)`` over blocks of rows, on threads: elementwise NumPy steps on blocks that
    stay in the CPU caches, in parallel (NumPy releases the GIL in its loops)."""
    edges = [*range(0, n_rows, ROWS_PER_BLOCK), n_rows]
    if len(edges) <= 2:
        func(0, n_rows)
        return
    with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, os.cpu_count() or 1)) as pool:
        list(pool.map(func, edges[:-1], edges[1:]))


def _zero_where_not(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    depth *= mask  # NaN stays NaN; dry cells become ±0.0
    depth += np.float32(0.0)  # -0.0 + 0.0 is +0.0
    return depth


def _spread_block(dem: np.ndarray, wse: np.ndarray, **kwargs: Any) -> np.ndarray:
    if dem.size == 0:
        return np.empty(dem.shape, np.float32)
    return spread_depth(dem, wse, **kwargs)


def _water_block(wse: np.ndarray) -> np.ndarray:
    return ~np.isnan(wse)


def _summary(depth: np.ndarray, water: np.ndarray) -> dict[str, Any]:
    """What the merge needs of one block: its label count, seeded labels and edge labels."""
    labels, count = ndimage.label((depth > 0) | water, structure=FOUR_CONNECTED)
    return {
        "count": count,
        "seeded": np.unique(labels[water]),
        "top": labels[0].copy(),
        "bottom": labels[-1].copy(),
        "left": labels[:, 0].copy(),
        "right": labels[:, -1].copy(),
    }


def _merge(grid: list[list[dict[str, Any]]]) -> list[np.ndarray]:
    """Per block, which of its local labels are joined to a water cell anywhere in the grid."""
    n_rows, n_cols = len(grid), len(grid[0])
    counts = np.array([[s["count"] for s in row] for row in grid], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts.ravel())])[:-1].reshape(n_rows, n_cols)
    total = int(counts.sum()) + 1
    pairs = [np.zeros((0, 2), np.int64)]
    for i in range(n_rows):
        for j in range(n_cols):
            here = grid[i][j]
            if i + 1 < n_rows:
                pairs.append(_facing(here["bottom"], grid[i + 1][j]["top"],
                                     offsets[i, j], offsets[i + 1, j]))
            if j + 1 < n_cols:
                pairs.append(_facing(here["right"], grid[i][j + 1]["left"],
                                     offsets[i, j], offsets[i, j + 1]))
    edges = np.concatenate(pairs)
    graph = sparse.coo_matrix(
        (np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(total, total)
    )
    _, component = csgraph.connected_components(graph, directed=False)
    seeded = np.zeros(component.max() + 1, dtype=bool)
    for i in range(n_rows):
        for j in range(n_cols):
            local = grid[i][j]["seeded"]
            seeded[component[local[local > 0] + offsets[i, j]]] = True
    kept = []
    for i in range(n_rows):
        for j in range(n_cols):
            ids = np.arange(counts[i, j] + 1) + offsets[i, j]
            keep = seeded[component[ids]]
            keep[0] = False
            kept.append(keep)
    return kept


def _facing(a: np.ndarray, b: np.ndarray, offset_a: int, offset_b: int) -> np.ndarray:
    both = (a > 0) & (b > 0)
    return np.stack([a[both] + offset_a, b[both] + offset_b], axis=1).astype(np.int64)


def _apply_block(
    depth: np.ndarray,
    water: np.ndarray,
    kept: list[np.ndarray],
    n_cols: int,
    block_info: dict[Any, Any] | None = None,
) -> np.ndarray:
    if block_info is None or depth.size == 0:  # dask's meta probe
        return depth
    i, j = block_info[0]["chunk-location"]
    keep = kept[i * n_cols + j]
    labels, count = ndimage.label((depth > 0) | water, structure=FOUR_CONNECTED)
    if count + 1 != len(keep):  # the labelling is deterministic; this would be a bug
        raise RuntimeError("flood block relabelled differently between the two passes")
    return _zero_where_not(depth, keep[labels])
