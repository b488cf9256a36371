"""The dispatcher: delivers what the outbox holds, each notification at most once.

A pass (``run_once``) first drops the pending notifications of removed subscriptions (``dead``)
and holds back those of channels that are not configured (they stay ``pending``, with the reason
in ``last_error``, and are looked at again after ``backoff_cap_s``; they do not use up attempts).
Then it takes up to a batch of due notifications one at a time: claim (``sending``, committed),
render, send, record a delivery attempt and the outcome: ``sent``; ``pending`` again after a
temporary failure, due after an exponential back-off; ``dead`` after a permanent failure or the
last allowed attempt; ``in_doubt`` when the channel failed in a way that leaves delivery unknown.
A failing channel or notification never stops the others.

A row left ``sending`` by a dispatcher that died is marked ``in_doubt`` by ``recover`` and never
sent again. Run one dispatcher per store (``dispatcher_lock``); on PostgreSQL a claim also skips
rows another transaction holds (FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import session_factory, transaction
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.models import Area, Reading, Station
from floodwatch.hydro.scheduler import AdvisoryLock, FileLock, LeaderLock
from floodwatch.warnings.channels import Channel, DeliveryError
from floodwatch.warnings.channels.addresses import CHANNELS
from floodwatch.warnings.messages import Message, render_message
from floodwatch.warnings.notice import evidence_gauges, message_context, webhook_payload
from floodwatch.warnings.rules import rate_of_rise_m_per_h
from floodwatch.warnings.settings import WarningsSettings
from floodwatch.warnings.tables import AlertTransition, DeliveryAttempt, Notification, Subscription

log = logging.getLogger(__name__)

STATUSES = ("pending", "sending", "sent", "dead", "in_doubt")
DISPATCHER_LOCK = "floodwatch-dispatcher"
SETTINGS_TABLE = {"email": "smtp", "sms": "sms", "webhook": "webhook"}  # channel → its settings
IN_DOUBT = ("in doubt: its dispatcher stopped between claiming it and recording the result; "
            "not sent again so that nobody gets it twice (claimed by ")


def dispatcher_lock(engine: Engine) -> LeaderLock:
    """The lock that keeps a second dispatcher off the store (see hydro.scheduler)."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine, DISPATCHER_LOCK)
    return FileLock(Path(engine.url.database or "floodwatch").with_suffix(".dispatcher.lock"))


@dataclass
class DispatchSummary:
    sent: int = 0
    retrying: int = 0  # temporary failure, due again later
    dead: int = 0
    in_doubt: int = 0
    waiting: int = 0  # held back: channel not configured
    dropped: int = 0  # subscription removed before delivery

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.dead + self.in_doubt


@dataclass(frozen=True)
class _Outcome:
    status: str  # sent | pending | dead | in_doubt
    ok: bool
    detail: str
    temporary: bool | None = None
    next_attempt_at: datetime | None = None


@dataclass(frozen=True)
class _Job:
    key: str
    attempts: int
    channel: str
    address: str
    message: Message
    payload: dict[str, Any]


