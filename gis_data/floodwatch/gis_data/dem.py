"""Copernicus DEM GLO-30 for a bounding box: download the 1° tiles, mosaic, clip, (reproject),
write one Cloud-Optimised GeoTIFF with its attribution, and a JSON sidecar.

The tiles are the public cloud-optimised GeoTIFFs of the AWS open-data bucket
(``Copernicus_DSM_COG_10_N16_00_E107_00_DEM/Copernicus_DSM_COG_10_N16_00_E107_00_DEM.tif``).
Ocean tiles do not exist: a 404 means "no land there" and its cells are set to sea level
(``SEA_LEVEL_M``, as the provider advises), unless every tile is missing, which is an error.
Downloads go to a temporary folder; the outputs are written beside ``out_path`` under another
name and renamed into place, so a failed fetch never leaves a partial file.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS
from pyproj.exceptions import CRSError
from rasterio.errors import RasterioIOError
from rasterio.features import geometry_mask
from rasterio.merge import merge
from rasterio.transform import array_bounds
from rasterio.warp import Resampling, calculate_default_transform, reproject
from shapely.geometry import box

from floodwatch.core.errors import InputError
from floodwatch.hydro.transport import FeedClient, FeedError, TransportOptions

COPERNICUS_BASE_URL = "https://copernicus-dem-30m.s3.amazonaws.com"
PRODUCT = (
    "Copernicus DEM GLO-30 (COP-DEM-GLO-30-F, 2021 release), 1 arc-second digital surface model"
)
#: Licence article 6(a) notice; the outputs are always adapted (mosaicked, clipped), so the
#: 6(b) notice below (which contains it) is the one recorded as ``attribution``.
NOTICE = (
    "© DLR e.V. 2010-2014 and © Airbus Defence and Space GmbH 2014-2018 provided under "
    "COPERNICUS by the European Union and ESA; all rights reserved"
)
ATTRIBUTION = f"produced using Copernicus WorldDEM-30 {NOTICE}"
LIABILITY_NOTICE = (
    "The organisations in charge of the Copernicus programme by law or by delegation do not "
    "incur any liability for any use of the Copernicus WorldDEM-30"
)
LICENCE = (
    "Licence for Copernicus DEM instance COP-DEM-GLO-30-F (free of charge, worldwide; "
    "notices of its article 6 apply): https://spacedata.copernicus.eu/"
)
VERTICAL_DATUM = "EGM2008 geoid (EPSG:3855), metres"
SEA_LEVEL_M = 0.0  # the value of cells in missing (ocean) tiles
NODATA = -32767.0
COG_PROFILE: dict[str, Any] = {
    "driver": "COG", "count": 1, "dtype": "float32", "nodata": NODATA, "compress": "DEFLATE",
    "predictor": 3, "blocksize": 512, "overview_resampling": "average",
}  # fmt: skip
DEFAULT_OPTIONS = TransportOptions(read_timeout_s=60.0, max_body_bytes=256 * 1024 * 1024)


@dataclass(frozen=True, slots=True)
class DemInfo:
    """What :func:`fetch_dem` wrote."""

    path: Path
    sidecar_path: Path
    tiles_used: tuple[str, ...]
    tiles_missing: tuple[str, ...]  # 404: no land there, filled with SEA_LEVEL_M
    crs: str
    resolution: tuple[float, float]  # cell size (x, y) in the units of ``crs``
    bounds: tuple[float, float, float, float]  # of the output, in ``crs``
    attribution: str = ATTRIBUTION


# -- tiles -------------------------------------------------------------------------------------


def tile_name(lat_deg: int, lon_deg: int) -> str:
    """The bucket's name of the tile whose lower-left corner is (lat_deg, lon_deg)."""
    ns = "N" if lat_deg >= 0 else "S"
    ew = "E" if lon_deg >= 0 else "W"
    return f"Copernicus_DSM_COG_10_{ns}{abs(lat_deg):02d}_00_{ew}{abs(lon_deg):03d}_00_DEM"


def _check_bounds(bounds_lonlat: tuple[float, float, float, float]) -> None:
    if len(bounds_lonlat) != 4 or not all(math.isfinite(float(v)) for v in bounds_lonlat):
        raise InputError(f"bounds must be (west, south, east, north) in degrees: {bounds_lonlat}")
    west, south, east, north = bounds_lonlat
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise InputError(
            f"bounds {bounds_lonlat} are not (west, south, east, north) longitude/latitude with "
            "west < east and south < north (boxes across the antimeridian are not supported)"
        )


