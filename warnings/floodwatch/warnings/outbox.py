"""The outbox: one notification per alert transition and matching subscription.

A subscription matches a transition when it is active, covers the transition's area and its
minimum level is reached by the level now in force or the one before (so the cancel or the
downgrade of an alert reaches everyone who got the alert). A user's own threshold
(``user_threshold:<id>``) is personal: its transitions go to the threshold's subscription only,
while it is active, whatever its wards and minimum level. ``enqueue`` runs in the caller's
transaction, right after the transitions are inserted: they are stored together or not at all.
Calling it again for the same transitions adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from floodwatch.core.timeutil import utcnow
from floodwatch.warnings.tables import (
    AlertTransition,
    Notification,
    Subscription,
    SubscriptionArea,
    UserThresholdRow,
)
from floodwatch.warnings.user_thresholds import is_personal, threshold_id_of

INSERT_CHUNK = 500


def idempotency_key(transition: AlertTransition, subscription_id: int) -> str:
    """64 hex characters, the same for one transition and subscriber whenever computed; the
    CAP identifier is part of it, so a store rebuilt from scratch never reuses a key."""
    text = f"{transition.cap_identifier}\n{transition.id}\n{subscription_id}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def enqueue(session: Session, transitions: Sequence[AlertTransition], *,
            now: datetime | None = None) -> int:
    """Add the notifications of ``transitions`` (due at ``now``); returns how many were new."""
    if not transitions:
        return 0
    if any(t.id is None for t in transitions):
        session.flush()
    owners = _owners(session, {i for t in transitions
                               if (i := threshold_id_of(t.hazard)) is not None})
    area_ids = {t.area_id for t in transitions}
    matches = session.execute(
        sa.select(SubscriptionArea.area_id, Subscription.id, Subscription.min_level)
        .join(Subscription, Subscription.id == SubscriptionArea.subscription_id)
        .where(Subscription.active, SubscriptionArea.area_id.in_(area_ids))
        .order_by(Subscription.id)).all()
    pairs: list[tuple[AlertTransition, int]] = []
    for t in sorted(transitions, key=lambda t: t.id):
        if is_personal(t.hazard):  # its owner only, never the ward's subscribers
            threshold = threshold_id_of(t.hazard)
            pairs += [(t, owners[threshold])] if threshold in owners else []
        else:
            pairs += [(t, sub_id) for area_id, sub_id, min_level in matches
                      if area_id == t.area_id and max(t.level, t.previous_level) >= min_level]
    due = now or utcnow()
    rows = [
        {"transition_id": t.id, "subscription_id": sub_id,
         "idempotency_key": idempotency_key(t, sub_id), "status": "pending", "attempts": 0,
         "next_attempt_at": due, "created_at": due}
        for t, sub_id in pairs
    ]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    added = 0
    for start in range(0, len(rows), INSERT_CHUNK):
        statement = (insert(Notification).values(rows[start:start + INSERT_CHUNK])
                     .on_conflict_do_nothing().returning(Notification.id))
        added += len(session.execute(statement).all())
    return added


def _owners(session: Session, threshold_ids: set[int]) -> dict[int, int]:
    """The active subscription of each active threshold, by threshold id."""
    if not threshold_ids:
        return {}
    return {tid: sub_id for tid, sub_id in session.execute(
        sa.select(UserThresholdRow.id, UserThresholdRow.subscription_id)
        .join(Subscription, Subscription.id == UserThresholdRow.subscription_id)
        .where(UserThresholdRow.id.in_(sorted(threshold_ids)), UserThresholdRow.active,
               Subscription.active))}
