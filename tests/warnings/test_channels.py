"""Delivery channels against real servers on loopback: SMTP (aiosmtpd, STARTTLS, AUTH) and HTTP
(a webhook receiver that checks signatures, an SMS gateway that records what it got)."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.warnings.channels import (
    DeliveryError,
    EmailChannel,
    SmsGatewayChannel,
    SmsGatewaySettings,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
    validate_address,
)
from floodwatch.warnings.channels.email import message_id
from floodwatch.warnings.channels.webhook import verify
from floodwatch.warnings.messages import GaugeReading, Message, MessageContext, render_message
from floodwatch.warnings.sms_text import sms_encoding, sms_segments

NOW = datetime(2025, 11, 17, 1, 0, tzinfo=UTC)
URL = "https://canhbao.hue.example/w/19765"
SECRET = "s3cret-hmac-key"
ENV = {"FW_HOOK_SECRET": SECRET, "FW_SMTP_PASSWORD": "mat-khau-2025", "FW_SMS_TOKEN": "tok123"}


def make_message(language: str = "vi") -> Message:
    ctx = MessageContext(
        language=language, kind="alert", level=4, ward_name="Phường Phú Hội", ward_code="19765",
        as_of=NOW, more_url=URL,
        gauges=(GaugeReading("Bồ @ Phú Ốc", 4.96, (1.5, 3.0, 4.5), 3, "rising", 0.12),))
    return render_message(ctx)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- SMTP -----------------------------------------------------------------------------------

@dataclass
class SmtpRecorder:
    """An aiosmtpd handler: refuses some recipients, keeps every message it accepts."""

    messages: list[bytes] = field(default_factory=list)
    mechanisms: list[str] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=lambda: {
        "gone@example.org": "550 5.1.1 No such user",
        "busy@example.org": "451 4.3.0 Try again later",
    })

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        self.mechanisms.append(mechanism)
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == b"canhbao"
              and auth_data.password == b"mat-khau-2025")
        return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_plain() -> Iterator[tuple[SmtpRecorder, int]]:
    recorder, port = SmtpRecorder(), free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> str:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def smtp_tls_server(ca: trustme.CA, exclude: list[str]) -> tuple[SmtpRecorder, int, Controller]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_ctx)
    recorder, port = SmtpRecorder(), free_port()
    controller = Controller(
        recorder, hostname="127.0.0.1", port=port, tls_context=server_ctx, require_starttls=True,
        auth_required=True, auth_require_tls=True, authenticator=recorder.authenticate,
        auth_exclude_mechanism=exclude)
    controller.start()
    return recorder, port, controller


def parse(raw: bytes) -> EmailMessage:
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_email_arrives_with_subject_bodies_and_headers(smtp_plain: tuple[SmtpRecorder, int]
                                                       ) -> None:
    recorder, port = smtp_plain
    channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=port, starttls=False,
                                        sender="Cảnh báo lũ Huế <canhbao@hue.example.org>",
                                        timeout_s=5), clock=lambda: NOW)
    message = make_message()
    receipt = channel.send(" ban@Example.ORG ", message, idempotency_key="n-19765-42", payload={})
    assert receipt.address == "ban@example.org" and receipt.sent_at == NOW
    [raw] = recorder.messages
    assert raw.isascii(), "headers and bodies are transfer-encoded"
    mail = parse(raw)
    assert mail["Subject"] == message.subject == "Cảnh báo lũ Cấp 4 (đỏ) – Phường Phú Hội"
    assert mail["To"] == "ban@example.org"
    assert mail["From"].addresses[0].display_name == "Cảnh báo lũ Huế"
    assert mail["Auto-Submitted"] == "auto-generated"
    assert mail["Content-Language"] == "vi"
    assert mail["Message-ID"] == receipt.provider_id
    assert mail["Message-ID"] == message_id("n-19765-42", "hue.example.org")
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n") == message.text
    assert "Phường Phú Hội" in html.get_content() and "<!DOCTYPE html>" in html.get_content()

    channel.send("ban@example.org", message, idempotency_key="n-19765-42", payload={})
    channel.send("ban@example.org", message, idempotency_key="n-19765-43", payload={})
    ids = [parse(raw)["Message-ID"] for raw in recorder.messages]
    assert ids[0] == ids[1] != ids[2], "a resend keeps its Message-ID, a new one does not"


@pytest.mark.parametrize(("use", "exclude"), [("LOGIN", ["PLAIN"]), ("PLAIN", ["LOGIN"])])
def test_email_over_starttls_with_auth(ca: trustme.CA, ca_file: str, use: str,
                                       exclude: list[str]) -> None:
    recorder, port, controller = smtp_tls_server(ca, exclude)
    try:
        settings = SmtpSettings(host="127.0.0.1", port=port, starttls=True, username="canhbao",
                                password_env="FW_SMTP_PASSWORD", sender="canhbao@hue.example.org",
                                timeout_s=5, ca_file=ca_file)
        EmailChannel(settings, environ=ENV).send("ban@example.org", make_message("en"),
                                                 idempotency_key="k1", payload={})
        assert recorder.mechanisms == [use]
        [raw] = recorder.messages
        assert parse(raw)["Content-Language"] == "en"

        wrong = EmailChannel(settings, environ={"FW_SMTP_PASSWORD": "sai"})
        with pytest.raises(DeliveryError) as bad_password:
            wrong.send("ban@example.org", make_message(), idempotency_key="k2", payload={})
        assert bad_password.value.permanent and bad_password.value.status == 535
    finally:
        controller.stop()


def test_email_tls_with_an_untrusted_certificate_is_permanent(ca: trustme.CA) -> None:
    _, port, controller = smtp_tls_server(ca, [])
    try:
        channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=port, starttls=True,
                                            sender="canhbao@hue.example.org", timeout_s=5))
        with pytest.raises(DeliveryError, match="not trusted") as err:
            channel.send("ban@example.org", make_message(), idempotency_key="k", payload={})
        assert err.value.permanent
    finally:
        controller.stop()


@pytest.mark.parametrize(("address", "temporary", "status"), [
    ("gone@example.org", False, 550),
    ("busy@example.org", True, 451),
])
def test_email_refused_recipient(smtp_plain: tuple[SmtpRecorder, int], address: str,
                                 temporary: bool, status: int) -> None:
    recorder, port = smtp_plain
    channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=port, starttls=False,
                                        sender="canhbao@hue.example.org", timeout_s=5))
    with pytest.raises(DeliveryError) as err:
        channel.send(address, make_message(), idempotency_key="k", payload={})
    assert err.value.temporary is temporary and err.value.status == status
    assert recorder.messages == []


def test_email_refused_connection_is_temporary() -> None:
    channel = EmailChannel(SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False,
                                        sender="canhbao@hue.example.org", timeout_s=2))
    with pytest.raises(DeliveryError) as err:
        channel.send("ban@example.org", make_message(), idempotency_key="k", payload={})
    assert err.value.temporary


def test_email_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="FW_NOPE"):
        EmailChannel(SmtpSettings(host="h", username="u", password_env="FW_NOPE",
                                  sender="a@example.org"), environ={})
    with pytest.raises(ConfigError, match="sender"):
        EmailChannel(SmtpSettings(host="h", sender="not an address"))
    with pytest.raises(ConfigError, match="ASCII"):
        EmailChannel(SmtpSettings(host="h", username="u", password_env="P",
                                  sender="a@example.org"), environ={"P": "mật khẩu"})


# --- HTTP servers ---------------------------------------------------------------------------

@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpRecorder:
    """A loopback HTTP server: answers by path ("/status/410", "/slow"), checks webhook
    signatures on "/hook*" (401 when wrong) and keeps every request."""

    port: int = 0
    requests: list[Received] = field(default_factory=list)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http_server() -> Iterator[HttpRecorder]:
    recorder = HttpRecorder()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            recorder.requests.append(Received(self.command, self.path,
                                              dict(self.headers.items()), body))
            path = urlsplit(self.path).path
            status, extra = 200, {}
            if path.startswith("/hook") and not verify(
                    body, SECRET, self.headers.get("X-Floodwatch-Signature", "")):
                status = 401
            elif path.startswith("/status/"):
                status = int(path.rsplit("/", 1)[1])
                if status == 503:
                    extra["Retry-After"] = "7"
            elif path == "/slow":
                time.sleep(1.5)
            reply = b'{"id": "gw-1"}'
            try:
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)
            except (BrokenPipeError, ConnectionResetError):
                pass  # "/slow": the client gave up, as it should

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    recorder.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield recorder
    server.shutdown()
    server.server_close()


# --- webhook --------------------------------------------------------------------------------

def hook_channel(timeout_s: float = 5, secret_env: str = "FW_HOOK_SECRET",
                 environ: dict[str, str] | None = None) -> WebhookChannel:
    return WebhookChannel(WebhookSettings(secret_env=secret_env, timeout_s=timeout_s,
                                          allow_insecure_loopback=True),
                          environ=ENV if environ is None else environ, clock=lambda: NOW)


def test_webhook_posts_signed_json(http_server: HttpRecorder) -> None:
    payload = {"ward": "Phường Phú Hội", "level": 4, "as_of": NOW, "kind": "alert"}
    receipt = hook_channel().send(http_server.url("/hook"), make_message(),
                                  idempotency_key="n-19765-42", payload=payload)
    assert receipt.detail == "HTTP 200"
    [req] = http_server.requests
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Idempotency-Key"] == "n-19765-42"
    assert req.headers["X-Floodwatch-Timestamp"] == str(int(NOW.timestamp()))
    assert verify(req.body, SECRET, req.headers["X-Floodwatch-Signature"])
    assert json.loads(req.body.decode("utf-8")) == {**payload, "as_of": NOW.isoformat()}


def test_webhook_with_the_wrong_secret_is_refused_permanently(http_server: HttpRecorder
                                                              ) -> None:
    channel = hook_channel(environ={"FW_HOOK_SECRET": "another"})
    with pytest.raises(DeliveryError) as err:
        channel.send(http_server.url("/hook"), make_message(), idempotency_key="k",
                     payload={"a": 1})
    assert err.value.status == 401 and err.value.permanent


@pytest.mark.parametrize(("status", "temporary"), [
    (500, True), (502, True), (503, True), (408, True), (429, True),
    (400, False), (404, False), (410, False), (422, False), (301, False),
])
def test_webhook_http_status_decides_retry(http_server: HttpRecorder, status: int,
                                           temporary: bool) -> None:
    with pytest.raises(DeliveryError) as err:
        hook_channel().send(http_server.url(f"/status/{status}"), make_message(),
                            idempotency_key="k", payload={})
    assert err.value.status == status and err.value.temporary is temporary
    assert err.value.retry_after_s == (7.0 if status == 503 else None)


def test_webhook_timeout_and_refused_connection_are_temporary(http_server: HttpRecorder
                                                              ) -> None:
    with pytest.raises(DeliveryError, match="no answer") as slow:
        hook_channel(timeout_s=0.3).send(http_server.url("/slow"), make_message(),
                                         idempotency_key="k", payload={})
    assert slow.value.temporary
    with pytest.raises(DeliveryError) as refused:
        hook_channel().send(f"http://127.0.0.1:{free_port()}/hook", make_message(),
                            idempotency_key="k", payload={})
    assert refused.value.temporary


def test_webhook_refuses_insecure_urls_before_sending(http_server: HttpRecorder) -> None:
    strict = WebhookChannel(WebhookSettings(secret_env="FW_HOOK_SECRET"), environ=ENV)
    for url in (http_server.url("/hook"), "http://hooks.example.org/x"):
        with pytest.raises(DeliveryError, match="https") as err:
            strict.send(url, make_message(), idempotency_key="k", payload={})
        assert err.value.permanent
    with pytest.raises(DeliveryError, match="https"):
        hook_channel().send("http://hooks.example.org/x", make_message(), idempotency_key="k",
                            payload={})
    assert http_server.requests == []


def test_webhook_settings_and_inputs_are_checked() -> None:
    with pytest.raises(ConfigError, match="FW_MISSING"):
        hook_channel(secret_env="FW_MISSING")
    with pytest.raises(InputError, match="idempotency key"):
        hook_channel().send("https://h.example.org/", make_message(), idempotency_key="a\r\nb",
                            payload={})
    with pytest.raises(InputError, match="JSON"):
        hook_channel().send("https://h.example.org/", make_message(), idempotency_key="k",
                            payload={"x": object()})


# --- SMS gateway ----------------------------------------------------------------------------

def sms_channel(server: HttpRecorder, **overrides: Any) -> SmsGatewayChannel:
    values: dict[str, Any] = {
        "url_template": server.url("/send?to={to}&text={text}&ref={idempotency_key}"),
        "auth_header": "Authorization", "auth_env": "FW_SMS_TOKEN", "auth_prefix": "Bearer ",
        "allow_insecure_loopback": True, "timeout_s": 5,
    }
    values.update(overrides)
    return SmsGatewayChannel(SmsGatewaySettings(**values), environ=ENV)


def test_sms_get_gateway_receives_vietnamese_text_intact(http_server: HttpRecorder) -> None:
    message = make_message()
    receipt = sms_channel(http_server).send("0912 345 678", message, idempotency_key="n-42",
                                            payload={})
    assert receipt.address == "+84912345678" and receipt.provider_id == '{"id": "gw-1"}'
    [req] = http_server.requests
    assert req.method == "GET" and req.headers["Authorization"] == "Bearer tok123"
    query = parse_qs(urlsplit(req.path).query, encoding="utf-8", strict_parsing=True)
    assert query["to"] == ["+84912345678"] and query["ref"] == ["n-42"]
    [text] = query["text"]
    assert text == message.sms
    assert "Phường Phú Hội" in text and text.endswith(" " + URL)
    assert sms_segments(text) in (("ucs2", 1), ("ucs2", 2))


def test_sms_post_json_gateway(http_server: HttpRecorder) -> None:
    channel = sms_channel(http_server, url_template=http_server.url("/api/sms"), method="POST",
                          body_template={"to": "{to}", "message": "{text}",
                                         "meta": {"ref": "{idempotency_key}", "n": 1}})
    message = make_message()
    channel.send("+84 912 345 678", message, idempotency_key="n-42", payload={})
    [req] = http_server.requests
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["Idempotency-Key"] == "n-42"
    assert json.loads(req.body.decode("utf-8")) == {
        "to": "+84912345678", "message": message.sms, "meta": {"ref": "n-42", "n": 1}}


@pytest.mark.parametrize(("ascii_only", "max_segments", "encoding"), [
    (False, 1, "ucs2"), (True, 1, "gsm7"), (True, 2, "gsm7"),
])
def test_sms_gateway_limits_and_ascii_fallback(http_server: HttpRecorder, ascii_only: bool,
                                               max_segments: int, encoding: str) -> None:
    channel = sms_channel(http_server, ascii_only=ascii_only, max_segments=max_segments)
    channel.send("0912345678", make_message(), idempotency_key="k", payload={})
    [req] = http_server.requests
    [text] = parse_qs(urlsplit(req.path).query)["text"]
    assert sms_encoding(text) == encoding
    assert sms_segments(text)[1] <= max_segments
    assert text.endswith(" " + URL)
    if ascii_only:
        assert "Phuong Phu Hoi" in text


@pytest.mark.parametrize(("status", "temporary"), [(500, True), (429, True), (400, False),
                                                   (401, False)])
def test_sms_gateway_errors(http_server: HttpRecorder, status: int, temporary: bool) -> None:
    channel = sms_channel(http_server, url_template=http_server.url(
        f"/status/{status}?to={{to}}&text={{text}}"))
    with pytest.raises(DeliveryError) as err:
        channel.send("0912345678", make_message(), idempotency_key="k", payload={})
    assert err.value.temporary is temporary


def test_sms_bad_number_is_permanent_and_not_sent(http_server: HttpRecorder) -> None:
    with pytest.raises(DeliveryError, match="phone number") as err:
        sms_channel(http_server).send("12345", make_message(), idempotency_key="k", payload={})
    assert err.value.permanent and http_server.requests == []


@pytest.mark.parametrize(("overrides", "fragment"), [
    ({"url_template": "http://gw.example.org/send?to={to}&text={text}"}, "https"),
    ({"method": "POST"}, "body_template"),
    ({"url_template": "https://gw.example.org/send?to={to}"}, "{text}"),
    ({"auth_env": None}, "auth_header and auth_env"),
    ({"auth_env": "FW_NOT_SET"}, "FW_NOT_SET"),
    ({"max_segments": 0}, "max_segments"),
])
def test_sms_settings_are_checked(overrides: dict[str, Any], fragment: str) -> None:
    values: dict[str, Any] = {"url_template": "https://gw.example.org/s?to={to}&text={text}",
                              "auth_header": "X-Key", "auth_env": "FW_SMS_TOKEN"}
    values.update(overrides)
    with pytest.raises(ConfigError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        SmsGatewayChannel(SmsGatewaySettings(**values), environ=ENV)


# --- addresses ------------------------------------------------------------------------------

@pytest.mark.parametrize(("channel", "address", "normalised"), [
    ("email", "canhbao@hue.gov.vn", "canhbao@hue.gov.vn"),
    ("email", "  Ban.Tran@Example.ORG ", "Ban.Tran@example.org"),
    ("sms", "0912345678", "+84912345678"),
    ("sms", "0912 345 678", "+84912345678"),
    ("sms", "+84 91 234 56 78", "+84912345678"),
    ("sms", "84912345678", "+84912345678"),
    ("sms", "+1 650-253-0000", "+16502530000"),
    ("webhook", "https://hooks.example.org/floodwatch", "https://hooks.example.org/floodwatch"),
    ("webhook", "HTTPS://Hooks.Example.ORG/x?a=1", "https://hooks.example.org/x?a=1"),
])
def test_validate_address_normalises(channel: str, address: str, normalised: str) -> None:
    assert validate_address(channel, address) == normalised


@pytest.mark.parametrize(("channel", "address", "fragment"), [
    ("email", "not-an-email", "not an e-mail address"),
    ("email", "a@@example.org", "not an e-mail address"),
    ("email", "ban@localhost", "not an e-mail address"),
    ("email", "", "not an e-mail address"),
    ("sms", "hello", "not a phone number"),
    ("sms", "12345", "not a valid phone number"),
    ("sms", "+84 12", "phone number"),
    ("sms", "", "not a phone number"),
    ("webhook", "http://hooks.example.org/x", "not an https URL"),
    ("webhook", "ftp://hooks.example.org/x", "not an https URL"),
    ("webhook", "https://user:pw@hooks.example.org/x", "must not hold credentials"),
    ("webhook", "/relative/path", "host"),
    ("webhook", "http://127.0.0.1:8080/x", "not an https URL"),
    ("fax", "+84912345678", "unknown channel"),
])
def test_validate_address_rejects(channel: str, address: str, fragment: str) -> None:
    with pytest.raises(InputError, match=fragment) as err:
        validate_address(channel, address)
    assert "pw" not in str(err.value)


def test_validate_address_allows_loopback_http_only_when_asked() -> None:
    url = "http://127.0.0.1:8080/hook"
    assert validate_address("webhook", url, allow_insecure_loopback=True) == url
    with pytest.raises(InputError):
        validate_address("webhook", "http://10.0.0.1/hook", allow_insecure_loopback=True)