def _tile_corners(bounds_lonlat: tuple[float, float, float, float]) -> list[tuple[int, int]]:
    _check_bounds(bounds_lonlat)
    west, south, east, north = bounds_lonlat
    lats = range(math.floor(south), max(math.ceil(north), math.floor(south) + 1))
    lons = range(math.floor(west), max(math.ceil(east), math.floor(west) + 1))
    return [(lat, lon) for lat in reversed(lats) for lon in lons if lat < 90 and lon < 180]


def tile_names(bounds_lonlat: tuple[float, float, float, float]) -> list[str]:
    """The GLO-30 tiles covering (west, south, east, north), north to south, west to east."""
    return [tile_name(lat, lon) for lat, lon in _tile_corners(bounds_lonlat)]


def tile_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/{name}/{name}.tif"


def _download(
    client: FeedClient, base_url: str, names: list[str], folder: Path
) -> tuple[list[Path], list[str]]:
    """Each tile into ``folder``; returns the files and the names that do not exist (404)."""
    paths: list[Path] = []
    missing: list[str] = []
    for name in names:
        url = tile_url(base_url, name)
        try:
            body = client.fetch(url).body
        except FeedError as exc:
            if exc.status == 404:
                missing.append(name)
                continue
            raise
        path = folder / f"{name}.tif"
        path.write_bytes(body)
        try:
            with rasterio.open(path) as src:
                src.profile  # noqa: B018 - opening and reading the header is the check
        except RasterioIOError as exc:
            raise FeedError(
                f"{client.name}: {url} did not return a GeoTIFF ({len(body)} bytes)",
                url=url,
                status=200,
                reason="not a GeoTIFF",
            ) from exc
        paths.append(path)
    return paths, missing


# -- raster steps ------------------------------------------------------------------------------


def _snap(bounds: tuple[float, ...], transform: Affine) -> tuple[float, float, float, float]:
    """``bounds`` grown outwards to whole cells of the tiles' grid (no resampling in the clip)."""
    west, south, east, north = bounds
    x0, y0, dx, dy, eps = transform.c, transform.f, transform.a, -transform.e, 1e-6
    return (
        x0 + math.floor((west - x0) / dx + eps) * dx,
        y0 - math.ceil((y0 - south) / dy - eps) * dy,
        x0 + math.ceil((east - x0) / dx - eps) * dx,
        y0 - math.floor((y0 - north) / dy + eps) * dy,
    )


def _mosaic(
    paths: list[Path], missing: list[str], bounds_lonlat: tuple[float, float, float, float]
) -> tuple[np.ndarray, Affine, CRS]:
    with ExitStack() as stack:
        sources = [stack.enter_context(rasterio.open(p)) for p in paths]
        finest = min(sources, key=lambda s: s.res[0])
        clip = _snap(bounds_lonlat, finest.transform)
        array, transform = merge(
            sources, bounds=clip, res=finest.res, nodata=NODATA, dtype="float32",
            resampling=Resampling.nearest,
        )  # fmt: skip
        crs = CRS.from_user_input(finest.crs)
    dem = array[0]
    names = dict(zip(tile_names(bounds_lonlat), _tile_corners(bounds_lonlat), strict=True))
    boxes = [box(names[n][1], names[n][0], names[n][1] + 1, names[n][0] + 1) for n in missing]
    if boxes:
        sea = geometry_mask(boxes, out_shape=dem.shape, transform=transform, invert=True)
        dem[sea & (dem == NODATA)] = SEA_LEVEL_M
    return dem, transform, crs


def _reproject(
    dem: np.ndarray, transform: Affine, crs: CRS, target: CRS, resolution_m: float | None
) -> tuple[np.ndarray, Affine]:
    height, width = dem.shape
    west, south, east, north = array_bounds(height, width, transform)
    dst_transform, dst_width, dst_height = calculate_default_transform(
        crs, target, width, height, west, south, east, north, resolution=resolution_m
    )
    out = np.full((dst_height, dst_width), NODATA, dtype=np.float32)
    reproject(
        dem, out, src_transform=transform, src_crs=crs, src_nodata=NODATA,
        dst_transform=dst_transform, dst_crs=target, dst_nodata=NODATA,
        resampling=Resampling.bilinear,
    )  # fmt: skip
    return out, dst_transform


