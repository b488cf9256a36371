"""The flood-depth step on plain float32 arrays in metres, and the tiled dask path built on it.

1. :func:`spread_depth` — every cell takes the water-surface elevation (WSE) of its nearest water
   cell (an exact Euclidean distance transform with the cell size; compiled, in parallel, see
   :mod:`floodwatch.hydro.flood_jit`); depth = WSE − ground; a cell is a wet *candidate* when
   depth > ``min_depth_m`` and (if given) its water cell is within ``max_distance_m``. Returns the
   candidate depth, 0.0 elsewhere, NaN on DEM nodata.
2. :func:`keep_connected` — candidates not 4-connected (cells sharing an edge; a one-cell-wide
   diagonal levee holds) to a water cell through candidates or water cells are set to 0.0 (a
   depression behind higher ground stays dry); NaN cells block the connection.

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
from typing import Any

import dask
import dask.array as da
import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from floodwatch.hydro.flood_jit import FOUR_CONNECTED, keep_connected, spread_depth

__all__ = ["flood_depth_tiled", "keep_connected", "spread_depth"]


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


def _zero_where_not(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    depth *= mask  # NaN stays NaN; dry cells become ±0.0
    depth += np.float32(0.0)  # -0.0 + 0.0 is +0.0
    return depth


def _spread_block(dem: np.ndarray, wse: np.ndarray, **kwargs: Any) -> np.ndarray:
    if dem.size == 0:
        return np.empty(dem.shape, np.float32)
    return spread_depth(dem, wse, parallel=False, **kwargs)  # dask runs the blocks in parallel


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
