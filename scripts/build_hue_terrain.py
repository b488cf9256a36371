"""Build the approximate terrain of Huế, reproducibly, from open inputs only.

    .venv/bin/python scripts/build_hue_terrain.py [--resolution-m 50] [--out PATH]

No fine DEM of Huế can be had offline, so this synthesises a plausible one at 50 m (a COG in the
region's metric CRS) from the real files of ``regions/hue``: the GSHHG land mask and lagoons
(water at 0 m), a coastal plain rising with distance from the shore, ETOPO5 relief for the hills
(B-spline resampled, faded in above ``hill_onset_m``) and channels cut along the river lines.
Flood extents computed on it are illustrative only. Method and limits:
``terrain/hue_terrain_approx.md``. Deterministic: no randomness; same inputs, same array.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import rasterio
import shapely
from affine import Affine
from rasterio.features import rasterize
from rasterio.warp import Resampling, reproject
from scipy import ndimage

from floodwatch.core.errors import InputError
from floodwatch.gis_data.region import BUNDLED_DIR, load_definition
from floodwatch.gis_data.vectors import read_layer

HUE_DIR = BUNDLED_DIR / "hue"
OUT_NAME = "terrain/hue_terrain_approx.tif"
NODATA_M = -9999.0
TITLE = "Approximate terrain of Huế, synthesised from open coarse data"
WARNING = "approximate terrain: flood extents are illustrative"
SOURCE = (
    "ETOPO5 5 arc-min relief (NOAA NGDC); GSHHG 2.3.7 full-resolution land mask and lagoons "
    "(Wessel & Smith); Hương-Bồ river lines (VnExpress Spotlight); see SOURCES.md"
)
METHOD = (
    "sea and lagoons at 0 m; a plain rising with distance from their shore; ETOPO5 hills "
    "(B-spline resampled, faded in above hill_onset_m) blended in by a smooth maximum; channels "
    "and valleys cut along the river lines; details in hue_terrain_approx.md"
)
LICENCE = (
    "derived from ETOPO5 (public domain, US Government work) and GSHHG (LGPL-3.0-or-later, "
    "attribution: Wessel & Smith, GSHHG); river lines: VnExpress Spotlight, no licence stated"
)


@dataclass(frozen=True, slots=True)
class TerrainParams:
    """Every number of the method, in one place (recorded in the GeoTIFF tags)."""

    margin_m: float = 2_000.0  # around the region's bounding box
    water_level_m: float = 0.0  # sea and lagoon surface (mean sea level)
    shore_elevation_m: float = 1.0  # land at the shore of the sea or a lagoon
    plain_top_m: float = 6.0  # what the plain tends to far inland
    plain_scale_m: float = 12_000.0  # e-folding distance of the plain's rise from the shore
    hill_onset_m: float = 100.0  # smoothed ETOPO5 below this is plain, not hill …
    hill_full_m: float = 300.0  # … above this it is taken as it is
    blend_m: float = 2.0  # width of the smooth maximum of plain and hills
    channel_depth_m: float = 4.0  # river bed below the lowest land within bed_window_m
    bed_window_m: float = 1_500.0  # square window over which that lowest land is found
    channel_half_width_m: float = 75.0  # flat bed either side of the line
    bank_width_m: float = 100.0  # the banks rise over this distance
    valley_side_slope: float = 0.15  # beyond the banks, valley sides rise at most this steeply


# -- pure science: arrays in, arrays out -------------------------------------------------------


def smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def plain_elevation_m(distance_to_shore_m: np.ndarray, p: TerrainParams) -> np.ndarray:
    """The coastal plain: shore_elevation_m at the water, rising to plain_top_m inland."""
    rise = 1.0 - np.exp(-distance_to_shore_m / p.plain_scale_m)
    return p.shore_elevation_m + (p.plain_top_m - p.shore_elevation_m) * rise


def hill_elevation_m(relief_m: np.ndarray, p: TerrainParams) -> np.ndarray:
    """Coarse relief faded out below hill_onset_m, so 9 km cells do not smear hills onto the
    plain; monotonic, and equal to the relief above hill_full_m."""
    fade = smoothstep((relief_m - p.hill_onset_m) / (p.hill_full_m - p.hill_onset_m))
    return np.maximum(relief_m, 0.0) * fade


def smooth_max(a: np.ndarray, b: np.ndarray, width: float) -> np.ndarray:
    """max(a, b) with the corner rounded over ``width`` (a C1 blend)."""
    return 0.5 * (a + b + np.sqrt((a - b) ** 2 + width * width))


def river_bed_m(
    surface_m: np.ndarray, rivers_rc: list[np.ndarray], res_m: float, p: TerrainParams
) -> np.ndarray:
    """The bed elevation on river cells (NaN elsewhere): channel_depth_m below the lowest
    surface within bed_window_m, and never rising downstream (a line runs downstream from its
    higher end)."""
    size = max(3, round(p.bed_window_m / res_m) | 1)
    lowest = ndimage.minimum_filter(surface_m, size=size, mode="nearest")
    bed = np.full(surface_m.shape, np.inf)
    for rc in rivers_rc:
        profile = lowest[rc[:, 0], rc[:, 1]] - p.channel_depth_m
        if profile[0] < profile[-1]:
            rc, profile = rc[::-1], profile[::-1]
        np.minimum.at(bed, (rc[:, 0], rc[:, 1]), np.minimum.accumulate(profile))
    return np.where(np.isfinite(bed), bed, np.nan)


def carve_channels(
    surface_m: np.ndarray, bed_m: np.ndarray, land: np.ndarray, res_m: float, p: TerrainParams
) -> np.ndarray:
    """Cut the channels and their valleys into ``surface_m`` on land: flat bed, banks rising
    channel_depth_m, valley sides at valley_side_slope; never raises a cell."""
    river = np.isfinite(bed_m)
    if not river.any():
        return surface_m
    distance_m, (rows, cols) = ndimage.distance_transform_edt(
        ~river, sampling=res_m, return_indices=True
    )
    beyond_m = np.maximum(distance_m - p.channel_half_width_m, 0.0)
    cut = (
        bed_m[rows, cols]
        + p.channel_depth_m * smoothstep(beyond_m / p.bank_width_m)
        + p.valley_side_slope * beyond_m
    )
    return np.where(land, np.minimum(surface_m, cut), surface_m)


def terrain_m(
    land: np.ndarray,
    relief_m: np.ndarray,
    rivers_rc: list[np.ndarray],
    res_m: float,
    p: TerrainParams,
) -> np.ndarray:
    """The terrain (m above mean sea level) from a land mask, coarse relief and river cells."""
    distance_m = ndimage.distance_transform_edt(land, sampling=res_m)
    land_m = smooth_max(plain_elevation_m(distance_m, p), hill_elevation_m(relief_m, p), p.blend_m)
    surface = np.where(land, land_m, p.water_level_m)
    bed = river_bed_m(surface, rivers_rc, res_m, p)
    bed[~land] = np.nan
    return carve_channels(surface, bed, land, res_m, p).astype(np.float32)


# -- I/O at the edges ----------------------------------------------------------------------------


def _grid(region_dir: Path, crs: str, res_m: float, margin_m: float) -> tuple[Affine, int, int]:
    bounds = [
        read_layer(region_dir / name).to_crs(crs).total_bounds
        for name in ("admin/hue_wards_2025.geojson", "admin/hue_city_boundary_2025.geojson")
    ]
    west, south = (min(b[i] for b in bounds) - margin_m for i in (0, 1))
    east, north = (max(b[i] for b in bounds) + margin_m for i in (2, 3))
    west, south = (np.floor(v / res_m) * res_m for v in (west, south))
    east, north = (np.ceil(v / res_m) * res_m for v in (east, north))
    width, height = round((east - west) / res_m), round((north - south) / res_m)
    return Affine(res_m, 0.0, west, 0.0, -res_m, north), width, height


def _land_mask(
    region_dir: Path, crs: str, transform: Affine, shape: tuple[int, int], relief_m: np.ndarray
) -> np.ndarray:
    """GSHHG land minus the lagoons. The land file is clipped to a lon/lat box; outside it (and
    within two cells of its edge) land is where the coarse relief is above sea level."""
    land = read_layer(region_dir / "water/land_gshhg_f.geojson")
    box = gpd.GeoSeries([shapely.segmentize(shapely.box(*land.total_bounds), 0.01)], crs=4326)
    covered = box.to_crs(crs).buffer(-2.0 * abs(transform.a))
    lagoons = read_layer(region_dir / "water/lagoons_gshhg_f.geojson").to_crs(crs)

    def burn(geoms: gpd.GeoSeries) -> np.ndarray:
        pixels = rasterize(geoms, out_shape=shape, transform=transform, fill=0, dtype="uint8")
        return pixels > 0

    land_m = land.set_geometry(shapely.segmentize(land.geometry.values, 0.01)).to_crs(crs)
    mask = np.where(burn(covered), burn(land_m.geometry), relief_m > 0.0)
    return mask & ~burn(lagoons.geometry)


def _relief_m(region_dir: Path, crs: str, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    """ETOPO5 on the grid, B-spline resampled (an approximating kernel: smooth, no overshoot)."""
    out = np.zeros(shape, dtype=np.float32)
    with rasterio.open(region_dir / "terrain/etopo5_hue_5arcmin.tif") as src:
        reproject(
            source=src.read(1).astype(np.float32), destination=out, src_transform=src.transform,
            src_crs=src.crs, src_nodata=src.nodata, dst_transform=transform, dst_crs=crs,
            dst_nodata=np.nan, resampling=Resampling.cubic_spline,
        )  # fmt: skip
    if np.isnan(out).any():
        raise InputError("ETOPO5 does not cover the whole grid: widen the ETOPO5 extract")
    return out


def _rivers_rc(
    region_dir: Path, crs: str, transform: Affine, shape: tuple[int, int], res_m: float
) -> list[np.ndarray]:
    """Each river line as the (row, col) cells it passes through, in line order."""
    lines = read_layer(region_dir / "rivers/huong_bo_rivers.geojson").to_crs(crs)
    out = []
    for geom in lines.geometry:
        for part in getattr(geom, "geoms", [geom]):
            xy = shapely.get_coordinates(shapely.segmentize(part, res_m / 4.0))
            cols, rows = ~transform @ (xy[:, 0], xy[:, 1])
            rc = np.stack([np.floor(rows), np.floor(cols)], axis=1).astype(np.int64)
            ok = (rc[:, 0] >= 0) & (rc[:, 0] < shape[0]) & (rc[:, 1] >= 0) & (rc[:, 1] < shape[1])
            rc = rc[ok]
            keep = np.ones(len(rc), dtype=bool)
            keep[1:] = np.any(rc[1:] != rc[:-1], axis=1)
            if keep.sum() >= 2:
                out.append(rc[keep])
    return out


def build_terrain(region_dir: Path, out_path: Path, resolution_m: float = 50.0) -> np.ndarray:
    """Build the terrain of the region in ``region_dir`` into the COG ``out_path`` and its
    sidecar ``.md`` next to it; returns the array (m, float32)."""
    if not resolution_m > 0:
        raise InputError(f"resolution_m must be positive, got {resolution_m}")
    p = TerrainParams()
    crs = load_definition(str(region_dir)).metric_crs or "EPSG:32648"
    transform, width, height = _grid(region_dir, crs, resolution_m, p.margin_m)
    shape = (height, width)
    relief = _relief_m(region_dir, crs, transform, shape)
    land = _land_mask(region_dir, crs, transform, shape, relief)
    rivers = _rivers_rc(region_dir, crs, transform, shape, resolution_m)
    dem = np.round(terrain_m(land, relief, rivers, resolution_m, p), 2).astype(np.float32)
    _write_cog(dem, out_path, crs, transform, p, resolution_m)
    out_path.with_suffix(".md").write_text(
        _sidecar(dem, land, out_path, crs, resolution_m, p), encoding="utf-8"
    )
    return dem


def array_sha256(dem: np.ndarray) -> str:
    """The checksum of the array (little-endian float32, row-major) recorded in the tags."""
    return hashlib.sha256(np.ascontiguousarray(dem, dtype="<f4").tobytes()).hexdigest()


def _write_cog(
    dem: np.ndarray, out_path: Path, crs: str, transform: Affine, p: TerrainParams, res_m: float
) -> None:
    """Write the COG beside ``out_path`` and rename it into place (never a partial file)."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".part")
    profile = dict(
        driver="COG", width=dem.shape[1], height=dem.shape[0], count=1, dtype="float32",
        crs=crs, transform=transform, nodata=NODATA_M, compress="DEFLATE", predictor=3,
        level=9, blocksize=512, overview_resampling="average",
    )  # fmt: skip
    try:
        _write_tagged(tmp, dem, profile, p, res_m)
        tmp.replace(out_path)
    finally:
        tmp.unlink(missing_ok=True)


