"""The dispatcher on both backends against real servers on loopback (aiosmtpd, an HTTP webhook
receiver): delivery in each language, retries with back-off and dead letters, channels that are
not configured, removed subscriptions, and a dispatcher killed while sending: in doubt, never
sent twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Engine

from floodwatch.cli.main import run
from floodwatch.core.db import transaction
from floodwatch.core.errors import ConfigError
from floodwatch.gis_data.models import Area
from floodwatch.warnings import rules
from floodwatch.warnings.channels import SmtpSettings, WebhookSettings
from floodwatch.warnings.channels.email import message_id
from floodwatch.warnings.channels.webhook import verify
from floodwatch.warnings.dispatch import Dispatcher, dispatcher_lock
from floodwatch.warnings.lifecycle import LifecyclePolicy, step
from floodwatch.warnings.model import GaugeReading
from floodwatch.warnings.outbox import enqueue
from floodwatch.warnings.ruleset import load_ruleset
from floodwatch.warnings.settings import WarningsSettings
from floodwatch.warnings.subscriptions import add_subscription, remove_subscription
from floodwatch.warnings.tables import AlertTransition, DeliveryAttempt, Notification

NOW = datetime(2025, 11, 17, 8, 0, tzinfo=UTC)  # Kim Long at its 3.01 m peak, 15:00 local
KIM_LONG = "19774"
ENV = {"FW_HOOK_SECRET": "hook-secret"}
PUBLIC_URL = "https://canhbao.hue.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Receiver:
    """A webhook receiver: answers ``status[path]`` (200 by default); a request to ``hold``
    sets ``arrived`` and gets no answer until ``release`` is set."""

    port: int = 0
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    status: dict[str, int] = field(default_factory=dict)
    hold: str | None = None
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.requests]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            rec.requests.append((self.path, dict(self.headers.items()), body))
            if self.path == rec.hold:
                rec.arrived.set()
                rec.release.wait(60)
            status = rec.status.get(self.path, 200)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the dispatcher was killed while waiting

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    rec.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def settings(smtp_port: int, **overrides: Any) -> WarningsSettings:
    values: dict[str, Any] = {
        "public_url": PUBLIC_URL, "max_attempts": 4,
        "smtp": SmtpSettings(host="127.0.0.1", port=smtp_port, starttls=False,
                             sender="Cảnh báo lũ <canhbao@hue.example.org>", timeout_s=5),
        "webhook": WebhookSettings(secret_env="FW_HOOK_SECRET", allow_insecure_loopback=True,
                                   timeout_s=5)}
    return WarningsSettings(**{**values, **overrides})


def dispatcher(engine: Engine, s: WarningsSettings, clock: Clock) -> Dispatcher:
    return Dispatcher(engine, s, s.channels(environ=ENV), now=clock)


def subscribe(engine: Engine, channel: str, address: str, language: str = "vi") -> int:
    with transaction(engine) as s:
        return add_subscription(s, region="hue", wards=[KIM_LONG], channel=channel,
                                address=address, language=language,
                                allow_insecure_loopback=True).id


def alert(engine: Engine) -> None:
    """Kim Long at 3.01 m through the real rules and lifecycle, stored and enqueued together."""
    condition = rules.river_flood_condition(load_ruleset(), KIM_LONG,
                                            [GaugeReading("71520", 3.01, NOW)], as_of=NOW)
    policy = LifecyclePolicy(timedelta(0), timedelta(hours=3), timedelta(hours=6))
    _, t = step(None, condition, now=NOW, policy=policy)
    assert t is not None
    with transaction(engine) as s:
        area_id = s.scalar(sa.select(Area.id).where(Area.level == "ward", Area.code == KIM_LONG))
        row = AlertTransition(area_id=area_id, hazard=t.hazard, sequence=t.sequence,
                              kind=t.kind, level=t.level, previous_level=t.previous_level,
                              at=t.at, reason=t.reason, evidence=t.evidence,
                              cap_identifier=f"urn:floodwatch:test:{KIM_LONG}:{t.sequence}")
        s.add(row)
        s.flush()
        enqueue(s, [row], now=NOW)


def outbox(engine: Engine) -> dict[int, Notification]:
    """Notifications by subscription id."""
    with transaction(engine) as s:
        return {n.subscription_id: n for n in s.scalars(sa.select(Notification))}


def attempts(engine: Engine, notification_id: int) -> list[DeliveryAttempt]:
    with transaction(engine) as s:
        return list(s.scalars(sa.select(DeliveryAttempt).where(
            DeliveryAttempt.notification_id == notification_id).order_by(DeliveryAttempt.id)))


def parse(raw: bytes) -> EmailMessage:
    mail = message_from_bytes(raw, policy=policy.default)
    assert isinstance(mail, EmailMessage)
    return mail


def test_settings() -> None:
    s = settings(25)
    assert [s.backoff(n).total_seconds() for n in (1, 2, 3, 7, 8, 50)] == [
        30, 60, 120, 1920, 3600, 3600]
    assert sorted(s.channels(environ=ENV)) == ["email", "webhook"]
    assert s.allow_loopback_webhooks and not WarningsSettings().allow_loopback_webhooks
    with pytest.raises(ValidationError, match="http"):
        WarningsSettings(public_url="canhbao.hue.example")
    with pytest.raises(ValidationError, match="backoff_cap_s"):
        WarningsSettings(backoff_base_s=60, backoff_cap_s=30)
    with pytest.raises(ConfigError, match="FW_NOT_SET"):
        WarningsSettings(webhook=WebhookSettings(secret_env="FW_NOT_SET")).channels(environ={})


def test_each_subscriber_gets_the_alert_once_in_their_language(
        hue: Engine, smtp: tuple[Any, int], receiver: Receiver) -> None:
    recorder, port = smtp
    by_mail = subscribe(hue, "email", "ban@hue.example.org", "vi")
    by_hook = subscribe(hue, "webhook", receiver.url("/hook"), "en")
    alert(hue)
    d = dispatcher(hue, settings(port), Clock(NOW))
    summary = d.run_once()
    assert (summary.sent, summary.handled) == (2, 2)
    assert d.run_once().handled == 0
    rows = outbox(hue)

    [raw] = recorder.messages
    mail = parse(raw)
    assert mail["Subject"] == "Cảnh báo lũ Cấp 2 (vàng nhạt) – Kim Long"
    assert mail["Message-ID"] == message_id(rows[by_mail].idempotency_key, "hue.example.org")
    text = mail.get_body(("plain",))
    assert text is not None
    body = text.get_content()
    assert "Kim Long: 3,01 m, trên BĐ II (2,00 m) 1,01 m, đang lên 0,04 m/giờ." in body
    assert f"{PUBLIC_URL}/?lang=vi&area={KIM_LONG}" in body
    assert "17/11/2025 15:00" in body and "alert:" not in body  # no English reason in Vietnamese

    [(path, headers, payload)] = receiver.requests
    assert path == "/hook" and verify(payload, ENV["FW_HOOK_SECRET"],
                                      headers["X-Floodwatch-Signature"])
    assert headers["Idempotency-Key"] == rows[by_hook].idempotency_key
    data = json.loads(payload)
    assert (data["kind"], data["level"], data["hazard"], data["language"]) == (
        "alert", 2, "river_flood", "en")
    assert data["area"] == {"region": "hue", "level": "ward", "code": KIM_LONG,
                            "name": "Kim Long"}
    assert data["evidence"]["gauges"][0]["code"] == "71520"
    assert "Kim Long 3.01 m ≥ BĐ II 2.00 m (risk level 2)" in data["text"]
    assert "rising 0.04 m/h" in data["text"]

    for n in rows.values():
        assert (n.status, n.attempts, n.sent_at, n.last_error) == ("sent", 1, NOW, None)
        [attempt] = attempts(hue, n.id)
        assert attempt.ok and attempt.at == NOW
    assert d.status() == {"pending": 0, "sending": 0, "sent": 2, "dead": 0, "in_doubt": 0}


@pytest.mark.parametrize("down", ["smtp refused", "webhook 500"])
def test_a_channel_that_is_down_retries_then_dead_letters(
        hue: Engine, smtp: tuple[Any, int], receiver: Receiver, down: str) -> None:
    recorder, port = smtp
    by_mail = subscribe(hue, "email", "ban@hue.example.org")
    by_hook = subscribe(hue, "webhook", receiver.url("/hook"))
    if down == "smtp refused":
        port, failing, working, error = free_port(), by_mail, by_hook, "refused"
    else:
        receiver.status["/hook"] = 500
        failing, working, error = by_hook, by_mail, "HTTP 500"
    alert(hue)
    clock = Clock(NOW)
    d = dispatcher(hue, settings(port), clock)
    waits = []
    for attempt in range(1, 5):
        summary = d.run_once()
        row = outbox(hue)[failing]
        assert row.attempts == attempt and error in (row.last_error or "")
        if attempt == 4:
            assert (summary.dead, row.status) == (1, "dead")
            assert (row.last_error or "").startswith("gave up after 4 attempts")
            break
        assert (summary.retrying, row.status) == (1, "pending")
        waits.append(row.next_attempt_at - clock.now)
        clock.now = row.next_attempt_at - timedelta(seconds=1)
        assert d.run_once().handled == 0, "not before its time"
        clock.now = row.next_attempt_at
    assert waits == [timedelta(seconds=s) for s in (30, 60, 120)]
    assert [(a.ok, a.temporary) for a in attempts(hue, outbox(hue)[failing].id)] == [
        (False, True)] * 4
    assert outbox(hue)[working].status == "sent"
    delivered = len(recorder.messages) + len(receiver.requests)
    assert delivered == (1 if down == "smtp refused" else 5)  # the webhook saw 4 failures
    assert d.run_once().handled == 0


def test_a_permanent_failure_is_dead_at_once(
        hue: Engine, smtp: tuple[Any, int], receiver: Receiver) -> None:
    receiver.status["/gone"] = 410
    gone = subscribe(hue, "webhook", receiver.url("/gone"))
    fine = subscribe(hue, "webhook", receiver.url("/fine"))
    alert(hue)
    summary = dispatcher(hue, settings(smtp[1]), Clock(NOW)).run_once()
    assert (summary.dead, summary.sent) == (1, 1)
    rows = outbox(hue)
    assert (rows[gone].status, rows[gone].attempts, rows[fine].status) == ("dead", 1, "sent")
    assert "HTTP 410" in (rows[gone].last_error or "")
    assert [(a.ok, a.temporary) for a in attempts(hue, rows[gone].id)] == [(False, False)]


def test_unconfigured_channels_wait_and_removed_subscriptions_are_dropped(
        hue: Engine, smtp: tuple[Any, int], receiver: Receiver) -> None:
    recorder, port = smtp
    by_sms = subscribe(hue, "sms", "0912345678")
    by_mail = subscribe(hue, "email", "ban@hue.example.org")
    by_hook = subscribe(hue, "webhook", receiver.url("/hook"))
    alert(hue)
    with transaction(hue) as s:
        remove_subscription(s, by_mail)
    d = dispatcher(hue, settings(port), Clock(NOW))
    summary = d.run_once()
    assert (summary.sent, summary.waiting, summary.dropped, summary.handled) == (1, 1, 1, 1)
    rows = outbox(hue)
    sms = rows[by_sms]
    assert (sms.status, sms.attempts, sms.next_attempt_at) == ("pending", 0,
                                                              NOW + timedelta(hours=1))
    assert "channel 'sms' is not configured: add [warnings.sms]" in (sms.last_error or "")
    assert (rows[by_mail].status, rows[by_mail].last_error) == (
        "dead", "subscription removed before delivery")
    assert rows[by_hook].status == "sent" and recorder.messages == []
    assert d.run_once().waiting == 0  # looked at again only after backoff_cap_s
    assert {p["id"] for p in d.problems()} == {sms.id, rows[by_mail].id}


def test_two_dispatchers_at_once_never_claim_the_same_notification(
        hue: Engine, smtp: tuple[Any, int], receiver: Receiver) -> None:
    """The claim itself is safe without the dispatcher lock: SKIP LOCKED on PostgreSQL, the
    guarded UPDATE on SQLite."""
    subs = [subscribe(hue, "webhook", receiver.url(f"/hook/{i}")) for i in range(12)]
    alert(hue)
    s = settings(smtp[1], dispatch_batch_size=12)
    workers = [Dispatcher(hue, s, s.channels(environ=ENV), now=Clock(NOW), worker_id=f"w{i}")
               for i in range(3)]
    threads = [threading.Thread(target=w.run_once) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(receiver.paths()) == sorted(f"/hook/{i}" for i in range(12))
    rows = outbox(hue)
    assert {rows[sub].status for sub in subs} == {"sent"}
    assert sum(len(attempts(hue, n.id)) for n in rows.values()) == 12


def test_a_second_dispatcher_is_refused(hue: Engine, store_url: str,
                                        monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", store_url)
    monkeypatch.delenv("FLOODWATCH_CONFIG", raising=False)
    lock = dispatcher_lock(hue)
    assert lock.try_acquire()
    try:
        assert run(["notify", "dispatch", "--once"]) == 1
        assert "another dispatcher is running" in capsys.readouterr().err
    finally:
        lock.release()
    assert run(["notify", "dispatch", "--once"]) == 0
    assert "no channel is configured" in capsys.readouterr().err


def test_killed_while_sending_is_in_doubt_and_never_sent_twice(
        hue: Engine, store_url: str, smtp: tuple[Any, int], receiver: Receiver,
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The real command is SIGKILLed while the webhook holds its request; restarted, it marks
    that notification in doubt, does not send it again and delivers the others once."""
    recorder, port = smtp
    config = tmp_path / "floodwatch.toml"
    config.write_text(f"""
[warnings]
public_url = "{PUBLIC_URL}"
[warnings.smtp]
host = "127.0.0.1"
port = {port}
starttls = false
sender = "canhbao@hue.example.org"
timeout_s = 5
[warnings.webhook]
secret_env = "FW_HOOK_SECRET"
allow_insecure_loopback = true
timeout_s = 60
""", encoding="utf-8")
    env = {**os.environ, **ENV, "FLOODWATCH_DATABASE_URL": store_url,
           "FLOODWATCH_CONFIG": str(config), "FLOODWATCH_DATA_DIR": str(tmp_path / "data")}
    held = subscribe(hue, "webhook", receiver.url("/hold"), "en")
    others = [subscribe(hue, "webhook", receiver.url("/hook")),
              subscribe(hue, "email", "ban@hue.example.org")]
    alert(hue)
    receiver.hold = "/hold"
    exe = str(Path(sys.executable).with_name("floodwatch"))
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        first = subprocess.Popen([exe, "notify", "dispatch", "--loop-seconds", "0.2"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT)
        try:
            assert receiver.arrived.wait(60), log.read_text()
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(30)
    receiver.release.set()
    assert first.returncode == -signal.SIGKILL
    assert (outbox(hue)[held].status, outbox(hue)[held].attempts) == ("sending", 1)

    second = subprocess.run([exe, "notify", "dispatch", "--once"], env=env, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "1 notification(s) in doubt" in second.stderr
    rows = outbox(hue)
    assert rows[held].status == "in_doubt" and "not sent again" in (rows[held].last_error or "")
    assert [rows[sub].status for sub in others] == ["sent", "sent"]
    assert attempts(hue, rows[held].id) == []  # the outcome is unknown: no attempt recorded
    third = subprocess.run([exe, "notify", "dispatch", "--once"], env=env, capture_output=True,
                           text=True, timeout=120)
    assert third.returncode == 0, third.stderr
    assert sorted(receiver.paths()) == ["/hold", "/hook"]  # each exactly once
    assert len(recorder.messages) == 1

    monkeypatch.setenv("FLOODWATCH_DATABASE_URL", store_url)
    monkeypatch.setenv("FLOODWATCH_CONFIG", str(config))
    capsys.readouterr()
    assert run(["notify", "status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["counts"] == {"pending": 0, "sending": 0, "sent": 2, "dead": 0, "in_doubt": 1}
    assert [(p["id"], p["status"], p["channel"]) for p in report["problems"]] == [
        (rows[held].id, "in_doubt", "webhook")]
    assert run(["notify", "status"]) == 0
    assert "in doubt 1" in capsys.readouterr().out
