"""The reads behind the API beyond the map's snapshot (``state``): alerts in force with their
reasons, recent alert changes, one station's readings over a period, wards by code. Each is one
or two queries over all wards at once, in portable SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.warnings.tables import AlertStateRow, AlertTransition
from floodwatch.warnings.user_thresholds import public_only
from floodwatch.web_map.payloads import ActiveAlert, RecentTransition
from floodwatch.web_map.queries import IN_FORCE, latest_run

#: At most this many recent alert changes in one answer (newest first).
MAX_RECENT = 1000


def _wards(region: str, level: str, today: date) -> list[sa.ColumnElement[bool]]:
    """The conditions of ``queries.read_wards``: the map's wards valid on ``today``."""
    return [Area.region == region, Area.level == level,
            sa.or_(Area.valid_to.is_(None), Area.valid_to > today),
            sa.or_(Area.valid_from.is_(None), Area.valid_from <= today)]


def active_alerts(session: Session, region: str, level: str, today: date, now: datetime
                  ) -> list[ActiveAlert]:
    """Each hazard in force (firing or resolving) in each ward, with the newest change of that
    hazard at or before ``now``; highest level first."""
    rows = session.execute(
        sa.select(AlertStateRow.area_id, AlertStateRow.hazard, AlertStateRow.status,
                  AlertStateRow.level, Area.code, Area.name_vi)
        .join(Area, Area.id == AlertStateRow.area_id)
        .where(AlertStateRow.status.in_(IN_FORCE), public_only(AlertStateRow.hazard),
               *_wards(region, level, today))
    ).all()
    newest = _newest_changes(session, sorted({r.area_id for r in rows}), now)
    alerts = []
    for r in rows:
        why = newest.get((r.area_id, r.hazard))
        alerts.append(ActiveAlert(
            ward_code=r.code, ward_name=r.name_vi, hazard=r.hazard, status=r.status,
            level=int(r.level or 0), reason=why.reason if why else None,
            reason_at=why.at if why else None,
            cap_identifier=why.cap_identifier if why else None))
    return sorted(alerts, key=lambda a: (-a.level, a.ward_code, a.hazard))


def _newest_changes(session: Session, area_ids: Sequence[int], now: datetime
                    ) -> dict[tuple[int, str], Any]:
    """Per (area, hazard), the newest transition at or before ``now`` (as
    ``queries.newest_transitions``, with its CAP identifier)."""
    t = AlertTransition
    rank = sa.func.row_number().over(partition_by=(t.area_id, t.hazard),
                                     order_by=(t.at.desc(), t.id.desc())).label("rank")
    ranked = (sa.select(t.area_id, t.hazard, t.at, t.reason, t.cap_identifier, rank)
              .where(t.area_id.in_(area_ids), t.at <= now, public_only(t.hazard)).subquery())
    rows = session.execute(sa.select(ranked).where(ranked.c.rank == 1))
    return {(r.area_id, r.hazard): r for r in rows}


def recent_transitions(session: Session, region: str, level: str, today: date, *,
                       since: datetime, now: datetime) -> list[RecentTransition]:
    """Every alert change of the map's wards after ``since`` and at or before ``now``, newest
    first (at most :data:`MAX_RECENT`)."""
    t = AlertTransition
    rows = session.execute(
        sa.select(t.hazard, t.kind, t.level, t.previous_level, t.at, t.reason, t.evidence,
                  t.cap_identifier, Area.code, Area.name_vi)
        .join(Area, Area.id == t.area_id)
        .where(t.at > since, t.at <= now, public_only(t.hazard), *_wards(region, level, today))
        .order_by(t.at.desc(), t.id.desc()).limit(MAX_RECENT)
    ).all()
    return [RecentTransition(
        ward_code=r.code, ward_name=r.name_vi, hazard=r.hazard, kind=r.kind, level=r.level,
        previous_level=r.previous_level, at=r.at, reason=r.reason,
        evidence=r.evidence if isinstance(r.evidence, dict) else {},
        cap_identifier=r.cap_identifier) for r in rows]


def station_by_code(session: Session, region: str, code: str) -> Any | None:
    return session.execute(
        sa.select(Station.id, Station.code, Station.name, Station.kind)
        .where(Station.region == region, Station.code == code)
    ).first()


def station_readings(session: Session, station_id: int, parameter: str, *, since: datetime,
                     until: datetime, limit: int) -> Sequence[Any]:
    """The station's readings of ``parameter`` with since ≤ observed ≤ until, oldest first,
    flagged ones included (analysts see the flags); at most ``limit`` rows."""
    r = Reading
    return session.execute(
        sa.select(r.observed_at, r.value, r.unit, r.flags)
        .where(r.station_id == station_id, r.parameter == parameter,
               r.observed_at >= since, r.observed_at <= until)
        .order_by(r.observed_at).limit(limit)
    ).all()


def ward_ids_by_code(session: Session, region: str, level: str, today: date,
                     codes: Sequence[str]) -> dict[str, int]:
    rows = session.execute(
        sa.select(Area.code, Area.id).where(Area.code.in_(codes), *_wards(region, level, today)))
    return {code: area_id for code, area_id in rows}


def newest_run_at(session: Session, region: str, before: datetime) -> datetime | None:
    """The valid time of the region's newest usable run at or before ``before`` (replay)."""
    run = latest_run(session, region, before)
    return run.valid_at if run else None
