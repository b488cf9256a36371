"""Users' own thresholds in the warnings step: which are assessed, under which key, with which
policy and evidence. The rules (``rules.user_threshold_condition``) and the lifecycle are the
same as for the public hazards; only the key, the policy and the audience differ.

Key: the state of threshold ``N`` lives in ``alert_states`` under the ward of its gauge with the
hazard ``user_threshold:N`` (``capdocs.hazard_of`` reads it back as ``user_threshold``). The
ward is the one whose polygon holds the gauge, else the gauge's first linked ward of the
ruleset; once a state exists it stays under its ward.

Audience: a threshold's transitions are personal. They are stored like the others (with their
reason and evidence) but get no CAP document and are not in the Atom index
(``pipeline.assess``), and the outbox sends them to the threshold's own subscription only,
whatever its wards and minimum level (``outbox.enqueue``). Public readers of the store (the
map, the feeds) leave them out with ``public_only``.

Which: the active thresholds of active subscriptions on the region's ruleset gauges; each is
evaluated against the gauge's newest usable reading, the one the river rules use. The state of
a threshold that is removed, or whose subscription is, is dropped without a message.

The checks of the management (``subscriptions.add_threshold``) live here too: which station
(by code or name), whether the warnings watch it, and the highest sane level there.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from sqlalchemy.orm import QueryableAttribute, Session

from floodwatch.core.errors import ConfigError, InputError, NotFoundError
from floodwatch.gis_data.models import Station
from floodwatch.gis_data.names import ascii_name
from floodwatch.warnings import inputs
from floodwatch.warnings.lifecycle import LifecyclePolicy
from floodwatch.warnings.model import Condition, UserThreshold
from floodwatch.warnings.ruleset import GaugeRule, Ruleset, load_ruleset
from floodwatch.warnings.tables import Subscription, UserThresholdRow

PREFIX = "user_threshold:"
HAZARD_MAX_CHARS = 32  # alert_states.hazard and alert_transitions.hazard


def hazard_key(threshold_id: int | str) -> str:
    """``user_threshold:<id>``, the hazard of a threshold's state and transitions."""
    key = f"{PREFIX}{threshold_id}"
    if len(key) > HAZARD_MAX_CHARS:
        raise ValueError(f"threshold id {threshold_id!r} is too long for a hazard key")
    return key


def is_personal(hazard: str) -> bool:
    return hazard.startswith(PREFIX)


def threshold_id_of(hazard: str) -> int | None:
    """The threshold id of a personal hazard key, None for any other hazard."""
    if not is_personal(hazard):
        return None
    try:
        return int(hazard[len(PREFIX):])
    except ValueError:
        return None


def public_only(hazard: sa.ColumnElement[str] | QueryableAttribute[str]
                ) -> sa.ColumnElement[bool]:
    """A filter on a hazard column that leaves out users' own thresholds (for public views)."""
    return sa.not_(hazard.like(f"{PREFIX}%"))


def policy_for(policy: LifecyclePolicy) -> LifecyclePolicy:
    """The lifecycle of a user's threshold: the region's policy, but it fires at once.

    A person who asks to be told when Kim Long reaches 2.50 m expects to hear it at the reading
    that reaches it, not a reading later; the public ``fire_after`` guards official warnings
    against a blip, and a threshold is a person's own choice, not a warning. Flapping stays
    quiet the other way: falling back waits ``hold_for`` before the "back below" message, and a
    return within it sends nothing. Staleness is the region's.
    """
    return replace(policy, fire_after=timedelta(0))


@dataclass(frozen=True)
class ActiveThreshold:
    """A threshold to assess, with the area its state is kept under."""

    id: int
    subscription_id: int
    station_code: str
    station_name: str
    level_m: float
    direction: Literal["above", "below"]
    label: str | None
    area_id: int

    @property
    def key(self) -> str:
        return hazard_key(self.id)

    @property
    def model(self) -> UserThreshold:
        return UserThreshold(self.station_code, self.level_m, self.direction, id=str(self.id))


def read_active(session: Session, region: str, ruleset: Ruleset,
                wards: Mapping[str, inputs.WardRow], states: Iterable[inputs.Key],
                notes: list[str]) -> dict[str, ActiveThreshold]:
    """The thresholds to assess in ``region`` by hazard key; one that cannot be assessed is
    left out with a note. ``states`` are the stored (area, hazard) keys: a threshold with a
    state keeps its area."""
    kept = {hazard: area_id for area_id, hazard in states if is_personal(hazard)}
    rows = session.execute(
        sa.select(UserThresholdRow, Station.code, Station.name, Station.geom)
        .join(Station, Station.id == UserThresholdRow.station_id)
        .join(Subscription, Subscription.id == UserThresholdRow.subscription_id)
        .where(Station.region == region, UserThresholdRow.active, Subscription.active)
        .order_by(UserThresholdRow.id)).all()
    homeless = [r for r in rows if hazard_key(r[0].id) not in kept]
    shapes = inputs.read_geometries(session, [w.id for w in wards.values()]) if homeless else {}
    out: dict[str, ActiveThreshold] = {}
    for row, code, name, geom in rows:
        if code not in ruleset.gauges:
            notes.append(f"user threshold {row.id}: station {code} is not a gauge of ruleset "
                         f"{ruleset.label}: not assessed")
            continue
        area_id = kept.get(hazard_key(row.id))
        if area_id is None:
            ward = _ward_of(None if geom is None else to_shape(geom), ruleset.wards_of(code),
                            wards, shapes)
            if ward is None:
                notes.append(f"user threshold {row.id}: no {region} ward holds or is linked "
                             f"to station {code}: not assessed")
                continue
            area_id = ward.id
        direction = cast(Literal["above", "below"], row.direction)
        out[hazard_key(row.id)] = ActiveThreshold(row.id, row.subscription_id, code, name,
                                                  row.level_m, direction, row.label, area_id)
    return out


