"""Settings of the public map (``[web_map]`` in the FLOODWATCH_CONFIG file, or FLOODWATCH_…
variables). Read at the web app's entry point and passed on; the map builder takes values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar, Literal

from pydantic import Field

from floodwatch.core.errors import ConfigError
from floodwatch.core.settings import ComponentSettings


@dataclass(frozen=True)
class TileSetting:
    """An online tile layer under the map, only when configured (the default map needs no
    outside request). ``attribution`` is shown as plain text."""

    url: str  # e.g. https://tile.example.org/{z}/{x}/{y}.png
    attribution: str
    max_zoom: int = 19

    def __post_init__(self) -> None:
        if not self.url.startswith(("https://", "http://", "/")):
            raise ConfigError(f"tile url must be http(s) or a path on this server: {self.url!r}")
        if not all(k in self.url for k in ("{z}", "{x}", "{y}")):
            raise ConfigError(f"tile url needs {{z}}, {{x}} and {{y}}: {self.url!r}")
        if not self.attribution.strip():
            raise ConfigError("a tile layer needs its attribution (the provider's terms)")


class WebMapSettings(ComponentSettings):
    toml_section: ClassVar[str] = "web_map"

    region: str = "hue"
    language: Literal["vi", "en"] = "vi"  # the page's first language; the user can switch
    stale_after_h: float = Field(6.0, gt=0)  # a station older than this is greyed out
    asset_base: str = "/static/vendor"  # where the web app serves assets.VENDOR_DIR
    tiles: TileSetting | None = None

    @property
    def stale_after(self) -> timedelta:
        return timedelta(hours=self.stale_after_h)
