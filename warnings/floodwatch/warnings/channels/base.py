"""The one interface every delivery channel implements, its receipt and its error."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from floodwatch.core.errors import ConfigError, FloodwatchError, InputError
from floodwatch.warnings.messages import Message


class DeliveryError(FloodwatchError):
    """A message was not delivered. ``temporary`` says a retry may succeed (network down,
    timeout, HTTP 408/429/5xx, SMTP 4xx); otherwise it is permanent (HTTP 4xx, SMTP 5xx such as
    a refused recipient, bad credentials, a bad address) and retrying will not help."""

    def __init__(self, message: str, *, temporary: bool, status: int | None = None,
                 retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.temporary = temporary
        self.status = status
        self.retry_after_s = retry_after_s

    @property
    def permanent(self) -> bool:
        return not self.temporary


@dataclass(frozen=True)
class DeliveryReceipt:
    """A message handed over: to the SMTP server, the webhook or the SMS gateway."""

    channel: str
    address: str
    idempotency_key: str
    sent_at: datetime
    provider_id: str | None = None  # the Message-ID, or what the gateway answered
    detail: str = ""


class Channel(Protocol):
    name: str

    def send(self, address: str, message: Message, *, idempotency_key: str,
             payload: dict[str, Any]) -> DeliveryReceipt:
        """Deliver ``message`` (or ``payload``, for machine channels) to ``address``.
        Raises DeliveryError."""
        ...


def secret_from_env(env_name: str | None, environ: Mapping[str, str] | None,
                    what: str) -> str | None:
    """The value of the environment variable named by a setting (None when no name is set)."""
    if not env_name:
        return None
    env = os.environ if environ is None else environ
    value = env.get(env_name)
    if not value:
        raise ConfigError(f"{what}: environment variable {env_name} is not set")
    return value


def check_idempotency_key(key: str) -> str:
    """A key must fit in a header: 1-200 printable ASCII characters, no spaces."""
    if not key or len(key) > 200 or not all("!" <= ch <= "~" for ch in key):
        raise InputError(f"idempotency key must be 1-200 printable ASCII characters: {key!r}")
    return key
