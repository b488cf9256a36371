"""Reading vector files and checking their geometries before anything touches the store.

Every geometry is validated: an invalid polygon is repaired where that is safe (``make_valid``
keeps the polygonal parts and the area changes by less than ``MAX_REPAIR_AREA_CHANGE``) and
refused with a clear message where it is not. Everything comes out in EPSG:4326.
"""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry import MultiLineString, MultiPolygon
from shapely.geometry.base import BaseGeometry

from floodwatch.core.errors import InputError

MAX_REPAIR_AREA_CHANGE = 0.01  # 1 %


def read_layer(path: Path, *, crs: str | None = None, label: str = "") -> gpd.GeoDataFrame:
    """Read a vector file into EPSG:4326. ``crs`` is the file's CRS where it declares none."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise InputError(f"{path}: cannot read it as a vector file ({exc})") from exc
    if len(gdf) == 0:
        raise InputError(f"{path}: the file holds no features")
    if crs is not None:
        try:
            declared = CRS.from_user_input(crs)
        except CRSError as exc:
            raise InputError(f"{crs!r} is not a CRS pyproj knows") from exc
        gdf = gdf.set_crs(declared, allow_override=True)
    elif gdf.crs is None:
        raise InputError(f"{path}: the file declares no CRS; give it (e.g. --crs EPSG:32648)")
    if gdf.crs is not None and CRS(gdf.crs).is_geographic:
        _check_lonlat(gdf, path)
    return gdf.to_crs(4326)


def _check_lonlat(gdf: gpd.GeoDataFrame, path: Path) -> None:
    valid = gdf.geometry[~gdf.geometry.is_empty & gdf.geometry.notna()]
    if valid.empty:
        return
    minx, miny, maxx, maxy = valid.total_bounds
    if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
        raise InputError(
            f"{path}: coordinates such as ({minx:.0f}, {miny:.0f}) are not longitude/latitude, "
            "but the file declares no other CRS (GeoJSON defaults to EPSG:4326); "
            "give the file's CRS (e.g. --crs EPSG:32648)"
        )


def require_fields(gdf: gpd.GeoDataFrame, path: Path, *fields: str | None) -> None:
    missing = [f for f in fields if f and f not in gdf.columns]
    if missing:
        have = ", ".join(c for c in gdf.columns if c != "geometry")
        raise InputError(f"{path}: no field {', '.join(map(repr, missing))} (fields: {have})")


def polygonal(geom: BaseGeometry | None, *, metric_crs: CRS, where: str) -> MultiPolygon:
    """A valid MultiPolygon, repaired where safe; InputError otherwise."""
    if geom is None or geom.is_empty:
        raise InputError(f"{where}: has no geometry")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise InputError(f"{where}: is a {geom.geom_type}, not a polygon")
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        repaired = _polygon_parts(shapely.make_valid(geom))
        before = _area_m2(geom.buffer(0) if repaired is None else geom, metric_crs)
        if repaired is None or repaired.is_empty:
            raise InputError(f"{where}: invalid geometry ({reason}) that cannot be repaired")
        after = _area_m2(repaired, metric_crs)
        change = abs(after - before) / before if before else 1.0
        if change > MAX_REPAIR_AREA_CHANGE:
            raise InputError(
                f"{where}: invalid geometry ({reason}); repairing it would change its area by "
                f"{change:.0%}, so it was refused: fix the source file"
            )
        geom = repaired
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _polygon_parts(geom: BaseGeometry) -> MultiPolygon | None:
    if isinstance(geom, MultiPolygon):
        return geom
    if geom.geom_type == "Polygon":
        return MultiPolygon([geom])
    parts = [g for g in getattr(geom, "geoms", []) if g.geom_type in ("Polygon", "MultiPolygon")]
    polys = [p for g in parts for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return MultiPolygon(polys) if polys else None


def _area_m2(geom: BaseGeometry, metric_crs: CRS) -> float:
    return float(gpd.GeoSeries([geom], crs=4326).to_crs(metric_crs).area.iloc[0])


def lineal(geom: BaseGeometry | None, *, where: str) -> MultiLineString:
    if geom is None or geom.is_empty:
        raise InputError(f"{where}: has no geometry")
    if geom.geom_type == "LineString":
        return MultiLineString([geom])
    if geom.geom_type == "MultiLineString":
        return geom  # type: ignore[return-value]
    raise InputError(f"{where}: is a {geom.geom_type}, not a line")


def metric_crs_for(gdf: gpd.GeoDataFrame, declared: str | None) -> CRS:
    """The region's metric CRS: the declared one, or the UTM zone of the data."""
    if declared:
        try:
            crs = CRS.from_user_input(declared)
        except CRSError as exc:
            raise InputError(f"metric CRS {declared!r} is not a CRS pyproj knows") from exc
        if crs.is_geographic:
            raise InputError(f"metric CRS {declared} is geographic; give a projected CRS in metres")
        return crs
    utm = gdf.estimate_utm_crs()
    if utm is None:  # pragma: no cover - only for empty frames
        raise InputError("cannot choose a metric CRS for an empty layer")
    return utm
