"""The warnings component's tables: alert state per area and hazard, every transition with its
reason, subscriptions and their users' own gauge thresholds, the notification outbox and each
delivery attempt.

Exactly once per subscriber and transition: ``notifications`` has one row per (transition,
subscription) (a unique constraint) with an idempotency key; the dispatcher claims a row
(``sending``, committed) before it sends and records the result after. A dispatcher killed in
between leaves the row ``sending``: on restart such rows are marked ``in_doubt`` and are NOT sent
again (an operator sees them in ``floodwatch notify status``), so nobody gets the same alert twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from floodwatch.core.db import UTCDateTime
from floodwatch.core.timeutil import utcnow
from floodwatch.gis_data.models import Base


class AlertStateRow(Base):
    """The lifecycle state of one area × hazard (the input of the next step)."""

    __tablename__ = "alert_states"

    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"),
                                         primary_key=True)
    hazard: Mapped[str] = mapped_column(sa.String(32), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16))  # inactive | pending | firing | resolving
    level: Mapped[int] = mapped_column(sa.Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AlertTransition(Base):
    """One change of an alert (alert, update, cancel), with the reason an official can read."""

    __tablename__ = "alert_transitions"
    __table_args__ = (sa.UniqueConstraint("area_id", "hazard", "sequence"),
                      sa.UniqueConstraint("cap_identifier"))

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"),
                                         index=True)
    hazard: Mapped[str] = mapped_column(sa.String(32))
    sequence: Mapped[int] = mapped_column(sa.Integer)
    kind: Mapped[str] = mapped_column(sa.String(16))  # alert | update | cancel
    level: Mapped[int] = mapped_column(sa.Integer)
    previous_level: Mapped[int] = mapped_column(sa.Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(sa.JSON, default=dict)
    run_id: Mapped[int | None] = mapped_column(sa.ForeignKey("model_runs.id",
                                                             ondelete="SET NULL"))
    cap_identifier: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Subscription(Base):
    """Who wants alerts for which areas, from which level, how and in which language."""

    __tablename__ = "subscriptions"
    __table_args__ = (sa.UniqueConstraint("channel", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(16))  # email | sms | webhook
    address: Mapped[str] = mapped_column(sa.String(500))
    language: Mapped[str] = mapped_column(sa.String(8))  # vi | en
    min_level: Mapped[int] = mapped_column(sa.Integer, default=1)
    label: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SubscriptionArea(Base):
    __tablename__ = "subscription_areas"

    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), primary_key=True)
    area_id: Mapped[int] = mapped_column(sa.ForeignKey("areas.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)


class Notification(Base):
    """The outbox: one row per transition × matching subscription."""

    __tablename__ = "notifications"
    __table_args__ = (sa.UniqueConstraint("transition_id", "subscription_id"),
                      sa.UniqueConstraint("idempotency_key"),
                      sa.Index("ix_notifications_status_due", "status", "next_attempt_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    transition_id: Mapped[int] = mapped_column(
        sa.ForeignKey("alert_transitions.id", ondelete="CASCADE"))
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"))
    idempotency_key: Mapped[str] = mapped_column(sa.String(64))
    # pending | sending | sent | dead | in_doubt
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(100))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(
        sa.ForeignKey("notifications.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    ok: Mapped[bool] = mapped_column(sa.Boolean)
    temporary: Mapped[bool | None] = mapped_column(sa.Boolean)
    detail: Mapped[str | None] = mapped_column(sa.Text)


class UserThresholdRow(Base):
    """A subscriber's own level on a river gauge ("tell me when Kim Long goes above 2.50 m").

    ``direction`` is that of ``model.UserThreshold``: "above" is in force at or above
    ``level_m``, "below" strictly below it. Its lifecycle state lives in ``alert_states`` under
    the gauge's ward with the hazard ``user_threshold:<id>``; its transitions go to its own
    subscription only and are never published (see ``user_thresholds.py``). Removing one keeps
    the row (inactive); the ids are never reused (``sqlite_autoincrement``), so an old state or
    transition never passes to a new threshold.
    """

    __tablename__ = "user_thresholds"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True)
    station_id: Mapped[int] = mapped_column(sa.ForeignKey("stations.id", ondelete="CASCADE"),
                                            index=True)
    level_m: Mapped[float] = mapped_column(sa.Float)
    direction: Mapped[str] = mapped_column(sa.String(8), default="above")  # above | below
    label: Mapped[str | None] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
