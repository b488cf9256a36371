"""The warning rules of a region as typed, validated data, read from ``rulesets/<name>.toml``.

Every number the rules use lives in the TOML file with a ``source`` that names an entry of its
``[sources]`` table; loading fails with a ConfigError if a threshold has no known source, if the
levels are out of order, or if a gauge links to no ward. Reading the file is the only I/O here.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from floodwatch.core.errors import ConfigError

RULESETS_DIR = Path(__file__).resolve().parent / "rulesets"

Alarms = tuple[float | None, float | None, float | None]  # BĐ I, II, III in metres; None = none


@dataclass(frozen=True)
class GaugeRule:
    code: str
    name: str
    river: str
    lon: float
    lat: float
    alarms_m: Alarms
    historic_max_m: float | None
    historic_max_year: int | None
    wards: tuple[str, ...]


@dataclass(frozen=True)
class Grade:
    """One row of a graded table: at or above ``min_value`` the condition has ``level``."""

    min_value: float
    level: int
    label: str = ""


@dataclass(frozen=True)
class FloodingGrade:
    level: int
    min_flooded_share: float
    min_max_depth_m: float


@dataclass(frozen=True)
class RiverFloodRule:
    bd3_plus_m: float
    rain_raise: tuple[Grade, ...]  # level here = how many levels the rain adds
    severe_flooded_share: float
    severe_max_depth_m: float
    flooding_raise: int
    max_raise: int
    max_level: int


@dataclass(frozen=True)
class Ruleset:
    name: str
    version: str
    region: str
    gauges: Mapping[str, GaugeRule]
    river_flood: RiverFloodRule
    rain: tuple[Grade, ...]
    ward_flooding: tuple[FloodingGrade, ...]
    people_affected: tuple[Grade, ...]
    rapid_rise_window: timedelta
    rapid_rise: tuple[Grade, ...]
    user_threshold_level: int
    links_buffer_m: float
    links_max_distance_m: float
    links_wards_file: str
    links_rivers_file: str

    @property
    def label(self) -> str:
        """``name@version``, written into every condition's evidence."""
        return f"{self.name}@{self.version}"

    def wards_of(self, station_code: str) -> tuple[str, ...]:
        gauge = self.gauges.get(station_code)
        return gauge.wards if gauge else ()


def load_ruleset(name_or_path: str | Path = "hue") -> Ruleset:
    """A bundled ruleset by name (``"hue"``) or a TOML file by path; read once per process
    while the file is unchanged (every assessment asks for it)."""
    path = Path(name_or_path)
    if path.suffix != ".toml":
        path = RULESETS_DIR / f"{name_or_path}.toml"
    try:
        changed = path.stat().st_mtime_ns
    except FileNotFoundError as exc:
        raise ConfigError(f"no ruleset file {path}") from exc
    return _read(path, changed)


@lru_cache(maxsize=8)
def _read(path: Path, changed: int) -> Ruleset:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no ruleset file {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"ruleset {path} is not valid TOML: {exc}") from exc
    try:
        return _parse(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"ruleset {path}: {exc}") from exc


