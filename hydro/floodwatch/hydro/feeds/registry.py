"""The feed kinds floodwatch reads: an explicit table, not import side effects."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from floodwatch.core.errors import InputError
from floodwatch.hydro.feeds import (
    ea,
    sensorthings,
    tabular,
    usgs_nwis,
    usgs_waterdata,
    waterml2,
)
from floodwatch.hydro.feeds.base import Observation, StationInfo

Parser = Callable[[bytes], list[Observation]]


@dataclass(frozen=True)
class FeedKindSpec:
    kind: str
    description: str
    parse: Parser | None  # None: needs a mapping (csv/json)
    stations: Callable[[bytes], list[StationInfo]] | None = None
    next_link: Callable[[bytes], str | None] | None = None


KINDS: dict[str, FeedKindSpec] = {
    spec.kind: spec
    for spec in (
        FeedKindSpec("usgs-nwis", "USGS NWIS instantaneous/daily values (WaterML-JSON)",
                     usgs_nwis.parse, usgs_nwis.stations),
        FeedKindSpec("waterml2", "WaterML 2.0 time series (XML)", waterml2.parse_waterml2),
        FeedKindSpec("usgs-waterdata", "USGS Water Data OGC API features (GeoJSON, paged)",
                     usgs_waterdata.parse, None, usgs_waterdata.next_link),
        FeedKindSpec("ea", "UK Environment Agency flood-monitoring readings or measures",
                     ea.parse, ea.stations),
        FeedKindSpec("sensorthings", "OGC SensorThings Datastreams with Observations (paged)",
                     sensorthings.parse, None, sensorthings.next_link),
        FeedKindSpec("csv", "CSV with a column mapping (--mapping FILE)", None),
        FeedKindSpec("json", "JSON records with a column mapping (--mapping FILE)", None),
    )
}


def spec(kind: str) -> FeedKindSpec:
    try:
        return KINDS[kind]
    except KeyError:
        raise InputError(f"unknown feed kind {kind!r} (kinds: {', '.join(KINDS)})") from None


def parser(kind: str, mapping: Path | str | None = None) -> Parser:
    """The parse function of a kind; csv/json need a mapping (a TOML path or a shipped name)."""
    found = spec(kind)
    if found.parse is not None:
        if mapping is not None and kind not in ("csv", "json"):
            raise InputError(f"feed kind {kind} takes no mapping")
        return found.parse
    if mapping is None:
        raise InputError(f"feed kind {kind} needs a column mapping (--mapping FILE)")
    path = Path(mapping)
    table = (tabular.Mapping.from_toml(path) if path.suffix == ".toml" or path.exists()
             else tabular.Mapping.builtin(str(mapping)))
    if (kind == "csv" and table.format == "json") or (kind == "json" and table.format == "csv"):
        raise InputError(f"the mapping reads {table.format}, not {kind}")

    def _parse(payload: bytes) -> list[Observation]:
        return tabular.parse(payload, table)

    return _parse