def _write_tagged(
    tmp: Path, dem: np.ndarray, profile: dict, p: TerrainParams, res_m: float
) -> None:
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(dem, 1)
        dst.update_tags(
            TIFFTAG_IMAGEDESCRIPTION=f"{TITLE}: {WARNING}",
            title=TITLE,
            warning=WARNING,
            source=SOURCE,
            method=METHOD,
            licence=LICENCE,
            units="m",
            vertical_datum="mean sea level (as ETOPO5); sea and lagoon surfaces at 0 m",
            resolution_m=f"{res_m:g}",
            params=";".join(f"{k}={v:g}" for k, v in asdict(p).items()),
            builder="scripts/build_hue_terrain.py (floodwatch)",
            array_sha256=array_sha256(dem),
        )
        dst.set_band_description(1, "elevation_m")
        dst.update_tags(1, units="m")


def _sidecar(
    dem: np.ndarray, land: np.ndarray, out_path: Path, crs: str, res_m: float, p: TerrainParams
) -> str:
    pct = np.percentile(dem[land], [0, 5, 50, 95, 100])
    rows = "\n".join(f"| `{k}` | {v:g} |" for k, v in asdict(p).items())
    return SIDECAR.format(
        name=out_path.name,
        crs=crs,
        res_m=f"{res_m:g}",
        width=dem.shape[1],
        height=dem.shape[0],
        size_mb=f"{out_path.stat().st_size / 1e6:.2f}",
        land_pct=f"{land.mean():.1%}",
        pct=" / ".join(f"{v:.1f}" for v in pct),
        sha=array_sha256(dem),
        params=rows,
        licence=LICENCE,
        warning=WARNING,
    )


