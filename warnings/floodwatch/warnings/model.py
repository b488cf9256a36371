"""Shared types of the warnings component: hazards, inputs, conditions, risk-level colours."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from floodwatch.core.errors import InputError


class Hazard(StrEnum):
    RIVER_FLOOD = "river_flood"
    HEAVY_RAIN = "heavy_rain"
    WARD_FLOODING = "ward_flooding"
    RAPID_RISE = "rapid_rise"
    USER_THRESHOLD = "user_threshold"


@dataclass(frozen=True)
class Condition:
    """A hazard in force in an area at one evaluation time, with why.

    ``area_code`` is the ward's ``gso_code_2025`` (for a user threshold: the station code, the
    threshold's id is in ``evidence["threshold_id"]``). ``level`` is on the 1–5 scale of
    Decision 18/2021 (an official risk level only for ``river_flood``; for the other hazards a
    graded severity on the same scale, see rules.py). ``evidence`` holds the values and
    thresholds that decided, JSON-serialisable. ``inputs_newest_at`` is the time of the newest
    input that decided; the lifecycle expires alerts whose inputs grow stale. ``stage`` is a
    finer grade within a level (for river floods the BĐ status: level 2 spans BĐ II to
    BĐ III + 1 m, and officials are told when a gauge passes BĐ III).
    """

    area_code: str
    hazard: Hazard
    level: int
    as_of: datetime
    reasons: tuple[str, ...]
    evidence: Mapping[str, Any] = field(hash=False)
    inputs_newest_at: datetime
    stage: int = 0  # river flood: the highest BĐ status (0–3) of the gauges; 0 for the others

    def __post_init__(self) -> None:
        if not 1 <= self.level <= 5:
            raise InputError(f"condition level must be 1–5, got {self.level}")
        for name in ("as_of", "inputs_newest_at"):
            if getattr(self, name).tzinfo is None:
                raise InputError(f"condition {name} must be timezone-aware")
        if not self.reasons:
            raise InputError("a condition needs at least one reason")
        try:
            json.dumps(self.evidence, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InputError(f"condition evidence is not JSON-serialisable: {exc}") from exc
        object.__setattr__(self, "hazard", Hazard(self.hazard))
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "evidence", dict(self.evidence))


@dataclass(frozen=True)
class GaugeReading:
    """The latest reading of a gauge; ``trend_m_per_h`` is the rate of change over the
    ruleset's rapid-rise window (see ``rules.rate_of_rise_m_per_h``), None if unknown."""

    station_code: str
    level_m: float
    observed_at: datetime
    trend_m_per_h: float | None = None


@dataclass(frozen=True)
class WardFloodStats:
    """Modelled flooding of one ward: share of its area flooded (0–1), deepest water, people."""

    flooded_share: float
    max_depth_m: float
    people_affected: int
    as_of: datetime


@dataclass(frozen=True)
class UserThreshold:
    """A person's own level on a gauge. "above" is in force at or above ``level_m``, "below"
    strictly below it, so an up-crossing starts the first and a down-crossing the second."""

    station_code: str
    level_m: float
    direction: Literal["above", "below"] = "above"
    id: str = ""

    def __post_init__(self) -> None:
        if self.direction not in ("above", "below"):
            raise InputError(f"threshold direction must be 'above' or 'below', "
                             f"got {self.direction!r}")
        if not math.isfinite(self.level_m):
            raise InputError(f"threshold level must be a finite number, got {self.level_m}")
        if not self.id:
            object.__setattr__(self, "id",
                               f"{self.station_code}:{self.direction}:{self.level_m:g}")


@dataclass(frozen=True)
class Crossing:
    """A gauge passing a level between two readings: "up" (from below to at/above) or "down"."""

    at: datetime
    direction: Literal["up", "down"]
    from_m: float
    to_m: float


@dataclass(frozen=True)
class RiskColour:
    level: int
    hex: str
    name_vi: str
    name_en: str
    risk_vi: str
    risk_en: str


# Decision 18/2021/QĐ-TTg, Article 4(3) and Appendix XII name the colours; the decision gives no
# hex codes, so these hex values are floodwatch's approximations of the named colours.
RISK_COLOURS: Mapping[int, RiskColour] = MappingProxyType({
    1: RiskColour(1, "#9FD5F5", "xanh dương nhạt", "light blue", "rủi ro thấp", "low"),
    2: RiskColour(2, "#FFF59D", "vàng nhạt", "light yellow", "rủi ro trung bình", "moderate"),
    3: RiskColour(3, "#FF9800", "da cam", "orange", "rủi ro lớn", "high"),
    4: RiskColour(4, "#E53935", "đỏ", "red", "rủi ro rất lớn", "very high"),
    5: RiskColour(5, "#8E24AA", "tím", "purple", "rủi ro ở mức thảm họa", "disaster"),
})
