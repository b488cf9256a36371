"""Region definitions: which file holds which level of areas, the rivers, the stations, the
metric CRS and the recorded series. A new city needs a definition and data, not code."""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from floodwatch.core.errors import ConfigError, NotFoundError

BUNDLED_DIR = Path(__file__).resolve().parent / "regions"


class _Layer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    file: Path
    crs: str | None = None  # the file's CRS where it declares none (e.g. a shapefile without .prj)


class AreaLayer(_Layer):
    """One file of administrative areas at one level."""

    level: str = Field(min_length=1, max_length=32)
    code_field: str | None = None
    code: str | None = None  # a constant code, for a file with one feature and no code field
    name_field: str
    name: str | None = None  # a constant name overriding name_field
    population_field: str | None = None
    population_year: int | None = None
    population_source: str | None = None
    parent_level: str | None = None
    parent_field: str | None = None  # a field holding the parent's code
    parent_code: str | None = None  # or one parent for every area of the file
    valid_from: date | None = None
    valid_to: date | None = None

    @model_validator(mode="after")
    def _one_code(self) -> Self:
        if (self.code_field is None) == (self.code is None):
            raise ValueError(f"areas of level {self.level!r}: give exactly one of code_field, code")
        if self.parent_level and not (self.parent_field or self.parent_code):
            raise ValueError(f"areas of level {self.level!r}: parent_level needs parent_field or "
                             "parent_code")
        return self


class RiverLayer(_Layer):
    name_field: str
    rank_field: str | None = None


class StationLayer(_Layer):
    code_field: str
    name_field: str
    kind_field: str | None = None
    kind: str = "river_gauge"  # where the file has no kind field
    river_field: str | None = None
    alarm_fields: tuple[str, str, str] | None = None
    alarm_source_field: str | None = None
    datum_field: str | None = None
    source_field: str | None = None


class SeriesFile(_Layer):
    """A recorded series shipped with a region, and the column mapping that reads it."""

    mapping: str  # a mapping shipped with floodwatch (by name) or a TOML path


class TerrainRiver(BaseModel):
    """A gauged river whose water surface the flood model draws from its gauges."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    river: str  # its name in the rivers layer
    gauges: tuple[str, ...] = ()  # station codes; empty: the river gauges whose river is this one
    datum_offset_m: dict[str, float] = Field(default_factory=dict)  # gauge datum → DEM, default 0
    outlet: str | None = None  # None: sloped to the water level at its mouth; or the river it joins


class TerrainLayer(_Layer):
    """The DEM of the flood model, and the water it is seeded from."""

    approximate: bool = False  # synthesised terrain: every product built on it says so
    note: str | None = None
    water_level_m: float = 0.0  # sea / lagoon surface on the DEM's datum
    water_at_level: bool = False  # DEM cells at water_level_m (to 1 cm) are sea or lagoon
    water_files: tuple[Path, ...] = ()  # polygons of sea / lagoons / lakes at water_level_m
    channel_half_width_m: float = 0.0  # river channels: not counted as flooded land
    rivers: tuple[TerrainRiver, ...] = ()


class PopulationRaster(_Layer):
    """People per cell (any grid and CRS): people affected = the people on flooded cells."""

    year: int | None = None
    source: str | None = None


class PointLayer(_Layer):
    """Points of interest where each run reports the modelled depth (flood-prone streets…)."""

    name_field: str


class RegionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$", max_length=64)
    title: str
    title_en: str | None = None
    metric_crs: str | None = None  # None: the UTM zone of the areas' centroid
    timezone: str = "UTC"
    areas: tuple[AreaLayer, ...] = ()
    rivers: RiverLayer | None = None
    stations: StationLayer | None = None
    terrain: TerrainLayer | None = None
    points: PointLayer | None = None
    population_raster: PopulationRaster | None = None
    series: dict[str, tuple[SeriesFile, ...]] = Field(default_factory=dict)
    root: Path = Path(".")  # the folder relative paths are resolved against
    origin: str = ""  # where the definition came from, for `region show`

    def path(self, relative: Path) -> Path:
        return relative if relative.is_absolute() else self.root / relative


def find_series(name: str) -> tuple[RegionDefinition, tuple[SeriesFile, ...]]:
    """A recorded series of a bundled region, by its name (e.g. ``hue-2025-11``)."""
    for region in bundled_regions():
        definition = load_definition(region)
        if name in definition.series:
            return definition, definition.series[name]
    known = [s for r in bundled_regions() for s in load_definition(r).series]
    raise NotFoundError(f"no recorded series {name!r} (known: {', '.join(known) or 'none'})")


def bundled_regions() -> list[str]:
    return sorted(p.parent.name for p in BUNDLED_DIR.glob("*/region.toml"))


def load_definition(name_or_path: str) -> RegionDefinition:
    """A bundled region by name (``hue``) or a ``region.toml`` path of the user's."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or candidate.is_dir():
        path = candidate / "region.toml" if candidate.is_dir() else candidate
        if not path.is_file():
            raise NotFoundError(f"no region definition at {path}")
    else:
        path = BUNDLED_DIR / name_or_path / "region.toml"
        if not path.is_file():
            known = ", ".join(bundled_regions()) or "none"
            raise NotFoundError(
                f"unknown region {name_or_path!r} (bundled: {known}; or give a region.toml path)"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    try:
        return RegionDefinition(**data, root=path.parent, origin=str(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from exc