def _target_crs(target_crs: str | None, resolution_m: float | None) -> CRS | None:
    if resolution_m is not None and not resolution_m > 0:
        raise InputError(f"resolution_m must be positive, got {resolution_m}")
    if target_crs is None:
        if resolution_m is not None:
            raise InputError("resolution_m needs a metric target_crs (e.g. EPSG:32648)")
        return None
    try:
        target = CRS.from_user_input(target_crs)
    except CRSError as exc:
        raise InputError(f"target_crs {target_crs!r} is not a CRS pyproj knows") from exc
    if resolution_m is not None and target.is_geographic:
        raise InputError(f"resolution_m is in metres but target_crs {target_crs} is geographic")
    return target


# -- output ------------------------------------------------------------------------------------


def _write_cog(path: Path, dem: np.ndarray, transform: Affine, crs: CRS, tags: dict) -> None:
    height, width = dem.shape
    with rasterio.open(
        path, "w", **COG_PROFILE, width=width, height=height, crs=crs, transform=transform
    ) as dst:
        dst.write(dem, 1)
        dst.update_tags(**{k: str(v) for k, v in tags.items()})
        dst.set_band_description(1, "elevation_m")
        dst.update_tags(1, units="m")


def _write_outputs(
    out_path: Path, dem: np.ndarray, transform: Affine, crs: CRS, record: dict[str, Any]
) -> Path:
    """The COG and its JSON sidecar, each written under a temporary name beside it and then
    renamed into place; on any failure neither is left behind. Returns the sidecar's path."""
    sidecar = out_path.with_suffix(".json")
    tags = {k: ";".join(v) if k.startswith("tiles") else v for k, v in record.items()}
    text = json.dumps({**record, "path": out_path.name}, indent=2, ensure_ascii=False) + "\n"
    temps: list[Path] = []
    try:
        for target in (out_path, sidecar):
            fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            temps.append(Path(name))
        _write_cog(temps[0], dem, transform, crs, tags)
        temps[1].write_text(text, encoding="utf-8")
        os.replace(temps[0], out_path)
        os.replace(temps[1], sidecar)
    finally:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
    return sidecar


def fetch_dem(
    bounds_lonlat: tuple[float, float, float, float],
    out_path: Path,
    *,
    base_url: str = COPERNICUS_BASE_URL,
    client: FeedClient | None = None,
    target_crs: str | None = None,
    resolution_m: float | None = None,
) -> DemInfo:
    """Download, mosaic and clip GLO-30 to (west, south, east, north) degrees into the COG
    ``out_path`` (reprojected to ``target_crs`` at ``resolution_m`` if given), with a JSON
    sidecar ``out_path.with_suffix('.json')``. HTTP failures are a ``FeedError``."""
    out_path = Path(out_path)
    if out_path.suffix.lower() == ".json":
        raise InputError(f"{out_path}: the DEM goes to a .tif; its sidecar gets the .json name")
    names = tile_names(bounds_lonlat)
    target = _target_crs(target_crs, resolution_m)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if client is None:
            client = stack.enter_context(FeedClient(DEFAULT_OPTIONS, name="copernicus-dem"))
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="floodwatch-dem-")))
        paths, missing = _download(client, base_url, names, folder)
        if not paths:
            raise FeedError(
                f"{client.name}: none of the {len(names)} GLO-30 tiles covering {bounds_lonlat} "
                f"exists at {base_url} (all 404): open sea, or a wrong base_url",
                url=tile_url(base_url, names[0]),
                status=404,
                reason="no tiles",
            )
        dem, transform, crs = _mosaic(paths, missing, bounds_lonlat)
    if target is not None:
        dem, transform = _reproject(dem, transform, crs, target, resolution_m)
        crs = target
    west, south, east, north = array_bounds(*dem.shape, transform)
    crs_text = crs.to_string()
    record = {
        "product": PRODUCT,
        "source": base_url,
        "tiles_used": [p.stem for p in paths],
        "tiles_missing": missing,
        "missing_policy": f"missing (ocean) tiles filled with {SEA_LEVEL_M:g} m",
        "bounds_lonlat": list(bounds_lonlat),
        "crs": crs_text,
        "resolution": [abs(transform.a), abs(transform.e)],
        "bounds": [west, south, east, north],
        "units": "m",
        "nodata": NODATA,
        "vertical_datum": VERTICAL_DATUM,
        "attribution": ATTRIBUTION,
        "liability_notice": LIABILITY_NOTICE,
        "licence": LICENCE,
        "fetched_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    sidecar = _write_outputs(out_path, dem, transform, crs, record)
    return DemInfo(
        path=out_path,
        sidecar_path=sidecar,
        tiles_used=tuple(p.stem for p in paths),
        tiles_missing=tuple(missing),
        crs=crs_text,
        resolution=(abs(transform.a), abs(transform.e)),
        bounds=(west, south, east, north),
    )
