"""Colours of the public map. Risk levels use the official colours of Decision 18/2021/QĐ-TTg
(``warnings.model.RISK_COLOURS``, shared with the messages); everything else here is floodwatch's
own display choice, not an official scheme."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from floodwatch.warnings.model import RISK_COLOURS

__all__ = ["RISK_COLOURS"]

#: Gauge markers and hydrograph lines by BĐ status (0: below BĐ I). Yellow / orange / red is
#: how Vietnamese bulletins usually draw BĐ I / II / III; the hexes are floodwatch's.
BD_COLOURS: Mapping[int, str] = MappingProxyType(
    {0: "#1E88E5", 1: "#FBC02D", 2: "#FB8C00", 3: "#D32F2F"})
STALE_COLOUR = "#9E9E9E"
NO_BD_COLOUR = "#5E35B1"  # stations without BĐ levels (reservoirs, rain gauges): no status
LINE_COLOUR = "#1565C0"
WARD_OUTLINE = "#5f6b73"
RIVER_COLOUR = "#3d8fcc"
LAND_COLOUR = "#f3f1ea"  # the map's background: no tiles, the region's own outlines
RISK_FILL_OPACITY = 0.6
#: Flood extent by depth class, shallow to deep (ColorBrewer "Blues"); classes beyond the
#: palette take its deepest colour.
DEPTH_COLOURS = ("#c6dbef", "#6baed6", "#2171b5", "#08306b")
POINT_COLOUR = "#08306b"
#: 24-hour rainfall classes (lower bound in mm, colour). 50 and 100 mm/24 h are the Vietnamese
#: "heavy" and "very heavy" rain thresholds (DOMAIN.md); 200 mm is the upper band of the
#: flash-flood rules of Decision 18/2021.
RAIN_CLASSES: tuple[tuple[float, str], ...] = (
    (0.0, "#edf8e9"), (10.0, "#bae4b3"), (50.0, "#74c476"), (100.0, "#31a354"),
    (200.0, "#006d2c"))


def depth_colour(index: int) -> str:
    return DEPTH_COLOURS[min(index, len(DEPTH_COLOURS) - 1)]


def rain_colour(rain_mm: float) -> str:
    return next((c for low, c in reversed(RAIN_CLASSES) if rain_mm >= low), RAIN_CLASSES[0][1])
