"""The outbox on both backends: who gets a notification for which transition, exactly one row
per transition and subscriber however often ``enqueue`` runs, and only with its transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.gis_data.loader import load_region
from floodwatch.gis_data.models import Area
from floodwatch.gis_data.region import load_definition
from floodwatch.warnings.outbox import enqueue, idempotency_key
from floodwatch.warnings.subscriptions import add_subscription, remove_subscription
from floodwatch.warnings.tables import AlertTransition, Notification

NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)
KIM_LONG, PHU_XUAN, VY_DA = "19774", "19753", "19777"


@pytest.fixture
def hue(engine: Engine) -> Engine:
    load_region(engine, load_definition("hue"))
    return engine


def subscribe(s: Session, address: str, wards: tuple[str, ...], min_level: int) -> int:
    return add_subscription(s, region="hue", wards=wards, channel="email", address=address,
                            min_level=min_level).id


def transition(s: Session, ward: str, kind: str, level: int, previous: int) -> AlertTransition:
    area_id = s.scalar(sa.select(Area.id).where(Area.level == "ward", Area.code == ward))
    assert area_id is not None
    sequence = (s.scalar(sa.select(sa.func.count()).select_from(AlertTransition)) or 0) + 1
    row = AlertTransition(area_id=area_id, hazard="river_flood", sequence=sequence, kind=kind,
                          level=level, previous_level=previous, at=NOW,
                          reason=f"{kind} {previous}→{level}", evidence={},
                          cap_identifier=f"urn:test:{ward}:{sequence}")
    s.add(row)
    return row


def pairs(engine: Engine) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        return {(t, sub) for t, sub in conn.execute(
            sa.select(Notification.transition_id, Notification.subscription_id))}


# (ward, kind, level, previous level) → which subscribers get it. Subscribers: "from 2" and
# "from 3" watch Kim Long, "all" watches Kim Long and Phú Xuân from level 1, "gone" (removed)
# watched Kim Long from level 1.
CASES = [
    ((KIM_LONG, "alert", 2, 0), {"from 2", "all"}),
    ((KIM_LONG, "update", 3, 2), {"from 2", "from 3", "all"}),
    ((KIM_LONG, "update", 2, 3), {"from 2", "from 3", "all"}),  # a downgrade reaches "from 3"
    ((KIM_LONG, "cancel", 0, 2), {"from 2", "all"}),  # the all-clear reaches who got the alert
    ((KIM_LONG, "alert", 1, 0), {"all"}),
    ((PHU_XUAN, "alert", 4, 0), {"all"}),
    ((VY_DA, "alert", 5, 0), set()),  # nobody watches Vỹ Dạ
]


def test_who_gets_which_transition(hue: Engine) -> None:
    with transaction(hue) as s:
        subs = {"from 2": subscribe(s, "a@hue.example.org", (KIM_LONG,), 2),
                "from 3": subscribe(s, "b@hue.example.org", ("Kim Long",), 3),
                "all": subscribe(s, "c@hue.example.org", (KIM_LONG, PHU_XUAN), 1),
                "gone": subscribe(s, "d@hue.example.org", (KIM_LONG,), 1)}
        remove_subscription(s, subs["gone"])
        rows = [transition(s, *case) for case, _ in CASES]
        added = enqueue(s, rows, now=NOW)
    names = {v: k for k, v in subs.items()}
    got = pairs(hue)
    for row, (case, expected) in zip(rows, CASES, strict=True):
        assert {names[sub] for t, sub in got if t == row.id} == expected, case
    assert added == len(got) == sum(len(e) for _, e in CASES)


def test_enqueue_is_idempotent(hue: Engine) -> None:
    with transaction(hue) as s:
        sub = subscribe(s, "a@hue.example.org", (KIM_LONG,), 1)
        first = [transition(s, KIM_LONG, "alert", 2, 0)]
        assert enqueue(s, first, now=NOW) == 1
        assert enqueue(s, first, now=NOW) == 0  # again in the same transaction
    with transaction(hue) as s:
        again = list(s.scalars(sa.select(AlertTransition)))
        assert enqueue(s, again, now=NOW) == 0  # and in a later one
        second = [transition(s, KIM_LONG, "update", 3, 2)]
        assert enqueue(s, again + second, now=NOW) == 1
    with transaction(hue) as s:
        rows = list(s.scalars(sa.select(Notification).order_by(Notification.id)))
        transitions = list(s.scalars(sa.select(AlertTransition).order_by(AlertTransition.id)))
    assert [(n.transition_id, n.subscription_id) for n in rows] == [
        (t.id, sub) for t in transitions]
    assert [n.idempotency_key for n in rows] == [idempotency_key(t, sub) for t in transitions]
    assert all(n.status == "pending" and n.attempts == 0 and n.next_attempt_at == NOW
               for n in rows)


def test_idempotency_key_is_stable_and_distinct() -> None:
    t = AlertTransition(id=7, cap_identifier="urn:oid:2.49.0.1.704.0.2025.11.17.8.0.19774")
    key = idempotency_key(t, 3)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == idempotency_key(t, 3)
    assert len({key, idempotency_key(t, 4),
                idempotency_key(AlertTransition(id=8, cap_identifier=t.cap_identifier), 3),
                idempotency_key(AlertTransition(id=7, cap_identifier="urn:other"), 3)}) == 4


def test_notifications_live_and_die_with_their_transitions(hue: Engine) -> None:
    with transaction(hue) as s:
        subscribe(s, "a@hue.example.org", (KIM_LONG,), 1)
    with pytest.raises(RuntimeError), transaction(hue) as s:
        assert enqueue(s, [transition(s, KIM_LONG, "alert", 2, 0)], now=NOW) == 1
        raise RuntimeError("the model cycle failed after enqueueing")
    assert pairs(hue) == set()
    with transaction(hue) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(AlertTransition)) == 0
        assert enqueue(s, [], now=NOW) == 0
