"""Settings of the hydro component: the feeds to pull and how the scheduler runs them.

Feeds live in the ``[hydro]`` table of the TOML file named by FLOODWATCH_CONFIG (or
``FLOODWATCH_FEEDS`` as a JSON list), never in code::

    [[hydro.feeds]]
    name = "ea-thames"
    kind = "ea"
    url = "https://environment.data.gov.uk/flood-monitoring/id/stations/1491TH/readings?_sorted"
    cadence_s = 900
    auth_env = "EA_TOKEN"          # optional: the variable holding a credential
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from floodwatch.core.settings import ComponentSettings

FeedKind = Literal[
    "usgs-nwis", "waterml2", "usgs-waterdata", "ea", "sensorthings", "csv", "json"
]


class FeedConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    kind: FeedKind
    url: str
    cadence_s: float = Field(900.0, gt=0)  # how often to pull, and the expected data cadence
    stations: tuple[str, ...] = ()  # keep only these station codes (empty: all the feed gives)
    mapping: Path | None = None  # csv/json: the column mapping (TOML)
    auth_env: str | None = None
    auth_header: str = "Authorization"
    auth_prefix: str = ""
    min_interval_s: float = Field(1.0, ge=0)
    timeout_s: float = Field(30.0, gt=0)
    max_attempts: int = Field(4, ge=1)
    max_pages: int = Field(50, ge=1)
    enabled: bool = True

    @model_validator(mode="after")
    def _mapping_for_tabular(self) -> FeedConfig:
        if self.kind in ("csv", "json") and self.mapping is None:
            raise ValueError(f"feed {self.name}: kind {self.kind} needs a mapping file")
        return self


class CycleSettings(BaseModel):
    """The model cycle (``[hydro.cycle]``): which regions, how often, and its parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    regions: tuple[str, ...] = ("hue",)
    interval_s: float = Field(900.0, gt=0)  # the scheduler runs the cycle this often
    stale_after_s: float = Field(3 * 3600.0, gt=0)  # an older gauge reading is left out
    min_depth_m: float = Field(0.05, ge=0)  # shallower cells are dry
    max_distance_m: float = Field(5000.0, gt=0)  # water spreads at most this far from a river
    depth_classes_m: tuple[float, ...] = (0.05, 0.5, 1.0, 2.0)  # extent polygons' classes
    gauge_site_radius_m: float = Field(300.0, gt=0)  # a gauge site's depth: deepest land nearby
    idw_k: int = Field(8, ge=1)
    idw_power: float = Field(2.0, ge=0)
    idw_radius_m: float | None = Field(30000.0, gt=0)
    rain_grid_dir: Path | None = None  # CF-NetCDF radar/satellite rainfall files (*.nc) to use
    resolution_m: float = Field(100.0, gt=0)  # the grid of a region without terrain
    keep_depth_rasters: bool = True  # write each run's depth as a GeoTIFF in the data dir


class HydroSettings(ComponentSettings):
    toml_section: ClassVar[str] = "hydro"

    feeds: list[FeedConfig] = Field(default_factory=list)
    misfire_grace_s: float = 120.0
    standby_poll_s: float = 10.0  # how often a standby scheduler tries to take over
    backoff_initial_s: float = 1.0
    cycle: CycleSettings = Field(default_factory=CycleSettings)

    def feed(self, name: str) -> FeedConfig:
        from floodwatch.core.errors import NotFoundError

        for feed in self.feeds:
            if feed.name == name:
                return feed
        known = ", ".join(f.name for f in self.feeds) or "none configured"
        raise NotFoundError(f"no feed named {name!r} (feeds: {known})")
