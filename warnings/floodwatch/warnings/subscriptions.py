"""Subscriptions: who gets alerts for which wards, from which risk level, how, in which language.

Wards are named by official code or by name (case, diacritics and a "Phường"/"Xã" prefix do not
matter: "kim long", "Phuong Kim Long" and "19774" are one ward). Every input is checked before
anything is stored. One address per channel (e-mail addresses regardless of case): adding it
again while active is refused; adding an address that was removed brings its subscription back
with the new choices. Removing keeps the
subscription (inactive) with its delivery history; ``purge`` deletes both.

A subscription may also have its own thresholds on the river gauges the warnings watch ("tell
me when Kim Long reaches 2.50 m", see ``user_thresholds.py``): a station by code or name, a
level from 0 m to twice the gauge's historic maximum (twice its highest alarm level when the
maximum is unknown). They count while the subscription is active; removing one keeps it
(inactive), ends its alert without a message and drops its undelivered notifications.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.models import Area, Region, Station
from floodwatch.gis_data.names import ascii_name
from floodwatch.warnings.channels import validate_address
from floodwatch.warnings.ruleset import Ruleset
from floodwatch.warnings.tables import (
    AlertStateRow,
    AlertTransition,
    Notification,
    Subscription,
    SubscriptionArea,
    UserThresholdRow,
)
from floodwatch.warnings.texts import LANGUAGES
from floodwatch.warnings.user_thresholds import (
    hazard_key,
    resolve_station,
    sane_maximum,
    threshold_gauge,
)

NAME_PREFIXES = ("phuong ", "xa ", "thi tran ", "ward ", "commune ")
DIRECTIONS = ("above", "below")
MAX_THRESHOLDS = 10  # active thresholds per subscription


@dataclass(frozen=True)
class SubscriptionView:
    id: int
    channel: str
    address: str
    language: str
    min_level: int
    label: str | None
    active: bool
    created_at: datetime
    areas: tuple[tuple[str, str], ...]  # (code, name), sorted by code


@dataclass(frozen=True)
class ThresholdView:
    id: int
    subscription_id: int
    station_code: str
    station_name: str
    level_m: float
    direction: str
    label: str | None
    active: bool
    created_at: datetime


def add_subscription(
    session: Session, *, region: str, wards: Sequence[str], channel: str, address: str,
    language: str = "vi", min_level: int = 1, label: str | None = None, level: str = "ward",
    allow_insecure_loopback: bool = False,
) -> SubscriptionView:
    """Store a subscription for ``wards`` (codes or names at ``level`` in ``region``)."""
    address = validate_address(channel, address, allow_insecure_loopback=allow_insecure_loopback)
    if language not in LANGUAGES:
        raise InputError(f"language must be {' or '.join(LANGUAGES)}, not {language!r}")
    if not 1 <= min_level <= 5:
        raise InputError(f"the minimum risk level must be 1 to 5, not {min_level}")
    label = _label(label)
    areas = resolve_areas(session, region, wards, level=level)
    same = (sa.func.lower(Subscription.address) == address.lower() if channel == "email"
            else Subscription.address == address)  # one mailbox, however its case is written
    existing = session.scalar(sa.select(Subscription).where(Subscription.channel == channel,
                                                            same))
    if existing is not None and existing.active:
        raise InputError(f"{channel} {existing.address} is already subscribed (subscription "
                         f"{existing.id}); remove it first to change it")
    sub = existing or Subscription(channel=channel)
    sub.address, sub.language, sub.min_level, sub.label = address, language, min_level, label
    sub.active = True
    session.add(sub)
    try:
        session.flush()
    except IntegrityError:  # the same address, added at the same moment elsewhere
        raise InputError(f"{channel} {address} is already subscribed") from None
    session.execute(sa.delete(SubscriptionArea).where(SubscriptionArea.subscription_id == sub.id))
    session.add_all(SubscriptionArea(subscription_id=sub.id, area_id=a.id) for a in areas)
    session.flush()
    return _views(session, [sub])[0]


def list_subscriptions(session: Session, *, include_inactive: bool = False
                       ) -> list[SubscriptionView]:
    query = sa.select(Subscription).order_by(Subscription.id)
    if not include_inactive:
        query = query.where(Subscription.active)
    return _views(session, list(session.scalars(query)))


def remove_subscription(session: Session, subscription_id: int, *, purge: bool = False
                        ) -> SubscriptionView:
    """Deactivate a subscription (its pending notifications are dropped, not sent), or with
    ``purge`` delete it with its outbox rows and delivery history."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    view = _views(session, [sub])[0]
    if not purge:
        sub.active = False
        session.flush()
        return view
    sending = session.scalar(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.subscription_id == sub.id, Notification.status == "sending"))
    if sending:
        raise InputError(f"subscription {sub.id} has a notification being sent right now; "
                         "try again in a minute")
    _forget_thresholds(session, list(session.scalars(
        sa.select(UserThresholdRow.id).where(UserThresholdRow.subscription_id == sub.id))))
    session.delete(sub)
    session.flush()
    return view


