"""SMS channel: a text sent through an HTTP gateway described by settings.

The gateway is a URL template (GET) or a URL plus a JSON body template (POST) with the
placeholders ``{to}`` (E.164, e.g. +84912345678), ``{text}`` and ``{idempotency_key}``. In the
URL they are percent-encoded as UTF-8; in the JSON body they are inserted into the strings that
hold them and JSON-escaped. The text is ``Message.sms``, re-fitted to the gateway's
``max_segments`` (and reduced to GSM-7 when ``ascii_only``); it always ends with the read-more URL.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.warnings.channels import _http
from floodwatch.warnings.channels.addresses import normalise_phone, normalise_webhook_url
from floodwatch.warnings.channels.base import (
    DeliveryError,
    DeliveryReceipt,
    check_idempotency_key,
    secret_from_env,
)
from floodwatch.warnings.messages import Message
from floodwatch.warnings.sms_text import fit_sms, sms_segments

_PLACEHOLDER = re.compile(r"\{(to|text|idempotency_key)\}")


@dataclass(frozen=True)
class SmsGatewaySettings:
    url_template: str  # "https://gw.example/send?to={to}&text={text}"
    method: Literal["GET", "POST"] = "GET"
    body_template: Mapping[str, Any] | None = None  # POST: {"to": "{to}", "message": "{text}"}
    auth_header: str | None = None  # e.g. "Authorization"
    auth_env: str | None = None  # the environment variable holding the credential
    auth_prefix: str = ""  # e.g. "Bearer "
    ascii_only: bool = False  # the gateway takes GSM-7 only: strip diacritics
    max_segments: int = 2
    timeout_s: float = 10.0
    allow_insecure_loopback: bool = False  # tests: allow http://127.0.0.1 and http://localhost
    idempotency_header: str | None = "Idempotency-Key"


def sms_text_for(message: Message, *, max_segments: int, ascii_only: bool) -> str:
    """``message.sms`` fitted to ``max_segments`` (GSM-7 only if ``ascii_only``), still ending
    with ``message.more_url`` when the message has one."""
    url = message.more_url
    if url and message.sms.endswith(url):
        return fit_sms(message.sms[: -len(url)], url, max_segments=max_segments,
                       ascii_only=ascii_only)
    raise InputError("the SMS text must end with the message's more_url")


def _fill(template: str, values: Mapping[str, str], encode: Callable[[str], str]) -> str:
    return _PLACEHOLDER.sub(lambda m: encode(values[m.group(1)]), template)


def _fill_json(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        return _fill(node, values, lambda v: v)
    if isinstance(node, Mapping):
        return {key: _fill_json(value, values) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_fill_json(value, values) for value in node]
    return node


class SmsGatewayChannel:
    name = "sms"

    def __init__(self, settings: SmsGatewaySettings, *, environ: Mapping[str, str] | None = None,
                 client: httpx.Client | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._check(settings)
        credential = secret_from_env(settings.auth_env, environ, "SMS gateway credential")
        self._auth = None
        if settings.auth_header and credential:
            self._auth = (settings.auth_header, settings.auth_prefix + credential)
        self._client = client
        self._clock = clock

    @staticmethod
    def _check(settings: SmsGatewaySettings) -> None:
        if settings.method not in ("GET", "POST"):
            raise ConfigError(f"SMS gateway: method must be GET or POST, not {settings.method}")
        if settings.method == "POST" and settings.body_template is None:
            raise ConfigError("SMS gateway: a POST gateway needs a body_template")
        if settings.method == "GET" and settings.body_template is not None:
            raise ConfigError("SMS gateway: a GET gateway takes no body_template")
        if bool(settings.auth_header) != bool(settings.auth_env):
            raise ConfigError("SMS gateway: set both auth_header and auth_env, or neither")
        if settings.max_segments < 1:
            raise ConfigError("SMS gateway: max_segments must be at least 1")
        where = settings.url_template + json.dumps(settings.body_template or {})
        for name in ("to", "text"):
            if "{" + name + "}" not in where:
                raise ConfigError(f"SMS gateway: the templates must hold {{{name}}}")
        sample = _fill(settings.url_template, {"to": "0", "text": "x", "idempotency_key": "k"},
                       lambda v: v)
        try:
            normalise_webhook_url(sample,
                                  allow_insecure_loopback=settings.allow_insecure_loopback)
        except InputError as exc:
            raise ConfigError(f"SMS gateway url_template: {exc}") from None

    def send(self, address: str, message: Message, *, idempotency_key: str,
             payload: dict[str, Any]) -> DeliveryReceipt:
        """Send ``message.sms`` to the phone number ``address`` (``payload`` is not used)."""
        s = self.settings
        check_idempotency_key(idempotency_key)
        try:
            to = normalise_phone(address)
        except InputError as exc:
            raise DeliveryError(str(exc), temporary=False) from None
        text = sms_text_for(message, max_segments=s.max_segments, ascii_only=s.ascii_only)
        values = {"to": to, "text": text, "idempotency_key": idempotency_key}
        url = _fill(s.url_template, values, lambda v: quote(v, safe=""))
        headers = {}
        if self._auth:
            headers[self._auth[0]] = self._auth[1]
        if s.idempotency_header:
            headers[s.idempotency_header] = idempotency_key
        body = None
        if s.method == "POST":
            headers["Content-Type"] = "application/json; charset=utf-8"
            body = json.dumps(_fill_json(s.body_template, values), ensure_ascii=False)
        response = _http.request(
            s.method, url, what="SMS gateway", timeout_s=s.timeout_s, headers=headers,
            content=None if body is None else body.encode("utf-8"), client=self._client)
        encoding, segments = sms_segments(text)
        return DeliveryReceipt(
            channel=self.name, address=to, idempotency_key=idempotency_key,
            sent_at=self._clock(), provider_id=response.text[:200].strip() or None,
            detail=f"HTTP {response.status_code}; {encoding}, {segments} segment(s)")
