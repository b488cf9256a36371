"""The one small interface every feed adapter implements.

An adapter turns a source's response (bytes) into normalised observations:
station, parameter, observed time in UTC, value in SI units, quality flags, source.
Transport (HTTP), parsing (the source's format) and harmonising (units, time zone, missing
values, qualifiers) are separate steps; "no data" is explicit (``value=None`` + ``Flag.MISSING``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


class Parameter(enum.StrEnum):
    WATER_LEVEL = "water_level"  # m
    DISCHARGE = "discharge"  # m3/s
    RAINFALL = "rainfall"  # mm over the reading's interval
    RESERVOIR_LEVEL = "reservoir_level"  # m
    RESERVOIR_INFLOW = "reservoir_inflow"  # m3/s
    RESERVOIR_OUTFLOW = "reservoir_outflow"  # m3/s
    WATER_DEPTH = "water_depth"  # m, a depth sensor in the street


#: The SI unit floodwatch stores for each parameter.
SI_UNIT: dict[Parameter, str] = {
    Parameter.WATER_LEVEL: "m",
    Parameter.DISCHARGE: "m3/s",
    Parameter.RAINFALL: "mm",
    Parameter.RESERVOIR_LEVEL: "m",
    Parameter.RESERVOIR_INFLOW: "m3/s",
    Parameter.RESERVOIR_OUTFLOW: "m3/s",
    Parameter.WATER_DEPTH: "m",
}


class Flag(enum.StrEnum):
    """Quality flags. A reading is never deleted; it carries flags instead."""

    MISSING = "missing"  # the source marked the value missing (e.g. -999999)
    OUT_OF_RANGE = "out_of_range"  # physically implausible
    SPIKE = "spike"  # rate of change too high
    FLAT_LINE = "flat_line"  # the same value for too long
    DUPLICATE = "duplicate"  # same station, parameter and time seen twice in a batch
    OUT_OF_ORDER = "out_of_order"  # older than a reading already received
    PROVISIONAL = "provisional"  # the source says provisional (USGS "P")
    ESTIMATED = "estimated"  # the source says estimated (USGS "e")
    SUSPECT = "suspect"  # the source qualifies it otherwise (ice, equipment malfunction …)
    STALE = "stale"  # the station sent nothing new for longer than its cadence allows


#: Flags that come from the source itself and do not stop a value being used for alerts.
#: Between the flags of a stored reading ("provisional|spike").
FLAG_SEPARATOR = "|"
INFORMATIVE_FLAGS = frozenset({Flag.PROVISIONAL, Flag.ESTIMATED})


@dataclass(frozen=True, slots=True)
class Observation:
    """One normalised reading, as every adapter returns it."""

    station: str  # the source's station code, e.g. "71518", "03213700", "690140"
    parameter: Parameter
    observed_at: datetime  # timezone-aware, UTC
    value: float | None  # SI units (see SI_UNIT); None where the source marks it missing
    unit: str
    source: str  # feed kind or name, e.g. "usgs-nwis"
    flags: frozenset[Flag] = field(default_factory=frozenset)
    qualifiers: tuple[str, ...] = ()  # the source's own qualifier codes, kept for provenance

    def with_flags(self, *extra: Flag) -> Observation:
        return Observation(
            self.station, self.parameter, self.observed_at, self.value, self.unit, self.source,
            self.flags | frozenset(extra), self.qualifiers,
        )

    @property
    def flags_text(self) -> str:
        """Flags as stored and printed: sorted, separated by ``|``."""
        return FLAG_SEPARATOR.join(sorted(self.flags))


@dataclass(frozen=True, slots=True)
class StationInfo:
    """What a source says about a station (for registering stations it reports)."""

    code: str
    name: str
    lon: float | None = None
    lat: float | None = None
    river: str | None = None
    kind: str = "river_gauge"
    source: str = ""


class FeedParser(Protocol):
    """Parse one saved or fetched response into observations (pure: no I/O, no clock)."""

    def __call__(self, payload: bytes) -> Iterable[Observation]: ...
