"""Events in a region's history: periods above each BĐ level at each gauge, alert transitions
per ward with their reasons, the time each ward spent at each level, and the notification
outbox with addresses masked. Times and engines as in ``history``."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from floodwatch.core.errors import InputError
from floodwatch.gis_data.models import Area
from floodwatch.warnings.rules import BD_NAMES
from floodwatch.warnings.tables import AlertTransition, Notification, Subscription
from floodwatch.warnings.user_thresholds import public_only
from floodwatch.web_map.history import (
    EngineLike,
    Instant,
    between,
    connect,
    readings,
    require_region,
    stations,
    utc,
    window,
)

PERIOD_COLUMNS = ["start", "end", "duration_h", "open_start", "open_end"]
EVENT_COLUMNS = ["station", "name", "bd", "bd_name", "threshold_m", "start", "end", "peak_m",
                 "peak_at", "duration_h", "open_start", "open_end"]
ALERT_COLUMNS = ["at", "code", "name", "hazard", "sequence", "kind", "level", "previous_level",
                 "reason", "run_id", "cap_identifier"]
LEVEL_PERIOD_COLUMNS = ["code", "name", "hazard", "level", *PERIOD_COLUMNS]
NOTIFICATION_STATUSES = ("pending", "sending", "sent", "dead", "in_doubt")
HOUR = pd.Timedelta(hours=1)


def threshold_periods(series: pd.Series, level_m: float) -> pd.DataFrame:
    """Periods at or above ``level_m`` in a series of levels indexed by time: ``start`` is the
    first reading at or above, ``end`` the first reading below after it (NaT while the last
    reading is still above: ``open_end``; its duration runs to that last reading). Missing
    values are skipped, never filled; ``open_start`` when the first reading is already above."""
    s = series.dropna().sort_index()
    above = s.to_numpy() >= level_m
    runs = np.concatenate([[0], np.cumsum(above[1:] != above[:-1])]) if len(s) else above
    rows = []
    for run in np.unique(runs[above]):
        index = np.flatnonzero(runs == run)
        first, last = int(index[0]), int(index[-1])
        part = s.iloc[first:last + 1]
        closed = last + 1 < len(s)
        end = s.index[last + 1] if closed else pd.NaT
        rows.append({"start": s.index[first], "end": end, "peak_m": float(part.max()),
                     "peak_at": part.idxmax(),
                     "duration_h": ((end if closed else s.index[last]) - s.index[first]) / HOUR,
                     "open_start": first == 0, "open_end": not closed})
    frame = pd.DataFrame(rows, columns=["start", "end", "peak_m", "peak_at", *PERIOD_COLUMNS[2:]])
    return _times(frame, "start", "end", "peak_at")


def _times(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:  # NaT-only or empty columns would otherwise stay objects
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def events(engine: EngineLike, region: str, since: Instant = None, until: Instant = None
           ) -> pd.DataFrame:
    """Periods above each alarm level (BĐ I–III) at each river gauge of the region, from the
    readings the alerts may use (QC-flagged ones left out)."""
    gauges = stations(engine, region)
    alarms = ["alarm1_m", "alarm2_m", "alarm3_m"]
    gauges = gauges[(gauges["kind"] == "river_gauge") & gauges[alarms].notna().any(axis=1)]
    if gauges.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    levels = readings(engine, list(gauges["code"]), since, until, include_flagged=False)
    parts = []
    for gauge in gauges.itertuples():
        series = levels.loc[levels["station"] == gauge.code].set_index("observed_at")["value"]
        for k, column in enumerate(alarms, 1):
            threshold = getattr(gauge, column)
            if pd.isna(threshold):
                continue
            found = threshold_periods(series, float(threshold))
            parts.append(found.assign(station=gauge.code, name=gauge.name, bd=k,
                                      bd_name=BD_NAMES[k - 1], threshold_m=float(threshold)))
    frame = pd.concat([p for p in parts if not p.empty] or [pd.DataFrame(columns=EVENT_COLUMNS)],
                      ignore_index=True)
    return frame[EVENT_COLUMNS].sort_values(["station", "bd", "start"], ignore_index=True)


def alerts(engine: EngineLike, region: str, since: Instant = None, until: Instant = None,
           hazard: str | None = None) -> pd.DataFrame:
    """Every alert transition (alert, update, cancel) of the region's areas in the window, with
    the reason an official can read, in time order."""
    start, end = window(since, until)
    t = AlertTransition
    with connect(engine) as conn:
        require_region(conn, region)
        rows = conn.execute(
            sa.select(t.at, Area.code, Area.name_vi, t.hazard, t.sequence, t.kind, t.level,
                      t.previous_level, t.reason, t.run_id, t.cap_identifier)
            .select_from(t).join(Area, Area.id == t.area_id)
            .where(Area.region == region, *_hazard(hazard), *between(t.at, start, end))
            .order_by(t.at, Area.code, t.hazard, t.sequence)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=ALERT_COLUMNS)
    frame["at"] = utc(frame["at"])
    frame["run_id"] = frame["run_id"].astype("Int64")
    return frame


def _hazard(hazard: str | None) -> list[sa.ColumnElement[bool]]:
    """Public alerts only (users' own thresholds are personal), of one hazard if given."""
    public = [public_only(AlertTransition.hazard)]
    return public if hazard is None else [*public, AlertTransition.hazard == hazard]


def alert_periods(engine: EngineLike, region: str, since: Instant = None, until: Instant = None,
                  hazard: str | None = None) -> pd.DataFrame:
    """How long each area spent at each level of each hazard in the window: one row per period
    (a level in force from one transition to the next change). A level already in force at
    ``since`` starts there (``open_start``); one still in force ends at ``until`` (``open_end``;
    NaT when the window is open-ended)."""
    start, end = window(since, until)
    t = AlertTransition
    columns = [Area.code, Area.name_vi.label("name"), t.hazard, t.at, t.kind, t.level, t.id]
    base = [Area.region == region, *_hazard(hazard)]
    with connect(engine) as conn:
        require_region(conn, region)
        rows = list(conn.execute(sa.select(*columns).select_from(t)
                                 .join(Area, Area.id == t.area_id)
                                 .where(*base, *between(t.at, start, end))))
        if start is not None:  # the level in force at the start: each one's newest change
            rank = sa.func.row_number().over(partition_by=(t.area_id, t.hazard),
                                             order_by=(t.at.desc(), t.id.desc())).label("rank")
            ranked = (sa.select(*columns, rank).select_from(t).join(Area, Area.id == t.area_id)
                      .where(*base, t.at < start).subquery())
            rows += conn.execute(sa.select(*[c for c in ranked.c if c.name != "rank"])
                                 .where(ranked.c.rank == 1)).all()
    frame = pd.DataFrame([tuple(r) for r in rows],
                         columns=["code", "name", "hazard", "at", "kind", "level", "id"])
    frame["at"] = utc(frame["at"])
    return level_periods(frame, start, end)


def level_periods(transitions: pd.DataFrame, since: datetime | None, until: datetime | None
                  ) -> pd.DataFrame:
    """Periods at each level from transitions (columns code, name, hazard, at, kind, level, id):
    alert and update set the level, cancel ends it; consecutive changes to the same level (an
    update within a level) make one period."""
    rows: list[dict[str, Any]] = []
    lower = pd.Timestamp(since) if since is not None else None
    upper = pd.Timestamp(until) if until is not None else pd.NaT
    ordered = transitions.sort_values(["at", "id"])
    for (code, hazard), group in ordered.groupby(["code", "hazard"], sort=True):
        name, current, began, clipped = group["name"].iloc[0], 0, None, False
        for change in group.itertuples():
            level = 0 if change.kind == "cancel" else int(change.level)
            if lower is not None and change.at < lower:  # in force when the window opens
                current, began, clipped = level, lower, True
                continue
            if level == current:
                continue
            if current:
                rows.append(_period(code, name, hazard, current, began, change.at, clipped,
                                    False))
            current, began, clipped = level, change.at, False
        if current:
            rows.append(_period(code, name, hazard, current, began, upper, clipped, True))
    return _times(pd.DataFrame(rows, columns=LEVEL_PERIOD_COLUMNS), "start", "end")


def _period(code: str, name: str, hazard: str, level: int, start: Any, end: Any,
            open_start: bool, open_end: bool) -> dict[str, Any]:
    duration = np.nan if pd.isna(end) else (end - start) / HOUR
    return {"code": code, "name": name, "hazard": hazard, "level": level, "start": start,
            "end": end, "duration_h": duration, "open_start": open_start, "open_end": open_end}


def time_at_levels(periods: pd.DataFrame) -> pd.DataFrame:
    """Hours per area at each level (columns), from ``alert_periods`` of one hazard."""
    if periods.empty:
        return pd.DataFrame(index=pd.MultiIndex.from_arrays([[], []], names=["code", "name"]))
    return periods.pivot_table(index=["code", "name"], columns="level", values="duration_h",
                               aggfunc="sum", fill_value=0.0)


def notifications(engine: EngineLike, since: Instant = None, until: Instant = None,
                  status: str | None = None) -> pd.DataFrame:
    """The outbox rows of the alert changes in the window (by the change's time): status,
    channel, masked address, attempts, when queued and sent, the change and its area."""
    start, end = window(since, until)
    if status is not None and status not in NOTIFICATION_STATUSES:
        raise InputError(f"unknown notification status {status!r} "
                         f"(statuses: {', '.join(NOTIFICATION_STATUSES)})")
    n, s, t = Notification, Subscription, AlertTransition
    with connect(engine) as conn:
        rows = conn.execute(
            sa.select(n.id, n.status, s.channel, s.address, s.language, n.attempts, t.at,
                      n.created_at, n.sent_at, Area.region, Area.code, Area.name_vi, t.hazard,
                      t.kind, t.level, n.last_error)
            .select_from(n).join(s, s.id == n.subscription_id)
            .join(t, t.id == n.transition_id)
            .join(Area, Area.id == t.area_id)
            .where(*between(t.at, start, end),
                   *([] if status is None else [n.status == status]))
            .order_by(t.at, n.id)).all()
    columns = ["id", "status", "channel", "address", "language", "attempts", "transition_at",
               "created_at", "sent_at", "region", "code", "name", "hazard", "kind", "level",
               "last_error"]
    frame = pd.DataFrame([tuple(r) for r in rows], columns=columns)
    frame["address"] = [mask_address(c, a) for c, a in zip(frame["channel"], frame["address"],
                                                            strict=True)]
    frame["last_error"] = frame["last_error"].map(mask_text, na_action="ignore")
    for column in ("transition_at", "created_at", "sent_at"):
        frame[column] = utc(frame[column])
    return frame


_URL = re.compile(r"\b(https?://[^/\s?#]+)[^\s]*")
_EMAIL = re.compile(r"\b([\w.%+-])[\w.%+-]*@([\w-]+(?:\.[\w-]+)+)")
_PHONE = re.compile(r"(\+?\d)[\d .-]{5,}(\d{2})\b")


def mask_address(channel: str, address: str) -> str:
    """An address with enough left to tell subscribers apart, not to reach them: the first
    letter and the domain of an e-mail, the start and last two digits of a phone number, the
    host of a webhook."""
    if channel == "email":
        return _EMAIL.sub(r"\1***@\2", address)
    if channel == "sms":
        return address[:4] + "*" * max(len(address) - 6, 0) + address[-2:]
    if channel == "webhook":
        return _URL.sub(r"\1/…", address)
    return "***"


def mask_text(text: str) -> str:
    """Free text (a delivery error) with any URL, e-mail address or phone number masked."""
    return _PHONE.sub(r"\1***\2", _EMAIL.sub(r"\1***@\2", _URL.sub(r"\1/…", text)))
