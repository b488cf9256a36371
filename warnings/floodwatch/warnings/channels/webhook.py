"""Webhook channel: the payload as JSON, signed with HMAC-SHA256 over the raw body.

Headers: ``X-Floodwatch-Signature: sha256=<hex>`` (HMAC of the exact body bytes with the shared
secret), ``X-Floodwatch-Timestamp`` (Unix seconds when sent; not part of the signature),
``Idempotency-Key`` (the same on every retry of one notification, so receivers can drop
duplicates). Only https URLs, except http to 127.0.0.1/localhost when the settings allow it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import httpx

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.warnings.channels import _http
from floodwatch.warnings.channels.addresses import normalise_webhook_url
from floodwatch.warnings.channels.base import (
    DeliveryError,
    DeliveryReceipt,
    check_idempotency_key,
    secret_from_env,
)
from floodwatch.warnings.messages import Message

SIGNATURE_HEADER = "X-Floodwatch-Signature"
TIMESTAMP_HEADER = "X-Floodwatch-Timestamp"


@dataclass(frozen=True)
class WebhookSettings:
    secret_env: str  # the environment variable holding the shared HMAC secret
    timeout_s: float = 10.0
    allow_insecure_loopback: bool = False  # tests: allow http://127.0.0.1 and http://localhost
    user_agent: str = "floodwatch-webhook/1"


def sign(body: bytes, secret: str) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC-SHA256 of ``body``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, header_value: str) -> bool:
    """For receivers (and tests): does the header match the body, in constant time?"""
    return hmac.compare_digest(sign(body, secret), header_value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON with sorted keys; datetimes as ISO 8601."""
    try:
        text = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                          default=_json_default, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InputError(f"webhook payload cannot be sent as JSON: {exc}") from None
    return text.encode("utf-8")


class WebhookChannel:
    name = "webhook"

    def __init__(self, settings: WebhookSettings, *, environ: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        secret = secret_from_env(settings.secret_env, environ, "webhook signing secret")
        if not secret:
            raise ConfigError("webhook: secret_env must name the variable holding the secret")
        self._secret = secret
        self._client = client
        self._clock = clock

    def send(self, address: str, message: Message, *, idempotency_key: str,
             payload: dict[str, Any]) -> DeliveryReceipt:
        """POST ``payload`` (the message itself is not sent: put what receivers need in the
        payload) to the URL ``address``."""
        try:
            url = normalise_webhook_url(
                address, allow_insecure_loopback=self.settings.allow_insecure_loopback)
        except InputError as exc:
            raise DeliveryError(str(exc), temporary=False) from None
        check_idempotency_key(idempotency_key)
        body = encode_payload(payload)
        now = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": self.settings.user_agent,
            SIGNATURE_HEADER: sign(body, self._secret),
            TIMESTAMP_HEADER: str(int(now.timestamp())),
            "Idempotency-Key": idempotency_key,
        }
        response = _http.request("POST", url, what=f"webhook {url}",
                                 timeout_s=self.settings.timeout_s, headers=headers,
                                 content=body, client=self._client)
        return DeliveryReceipt(channel=self.name, address=url, idempotency_key=idempotency_key,
                               sent_at=now, provider_id=response.headers.get("X-Request-Id"),
                               detail=f"HTTP {response.status_code}")