def add_threshold(
    session: Session, subscription_id: int, *, station: str, level_m: float,
    direction: str = "above", label: str | None = None, ruleset: Ruleset | None = None,
) -> ThresholdView:
    """Give a subscription its own level on a river gauge (``station`` by code or name; the
    gauge must be one of the region's ruleset, ``ruleset`` by default the station region's)."""
    sub = session.get(Subscription, subscription_id)
    if sub is None:
        raise NotFoundError(f"no subscription {subscription_id}")
    if not sub.active:
        raise InputError(f"subscription {sub.id} is removed; subscribe again first")
    if direction not in DIRECTIONS:
        raise InputError(f"the direction must be above or below, not {direction!r}")
    label = _label(label)
    found = resolve_station(session, station)
    gauge = threshold_gauge(found, ruleset)
    high, why = sane_maximum(gauge)
    if not math.isfinite(level_m):
        raise InputError(f"the threshold level must be a number of metres, not {level_m}")
    if not 0.0 <= level_m <= high:
        raise InputError(f"the threshold at {gauge.name} must be 0 to {high:.2f} m ({why}), "
                         f"not {level_m:g} m")
    mine = list(session.scalars(sa.select(UserThresholdRow).where(
        UserThresholdRow.subscription_id == sub.id, UserThresholdRow.active)))
    same = next((t for t in mine if t.station_id == found.id and t.direction == direction
                 and math.isclose(t.level_m, level_m, abs_tol=0.005)), None)
    if same is not None:
        raise InputError(f"subscription {sub.id} already has this threshold (threshold "
                         f"{same.id})")
    if len(mine) >= MAX_THRESHOLDS:
        raise InputError(f"subscription {sub.id} already has {len(mine)} thresholds, the most "
                         "allowed; remove one first")
    row = UserThresholdRow(subscription_id=sub.id, station_id=found.id, level_m=level_m,
                           direction=direction, label=label, active=True)
    session.add(row)
    session.flush()
    return _threshold_views(session, [row])[0]


def list_thresholds(session: Session, subscription_id: int | None = None, *,
                    include_inactive: bool = False) -> list[ThresholdView]:
    """The thresholds of one subscription, or of all."""
    query = sa.select(UserThresholdRow).order_by(UserThresholdRow.id)
    if subscription_id is not None:
        if session.get(Subscription, subscription_id) is None:
            raise NotFoundError(f"no subscription {subscription_id}")
        query = query.where(UserThresholdRow.subscription_id == subscription_id)
    if not include_inactive:
        query = query.where(UserThresholdRow.active)
    return _threshold_views(session, list(session.scalars(query)))


def remove_threshold(session: Session, threshold_id: int) -> ThresholdView:
    """Stop a threshold: kept inactive; its alert ends without a message and its undelivered
    notifications are dropped."""
    row = session.get(UserThresholdRow, threshold_id)
    if row is None:
        raise NotFoundError(f"no threshold {threshold_id}")
    row.active = False
    _forget_thresholds(session, [row.id])
    session.flush()
    return _threshold_views(session, [row])[0]


def _forget_thresholds(session: Session, ids: Sequence[int]) -> None:
    """End the alerts of these thresholds without a message and drop their undelivered
    notifications."""
    keys = [hazard_key(i) for i in ids]
    if not keys:
        return
    session.execute(sa.delete(AlertStateRow).where(AlertStateRow.hazard.in_(keys)))
    theirs = sa.select(AlertTransition.id).where(AlertTransition.hazard.in_(keys))
    session.execute(sa.update(Notification).where(
        Notification.status == "pending", Notification.transition_id.in_(theirs))
        .values(status="dead", last_error="threshold removed before delivery"))


