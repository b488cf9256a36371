"""Geometries for the web: simplified in the region's metric CRS, rounded, as GeoJSON. Pure."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

#: Simplification tolerance for polygons and lines on the public map: invisible at street zoom,
#: and it keeps the page small on a phone connection.
DEFAULT_TOLERANCE_M = 10.0
#: Decimal places of lon/lat kept: 1e-5° is about 1 m.
COORD_DECIMALS = 5


@functools.lru_cache(maxsize=8)
def _transformers(metric_crs: str) -> tuple[Transformer, Transformer]:
    return (Transformer.from_crs(4326, metric_crs, always_xy=True),
            Transformer.from_crs(metric_crs, 4326, always_xy=True))


def _apply(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    def move(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, move)


def web_geojson(geom: BaseGeometry, metric_crs: str,
                tolerance_m: float = DEFAULT_TOLERANCE_M) -> dict[str, Any]:
    """A lon/lat geometry simplified by ``tolerance_m`` metres (topology kept, so a polygon
    never collapses) and rounded to :data:`COORD_DECIMALS`, as a GeoJSON mapping."""
    if tolerance_m > 0 and geom.geom_type != "Point":
        forward, back = _transformers(metric_crs)
        geom = _apply(_apply(geom, forward).simplify(tolerance_m, preserve_topology=True), back)
    geom = shapely.transform(geom, lambda xy: np.round(xy, COORD_DECIMALS))
    return _lists(mapping(geom))


def _lists(value: Any) -> Any:
    """Tuples as lists, so the mapping equals its JSON round trip."""
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value
