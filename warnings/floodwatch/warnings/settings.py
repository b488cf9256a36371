"""Settings of alert delivery: the channels, retries and what messages link to.

Read from the ``[warnings]`` table of the TOML file named by FLOODWATCH_CONFIG, or from
FLOODWATCH_… variables (FLOODWATCH_SMTP etc. as JSON). A channel without its table is not
configured: its notifications wait in the outbox. Secrets are never here, only the names of the
variables holding them::

    [warnings]
    public_url = "https://canhbao.hue.example"
    max_attempts = 5

    [warnings.smtp]
    host = "smtp.example.org"
    username = "canhbao"
    password_env = "FW_SMTP_PASSWORD"
    sender = "Cảnh báo lũ Huế <canhbao@hue.example>"

    [warnings.webhook]
    secret_env = "FW_WEBHOOK_SECRET"

    [warnings.sms]
    url_template = "https://gw.example/send?to={to}&text={text}"
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from floodwatch.core.settings import ComponentSettings
from floodwatch.warnings.channels import (
    Channel,
    EmailChannel,
    SmsGatewayChannel,
    SmsGatewaySettings,
    SmtpSettings,
    WebhookChannel,
    WebhookSettings,
)


class WarningsSettings(ComponentSettings):
    toml_section: ClassVar[str] = "warnings"

    public_url: str = "http://localhost:8000"  # the public map; messages link to it
    hotline: str | None = "1900 1075"  # Huế's flood hotline, printed in messages
    smtp: SmtpSettings | None = None
    webhook: WebhookSettings | None = None
    sms: SmsGatewaySettings | None = None
    max_attempts: int = Field(5, ge=1)  # temporary failures before a notification is dead
    backoff_base_s: float = Field(30.0, gt=0)  # wait after the first failure, doubled after each
    backoff_cap_s: float = Field(3600.0, gt=0)  # the longest wait
    dispatch_batch_size: int = Field(50, ge=1)  # notifications per dispatcher pass
    dispatch_interval_s: float = Field(30.0, gt=0)  # pause between passes of a running dispatcher
    trend_window_h: float = Field(3.0, gt=0)  # gauge trend in messages: change over this window
    trend_steady_m_per_h: float = Field(0.01, ge=0)  # slower than this is "steady"

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"public_url must be an http(s) URL, not {value!r}")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _backoff_order(self) -> WarningsSettings:
        if self.backoff_cap_s < self.backoff_base_s:
            raise ValueError("backoff_cap_s must be at least backoff_base_s")
        return self

    def backoff(self, attempts: int) -> timedelta:
        """The wait after ``attempts`` failed attempts: base · 2^(attempts − 1), capped."""
        exponent = min(max(attempts - 1, 0), 32)
        return timedelta(seconds=min(self.backoff_cap_s, self.backoff_base_s * 2**exponent))

    @property
    def allow_loopback_webhooks(self) -> bool:
        """Whether subscriptions may name http://127.0.0.1 webhooks (tests, local receivers)."""
        return self.webhook is not None and self.webhook.allow_insecure_loopback

    def channels(self, environ: Mapping[str, str] | None = None) -> dict[str, Channel]:
        """The configured channels by name; ConfigError when one is configured wrongly."""
        out: dict[str, Channel] = {}
        if self.smtp is not None:
            out["email"] = EmailChannel(self.smtp, environ=environ)
        if self.webhook is not None:
            out["webhook"] = WebhookChannel(self.webhook, environ=environ)
        if self.sms is not None:
            out["sms"] = SmsGatewayChannel(self.sms, environ=environ)
        return out