SIDECAR = """\
# {name}: approximate terrain of Huế

**{warning}.**

No fine DEM of Huế can be had offline, so this raster is *synthesised* from coarse open data.
It is good for demonstrations, tests and the shape of a flood map; it is not a survey. For
real deployments fetch Copernicus GLO-30 (`floodwatch.gis_data.dem.fetch_dem`).

Written by `scripts/build_hue_terrain.py` (deterministic: no randomness; the same inputs give
the same array, checked by `tests/gis_data/test_terrain.py`). Do not edit by hand: rebuild.

| | |
|---|---|
| grid | {width} x {height} cells of {res_m} m, {crs}: the region's bounding box + margin |
| format | COG, float32 m (to 1 cm), DEFLATE + predictor 3, overviews; nodata -9999 (unused) |
| size | {size_mb} MB |
| land | {land_pct} of the cells |
| land elevation min / 5 % / median / 95 % / max | {pct} m |
| vertical datum | mean sea level (ETOPO5's); sea and lagoon surfaces at 0 m |
| array SHA-256 | `{sha}` (also in the GeoTIFF tag `array_sha256`) |

## Method

1. **Water.** Land is GSHHG 2.3.7 full-resolution level-1 land; the Tam Giang – Cầu Hai and
   Lập An lagoon polygons are cut out of it. Sea and lagoons are set to 0 m (their surface at
   mean sea level; no bathymetry). South of 16.0° N, where the land file is clipped, land is
   where ETOPO5 is above 0 m.
2. **Plain.** Land rises with the distance *d* from the nearest sea or lagoon cell:
   `shore + (top - shore) * (1 - exp(-d / scale))`, about 1 m at the shore, 2.5–3 m at Huế
   (~5 km from the water) and 4–5 m 15 km inland (Huế city stands a few metres above the
   sea; its streets flood when Kim Long passes BĐ II–III).
3. **Hills.** ETOPO5 (5 arc-min, ~9 km cells) is resampled with GDAL's cubic B-spline (smooth,
   no overshoot) and faded in between `hill_onset_m` and `hill_full_m` (below the onset it is
   plain), so 9 km cells do not smear hills over the plain. Plain and hills are joined by a
   smooth maximum.
4. **Rivers.** Along each river line the bed is `channel_depth_m` below the lowest land within
   a `bed_window_m` square and never rises downstream. The channel is flat for
   `channel_half_width_m` either side, its banks rise `channel_depth_m` over `bank_width_m`,
   and beyond them valley sides rise at most `valley_side_slope`; carving never raises land.

## Parameters

| parameter | value |
|---|---|
{params}

## Limits

- Hills are only where ETOPO5 puts them, blurred over ~9 km: ridges, passes and valleys other
  than the carved rivers are missing, and ETOPO5 puts hills too close to the coast in places
  (e.g. around Phú Bài, which is low-lying). Hải Vân and the Lăng Cô headlands are too low.
- The plain is a smooth function of distance from the water: no dunes on the barrier spit,
  no levees, roads, embankments, rice-field bunds or depressions; Huế's citadel, urban fill
  and the small hills in the city (Ngự Bình) are absent.
- Only the nine Hương–Bồ lines of `rivers/huong_bo_rivers.geojson` are cut (Ô Lâu and the
  canals are missing); channel widths and depths are uniform, not surveyed.
- Lagoon and sea are flat water surfaces at 0 m: tides, setup and lagoon bathymetry are absent.
- Flood extents and depths computed on this surface are **illustrative**.

## Licence

{licence}. Cite: Wessel, P. & Smith, W. H. F. (1996), *A global, self-consistent,
hierarchical, high-resolution shoreline database*, JGR 101(B4); NOAA NGDC (1988), *ETOPO5*.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--resolution-m", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=HUE_DIR / OUT_NAME)
    args = parser.parse_args()
    started = time.perf_counter()
    dem = build_terrain(HUE_DIR, args.out, args.resolution_m)
    took_s = time.perf_counter() - started
    size_mb = args.out.stat().st_size / 1e6
    print(
        f"wrote {args.out} ({dem.shape[1]}x{dem.shape[0]} cells, {size_mb:.2f} MB, "
        f"{took_s:.1f} s); elevation {dem.min():.2f}..{dem.max():.2f} m; "
        f"sha256 {array_sha256(dem)}"
    )


if __name__ == "__main__":
    main()