def orphans(states: Iterable[inputs.Key], active: Mapping[str, ActiveThreshold]
            ) -> list[inputs.Key]:
    """Stored threshold states with no threshold to assess (removed, or its subscription is):
    dropped without a message."""
    return [key for key in states if is_personal(key[1]) and key[1] not in active]


def for_area(condition: Condition, active: Mapping[str, ActiveThreshold],
             areas: Mapping[int, inputs.WardRow]) -> tuple[inputs.Key, Condition] | None:
    """A threshold's condition (whose area is its station, see ``rules``) keyed and moved to
    the area its state is kept under; None if it is not a threshold being assessed."""
    threshold = active.get(hazard_key(condition.evidence.get("threshold_id", "")))
    if threshold is None:
        return None
    area = areas[threshold.area_id]
    return (area.id, threshold.key), replace(condition, area_code=area.code)


def evidence(threshold: ActiveThreshold, ruleset: Ruleset, gauges: inputs.GaugeInputs, *,
             at: datetime, condition: Condition | None) -> dict[str, Any]:
    """What a threshold's transition records besides the lifecycle's: the threshold, the gauge
    now (as ``gauges``, the shape the messages read; empty when it has no usable reading) and
    the inputs of the step."""
    code = threshold.station_code
    reading = gauges.used.get(code)
    rule = ruleset.gauges.get(code)
    items = [] if reading is None else [{
        "code": code, "name": threshold.station_name, "level_m": reading.level_m,
        "observed_at": reading.observed_at.isoformat(), "rate_m_per_h": reading.trend_m_per_h,
        "bd_m": list(rule.alarms_m) if rule is not None else [None, None, None]}]
    stale = {code: None if (t := gauges.stale[code]) is None else t.isoformat()
             } if code in gauges.stale else {}
    return {
        "threshold": {"id": threshold.id, "subscription_id": threshold.subscription_id,
                      "station_code": code, "station_name": threshold.station_name,
                      "threshold_m": threshold.level_m, "direction": threshold.direction,
                      "label": threshold.label},
        "gauges": items,
        "inputs": {"assessed_at": at.isoformat(), "run_id": None, "gauges": items,
                   "stale_gauges": stale,
                   "reasons": list(condition.reasons) if condition is not None else []},
    }


def _ward_of(point: Any, linked: Iterable[str], wards: Mapping[str, inputs.WardRow],
             shapes: Mapping[int, Any]) -> inputs.WardRow | None:
    if point is not None:
        for code in sorted(wards):
            shape = shapes.get(wards[code].id)
            if shape is not None and shape.covers(point):
                return wards[code]
    return next((wards[c] for c in linked if c in wards), None)


# -- for the management (subscriptions.py) -------------------------------------------------

def resolve_station(session: Session, token: str) -> Station:
    """A station by code, or by name (case and diacritics do not matter)."""
    token = token.strip()
    if not token:
        raise InputError("name a station (--station CODE or --station NAME)")
    stations = list(session.scalars(sa.select(Station).order_by(Station.code)))
    hits = ([s for s in stations if s.code == token]
            or [s for s in stations if _folded(s.name) == _folded(token)])
    if len(hits) > 1:
        listed = ", ".join(f"{s.name} ({s.code})" for s in hits)
        raise InputError(f"{token!r} fits several stations: {listed}; give the code")
    if hits:
        return hits[0]
    names = {_folded(s.name): s for s in stations}
    close = [names[k] for k in difflib.get_close_matches(_folded(token), list(names), n=3,
                                                         cutoff=0.6)]
    hint = " (close: " + ", ".join(f"{s.name} {s.code}" for s in close) + ")" if close else ""
    raise NotFoundError(f"no station {token!r}{hint}")


def sane_maximum(gauge: GaugeRule) -> tuple[float, str]:
    """The highest threshold that makes sense at a gauge, and why."""
    if gauge.historic_max_m is not None:
        return 2 * gauge.historic_max_m, (f"twice its historic maximum of "
                                          f"{gauge.historic_max_m:.2f} m")
    top = max((bd for bd in gauge.alarms_m if bd is not None), default=None)
    if top is None:
        raise InputError(f"{gauge.name} has no alarm levels or historic maximum to check a "
                         "threshold against")
    return 2 * top, f"twice its highest alarm level of {top:.2f} m"


def threshold_gauge(station: Station, ruleset: Ruleset | None = None) -> GaugeRule:
    """The ruleset gauge a threshold on ``station`` is assessed at (``ruleset`` by default the
    station region's); InputError for any other station."""
    if ruleset is None:
        try:
            ruleset = load_ruleset(station.region or "")
        except ConfigError:
            raise InputError(f"{station.name} ({station.code}) is in no region with warning "
                             "rules") from None
    gauge = ruleset.gauges.get(station.code)
    if gauge is None or ruleset.region != station.region:
        names = ", ".join(f"{g.name} ({g.code})" for g in ruleset.gauges.values())
        raise InputError(f"{station.name} ({station.code}) is not a river gauge the warnings "
                         f"watch; thresholds can be set on {names}")
    return gauge


def _folded(name: str) -> str:
    return " ".join(ascii_name(name).casefold().replace("-", " ").split())