def _parse(data: dict[str, Any]) -> Ruleset:
    sources: dict[str, str] = data["sources"]

    def sourced(table: dict[str, Any], where: str) -> dict[str, Any]:
        src = table.get("source")
        if src not in sources:
            raise ValueError(f"{where}: source {src!r} is not a key of [sources]")
        return table

    gauges = {g.code: g for g in (_gauge(sourced(t, "gauge"), sourced) for t in data["gauges"])}
    rf = sourced(data["river_flood"], "[river_flood]")
    raise_rain = [sourced(t, "[[river_flood.rain_raise]]") for t in rf["rain_raise"]]
    flooding = sourced(rf["flooding_raise"], "[river_flood.flooding_raise]")
    river_flood = RiverFloodRule(
        bd3_plus_m=float(rf["bd3_plus_m"]),
        rain_raise=_grades(raise_rain, "min_mm_24h", "raise_by", "river_flood.rain_raise"),
        severe_flooded_share=float(flooding["min_flooded_share"]),
        severe_max_depth_m=float(flooding["min_max_depth_m"]),
        flooding_raise=int(flooding["raise_by"]),
        max_raise=int(rf["max_raise"]),
        max_level=int(rf["max_level"]),
    )
    wf = data["ward_flooding"]
    ward_rows = [sourced(t, "[[ward_flooding.levels]]") for t in wf["levels"]]
    ward_flooding = tuple(
        FloodingGrade(int(t["level"]), float(t["min_flooded_share"]), float(t["min_max_depth_m"]))
        for t in ward_rows
    )
    _ascending([g.level for g in ward_flooding], "ward_flooding.levels")
    if not all(1 <= g.level <= 5 for g in ward_flooding):
        raise ValueError("ward_flooding.levels: levels must be within 1–5")
    people = [sourced(t, "[[ward_flooding.people]]") for t in wf["people"]]
    rise = data["rapid_rise"]
    rise_rows = [sourced(t, "[[rapid_rise.levels]]") for t in rise["levels"]]
    rain = [sourced(t, "[[rain.levels]]") for t in data["rain"]["levels"]]
    links = sourced(data["links"], "[links]")
    return Ruleset(
        name=str(data["name"]),
        version=str(data["version"]),
        region=str(data["region"]),
        gauges=gauges,
        river_flood=river_flood,
        rain=_grades(rain, "min_mm_24h", "level", "rain.levels"),
        ward_flooding=ward_flooding,
        people_affected=_grades(people, "min_people", "level", "ward_flooding.people"),
        rapid_rise_window=timedelta(hours=float(rise["window_h"])),
        rapid_rise=_grades(rise_rows, "min_rate_m_per_h", "level", "rapid_rise.levels"),
        user_threshold_level=int(sourced(data["user_threshold"], "[user_threshold]")["level"]),
        links_buffer_m=float(links["buffer_m"]),
        links_max_distance_m=float(links["max_distance_m"]),
        links_wards_file=str(links["wards_file"]),
        links_rivers_file=str(links["rivers_file"]),
    )


def _gauge(t: dict[str, Any], sourced: Any) -> GaugeRule:
    code = str(t["code"])
    alarms = sourced(t["alarms_m"], f"gauge {code} alarms_m")
    values = (alarms.get("bd1"), alarms.get("bd2"), alarms.get("bd3"))
    present = [float(v) for v in values if v is not None]
    if present != sorted(set(present)):
        raise ValueError(f"gauge {code}: BĐ levels must rise from I to III, got {values}")
    hist = t.get("historic_max")
    if hist is not None:
        sourced(hist, f"gauge {code} historic_max")
    wards = tuple(str(w) for w in t["wards"])
    if not wards:
        raise ValueError(f"gauge {code} links to no ward")
    return GaugeRule(
        code=code,
        name=str(t["name"]),
        river=str(t["river"]),
        lon=float(t["lon"]),
        lat=float(t["lat"]),
        alarms_m=tuple(None if v is None else float(v) for v in values),  # type: ignore[arg-type]
        historic_max_m=None if hist is None else float(hist["level_m"]),
        historic_max_year=None if hist is None else int(hist["year"]),
        wards=wards,
    )


def _grades(rows: list[dict[str, Any]], key: str, level_key: str, where: str) -> tuple[Grade, ...]:
    grades = tuple(
        Grade(float(r[key]), int(r[level_key]), str(r.get("label", ""))) for r in rows
    )
    _ascending([g.min_value for g in grades], where)
    _ascending([g.level for g in grades], where)
    if not all(1 <= g.level <= 5 for g in grades):
        raise ValueError(f"{where}: levels must be within 1–5")
    return grades


def _ascending(values: list[Any], where: str) -> None:
    if not values or values != sorted(values) or len(set(values)) != len(values):
        raise ValueError(f"{where} must be a non-empty list in strictly increasing order")