class Dispatcher:
    def __init__(self, engine: Engine, settings: WarningsSettings,
                 channels: Mapping[str, Channel], *, now: Callable[[], datetime] = utcnow,
                 worker_id: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.channels = dict(channels)
        self.now = now
        self.worker_id = (worker_id or f"{socket.gethostname()}:{os.getpid()}")[:100]

    def recover(self) -> int:
        """Mark rows left ``sending`` as ``in_doubt``; returns how many."""
        with transaction(self.engine) as s:
            claimed_by = sa.func.coalesce(Notification.claimed_by, "unknown")
            rows = s.execute(sa.update(Notification).where(Notification.status == "sending")
                             .values(status="in_doubt",
                                     last_error=sa.literal(IN_DOUBT) + claimed_by + ")")
                             .returning(Notification.id, Notification.claimed_by)).all()
        for nid, worker in rows:
            log.warning("notification %s is in doubt: %s stopped while sending it; it will not "
                        "be sent again", nid, worker)
        return len(rows)

    def run_once(self) -> DispatchSummary:
        """One pass over what is due (see the module docstring)."""
        summary = DispatchSummary(dropped=self._drop_removed(), waiting=self._hold_unconfigured())
        for _ in range(self.settings.dispatch_batch_size):
            nid = self._claim()
            if nid is None:
                break
            outcome = self._deliver(nid)
            self._record(nid, outcome)
            counter = "retrying" if outcome.status == "pending" else outcome.status
            setattr(summary, counter, getattr(summary, counter) + 1)
        return summary

    def status(self) -> dict[str, int]:
        """How many notifications are in each state."""
        counts = dict.fromkeys(STATUSES, 0)
        with self.engine.connect() as conn:
            for state, n in conn.execute(sa.select(Notification.status, sa.func.count())
                                         .group_by(Notification.status)):
                counts[state] = n
        return counts

    def problems(self, limit: int = 50) -> list[dict[str, Any]]:
        """Notifications an operator should look at: in doubt, dead, or waiting after a failure."""
        query = (sa.select(Notification.id, Notification.status, Subscription.channel,
                           Notification.subscription_id, Notification.attempts,
                           Notification.next_attempt_at, Notification.last_error)
                 .join(Subscription, Subscription.id == Notification.subscription_id)
                 .where(sa.or_(Notification.status.in_(("in_doubt", "dead")),
                               sa.and_(Notification.status == "pending",
                                       Notification.last_error.is_not(None))))
                 .order_by(Notification.id.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    # -- the steps -------------------------------------------------------------------------

    def _pending_of(self, subscriptions: sa.Select[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(Notification.status == "pending",
                       Notification.subscription_id.in_(subscriptions))

    def _drop_removed(self) -> int:
        removed = sa.select(Subscription.id).where(sa.not_(Subscription.active))
        with transaction(self.engine) as s:
            return len(s.execute(
                sa.update(Notification).where(self._pending_of(removed))
                .values(status="dead", last_error="subscription removed before delivery")
                .returning(Notification.id)).all())

    def _hold_unconfigured(self) -> int:
        now, held = self.now(), 0
        wait = timedelta(seconds=self.settings.backoff_cap_s)
        with transaction(self.engine) as s:
            for channel in sorted(set(CHANNELS) - set(self.channels)):
                subs = sa.select(Subscription.id).where(Subscription.active,
                                                        Subscription.channel == channel)
                reason = (f"channel {channel!r} is not configured: add "
                          f"[warnings.{SETTINGS_TABLE[channel]}] to the settings; waiting")
                held += len(s.execute(
                    sa.update(Notification)
                    .where(self._pending_of(subs), Notification.next_attempt_at <= now)
                    .values(last_error=reason, next_attempt_at=now + wait)
                    .returning(Notification.id)).all())
        if held:
            log.warning("%d notification(s) wait for a channel that is not configured", held)
        return held

    def _claim(self) -> int | None:
        """Take the next due notification: ``sending``, one more attempt, committed."""
        due = (sa.select(Notification.id)
               .join(Subscription, Subscription.id == Notification.subscription_id)
               .where(Notification.status == "pending", Notification.next_attempt_at <= self.now(),
                      Subscription.active, Subscription.channel.in_(sorted(self.channels)))
               .order_by(Notification.next_attempt_at, Notification.id).limit(1))
        if self.engine.dialect.name == "postgresql":
            due = due.with_for_update(of=Notification, skip_locked=True)
        with transaction(self.engine) as s:
            return s.scalar(sa.update(Notification)
                            .where(Notification.id == due.scalar_subquery(),
                                   Notification.status == "pending")
                            .values(status="sending", claimed_by=self.worker_id,
                                    attempts=Notification.attempts + 1)
                            .returning(Notification.id))

    def _deliver(self, nid: int) -> _Outcome:
        try:
            job = self._prepare(nid)
        except Exception as exc:  # nothing was sent: a message that cannot be built is dead
            log.exception("notification %s cannot be rendered", nid)
            return _Outcome("dead", False, f"cannot build the message: {exc}")
        try:
            receipt = self.channels[job.channel].send(
                job.address, job.message, idempotency_key=job.key, payload=job.payload)
        except DeliveryError as exc:
            return self._failed(nid, job, exc)
        except Exception as exc:  # the channel broke: whether it delivered is unknown
            log.exception("notification %s: %s channel failed unexpectedly", nid, job.channel)
            return _Outcome("in_doubt", False, f"in doubt: {type(exc).__name__}: {exc}")
        detail = receipt.detail + (f"; id {receipt.provider_id}" if receipt.provider_id else "")
        log.info("notification %s sent by %s (attempt %d)", nid, job.channel, job.attempts)
        return _Outcome("sent", True, detail)

    def _failed(self, nid: int, job: _Job, exc: DeliveryError) -> _Outcome:
        if exc.permanent:
            log.warning("notification %s: %s failed permanently: %s", nid, job.channel, exc)
            return _Outcome("dead", False, str(exc), False)
        if job.attempts >= self.settings.max_attempts:
            log.warning("notification %s: %s gave up after %d attempts: %s", nid, job.channel,
                        job.attempts, exc)
            return _Outcome("dead", False, f"gave up after {job.attempts} attempts: {exc}", True)
        wait = self.settings.backoff(job.attempts)
        if exc.retry_after_s is not None:
            wait = max(wait, timedelta(seconds=min(exc.retry_after_s,
                                                   self.settings.backoff_cap_s)))
        log.info("notification %s: %s failed (%s); retry in %s", nid, job.channel, exc, wait)
        return _Outcome("pending", False, str(exc), True, self.now() + wait)

    def _record(self, nid: int, o: _Outcome) -> None:
        now = self.now()
        values: dict[str, Any] = {"status": o.status, "last_error": None if o.ok else o.detail}
        if o.ok:
            values["sent_at"] = now
        if o.next_attempt_at is not None:
            values["next_attempt_at"] = o.next_attempt_at
        with transaction(self.engine) as s:
            mine = s.scalar(sa.update(Notification)
                            .where(Notification.id == nid,
                                   Notification.claimed_by == self.worker_id,
                                   Notification.status.in_(("sending", "in_doubt")))
                            .values(**values).returning(Notification.id))
            if mine is None:
                log.warning("notification %s is gone or was taken over; outcome not recorded: %s",
                            nid, o.detail)
                return
            s.add(DeliveryAttempt(notification_id=nid, at=now, ok=o.ok, temporary=o.temporary,
                                  detail=o.detail))

    def _prepare(self, nid: int) -> _Job:
        with session_factory(self.engine)() as s:
            n, sub, t, area = s.execute(
                sa.select(Notification, Subscription, AlertTransition, Area)
                .join(Subscription, Subscription.id == Notification.subscription_id)
                .join(AlertTransition, AlertTransition.id == Notification.transition_id)
                .join(Area, Area.id == AlertTransition.area_id)
                .where(Notification.id == nid)).one()
            gauges = evidence_gauges(t.evidence or {})
            codes = [code for code, *_ in gauges]
            stations = {st.code: st for st in s.scalars(
                sa.select(Station).where(Station.code.in_(codes)))}
            rates = {code: self._rate(s, stations.get(code), when or t.at)
                     for code, _, when, _ in gauges}
            ctx = message_context(t, area, language=sub.language,  # type: ignore[arg-type]
                                  public_url=self.settings.public_url,
                                  hotline=self.settings.hotline, stations=stations,
                                  rates_m_per_h=rates,
                                  steady_m_per_h=self.settings.trend_steady_m_per_h)
            message = render_message(ctx)
            return _Job(n.idempotency_key, n.attempts, sub.channel, sub.address, message,
                        webhook_payload(t, area, message, n.idempotency_key))

    def _rate(self, s: Session, station: Station | None, until: datetime) -> float | None:
        if station is None:
            return None
        window = timedelta(hours=self.settings.trend_window_h)
        points = s.execute(sa.select(Reading.observed_at, Reading.value).where(
            Reading.station_id == station.id, Reading.parameter == "water_level",
            Reading.observed_at >= until - window,
            Reading.observed_at <= until)).all()
        return rate_of_rise_m_per_h([(at, v) for at, v in points if v is not None],
                                    window=window)