def _label(label: str | None) -> str | None:
    label = (label or "").strip() or None
    if label is not None and len(label) > 200:
        raise InputError("the label must be at most 200 characters")
    return label


def resolve_areas(session: Session, region: str, wards: Sequence[str], *, level: str = "ward",
                  today: date | None = None) -> list[Area]:
    """The areas named by ``wards`` (among those still valid ``today``), in the order given,
    without repeats. NotFoundError names every unknown one with its close matches; InputError
    when a name fits several areas."""
    if session.get(Region, region) is None:
        raise NotFoundError(f"region {region!r} is not loaded")
    tokens = [w.strip() for w in wards if w.strip()]
    if not tokens:
        raise InputError("name at least one ward (--ward CODE or --ward NAME)")
    day = today or utcnow().date()
    candidates = list(session.scalars(sa.select(Area).where(
        Area.region == region, Area.level == level,
        sa.or_(Area.valid_to.is_(None), Area.valid_to > day))))
    if not candidates:
        raise NotFoundError(f"region {region!r} has no areas at level {level!r} in force")
    found: list[Area] = []
    unknown: list[str] = []
    for token in tokens:
        area = _match(token, candidates)
        if area is None:
            unknown.append(f"{token!r}{_suggest(token, candidates)}")
        elif area not in found:
            found.append(area)
    if unknown:
        raise NotFoundError(f"no {level} {'; '.join(unknown)} in region {region}")
    return found


def _key(name: str) -> str:
    return " ".join(ascii_name(name).casefold().replace("-", " ").split())


def _bare(key: str) -> str:
    return next((key[len(p):] for p in NAME_PREFIXES if key.startswith(p)), key)


def _match(token: str, candidates: list[Area]) -> Area | None:
    by_code = [a for a in candidates if a.code == token]
    if by_code:
        return by_code[0]
    exact = [a for a in candidates if a.name_vi.casefold() == token.casefold()]
    folded = [a for a in candidates if _bare(_key(a.name_vi)) == _bare(_key(token))]
    hits = exact or folded
    if len(hits) > 1:
        listed = ", ".join(f"{a.name_vi} ({a.code})" for a in hits)
        raise InputError(f"{token!r} fits several areas: {listed}; give the code")
    return hits[0] if hits else None


def _suggest(token: str, candidates: list[Area]) -> str:
    names = {_bare(_key(a.name_vi)): a for a in candidates}
    close = difflib.get_close_matches(_bare(_key(token)), list(names), n=3, cutoff=0.6)
    codes = {a.code: a for a in candidates}
    close_codes = difflib.get_close_matches(token, list(codes), n=3, cutoff=0.8)
    areas = [names[k] for k in close] + [codes[c] for c in close_codes]
    unique = list(dict.fromkeys(areas))
    if not unique:
        return ""
    return " (close: " + ", ".join(f"{a.name_vi} {a.code}" for a in unique) + ")"


def _views(session: Session, subs: Sequence[Subscription]) -> list[SubscriptionView]:
    ids = [s.id for s in subs]
    rows = session.execute(
        sa.select(SubscriptionArea.subscription_id, Area.code, Area.name_vi)
        .join(Area, Area.id == SubscriptionArea.area_id)
        .where(SubscriptionArea.subscription_id.in_(ids)).order_by(Area.code)).all()
    areas: dict[int, list[tuple[str, str]]] = {i: [] for i in ids}
    for sub_id, code, name in rows:
        areas[sub_id].append((code, name))
    return [SubscriptionView(s.id, s.channel, s.address, s.language, s.min_level, s.label,
                             s.active, s.created_at, tuple(areas[s.id])) for s in subs]


def _threshold_views(session: Session, rows: Sequence[UserThresholdRow]) -> list[ThresholdView]:
    stations = {i: station for i, station in session.execute(sa.select(Station.id, Station)
                                                             .where(Station.id.in_(
                                                                 {r.station_id for r in rows})))}
    return [ThresholdView(r.id, r.subscription_id, stations[r.station_id].code,
                          stations[r.station_id].name, r.level_m, r.direction, r.label,
                          r.active, r.created_at) for r in rows]
