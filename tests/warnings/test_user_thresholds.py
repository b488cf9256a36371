"""Users' own thresholds on both backends, on the real Huế region and the real November 2025
series: a threshold of 2.50 m at Kim Long fires once, at the reading that reaches it, and ends
once, ``hold_for`` after the river falls back; only its owner hears of it (by e-mail, through the
real dispatcher and a real SMTP server), no CAP document is written; removing it ends it
quietly; bad input is refused with nothing stored."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from floodwatch.core.db import transaction
from floodwatch.core.errors import InputError, NotFoundError
from floodwatch.gis_data.models import Area
from floodwatch.gis_data.region import BUNDLED_DIR
from floodwatch.warnings import outbox, rules, user_thresholds
from floodwatch.warnings.capdocs import CapOptions
from floodwatch.warnings.channels import SmtpSettings
from floodwatch.warnings.dispatch import Dispatcher
from floodwatch.warnings.messages import render_message
from floodwatch.warnings.notice import message_context
from floodwatch.warnings.pipeline import DEFAULT_POLICY, AssessResult, OnTransitions, assess
from floodwatch.warnings.settings import WarningsSettings
from floodwatch.warnings.subscriptions import (
    add_subscription,
    add_threshold,
    list_thresholds,
    remove_subscription,
    remove_threshold,
)
from floodwatch.warnings.tables import AlertStateRow, AlertTransition, Notification

CSV = BUNDLED_DIR / "hue" / "timeseries" / "hue_river_water_levels_2025-11.csv"
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
H = timedelta(hours=1)
HOLD = DEFAULT_POLICY.hold_for
KIM_LONG_GAUGE, KIM_LONG_WARD, PHU_XUAN = "71520", "19774", "19753"
OPTIONS = CapOptions(sender="canhbao@floodwatch.hue.example", status="Test",
                     base_url="https://floodwatch.hue.example")
PUBLIC_URL = "https://canhbao.hue.example"

# Kim Long first reaches 2.50 m at 17 Nov 06:00 local (2.48 → 2.57 m) and falls back for good at
# 18 Nov 05:00 local (2.54 → 2.45 m); test_the_crossings_in_the_real_series ties these to the file.
UP = datetime(2025, 11, 16, 23, tzinfo=UTC)
DOWN = datetime(2025, 11, 17, 22, tzinfo=UTC)
START = datetime(2025, 11, 16, 12, tzinfo=UTC)  # Kim Long above BĐ I, below 2.50 m
END = DOWN + HOLD + 2 * H


def series(code: str) -> list[tuple[datetime, float]]:
    with CSV.open(encoding="utf-8") as fh:
        return [(datetime.fromisoformat(r["time_local_utc7"]).replace(tzinfo=LOCAL)
                 .astimezone(UTC), float(r["water_level_m"]))
                for r in csv.DictReader(fh) if r["station_code"] == code and r["water_level_m"]]


def test_the_crossings_in_the_real_series() -> None:
    assert [(c.at, c.direction, c.from_m, c.to_m)
            for c in rules.crossings(series(KIM_LONG_GAUGE), 2.5)] == [
        (UP, "up", 2.48, 2.57), (DOWN, "down", 2.54, 2.45)]


# ------------------------------------------------------------------------------- helpers

def subscribe(engine: Engine, address: str, wards: Sequence[str], *, language: str = "vi",
              min_level: int = 1) -> int:
    with transaction(engine) as s:
        return add_subscription(s, region="hue", wards=wards, channel="email",
                                address=address, language=language, min_level=min_level).id


def threshold(engine: Engine, subscription_id: int, station: str = KIM_LONG_GAUGE,
              level_m: float = 2.5, **kw: Any) -> int:
    with transaction(engine) as s:
        return add_threshold(s, subscription_id, station=station, level_m=level_m, **kw).id


def replay(engine: Engine, start: datetime, end: datetime, publish: Path | None = None
           ) -> dict[datetime, AssessResult]:
    def enqueue_at(at: datetime) -> OnTransitions:
        def enqueue(session: Session, rows: Sequence[AlertTransition]) -> None:
            outbox.enqueue(session, rows, now=at)
        return enqueue

    out = {}
    at = start
    while at <= end:
        out[at] = assess(engine, "hue", at=at, publish_dir=publish, cap_options=OPTIONS,
                         on_transitions=enqueue_at(at))
        at += H
    return out


def transitions(engine: Engine, hazard: str) -> list[tuple[str, AlertTransition]]:
    with transaction(engine) as s:
        return [(code, t) for t, code in s.execute(
            sa.select(AlertTransition, Area.code).join(Area, Area.id == AlertTransition.area_id)
            .where(AlertTransition.hazard == hazard).order_by(AlertTransition.at))]


def notified(engine: Engine) -> dict[int, list[str]]:
    """The hazards each subscription is notified of."""
    out: dict[int, list[str]] = {}
    with engine.connect() as conn:
        for sub, hazard in conn.execute(
                sa.select(Notification.subscription_id, AlertTransition.hazard)
                .join(AlertTransition, AlertTransition.id == Notification.transition_id)
                .order_by(Notification.id)):
            out.setdefault(sub, []).append(hazard)
    return out


# ------------------------------------------------------------------------------- the replay

def test_a_threshold_at_kim_long_through_the_november_2025_flood(
        hue: Engine, tmp_path: Path, smtp: tuple[Any, int]) -> None:
    # the owners watch another ward from level 5 only: a threshold reaches them regardless
    owner_en = subscribe(hue, "ban@hue.example.org", [PHU_XUAN], language="en", min_level=5)
    owner_vi = subscribe(hue, "me@hue.example.org", [PHU_XUAN], min_level=5)
    neighbour = subscribe(hue, "hangxom@hue.example.org", [KIM_LONG_WARD])  # Kim Long, level 1
    mine = threshold(hue, owner_en, label="our yard floods")
    theirs = threshold(hue, owner_vi, "Kim Long", 2.5)
    results = replay(hue, START, END, tmp_path)

    # one alert at the reading that reaches 2.50 m (no fire_after: see policy_for), one end
    # hold_for after it falls back; kept under Kim Long ward, the ward holding the gauge
    assert user_thresholds.policy_for(DEFAULT_POLICY).fire_after == timedelta(0) < (
        DEFAULT_POLICY.fire_after)
    for tid in (mine, theirs):
        got = transitions(hue, f"user_threshold:{tid}")
        assert [(code, t.at, t.kind, t.level, t.previous_level) for code, t in got] == [
            (KIM_LONG_WARD, UP, "alert", 1, 0), (KIM_LONG_WARD, DOWN + HOLD, "cancel", 0, 1)]
    [(_, fired), (_, ended)] = transitions(hue, f"user_threshold:{mine}")
    assert "Kim Long 2.57 m ≥ your threshold 2.50 m" in fired.reason
    assert fired.evidence["threshold"] == {
        "id": mine, "subscription_id": owner_en, "station_code": KIM_LONG_GAUGE,
        "station_name": "Kim Long", "threshold_m": 2.5, "direction": "above",
        "label": "our yard floods"}
    assert [(g["code"], g["level_m"]) for g in fired.evidence["gauges"]] == [
        (KIM_LONG_GAUGE, 2.57)]
    assert ended.reason.startswith("all clear: no user_threshold condition since "
                                   "2025-11-17T22:00")
    assert ended.evidence["gauges"][0]["level_m"] == 2.06  # 18 Nov 11:00 local
    # the same hour's reading as the river rules: Kim Long's condition at UP says 2.57 m too
    river = [c for c in results[UP].conditions
             if c.area_code == KIM_LONG_WARD and c.hazard == "river_flood"]
    assert "Kim Long 2.57 m ≥ BĐ II 2.00 m" in river[0].reasons[0]

    # only the owners are notified, each of their own threshold; the ward's subscriber gets
    # the public river-flood alerts and none of these
    sent = notified(hue)
    assert sent[owner_en] == [f"user_threshold:{mine}"] * 2
    assert sent[owner_vi] == [f"user_threshold:{theirs}"] * 2
    assert sent[neighbour] and set(sent[neighbour]) == {"river_flood"}

    # personal: no CAP document, not in the index, not in what assess returns as documents
    files = [p.name for p in (tmp_path / "cap").iterdir()]
    assert files and not [f for f in files if "user_threshold" in f]
    assert "user_threshold" not in (tmp_path / "cap" / "index.atom").read_text(encoding="utf-8")
    assert not [d for r in results.values() for d in r.documents if "user_threshold" in d]
    with transaction(hue) as s:
        public = s.scalars(sa.select(AlertTransition.hazard).distinct()
                           .where(user_thresholds.public_only(AlertTransition.hazard))).all()
    assert set(public) == {"river_flood"}

    # what the owners read, in their language, through the real dispatcher and SMTP server
    recorder, port = smtp
    settings = WarningsSettings(public_url=PUBLIC_URL, smtp=SmtpSettings(
        host="127.0.0.1", port=port, starttls=False, sender="Cảnh báo lũ <canhbao@hue.example>",
        timeout_s=5))
    summary = Dispatcher(hue, settings, settings.channels(environ={}),
                         now=lambda: END).run_once()
    assert summary.dead == summary.in_doubt == 0
    mails = {(str(m["To"]), str(m["Subject"])): m for m in recorder.mails()}
    en_alert = mails[("ban@hue.example.org",
                      "Kim Long 2.57 m – has reached your threshold of 2.50 m")]
    en_end = mails[("ban@hue.example.org", "Kim Long back below your threshold of 2.50 m")]
    vi_alert = mails[("me@hue.example.org",
                      "Kim Long 2,57 m – mực nước đã lên tới ngưỡng 2,50 m của bạn")]
    vi_end = mails[("me@hue.example.org",
                    "Kim Long: mực nước đã xuống dưới ngưỡng 2,50 m của bạn")]

    def text(mail: EmailMessage) -> str:
        body = mail.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    # the 3-h trend at 06:00 local: (2.57 - 2.25) / 3 h; at 11:00 on the 18th (2.06 - 2.34) / 3 h
    assert ("Level now: 2.57 m (reading of 17/11/2025 06:00), rising 0.11 m/h."
            in text(en_alert))
    assert "Your note: our yard floods" in text(en_alert)
    assert "not an official flood warning" in text(en_alert)
    assert "risk" not in text(en_alert).lower()  # no official risk level, no instruction
    assert ("has been back below your threshold of 2.50 m since 18/11/2025 05:00"
            in text(en_end))
    assert "Level now: 2.06 m (reading of 18/11/2025 11:00), falling 0.09 m/h." in text(en_end)
    assert ("Mực nước hiện tại: 2,57 m (số liệu lúc 17/11/2025 06:00), đang lên 0,11 m/giờ."
            in text(vi_alert))
    assert "không phải cảnh báo lũ chính thức" in text(vi_alert)
    assert "đã xuống dưới ngưỡng 2,50 m của bạn từ 18/11/2025 05:00" in text(vi_end)
    assert not [k for k in mails if k[0] == "hangxom@hue.example.org" and "ngưỡng" in k[1]]


def test_removing_a_threshold_or_its_subscription_ends_it_quietly(hue: Engine) -> None:
    owner = subscribe(hue, "ban@hue.example.org", [PHU_XUAN])
    first = threshold(hue, owner)
    replay(hue, UP, UP)  # fires at once
    key = f"user_threshold:{first}"
    with transaction(hue) as s:
        assert s.scalar(sa.select(AlertStateRow.status).where(AlertStateRow.hazard == key)) == (
            "firing")
        view = remove_threshold(s, first)
    assert not view.active
    with transaction(hue) as s:  # its state is gone, its undelivered message dropped
        assert s.scalar(sa.select(AlertStateRow.status).where(AlertStateRow.hazard == key)) is (
            None)
        [(status, error)] = s.execute(sa.select(Notification.status, Notification.last_error))
        assert (status, error) == ("dead", "threshold removed before delivery")
    after = replay(hue, UP + H, UP + HOLD + 2 * H)  # no all clear for a removed threshold
    assert not [t for r in after.values() for t in r.transitions if t.hazard == key]

    # a threshold of a removed subscription is not assessed; its state is dropped
    second = threshold(hue, owner, level_m=2.6)
    replay(hue, UP + HOLD + 3 * H, UP + HOLD + 3 * H)
    with transaction(hue) as s:
        remove_subscription(s, owner)
    replay(hue, UP + HOLD + 4 * H, UP + HOLD + 4 * H)
    with transaction(hue) as s:
        assert not s.scalars(sa.select(AlertStateRow).where(
            AlertStateRow.hazard == f"user_threshold:{second}")).all()
        remove_subscription(s, owner, purge=True)
        assert list_thresholds(s, include_inactive=True) == []
    # ids are never reused, so no old state or transition passes to a new threshold
    again = subscribe(hue, "ban@hue.example.org", [PHU_XUAN])
    assert threshold(hue, again) > second


# ------------------------------------------------------------------------------- bad input

@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"station": "Atlantis"}, NotFoundError, "no station 'Atlantis'"),
    ({"station": "Kim Lon"}, NotFoundError, "no station 'Kim Lon' (close: Kim Long 71520)"),
    ({"station": "Hồ Tả Trạch"}, InputError, "is not a river gauge the warnings watch; "
                                             "thresholds can be set on Kim Long (71520)"),
    ({"station": " "}, InputError, "name a station"),
    ({"level_m": -0.5}, InputError, "the threshold at Kim Long must be 0 to 11.62 m (twice its "
                                    "historic maximum of 5.81 m), not -0.5 m"),
    ({"level_m": 11.7}, InputError, "must be 0 to 11.62 m"),
    ({"level_m": float("nan")}, InputError, "must be a number of metres"),
    ({"station": "Phu Oc", "level_m": 11.0}, InputError, "must be 0 to 10.62 m"),
    ({"direction": "sideways"}, InputError, "the direction must be above or below"),
    ({"label": "x" * 201}, InputError, "at most 200 characters"),
    ({"subscription_id": 99}, NotFoundError, "no subscription 99"),
    ({"subscription_id": "removed"}, InputError, "is removed; subscribe again first"),
    ({"level_m": 2.504}, InputError, "already has this threshold"),
])
def test_bad_input_is_refused_and_nothing_stored(
        hue: Engine, changes: dict[str, Any], error: type[Exception], message: str) -> None:
    owner = subscribe(hue, "ban@hue.example.org", [PHU_XUAN])
    threshold(hue, owner)  # 2.50 m above at Kim Long
    gone = subscribe(hue, "cu@hue.example.org", [PHU_XUAN])
    with transaction(hue) as s:
        remove_subscription(s, gone)
    values: dict[str, Any] = {"subscription_id": owner, "station": KIM_LONG_GAUGE,
                              "level_m": 3.0, **changes}
    if values["subscription_id"] == "removed":
        values["subscription_id"] = gone
    with pytest.raises(error) as caught, transaction(hue) as s:
        add_threshold(s, values.pop("subscription_id"), **values)
    assert message in str(caught.value)
    with transaction(hue) as s:
        assert [(v.station_code, v.level_m) for v in list_thresholds(s, include_inactive=True)
                ] == [(KIM_LONG_GAUGE, 2.5)]
    with pytest.raises(NotFoundError, match="no threshold 7"), transaction(hue) as s:
        remove_threshold(s, 7)


# ------------------------------------------------------------------------------- the outbox

def test_the_outbox_sends_a_threshold_to_its_owner_only(hue: Engine) -> None:
    """Table-driven: whatever the ward and level, a threshold's transition goes to the
    subscription that owns it, while both are active, and to nobody when its key is broken."""
    owner = subscribe(hue, "ban@hue.example.org", [PHU_XUAN], min_level=5)
    neighbour = subscribe(hue, "hangxom@hue.example.org", [KIM_LONG_WARD])
    tid = threshold(hue, owner)
    removed = threshold(hue, owner, level_m=3.0)
    with transaction(hue) as s:
        remove_threshold(s, removed)
    cases = [(f"user_threshold:{tid}", 1, {owner}), (f"user_threshold:{tid}", 0, {owner}),
             (f"user_threshold:{removed}", 1, set()), ("user_threshold:x", 1, set()),
             ("user_threshold:", 1, set()), ("river_flood", 1, {neighbour})]
    with transaction(hue) as s:
        area = s.scalar(sa.select(Area.id).where(Area.level == "ward",
                                                 Area.code == KIM_LONG_WARD))
        rows = [AlertTransition(area_id=area, hazard=hazard, sequence=i + 1, kind="alert",
                                level=level, previous_level=0, at=UP, reason="test",
                                evidence={}, cap_identifier=f"urn:test:{i}")
                for i, (hazard, level, _) in enumerate(cases)]
        s.add_all(rows)
        s.flush()
        outbox.enqueue(s, rows, now=UP)
        got = _recipients(s, rows)
    assert got == [expected for _, _, expected in cases]


def _recipients(s: Session, rows: Sequence[AlertTransition]) -> list[set[int]]:
    pairs = s.execute(sa.select(Notification.transition_id, Notification.subscription_id)).all()
    return [{sub for t, sub in pairs if t == row.id} for row in rows]


# ------------------------------------------------------------------------------- the messages

def _transition(kind: str, evidence: dict[str, Any]) -> AlertTransition:
    return AlertTransition(id=1, kind=kind, hazard="user_threshold:4", level=int(kind != "cancel"),
                           previous_level=int(kind == "cancel"), at=DOWN + HOLD,
                           reason="English reason", evidence=evidence,
                           cap_identifier="floodwatch-hue-19774-user_threshold_4-1")


GAUGE = {"code": "71518", "name": "Phú Ốc", "level_m": 2.93,
         "observed_at": (DOWN + HOLD).isoformat(), "rate_m_per_h": -0.2, "bd_m": [1.5, 3.0, 4.5]}
BELOW = {"id": 4, "station_code": "71518", "station_name": "Phú Ốc", "threshold_m": 3.0,
         "direction": "below", "label": "<b>ruộng</b>"}


@pytest.mark.parametrize(("kind", "evidence", "language", "subject", "sms"), [
    ("alert", {"threshold": BELOW, "gauges": [GAUGE]}, "en",
     "Phú Ốc 2.93 m – has fallen below your threshold of 3.00 m",
     "Phú Ốc 2.93 m fell below your threshold 3.00 m, falling"),
    ("alert", {"threshold": BELOW, "gauges": [GAUGE]}, "vi",
     "Phú Ốc 2,93 m – mực nước đã xuống dưới ngưỡng 3,00 m của bạn",
     "Phú Ốc 2,93 m đã xuống dưới ngưỡng 3,00 m của bạn, đang xuống"),
    ("cancel", {"threshold": BELOW, "gauges": [GAUGE],
                "lifecycle": {"rule": "all_clear", "clear_since": DOWN.isoformat()}}, "en",
     "Phú Ốc back above your threshold of 3.00 m",
     "Phú Ốc back above your threshold 3.00 m, now 2.93 m"),
    ("cancel", {"threshold": BELOW, "gauges": [], "lifecycle": {"rule": "stale"}}, "en",
     "Phú Ốc: no recent readings – your 3.00 m threshold alert ends",
     "Phú Ốc: no recent readings, your 3.00 m threshold alert ends"),
    ("cancel", {"threshold": BELOW, "gauges": [], "lifecycle": {"rule": "stale"}}, "vi",
     "Phú Ốc: không còn số liệu mới – kết thúc tin báo theo ngưỡng 3,00 m của bạn",
     "Phú Ốc: không còn số liệu mới, kết thúc tin báo ngưỡng 3,00 m"),
])
def test_threshold_messages(kind: str, evidence: dict[str, Any], language: str, subject: str,
                            sms: str) -> None:
    area = Area(region="hue", level="ward", code="19996", name_vi="Hương Trà")
    ctx = message_context(_transition(kind, evidence), area, language=language,  # type: ignore[arg-type]
                          public_url=PUBLIC_URL, hotline="1900 1075", stations={},
                          rates_m_per_h={}, steady_m_per_h=0.01)
    message = render_message(ctx)
    assert message.subject == subject
    assert message.sms.startswith(sms) and message.sms.endswith(ctx.more_url)
    assert "English reason" not in message.text  # the lifecycle's wording is for the log
    assert "&lt;b&gt;ruộng&lt;/b&gt;" in message.html and "<b>ruộng</b>" in message.text
    if kind == "cancel" and "clear_since" in str(evidence):
        assert "since 18/11/2025 05:00" in message.text


def test_a_threshold_transition_without_its_threshold_is_an_input_error() -> None:
    area = Area(region="hue", level="ward", code="19774", name_vi="Kim Long")
    with pytest.raises(InputError, match="does not say the threshold"):
        message_context(_transition("alert", {"gauges": [GAUGE]}), area, language="en",
                        public_url=PUBLIC_URL, hotline=None, stations={}, rates_m_per_h={},
                        steady_m_per_h=0.01)
